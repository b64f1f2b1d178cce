using System.Net;
using Amazon.S3;
using Amazon.S3.Model;
using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Tests.Infrastructure;
using Xunit;
using static CcieDr.Engine.Tests.Archive.BackupTestSupport;

namespace CcieDr.Engine.Tests.Archive
{
    [Collection(S3rverTests.Name)]
    public class S3UploadTests
    {
        private const int MiB = 1024 * 1024;
        private readonly S3rverFixture _s3;

        public S3UploadTests(S3rverFixture s3) => _s3 = s3;

        private static string NewKey(string name) => "t-" + Guid.NewGuid().ToString("N")[..8] + "/" + name;

        private async Task<byte[]?> GetObjectOrNull(string key)
        {
            try
            {
                using var r = await _s3.Client.GetObjectAsync(S3rverFixture.BucketName, key);
                using var ms = new MemoryStream();
                await r.ResponseStream.CopyToAsync(ms);
                return ms.ToArray();
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }
        }

        private async Task AssertNoUploadsUnder(string prefix)
        {
            var uploads = await _s3.Client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = S3rverFixture.BucketName, Prefix = prefix });
            Assert.Empty(uploads.MultipartUploads ?? new List<MultipartUpload>());
            // And nothing on s3rver's disk either (parts of an upload live in its uploads folder).
            var uploadsDir = Path.Combine(_s3.Directory, S3rverFixture.BucketName, "._S3rver_uploads");
            if (Directory.Exists(uploadsDir))
            {
                foreach (var d in Directory.GetDirectories(uploadsDir))
                {
                    var keyFile = Path.Combine(d, "key");
                    Assert.False(!File.Exists(keyFile) || File.ReadAllText(keyFile).StartsWith(prefix, StringComparison.Ordinal), $"leftover upload folder {d}");
                }
            }
        }

        [Fact]
        public async Task Multipart_Upload_Stores_The_Exact_Bytes_With_Metadata()
        {
            var key = NewKey("obj.bin");
            var data = Random((12 * MiB) + 12345, 1);
            var o = new S3UploadOptions { PartSize = 5 * MiB };
            o.Metadata["ccie-manifest"] = "yes";
            await using (var up = new S3MultipartUploadStream(_s3.Client, S3rverFixture.BucketName, key, o))
            {
                for (var off = 0; off < data.Length; off += 1_000_003)
                {
                    up.Write(data, off, Math.Min(1_000_003, data.Length - off));
                }

                await up.CompleteAsync();
                Assert.Equal(3, up.PartsUploaded);
                Assert.NotNull(up.ETag);
            }

            Assert.Equal(data, await GetObjectOrNull(key));
            var head = await _s3.Client.GetObjectMetadataAsync(S3rverFixture.BucketName, key);
            Assert.Equal("yes", head.Metadata["ccie-manifest"]);
            Assert.Equal("application/x-bzip2", head.Headers.ContentType);
            await AssertNoUploadsUnder(key);
        }

        [Fact]
        public async Task A_Part_That_Keeps_Failing_Aborts_The_Upload_Leaving_No_Object_And_No_Parts()
        {
            var key = NewKey("fail.bin");
            var attempts = 0;
            var o = new S3UploadOptions
            {
                PartSize = 5 * MiB,
                RetryDelay = TimeSpan.FromMilliseconds(10),
                BeforePartAttempt = (part, attempt) =>
                {
                    if (part == 3)
                    {
                        Interlocked.Increment(ref attempts);
                        throw new IOException("injected network failure");
                    }

                    return Task.CompletedTask;
                },
            };
            var up = new S3MultipartUploadStream(_s3.Client, S3rverFixture.BucketName, key, o);
            var ex = await Assert.ThrowsAsync<IOException>(async () =>
            {
                var chunk = Random(MiB, 2);
                for (var i = 0; i < 30; i++)
                {
                    await up.WriteAsync(chunk);
                }

                await up.CompleteAsync();
            });
            Assert.Contains("part 3", ex.Message);
            Assert.Equal(4, attempts);
            Assert.NotNull(up.UploadId);
            Assert.False(up.CanWrite);
            Assert.Null(await GetObjectOrNull(key));
            await AssertNoUploadsUnder(key);
            var parts = await Assert.ThrowsAsync<AmazonS3Exception>(() => _s3.Client.ListPartsAsync(new ListPartsRequest { BucketName = S3rverFixture.BucketName, Key = key, UploadId = up.UploadId }));
            Assert.Equal(HttpStatusCode.NotFound, parts.StatusCode);
            await up.DisposeAsync();
        }

        [Fact]
        public async Task A_Transient_Part_Failure_Is_Retried()
        {
            var key = NewKey("retry.bin");
            var failures = 0;
            var o = new S3UploadOptions
            {
                PartSize = 5 * MiB,
                RetryDelay = TimeSpan.FromMilliseconds(10),
                BeforePartAttempt = (part, attempt) => part == 2 && attempt < 3 ? Task.FromException(new IOException("flaky " + Interlocked.Increment(ref failures))) : Task.CompletedTask,
            };
            var data = Random(11 * MiB, 3);
            await using (var up = new S3MultipartUploadStream(_s3.Client, S3rverFixture.BucketName, key, o))
            {
                await up.WriteAsync(data);
                await up.CompleteAsync();
            }

            Assert.Equal(2, failures);
            Assert.Equal(data, await GetObjectOrNull(key));
        }

        [Fact]
        public async Task Cancellation_Midway_Aborts_The_Upload()
        {
            var key = NewKey("cancel.bin");
            using var cts = new CancellationTokenSource();
            var up = new S3MultipartUploadStream(_s3.Client, S3rverFixture.BucketName, key, new S3UploadOptions { PartSize = 5 * MiB }, cts.Token);
            var chunk = Random(MiB, 4);
            for (var i = 0; i < 12; i++)
            {
                up.Write(chunk, 0, chunk.Length);
            }

            cts.Cancel();
            Assert.ThrowsAny<OperationCanceledException>(() => up.Write(chunk, 0, chunk.Length));
            await up.DisposeAsync();
            Assert.NotNull(up.UploadId);
            Assert.Null(await GetObjectOrNull(key));
            await AssertNoUploadsUnder(key);
        }

        [Fact]
        public async Task Disposing_Without_Complete_Aborts()
        {
            var key = NewKey("dispose.bin");
            string? uploadId;
            using (var up = new S3MultipartUploadStream(_s3.Client, S3rverFixture.BucketName, key, new S3UploadOptions { PartSize = 5 * MiB }))
            {
                up.Write(Random(6 * MiB, 5), 0, 6 * MiB);
                uploadId = up.UploadId;
            }

            Assert.NotNull(uploadId);
            Assert.Null(await GetObjectOrNull(key));
            await AssertNoUploadsUnder(key);
        }

        [Fact]
        public async Task Backup_Straight_To_S3_Is_A_Valid_Archive_And_A_Failure_Leaves_Nothing()
        {
            using var tmp = new TempDir("s3b");
            var src = tmp.Sub("data");
            BuildTree(src);
            var prefix = "t-" + Guid.NewGuid().ToString("N")[..8] + "/backups";
            var o = Options(src, $"s3://{S3rverFixture.BucketName}/{prefix}");
            o.TimestampedName = true;
            o.S3PartSize = 5 * MiB;
            o.Clock = () => new DateTimeOffset(2026, 11, 28, 15, 0, 0, TimeSpan.Zero);

            var r = await new DataBackup(_s3.Client).RunAsync(o);

            var key = prefix + "/circleci-data-export-20261128T150000Z.tar.bz2";
            Assert.Equal($"s3://{S3rverFixture.BucketName}/{key}", r.Location);
            Assert.Equal((S3rverFixture.BucketName, key), (r.BucketName, r.Key));
            var body = await GetObjectOrNull(key);
            Assert.NotNull(body);
            Assert.Equal(r.ArchiveSize, body!.Length);
            Assert.Equal(r.Sha256, Sha256Hex(body));
            var file = Path.Combine(tmp.Path, "dl.tar.bz2");
            File.WriteAllBytes(file, body);
            var restored = tmp.Sub("restored");
            var x = Run("tar", "-xjf", file, "-C", restored);
            Assert.True(x.ExitCode == 0, x.Stderr);
            Assert.Equal(File.ReadAllBytes(Path.Combine(src, "mongo", "collection-1.wt")), File.ReadAllBytes(Path.Combine(restored, "mongo", "collection-1.wt")));
            var head = await _s3.Client.GetObjectMetadataAsync(S3rverFixture.BucketName, key);
            Assert.Equal("yes", head.Metadata["ccie-manifest"]);
            Assert.Equal("test-host", head.Metadata["ccie-source-host"]);

            // Now fail halfway through (cancel while archiving): no object, no parts.
            using var cts = new CancellationTokenSource();
            var o2 = Options(src, $"s3://{S3rverFixture.BucketName}/{prefix}-failed/");
            o2.S3PartSize = 5 * MiB;
            o2.ProgressInterval = TimeSpan.Zero;
            o2.Progress = new SyncProgress<DataBackupProgress>(p =>
            {
                if (p.CurrentPath == "postgres/base/16384/zeros")
                {
                    cts.Cancel();
                }
            });
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new DataBackup(_s3.Client).RunAsync(o2, cts.Token));
            Assert.Null(await GetObjectOrNull(prefix + "-failed/" + DataBackupOptions.DefaultFileName));
            await AssertNoUploadsUnder(prefix + "-failed/");
        }

        [Fact]
        public void S3_Destination_Uris_Are_Parsed()
        {
            var a = S3UploadLocation.Parse("s3://my-bucket/some/prefix");
            Assert.Equal(("my-bucket", "some/prefix/"), (a.BucketName, a.Prefix));
            Assert.Equal("", S3UploadLocation.Parse("s3://my-bucket").Prefix);
            Assert.Equal("p/", S3UploadLocation.Parse("S3://my-bucket//p/").Prefix);
            Assert.Throws<FormatException>(() => S3UploadLocation.Parse("s3://"));
            Assert.Throws<FormatException>(() => S3UploadLocation.Parse("s3://b/x"));
            Assert.Throws<FormatException>(() => S3UploadLocation.Parse("s3://bucket/a//b/"));
            Assert.Throws<FormatException>(() => S3UploadLocation.Parse("/tmp/x"));
        }
    }
}
