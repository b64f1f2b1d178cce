#pragma warning disable CA1416 // POSIX-only: real bzip2 / lbzip2 / GNU tar interop
using CcieDr.Engine.Archive.Bzip2;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Tests.ArchiveRestore;
using Xunit;

namespace CcieDr.Engine.Tests.Compression;

/// <summary>Single-stream, many-block bzip2 (bzip2, lbzip2, GNU tar -cjf) decoded block by block on every core.</summary>
public sealed class Bzip2BlockParallelTests : IDisposable
{
    private readonly string _dir = ZstdTestKit.NewTempDir("bzblocks");

    public void Dispose() => ZstdTestKit.DeleteTree(_dir);

    /// <summary>Half text-like, half random: compresses to about 60 %, so a few MB make a stream of many blocks.</summary>
    private static byte[] Payload(int size, int seed)
    {
        var b = new byte[size];
        var r = new Random(seed);
        for (int i = 0; i < size; i++)
        {
            b[i] = r.Next(2) == 0 ? (byte)r.Next(256) : (byte)("circleci backup "[i % 16]);
        }

        // A few long runs: exercise bzip2's first-stage run-length coding across block ends.
        for (int k = 0; k < 8 && size > 200_000; k++)
        {
            int at = r.Next(size - 70_000);
            Array.Fill(b, (byte)k, at, 60_000);
        }

        return b;
    }

    private byte[] Compress(byte[] data, string tool)
    {
        var f = Path.Combine(_dir, "in-" + Guid.NewGuid().ToString("N")[..6]);
        File.WriteAllBytes(f, data);
        RestoreTestKit.Sh($"{tool} < '{f}' > '{f}.bz2'");
        return File.ReadAllBytes(f + ".bz2");
    }

    private static byte[] DecodeBlocks(byte[] compressed, long[]? falseCuts = null) => DecodeBlocks(compressed, out _, out _, falseCuts);

    private static byte[] DecodeBlocks(byte[] compressed, out int streams, out int merges, long[]? falseCuts = null)
    {
        using var bz = new BlockParallelBzip2DecompressStream(new MemoryStream(compressed), false, 2, 0, falseCuts);
        using var outp = new MemoryStream();
        bz.CopyTo(outp);
        streams = bz.StreamsCompleted;
        merges = bz.Merges;
        Assert.Equal(compressed.Length, bz.CompressedBytesRead);
        return outp.ToArray();
    }

    private static byte[] DecodeAuto(byte[] compressed)
    {
        using var bz = Bzip2DecompressStream.Open(new MemoryStream(compressed));
        using var outp = new MemoryStream();
        bz.CopyTo(outp);
        return outp.ToArray();
    }

    /// <summary>Bit offsets of every block / end-of-stream magic the scanner finds.</summary>
    private static List<long> Cuts(byte[] compressed)
    {
        var cuts = new List<long>();
        long from = 0;
        while (true)
        {
            long c = Bzip2BlockScanner.Find(compressed, from, true, out _, out _);
            if (c < 0)
            {
                return cuts;
            }

            cuts.Add(c);
            from = c + 1;
        }
    }

    [Theory]
    [InlineData("bzip2 -1")]
    [InlineData("bzip2 -9")]
    [InlineData("lbzip2 -1 -n 2")]
    [InlineData("lbzip2 -9 -n 2")]
    public void Single_stream_of_many_blocks_decodes_byte_identical(string tool)
    {
        var data = Payload(6_000_000, 1);
        var comp = Compress(data, tool);
        Assert.True(Cuts(comp).Count > 6, "the archive should hold many blocks");
        Assert.Equal(data, DecodeBlocks(comp, out int streams, out int merges));
        Assert.Equal(1, streams);
        Assert.Equal(0, merges);
        Assert.Equal(data, DecodeAuto(comp)); // the restore path switches to block decoding by itself
    }

    [Fact]
    public void Incompressible_lbzip2_blocks_with_more_than_18002_selectors_decode()
    {
        // lbzip2 writes more Huffman selectors than a 900,000-symbol block can use when the data does not
        // compress; the field allows 32767 and bzip2 >= 1.0.8 reads them all and uses the first 18002.
        var data = new byte[2_000_000];
        new Random(12).NextBytes(data);
        var comp = Compress(data, "lbzip2 -9 -n 2");
        Assert.Equal(data, DecodeBlocks(comp));
        Assert.Equal(data, DecodeAuto(comp));
    }

