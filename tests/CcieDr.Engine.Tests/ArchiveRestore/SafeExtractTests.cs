#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using CcieDr.Engine.Archive.Bzip2;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

public sealed class SafeExtractTests : IDisposable
{
    private readonly string _dir = RestoreTestKit.NewTempDir("sx");

    public void Dispose() => RestoreTestKit.DeleteTree(_dir);

    private string Src => Path.Combine(_dir, "src");

    private string NewTarget()
    {
        var t = Path.Combine(_dir, "t-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(t);
        return t;
    }

    private byte[] GnuArchive(string command)
    {
        Directory.CreateDirectory(Src);
        RestoreTestKit.MakeSampleTree(Src);
        var outFile = Path.Combine(_dir, "a.tar.bz2");
        RestoreTestKit.Sh($"cd '{Src}' && {command.Replace("OUT", "'" + outFile + "'")}");
        return File.ReadAllBytes(outFile);
    }

    [Theory]
    [InlineData("tar -cjf OUT .")]
    [InlineData("tar -cf - . | bzip2 > OUT")]
    [InlineData("tar --format=pax -cjf OUT .")]
    [InlineData("tar --format=gnu -cf - . | bzip2 -1 > OUT")]
    [InlineData("tar -cf - . | split -b 150000 - part. && for p in part.*; do bzip2 -c $p; done > OUT && rm part.*")]
    public void Round_trips_gnu_tar_archives(string command)
    {
        var archive = GnuArchive(command);
        var target = NewTarget();
        var r = RestoreTestKit.Extract(archive, target);
        Assert.Equal(RestoreTestKit.Describe(RestoreTestKit.Snapshot(Src)), RestoreTestKit.Describe(RestoreTestKit.Snapshot(target)));
        Assert.False(r.ManifestVerified);
        Assert.Contains("no manifest: contents not verified against a manifest", r.Warnings);
        Assert.Equal(1, r.HardLinks);
        Assert.Equal(2, r.Symlinks);
        // the hard link really is one: both names share the inode
        var ino = RestoreTestKit.Run("stat", "-c", "%i", Path.Combine(target, "README.txt"), Path.Combine(target, "README.hardlink")).Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(ino[0], ino[1]);
    }

    [Theory]
    [InlineData("lbzip2", "-n 2")]
    [InlineData("pbzip2", "-p2")]
    public void Round_trips_parallel_bzip2_archives(string tool, string threads)
    {
        Assert.True(RestoreTestKit.HasTool(tool), $"{tool} is needed by this test: apt-get install {tool} (.ci/run installs it)");

        var archive = GnuArchive($"tar -cf - . | {tool} {threads} -c > OUT");
        var target = NewTarget();
        var r = RestoreTestKit.Extract(archive, target);
        Assert.Equal(RestoreTestKit.Describe(RestoreTestKit.Snapshot(Src)), RestoreTestKit.Describe(RestoreTestKit.Snapshot(target)));
    }

    [Fact]
    public void Managed_decoder_round_trips_too()
    {
        var archive = GnuArchive("tar -cf - . | split -b 100000 - part. && for p in part.*; do bzip2 -c $p; done > OUT && rm part.*");
        var target = NewTarget();
        var r = RestoreTestKit.Extract(archive, target, impl: Bzip2Implementation.Managed);
        Assert.Equal("managed", r.Decoder);
        Assert.True(r.Bzip2Streams > 3);
        Assert.Equal(RestoreTestKit.Describe(RestoreTestKit.Snapshot(Src)), RestoreTestKit.Describe(RestoreTestKit.Snapshot(target)));
    }

    [Fact]
    public void Reads_pax_and_gnu_long_names_and_fractional_mtime()
    {
        var longName = string.Join("/", Enumerable.Repeat(new string('x', 60), 5)) + "/file.txt";
        var gnuName = "g/" + new string('y', 200);
        var first = longName[..longName.IndexOf('/')];
        var rest = longName[(first.Length + 1)..];
        var archive = new TarBuilder()
            .Pax(new Dictionary<string, string> { ["path"] = longName, ["mtime"] = "1700000000.25", ["uid"] = "1000" })
            .File("ignored-short-name", "pax")
            .GnuLongName(gnuName)
            .File("ignored", "gnu")
            .Pax(new Dictionary<string, string> { ["linkpath"] = rest })
            .Symlink(first + "/pax-link", "short")
            .GnuLongLink("../" + gnuName)
            .Symlink("g/gnu-link", "short")
            .Bz2();
        var target = NewTarget();
        RestoreTestKit.Extract(archive, target);
        Assert.Equal("pax", File.ReadAllText(Path.Combine(target, longName)));
        Assert.Equal("gnu", File.ReadAllText(Path.Combine(target, gnuName)));
        Assert.Equal(new DateTime(2023, 11, 14, 22, 13, 20, 250, DateTimeKind.Utc), File.GetLastWriteTimeUtc(Path.Combine(target, longName)));
        Assert.Equal("pax", File.ReadAllText(Path.Combine(target, first, "pax-link")));
        Assert.Equal("gnu", File.ReadAllText(Path.Combine(target, "g/gnu-link")));
    }

    [RootFact]
    public void Restores_owners_modes_and_mtimes_as_root()
    {

        var archive = new TarBuilder()
            .Pax(new Dictionary<string, string> { ["uid"] = "1234", ["gid"] = "2345" })
            .File("owned.txt", "x"u8.ToArray(), mode: 0x1ED /* 0755 */, mtime: 1600000000)
            .Pax(new Dictionary<string, string> { ["uid"] = "4321", ["gid"] = "5432" })
            .Dir("owned-dir", mode: 0x1C0 /* 0700 */)
            .Pax(new Dictionary<string, string> { ["uid"] = "777", ["gid"] = "888" })
            .Symlink("owned-link", "owned.txt")
            .Bz2();
        var target = NewTarget();
        RestoreTestKit.Extract(archive, target);
        string Stat(string name) => RestoreTestKit.Run("stat", "-c", "%u:%g %a %Y", Path.Combine(target, name)).Out.Trim();
        Assert.Equal("1234:2345 755 1600000000", Stat("owned.txt"));
        Assert.StartsWith("4321:5432 700 ", Stat("owned-dir"));
        Assert.StartsWith("777:888 ", Stat("owned-link"));
    }
}
