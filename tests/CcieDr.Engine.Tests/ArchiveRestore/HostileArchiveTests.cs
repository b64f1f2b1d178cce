#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using System.Text;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>Hostile and broken archives, crafted byte by byte: each is refused and the live data is untouched.</summary>
public class HostileArchiveTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static byte[] Base256(long v)
    {
        var b = new byte[12];
        for (int i = 11; i >= 1; i--)
        {
            b[i] = (byte)(v & 0xFF);
            v >>= 8;
        }

        b[0] = v < 0 || (b[1] & 0x80) != 0 && v == -1 ? (byte)0xFF : (byte)0x80;
        return b;
    }

    private static ArchiveManifest ManifestFor(params (string Path, string Content)[] files)
    {
        var m = new ArchiveManifest { SourcePath = "/data", Created = DateTimeOffset.UtcNow };
        foreach (var (p, c) in files)
        {
            m.Entries.Add(new ManifestEntry(p, ManifestEntryType.File) { Size = Encoding.UTF8.GetByteCount(c), Mode = 420, Sha256 = RestoreTestKit.Sha(Encoding.UTF8.GetBytes(c)) });
        }

        m.UpdateTotals();
        return m;
    }

    public static TheoryData<string, string> Cases() => new()
    {
        { "absolute path", "unsafe" },
        { "dot-dot", "unsafe" },
        { "nested dot-dot", "unsafe" },
        { "symlink absolute then write through", "unsafe" },
        { "symlink relative escape then write through", "unsafe" },
        { "symlink escape alone", "unsafe" },
        { "symlink inside then write through", "unsafe" },
        { "symlink chain escape", "unsafe" },
        { "symlink then directory through it", "unsafe" },
        { "hard link absolute", "unsafe" },
        { "hard link dot-dot", "unsafe" },
        { "hard link to missing member", "unsafe" },
        { "hard link through symlink", "unsafe" },
        { "char device", "unsafe" },
        { "block device", "unsafe" },
        { "fifo", "unsafe" },
        { "gnu sparse", "unsafe" },
        { "negative size", "unsafe" },
        { "oversized size", "unsafe" },
        { "pax negative size", "unsafe" },
        { "header checksum", "corrupt" },
        { "no end marker", "corrupt" },
        { "truncated tar content", "corrupt" },
        { "manifest hash mismatch", "corrupt" },
        { "manifest lists a missing file", "corrupt" },
        { "member not in manifest", "corrupt" },
        { "member after manifest", "corrupt" },
        { "corrupt bzip2 block", "corrupt" },
        { "not bzip2", "corrupt" },
    };

    internal static byte[] Build(string name, string outside)
    {
        var ok = new TarBuilder().File("good.txt", "good");
        return name switch
        {
            "absolute path" => ok.File(outside + "/evil", "x").Bz2(),
            "dot-dot" => ok.File("../evil", "x").Bz2(),
            "nested dot-dot" => ok.Dir("a").File("a/../../evil", "x").Bz2(),
            "symlink absolute then write through" => ok.Symlink("link", outside).File("link/file", "pwned").Bz2(),
            "symlink relative escape then write through" => ok.Symlink("link", "../outside").File("link/file", "pwned").Bz2(),
            "symlink escape alone" => ok.Symlink("link", "../../../etc/passwd").Bz2(),
            "symlink inside then write through" => ok.Dir("d").Symlink("link", "d").File("link/f", "x").Bz2(),
            "symlink chain escape" => ok.Symlink("here", ".").Symlink("up", "here/..").Bz2(),
            "symlink then directory through it" => ok.Symlink("link", "../outside").Dir("link/sub").Bz2(),
            "hard link absolute" => ok.HardLink("h", outside + "/file").Bz2(),
            "hard link dot-dot" => ok.HardLink("h", "../outside/file").Bz2(),
            "hard link to missing member" => ok.HardLink("h", "nothere").Bz2(),
            "hard link through symlink" => ok.Symlink("link", "../outside").HardLink("h", "link/file").Bz2(),
            "char device" => ok.Special("dev/null", '3').Bz2(),
            "block device" => ok.Special("sda", '4').Bz2(),
            "fifo" => ok.Special("pipe", '6').Bz2(),
            "gnu sparse" => ok.Header("sparse", 'S', 0).Bz2(),
            "negative size" => ok.Header("neg", '0', 0, rawSize: Base256(-5)).Bz2(),
            "oversized size" => ok.Header("huge", '0', 0, rawSize: Base256(1L << 60)).Bz2(),
            "pax negative size" => ok.Pax(new Dictionary<string, string> { ["size"] = "-1" }).File("p", "").Bz2(),
            "header checksum" => ok.Header("bad", '0', 0, badChecksum: true).Bz2(),
            "no end marker" => RestoreTestKit.Bzip2(ok.Tar(end: false)),
            "truncated tar content" => RestoreTestKit.Bzip2(new TarBuilder().File("big", new byte[5000]).Tar(end: false).Take(2048).ToArray()),
            "manifest hash mismatch" => new TarBuilder().File("a.txt", "tampered").Manifest(ManifestFor(("a.txt", "original"))).Bz2(),
            "manifest lists a missing file" => new TarBuilder().File("a.txt", "a").Manifest(ManifestFor(("a.txt", "a"), ("b.txt", "b"))).Bz2(),
            "member not in manifest" => new TarBuilder().File("a.txt", "a").File("extra.txt", "e").Manifest(ManifestFor(("a.txt", "a"))).Bz2(),
            "member after manifest" => new TarBuilder().File("a.txt", "a").Manifest(ManifestFor(("a.txt", "a"))).File("late.txt", "l").Bz2(),
            "corrupt bzip2 block" => Flip(ok.File("more.txt", new string('z', 20000)).Bz2()),
            "not bzip2" => ok.Tar(),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    private static byte[] Flip(byte[] b)
    {
        b[b.Length / 2] ^= 0x5A;
        return b;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Refused_before_touching_the_data(string name, string kind)
    {
        using var f = new DataRestoreFixture();
        var archive = f.WriteArchive(Build(name, f.Outside));
        var ex = await Record.ExceptionAsync(() => f.Restore(archive));
        Assert.NotNull(ex);
        output.WriteLine(ex.GetType().Name + ": " + ex.Message);
        if (kind == "unsafe")
        {
            Assert.IsType<UnsafeArchiveException>(ex);
        }
        else
        {
            Assert.IsType<ArchiveCorruptException>(ex);
        }

        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        Assert.Null(f.AsideFolder());
        f.AssertNoLeftovers();
        Assert.False(File.Exists(Path.Combine(f.Root, "evil")));
    }

    [Fact]
    public async Task Truncated_at_many_offsets_is_refused()
    {
        using var f = new DataRestoreFixture();
        var full = File.ReadAllBytes(f.Archive);
        foreach (var cut in new[] { 0, 3, 50, full.Length / 4, full.Length / 2, full.Length - 100, full.Length - 10, full.Length - 1 })
        {
            var archive = f.WriteArchive(full.Take(cut).ToArray(), "cut.tar.bz2");
            var ex = await Record.ExceptionAsync(() => f.Restore(archive));
            // The whole exception (type, message, stack) and the cut go into each message: this test failed twice on a
            // loaded machine (1 of 415, never reproduced in 60 looped runs), and its message is all the next failure leaves.
            Assert.True(ex is ArchiveCorruptException, $"cut at {cut} of {full.Length}: {ex?.ToString() ?? "no error"}");
            Assert.True(f.OldSnapshot == f.DataSnapshot(), $"cut at {cut} of {full.Length}: /data changed\nbefore:\n{f.OldSnapshot}\nafter:\n{f.DataSnapshot()}");
            var leftovers = Directory.EnumerateFileSystemEntries(f.Data, ".ccie-restore-*").ToList();
            Assert.True(leftovers.Count == 0, $"cut at {cut} of {full.Length}: leftovers {string.Join(", ", leftovers)}");
            f.AssertNoLeftovers();
        }
    }

    [Fact]
    public void Verification_mode_reports_every_problem_without_writing()
    {
        using var f = new DataRestoreFixture();
        var bytes = new TarBuilder().File("ok", "1").File("../evil", "x").Special("p", '6').Symlink("l", "/etc").File("a.txt", "tampered").Manifest(ManifestFor(("a.txt", "original"), ("ok", "1"))).Bz2();
        var r = SafeExtractor.Run(new MemoryStream(bytes), new SafeExtractOptions { CollectProblems = true }, CancellationToken.None);
        Assert.True(r.ProblemCount >= 4, string.Join("\n", r.Problems));
        Assert.False(r.ManifestVerified);
        Assert.Contains(r.Problems, p => p.Contains("'..'"));
        Assert.Contains(r.Problems, p => p.Contains("FIFO"));
        Assert.Contains(r.Problems, p => p.Contains("SHA-256"));
    }
}
