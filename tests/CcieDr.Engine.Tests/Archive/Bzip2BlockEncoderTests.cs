using System.Runtime.InteropServices;
using CcieDr.Engine.Archive.Bzip2;
using Xunit;
using static CcieDr.Engine.Tests.Archive.BackupTestSupport;

namespace CcieDr.Engine.Tests.Archive
{
    /// <summary>The bzip2 encoder over libbz2's block sort, the CRC, and the same encoder over a plain managed rotation sort, all checked by the real <c>bzip2 -d</c>.</summary>
    [Collection(SerialMemoryTests.Name)]
    public class Bzip2BlockEncoderTests
    {
        public static IEnumerable<object[]> Inputs() => new[]
        {
            new object[] { "empty" },
            new object[] { "one byte" },
            new object[] { "255 same" },
            new object[] { "256 same" },
            new object[] { "all same 900000" },
            new object[] { "all same 2.5 MB" },
            new object[] { "runs of 4 (expands past one block)" },
            new object[] { "periodic abc" },
            new object[] { "every byte value" },
            new object[] { "random 1 MB" },
            new object[] { "text 2 MB" },
            new object[] { "already compressed" },
            new object[] { "mixed runs and noise" },
            new object[] { "block ends inside a run" },
        };

        [Fact]
        public void Libbz2_Block_Sort_Is_Used_With_Our_Encoder_On_Linux()
        {
            Assert.True(Bzip2BlockCompressor.UsesOwnEncoder, Bzip2BlockCompressor.Implementation);
            Assert.Contains("block sort, CcieDr encoder", Bzip2BlockCompressor.Implementation);
        }

        [Fact]
        public void Crc_Matches_Bitwise_Reference_For_Every_Length_And_Offset()
        {
            var data = Random(300, 5);
            for (var offset = 0; offset < 9; offset++)
            {
                for (var count = 0; count + offset <= data.Length; count += 7)
                {
                    Assert.Equal(ReferenceCrc(data, offset, count), Bzip2Crc.Compute(data, offset, count));
                }
            }

            // The published check value of CRC-32/BZIP2 for "123456789".
            Assert.Equal(0xFC891918u, Bzip2Crc.Compute("123456789"u8.ToArray(), 0, 9));
        }

        [Theory]
        [MemberData(nameof(Inputs))]
        public void Output_Decodes_With_Bzip2_To_The_Input(string kind)
        {
            var data = Make(kind);
            var output = new byte[Bzip2BlockCompressor.MaxCompressedSize(data.Length)];
            var n = Bzip2BlockCompressor.Compress(data, data.Length, output);
            AssertBzip2Decodes(data, output[..n], kind);
        }

        [Theory]
        [MemberData(nameof(Inputs))]
        public void Encoder_Over_A_Plain_Rotation_Sort_Decodes_With_Bzip2(string kind)
        {
            var data = Make(kind);
            if (data.Length > 1_100_000)
            {
                data = data[..1_100_000]; // the naive sort is slow; still two blocks
            }

            using var sorter = new NaiveSorter();
            var encoder = new Bzip2BlockEncoder(sorter);
            var output = new byte[Bzip2BlockCompressor.MaxCompressedSize(data.Length)];
            var n = encoder.Encode(data, data.Length, output);
            Assert.True(n > 0);
            AssertBzip2Decodes(data, output[..n], kind);
        }

        [Theory]
        [InlineData("text 2 MB")]
        [InlineData("random 1 MB")]
        [InlineData("mixed runs and noise")]
        public void Size_Is_Within_Half_A_Percent_Of_Libbz2(string kind)
        {
            var data = Make(kind);
            var ours = new byte[Bzip2BlockCompressor.MaxCompressedSize(data.Length)];
            var theirs = new byte[ours.Length];
            var n = Bzip2BlockCompressor.Compress(data, data.Length, ours);
            var m = Bzip2BlockCompressor.CompressLibbz2(data, data.Length, theirs);
            Assert.NotNull(m);
            Assert.InRange(n, 1, (long)(m!.Value * 1.005) + 64);
        }

        [Theory]
        [InlineData("bzip2", "-dc")]
        [InlineData("lbzip2", "-dc")]
        [InlineData("pbzip2", "-dc")]
        public void Parallel_Stream_Output_Is_Read_By(string tool, string args)
        {
            var data = Make("mixed runs and noise").Concat(Make("text 2 MB")).Concat(Make("random 1 MB")).ToArray();
            var ms = new MemoryStream();
            using (var bz = new ParallelBzip2Stream(ms, threads: 2, leaveOpen: true))
            {
                bz.Write(data, 0, data.Length);
                bz.Complete();
            }

            using var tmp = new TempDir("bzpar");
            var file = Path.Combine(tmp.Path, "x.bz2");
            File.WriteAllBytes(file, ms.ToArray());
            var d = Run(tool, args, file);
            Assert.True(d.ExitCode == 0, $"{tool}: exit {d.ExitCode}: {d.Stderr}");
            Assert.True(data.AsSpan().SequenceEqual(d.Stdout), tool + ": decoded bytes differ");
        }

        [Fact]
        public void Output_Too_Small_Returns_Minus_One_And_Compress_Falls_Back_To_Libbz2()
        {
            var data = Random(200_000, 3);
            using var sorter = new NaiveSorter();
            Assert.Equal(-1, new Bzip2BlockEncoder(sorter).Encode(data, data.Length, new byte[1000]));
        }