    [Fact]
    public void Gnu_tar_cjf_archive_decodes_byte_identical_to_bzip2_dc()
    {
        var tree = Path.Combine(_dir, "tree");
        Directory.CreateDirectory(Path.Combine(tree, "sub"));
        for (int i = 0; i < 12; i++)
        {
            File.WriteAllBytes(Path.Combine(tree, i % 2 == 0 ? "sub" : ".", $"f{i}.bin"), Payload(300_000 + (i * 7919), 10 + i));
        }

        RestoreTestKit.Sh($"cd '{tree}' && tar -cjf ../a.tar.bz2 . && bzip2 -dc ../a.tar.bz2 > ../a.tar");
        var comp = File.ReadAllBytes(Path.Combine(_dir, "a.tar.bz2"));
        var expected = File.ReadAllBytes(Path.Combine(_dir, "a.tar"));
        Assert.Equal(expected, DecodeBlocks(comp));
        Assert.Equal(expected, DecodeAuto(comp));
    }

    [Fact]
    public void One_block_stream_and_concatenated_multi_block_streams_decode()
    {
        var small = Payload(50_000, 2);
        Assert.Equal(small, DecodeBlocks(Compress(small, "bzip2 -9")));

        var a = Payload(4_000_000, 3);
        var b = Payload(20, 4);
        var c = Payload(1_500_000, 5);
        var joined = Compress(a, "lbzip2 -9 -n 2").Concat(Compress(b, "bzip2 -1")).Concat(Compress(c, "bzip2 -3")).ToArray();
        var expected = a.Concat(b).Concat(c).ToArray();
        Assert.Equal(expected, DecodeBlocks(joined, out int streams, out _));
        Assert.Equal(3, streams);
        using var auto = Bzip2DecompressStream.Open(new MemoryStream(joined));
        using var outp = new MemoryStream();
        auto.CopyTo(outp);
        Assert.Equal(expected, outp.ToArray());
        Assert.Equal(3, auto.StreamsCompleted);
    }

    [Fact]
    public void Scanner_finds_both_magics_at_every_bit_offset()
    {
        foreach (var magic in new[] { Bzip2BlockScanner.BlockMagic, Bzip2BlockScanner.EndMagic })
        {
            for (int shift = 0; shift < 24; shift++)
            {
                // Bits: 'shift' ones (no magic starts with a one-run that long... and none is found before), the magic, then ones.
                var bits = new byte[16];
                Array.Fill(bits, (byte)0xFF);
                for (int i = 0; i < 48; i++)
                {
                    int at = 40 + shift + i;
                    bool one = ((magic >> (47 - i)) & 1) != 0;
                    bits[at / 8] = (byte)(one ? bits[at / 8] | (0x80 >> (at % 8)) : bits[at / 8] & ~(0x80 >> (at % 8)));
                }

                long found = Bzip2BlockScanner.Find(bits, 0, true, out bool end, out _);
                Assert.Equal(40 + shift, found);
                Assert.Equal(magic == Bzip2BlockScanner.EndMagic, end);
                Assert.Equal(-1, Bzip2BlockScanner.Find(bits, found + 1, true, out _, out _));

                // Incremental: nothing until the whole candidate (and its 8-byte load) is there.
                long partial = Bzip2BlockScanner.Find(bits.AsSpan(0, ((40 + shift) / 8) + 7), 0, false, out _, out long resume);
                Assert.Equal(-1, partial);
                Assert.True(resume <= 40 + shift, "the search must resume at or before the candidate");
            }
        }
    }

    [Fact]
    public void False_cuts_inside_blocks_and_trailers_are_merged_away()
    {
        var data = Payload(5_000_000, 6);
        var a = Compress(data, "lbzip2 -5 -n 2");
        var b = Compress(Payload(300_000, 7), "bzip2 -2");
        var comp = a.Concat(b).ToArray();
        var cuts = Cuts(comp);
        long eos = cuts[cuts.Count - 1]; // the second stream's end
        long firstEos = cuts.First(c => Bzip2BlockScanner.Read48(comp, c) == Bzip2BlockScanner.EndMagic);
        var planted = new[]
        {
            33L, // one bit into the first block's magic
            (cuts[1] + cuts[2]) / 2, // the middle of a block
            cuts[3] - 5, // just before a true boundary
            cuts[3] + 3, // just after it
            firstEos + 60, // inside the first stream's combined CRC
            firstEos + 85, // in its padding / the next stream's header
            eos + 50, // inside the last trailer
        };
        var expected = data.Concat(Payload(300_000, 7)).ToArray();
        Assert.Equal(expected, DecodeBlocks(comp, out int streams, out int merges, planted));
        Assert.Equal(2, streams);
        Assert.Equal(planted.Length, merges);
    }

