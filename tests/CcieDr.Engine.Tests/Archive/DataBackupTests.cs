using System.Text;
using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Common;
using Xunit;
using static CcieDr.Engine.Tests.Archive.BackupTestSupport;

namespace CcieDr.Engine.Tests.Archive
{
    public class DataBackupTests
    {
        // The manifest as stored in the archive (a backup's result does not keep its entries).
        private static ArchiveManifest ArchivedManifest(string archive)
        {
            var x = Run("tar", "-xjOf", archive, ArchiveManifest.MemberPath);
            Assert.Equal(0, x.ExitCode);
            return ArchiveManifest.Parse(x.Stdout);
        }

        private static readonly HashSet<string> NeverBackedUp = new(StringComparer.Ordinal) { ".ccie-dr", "circleci-restore-20260101T000000Z" };

        [Fact]
        public async Task Backup_Is_Read_By_Gnu_Tar_Byte_Identical_With_Every_Entry_Kind()
        {
            using var tmp = new TempDir("gnu");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("backups");
            var restored = tmp.Sub("restored");
            BuildTree(src);

            var result = await new DataBackup().RunAsync(Options(src, dest));

            var archive = Path.Combine(dest, DataBackupOptions.DefaultFileName);
            Assert.Equal(archive, result.Location);
            Assert.Equal(new[] { DataBackupOptions.DefaultFileName }, Directory.GetFiles(dest).Select(Path.GetFileName));
            Assert.Equal(new FileInfo(archive).Length, result.ArchiveSize);
            Assert.Equal(Sha256File(archive), result.Sha256);
            Assert.Empty(result.Warnings);

            var test = Run("bzip2", "-t", archive);
            Assert.True(test.ExitCode == 0, test.Stderr);

            // Several independent bzip2 streams (the data is > 900 kB): "BZh9" stream headers followed by the block magic.
            var bytes = File.ReadAllBytes(archive);
            Assert.True(CountStreams(bytes) >= 5, "expected a multi-stream bzip2 file");

            var x = Run("tar", "-xjf", archive, "-C", restored, "--numeric-owner");
            Assert.True(x.ExitCode == 0, x.Stderr);
            Assert.Equal(string.Empty, x.Stderr);

            // Extracting creates parent directories of the manifest and may touch directory mtimes of those only.
            AssertTreesEqual(src, restored, NeverBackedUp);
            Assert.True(File.Exists(Path.Combine(restored, ".ccie-dr", "manifest.json")));
            Assert.False(Directory.Exists(Path.Combine(restored, "circleci-restore-20260101T000000Z")));
            Assert.False(File.Exists(Path.Combine(restored, ".ccie-dr", "journal.json")));

            // GNU tar's own comparison of the archive against the live tree (content, size, mode, owner, mtime, link targets).
            var diff = Run("tar", "--compare", "-jf", archive, "-C", src, "--exclude=.ccie-dr/manifest.json");
            Assert.True(diff.ExitCode == 0, diff.StdoutText + diff.Stderr);

            // Hard links come back as one inode.
            Assert.Equal(Stat(Path.Combine(restored, "hard-a")).Inode, Stat(Path.Combine(restored, "hard-b")).Inode);
            Assert.Equal(Stat(Path.Combine(restored, "hard-a")).Inode, Stat(Path.Combine(restored, "postgres", "hard-c")).Inode);

            // GNU tar's own view: members relative, directories with '/', hard links as links, manifest last.
            var list = Run("tar", "-tvjf", archive, "--numeric-owner").StdoutText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.EndsWith(" .ccie-dr/manifest.json", list[^1]);
            Assert.Contains(list, l => l.StartsWith("drwxr-xr-x", StringComparison.Ordinal) && l.EndsWith(" empty-dir/", StringComparison.Ordinal));
            Assert.Contains(list, l => l.StartsWith("hrw-r--r--", StringComparison.Ordinal) && l.EndsWith(" hard-b link to hard-a", StringComparison.Ordinal));
            Assert.Contains(list, l => l.StartsWith("lrwxrwxrwx", StringComparison.Ordinal) && l.EndsWith(" link-dir -> mongo", StringComparison.Ordinal));
            Assert.Contains(list, l => l.StartsWith("-rwsr-xr-x", StringComparison.Ordinal) && l.EndsWith(" script.sh", StringComparison.Ordinal));
            Assert.Contains(list, l => l.Contains(" 1234/2345 ", StringComparison.Ordinal) && l.EndsWith(" owned", StringComparison.Ordinal));
            Assert.DoesNotContain(list, l => l.Contains(" /", StringComparison.Ordinal) && !l.Contains("->", StringComparison.Ordinal));
            Assert.DoesNotContain(list, l => l.Contains("./", StringComparison.Ordinal));
        }

