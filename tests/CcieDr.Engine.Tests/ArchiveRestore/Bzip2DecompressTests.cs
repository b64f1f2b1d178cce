#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using CcieDr.Engine.Archive.Bzip2;
using CcieDr.Engine.Archive.Common;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

public class Bzip2DecompressTests
{
    public static TheoryData<Bzip2Implementation> Implementations()
    {
        var d = new TheoryData<Bzip2Implementation> { Bzip2Implementation.Managed };
        if (Bzip2DecompressStream.NativeAvailable)
        {
            d.Add(Bzip2Implementation.Native);
            d.Add(Bzip2Implementation.NativeParallel);
        }

        return d;
    }

    private static byte[] Payload(int size, int seed)
    {
        var b = new byte[size];
        var r = new Random(seed);
        for (int i = 0; i < size; i++)
        {
            b[i] = (byte)(r.Next(4) == 0 ? r.Next(256) : 'a' + (i % 7));
        }

        return b;
    }

    private static byte[] SystemBzip2(byte[] data)
    {
        var dir = RestoreTestKit.NewTempDir("bz");
        try
        {
            var f = Path.Combine(dir, "x");
            File.WriteAllBytes(f, data);
            RestoreTestKit.Sh($"bzip2 -9 '{f}'");
            return File.ReadAllBytes(f + ".bz2");
        }
        finally
        {
            RestoreTestKit.DeleteTree(dir);
        }
    }

    private static byte[] Decode(byte[] compressed, Bzip2Implementation impl)
    {
        using var bz = Bzip2DecompressStream.Open(new MemoryStream(compressed), false, impl);
        using var outp = new MemoryStream();
        bz.CopyTo(outp);
        return outp.ToArray();
    }

    [Fact]
    public void Native_library_is_found_on_linux()
    {
        Assert.True(Bzip2DecompressStream.NativeAvailable, "libbz2.so.1.0 / libbz2.so.1 should load on this machine");
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void Decodes_single_stream_from_system_bzip2(Bzip2Implementation impl)
    {
        var data = Payload(2_500_000, 1);
        Assert.Equal(data, Decode(SystemBzip2(data), impl));
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void Decodes_concatenated_streams(Bzip2Implementation impl)
    {
        var a = Payload(1_000_000, 2);
        var b = Payload(10, 3);
        var c = Payload(700_000, 4);
        var joined = SystemBzip2(a).Concat(SystemBzip2(b)).Concat(RestoreTestKit.Bzip2(c)).ToArray();
        using var bz = Bzip2DecompressStream.Open(new MemoryStream(joined), false, impl);
        using var outp = new MemoryStream();
        bz.CopyTo(outp);
        Assert.Equal(a.Concat(b).Concat(c).ToArray(), outp.ToArray());
        Assert.Equal(3, bz.StreamsCompleted);
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void Truncation_at_any_point_is_an_error(Bzip2Implementation impl)
    {
        var data = Payload(400_000, 5);
        var full = SystemBzip2(data).Concat(SystemBzip2(Payload(1000, 6))).ToArray();
        var cuts = new[] { 1, 3, 4, 10, 100, full.Length / 3, full.Length / 2, full.Length - 60, full.Length - 5, full.Length - 1 };
        foreach (var cut in cuts)
        {
            var ex = Record.Exception(() => Decode(full.Take(cut).ToArray(), impl));
            Assert.True(ex is ArchiveCorruptException, $"cut at {cut}/{full.Length}: expected ArchiveCorruptException, got {ex?.GetType().Name ?? "success"}");
        }
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void Corrupt_block_is_an_error(Bzip2Implementation impl)
    {
        var data = Payload(300_000, 7);
        var comp = SystemBzip2(data);
        foreach (var at in new[] { 20, comp.Length / 2, comp.Length - 12 })
        {
            var bad = (byte[])comp.Clone();
            bad[at] ^= 0x55;
            var ex = Record.Exception(() => Decode(bad, impl));
            Assert.True(ex is ArchiveCorruptException, $"flip at {at}: got {ex?.GetType().Name ?? "success"}");
        }
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void Empty_input_and_garbage_are_errors(Bzip2Implementation impl)
    {
        Assert.Throws<ArchiveCorruptException>(() => Decode(Array.Empty<byte>(), impl));
        Assert.Throws<ArchiveCorruptException>(() => Decode(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, impl));
        var good = SystemBzip2(Payload(1000, 8));
        Assert.Throws<ArchiveCorruptException>(() => Decode(good.Concat(new byte[] { 0x42, 0x5a, 0x00, 0x01 }).ToArray(), impl));
    }

    [Theory]
    [InlineData(64 * 1024, 16 * 1024 * 1024)] // segments longer than the cut limit: the rest is decoded as one stream
    [InlineData(16 * 1024 * 1024, 100 * 1024)] // segments that decode to more than the cap: decoded streaming, in order
    [InlineData(16 * 1024 * 1024, 16 * 1024 * 1024)]
    public void Parallel_decoder_keeps_order_and_falls_back_within_its_memory_bounds(int maxSegment, int maxDecoded)
    {
        var parts = Enumerable.Range(0, 7).Select(i => Payload(i == 3 ? 900_000 : 150_000 + i * 1000, 20 + i)).ToList();
        var joined = parts.SelectMany(p => SystemBzip2(p)).ToArray();
        using var bz = new ParallelBzip2DecompressStream(new MemoryStream(joined), false, 2, maxSegment, maxDecoded);
        using var outp = new MemoryStream();
        bz.CopyTo(outp);
        Assert.Equal(parts.SelectMany(p => p).ToArray(), outp.ToArray());
        Assert.Equal(7, bz.StreamsCompleted);
        Assert.Equal(joined.Length, bz.CompressedBytesRead);
    }

    [Fact]
    public void Parallel_decoder_refuses_a_false_cut_instead_of_returning_wrong_data()
    {
        // A stream-start signature planted inside the compressed data of the first stream.
        var a = SystemBzip2(Payload(200_000, 30));
        var b = SystemBzip2(Payload(200_000, 31));
        var fake = "BZh91AY&SY"u8.ToArray();
        var bad = a.Take(a.Length / 2).Concat(fake).Concat(a.Skip(a.Length / 2 + fake.Length)).Concat(b).ToArray();
        using var bz = new ParallelBzip2DecompressStream(new MemoryStream(bad), false, 2);
        Assert.Throws<ArchiveCorruptException>(() => bz.CopyTo(Stream.Null));
    }
}