    [Fact]
    public void A_magic_occurring_inside_compressed_data_is_not_taken_for_a_boundary()
    {
        // Random data compresses to near-random bits: the 48-bit patterns occur by chance only once per ~3e14 bits,
        // so plant them instead: every true cut plus one candidate per block, each a decode that must fail and merge.
        var data = Payload(3_000_000, 8);
        var comp = Compress(data, "bzip2 -1");
        var cuts = Cuts(comp);
        var planted = cuts.Zip(cuts.Skip(1), (x, y) => x + ((y - x) / 3)).ToArray();
        Assert.Equal(data, DecodeBlocks(comp, out _, out int merges, planted));
        Assert.Equal(planted.Length, merges);
    }

    [Fact]
    public void Truncated_stream_is_a_clear_error()
    {
        var comp = Compress(Payload(3_000_000, 9), "lbzip2 -9 -n 2");
        var cuts = Cuts(comp);
        foreach (var cut in new[] { 5, 100, (int)(cuts[1] / 8), comp.Length / 2, comp.Length - 12, comp.Length - 5, comp.Length - 1 })
        {
            var ex = Assert.Throws<ArchiveCorruptException>(() => DecodeBlocks(comp.Take(cut).ToArray()));
            Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Flipped_bit_in_a_block_is_a_block_crc_or_data_error()
    {
        var comp = Compress(Payload(3_000_000, 10), "lbzip2 -3 -n 2");
        var cuts = Cuts(comp);
        var rnd = new Random(11);
        for (int k = 0; k < 6; k++)
        {
            int block = 1 + rnd.Next(cuts.Count - 3);
            long bit = cuts[block] + 200 + rnd.Next((int)(cuts[block + 1] - cuts[block] - 400));
            var bad = (byte[])comp.Clone();
            bad[bit / 8] ^= (byte)(0x80 >> (int)(bit % 8));
            var ex = Assert.Throws<ArchiveCorruptException>(() => DecodeBlocks(bad));
            Assert.Contains("data integrity error", ex.Message, StringComparison.Ordinal);
            Assert.Contains("the archive is corrupt", ex.Message, StringComparison.Ordinal);
        }

        // The stored block CRC itself.
        var badCrc = (byte[])comp.Clone();
        long crcBit = cuts[2] + 48 + 7;
        badCrc[crcBit / 8] ^= (byte)(0x80 >> (int)(crcBit % 8));
        Assert.Contains("data integrity error", Assert.Throws<ArchiveCorruptException>(() => DecodeBlocks(badCrc)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_combined_crc_is_an_error()
    {
        var comp = Compress(Payload(3_000_000, 12), "bzip2 -2");
        long eos = Cuts(comp).Last();
        Assert.Equal(Bzip2BlockScanner.EndMagic, Bzip2BlockScanner.Read48(comp, eos));
        long bit = eos + 48 + 13;
        comp[bit / 8] ^= (byte)(0x80 >> (int)(bit % 8));
        var ex = Assert.Throws<ArchiveCorruptException>(() => DecodeBlocks(comp));
        Assert.Contains("combined CRC", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArchiveCorruptException>(() => DecodeAuto(comp));
    }

    [Fact]
    public void Garbage_after_the_stream_is_an_error()
    {
        var comp = Compress(Payload(1_000_000, 13), "bzip2 -1").Concat(new byte[] { 0x42, 0x5a, 0x00, 0x01, 0x02 }).ToArray();
        var ex = Assert.Throws<ArchiveCorruptException>(() => DecodeBlocks(comp));
        Assert.Contains("not a bzip2 stream", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dispose_mid_stream_stops_the_reader_and_workers()
    {
        var comp = Compress(Payload(16_000_000, 14), "lbzip2 -9 -n 2");
        var input = new CountingStream(new MemoryStream(comp));
        var bz = new BlockParallelBzip2DecompressStream(input, false, 2);
        var buf = new byte[64 * 1024];
        Assert.Equal(buf.Length, bz.Read(buf, 0, buf.Length));
        bz.Dispose();
        long readAtDispose = input.BytesRead;
        Assert.True(readAtDispose < comp.Length, $"the reader should be held back by its bounded queue ({readAtDispose} of {comp.Length} read)");
        Assert.True(input.Disposed);
        Assert.Throws<ObjectDisposedException>(() => bz.Read(buf, 0, buf.Length));
    }

    private sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead;

        public bool Disposed { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            ObjectDisposedException.ThrowIf(Disposed, this);
            int n = inner.Read(buffer, offset, count);
            BytesRead += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }
}