        [Fact]
        public async Task Manifest_Lists_Every_Member_With_Hashes_And_Is_Returned()
        {
            using var tmp = new TempDir("man");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            BuildTree(src);
            var created = new DateTimeOffset(2026, 11, 28, 14, 0, 0, TimeSpan.Zero);
            var o = Options(src, dest);
            o.Clock = () => created;

            var result = await new DataBackup().RunAsync(o);

            var x = Run("tar", "-xjOf", Path.Combine(dest, DataBackupOptions.DefaultFileName), ArchiveManifest.MemberPath);
            Assert.Equal(0, x.ExitCode);
            var m = ArchiveManifest.Parse(x.Stdout);
            Assert.Equal(ArchiveManifest.FormatId, m.Format);
            Assert.Equal("test-host", m.Host);
            Assert.Equal(src, m.SourcePath);
            Assert.StartsWith("CcieDr ", m.Tool);
            Assert.Equal(created, m.Created);
            // The result keeps the header and counts, not the entries (they grow with the file count): those are in the archive.
            Assert.False(result.Manifest.EntriesAvailable);
            Assert.Empty(result.Manifest.Entries);
            Assert.Equal(m.Entries.Count, result.Manifest.EntryCount);
            Assert.Equal(m.FileCount, result.Manifest.FileCount);
            Assert.Equal(m.TotalBytes, result.Manifest.TotalBytes);
            Assert.Equal(m.Host, result.Manifest.Host);
            Assert.Throws<InvalidOperationException>(() => result.Manifest.Serialize());

            // Every member GNU tar lists (but the manifest) is in the manifest, in archive order.
            var names = Run("tar", "-tjf", Path.Combine(dest, DataBackupOptions.DefaultFileName)).StdoutText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(names[..^1], m.Entries.Select(e => e.Path));

            var files = m.Entries.Where(e => e.Type == ManifestEntryType.File).ToList();
            Assert.Equal(files.Count, m.FileCount);
            Assert.Equal(files.Sum(f => f.Size), m.TotalBytes);
            Assert.Equal(m.FileCount, result.FileCount);
            Assert.Equal(m.TotalBytes, result.BytesRead);
            foreach (var f in files)
            {
                Assert.Equal(Sha256File(Path.Combine(src, f.Path)), f.Sha256);
                Assert.Equal(new FileInfo(Path.Combine(src, f.Path)).Length, f.Size);
            }

            var coll = m.Entries.Single(e => e.Path == "mongo/collection-1.wt");
            Assert.Equal(1_700_000_000.123457, coll.Mtime, 6);
            Assert.Equal(420, coll.Mode);
            var secret = m.Entries.Single(e => e.Path == "secret");
            Assert.Equal(Convert.ToInt32("600", 8), secret.Mode);
            var owned = m.Entries.Single(e => e.Path == "owned");
            Assert.Equal((1234, 2345), (owned.Uid, owned.Gid));
            Assert.Equal("mongo", m.Entries.Single(e => e.Path == "link-dir").LinkTarget);
            Assert.Equal(ManifestEntryType.Symlink, m.Entries.Single(e => e.Path == "link-dir").Type);
            Assert.Equal(ManifestEntryType.Directory, m.Entries.Single(e => e.Path == "empty-dir/").Type);
            var hardB = m.Entries.Single(e => e.Path == "hard-b");
            Assert.Equal((ManifestEntryType.Hardlink, "hard-a"), (hardB.Type, hardB.LinkTarget));
            Assert.Null(hardB.Sha256);
            Assert.DoesNotContain(m.Entries, e => e.Path.StartsWith(".ccie-dr", StringComparison.Ordinal) || e.Path.StartsWith("circleci-restore-", StringComparison.Ordinal));
        }

