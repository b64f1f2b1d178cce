#pragma warning disable CA1416 // POSIX-only tests: backup and restore target Linux
using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Restore;
using CcieDr.Engine.Tests.Archive;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>Issue #12 item 4: setuid/setgid bits of regular files are stripped on restore unless Full preservation is asked for.</summary>
public class SetidRestoreTests
{
    private static string ModeOf(string path) => Convert.ToString((int)File.GetUnixFileMode(path) & 0xFFF, 8);

    private static async Task<string> BackupWithSetidFiles(TempDir tmp)
    {
        var src = tmp.Sub("src");
        Directory.CreateDirectory(Path.Combine(src, "bin"));
        Directory.CreateDirectory(Path.Combine(src, "shared"));
        File.WriteAllText(Path.Combine(src, "bin/suid"), "#!/bin/sh\n");
        File.WriteAllText(Path.Combine(src, "bin/sgid"), "#!/bin/sh\n");
        File.WriteAllText(Path.Combine(src, "bin/plain"), "#!/bin/sh\n");
        File.CreateSymbolicLink(Path.Combine(src, "bin/link"), "suid");
        RestoreTestKit.Sh($"chmod 4755 '{src}/bin/suid' && chmod 2750 '{src}/bin/sgid' && chmod 755 '{src}/bin/plain' && chmod 2775 '{src}/shared'");
        Assert.Equal("4755", ModeOf(Path.Combine(src, "bin/suid")));
        var result = await new DataBackup().RunAsync(BackupTestSupport.Options(src, tmp.Sub("out")));
        return result.Location;
    }

    [Fact]
    public async Task Default_restore_strips_setuid_and_setgid_from_files_warns_and_still_verifies_the_manifest()
    {
        using var tmp = new TempDir("setid");
        var archive = await BackupWithSetidFiles(tmp);
        var data = tmp.Sub("data");

        var r = await new DataRestore().RestoreAsync(new DataRestoreOptions(archive, data), CancellationToken.None);

        Assert.True(r.ManifestVerified);
        Assert.Equal("755", ModeOf(Path.Combine(data, "bin/suid")));
        Assert.Equal("750", ModeOf(Path.Combine(data, "bin/sgid")));
        Assert.Equal("755", ModeOf(Path.Combine(data, "bin/plain")));
        Assert.Equal("2775", ModeOf(Path.Combine(data, "shared"))); // directories keep setgid (group inheritance)
        var w = Assert.Single(r.Warnings, x => x.Contains("setuid/setgid", StringComparison.Ordinal));
        Assert.Contains("bin/suid", w);
        Assert.Contains("bin/sgid", w);
        Assert.DoesNotContain("bin/plain", w);
        Assert.Contains("-PreservePermissions Full", w);
    }

    [Fact]
    public async Task Full_preservation_keeps_setuid_and_setgid_without_a_warning()
    {
        using var tmp = new TempDir("setidfull");
        var archive = await BackupWithSetidFiles(tmp);
        var data = tmp.Sub("data");

        var r = await new DataRestore().RestoreAsync(new DataRestoreOptions(archive, data) { PreservePermissions = PermissionPreservation.Full }, CancellationToken.None);

        Assert.True(r.ManifestVerified);
        Assert.Equal("4755", ModeOf(Path.Combine(data, "bin/suid")));
        Assert.Equal("2750", ModeOf(Path.Combine(data, "bin/sgid")));
        Assert.Equal("2775", ModeOf(Path.Combine(data, "shared")));
        Assert.DoesNotContain(r.Warnings, x => x.Contains("setuid", StringComparison.Ordinal));
    }

    [Fact]
    public void Extractor_strips_setid_from_a_hard_linked_file_once()
    {
        var dir = RestoreTestKit.NewTempDir("setidx");
        try
        {
            var bytes = new TarBuilder().File("a", "x", mode: Convert.ToInt32("6755", 8)).HardLink("b", "a").Bz2();
            var r = RestoreTestKit.Extract(bytes, dir);
            Assert.Equal("755", ModeOf(Path.Combine(dir, "a")));
            Assert.Equal("755", ModeOf(Path.Combine(dir, "b")));
            var w = Assert.Single(r.Warnings, x => x.Contains("setuid/setgid", StringComparison.Ordinal));
            Assert.Contains("1 file(s)", w);
        }
        finally
        {
            RestoreTestKit.DeleteTree(dir);
        }
    }
}