        private static void AssertBzip2Decodes(byte[] data, byte[] compressed, string kind)
        {
            using var tmp = new TempDir("bzenc");
            var file = Path.Combine(tmp.Path, "x.bz2");
            File.WriteAllBytes(file, compressed);
            var d = Run("bzip2", "-dc", file);
            Assert.True(d.ExitCode == 0, $"{kind}: bzip2 -d exit {d.ExitCode}: {d.Stderr}");
            Assert.Equal(data.Length, d.Stdout.Length);
            Assert.True(data.AsSpan().SequenceEqual(d.Stdout), kind + ": decoded bytes differ");
        }

        private static byte[] Make(string kind)
        {
            switch (kind)
            {
                case "empty": return Array.Empty<byte>();
                case "one byte": return new byte[] { 42 };
                case "255 same": return Enumerable.Repeat((byte)'x', 255).ToArray();
                case "256 same": return Enumerable.Repeat((byte)'x', 256).ToArray();
                case "all same 900000": return new byte[900_000];
                case "all same 2.5 MB": return Enumerable.Repeat((byte)0xAB, 2_500_000).ToArray();
                case "runs of 4 (expands past one block)":
                    return Enumerable.Range(0, 900_000).Select(i => (byte)(i % 5 == 4 ? 'b' : 'a')).ToArray();
                case "periodic abc": return Enumerable.Range(0, 700_000).Select(i => (byte)("abc"[i % 3])).ToArray();
                case "every byte value": return Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray();
                case "random 1 MB": return Random(1_000_000, 7);
                case "text 2 MB": return TextLike(2_000_000, 8);
                case "already compressed":
                    var text = TextLike(1_500_000, 9);
                    var z = new byte[Bzip2BlockCompressor.MaxCompressedSize(text.Length)];
                    var zn = Bzip2BlockCompressor.CompressLibbz2(text, text.Length, z) ?? Bzip2BlockCompressor.CompressManaged(text, text.Length, z, 9);
                    return z[..zn];
                case "mixed runs and noise":
                    var rng = new System.Random(10);
                    var b = new byte[1_200_000];
                    for (var i = 0; i < b.Length;)
                    {
                        var run = rng.Next(1, 600);
                        var v = (byte)rng.Next(256);
                        for (var k = 0; k < run && i < b.Length; k++)
                        {
                            b[i++] = rng.Next(3) == 0 ? (byte)rng.Next(256) : v;
                        }
                    }

                    return b;
                case "block ends inside a run":
                    // No run in the first 899,979 bytes, then a long run: the last run takes the block 3 bytes past the limit.
                    var e = new byte[899_979 + 1000];
                    for (var i = 0; i < 899_979; i++)
                    {
                        e[i] = (byte)(i % 251);
                    }

                    e.AsSpan(899_979).Fill(7);
                    return e;
                default: throw new ArgumentException(kind);
            }
        }

        private static uint ReferenceCrc(byte[] data, int offset, int count)
        {
            var crc = 0xFFFFFFFFu;
            for (var i = offset; i < offset + count; i++)
            {
                crc ^= (uint)data[i] << 24;
                for (var k = 0; k < 8; k++)
                {
                    crc = (crc & 0x80000000u) != 0 ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
                }
            }

            return ~crc;
        }

        /// <summary>Sorts rotations by prefix doubling: rank pairs (rank of i, rank of i + k) sorted, k doubled until every rank differs or k covers the block.</summary>
        private sealed unsafe class NaiveSorter : IBzip2RotationSorter, IDisposable
        {
            public NaiveSorter()
            {
                Block = (byte*)NativeMemory.Alloc(Bzip2BlockEncoder.MaxBlockBytes + 64);
                Sorted = (uint*)NativeMemory.Alloc((Bzip2BlockEncoder.MaxBlockBytes + 64) * sizeof(uint));
            }

            public byte* Block { get; }

            public uint* Sorted { get; }

            public int Sort(int n)
            {
                var rank = new long[n];
                for (var i = 0; i < n; i++)
                {
                    rank[i] = Block[i];
                }

                var idx = new int[n];
                var keys = new long[n];
                for (long k = 1; ; k *= 2)
                {
                    for (var i = 0; i < n; i++)
                    {
                        idx[i] = i;
                        keys[i] = (rank[i] * (n + 1L)) + rank[(int)((i + k) % n)];
                    }

                    Array.Sort(keys, idx);
                    var next = new long[n];
                    long r = 0;
                    for (var i = 0; i < n; i++)
                    {
                        if (i > 0 && keys[i] != keys[i - 1])
                        {
                            r++;
                        }

                        next[idx[i]] = r;
                    }

                    rank = next;
                    if (r == n - 1 || 2 * k >= n)
                    {
                        break;
                    }
                }

                var orig = -1;
                for (var i = 0; i < n; i++)
                {
                    Sorted[i] = (uint)idx[i];
                    if (idx[i] == 0)
                    {
                        orig = i;
                    }
                }

                return orig;
            }

            public void Dispose()
            {
                NativeMemory.Free(Block);
                NativeMemory.Free(Sorted);
            }
        }
    }
}
