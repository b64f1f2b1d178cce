#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using CcieDr.Engine.Archive;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>
/// The restore runs as root over trees whose directories belong to archive uids, so anything in them
/// can change while it works: deleting, writing the journal and swapping must never follow a symlink
/// planted or swapped in, nor silently replace a name created concurrently (#12 item 5).
/// </summary>
public class PathRaceRestoreTests
{
    private const int Iterations = 60;
    private const int Subdirectories = 24;
    private const int FilesPerSubdirectory = 12;
    private const int Sentinels = 8;

    [Fact]
    public void DeleteTree_never_follows_a_directory_swapped_for_a_symlink_mid_deletion()
    {
        var root = RestoreTestKit.NewTempDir("race-del");
        try
        {
            var outside = Path.Combine(root, "outside");
            Directory.CreateDirectory(outside);
            for (int k = 0; k < Sentinels; k++)
            {
                File.WriteAllText(Path.Combine(outside, "sentinel-" + k), "precious " + k);
            }

            const UnixFileMode outsideMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
            File.SetUnixFileMode(outside, outsideMode);
            var lostIn = new List<string>();
            var chmodded = 0;
            var notDeleted = new List<int>();
            var errors = new List<string>();
            for (int iteration = 0; iteration < Iterations; iteration++)
            {
                var victim = Path.Combine(root, "victim-" + iteration);
                for (int i = 0; i < Subdirectories; i++)
                {
                    var d = Path.Combine(victim, "d" + i);
                    Directory.CreateDirectory(d);
                    for (int k = 0; k < FilesPerSubdirectory; k++)
                    {
                        File.WriteAllText(Path.Combine(d, "sentinel-" + k), "inside");
                    }
                }

                using var stop = new ManualResetEventSlim();
                var swapper = new Thread(() => Swap(victim, outside, stop)) { IsBackground = true };
                swapper.Start();
                try
                {
                    DataRestore.DeleteTree(victim);
                }
                catch (Exception ex)
                {
                    errors.Add($"iteration {iteration}: {ex.GetType().Name}: {ex.Message}");
                }
                finally
                {
                    stop.Set();
                    swapper.Join();
                }

                // Put back what was lost, so every iteration is judged on its own.
                var lost = Enumerable.Range(0, Sentinels).Where(k => !File.Exists(Path.Combine(outside, "sentinel-" + k))).ToList();
                if (lost.Count > 0)
                {
                    lostIn.Add($"iteration {iteration}: {lost.Count}");
                    foreach (var k in lost)
                    {
                        File.WriteAllText(Path.Combine(outside, "sentinel-" + k), "precious " + k);
                    }
                }

                if (File.GetUnixFileMode(outside) != outsideMode)
                {
                    chmodded++;
                    File.SetUnixFileMode(outside, outsideMode);
                }

                if (Directory.Exists(victim) || File.Exists(victim))
                {
                    notDeleted.Add(iteration);
                }
            }

            // Outside first: losing a sentinel is the failure this test exists for.
            Assert.True(lostIn.Count == 0, $"deleting the tree deleted files outside it (through a swapped-in symlink) in {lostIn.Count} of {Iterations} iterations: {string.Join("; ", lostIn)}");
            Assert.True(chmodded == 0, $"deleting the tree changed the mode of the outside directory in {chmodded} of {Iterations} iterations");
            for (int k = 0; k < Sentinels; k++)
            {
                Assert.Equal("precious " + k, File.ReadAllText(Path.Combine(outside, "sentinel-" + k)));
            }

            Assert.Equal(Sentinels, Directory.GetFileSystemEntries(outside).Length);
            Assert.True(notDeleted.Count == 0, $"the tree was not (fully) deleted in iterations {string.Join(", ", notDeleted)}");
            Assert.Empty(errors);
        }
        finally
        {
            RestoreTestKit.DeleteTree(root);
        }
    }

    /// <summary>The attacker: swaps each subdirectory for a symlink to <paramref name="outside"/> and back, until stopped.</summary>
    private static void Swap(string victim, string outside, ManualResetEventSlim stop)
    {
        while (!stop.IsSet)
        {
            for (int i = 0; i < Subdirectories && !stop.IsSet; i++)
            {
                var d = Path.Combine(victim, "d" + i);
                var moved = d + ".x";
                try
                {
                    Directory.Move(d, moved);
                }
                catch (IOException)
                {
                    continue;
                }
                catch (UnauthorizedAccessException)
                {
                    continue;
                }

                try
                {
                    File.CreateSymbolicLink(d, outside);
                    Thread.SpinWait(2000);
                    File.Delete(d);
                    Directory.Move(moved, d);
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }
    }

    [Fact]
    public void Journal_temp_file_planted_as_a_symlink_is_replaced_never_written_through()
    {
        var root = RestoreTestKit.NewTempDir("race-jnl");
        try
        {
            var data = Path.Combine(root, "data");
            Directory.CreateDirectory(data);
            var precious = Path.Combine(root, "precious.conf");
            File.WriteAllText(precious, "do not touch");
            File.CreateSymbolicLink(Path.Combine(data, RestoreJournal.FileName + ".tmp"), precious);

            var j = new RestoreJournal(data, "/backups/a.tar.bz2", RestoreJournal.StagingPrefix + "x", DataRestore.AsidePrefix + "x", DateTimeOffset.UtcNow) { State = JournalState.Staged };
            j.MoveAside.Add("postgres");
            j.Write();

            Assert.Equal("do not touch", File.ReadAllText(precious));
            var journal = new FileInfo(RestoreJournal.FilePath(data));
            Assert.Null(journal.LinkTarget);
            Assert.True(journal.Exists);
            Assert.False(File.Exists(RestoreJournal.FilePath(data) + ".tmp") || new FileInfo(RestoreJournal.FilePath(data) + ".tmp").LinkTarget != null);
            var back = RestoreJournal.Read(data)!;
            Assert.Equal(JournalState.Staged, back.State);
            Assert.Equal(new[] { "postgres" }, back.MoveAside);
        }
        finally
        {
            RestoreTestKit.DeleteTree(root);
        }
    }

    [Fact]
    public async Task A_name_created_concurrently_at_a_swap_destination_is_never_replaced()
    {
        using var f = new DataRestoreFixture();
        var target = Path.Combine(f.Data, "secret.key"); // only in the new data: moved in, never aside
        bool created = false;
        DataRestore.BeforeSwapRename = (from, to) =>
        {
            if (to == target && !created)
            {
                created = true;
                File.WriteAllText(target, "written concurrently by a service");
            }
        };

        var ex = await Assert.ThrowsAsync<CcieException>(() => f.Restore());
        Assert.True(created);
        Assert.Equal("written concurrently by a service", File.ReadAllText(target));
        Assert.Equal("RestoreSwapFailed", ex.ErrorId);

        // Rolled back: the old data exactly, plus the concurrently written file; no journal or staging left.
        File.Delete(target);
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        f.AssertNoLeftovers();
    }
}
