#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using System.Text;
using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Bzip2;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using CcieDr.Engine.Tests.Archive;
using Xunit;
using Xunit.Abstractions;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>
/// Seeded fuzzer over valid archives (issue #12 item 12). Each case derives a hostile archive from a real
/// Backup-CcieData archive (bzip2 or zstd) by one mutation: truncation at a random offset, bit flips in the
/// compressed bytes, bit flips in the tar bytes, or a mutated header field (size, mode, type, link target,
/// name with "..", absolute, NUL, overlong, reserved names, duplicate entries, PAX and GNU long-name tricks).
/// Every case must end in success with exactly the archived tree (old data moved aside intact) or a clean
/// refusal (a CcieException) with the data directory unchanged; never another exception, never a write
/// outside the target, never a leftover. CI runs <see cref="CiCases"/> cases; CCIE_FUZZ_CASES raises it
/// (build.ps1 Bench runs 2,000).
/// </summary>
public sealed class HostileArchiveFuzzTests : IDisposable
{
    private const int CiCases = 300;
    private static readonly string[] NastyNames =
    {
        "../escape.txt", "/etc/ccie-fuzz", "a/../../escape", "ok/\0hidden", new string('n', 300), "./", ".ccie-restore-journal.json",
        ".ccie-restore-staging/x", "circleci-restore-20990101T000000Z/x", "dir/./../../x", "//abs", "a/b/../../../c", "",
    };

    private static readonly string[] NastyLinks = { "/etc/passwd", "../../../etc/shadow", "..", new string('l', 200), "current/../../..", "" };

    private readonly ITestOutputHelper _out;
    private readonly string _root = RestoreTestKit.NewTempDir("fuzz");

    public HostileArchiveFuzzTests(ITestOutputHelper output) => _out = output;

    public void Dispose() => RestoreTestKit.DeleteTree(_root);

    private enum Outcome
    {
        Restored,
        Refused,
    }

    [Fact]
    public async Task Mutated_archives_are_restored_exactly_or_refused_cleanly()
    {
        int cases = int.TryParse(Environment.GetEnvironmentVariable("CCIE_FUZZ_CASES"), out int n) && n > 0 ? n : CiCases;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("CCIE_FUZZ_SEED"), out int s) ? s : 20261207;
        var source = Path.Combine(_root, "source");
        MakeTree(source);
        string expected = Shape(source);
        var seeds = new List<(string Name, byte[] Archive, byte[]? Tar)>
        {
            ("bzip2", await Backup(source, CompressionKind.Bzip2), null),
            ("zstd", await Backup(source, CompressionKind.Zstd), null),
        };
        seeds[0] = (seeds[0].Name, seeds[0].Archive, Decompress(seeds[0].Archive));