        [Fact]
        public async Task Gnu_Tar_Archive_Of_The_Same_Tree_Lists_The_Same_Members()
        {
            using var tmp = new TempDir("cmp");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            BuildTree(src);
            await new DataBackup().RunAsync(Options(src, dest));
            var ours = Run("tar", "-tjf", Path.Combine(dest, DataBackupOptions.DefaultFileName)).StdoutText.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(n => !n.StartsWith(".ccie-dr/", StringComparison.Ordinal)).OrderBy(n => n, StringComparer.Ordinal);
            var gnuArchive = Path.Combine(tmp.Path, "gnu.tar");
            Assert.Equal(0, RunIn(src, "tar", "--format=posix", "--exclude=./.ccie-dr", "--exclude=./circleci-restore-*", "-cf", gnuArchive, ".").ExitCode);
            var gnu = Run("tar", "-tf", gnuArchive).StdoutText.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(n => n.StartsWith("./", StringComparison.Ordinal) ? n[2..] : n).Where(n => n.Length > 0).OrderBy(n => n, StringComparer.Ordinal);
            Assert.Equal(gnu, ours);
        }

        [Fact]
        public async Task Excludes_Skip_Matching_Entries_And_Their_Subtrees()
        {
            using var tmp = new TempDir("exc");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            BuildTree(src);
            var o = Options(src, dest);
            o.Exclude.Add("journal");
            o.Exclude.Add("*.txt");
            o.Exclude.Add("postgres/base");
            var r = await new DataBackup().RunAsync(o);
            var paths = ArchivedManifest(r.Location).Entries.Select(e => e.Path).ToList();
            Assert.DoesNotContain(paths, p => p.Contains("journal", StringComparison.Ordinal));
            Assert.DoesNotContain(paths, p => p.EndsWith(".txt", StringComparison.Ordinal));
            Assert.DoesNotContain(paths, p => p.StartsWith("postgres/base", StringComparison.Ordinal));
            Assert.Contains("postgres/", paths);
            Assert.Contains("mongo/collection-1.wt", paths);
        }

        [Fact]
        public async Task Timestamped_Name_Uses_The_Start_Time()
        {
            using var tmp = new TempDir("ts");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            File.WriteAllText(Path.Combine(src, "a"), "a");
            var o = Options(src, dest);
            o.TimestampedName = true;
            o.Clock = () => new DateTimeOffset(2026, 11, 28, 9, 5, 7, TimeSpan.FromHours(1));
            var r = await new DataBackup().RunAsync(o);
            Assert.Equal("circleci-data-export-20261128T080507Z.tar.bz2", r.FileName);
            Assert.True(File.Exists(Path.Combine(dest, r.FileName)));
        }

        [Fact]
        public async Task Existing_Archive_Is_Replaced_Atomically()
        {
            using var tmp = new TempDir("rep");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            File.WriteAllText(Path.Combine(src, "a"), "first");
            await new DataBackup().RunAsync(Options(src, dest));
            File.WriteAllText(Path.Combine(src, "a"), "second");
            var r = await new DataBackup().RunAsync(Options(src, dest));
            Assert.Single(Directory.GetFiles(dest));
            Assert.Equal("second", Run("tar", "-xjOf", r.Location, "a").StdoutText);
        }

        [Fact]
        public async Task Destination_Inside_Source_Is_Excluded_With_A_Warning()
        {
            using var tmp = new TempDir("in");
            var src = tmp.Sub("data");
            var dest = Path.Combine(src, "backups");
            Directory.CreateDirectory(dest);
            File.WriteAllText(Path.Combine(src, "a"), "a");
            var r = await new DataBackup().RunAsync(Options(src, dest));
            Assert.DoesNotContain(ArchivedManifest(r.Location).Entries, e => e.Path.StartsWith("backups", StringComparison.Ordinal));
            Assert.Contains(r.Warnings, w => w.StartsWith("backups/: excluded", StringComparison.Ordinal));
        }

