#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using System.Text;
using CcieDr.Engine.Archive.Bzip2;
using ICSharpCode.SharpZipLib.BZip2;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>
/// The managed two-chain bzip2 decoder of the parallel restore: byte-exact against libbz2-, bzip2(1)- and
/// SharpZipLib-made streams of every shape, and never wrong or crashing on damaged input (it gives up and
/// libbz2 decides).
/// </summary>
public class Bzip2ManagedDecoderTests
{
    /// <summary>Inputs that exercise every stage: RLE1 runs of 1..300, RUNA/RUNB runs, all 256 byte values, long codes.</summary>
    public static TheoryData<string> Shapes() => new() { "text", "random", "runs", "zeros", "onebyte", "empty", "allbytes", "skewed" };

    private static byte[] Make(string shape, int size, int seed)
    {
        var r = new Random(seed);
        var b = new byte[size];
        switch (shape)
        {
            case "text":
                var words = "circleci services builder mongo postgres redis nomad vault queue".Split(' ');
                var sb = new StringBuilder();
                while (sb.Length < size)
                {
                    sb.Append(words[r.Next(words.Length)]).Append(r.Next(3) == 0 ? "\n" : " ");
                }

                return Encoding.ASCII.GetBytes(sb.ToString(0, size));
            case "random":
                r.NextBytes(b);
                return b;
            case "runs":
                for (int i = 0; i < size;)
                {
                    int len = r.Next(1, 300); // crosses the 4-byte RLE1 threshold and the 255 count limit
                    byte v = (byte)r.Next(3);
                    for (int k = 0; k < len && i < size; k++)
                    {
                        b[i++] = v;
                    }
                }

                return b;
            case "zeros":
                return b;
            case "onebyte":
                return new byte[] { 0x42 };
            case "empty":
                return Array.Empty<byte>();
            case "allbytes":
                for (int i = 0; i < size; i++)
                {
                    b[i] = (byte)(i * 7);
                }

                return b;
            default: // skewed: a few very common symbols and many rare ones -> codes longer than the lookup table
                for (int i = 0; i < size; i++)
                {
                    int x = r.Next(100_000);
                    b[i] = x < 99_000 ? (byte)(x % 2) : (byte)r.Next(256);
                }

                return b;
        }
    }

    private static byte[] Libbz2(byte[] data, int level = 9)
    {
        var output = new byte[Bzip2BlockCompressor.MaxCompressedSize(data.Length)];
        int n = Bzip2BlockCompressor.Compress(data, data.Length, output, level);
        return output.AsSpan(0, n).ToArray();
    }

    private static byte[] SharpZipLib(byte[] data, int level)
    {
        using var ms = new MemoryStream();
        using (var bz = new BZip2OutputStream(ms, level) { IsStreamOwner = false })
        {
            bz.Write(data, 0, data.Length);
        }

        return ms.ToArray();
    }

    // One decoder and two output buffers for the whole class (the decoder keeps ~9 MB of scratch arrays): tests of
    // this class run one at a time, and reusing them also checks that no state leaks from one decode to the next.
    private static readonly Bzip2ManagedDecoder Decoder = new();
    private static readonly byte[][] Outputs = { new byte[4 * 1024 * 1024], new byte[4 * 1024 * 1024] };

    private static (int Length, int Streams, byte[] Output)[] Run(params byte[][] segments)
    {
        var outputs = Outputs.Take(segments.Length).ToArray();
        var r = Decoder.Decode(segments, segments.Select(s => s.Length).ToArray(), outputs, 4 * 1024 * 1024);
        return r.Select((x, i) => (x.Length, x.Streams, outputs[i])).ToArray();
    }

