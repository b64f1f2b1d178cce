using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Zstd;
using Xunit;
using static CcieDr.Engine.Tests.Compression.ZstdTestKit;

namespace CcieDr.Engine.Tests.Compression;

public sealed class ZstdStreamTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(4095, 2)]
    [InlineData(1_000_000, 0)]
    [InlineData(1_000_000, 2)]
    [InlineData(12_000_000, 2)]
    public void RoundTrip_OursAndZstdCliReadTheSameBytes(int size, int threads)
    {
        var data = Mixed(size, size + threads);
        var compressed = Compress(data, threads);

        Assert.Equal(0x28, compressed[0]);
        Assert.Equal(data, Decompress(compressed));

        var dir = NewTempDir("rt");
        try
        {
            var file = Path.Combine(dir, "data.zst");
            File.WriteAllBytes(file, compressed);
            Assert.Equal(Sha(data), Sha(RunOk(null, "zstd", "-d", "-c", "-q", file)));

            // The zstd CLI sees our checksum, so it verifies content too.
            var listing = Text(RunOk(null, "zstd", "-lv", file));
            Assert.Contains("XXH64", listing);
        }
        finally
        {
            DeleteTree(dir);
        }
    }

    [Theory]
    [InlineData(ZstdImplementation.Native)]
    [InlineData(ZstdImplementation.Managed)]
    public void BothImplementations_WriteStandardChecksummedFrames(ZstdImplementation implementation)
    {
        // libzstd1 comes with the zstd package the CI installs, so the native path is always exercised here.
        Assert.True(ZstdBlockCompressor.NativeAvailable, "libzstd.so.1 should load on this machine");
        var options = new ZstdCompressOptions { Threads = 2, BlockSize = 256 * 1024, Implementation = implementation };
        Assert.StartsWith(implementation == ZstdImplementation.Native ? "libzstd 1." : "ZstdSharp", options.ImplementationName);
        var data = Mixed(2_000_000, 21).Concat(Random(300_000, 22)).ToArray();
        var ms = new MemoryStream();
        using (var z = new ZstdCompressStream(ms, options, leaveOpen: true))
        {
            z.Write(data, 0, data.Length);
            z.Complete();
            Assert.Equal(9, z.FramesCompleted);
        }

        var compressed = ms.ToArray();
        Assert.InRange(compressed.Length, 1, data.Length - 1);
        Assert.Equal(data, Decompress(compressed));
        var dir = NewTempDir("impl");
        try
        {
            var file = Path.Combine(dir, "x.zst");
            File.WriteAllBytes(file, compressed);
            var listing = Text(RunOk(null, "zstd", "-lv", file));
            Assert.Contains("Frames: 9", listing);
            Assert.Contains("XXH64", listing);
            Assert.Equal(Sha(data), Sha(RunOk(null, "zstd", "-dcq", file)));
        }
        finally
        {
            DeleteTree(dir);
        }

        // Corruption is caught by the frame checksums whichever compressor wrote them.
        var bad = (byte[])compressed.Clone();
        bad[compressed.Length / 2] ^= 0x40;
        Assert.ThrowsAny<ArchiveCorruptException>(() => Decompress(bad));
    }

    [Fact]
    public void RandomData_RoundTripsAndDoesNotGrowMuch()
    {
        var data = Random(3_000_000, 7);
        var compressed = Compress(data, 2);
        Assert.Equal(data, Decompress(compressed, 1000));
        Assert.InRange(compressed.Length, data.Length, data.Length + (data.Length / 100));
    }

    [Fact]
    public void MultiThreaded_UsesWorkersAndCompressesLikeSingleThreaded()
    {
        var data = Mixed(20_000_000, 3);
        var ms = new MemoryStream();
        int workers;
        long bytesIn, bytesOut;
        using (var z = new ZstdCompressStream(ms, new ZstdCompressOptions { Threads = 2 }, leaveOpen: true))
        {
            workers = z.Workers;
            z.Write(data, 0, data.Length);
            bytesIn = z.BytesIn;
            z.Complete();
            bytesOut = z.BytesOut;
        }

        Assert.Equal(2, workers);
        Assert.Equal(data.Length, bytesIn);
        Assert.True(bytesOut <= ms.Length);
        var single = Compress(data, 0);
        Assert.InRange(ms.Length, single.Length * 9 / 10, single.Length * 11 / 10);
        Assert.Equal(data, Decompress(ms.ToArray()));
    }

    [Fact]
    public void EndFrame_StartsAnIndependentFrameThatDecodesOnItsOwn()
    {
        var first = Mixed(2_000_000, 1);
        var second = Mixed(300_000, 2);
        var ms = new MemoryStream();
        long secondFrameStart;
        int frames;
        using (var z = new ZstdCompressStream(ms, new ZstdCompressOptions { Threads = 2 }, leaveOpen: true))
        {
            z.Write(first, 0, first.Length);
            z.EndFrame();
            z.EndFrame(); // a second call with nothing written adds no empty frame
            secondFrameStart = z.BytesOut;
            Assert.Equal(secondFrameStart, ms.Length);
            z.Write(second, 0, second.Length);
            z.Complete();
            frames = z.FramesCompleted;
        }

        Assert.Equal(2, frames);
        var all = ms.ToArray();
        Assert.Equal(first.Concat(second).ToArray(), Decompress(all));
        Assert.Equal(second, Decompress(all[(int)secondFrameStart..]));

        var dir = NewTempDir("frames");
        try
        {
            var file = Path.Combine(dir, "two.zst");
            File.WriteAllBytes(file, all);
            Assert.Contains("Frames: 2", Text(RunOk(null, "zstd", "-lv", file)));
            Assert.Equal(Sha(first.Concat(second).ToArray()), Sha(RunOk(null, "zstd", "-dcq", file)));
        }
        finally
        {
            DeleteTree(dir);
        }
    }

    [Fact]
    public void ConcatenatedFramesFromTheZstdCli_DecodeToTheConcatenation()
    {
        var dir = NewTempDir("cat");
        try
        {
            var a = Mixed(500_000, 11);
            var b = Random(100_000, 12);
            File.WriteAllBytes(Path.Combine(dir, "a"), a);
            File.WriteAllBytes(Path.Combine(dir, "b"), b);
            RunOk(dir, "zstd", "-q", "-3", "a", "-o", "a.zst");
            RunOk(dir, "zstd", "-q", "-19", "b", "-o", "b.zst");
            var cat = File.ReadAllBytes(Path.Combine(dir, "a.zst")).Concat(File.ReadAllBytes(Path.Combine(dir, "b.zst"))).ToArray();
            Assert.Equal(a.Concat(b).ToArray(), Decompress(cat));
        }
        finally
        {
            DeleteTree(dir);
        }
    }

    [Fact]
    public void Truncated_AnywhereInsideAFrame_IsAnArchiveCorruptError()
    {
        var data = Mixed(1_500_000, 5);
        var compressed = Compress(data, 2);
        int checkedCuts = 0;
        foreach (var cut in CutPoints(compressed.Length))
        {
            var ex = Assert.Throws<ArchiveCorruptException>(() => Decompress(compressed[..cut]));
            Assert.Contains("truncated", ex.Message);
            checkedCuts++;
        }

        Assert.True(checkedCuts > 20);
    }

    [Fact]
    public void Truncated_ThroughANonSeekableTrickle_IsStillAnError()
    {
        var data = Mixed(400_000, 6);
        var compressed = Compress(data, 0);
        var cut = compressed[..(compressed.Length * 2 / 3)];
        using var z = new ZstdDecompressStream(new TrickleStream(cut, 997));
        var ex = Assert.Throws<ArchiveCorruptException>(() => ReadAll(z));
        Assert.Contains("truncated", ex.Message);
        Assert.Equal(cut.Length, z.CompressedBytesRead);
    }

    [Fact]
    public void CorruptByte_AnywhereIsAnArchiveCorruptError_NeverSilentWrongData()
    {
        var data = Mixed(800_000, 8);
        var compressed = Compress(data, 2);
        var rnd = new Random(42);
        int errors = 0;
        for (int i = 0; i < 60; i++)
        {
            var bad = (byte[])compressed.Clone();
            int at = i < 10 ? 4 + i : rnd.Next(4, bad.Length);
            bad[at] ^= (byte)(1 << rnd.Next(8));
            try
            {
                var decoded = Decompress(bad);

                // A flip that changes nothing decoded (e.g. a larger window size in the header) is harmless;
                // anything else must have been caught by the frame checks or the checksum.
                Assert.Equal(Sha(data), Sha(decoded));
            }
            catch (ArchiveCorruptException ex)
            {
                Assert.Contains("damaged", ex.Message);
                errors++;
            }
        }

        Assert.True(errors >= 50, $"only {errors} of 60 flips were reported");
    }

    [Fact]
    public void ChecksumMismatch_IsNamed()
    {
        var data = Mixed(100_000, 9);
        var compressed = Compress(data, 0);
        var bad = (byte[])compressed.Clone();
        bad[^1] ^= 0xFF; // last 4 bytes: the XXH64 content checksum
        var ex = Assert.Throws<ArchiveCorruptException>(() => Decompress(bad));
        Assert.Contains("checksum", ex.Message);
    }

    [Fact]
    public void TrailingGarbage_AfterTheLastFrame_IsAnError()
    {
        var data = Mixed(100_000, 10);
        var compressed = Compress(data, 0).Concat("not zstd at all"u8.ToArray()).ToArray();
        var ex = Assert.Throws<ArchiveCorruptException>(() => Decompress(compressed));
        Assert.Contains("not a zstd frame", ex.Message);
    }

    [Fact]
    public void EmptyInput_IsAnError()
    {
        var ex = Assert.Throws<ArchiveCorruptException>(() => Decompress(Array.Empty<byte>()));
        Assert.Contains("empty", ex.Message);
    }

    [Fact]
    public void HostileWindowSize_IsRefusedNotAllocated()
    {
        // Frame header: magic, descriptor 0x00 (no single segment, no checksum), window descriptor for 2^31 bytes,
        // then a raw last block of 1 byte.
        var frame = new byte[] { 0x28, 0xB5, 0x2F, 0xFD, 0x00, (31 - 10) << 3, 0x09, 0x00, 0x00, 0x41 };
        var ex = Assert.Throws<ArchiveCorruptException>(() => Decompress(frame));
        Assert.Contains("window", ex.Message);
    }

    [Fact]
    public void FailedOutput_StopsCleanly_AndDisposeWritesNothingMore()
    {
        var data = Random(6_000_000, 13);
        var sink = new FailingSink(1_000_000);
        var z = new ZstdCompressStream(sink, new ZstdCompressOptions { Threads = 2, BlockSize = 256 * 1024 });
        // With worker threads the failure surfaces on a later write or on the final flush in Complete.
        Assert.ThrowsAny<IOException>(() =>
        {
            for (int pos = 0; pos < data.Length; pos += 65536)
            {
                z.Write(data, pos, Math.Min(65536, data.Length - pos));
            }

            z.Complete();
        });
        Assert.True(sink.Failed);
        var accepted = sink.Accepted.Length;
        Assert.InRange(accepted, 1, 1_000_000);
        Assert.ThrowsAny<InvalidOperationException>(() => z.Write(data, 0, 10));
        z.Dispose();
        Assert.Equal(accepted, sink.Accepted.Length);
        Assert.Equal(0, sink.WritesAfterFailure);
    }

    [Fact]
    public void SlowOutput_EndFrameReturnsOnlyWhenEveryFrameIsWritten()
    {
        // Frames are written by the pipeline's own writer thread; a slow output must not let EndFrame (the manifest
        // frame starts at BytesOut) or Complete return while a frame is still on its way.
        var first = Mixed(3 * 256 * 1024, 31);
        var second = Random(700_000, 32);
        var sink = new SlowSink(TimeSpan.FromMilliseconds(15));
        using (var z = new ZstdCompressStream(sink, new ZstdCompressOptions { Threads = 2, BlockSize = 256 * 1024 }, leaveOpen: true))
        {
            z.Write(first, 0, first.Length);
            z.EndFrame();
            Assert.Equal(3, z.FramesCompleted);
            Assert.Equal(sink.Data.Length, z.BytesOut);
            long manifestFrameAt = z.BytesOut;
            z.Write(second, 0, second.Length);
            z.Complete();
            Assert.Equal(6, z.FramesCompleted);
            Assert.Equal(sink.Data.Length, z.BytesOut);
            Assert.Equal(second, Decompress(sink.Data.ToArray().AsSpan((int)manifestFrameAt).ToArray()));
        }

        Assert.Equal(first.Concat(second).ToArray(), Decompress(sink.Data.ToArray()));
    }

    [Fact]
    public void OutputFailure_ReachesTheWriterWithItsOwnType_ThenTheStreamIsFailed()
    {
        // A full disk during a backup is an InsufficientDiskSpaceException, whose message says what to do: the writer
        // thread must hand that very exception over, not a generic one.
        var data = Random(4_000_000, 33);
        var sink = new FailingSink(500_000, () => new SinkFullException("the destination is full: free space or choose another"));
        var z = new ZstdCompressStream(sink, new ZstdCompressOptions { Threads = 2, BlockSize = 256 * 1024 });
        var ex = Assert.Throws<SinkFullException>(() =>
        {
            for (int pos = 0; pos < data.Length; pos += 65536)
            {
                z.Write(data, pos, Math.Min(65536, data.Length - pos));
            }

            z.Complete();
        });
        Assert.Contains("free space", ex.Message);
        Assert.Throws<InvalidOperationException>(() => z.Write(data, 0, 10));
        Assert.Throws<InvalidOperationException>(() => z.Complete());
        z.Dispose();
        Assert.True(sink.Failed);
        Assert.Equal(0, sink.WritesAfterFailure);
    }

    private sealed class SinkFullException : IOException
    {
        public SinkFullException(string message)
            : base(message)
        {
        }
    }

    [Fact]
    public void Abort_WritesNothingMore_AndTheResultIsNotAValidArchive()
    {
        var data = Mixed(3_000_000, 14);
        var ms = new MemoryStream();
        var z = new ZstdCompressStream(ms, new ZstdCompressOptions { Threads = 2 }, leaveOpen: true);
        z.Write(data, 0, data.Length);
        z.Abort();
        var lengthAtAbort = ms.Length;
        z.Dispose();
        Assert.Equal(lengthAtAbort, ms.Length);
        Assert.Throws<ArchiveCorruptException>(() => Decompress(ms.ToArray()));
    }

    [Fact]
    public void DisposeWithoutComplete_DropsThePendingData()
    {
        // As ParallelBzip2Stream: an exception or a cancellation that skips Complete must not yield the whole input.
        var data = Mixed(2_000_000, 16);
        var ms = new MemoryStream();
        using (var z = new ZstdCompressStream(ms, new ZstdCompressOptions { Threads = 0 }, leaveOpen: true))
        {
            z.Write(data, 0, data.Length);
        }

        Assert.Throws<ArchiveCorruptException>(() => Decompress(ms.ToArray()));

        // Several threads: blocks already written stay whole frames, the pending ones are dropped.
        var big = Mixed(1_000_000, 17);
        var ms2 = new MemoryStream();
        using (var z = new ZstdCompressStream(ms2, new ZstdCompressOptions { Threads = 2, BlockSize = 64 * 1024 }, leaveOpen: true))
        {
            z.Write(big, 0, big.Length);
        }

        var prefix = Decompress(ms2.ToArray());
        Assert.True(prefix.Length < big.Length);
        Assert.Equal(0, prefix.Length % (64 * 1024));
        Assert.Equal(big[..prefix.Length], prefix);
    }

    [Fact]
    public void ParallelBlocks_AreIndependentFrames_InOrder_AndTheSameWhateverTheThreadCount()
    {
        var data = Mixed(3_000_000, 18);
        byte[] Run(int threads)
        {
            var ms = new MemoryStream();
            using var z = new ZstdCompressStream(ms, new ZstdCompressOptions { Threads = threads, BlockSize = 100_000 }, leaveOpen: true);
            for (int pos = 0; pos < data.Length; pos += 77_777)
            {
                z.Write(data, pos, Math.Min(77_777, data.Length - pos));
            }

            z.Complete();
            Assert.Equal(30, z.FramesCompleted);
            Assert.Equal(threads, z.Workers);
            return ms.ToArray();
        }

        var two = Run(2);
        var four = Run(4);
        Assert.Equal(two, four);
        Assert.Equal(data, Decompress(two));

        var dir = NewTempDir("blocks");
        try
        {
            var file = Path.Combine(dir, "blocks.zst");
            File.WriteAllBytes(file, two);
            var listing = Text(RunOk(null, "zstd", "-lv", file));
            Assert.Contains("Frames: 30", listing);
            Assert.Contains("XXH64", listing);
            Assert.Equal(Sha(data), Sha(RunOk(null, "zstd", "-dcq", file)));
        }
        finally
        {
            DeleteTree(dir);
        }
    }

    [Fact]
    public void Complete_IsIdempotent_AndEndsWrites()
    {
        var ms = new MemoryStream();
        var z = new ZstdCompressStream(ms, new ZstdCompressOptions { Threads = 0 }, leaveOpen: true);
        z.Write(new byte[] { 1, 2, 3 }, 0, 3);
        z.Complete();
        var length = ms.Length;
        z.Complete();
        z.Flush();
        Assert.Throws<InvalidOperationException>(() => z.Write(new byte[] { 4 }, 0, 1));
        z.Dispose();
        Assert.Equal(length, ms.Length);
        Assert.Equal(new byte[] { 1, 2, 3 }, Decompress(ms.ToArray()));
        Assert.Equal(1, z.FramesCompleted);
    }

    [Fact]
    public void Options_AreValidated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ZstdCompressStream(new MemoryStream(), new ZstdCompressOptions { Level = 23 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ZstdCompressStream(new MemoryStream(), new ZstdCompressOptions { Threads = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ZstdCompressStream(new MemoryStream(), new ZstdCompressOptions { BlockSize = 1000 }));
        Assert.Equal(3, new ZstdCompressOptions().Level);
        Assert.Equal(Environment.ProcessorCount, new ZstdCompressOptions().Threads);
    }

    [Fact]
    public void HigherLevel_IsSmaller_AndStillReadable()
    {
        var data = Mixed(2_000_000, 15);
        var fast = Compress(data, 2, 1);
        var strong = Compress(data, 2, 9);
        Assert.True(strong.Length < fast.Length);
        Assert.Equal(data, Decompress(strong));
    }

    private static IEnumerable<int> CutPoints(int length)
    {
        // Inside the single frame: header, early blocks, middle, the last block, the checksum.
        yield return 1;
        yield return 3;
        yield return 5;
        for (int c = 100; c < length; c += Math.Max(1, length / 25))
        {
            yield return c;
        }

        yield return length - 5;
        yield return length - 1;
    }
}