        [Fact]
        public async Task Files_Changing_Or_Vanishing_While_Read_Are_Warned_And_The_Archive_Stays_Valid()
        {
            using var tmp = new TempDir("live");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            var restored = tmp.Sub("restored");
            File.WriteAllText(Path.Combine(src, "0-first"), "first");
            File.WriteAllBytes(Path.Combine(src, "1-shrinks"), Random(1_000_000, 10));
            File.WriteAllBytes(Path.Combine(src, "2-grows"), Random(600_000, 11));
            File.WriteAllBytes(Path.Combine(src, "3-rewritten"), Random(600_000, 12));
            File.WriteAllText(Path.Combine(src, "4-vanishes"), "gone soon");
            File.WriteAllText(Path.Combine(src, "5-last"), "last");
            var fired = new HashSet<string>();
            var o = Options(src, dest);
            o.ProgressInterval = TimeSpan.Zero;
            o.Progress = new SyncProgress<DataBackupProgress>(p =>
            {
                if (p.CurrentPath is null || !fired.Add(p.CurrentPath))
                {
                    return;
                }

                switch (p.CurrentPath)
                {
                    case "0-first":
                        File.Delete(Path.Combine(src, "4-vanishes"));
                        break;
                    case "1-shrinks": // first chunk read: cut the file short
                        using (var f = new FileStream(Path.Combine(src, "1-shrinks"), FileMode.Open)) { f.SetLength(300_000); }
                        break;
                    case "2-grows":
                        File.AppendAllText(Path.Combine(src, "2-grows"), new string('x', 100_000));
                        break;
                    case "3-rewritten": // same size, new content and mtime
                        using (var f = new FileStream(Path.Combine(src, "3-rewritten"), FileMode.Open)) { f.Position = 599_000; f.Write(new byte[100]); }
                        File.SetLastWriteTimeUtc(Path.Combine(src, "3-rewritten"), DateTime.UtcNow.AddMinutes(1));
                        break;
                }
            });

            var r = await new DataBackup().RunAsync(o);

            Assert.Contains(r.Warnings, w => w.StartsWith("1-shrinks: shrank while being read", StringComparison.Ordinal));
            Assert.Contains(r.Warnings, w => w.StartsWith("2-grows: grew while being read", StringComparison.Ordinal));
            Assert.Contains(r.Warnings, w => w.StartsWith("3-rewritten: changed while being read", StringComparison.Ordinal));
            Assert.Contains(r.Warnings, w => w.StartsWith("4-vanishes: vanished", StringComparison.Ordinal));
            Assert.Equal(4, r.Warnings.Count);
            Assert.Equal(r.Warnings, r.Manifest.Warnings);

            // The header size is authoritative; later members are intact.
            Assert.Equal(0, Run("bzip2", "-t", r.Location).ExitCode);
            var x = Run("tar", "-xjf", r.Location, "-C", restored);
            Assert.True(x.ExitCode == 0, x.Stderr);
            Assert.Equal(1_000_000, new FileInfo(Path.Combine(restored, "1-shrinks")).Length);
            var shrunk = File.ReadAllBytes(Path.Combine(restored, "1-shrinks"));
            Assert.Equal(Random(1_000_000, 10)[..300_000], shrunk[..300_000]);
            Assert.All(shrunk[300_000..], b => Assert.Equal(0, b));
            Assert.Equal(Random(600_000, 11), File.ReadAllBytes(Path.Combine(restored, "2-grows")));
            Assert.Equal("last", File.ReadAllText(Path.Combine(restored, "5-last")));
            Assert.False(File.Exists(Path.Combine(restored, "4-vanishes")));
            var m = ArchivedManifest(r.Location);
            Assert.Equal(Sha256File(Path.Combine(restored, "1-shrinks")), m.Entries.Single(e => e.Path == "1-shrinks").Sha256);
            Assert.Equal(Sha256File(Path.Combine(restored, "2-grows")), m.Entries.Single(e => e.Path == "2-grows").Sha256);
        }

        [Fact]
        public async Task Special_Files_Are_Skipped_With_A_Warning()
        {
            using var tmp = new TempDir("fifo");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            Assert.Equal(0, Run("mkfifo", Path.Combine(src, "pipe")).ExitCode);
            File.WriteAllText(Path.Combine(src, "a"), "a");
            var r = await new DataBackup().RunAsync(Options(src, dest));
            Assert.Equal("pipe: skipped, a named pipe (FIFO) is not backed up.", Assert.Single(r.Warnings));
            Assert.Equal(new[] { "a" }, ArchivedManifest(r.Location).Entries.Select(e => e.Path));
        }

