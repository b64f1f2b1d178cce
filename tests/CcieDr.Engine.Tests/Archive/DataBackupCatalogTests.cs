using Amazon.S3.Model;
using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Tests.Infrastructure;
using Xunit;
using static CcieDr.Engine.Tests.Archive.BackupTestSupport;

namespace CcieDr.Engine.Tests.Archive
{
    [Collection(S3rverTests.Name)]
    public class DataBackupCatalogTests
    {
        private readonly S3rverFixture _s3;

        public DataBackupCatalogTests(S3rverFixture s3) => _s3 = s3;

        [Fact]
        public async Task Lists_Local_Archives_Newest_First_With_Manifest_Detection()
        {
            using var tmp = new TempDir("cat");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            for (var i = 0; i < 40; i++)
            {
                File.WriteAllText(Path.Combine(src, $"file-with-a-rather-long-name-{i:D4}.txt"), "x" + i);
            }

            var o1 = Options(src, dest);
            o1.TimestampedName = true;
            o1.Clock = () => new DateTimeOffset(2026, 11, 1, 2, 0, 0, TimeSpan.Zero);
            await new DataBackup().RunAsync(o1);

            // Tiny bzip2 blocks: the manifest spans many streams, found by walking back from the end.
            var o2 = Options(src, dest);
            o2.TimestampedName = true;
            o2.BlockSize = 1024;
            o2.Clock = () => new DateTimeOffset(2026, 11, 2, 2, 0, 0, TimeSpan.Zero);
            await new DataBackup().RunAsync(o2);

            // A GNU tar archive (one bzip2 stream, no manifest), a truncated CcieDr archive, and an unrelated file.
            Assert.Equal(0, Run("tar", "-cjf", Path.Combine(dest, "circleci-data-export-20261103T020000Z.tar.bz2"), "-C", src, ".").ExitCode);
            var good = File.ReadAllBytes(Path.Combine(dest, "circleci-data-export-20261101T020000Z.tar.bz2"));
            File.WriteAllBytes(Path.Combine(dest, "circleci-data-export-20261104T020000Z.tar.bz2"), good[..(good.Length / 2)]);
            File.WriteAllText(Path.Combine(dest, "notes.txt"), "not an archive");

            var list = await new DataBackupCatalog().ListAsync(dest);

            Assert.Equal(new[] { "circleci-data-export-20261104T020000Z.tar.bz2", "circleci-data-export-20261103T020000Z.tar.bz2", "circleci-data-export-20261102T020000Z.tar.bz2", "circleci-data-export-20261101T020000Z.tar.bz2" }, list.Select(a => a.Name));
            Assert.Equal(new[] { false, false, true, true }, list.Select(a => a.HasManifest));
            Assert.Equal(40, list[2].Manifest!.FileCount);
            Assert.Equal(new DateTimeOffset(2026, 11, 2, 2, 0, 0, TimeSpan.Zero), list[2].Created);
            Assert.Equal(new DateTimeOffset(2026, 11, 3, 2, 0, 0, TimeSpan.Zero), list[1].Created);
            Assert.Equal(new FileInfo(Path.Combine(dest, list[0].Name)).Length, list[0].Size);

            await new DataBackupCatalog().RemoveAsync(list[0]);
            Assert.False(File.Exists(list[0].Location));
        }

        [Fact]
        public async Task Lists_S3_Archives_By_Metadata_Or_By_Reading_The_Tail()
        {
            using var tmp = new TempDir("cats3");
            var src = tmp.Sub("data");
            File.WriteAllText(Path.Combine(src, "a"), "a");
            var prefix = "cat-" + Guid.NewGuid().ToString("N")[..8] + "/";
            var o = Options(src, $"s3://{S3rverFixture.BucketName}/{prefix}");
            o.S3PartSize = 5 * 1024 * 1024;
            await new DataBackup(_s3.Client).RunAsync(o);

            // A CcieDr archive copied without metadata, and a GNU one.
            var local = tmp.Sub("local");
            var lo = Options(src, local);
            lo.TimestampedName = true;
            lo.Clock = () => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
            var r = await new DataBackup().RunAsync(lo);
            await _s3.Client.PutObjectAsync(new PutObjectRequest { BucketName = S3rverFixture.BucketName, Key = prefix + r.FileName, FilePath = r.Location, UseChunkEncoding = false });
            var gnu = Path.Combine(tmp.Path, "gnu.tar.bz2");
            Assert.Equal(0, Run("tar", "-cjf", gnu, "-C", src, ".").ExitCode);
            await _s3.Client.PutObjectAsync(new PutObjectRequest { BucketName = S3rverFixture.BucketName, Key = prefix + "circleci-data-export-20250101T000000Z.tar.bz2", FilePath = gnu, UseChunkEncoding = false });
            await _s3.Client.PutObjectAsync(new PutObjectRequest { BucketName = S3rverFixture.BucketName, Key = prefix + "other.txt", ContentBody = "x", UseChunkEncoding = false });

            var list = await new DataBackupCatalog(_s3.Client).ListAsync($"s3://{S3rverFixture.BucketName}/{prefix}");

            Assert.Equal(3, list.Count);
            var uploaded = list.Single(a => a.Name == DataBackupOptions.DefaultFileName);
            Assert.True(uploaded.HasManifest);
            Assert.Null(uploaded.Manifest); // known from the object metadata, not read
            var copied = list.Single(a => a.Name == r.FileName);
            Assert.True(copied.HasManifest);
            Assert.Equal(1, copied.Manifest!.FileCount);
            Assert.False(list.Single(a => a.Name.StartsWith("circleci-data-export-2025", StringComparison.Ordinal)).HasManifest);
            Assert.Equal($"s3://{S3rverFixture.BucketName}/{prefix}{r.FileName}", copied.Location);

            await new DataBackupCatalog(_s3.Client).RemoveAsync(copied);
            Assert.Equal(2, (await new DataBackupCatalog(_s3.Client).ListAsync($"s3://{S3rverFixture.BucketName}/{prefix}")).Count);
        }
    }
}