    private static void AssertDecodes(byte[] expected, (int Length, int Streams, byte[] Output) r, int streams = 1)
    {
        Assert.Equal(expected.Length, r.Length);
        Assert.Equal(streams, r.Streams);
        Assert.True(expected.AsSpan().SequenceEqual(r.Output.AsSpan(0, r.Length)), "decoded bytes differ");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Decodes_libbz2_streams_of_every_shape_alone_and_in_pairs(string shape)
    {
        Assert.True(Bzip2DecompressStream.NativeAvailable, "libbz2 must load for this test (Debian: libbz2-1.0, installed with bzip2 by .ci/run)");

        var a = Make(shape, 900_000, 1);
        var b = Make(shape, 333_333, 2);
        AssertDecodes(a, Run(Libbz2(a))[0]);
        var pair = Run(Libbz2(a), Libbz2(b));
        AssertDecodes(a, pair[0]);
        AssertDecodes(b, pair[1]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(9)]
    public void Decodes_other_encoders_and_levels_with_several_blocks_and_streams_per_segment(int level)
    {
        // Two blocks per stream at these sizes, and two streams concatenated in one segment.
        var a = Make("text", (level * 100_000) + 50_000, level);
        var b = Make("runs", (level * 100_000) + 70_000, level + 10);
        var sharp = SharpZipLib(a, level);
        var native = Bzip2DecompressStream.NativeAvailable ? Libbz2(b, level) : SharpZipLib(b, level);
        var r = Run(sharp.Concat(native).ToArray(), sharp);
        AssertDecodes(a.Concat(b).ToArray(), r[0], streams: 2);
        AssertDecodes(a, r[1]);
    }

    [Fact]
    public void Decodes_what_the_bzip2_command_writes()
    {
        var data = Make("text", 1_500_000, 7);
        var dir = RestoreTestKit.NewTempDir("bzm");
        try
        {
            var f = Path.Combine(dir, "x");
            File.WriteAllBytes(f, data);
            RestoreTestKit.Sh($"bzip2 -9 '{f}'");
            AssertDecodes(data, Run(File.ReadAllBytes(f + ".bz2"))[0]);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Damaged_streams_are_refused_never_decoded_wrong_and_the_partner_is_unaffected()
    {
        var good = Make("text", 400_000, 3);
        var goodBz = SharpZipLib(good, 9);
        var victim = Make("allbytes", 300_000, 4);
        var victimBz = SharpZipLib(victim, 9);
        var rng = new Random(99);
        int refused = 0;
        for (int round = 0; round < 300; round++)
        {
            var bad = (byte[])victimBz.Clone();
            switch (round % 3)
            {
                case 0:
                    bad[rng.Next(bad.Length)] ^= (byte)(1 << rng.Next(8)); // one flipped bit anywhere
                    break;
                case 1:
                    bad = bad.AsSpan(0, rng.Next(bad.Length)).ToArray(); // truncated
                    break;
                default:
                    for (int k = 0; k < 20; k++)
                    {
                        bad[4 + rng.Next(bad.Length - 4)] = (byte)rng.Next(256); // garbage inside
                    }

                    break;
            }

            var r = Run(bad, goodBz);
            if (r[0].Length < 0)
            {
                refused++;
            }
            else
            {
                // Accepted only if the damage did not change the content (e.g. a flipped padding bit).
                AssertDecodes(victim, r[0]);
            }

            AssertDecodes(good, r[1]);
        }

        Assert.True(refused > 250, $"only {refused} of 300 damaged streams were refused");
    }

    [Fact]
    public void Random_block_contents_after_valid_headers_are_refused_without_fault()
    {
        // Hostile input aimed at the table parsing: a valid stream and block header, then random bits (symbol maps,
        // group counts, selectors, code lengths, symbols). Every one must come back refused; none may throw or crash.
        var rng = new Random(2026);
        var header = new byte[] { 0x42, 0x5A, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59 };
        for (int i = 0; i < 3000; i++)
        {
            var body = new byte[rng.Next(8, 4000)];
            rng.NextBytes(body);
            if (i % 2 == 0)
            {
                body[4] &= 0x7F; // not randomised: go on into the tables
                body[5] = 0; // small origPtr
            }

            var r = Run(header.Concat(body).ToArray());
            Assert.Equal(-1, r[0].Length);
        }
    }

    [Fact]
    public void Trailing_garbage_and_foreign_data_are_refused()
    {
        var data = Make("text", 10_000, 5);
        var bz = SharpZipLib(data, 9);
        Assert.True(Run(bz.Concat(new byte[] { 0x42, 0x5a, 0x00, 0x01 }).ToArray())[0].Length < 0);
        Assert.True(Run(Encoding.ASCII.GetBytes("not bzip2 at all"))[0].Length < 0);
        Assert.True(Run(Array.Empty<byte>())[0].Length < 0);
    }

    [Fact]
    public void Output_larger_than_the_buffer_is_refused()
    {
        var data = Make("zeros", 2_000_000, 6);
        var bz = SharpZipLib(data, 9);
        var decoder = new Bzip2ManagedDecoder();
        var r = decoder.Decode(new[] { bz }, new[] { bz.Length }, new[] { new byte[1_000_000] }, 1_000_000);
        Assert.Equal(-1, r[0].Length);
    }

    [Fact]
    public void Restore_path_decodes_backup_archives_without_falling_back_to_libbz2()
    {
        Assert.True(Bzip2DecompressStream.NativeAvailable, "libbz2 must load for this test (Debian: libbz2-1.0, installed with bzip2 by .ci/run)");

        var parts = Enumerable.Range(0, 9).Select(i => Make(i % 2 == 0 ? "text" : "random", 900_000, 40 + i)).ToList();
        var joined = parts.SelectMany(p => Libbz2(p)).ToArray();
        using var bz = new ParallelBzip2DecompressStream(new MemoryStream(joined), false, 2);
        using var outp = new MemoryStream();
        bz.CopyTo(outp);
        Assert.Equal(parts.SelectMany(p => p).ToArray(), outp.ToArray());
        Assert.Equal(9, bz.StreamsCompleted);
        Assert.Equal(0, bz.ManagedFallbacks);
    }
}
