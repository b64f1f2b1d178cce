#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using CcieDr.Engine.Archive.Bzip2;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using ICSharpCode.SharpZipLib.BZip2;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>Temp folders, tree snapshots, GNU tar / bzip2 runners and a byte-level tar builder for hostile archives.</summary>
internal static class RestoreTestKit
{
    public static string NewTempDir(string tag)
    {
        var d = Path.Combine(Path.GetTempPath(), "ccie-rt-" + tag + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(d);
        return d;
    }

    public static void DeleteTree(string dir)
    {
        if (Directory.Exists(dir))
        {
            DataRestore.DeleteTree(dir);
        }
    }

    public static (int Code, string Out, string Err) Run(string file, params string[] args) => RunIn(null, file, args);

    public static (int Code, string Out, string Err) RunIn(string? cwd, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (cwd != null)
        {
            psi.WorkingDirectory = cwd;
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, so.Result, se.Result);
    }

    public static void Sh(string script)
    {
        var r = Run("/bin/sh", "-c", script);
        if (r.Code != 0)
        {
            throw new InvalidOperationException($"sh failed ({r.Code}): {script}\n{r.Err}");
        }
    }

    public static bool HasTool(string name) => Run("/bin/sh", "-c", "command -v " + name).Code == 0;

    /// <summary>A deterministic tree with every entry kind we restore.</summary>
    public static void MakeSampleTree(string root, int seed = 1)
    {
        var rnd = new Random(seed);
        Directory.CreateDirectory(Path.Combine(root, "postgres/base"));
        Directory.CreateDirectory(Path.Combine(root, "mongo/journal"));
        Directory.CreateDirectory(Path.Combine(root, "empty-dir"));
        File.WriteAllText(Path.Combine(root, "README.txt"), "circleci data " + seed + "\n");
        var blob = new byte[300_000];
        rnd.NextBytes(blob);
        File.WriteAllBytes(Path.Combine(root, "postgres/base/16384"), blob);
        File.WriteAllBytes(Path.Combine(root, "mongo/journal/zeros.bin"), new byte[200_000]);
        File.WriteAllText(Path.Combine(root, "mongo/config.yml"), string.Concat(Enumerable.Repeat("key: value\n", 500)));
        File.WriteAllText(Path.Combine(root, "secret.key"), "k");
        File.SetUnixFileMode(Path.Combine(root, "secret.key"), UnixFileMode.UserRead);
        File.SetUnixFileMode(Path.Combine(root, "empty-dir"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        var longDir = Path.Combine(root, "long", new string('d', 120), new string('e', 80));
        Directory.CreateDirectory(longDir);
        File.WriteAllText(Path.Combine(longDir, new string('f', 150) + ".txt"), "long path");
        File.CreateSymbolicLink(Path.Combine(root, "current"), "postgres/base");
        File.CreateSymbolicLink(Path.Combine(root, "mongo/readme-link"), "../README.txt");
        if (link(root + "/README.txt", root + "/README.hardlink") != 0)
        {
            throw new IOException("link failed");
        }

        // Fixed mtimes everywhere (deepest first), so archives of equal trees are equal.
        var t = new DateTime(2023, 5, 1, 12, 34, 56, DateTimeKind.Utc);
        var all = Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).OrderByDescending(p => p.Length).ToList();
        foreach (var p in all)
        {
            if (new FileInfo(p).LinkTarget != null)
            {
                continue;
            }

            if (Directory.Exists(p))
            {
                Directory.SetLastWriteTimeUtc(p, t.AddSeconds(p.Length - root.Length));
            }
            else
            {
                File.SetLastWriteTimeUtc(p, t.AddSeconds(p.Length - root.Length));
            }
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true, CharSet = System.Runtime.InteropServices.CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int link(string oldpath, string newpath);

    private static readonly Dictionary<int, byte[]> ArchiveCache = new();

    /// <summary>GNU tar -cjf of <see cref="MakeSampleTree"/>(seed), made once per test run.</summary>
    public static byte[] SampleArchive(int seed)
    {
        lock (ArchiveCache)
        {
            if (!ArchiveCache.TryGetValue(seed, out var bytes))
            {
                var dir = NewTempDir("sample");
                try
                {
                    var tree = Path.Combine(dir, "t");
                    Directory.CreateDirectory(tree);
                    MakeSampleTree(tree, seed);
                    Sh($"cd '{tree}' && tar -cjf ../a.tar.bz2 .");
                    bytes = File.ReadAllBytes(Path.Combine(dir, "a.tar.bz2"));
                    ArchiveCache[seed] = bytes;
                }
                finally
                {
                    DeleteTree(dir);
                }
            }

            return bytes;
        }
    }

    /// <summary>Path → description of every entry (type, mode, size, content hash, link target, mtime for files and dirs).</summary>
    public static SortedDictionary<string, string> Snapshot(string root, bool withMtime = true)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var rel = Path.GetRelativePath(root, path);
            var fi = new FileInfo(path);
            if (fi.LinkTarget != null)
            {
                map[rel] = "l " + fi.LinkTarget;
            }
            else if (Directory.Exists(path))
            {
                map[rel] = $"d {Mode(path)}" + (withMtime ? " " + (Directory.GetLastWriteTimeUtc(path).Ticks / TimeSpan.TicksPerSecond) : string.Empty);
            }
            else
            {
                map[rel] = $"f {Mode(path)} {fi.Length} {Sha(path)}" + (withMtime ? " " + (fi.LastWriteTimeUtc.Ticks / TimeSpan.TicksPerSecond) : string.Empty);
            }
        }

        return map;
    }

    public static string Describe(SortedDictionary<string, string> s) => string.Join("\n", s.Select(kv => kv.Key + " => " + kv.Value));

    public static string Mode(string path) => Convert.ToString((int)File.GetUnixFileMode(path), 8);

    public static string Sha(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    public static string Sha(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    public static byte[] Bzip2(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var bz = new BZip2OutputStream(ms) { IsStreamOwner = false })
        {
            bz.Write(data, 0, data.Length);
        }

        return ms.ToArray();
    }

    public static SafeExtractResult Extract(byte[] archive, string target, string? finalPath = null, Bzip2Implementation impl = Bzip2Implementation.Auto)
    {
        using var ms = new MemoryStream(archive);
        return SafeExtractor.Run(ms, new SafeExtractOptions { TargetDirectory = target, FinalPath = finalPath, Bzip2 = impl }, CancellationToken.None);
    }
}

/// <summary>Writes tar members byte by byte, including malformed ones.</summary>
internal sealed class TarBuilder
{
    private readonly MemoryStream _ms = new();

    public TarBuilder File(string name, byte[] content, int mode = 420, long? sizeOverride = null, long mtime = 1700000000)
    {
        Header(name, '0', sizeOverride ?? content.Length, mode: mode, mtime: mtime);
        Data(content);
        return this;
    }

    public TarBuilder File(string name, string content, int mode = 420) => File(name, Encoding.UTF8.GetBytes(content), mode);

    public TarBuilder Dir(string name, int mode = 493) => Header(name.EndsWith('/') ? name : name + "/", '5', 0, mode: mode);

    public TarBuilder Symlink(string name, string target) => Header(name, '2', 0, link: target, mode: 511);

    public TarBuilder HardLink(string name, string target) => Header(name, '1', 0, link: target);

    public TarBuilder Special(string name, char type) => Header(name, type, 0);

    public TarBuilder Pax(IDictionary<string, string> records)
    {
        var body = new StringBuilder();
        foreach (var kv in records)
        {
            var rec = " " + kv.Key + "=" + kv.Value + "\n";
            int len = Encoding.UTF8.GetByteCount(rec);
            int total = len + len.ToString().Length;
            if ((total).ToString().Length != len.ToString().Length)
            {
                total++;
            }

            body.Append(total).Append(rec);
        }

        var bytes = Encoding.UTF8.GetBytes(body.ToString());
        Header("./PaxHeaders/x", 'x', bytes.Length);
        Data(bytes);
        return this;
    }

    public TarBuilder GnuLongName(string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        Header("././@LongLink", 'L', bytes.Length);
        Data(bytes);
        return this;
    }

    public TarBuilder GnuLongLink(string target)
    {
        var bytes = Encoding.UTF8.GetBytes(target + "\0");
        Header("././@LongLink", 'K', bytes.Length);
        Data(bytes);
        return this;
    }

    public TarBuilder Manifest(ArchiveManifest m) => File(ArchiveManifest.MemberPath, m.Serialize());

    public TarBuilder Raw(byte[] bytes)
    {
        _ms.Write(bytes);
        return this;
    }

    public TarBuilder Header(string name, char type, long size, string? link = null, int mode = 420, long mtime = 1700000000, byte[]? rawSize = null, bool badChecksum = false)
    {
        var h = new byte[512];
        Put(h, 0, 100, name);
        Put(h, 100, 8, Convert.ToString(mode, 8).PadLeft(7, '0'));
        Put(h, 108, 8, "0000000");
        Put(h, 116, 8, "0000000");
        if (rawSize != null)
        {
            Array.Copy(rawSize, 0, h, 124, 12);
        }
        else
        {
            Put(h, 124, 12, Convert.ToString(size, 8).PadLeft(11, '0'));
        }

        Put(h, 136, 12, Convert.ToString(mtime, 8).PadLeft(11, '0'));
        h[156] = (byte)type;
        if (link != null)
        {
            Put(h, 157, 100, link);
        }

        Put(h, 257, 6, "ustar\0");
        Put(h, 263, 2, "00");
        for (int i = 148; i < 156; i++)
        {
            h[i] = (byte)' ';
        }

        int sum = h.Sum(b => b) + (badChecksum ? 1 : 0);
        Put(h, 148, 8, Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ");
        _ms.Write(h);
        return this;
    }

    public byte[] Tar(bool end = true)
    {
        var copy = new MemoryStream();
        _ms.Position = 0;
        _ms.CopyTo(copy);
        if (end)
        {
            copy.Write(new byte[1024]);
        }

        return copy.ToArray();
    }

    public byte[] Bz2(bool end = true) => RestoreTestKit.Bzip2(Tar(end));

    private void Data(byte[] content)
    {
        _ms.Write(content);
        int pad = (512 - (content.Length % 512)) % 512;
        _ms.Write(new byte[pad]);
    }

    private static void Put(byte[] h, int offset, int length, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        Array.Copy(b, 0, h, offset, Math.Min(b.Length, length));
    }
}
