#pragma warning disable CA1416 // POSIX-only: GNU tar interop
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using CcieDr.Engine.Archive.Tar;
using CcieDr.Engine.Archive.Zstd;
using Xunit;
using static CcieDr.Engine.Tests.Compression.ZstdTestKit;

namespace CcieDr.Engine.Tests.Compression;

/// <summary>Our tar writer over zstd read by GNU tar, and GNU tar's zstd archives read by ours.</summary>
public sealed class ZstdTarInteropTests : IDisposable
{
    private readonly string _dir = NewTempDir("tar");

    public void Dispose() => DeleteTree(_dir);

    [Fact]
    public void OurTarZst_IsReadByGnuTarDashIZstd()
    {
        var archive = Path.Combine(_dir, "circleci-data-export.tar.zst");
        var big = Mixed(5_000_000, 1);
        var blob = Random(700_000, 2);
        var meta = new TarEntryMetadata { Mode = 0x1A4, MtimeSeconds = 1_700_000_000 };
        var dirMeta = new TarEntryMetadata { Mode = 0x1ED, MtimeSeconds = 1_700_000_000 };
        var longName = "data/" + new string('d', 120) + "/" + new string('f', 140) + ".txt";
        long framesAtManifest;
        using (var file = File.Create(archive))
        using (var zstd = new ZstdCompressStream(file, new ZstdCompressOptions { Threads = 2 }))
        using (var tar = new TarWriter(zstd, leaveOpen: true))
        {
            tar.WriteDirectory("data", dirMeta);
            tar.WriteDirectory("data/empty", dirMeta);
            tar.WriteFile("data/postgres.pages", meta, big);
            tar.WriteFile("data/blob.bin", meta, blob);
            tar.WriteFile(longName, meta, "long path"u8.ToArray());
            tar.WriteSymlink("data/link", "postgres.pages", meta);

            // The manifest goes last, in a frame of its own.
            zstd.EndFrame();
            framesAtManifest = zstd.FramesCompleted;
            tar.WriteFile("data/.circleci-manifest.json", meta, "{\"files\":4}"u8.ToArray());
            tar.Finish();
            zstd.Complete();
        }

        Assert.True(framesAtManifest >= 1);
        var outDir = Path.Combine(_dir, "out");
        Directory.CreateDirectory(outDir);
        RunOk(outDir, "tar", "-I", "zstd", "-xf", archive);

        Assert.Equal(Sha(big), Sha(File.ReadAllBytes(Path.Combine(outDir, "data/postgres.pages"))));
        Assert.Equal(Sha(blob), Sha(File.ReadAllBytes(Path.Combine(outDir, "data/blob.bin"))));
        Assert.Equal("long path", File.ReadAllText(Path.Combine(outDir, longName)));
        Assert.True(Directory.Exists(Path.Combine(outDir, "data/empty")));
        Assert.Equal("postgres.pages", new FileInfo(Path.Combine(outDir, "data/link")).LinkTarget);
        Assert.Equal("{\"files\":4}", File.ReadAllText(Path.Combine(outDir, "data/.circleci-manifest.json")));
        Assert.Equal(new DateTime(2023, 11, 14, 22, 13, 20, DateTimeKind.Utc), File.GetLastWriteTimeUtc(Path.Combine(outDir, "data/blob.bin")));

        // tar --zstd (the long form) lists the same members, and zstd -t checks every frame's checksum.
        var listing = Text(RunOk(null, "tar", "--zstd", "-tf", archive));
        Assert.Contains("data/.circleci-manifest.json", listing);
        Assert.Contains(longName, listing);
        Assert.Equal(0, Run(null, "zstd", "-tq", archive).Code);
        Assert.Contains($"Frames: {framesAtManifest + 1}", Text(RunOk(null, "zstd", "-lv", archive)));
    }

    [Theory]
    [InlineData("--zstd")]
    [InlineData("zstd -T2 -19")]
    public void GnuTarZstdArchives_AreReadByOurReader(string compressor)
    {
        var src = Path.Combine(_dir, "src");
        Directory.CreateDirectory(Path.Combine(src, "mongo/journal"));
        Directory.CreateDirectory(Path.Combine(src, "empty"));
        var files = new Dictionary<string, byte[]>
        {
            ["src/mongo/journal/j1"] = Mixed(2_500_000, 3),
            ["src/blob"] = Random(400_000, 4),
            ["src/zeros"] = new byte[1_000_000],
            ["src/small.txt"] = "hello\n"u8.ToArray(),
        };
        foreach (var (name, content) in files)
        {
            File.WriteAllBytes(Path.Combine(_dir, name), content);
        }

        File.CreateSymbolicLink(Path.Combine(src, "link"), "small.txt");
        var archive = Path.Combine(_dir, "gnu.tar.bz2"); // a misleading name: the content is zstd
        if (compressor == "--zstd")
        {
            RunOk(_dir, "tar", "--zstd", "-cf", archive, "src");
        }
        else
        {
            RunOk(_dir, "tar", "-I", compressor, "-cf", archive, "src");
        }

        var seen = new Dictionary<string, string>();
        var kinds = new Dictionary<string, TarEntryKind>();
        using (var opened = ArchiveDecompression.Open(new TrickleStream(File.ReadAllBytes(archive), 65536), archive))
        {
            Assert.Equal(CompressionKind.Zstd, opened.Kind);
            var reader = new TarReader(opened.Tar);
            TarReaderEntry? e;
            while ((e = reader.Next()) != null)
            {
                kinds[e.Name.TrimEnd('/')] = e.Kind;
                if (e.Kind == TarEntryKind.File)
                {
                    var ms = new MemoryStream();
                    var buf = new byte[8192];
                    int n;
                    while ((n = reader.Read(buf, 0, buf.Length)) > 0)
                    {
                        ms.Write(buf, 0, n);
                    }

                    seen[e.Name] = Sha(ms.ToArray());
                }
                else if (e.Kind == TarEntryKind.SymbolicLink)
                {
                    seen[e.Name] = "-> " + e.LinkName;
                }
            }

            Assert.InRange(reader.Drain(), 0, 10240); // record padding; the whole zstd stream was read and checked
        }

        foreach (var (name, content) in files)
        {
            Assert.Equal(Sha(content), seen[name]);
        }

        Assert.Equal("-> small.txt", seen["src/link"]);
        Assert.Equal(TarEntryKind.Directory, kinds["src/empty"]);
    }

    [Fact]
    public void TruncatedGnuTarZst_FailsInTheDecompressor_NotAsASilentShortArchive()
    {
        var src = Path.Combine(_dir, "t");
        Directory.CreateDirectory(src);
        File.WriteAllBytes(Path.Combine(src, "a"), Mixed(1_000_000, 5));
        var archive = Path.Combine(_dir, "t.tar.zst");
        RunOk(_dir, "tar", "--zstd", "-cf", archive, "t");
        var bytes = File.ReadAllBytes(archive);

        using var opened = ArchiveDecompression.Open(new MemoryStream(bytes[..(bytes.Length / 2)]), archive);
        var reader = new TarReader(opened.Tar);
        var ex = Assert.ThrowsAny<ArchiveCorruptException>(() =>
        {
            while (reader.Next() != null)
            {
                var buf = new byte[8192];
                while (reader.Read(buf, 0, buf.Length) > 0)
                {
                }
            }
        });
        Assert.Contains("truncated", ex.Message);
    }
}