        var rnd = new Random(seed);
        var counts = new Dictionary<string, int[]>(StringComparer.Ordinal);
        var failures = new List<string>();
        for (int i = 0; i < cases; i++)
        {
            var (name, archive, tar) = seeds[rnd.Next(seeds.Count)];
            string kind;
            byte[] mutated;
            int pick = tar is null ? rnd.Next(2) : rnd.Next(5);
            switch (pick)
            {
                case 0:
                    kind = "truncate";
                    mutated = archive.AsSpan(0, rnd.Next(archive.Length)).ToArray();
                    break;
                case 1:
                    kind = "flip-compressed";
                    mutated = Flip(archive, rnd, 1 + rnd.Next(8));
                    break;
                case 2:
                    kind = "flip-tar";
                    mutated = RestoreTestKit.Bzip2(Flip(tar!, rnd, 1 + rnd.Next(8)));
                    break;
                case 3:
                    (kind, byte[] t) = MutateHeader(tar!, rnd);
                    mutated = RestoreTestKit.Bzip2(t);
                    break;
                default:
                    (kind, byte[] t2) = Splice(tar!, rnd);
                    mutated = RestoreTestKit.Bzip2(t2);
                    break;
            }

            kind = name + "/" + kind;
            try
            {
                var outcome = await RunCase(i, mutated, expected);
                if (!counts.TryGetValue(kind, out var c))
                {
                    counts[kind] = c = new int[2];
                }

                c[(int)outcome]++;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                failures.Add($"case {i} ({kind}, seed {seed}): {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }

        int restored = counts.Values.Sum(c => c[0]);
        int refused = counts.Values.Sum(c => c[1]);
        _out.WriteLine($"fuzz: {cases} cases (seed {seed}): {restored} restored exactly, {refused} refused cleanly, {failures.Count} failed");
        foreach (var kv in counts.OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            _out.WriteLine($"  {kv.Key,-28} restored {kv.Value[0],5}  refused {kv.Value[1],5}");
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
        Assert.True(refused > cases / 4, $"only {refused} of {cases} mutations were refused: the fuzzer is not reaching the checks");
    }

    private async Task<Outcome> RunCase(int i, byte[] archive, string expected)
    {
        var dir = Path.Combine(_root, "c" + i);
        var data = Path.Combine(dir, "data");
        var outside = Path.Combine(dir, "outside");
        Directory.CreateDirectory(data);
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "sentinel"), "outside");
        File.WriteAllText(Path.Combine(data, "old.txt"), "old data");
        Directory.CreateDirectory(Path.Combine(data, "olddir"));
        File.WriteAllText(Path.Combine(data, "olddir/db"), "old db");
        string old = Shape(data);
        var file = Path.Combine(dir, "a.tar.bz2");
        File.WriteAllBytes(file, archive);
        string rootBefore = string.Join(",", Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).OrderBy(x => x, StringComparer.Ordinal));
        string outsideBefore = Shape(outside);
        Outcome outcome;
        try
        {
            await new DataRestore().RestoreAsync(new DataRestoreOptions(file, data) { RequireManifest = true }, CancellationToken.None);
            outcome = Outcome.Restored;
        }
        catch (CcieException)
        {
            outcome = Outcome.Refused;
        }

        // Never a write outside the target, never a leftover.
        Assert.Equal(outsideBefore, Shape(outside));
        Assert.Equal(rootBefore, string.Join(",", Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).OrderBy(x => x, StringComparer.Ordinal)));
        Assert.False(File.Exists("/etc/ccie-fuzz"), "a member escaped to /etc");
        Assert.Empty(Directory.EnumerateFileSystemEntries(data, ".ccie-restore-*"));
        var aside = Directory.EnumerateDirectories(data, "circleci-restore-*").ToList();
        if (outcome == Outcome.Refused)
        {
            Assert.Equal(old, Shape(data));
        }
        else
        {
            Assert.Single(aside);
            Assert.Equal(old, Shape(aside[0]));
            Directory.Delete(aside[0], recursive: true);
            Assert.Equal(expected, Shape(data));
        }

