using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using Xunit;
using static CcieDr.Engine.Tests.Compression.ZstdTestKit;

namespace CcieDr.Engine.Tests.Compression;

public sealed class ArchiveFormatDetectorTests : IDisposable
{
    private readonly string _dir = NewTempDir("detect");

    public void Dispose() => DeleteTree(_dir);

    [Fact]
    public void FilesAreDetectedByContent_NotByMisleadingNames()
    {
        var data = Mixed(200_000, 1);
        var zstdNamedBz2 = Path.Combine(_dir, "circleci-data-export.tar.bz2");
        var bz2NamedZst = Path.Combine(_dir, "circleci-data-export.tar.zst");
        var noName = Path.Combine(_dir, "backup");
        File.WriteAllBytes(zstdNamedBz2, Compress(data));
        File.WriteAllBytes(Path.Combine(_dir, "plain"), data);
        RunOk(_dir, "bzip2", "-k", "plain");
        File.Move(Path.Combine(_dir, "plain.bz2"), bz2NamedZst);
        File.Copy(zstdNamedBz2, noName);

        Assert.Equal(CompressionKind.Zstd, ArchiveFormatDetector.DetectFile(zstdNamedBz2));
        Assert.Equal(CompressionKind.Bzip2, ArchiveFormatDetector.DetectFile(bz2NamedZst));
        Assert.Equal(CompressionKind.Zstd, ArchiveFormatDetector.DetectFile(noName));

        // And the right decompressor is picked: both give back the original bytes.
        foreach (var (file, kind) in new[] { (zstdNamedBz2, CompressionKind.Zstd), (bz2NamedZst, CompressionKind.Bzip2) })
        {
            using var opened = ArchiveDecompression.Open(File.OpenRead(file), file);
            Assert.Equal(kind, opened.Kind);
            Assert.Equal(Sha(data), Sha(ReadAll(opened.Tar)));
            Assert.Equal(new FileInfo(file).Length, opened.CompressedBytesRead);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public void NonSeekableSource_PeekedBytesAreReplayed(int chunk)
    {
        var data = Mixed(300_000, 2);
        var compressed = Compress(data);
        var source = new TrickleStream(compressed, chunk);
        var detected = ArchiveFormatDetector.Detect(source, "s3://bucket/key");
        Assert.Equal(CompressionKind.Zstd, detected.Kind);
        Assert.Equal(compressed, ReadAll(detected.Stream));
        detected.Stream.Dispose();
        Assert.True(source.Disposed);
    }

    [Fact]
    public void LeaveOpen_KeepsTheSourceOpen()
    {
        var source = new TrickleStream(Compress(Mixed(1000, 3)), 100);
        using (var opened = ArchiveDecompression.Open(source, null, leaveOpen: true))
        {
            Assert.Equal(Mixed(1000, 3), ReadAll(opened.Tar));
        }

        Assert.False(source.Disposed);
    }

    [Fact]
    public void Bzip2_FromANonSeekableTrickle_DecodesThroughTheBzip2Reader()
    {
        var data = Mixed(250_000, 4);
        File.WriteAllBytes(Path.Combine(_dir, "d"), data);
        RunOk(_dir, "bzip2", "-k", "d");
        var bz = File.ReadAllBytes(Path.Combine(_dir, "d.bz2"));
        using var opened = ArchiveDecompression.Open(new TrickleStream(bz, 2), "d.tar.zst");
        Assert.Equal(CompressionKind.Bzip2, opened.Kind);
        Assert.Equal(data, ReadAll(opened.Tar));
    }

    [Fact]
    public void PzstdOutput_StartingWithASkippableFrame_IsZstd()
    {
        var data = Mixed(3_000_000, 5);
        File.WriteAllBytes(Path.Combine(_dir, "p"), data);
        RunOk(_dir, "pzstd", "-q", "-p", "2", "p", "-o", "p.zst");
        var compressed = File.ReadAllBytes(Path.Combine(_dir, "p.zst"));
        Assert.Equal(0x18, compressed[3]); // skippable frame magic 0x184D2A5x
        using var opened = ArchiveDecompression.Open(new MemoryStream(compressed), "p.zst");
        Assert.Equal(CompressionKind.Zstd, opened.Kind);
        Assert.Equal(Sha(data), Sha(ReadAll(opened.Tar)));
    }

    [Fact]
    public void Identify_MagicBytes()
    {
        Assert.Equal(CompressionKind.Bzip2, ArchiveFormatDetector.Identify("BZh9"u8.ToArray(), 4));
        Assert.Equal(CompressionKind.Zstd, ArchiveFormatDetector.Identify(new byte[] { 0x28, 0xB5, 0x2F, 0xFD }, 4));
        Assert.Equal(CompressionKind.Zstd, ArchiveFormatDetector.Identify(new byte[] { 0x5E, 0x2A, 0x4D, 0x18 }, 4));
        Assert.Null(ArchiveFormatDetector.Identify("BZh0"u8.ToArray(), 4));
        Assert.Null(ArchiveFormatDetector.Identify(new byte[] { 0x28, 0xB5, 0x2F }, 3));
        Assert.Null(ArchiveFormatDetector.Identify(new byte[] { 0x28, 0xB5, 0x2F, 0xFD }, 3));
    }

    public static TheoryData<string, byte[], string> Unknown() => new()
    {
        { "empty", Array.Empty<byte>(), "empty" },
        { "gzip", new byte[] { 0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0 }, "gzip" },
        { "xz", new byte[] { 0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0x00, 0, 4 }, "xz" },
        { "lz4", new byte[] { 0x04, 0x22, 0x4D, 0x18, 0x64, 0x40 }, "lz4" },
        { "tar", PlainTar(), "uncompressed tar" },
        { "bad bzip2", "BZhX garbage"u8.ToArray(), "damaged bzip2 header" },
        { "junk", "hello world"u8.ToArray(), "68 65 6C 6C" },
    };

    [Theory]
    [MemberData(nameof(Unknown))]
    public void NeitherBzip2NorZstd_IsAClearError(string name, byte[] content, string expected)
    {
        var ex = Assert.Throws<ArchiveCorruptException>(() => ArchiveFormatDetector.Detect(new TrickleStream(content, 7), "s3://b/" + name + ".tar.zst"));
        Assert.Contains(expected, ex.Message);
        Assert.Contains("s3://b/" + name + ".tar.zst", ex.Message);
        Assert.True(ex.Message.Contains("neither bzip2 (BZh) nor zstd") || ex.Message.Contains("is empty"), ex.Message);
    }

    [Theory]
    [InlineData("circleci-data-export.tar.bz2", CompressionKind.Zstd, "circleci-data-export.tar.zst")]
    [InlineData("circleci-data-export-20261128T101500Z.tar.bz2", CompressionKind.Zstd, "circleci-data-export-20261128T101500Z.tar.zst")]
    [InlineData("circleci-data-export.tar.zst", CompressionKind.Bzip2, "circleci-data-export.tar.bz2")]
    [InlineData("backup.TZST", CompressionKind.Bzip2, "backup.tar.bz2")]
    [InlineData("circleci-data-export", CompressionKind.Zstd, "circleci-data-export.tar.zst")]
    public void ArchiveExtension_IsSwappedOrAppended(string name, CompressionKind kind, string expected)
    {
        Assert.Equal(expected, CompressionKinds.WithArchiveExtension(name, kind));
        Assert.True(CompressionKinds.HasArchiveExtension(expected));
        Assert.Equal(kind == CompressionKind.Zstd ? "tar -I zstd -xf" : "tar -xjf", kind.TarReadCommand());
    }

    private static byte[] PlainTar()
    {
        var dir = NewTempDir("plaintar");
        try
        {
            File.WriteAllText(Path.Combine(dir, "f"), "x");
            return RunOk(dir, "tar", "-cf", "-", "f");
        }
        finally
        {
            DeleteTree(dir);
        }
    }
}
