#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_name_created_concurrently_at_a_swap_destination_is_never_replaced(bool renameFallback)
    {
        SafeExtractNative.ForceRenameFallback = renameFallback; // true: as on kernels without renameat2
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

    [Theory]
    [InlineData(false, "file")]
    [InlineData(false, "symlink")]
    [InlineData(false, "dir")]
    [InlineData(true, "file")]
    [InlineData(true, "symlink")]
    [InlineData(true, "dir")]
    public void RenameNoReplace_never_replaces_an_existing_name_and_moves_otherwise(bool fallback, string kind)
    {
        SafeExtractNative.ForceRenameFallback = fallback;
        var root = RestoreTestKit.NewTempDir("race-mv");
        try
        {
            var from = Path.Combine(root, "from");
            switch (kind)
            {
                case "file":
                    File.WriteAllText(from, "new");
                    break;
                case "symlink":
                    File.CreateSymbolicLink(from, "somewhere");
                    break;
                default:
                    Directory.CreateDirectory(from);
                    File.WriteAllText(Path.Combine(from, "inner"), "new");
                    break;
            }

            // Existing destinations rename(2) would replace silently: a file, a symlink and an empty directory (for a directory).
            var file = Path.Combine(root, "existing-file");
            File.WriteAllText(file, "old");
            var link = Path.Combine(root, "existing-link");
            File.CreateSymbolicLink(link, "elsewhere");
            var emptyDir = Path.Combine(root, "existing-empty-dir");
            Directory.CreateDirectory(emptyDir);
            foreach (var to in kind == "dir" ? new[] { emptyDir } : new[] { file, link })
            {
                Assert.Equal(SafeExtractNative.ErrnoExists, SafeExtractNative.RenameNoReplace(from, to));
            }

            Assert.Equal("old", File.ReadAllText(file));
            Assert.Equal("elsewhere", new FileInfo(link).LinkTarget);
            Assert.Empty(Directory.EnumerateFileSystemEntries(emptyDir));
            Assert.True(SafeExtractNative.Lexists(from));

            var dest = Path.Combine(root, "dest");
            Assert.Equal(0, SafeExtractNative.RenameNoReplace(from, dest));
            Assert.False(SafeExtractNative.Lexists(from));
            Assert.True(SafeExtractNative.Lexists(dest));
            Assert.Equal(SafeExtractNative.ErrnoNoEntry, SafeExtractNative.RenameNoReplace(from, Path.Combine(root, "again")));
            if (kind == "symlink")
            {
                Assert.Equal("somewhere", new FileInfo(dest).LinkTarget);
            }
        }
        finally
        {
            SafeExtractNative.ForceRenameFallback = false;
            RestoreTestKit.DeleteTree(root);
        }
    }

    [Fact]
    public void DeleteTree_removes_unreadable_directories_and_symlinks_to_outside_without_touching_the_outside()
    {
        var root = RestoreTestKit.NewTempDir("race-ro");
        try
        {
            var outside = Path.Combine(root, "outside");
            Directory.CreateDirectory(outside);
            File.WriteAllText(Path.Combine(outside, "keep"), "keep");
            var tree = Path.Combine(root, "tree");
            Directory.CreateDirectory(Path.Combine(tree, "a/b"));
            File.WriteAllText(Path.Combine(tree, "a/b/f"), "x");
            File.CreateSymbolicLink(Path.Combine(tree, "a/to-outside"), outside);
            File.CreateSymbolicLink(Path.Combine(tree, "a/to-outside-file"), Path.Combine(outside, "keep"));
            File.SetUnixFileMode(Path.Combine(tree, "a/b"), UnixFileMode.None);
            File.SetUnixFileMode(Path.Combine(tree, "a"), UnixFileMode.UserRead | UnixFileMode.UserExecute);

            DataRestore.DeleteTree(tree);

            Assert.False(Directory.Exists(tree));
            Assert.Equal("keep", File.ReadAllText(Path.Combine(outside, "keep")));

            // A symlink given as the tree itself is removed as a link; its target stays.
            var link = Path.Combine(root, "link");
            File.CreateSymbolicLink(link, outside);
            DataRestore.DeleteTree(link);
            Assert.False(SafeExtractNative.Lexists(link));
            Assert.Equal("keep", File.ReadAllText(Path.Combine(outside, "keep")));
        }
        finally
        {
            RestoreTestKit.DeleteTree(root);
        }
    }

    [Fact]
    public void DeleteTree_removes_a_tree_as_deep_as_a_path_allows()
    {
        var root = RestoreTestKit.NewTempDir("race-deep");
        try
        {
            var tree = Path.Combine(root, "tree");
            var deepest = tree + string.Concat(Enumerable.Repeat("/d", 1500)); // one descriptor per level while deleting
            Directory.CreateDirectory(deepest);
            File.WriteAllText(Path.Combine(deepest, "f"), "x");

            DataRestore.DeleteTree(tree);

            Assert.False(Directory.Exists(tree));
            Assert.True(Directory.Exists(root));
        }
        finally
        {
            RestoreTestKit.DeleteTree(root);
        }
    }
}
