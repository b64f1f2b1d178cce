#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>Test-CcieBackup's engine, and restores of archives written by our own DataBackup.</summary>
public class ArchiveVerifierTests
{
    private static async Task<string> OwnBackup(DataRestoreFixture f)
    {
        var dest = Path.Combine(f.Root, "backups");
        Directory.CreateDirectory(dest);
        var r = await new DataBackup().RunAsync(new DataBackupOptions { SourcePath = f.NewTree, Destination = dest, HostName = "test-host", SpaceReserveBytes = 0 });
        return r.Location;
    }

    [Fact]
    public async Task Own_backup_passes_and_restores_verified()
    {
        using var f = new DataRestoreFixture();
        var archive = await OwnBackup(f);
        var v = await new ArchiveVerifier().VerifyAsync(archive, CancellationToken.None);
        Assert.True(v.Verdict == CcieDr.BackupVerdict.Passed, string.Join("\n", v.Problems));
        Assert.Equal("test-host", v.ManifestHost);
        Assert.True(v.FileCount >= 6);

        var r = await f.Restore(archive);
        Assert.True(r.ManifestVerified);
        Assert.Equal(f.ExpectedNew(), f.DataSnapshot());
        Assert.DoesNotContain(r.Warnings, w => w.Contains("no manifest"));
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task Gnu_tar_archive_has_no_manifest_verdict()
    {
        using var f = new DataRestoreFixture();
        var v = await new ArchiveVerifier().VerifyAsync(f.Archive, CancellationToken.None);
        Assert.Equal(CcieDr.BackupVerdict.NoManifest, v.Verdict);
        Assert.Contains("no manifest: contents not verified against a manifest", v.Warnings);
        Assert.Equal(0, v.ProblemCount);
    }

    [Fact]
    public async Task Truncated_own_backup_fails()
    {
        using var f = new DataRestoreFixture();
        var archive = await OwnBackup(f);
        var bytes = File.ReadAllBytes(archive);
        var cut = f.WriteArchive(bytes.Take(bytes.Length - 200).ToArray(), "cut.tar.bz2");
        var v = await new ArchiveVerifier().VerifyAsync(cut, CancellationToken.None);
        Assert.Equal(CcieDr.BackupVerdict.Failed, v.Verdict);
        Assert.NotEmpty(v.Problems);
    }

    [Fact]
    public async Task Mismatches_are_listed_up_to_the_limit()
    {
        using var f = new DataRestoreFixture();
        var m = new ArchiveManifest { SourcePath = "/data", Created = DateTimeOffset.UtcNow };
        var b = new TarBuilder();
        for (int i = 0; i < 30; i++)
        {
            b.File($"f{i}.txt", "actual");
            m.Entries.Add(new ManifestEntry($"f{i}.txt", ManifestEntryType.File) { Size = 6, Mode = 420, Sha256 = RestoreTestKit.Sha("expect"u8.ToArray()) });
        }

        m.Entries.Add(new ManifestEntry("missing.txt", ManifestEntryType.File) { Size = 1, Mode = 420, Sha256 = new string('0', 64) });
        var path = f.WriteArchive(b.Manifest(m).Bz2());
        var v = await new ArchiveVerifier { MaxProblems = 5 }.VerifyAsync(path, CancellationToken.None);
        Assert.Equal(CcieDr.BackupVerdict.Failed, v.Verdict);
        Assert.Equal(31, v.ProblemCount);
        Assert.Equal(5, v.Problems.Count);
        Assert.Contains("SHA-256", v.Problems[0]);
    }

    [Fact]
    public async Task Missing_archive_is_an_ArchiveNotFound_error()
    {
        var ex = await Assert.ThrowsAsync<CcieException>(() => new ArchiveVerifier().VerifyAsync("/nonexistent/x.tar.bz2", CancellationToken.None));
        Assert.Equal("ArchiveNotFound", ex.ErrorId);
    }
}
