#pragma warning disable CA1416 // POSIX-only: restore targets Linux
using Amazon.S3.Model;
using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Tests.ArchiveRestore;
using CcieDr.Engine.Tests.Infrastructure;
using Xunit;
using static CcieDr.Engine.Tests.Compression.ZstdTestKit;

namespace CcieDr.Engine.Tests.Compression;

/// <summary>The fast mode straight to S3 (s3rver on loopback): .tar.zst key, listed, verified and restored by content.</summary>
[Collection(S3rverTests.Name)]
public sealed class ZstdS3Tests(S3rverFixture s3)
{
    [Fact]
    public async Task ZstdBackupToS3_HasATarZstKey_AndIsListedVerifiedAndRestored()
    {
        using var f = new DataRestoreFixture();
        var prefix = "zstd-" + Guid.NewGuid().ToString("N")[..8] + "/";
        using var client = s3.CreateClient();
        var r = await new DataBackup(client).RunAsync(new DataBackupOptions
        {
            SourcePath = f.NewTree,
            Destination = $"s3://{S3rverFixture.BucketName}/{prefix}",
            HostName = "test-host",
            Compression = CompressionKind.Zstd,
            S3PartSize = 5 * 1024 * 1024,
        });

        Assert.Equal(prefix + "circleci-data-export.tar.zst", r.Key);
        using (var got = await client.GetObjectAsync(S3rverFixture.BucketName, r.Key))
        {
            var ms = new MemoryStream();
            await got.ResponseStream.CopyToAsync(ms);
            var body = ms.ToArray();
            Assert.Equal(r.Sha256, Sha(body));
            Assert.Equal(0x28, body[0]);
            Assert.Equal("application/zstd", got.Headers.ContentType);
            var file = Path.Combine(f.Root, "dl.tar.zst");
            File.WriteAllBytes(file, body);
            var outDir = Path.Combine(f.Root, "dl");
            Directory.CreateDirectory(outDir);
            RunOk(outDir, "tar", "-I", "zstd", "-xf", file);
            Assert.True(File.Exists(Path.Combine(outDir, ArchiveManifest.MemberPath)));
        }

        var list = await new DataBackupCatalog(client).ListAsync($"s3://{S3rverFixture.BucketName}/{prefix}");
        var listed = Assert.Single(list);
        Assert.Equal(CompressionKind.Zstd, listed.Compression);
        Assert.True(listed.HasManifest);

        var v = await new ArchiveVerifier(client).VerifyAsync(r.Location, CancellationToken.None);
        Assert.True(v.Verdict == CcieDr.BackupVerdict.Passed, string.Join("\n", v.Problems));
        Assert.Equal("zstd", v.Compression);

        var restored = await new DataRestore(client).RestoreAsync(new DataRestoreOptions(r.Location, f.Data), CancellationToken.None);
        Assert.True(restored.ManifestVerified);
        Assert.Equal(f.ExpectedNew(), f.DataSnapshot());
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task AZstdObjectUnderABz2Key_IsListedAndRestoredAsZstd()
    {
        using var f = new DataRestoreFixture();
        var archive = Path.Combine(f.Root, "gnu.tar.zst");
        RunOk(null, "tar", "--zstd", "-cf", archive, "-C", f.NewTree, ".");
        var prefix = "zstd-" + Guid.NewGuid().ToString("N")[..8] + "/";
        var key = prefix + "circleci-data-export.tar.bz2";
        using var client = s3.CreateClient();
        await client.PutObjectAsync(new PutObjectRequest { BucketName = S3rverFixture.BucketName, Key = key, FilePath = archive, UseChunkEncoding = false });

        var listed = Assert.Single(await new DataBackupCatalog(client).ListAsync($"s3://{S3rverFixture.BucketName}/{prefix}"));
        Assert.Equal(CompressionKind.Zstd, listed.Compression);
        Assert.False(listed.HasManifest);

        var restored = await new DataRestore(client).RestoreAsync(new DataRestoreOptions($"s3://{S3rverFixture.BucketName}/{key}", f.Data) { AllowNoManifest = true }, CancellationToken.None);
        Assert.Equal(f.ExpectedNew(), f.DataSnapshot());
        Assert.False(restored.ManifestVerified);
        f.AssertNoLeftovers();
    }
}
