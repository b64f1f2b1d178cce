#pragma warning disable CA1416 // POSIX-only tests: backup and restore target Linux
using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Restore;
using CcieDr.Engine.Tests.Archive;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>Issue #12 item 3: archives, the staging directory and staged files are private from the start.</summary>
public class PrivatePermissionsTests
{
    private static string ModeOf(string path) => Convert.ToString((int)File.GetUnixFileMode(path) & 0xFFF, 8);

    [Fact]
    public async Task Local_archive_is_0600_while_written_under_its_temp_name_and_after_the_rename()
    {
        using var tmp = new TempDir("priv");
        var src = tmp.Sub("data");
        var dest = tmp.Sub("backups");
        for (int i = 0; i < 8; i++)
        {
            File.WriteAllBytes(Path.Combine(src, "f" + i), BackupTestSupport.Random(256 * 1024, i));
        }

        var seen = new List<string>();
        var o = BackupTestSupport.Options(src, dest);
        o.ProgressInterval = TimeSpan.Zero;
        o.Progress = new Sync<DataBackupProgress>(_ =>
        {
            foreach (var partial in Directory.GetFiles(dest, ".*.partial"))
            {
                seen.Add(ModeOf(partial));
            }
        });

        var result = await new DataBackup().RunAsync(o);

        Assert.NotEmpty(seen); // the temp file was observed while the archive was being written
        Assert.All(seen, m => Assert.Equal("600", m));
        Assert.Equal("600", ModeOf(result.Location));
        Assert.Empty(Directory.GetFiles(dest, ".*.partial"));
    }

    [Fact]
    public async Task Staging_directory_is_0700_and_staged_files_0600_until_their_own_mode_is_applied()
    {
        using var f = new DataRestoreFixture(oldData: false);
        var big = BackupTestSupport.Random(3 * 1024 * 1024, 7);
        var archive = f.WriteArchive(new TarBuilder()
            .Dir("bin", mode: 493)
            .File("bin/tool", big, mode: 493)
            .File("public.txt", "hello", mode: 420)
            .Bz2());
        var during = new List<(string File, string FileMode, string StagingMode)>();
        var op = new DataRestore
        {
            FileWritingHook = full =>
            {
                var staging = Directory.GetDirectories(f.Data, RestoreJournal.StagingPrefix + "*").Single();
                Assert.StartsWith(staging + "/", full);
                during.Add((full[(staging.Length + 1)..], ModeOf(full), ModeOf(staging)));
            },
        };

        var options = new DataRestoreOptions(archive, f.Data) { AllowNoManifest = true };
        await op.RestoreAsync(options, CancellationToken.None);

        Assert.Equal(new[] { ("bin/tool", "600", "700"), ("public.txt", "600", "700") }, during.ToArray());
        Assert.Equal("755", ModeOf(Path.Combine(f.Data, "bin/tool")));
        Assert.Equal("644", ModeOf(Path.Combine(f.Data, "public.txt")));
        Assert.Equal(RestoreTestKit.Sha(big), RestoreTestKit.Sha(Path.Combine(f.Data, "bin/tool")));
        f.AssertNoLeftovers();
    }

    internal sealed class Sync<T> : IProgress<T>
    {
        private readonly Action<T> _report;

        public Sync(Action<T> report) => _report = report;

        public void Report(T value) => _report(value);
    }
}
