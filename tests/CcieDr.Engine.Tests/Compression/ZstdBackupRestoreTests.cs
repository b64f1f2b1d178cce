#pragma warning disable CA1416 // POSIX-only: restore targets Linux
using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Tests.ArchiveRestore;
using Xunit;
using static CcieDr.Engine.Tests.Compression.ZstdTestKit;

namespace CcieDr.Engine.Tests.Compression;

/// <summary>The fast mode end to end: Backup (zstd) → GNU tar / Test-CcieBackup / Restore, formats told apart by content.</summary>
public sealed class ZstdBackupRestoreTests
{
    private static async Task<DataBackupResult> Backup(DataRestoreFixture f, CompressionKind kind, bool timestamped = false, string dir = "backups")
    {
        var dest = Path.Combine(f.Root, dir);
        Directory.CreateDirectory(dest);
        return await new DataBackup().RunAsync(new DataBackupOptions
        {
            SourcePath = f.NewTree,
            Destination = dest,
            HostName = "test-host",
            SpaceReserveBytes = 0,
            Compression = kind,
            TimestampedName = timestamped,
            Clock = () => new DateTimeOffset(2026, 11, 28, 16, 0, 0, TimeSpan.Zero),
        });
    }

    [Fact]
    public async Task ZstdBackup_IsReadByGnuTar_PassesTestCcieBackup_AndRestoresVerified()
    {
        using var f = new DataRestoreFixture();
        var r = await Backup(f, CompressionKind.Zstd);

        Assert.Equal("circleci-data-export.tar.zst", r.FileName);
        Assert.Equal(CompressionKind.Zstd, r.Compression);
        Assert.StartsWith("zstd level 3", r.Compressor);
        var bytes = File.ReadAllBytes(r.Location);
        Assert.Equal(new byte[] { 0x28, 0xB5, 0x2F, 0xFD }, bytes[..4]);
        Assert.Equal(r.ArchiveSize, bytes.Length);
        Assert.Equal(r.Sha256, Sha(bytes));
        Assert.False(File.Exists(Path.ChangeExtension(r.Location, null) + ".bz2"));

        // GNU tar reads it: the same tree (plus the manifest member).
        var gnu = Path.Combine(f.Root, "gnu-out");
        Directory.CreateDirectory(gnu);
        RunOk(gnu, "tar", "-I", "zstd", "-xf", r.Location);
        Assert.True(File.Exists(Path.Combine(gnu, ArchiveManifest.MemberPath)));
        Directory.Delete(Path.Combine(gnu, ArchiveManifest.MetadataFolder), true);
        Assert.Equal(RestoreTestKit.Describe(RestoreTestKit.Snapshot(f.NewTree)), RestoreTestKit.Describe(RestoreTestKit.Snapshot(gnu)));

        var v = await new ArchiveVerifier().VerifyAsync(r.Location, CancellationToken.None);
        Assert.True(v.Verdict == CcieDr.BackupVerdict.Passed, string.Join("\n", v.Problems));
        Assert.Equal("zstd", v.Compression);
        Assert.Equal("test-host", v.ManifestHost);
        Assert.Equal(r.FileCount, v.FileCount);
        Assert.Equal(bytes.Length, v.CompressedBytes);

        var restored = await f.Restore(r.Location);
        Assert.True(restored.ManifestVerified);
        Assert.Equal(f.ExpectedNew(), f.DataSnapshot());
        Assert.Equal(f.OldSnapshot, f.AsideSnapshot());
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task ZstdArchive_NamedTarBz2_StillVerifiesAndRestores()
    {
        using var f = new DataRestoreFixture();
        var r = await Backup(f, CompressionKind.Zstd);
        var misnamed = Path.Combine(f.Root, "circleci-data-export.tar.bz2");
        File.Move(r.Location, misnamed);

        var v = await new ArchiveVerifier().VerifyAsync(misnamed, CancellationToken.None);
        Assert.True(v.Verdict == CcieDr.BackupVerdict.Passed, string.Join("\n", v.Problems));
        Assert.Equal("zstd", v.Compression);

        var restored = await f.Restore(misnamed);
        Assert.True(restored.ManifestVerified);
        Assert.Equal(f.ExpectedNew(), f.DataSnapshot());
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task Bzip2Archive_NamedTarZst_StillVerifiesAndRestores_AndBzip2StaysTheDefault()
    {
        using var f = new DataRestoreFixture();
        var dest = Path.Combine(f.Root, "b");
        Directory.CreateDirectory(dest);
        var r = await new DataBackup().RunAsync(new DataBackupOptions { SourcePath = f.NewTree, Destination = dest, HostName = "test-host", SpaceReserveBytes = 0 });
        Assert.Equal("circleci-data-export.tar.bz2", r.FileName);
        Assert.Equal(CompressionKind.Bzip2, r.Compression);

        var misnamed = Path.Combine(f.Root, "circleci-data-export.tar.zst");
        File.Move(r.Location, misnamed);
        var v = await new ArchiveVerifier().VerifyAsync(misnamed, CancellationToken.None);
        Assert.True(v.Verdict == CcieDr.BackupVerdict.Passed, string.Join("\n", v.Problems));
        Assert.Equal("bzip2", v.Compression);
        var restored = await f.Restore(misnamed);
        Assert.True(restored.ManifestVerified);
        Assert.Equal(f.ExpectedNew(), f.DataSnapshot());
    }

    [Fact]
    public async Task GnuTarZstdArchive_RestoresWithoutManifest()
    {
        using var f = new DataRestoreFixture();
        var archive = Path.Combine(f.Root, "gnu.tar.zst");
        RunOk(null, "tar", "--zstd", "-cf", archive, "-C", f.NewTree, ".");

        var v = await new ArchiveVerifier().VerifyAsync(archive, CancellationToken.None);
        Assert.Equal(CcieDr.BackupVerdict.NoManifest, v.Verdict);
        Assert.Equal("zstd", v.Compression);

        var restored = await f.Restore(archive);
        Assert.False(restored.ManifestVerified);
        Assert.Equal(f.ExpectedNew(), f.DataSnapshot());
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task TruncatedOrCorruptZstdBackup_FailsVerification_AndRestoreLeavesTheDataAlone()
    {
        using var f = new DataRestoreFixture();
        var r = await Backup(f, CompressionKind.Zstd);
        var bytes = File.ReadAllBytes(r.Location);
        var cut = f.WriteArchive(bytes[..(bytes.Length / 2)], "cut.tar.zst");
        var flipped = (byte[])bytes.Clone();
        flipped[bytes.Length / 3] ^= 0x10;
        var corrupt = f.WriteArchive(flipped, "corrupt.tar.zst");

        var v = await new ArchiveVerifier().VerifyAsync(cut, CancellationToken.None);
        Assert.Equal(CcieDr.BackupVerdict.Failed, v.Verdict);
        Assert.Contains(v.Problems, p => p.Contains("truncated"));
        var vc = await new ArchiveVerifier().VerifyAsync(corrupt, CancellationToken.None);
        Assert.Equal(CcieDr.BackupVerdict.Failed, vc.Verdict);

        await Assert.ThrowsAnyAsync<ArchiveCorruptException>(() => f.Restore(cut));
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        await Assert.ThrowsAnyAsync<ArchiveCorruptException>(() => f.Restore(corrupt));
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task NeitherFormat_IsRefusedWithAClearMessage()
    {
        using var f = new DataRestoreFixture();
        var gz = Path.Combine(f.Root, "circleci-data-export.tar.bz2");
        RunOk(null, "tar", "-czf", gz, "-C", f.NewTree, ".");

        var v = await new ArchiveVerifier().VerifyAsync(gz, CancellationToken.None);
        Assert.Equal(CcieDr.BackupVerdict.Failed, v.Verdict);
        Assert.Contains(v.Problems, p => p.Contains("gzip"));
        Assert.Null(v.Compression);

        var ex = await Assert.ThrowsAnyAsync<ArchiveCorruptException>(() => f.Restore(gz));
        Assert.Contains("neither bzip2", ex.Message);
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task Catalog_ListsBothFormats_ByContent_WithTheZstdManifestFromTheTail()
    {
        using var f = new DataRestoreFixture();
        var z = await Backup(f, CompressionKind.Zstd, timestamped: true, dir: "list");
        Assert.Equal("circleci-data-export-20261128T160000Z.tar.zst", z.FileName);
        var dir = Path.GetDirectoryName(z.Location)!;

        // A bzip2 archive carrying a .tar.zst name, and a GNU tar --zstd one (no manifest).
        var b = await new DataBackup().RunAsync(new DataBackupOptions
        {
            SourcePath = f.NewTree,
            Destination = Path.Combine(f.Root, "list"),
            HostName = "other-host",
            SpaceReserveBytes = 0,
            TimestampedName = true,
            Clock = () => new DateTimeOffset(2026, 11, 27, 16, 0, 0, TimeSpan.Zero),
        });
        File.Move(b.Location, Path.Combine(dir, "circleci-data-export-20261127T160000Z.tar.zst"));
        RunOk(null, "tar", "--zstd", "-cf", Path.Combine(dir, "circleci-data-export-20261126T160000Z.tar.zst"), "-C", f.NewTree, ".");

        var list = await new DataBackupCatalog().ListAsync(dir);

        Assert.Equal(
            new[] { "circleci-data-export-20261128T160000Z.tar.zst", "circleci-data-export-20261127T160000Z.tar.zst", "circleci-data-export-20261126T160000Z.tar.zst" },
            list.Select(a => a.Name).ToArray());
        Assert.Equal(new CompressionKind?[] { CompressionKind.Zstd, CompressionKind.Bzip2, CompressionKind.Zstd }, list.Select(a => a.Compression).ToArray());
        Assert.True(list[0].HasManifest);
        Assert.Equal("test-host", list[0].Manifest!.Host);
        Assert.Equal(z.FileCount, list[0].Manifest!.FileCount);
        Assert.True(list[1].HasManifest);
        Assert.Equal("other-host", list[1].Manifest!.Host);
        Assert.False(list[2].HasManifest);
    }
}