        RestoreTestKit.DeleteTree(dir);
        return outcome;
    }

    /// <summary>Tree shape without mtimes (the manifest does not carry them all).</summary>
    private static string Shape(string root) => RestoreTestKit.Describe(RestoreTestKit.Snapshot(root, withMtime: false));

    private static void MakeTree(string root)
    {
        var rnd = new Random(5);
        Directory.CreateDirectory(Path.Combine(root, "postgres/base"));
        Directory.CreateDirectory(Path.Combine(root, "empty"));
        File.WriteAllText(Path.Combine(root, "README.txt"), "circleci data\n");
        var blob = new byte[6000];
        rnd.NextBytes(blob);
        File.WriteAllBytes(Path.Combine(root, "postgres/base/1"), blob);
        File.WriteAllText(Path.Combine(root, "postgres/conf"), string.Concat(Enumerable.Repeat("k = v\n", 300)));
        File.WriteAllText(Path.Combine(root, "secret.key"), "k");
        File.SetUnixFileMode(Path.Combine(root, "secret.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Directory.CreateDirectory(Path.Combine(root, "long", new string('d', 110)));
        File.WriteAllText(Path.Combine(root, "long", new string('d', 110), new string('f', 120)), "long");
        File.CreateSymbolicLink(Path.Combine(root, "current"), "postgres/base");
        File.CreateSymbolicLink(Path.Combine(root, "postgres/readme"), "../README.txt");
        RestoreTestKit.Sh($"ln '{root}/README.txt' '{root}/README.hard'");
    }

    private async Task<byte[]> Backup(string source, CompressionKind compression)
    {
        var dest = Directory.CreateDirectory(Path.Combine(_root, "backup-" + compression)).FullName;
        var o = BackupTestSupport.Options(source, dest);
        o.Compression = compression;
        var r = await new DataBackup().RunAsync(o);
        return File.ReadAllBytes(r.Location);
    }

    private static byte[] Decompress(byte[] bz)
    {
        using var d = new ParallelBzip2DecompressStream(new MemoryStream(bz), false, 1);
        using var ms = new MemoryStream();
        d.CopyTo(ms);
        return ms.ToArray();
    }

    private static byte[] Flip(byte[] src, Random rnd, int bits)
    {
        var b = (byte[])src.Clone();
        for (int i = 0; i < bits; i++)
        {
            int at = rnd.Next(b.Length);
            b[at] ^= (byte)(1 << rnd.Next(8));
        }

        return b;
    }

    private static List<int> Headers(byte[] tar)
    {
        var list = new List<int>();
        for (int o = 0; o + 512 <= tar.Length; o += 512)
        {
            if (tar[o + 257] == (byte)'u' && tar[o + 258] == (byte)'s' && tar[o + 259] == (byte)'t' && tar[o + 260] == (byte)'a' && tar[o + 261] == (byte)'r')
            {
                list.Add(o);
            }
        }

        return list;
    }

    private static void Put(byte[] b, int at, int len, string text)
    {
        Array.Clear(b, at, len);
        var bytes = Encoding.UTF8.GetBytes(text);
        Array.Copy(bytes, 0, b, at, Math.Min(len, bytes.Length));
    }

    private static void Checksum(byte[] b, int h)
    {
        for (int i = h + 148; i < h + 156; i++)
        {
            b[i] = (byte)' ';
        }

        int sum = 0;
        for (int i = h; i < h + 512; i++)
        {
            sum += b[i];
        }

        Put(b, h + 148, 8, Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ");
    }

    private static (string Kind, byte[] Tar) MutateHeader(byte[] src, Random rnd)
    {
        var b = (byte[])src.Clone();
        var headers = Headers(b);
        int h = headers[rnd.Next(headers.Count)];
        string kind;
        switch (rnd.Next(7))
        {
            case 0:
                kind = "size";
                string[] sizes = { "77777777777", "00000000000", Convert.ToString(rnd.Next(1 << 20), 8).PadLeft(11, '0'), "-1", "1x" };
                Put(b, h + 124, 12, sizes[rnd.Next(sizes.Length)]);
                if (rnd.Next(4) == 0)
                {
                    b[h + 124] = 0xFF; // base-256, negative
                }

                break;
            case 1:
                kind = "mode";
                string[] modes = { "0004755", "0002755", "0001777", "0177777", "9999999", "0000000" };
                Put(b, h + 100, 8, modes[rnd.Next(modes.Length)]);
                break;
            case 2:
                kind = "type";
                const string types = "0123456789gxLKSVDAM\0z";
                b[h + 156] = (byte)types[rnd.Next(types.Length)];
                break;
            case 3:
                kind = "link";
                b[h + 156] = (byte)(rnd.Next(2) == 0 ? '2' : '1');
                Put(b, h + 157, 100, NastyLinks[rnd.Next(NastyLinks.Length)]);
                break;
            case 4:
                kind = "name";
                Put(b, h, 100, NastyNames[rnd.Next(NastyNames.Length)]);
                Array.Clear(b, h + 345, 155); // ustar prefix
                break;
            case 5:
                kind = "prefix";
                Put(b, h + 345, 155, rnd.Next(2) == 0 ? "../.." : "/etc");
                break;
            default:
                kind = "checksum";
                Put(b, h + 148, 8, "0000000");
                return (kind, b);
        }

        if (rnd.Next(10) != 0)
        {
            Checksum(b, h);
        }

        return (kind, b);
    }

    /// <summary>Inserts a crafted member (PAX path/linkpath tricks, GNU long names, a duplicate) before a random header.</summary>
    private static (string Kind, byte[] Tar) Splice(byte[] src, Random rnd)
    {
        var headers = Headers(src);
        int at = headers[rnd.Next(headers.Count)];
        var builder = new TarBuilder();
        string kind;
        switch (rnd.Next(4))
        {
            case 0:
                kind = "pax-path";
                builder.Pax(new Dictionary<string, string> { ["path"] = NastyNames[rnd.Next(NastyNames.Length)] }).File("innocent.txt", "x");
                break;
            case 1:
                kind = "pax-linkpath";
                builder.Pax(new Dictionary<string, string> { ["linkpath"] = NastyLinks[rnd.Next(NastyLinks.Length)] }).Symlink("innocent-link", "README.txt");
                break;
            case 2:
                kind = "gnu-longname";
                builder.GnuLongName(NastyNames[rnd.Next(NastyNames.Length)]).File("short", "x");
                break;
            default:
                kind = "duplicate";
                int h = headers[rnd.Next(headers.Count)];
                int next = headers.FirstOrDefault(x => x > h, src.Length - 1024);
                builder.Raw(src.AsSpan(h, Math.Max(512, next - h)).ToArray());
                break;
        }

        var insert = builder.Tar(end: false);
        var result = new byte[src.Length + insert.Length];
        Array.Copy(src, 0, result, 0, at);
        Array.Copy(insert, 0, result, at, insert.Length);
        Array.Copy(src, at, result, at + insert.Length, src.Length - at);
        return (kind, result);
    }
}