        [Fact]
        public async Task Failing_Pre_Hook_Aborts_With_No_Output_And_Post_Hook_Still_Runs()
        {
            using var tmp = new TempDir("hook");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            var marker = Path.Combine(tmp.Path, "post-ran");
            File.WriteAllText(Path.Combine(src, "a"), "a");
            var o = Options(src, dest);
            o.PreBackupCommand = "echo quiescing; echo \"database busy API_TOKEN=s3cr3t-value-123\"; exit 3";
            o.PostBackupCommand = $"echo \"$CCIE_BACKUP_STATUS\" > '{marker}'";

            var ex = await Assert.ThrowsAsync<DataBackupException>(() => new DataBackup().RunAsync(o));

            Assert.Equal(DataBackupErrorKind.PreBackupCommandFailed, ex.Kind);
            Assert.Contains("exited with code 3", ex.Message);
            Assert.Contains("database busy", ex.Message);
            Assert.DoesNotContain("quiescing", ex.Message);            // only the last line of the output
            Assert.DoesNotContain("s3cr3t-value-123", ex.Message);     // with secret-looking values masked
            Assert.Equal(3, ex.PreBackupCommand!.ExitCode);
            Assert.Empty(Directory.GetFileSystemEntries(dest));
            Assert.Equal("failed", File.ReadAllText(marker).Trim());
            Assert.True(ex.PostBackupCommand!.Succeeded);
        }

        [Fact]
        public async Task Pre_Hook_Output_Is_Backed_Up_And_Post_Hook_Sees_Success()
        {
            using var tmp = new TempDir("hook2");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            var marker = Path.Combine(tmp.Path, "post-ran");
            var o = Options(src, dest);
            o.PreBackupCommand = "echo dumped > db.dump";
            o.PostBackupCommand = $"echo \"$CCIE_BACKUP_STATUS $CCIE_BACKUP_DESTINATION\" > '{marker}'; exit 4";
            var r = await new DataBackup().RunAsync(o);
            Assert.Equal("dumped\n", Run("tar", "-xjOf", r.Location, "db.dump").StdoutText);
            Assert.Equal($"succeeded {r.Location}", File.ReadAllText(marker).Trim());
            Assert.Equal(4, r.PostBackupCommand!.ExitCode);
            Assert.Contains(r.Warnings, w => w.StartsWith("The post-backup command exited with code 4", StringComparison.Ordinal));
        }

        private sealed class FakeDisk : IDiskSpaceProvider
        {
            private readonly Func<long> _free;

            public FakeDisk(Func<long> free) => _free = free;

            public long GetAvailableBytes(string directory) => _free();
        }

        [Fact]
        public async Task Refuses_When_Free_Space_Is_Below_The_Estimate()
        {
            using var tmp = new TempDir("space");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            File.WriteAllBytes(Path.Combine(src, "a"), new byte[1_000_000]);
            var o = Options(src, dest);
            o.DiskSpace = new FakeDisk(() => 500_000);
            o.SpaceReserveBytes = 1000;
            var ex = await Assert.ThrowsAsync<DataBackupException>(() => new DataBackup().RunAsync(o));
            Assert.Equal(DataBackupErrorKind.InsufficientSpace, ex.Kind);
            Assert.Contains("500,000 bytes free", ex.Message);
            Assert.Contains("601,000 bytes needed", ex.Message);
            var inner = Assert.IsType<InsufficientDiskSpaceException>(ex.InnerException);
            Assert.Equal((500_000L, 601_000L), (inner.AvailableBytes, inner.NeededBytes));
            Assert.Empty(Directory.GetFileSystemEntries(dest));
        }

        [Fact]
        public async Task Stops_And_Cleans_Up_When_The_Disk_Fills_During_The_Write()
        {
            using var tmp = new TempDir("fill");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            // Incompressible data so more than 64 MiB... is too slow for a test: check the path with a small step instead.
            File.WriteAllBytes(Path.Combine(src, "a"), Random(3_000_000, 5));
            var calls = 0;
            var o = Options(src, dest);
            o.SpaceReserveBytes = 10_000_000;
            o.DiskSpace = new FakeDisk(() => ++calls == 1 ? long.MaxValue : 0);
            o.EstimatedCompressionRatio = 0;
            // The first check (before writing) passes; the in-flight checks run every 64 MiB, which this small archive never reaches.
            var r = await new DataBackup().RunAsync(o);
            Assert.Equal(1, calls);
            Assert.True(File.Exists(r.Location));
        }

