#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using Amazon.S3;
using Amazon.S3.Model;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Tests.Infrastructure;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>Restore and verification streamed from S3 (s3rver on loopback), through the real AWS SDK.</summary>
[Collection(S3rverTests.Name)]
public class S3RestoreTests(S3rverFixture s3)
{
    private async Task<string> Upload(byte[] bytes)
    {
        var key = "restore/" + Guid.NewGuid().ToString("N")[..8] + "/circleci-data-export.tar.bz2";
        await s3.Client.PutObjectAsync(new PutObjectRequest { BucketName = S3rverFixture.BucketName, Key = key, InputStream = new MemoryStream(bytes), UseChunkEncoding = false });
        return $"s3://{S3rverFixture.BucketName}/{key}";
    }

    [Fact]
    public async Task Restores_and_verifies_from_s3()
    {
        using var f = new DataRestoreFixture();
        var uri = await Upload(RestoreTestKit.SampleArchive(2));
        using var client = s3.CreateClient();
        var r = await new DataRestore(client).RestoreAsync(new DataRestoreOptions(uri, f.Data) { AllowNoManifest = true }, CancellationToken.None);
        Assert.Equal(uri, r.Source);
        Assert.Equal(f.ExpectedNew(), f.DataSnapshot());
        Assert.Equal(f.OldSnapshot, f.AsideSnapshot());
        Assert.True(r.CompressedBytes > 0);

        var v = await new ArchiveVerifier(client).VerifyAsync(uri, CancellationToken.None);
        Assert.Equal(CcieDr.BackupVerdict.NoManifest, v.Verdict);
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task A_hostile_archive_from_s3_is_refused_before_touching_the_data()
    {
        using var f = new DataRestoreFixture();
        var bytes = HostileArchiveTests.Build("symlink absolute then write through", f.Outside);
        var uri = await Upload(bytes);
        using var client = s3.CreateClient();
        using (var got = await client.GetObjectAsync(S3rverFixture.BucketName, uri.Substring(uri.IndexOf('/', 5) + 1)))
        {
            var ms = new MemoryStream();
            await got.ResponseStream.CopyToAsync(ms);
            Assert.Equal(Convert.ToHexString(bytes.Take(64).ToArray()), Convert.ToHexString(ms.ToArray().Take(64).ToArray()));
            Assert.Equal(bytes.Length, ms.Length);
        }

        await Assert.ThrowsAsync<UnsafeArchiveException>(() => new DataRestore(client).RestoreAsync(new DataRestoreOptions(uri, f.Data) { AllowNoManifest = true }, CancellationToken.None));
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task A_missing_key_fails_before_anything_changes()
    {
        using var f = new DataRestoreFixture();
        using var client = s3.CreateClient();
        var ex = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => new DataRestore(client).RestoreAsync(new DataRestoreOptions($"s3://{S3rverFixture.BucketName}/nope/x.tar.bz2", f.Data), CancellationToken.None));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, ex.StatusCode);
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        f.AssertNoLeftovers();
    }

    [Theory]
    [InlineData("s3://bucket-only")]
    [InlineData("s3://bucket/")]
    [InlineData("s3:///key")]
    public void Malformed_s3_uris_are_argument_errors(string uri)
    {
        Assert.Throws<ArgumentException>(() => DataRestoreSource.ParseS3(uri, out _, out _));
    }
}
