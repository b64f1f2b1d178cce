using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using CcieDr.Engine.Archive.Backup;
using Xunit;

namespace CcieDr.Engine.Tests.Archive
{
    /// <summary>A temporary directory removed at dispose.</summary>
    public sealed class TempDir : IDisposable
    {
        public TempDir(string tag = "t")
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ccie-" + tag + "-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public string Sub(string name)
        {
            var p = System.IO.Path.Combine(Path, name);
            Directory.CreateDirectory(p);
            return p;
        }

        public void Dispose()
        {
            try
            {
                // Make everything deletable (tests create read-only directories).
                BackupTestSupport.Run("chmod", "-R", "u+rwx", Path);
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>IProgress that reports synchronously on the calling thread (System.Progress posts to the pool).</summary>
    public sealed class SyncProgress<T> : IProgress<T>
    {
        private readonly Action<T> _action;

        public SyncProgress(Action<T> action) => _action = action;

        public void Report(T value) => _action(value);
    }

    public static class BackupTestSupport
    {
        public sealed record ProcessResult(int ExitCode, byte[] Stdout, string Stderr)
        {
            public string StdoutText => Encoding.UTF8.GetString(Stdout);
        }

        public static ProcessResult Run(string file, params string[] args) => RunIn(null, file, args);

        public static ProcessResult RunIn(string? workingDirectory, string file, params string[] args)
        {
            var psi = new ProcessStartInfo(file)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (workingDirectory != null)
            {
                psi.WorkingDirectory = workingDirectory;
            }

            foreach (var a in args)
            {
                psi.ArgumentList.Add(a);
            }

            using var p = Process.Start(psi)!;
            var errTask = p.StandardError.ReadToEndAsync();
            using var ms = new MemoryStream();
            p.StandardOutput.BaseStream.CopyTo(ms);
            p.WaitForExit();
            return new ProcessResult(p.ExitCode, ms.ToArray(), errTask.Result);
        }

        public static string Sha256Hex(byte[] data) => Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant();

        public static string Sha256File(string path)
        {
            using var f = File.OpenRead(path);
            return Convert.ToHexString(SHA256.HashData(f)).ToLowerInvariant();
        }

        public static byte[] Random(int n, int seed)
        {
            var b = new byte[n];
            new Random(seed).NextBytes(b);
            return b;
        }

        public static byte[] TextLike(int n, int seed)
        {
            var rng = new Random(seed);
            var words = new[] { "build", "container", "circleci", "queue", "builder", "services", "mongo", "postgres", "redis", "nomad", "artifact", "cache", "workflow", "step", "job" };
            var sb = new StringBuilder(n + 32);
            while (sb.Length < n)
            {
                sb.Append(words[rng.Next(words.Length)]).Append(rng.Next(10) == 0 ? '\n' : ' ');
            }

            return Encoding.ASCII.GetBytes(sb.ToString(0, n));
        }

        public static void SetMtime(string path, long seconds, int nanoseconds)
        {
            var r = Run("touch", "-h", "-d", "@" + seconds + "." + nanoseconds.ToString("D9"), path);
            Assert.True(r.ExitCode == 0, r.Stderr);
        }

        /// <summary>
        /// Builds a tree with every entry kind the backup must preserve. Returns the archive paths expected in the
        /// archive (directories with a trailing '/').
        /// </summary>
        public static void BuildTree(string root)
        {
            Directory.CreateDirectory(Path.Combine(root, "mongo", "journal"));
            Directory.CreateDirectory(Path.Combine(root, "empty-dir"));
            Directory.CreateDirectory(Path.Combine(root, "postgres", "base", "16384"));
            File.WriteAllBytes(Path.Combine(root, "mongo", "collection-1.wt"), TextLike(1_500_000, 1));
            File.WriteAllBytes(Path.Combine(root, "mongo", "journal", "WiredTigerLog.0001"), Random(700_000, 2));
            File.WriteAllBytes(Path.Combine(root, "postgres", "base", "16384", "zeros"), new byte[2_000_000]);
            File.WriteAllBytes(Path.Combine(root, "empty-file"), Array.Empty<byte>());
            File.WriteAllBytes(Path.Combine(root, "block-511"), Random(511, 3));
            File.WriteAllBytes(Path.Combine(root, "block-512"), Random(512, 4));
            File.WriteAllBytes(Path.Combine(root, "block-513"), Random(513, 5));
            File.WriteAllText(Path.Combine(root, "spaces and ünïcødé 日本.txt"), "non-ascii name\n");

            // A path longer than ustar's 100 + 155 bytes (needs PAX), and a name longer than 100 bytes.
            var deep = Path.Combine(root, "deep", new string('d', 90), new string('e', 90), new string('f', 90));
            Directory.CreateDirectory(deep);
            File.WriteAllText(Path.Combine(deep, new string('n', 120) + ".txt"), "long path\n");

            // Symlinks: relative, absolute, dangling, to a directory (never followed).
            File.CreateSymbolicLink(Path.Combine(root, "link-rel"), "mongo/collection-1.wt");
            File.CreateSymbolicLink(Path.Combine(root, "link-abs"), "/etc/hostname");
            File.CreateSymbolicLink(Path.Combine(root, "link-dangling"), "does/not/exist");
            Directory.CreateSymbolicLink(Path.Combine(root, "link-dir"), "mongo");
            File.CreateSymbolicLink(Path.Combine(root, "link-long"), new string('t', 150));

            // Hard links: three names, one inode.
            File.WriteAllText(Path.Combine(root, "hard-a"), "hard linked content\n");
            Assert.Equal(0, Run("ln", Path.Combine(root, "hard-a"), Path.Combine(root, "hard-b")).ExitCode);
            Assert.Equal(0, Run("ln", Path.Combine(root, "hard-a"), Path.Combine(root, "postgres", "hard-c")).ExitCode);

            // Modes and owners.
            File.WriteAllText(Path.Combine(root, "secret"), "0600\n");
            Assert.Equal(0, Run("chmod", "600", Path.Combine(root, "secret")).ExitCode);
            File.WriteAllText(Path.Combine(root, "script.sh"), "#!/bin/sh\necho hi\n");
            Assert.Equal(0, Run("chmod", "4755", Path.Combine(root, "script.sh")).ExitCode);
            Directory.CreateDirectory(Path.Combine(root, "sticky"));
            Assert.Equal(0, Run("chmod", "1777", Path.Combine(root, "sticky")).ExitCode);
            File.WriteAllText(Path.Combine(root, "owned"), "owned by 1234:2345\n");
            Assert.Equal(0, Run("chown", "-h", "1234:2345", Path.Combine(root, "owned")).ExitCode);

            // Never backed up.
            Directory.CreateDirectory(Path.Combine(root, ".ccie-dr"));
            File.WriteAllText(Path.Combine(root, ".ccie-dr", "journal.json"), "{}");
            Directory.CreateDirectory(Path.Combine(root, "circleci-restore-20260101T000000Z", "old"));
            File.WriteAllText(Path.Combine(root, "circleci-restore-20260101T000000Z", "old", "x"), "old data");

            // Sub-second mtimes (set last, bottom-up, so creating children does not reset them).
            SetMtime(Path.Combine(root, "mongo", "collection-1.wt"), 1_700_000_000, 123_456_789);
            SetMtime(Path.Combine(root, "block-511"), 1_600_000_000, 0);
            SetMtime(Path.Combine(root, "link-rel"), 1_650_000_000, 500_000_000);
            SetMtime(Path.Combine(root, "empty-dir"), 1_690_000_000, 250_000_000);
        }

        /// <summary>Asserts that <paramref name="actual"/> has exactly the entries of <paramref name="expected"/> (minus <paramref name="skipTop"/>) with identical content, type, link text, mode, owner and mtime.</summary>
        public static void AssertTreesEqual(string expected, string actual, ISet<string> skipTop, ISet<string>? skipMtimeOf = null)
        {
            var e = Walk(expected, skipTop);
            var a = Walk(actual, skipTop);
            Assert.Equal(e.Keys.OrderBy(k => k, StringComparer.Ordinal), a.Keys.OrderBy(k => k, StringComparer.Ordinal));
            foreach (var rel in e.Keys)
            {
                var ep = Path.Combine(expected, rel);
                var ap = Path.Combine(actual, rel);
                var es = Stat(ep);
                var @as = Stat(ap);
                Assert.True(es.Type == @as.Type, $"{rel}: type {es.Type} vs {@as.Type}");
                Assert.True(es.Mode == @as.Mode, $"{rel}: mode {es.Mode} vs {@as.Mode}");
                Assert.True(es.Owner == @as.Owner, $"{rel}: owner {es.Owner} vs {@as.Owner}");
                if (es.Type != "symbolic link" && !(skipMtimeOf?.Contains(rel) ?? false))
                {
                    Assert.True(es.Mtime == @as.Mtime, $"{rel}: mtime {es.Mtime} vs {@as.Mtime}");
                }

                if (es.Type == "symbolic link")
                {
                    Assert.Equal(new FileInfo(ep).LinkTarget, new FileInfo(ap).LinkTarget);
                }
                else if (es.Type.StartsWith("regular", StringComparison.Ordinal))
                {
                    Assert.True(File.ReadAllBytes(ep).AsSpan().SequenceEqual(File.ReadAllBytes(ap)), $"{rel}: content differs");
                }
            }
        }

        public sealed record StatInfo(string Type, string Mode, string Owner, string Mtime, string Inode);

        public static StatInfo Stat(string path)
        {
            var r = Run("stat", "-c", "%F|%a|%u:%g|%.9Y|%i", path);
            Assert.True(r.ExitCode == 0, r.Stderr);
            var p = r.StdoutText.Trim().Split('|');
            return new StatInfo(p[0], p[1], p[2], p[3], p[4]);
        }

        private static Dictionary<string, bool> Walk(string root, ISet<string> skipTop)
        {
            var result = new Dictionary<string, bool>(StringComparer.Ordinal);
            var stack = new Stack<string>();
            stack.Push(root);
            while (stack.Count > 0)
            {
                var dir = stack.Pop();
                foreach (var full in Directory.EnumerateFileSystemEntries(dir))
                {
                    var rel = Path.GetRelativePath(root, full);
                    if (skipTop.Contains(rel.Split('/')[0]))
                    {
                        continue;
                    }

                    var info = new FileInfo(full);
                    var isDir = (info.Attributes & FileAttributes.Directory) != 0 && info.LinkTarget is null;
                    result[rel] = isDir;
                    if (isDir)
                    {
                        stack.Push(full);
                    }
                }
            }

            return result;
        }

        public static DataBackupOptions Options(string source, string destination) => new()
        {
            SourcePath = source,
            Destination = destination,
            HostName = "test-host",
            SpaceReserveBytes = 0,
        };
    }
}