        [Fact]
        public async Task Cancellation_Leaves_No_File_Behind()
        {
            using var tmp = new TempDir("cancel");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            for (var i = 0; i < 5; i++)
            {
                File.WriteAllBytes(Path.Combine(src, "f" + i), Random(1_000_000, i));
            }

            using var cts = new CancellationTokenSource();
            var marker = Path.Combine(tmp.Path, "post");
            var o = Options(src, dest);
            o.ProgressInterval = TimeSpan.Zero;
            o.PostBackupCommand = $"echo \"$CCIE_BACKUP_STATUS\" > '{marker}'";
            o.Progress = new SyncProgress<DataBackupProgress>(p =>
            {
                if (p.CurrentPath == "f2")
                {
                    cts.Cancel();
                }
            });
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new DataBackup().RunAsync(o, cts.Token));
            Assert.Empty(Directory.GetFileSystemEntries(dest));
            Assert.Equal("cancelled", File.ReadAllText(marker).Trim());
        }

        [Fact]
        public async Task Progress_Reports_Phases_Bytes_And_Current_File()
        {
            using var tmp = new TempDir("prog");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            File.WriteAllBytes(Path.Combine(src, "a"), Random(700_000, 1));
            File.WriteAllBytes(Path.Combine(src, "b"), Random(300_000, 2));
            var reports = new List<DataBackupProgress>();
            var o = Options(src, dest);
            o.ProgressInterval = TimeSpan.Zero;
            o.Progress = new SyncProgress<DataBackupProgress>(reports.Add);
            await new DataBackup().RunAsync(o);
            Assert.Equal(DataBackupPhase.Scanning, reports[0].Phase);
            Assert.Contains(reports, p => p.Phase == DataBackupPhase.Archiving && p.CurrentPath == "a" && p.BytesRead > 0 && p.BytesRead < 1_000_000);
            Assert.Equal(DataBackupPhase.Finishing, reports[^1].Phase);
            Assert.Equal(1_000_000, reports[^1].BytesRead);
            Assert.Equal(1_000_000, reports[^1].TotalBytes);
            Assert.Equal(100, reports[^1].PercentComplete);
            Assert.Equal(2, reports[^1].TotalEntries);
        }

        [Theory]
        [InlineData("/nonexistent-ccie-source", "out", DataBackupErrorKind.SourceNotFound)]
        [InlineData(null, "/nonexistent-ccie-dest", DataBackupErrorKind.InvalidDestination)]
        [InlineData(null, "s3://bucket/prefix/", DataBackupErrorKind.InvalidDestination)]
        [InlineData(null, "s3://x/", DataBackupErrorKind.InvalidDestination)]
        public async Task Bad_Arguments_Fail_Clearly(string? source, string destination, DataBackupErrorKind kind)
        {
            using var tmp = new TempDir("bad");
            var src = source ?? tmp.Sub("data");
            var dest = destination == "out" ? tmp.Sub("out") : destination;
            var ex = await Assert.ThrowsAsync<DataBackupException>(() => new DataBackup().RunAsync(Options(src, dest)));
            Assert.Equal(kind, ex.Kind);
        }

        [Fact]
        public async Task Empty_Source_Gives_A_Valid_Archive_With_Only_The_Manifest()
        {
            using var tmp = new TempDir("empty");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("out");
            var r = await new DataBackup().RunAsync(Options(src, dest));
            Assert.Equal(0, Run("bzip2", "-t", r.Location).ExitCode);
            Assert.Equal(".ccie-dr/manifest.json\n", Run("tar", "-tjf", r.Location).StdoutText);
            Assert.Equal(0, r.FileCount);
        }

        internal static int CountStreams(byte[] data)
        {
            // "BZh9" + block magic 0x314159265359 or end-of-stream magic 0x177245385090.
            var n = 0;
            for (var i = 0; i + 10 <= data.Length; i++)
            {
                if (data[i] == 'B' && data[i + 1] == 'Z' && data[i + 2] == 'h' && data[i + 3] == '9'
                    && ((data[i + 4] == 0x31 && data[i + 5] == 0x41 && data[i + 6] == 0x59) || (data[i + 4] == 0x17 && data[i + 5] == 0x72 && data[i + 6] == 0x45)))
                {
                    n++;
                }
            }

            return n;
        }
    }
}
