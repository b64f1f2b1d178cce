using System;
using System.Collections.Concurrent;
using System.IO;
using System.Runtime.InteropServices;
using ICSharpCode.SharpZipLib.BZip2;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>
    /// Compresses one buffer into one complete, independent bzip2 stream (header, blocks, end-of-stream
    /// trailer). Concatenated outputs form a valid multi-stream .bz2 file, the layout pbzip2/lbzip2 write and
    /// <c>bzip2 -d</c> / <c>tar -xjf</c> read. Uses the machine's native libbz2 when it can be loaded, else
    /// SharpZipLib (pure managed, slower). With libbz2, only its block sort is used (BZ2_blockSort on a state it
    /// set up): the rest of the encoding is <see cref="Bzip2BlockEncoder"/>, faster than libbz2's on incompressible
    /// data; if that entry point or the state layout is not the known one, the whole of libbz2 is used.
    /// </summary>
    public static class Bzip2BlockCompressor
    {
        private static readonly Lazy<NativeBzip2?> Native = new Lazy<NativeBzip2?>(NativeBzip2.TryLoad);
        private static readonly ConcurrentBag<Encoder> Encoders = new ConcurrentBag<Encoder>();

        /// <summary>True when the native libbz2 is in use.</summary>
        public static bool IsNative => Native.Value != null;

        /// <summary>True when blocks are encoded by <see cref="Bzip2BlockEncoder"/> over libbz2's block sort.</summary>
        public static bool UsesOwnEncoder => Native.Value?.SortApi != null;

        /// <summary>Describes the implementation, e.g. "libbz2.so.1.0 1.0.8 block sort, CcieDr encoder", "libbz2.so.1.0 1.0.8" or "SharpZipLib".</summary>
        public static string Implementation => Native.Value is { } n
            ? (n.SortApi != null ? n.Description + " block sort, CcieDr encoder" : n.Description)
            : "SharpZipLib (managed)";

        /// <summary>Upper bound of the compressed size of <paramref name="length"/> input bytes.</summary>
        public static int MaxCompressedSize(int length) => length + (length / 100) + 600 + 64;

        /// <summary>
        /// Compresses <paramref name="input"/>[0..<paramref name="length"/>) into <paramref name="output"/>
        /// (at least <see cref="MaxCompressedSize"/> bytes) and returns the compressed length.
        /// </summary>
        public static int Compress(byte[] input, int length, byte[] output, int blockSize100k = 9)
        {
            if (input is null)
            {
                throw new ArgumentNullException(nameof(input));
            }

            if (output is null)
            {
                throw new ArgumentNullException(nameof(output));
            }

            if (length < 0 || length > input.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(length));
            }

            var native = Native.Value;
            if (native != null)
            {
                if (blockSize100k == 9 && native.SortApi != null)
                {
                    var n = CompressWithOwnEncoder(native.SortApi, input, length, output);
                    if (n >= 0)
                    {
                        return n;
                    }
                }

                return native.Compress(input, length, output, blockSize100k);
            }

            return CompressManaged(input, length, output, blockSize100k);
        }

        /// <summary>libbz2 alone, whole (the reference the tests compare <see cref="Bzip2BlockEncoder"/> with); null without libbz2.</summary>
        internal static int? CompressLibbz2(byte[] input, int length, byte[] output, int blockSize100k = 9) =>
            Native.Value?.Compress(input, length, output, blockSize100k);

        /// <summary>Frees the pooled encoders (their libbz2 sort state goes back to <see cref="Bzip2NativeWorkspace"/>).</summary>
        internal static void ReleaseEncoders()
        {
            while (Encoders.TryTake(out var e))
            {
                e.Dispose();
            }
        }

        private static int CompressWithOwnEncoder(StreamApi api, byte[] input, int length, byte[] output)
        {
            if (!Encoders.TryTake(out var encoder))
            {
                encoder = new Encoder(new NativeRotationSorter(api));
            }

            var keep = false;
            try
            {
                var n = encoder.Blocks.Encode(input, length, output);
                keep = true;
                return n;
            }
            finally
            {
                if (keep)
                {
                    Encoders.Add(encoder);
                }
                else
                {
                    encoder.Dispose();
                }
            }
        }

        /// <summary>A pooled <see cref="Bzip2BlockEncoder"/> with the libbz2 state whose sort it uses.</summary>
        private sealed class Encoder : IDisposable
        {
            private readonly NativeRotationSorter _sorter;

            public Encoder(NativeRotationSorter sorter)
            {
                _sorter = sorter;
                Blocks = new Bzip2BlockEncoder(sorter);
            }

            public Bzip2BlockEncoder Blocks { get; }

            public void Dispose() => _sorter.Dispose();
        }

        /// <summary>
        /// libbz2's block sort (BZ2_blockSort: radix pre-sort, then its main sort with the fallback for repetitive
        /// blocks) on a compressor state made by BZ2_bzCompressInit. The state's layout is libbz2 1.0's EState; it is
        /// checked field by field against what the init must have stored before the state is used.
        /// </summary>
        internal sealed unsafe class NativeRotationSorter : IBzip2RotationSorter, IDisposable
        {
            private const int StreamSize = 80; // sizeof(bz_stream) on 64-bit
            private const int OffStateInBzStream = 48;
            private const int OffStrm = 0, OffArr1 = 24, OffArr2 = 32, OffFtab = 40, OffOrigPtr = 48, OffPtr = 56, OffBlock = 64,
                OffMtfv = 72, OffZbits = 80, OffWorkFactor = 88, OffStateInCh = 92, OffNblock = 108, OffNblockMax = 112,
                OffVerbosity = 656, OffBlockSize100k = 664;

            private readonly StreamApi _api;
            private IntPtr _strm;
            private readonly IntPtr _state;

            public NativeRotationSorter(StreamApi api)
            {
                _api = api;
                if (api.BlockSort is null)
                {
                    throw new InvalidOperationException("libbz2 has no BZ2_blockSort.");
                }

                _strm = Marshal.AllocHGlobal(StreamSize);
                for (var i = 0; i < StreamSize; i += 8)
                {
                    Marshal.WriteInt64(_strm, i, 0);
                }

                Marshal.WriteIntPtr(_strm, 56, Bzip2NativeWorkspace.AllocPointer);
                Marshal.WriteIntPtr(_strm, 64, Bzip2NativeWorkspace.FreePointer);
                var rc = api.Init(_strm, 9, 0, 0);
                if (rc != 0)
                {
                    Marshal.FreeHGlobal(_strm);
                    _strm = IntPtr.Zero;
                    throw new IOException($"libbz2 BZ2_bzCompressInit failed with code {rc}.");
                }

                _state = Marshal.ReadIntPtr(_strm, OffStateInBzStream);
                if (!LayoutIsKnown())
                {
                    Dispose();
                    throw new NotSupportedException("libbz2's compressor state does not have the layout of libbz2 1.0.");
                }

                Block = (byte*)Marshal.ReadIntPtr(_state, OffBlock);
                Sorted = (uint*)Marshal.ReadIntPtr(_state, OffPtr);
            }

            public byte* Block { get; }

            public uint* Sorted { get; }

            public int Sort(int n)
            {
                if (n <= 0 || n > Bzip2BlockEncoder.MaxBlockFill)
                {
                    throw new ArgumentOutOfRangeException(nameof(n));
                }

                Marshal.WriteInt32(_state, OffNblock, n);
                _api.BlockSort!(_state);
                var origPtr = Marshal.ReadInt32(_state, OffOrigPtr);
                if (origPtr < 0 || origPtr >= n || Sorted[origPtr] != 0)
                {
                    throw new IOException("libbz2's block sort returned an inconsistent result.");
                }

                return origPtr;
            }

            public void Dispose()
            {
                if (_strm != IntPtr.Zero)
                {
                    _api.End(_strm);
                    Marshal.FreeHGlobal(_strm);
                    _strm = IntPtr.Zero;
                }
            }

            private bool LayoutIsKnown()
            {
                var s = _state;
                if (s == IntPtr.Zero || Marshal.ReadIntPtr(s, OffStrm) != _strm)
                {
                    return false;
                }

                var arr1 = Marshal.ReadIntPtr(s, OffArr1);
                var arr2 = Marshal.ReadIntPtr(s, OffArr2);
                return arr1 != IntPtr.Zero && arr2 != IntPtr.Zero && Marshal.ReadIntPtr(s, OffFtab) != IntPtr.Zero
                    && Marshal.ReadIntPtr(s, OffPtr) == arr1
                    && Marshal.ReadIntPtr(s, OffBlock) == arr2
                    && Marshal.ReadIntPtr(s, OffMtfv) == arr1
                    && Marshal.ReadIntPtr(s, OffZbits) == IntPtr.Zero // set by the block compressor, which is not used
                    && Marshal.ReadInt32(s, OffWorkFactor) == 30
                    && Marshal.ReadInt32(s, OffStateInCh) == 256
                    && Marshal.ReadInt32(s, OffNblock) == 0
                    && Marshal.ReadInt32(s, OffNblockMax) == Bzip2BlockEncoder.MaxBlockBytes
                    && Marshal.ReadInt32(s, OffVerbosity) == 0
                    && Marshal.ReadInt32(s, OffBlockSize100k) == 9;
            }
        }

        internal static int CompressManaged(byte[] input, int length, byte[] output, int blockSize100k)
        {
            using var ms = new MemoryStream(output, 0, output.Length, true, true);
            using (var bz = new BZip2OutputStream(ms, blockSize100k) { IsStreamOwner = false })
            {
                bz.Write(input, 0, length);
            }

            return checked((int)ms.Position);
        }

        private sealed class NativeBzip2
        {
            private const int BzOk = 0;
            private const int BzOutbuffFull = -8;

            private const int BzFinish = 2;
            private const int BzFinishOk = 3;
            private const int BzStreamEnd = 4;
            private const int StreamSize = 80; // sizeof(bz_stream) on 64-bit

            private readonly Func<byte[], uint[], byte[], uint, int, int, int, int> _compress;
            private readonly StreamApi? _stream;

            private NativeBzip2(string description, Func<byte[], uint[], byte[], uint, int, int, int, int> compress, StreamApi? stream)
            {
                Description = description;
                _compress = compress;
                _stream = IntPtr.Size == 8 ? stream : null;
            }

            public string Description { get; }

            /// <summary>The streaming API when its BZ2_blockSort works on a state of the known layout (see <see cref="NativeRotationSorter"/>).</summary>
            public StreamApi? SortApi { get; private set; }

            public static NativeBzip2? TryLoad()
            {
                if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && !RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
                {
                    return null;
                }

                return TryOne("libbz2.so.1.0", () => Lib10.BZ2_bzlibVersion(), Lib10.BZ2_bzBuffToBuffCompress, new StreamApi(Lib10.BZ2_bzCompressInit, Lib10.BZ2_bzCompress, Lib10.BZ2_bzCompressEnd, Lib10.BZ2_blockSort))
                    ?? TryOne("libbz2.so.1", () => Lib1.BZ2_bzlibVersion(), Lib1.BZ2_bzBuffToBuffCompress, new StreamApi(Lib1.BZ2_bzCompressInit, Lib1.BZ2_bzCompress, Lib1.BZ2_bzCompressEnd, Lib1.BZ2_blockSort))
                    ?? TryOne("libbz2.so", () => LibSo.BZ2_bzlibVersion(), LibSo.BZ2_bzBuffToBuffCompress, new StreamApi(LibSo.BZ2_bzCompressInit, LibSo.BZ2_bzCompress, LibSo.BZ2_bzCompressEnd, LibSo.BZ2_blockSort))
                    ?? TryOne("libbz2.dylib", () => LibDylib.BZ2_bzlibVersion(), LibDylib.BZ2_bzBuffToBuffCompress, null);
            }

            public int Compress(byte[] input, int length, byte[] output, int blockSize100k)
            {
                if (_stream != null)
                {
                    return CompressWithWorkspace(_stream, input, length, output, blockSize100k);
                }

                var destLen = new uint[] { (uint)output.Length };
                var rc = _compress(output, destLen, input, (uint)length, blockSize100k, 0, 0);
                if (rc == BzOutbuffFull)
                {
                    throw new InvalidOperationException("bzip2 output buffer too small.");
                }

                if (rc != BzOk)
                {
                    throw new IOException($"libbz2 BZ2_bzBuffToBuffCompress failed with code {rc}.");
                }

                return checked((int)destLen[0]);
            }

            /// <summary>The streaming API with bzalloc/bzfree from <see cref="Bzip2NativeWorkspace"/> (recycled state memory).</summary>
            private static int CompressWithWorkspace(StreamApi api, byte[] input, int length, byte[] output, int blockSize100k)
            {
                var strm = Marshal.AllocHGlobal(StreamSize);
                var inHandle = GCHandle.Alloc(input, GCHandleType.Pinned);
                var outHandle = GCHandle.Alloc(output, GCHandleType.Pinned);
                try
                {
                    for (var i = 0; i < StreamSize; i += 8)
                    {
                        Marshal.WriteInt64(strm, i, 0);
                    }

                    Marshal.WriteIntPtr(strm, 56, Bzip2NativeWorkspace.AllocPointer);
                    Marshal.WriteIntPtr(strm, 64, Bzip2NativeWorkspace.FreePointer);
                    var rc = api.Init(strm, blockSize100k, 0, 0);
                    if (rc != BzOk)
                    {
                        throw new IOException($"libbz2 BZ2_bzCompressInit failed with code {rc}.");
                    }

                    try
                    {
                        Marshal.WriteIntPtr(strm, 0, inHandle.AddrOfPinnedObject());
                        Marshal.WriteInt32(strm, 8, length);
                        Marshal.WriteIntPtr(strm, 24, outHandle.AddrOfPinnedObject());
                        Marshal.WriteInt32(strm, 32, output.Length);
                        do
                        {
                            rc = api.Compress(strm, BzFinish);
                        }
                        while (rc == BzFinishOk);

                        if (rc != BzStreamEnd)
                        {
                            throw new IOException($"libbz2 BZ2_bzCompress failed with code {rc}.");
                        }

                        return output.Length - Marshal.ReadInt32(strm, 32);
                    }
                    finally
                    {
                        api.End(strm);
                    }
                }
                finally
                {
                    outHandle.Free();
                    inHandle.Free();
                    Marshal.FreeHGlobal(strm);
                }
            }

            /// <summary>
            /// The stream API when BZ2_blockSort can be used: the state has the known layout and the sort of a test block
            /// that exercises both of libbz2's sorts (short: fallback sort; long: main sort) matches a plain rotation sort.
            /// </summary>
            private static StreamApi? ProbeSort(StreamApi stream)
            {
                if (IntPtr.Size != 8 || stream.BlockSort is null)
                {
                    return null;
                }

                try
                {
                    using var sorter = new NativeRotationSorter(stream);
                    var rng = new Random(11);
                    foreach (var n in new[] { 1000, 20_000 })
                    {
                        var block = new byte[n];
                        for (var i = 0; i < n; i++)
                        {
                            block[i] = (byte)(i % 97 < 40 ? 'a' + rng.Next(3) : rng.Next(256)); // repeats and noise
                        }

                        if (!SortMatches(sorter, block))
                        {
                            return null;
                        }
                    }

                    return stream;
                }
                catch (Exception ex) when (ex is EntryPointNotFoundException || ex is NotSupportedException || ex is IOException)
                {
                    return null;
                }
            }

            private static unsafe bool SortMatches(NativeRotationSorter sorter, byte[] block)
            {
                var n = block.Length;
                Marshal.Copy(block, 0, (IntPtr)sorter.Block, n);
                var origPtr = sorter.Sort(n);
                var expected = new int[n];
                for (var i = 0; i < n; i++)
                {
                    expected[i] = i;
                }

                Array.Sort(expected, (a, b) =>
                {
                    for (var k = 0; k < n; k++)
                    {
                        var d = block[(a + k) % n] - block[(b + k) % n];
                        if (d != 0)
                        {
                            return d;
                        }
                    }

                    return 0;
                });
                for (var i = 0; i < n; i++)
                {
                    if (sorter.Sorted[i] != (uint)expected[i])
                    {
                        return false;
                    }
                }

                return expected[origPtr] == 0;
            }

            private static NativeBzip2? TryOne(string name, Func<IntPtr> version, Func<byte[], uint[], byte[], uint, int, int, int, int> compress, StreamApi? stream)
            {
                try
                {
                    var v = Marshal.PtrToStringAnsi(version()) ?? "?";
                    var probe = new NativeBzip2(name + " " + v, compress, stream);

                    // Round-trip a tiny buffer to prove the entry points work (else fall back to BuffToBuff).
                    var input = new byte[] { (byte)'c', (byte)'c', (byte)'i', (byte)'e' };
                    var output = new byte[MaxCompressedSize(input.Length)];
                    try
                    {
                        if (probe.Compress(input, input.Length, output, 1) > 10)
                        {
                            probe.SortApi = probe._stream != null ? ProbeSort(probe._stream) : null;
                            return probe;
                        }
                    }
                    catch (Exception ex) when (ex is IOException || ex is EntryPointNotFoundException)
                    {
                        // Streaming API unusable: the one-call API below.
                    }

                    probe = new NativeBzip2(name + " " + v, compress, null);
                    return probe.Compress(input, input.Length, output, 1) > 10 ? probe : null;
                }
                catch (DllNotFoundException)
                {
                    return null;
                }
                catch (EntryPointNotFoundException)
                {
                    return null;
                }
                catch (BadImageFormatException)
                {
                    return null;
                }
            }
        }

        internal sealed class StreamApi
        {
            public StreamApi(Func<IntPtr, int, int, int, int> init, Func<IntPtr, int, int> compress, Func<IntPtr, int> end, Action<IntPtr>? blockSort = null)
            {
                Init = init;
                Compress = compress;
                End = end;
                BlockSort = blockSort;
            }

            public Action<IntPtr>? BlockSort { get; }

            public Func<IntPtr, int, int, int, int> Init { get; }

            public Func<IntPtr, int, int> Compress { get; }

            public Func<IntPtr, int> End { get; }
        }

        // One class per library name: DllImport names are compile-time constants and netstandard2.0 has no NativeLibrary.
        private static class Lib10
        {
            [DllImport("libbz2.so.1.0")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzCompressInit(IntPtr strm, int blockSize100k, int verbosity, int workFactor);

            [DllImport("libbz2.so.1.0")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzCompress(IntPtr strm, int action);

            [DllImport("libbz2.so.1.0")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzCompressEnd(IntPtr strm);

            [DllImport("libbz2.so.1.0")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern IntPtr BZ2_bzlibVersion();

            [DllImport("libbz2.so.1.0")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern void BZ2_blockSort(IntPtr state);

            [DllImport("libbz2.so.1.0")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzBuffToBuffCompress(byte[] dest, uint[] destLen, byte[] source, uint sourceLen, int blockSize100k, int verbosity, int workFactor);
        }

        private static class Lib1
        {
            [DllImport("libbz2.so.1")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzCompressInit(IntPtr strm, int blockSize100k, int verbosity, int workFactor);

            [DllImport("libbz2.so.1")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzCompress(IntPtr strm, int action);

            [DllImport("libbz2.so.1")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzCompressEnd(IntPtr strm);

            [DllImport("libbz2.so.1")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern IntPtr BZ2_bzlibVersion();

            [DllImport("libbz2.so.1")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern void BZ2_blockSort(IntPtr state);

            [DllImport("libbz2.so.1")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzBuffToBuffCompress(byte[] dest, uint[] destLen, byte[] source, uint sourceLen, int blockSize100k, int verbosity, int workFactor);
        }

        private static class LibSo
        {
            [DllImport("libbz2.so")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzCompressInit(IntPtr strm, int blockSize100k, int verbosity, int workFactor);

            [DllImport("libbz2.so")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzCompress(IntPtr strm, int action);

            [DllImport("libbz2.so")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzCompressEnd(IntPtr strm);

            [DllImport("libbz2.so")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern IntPtr BZ2_bzlibVersion();

            [DllImport("libbz2.so")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern void BZ2_blockSort(IntPtr state);

            [DllImport("libbz2.so")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzBuffToBuffCompress(byte[] dest, uint[] destLen, byte[] source, uint sourceLen, int blockSize100k, int verbosity, int workFactor);
        }

        private static class LibDylib
        {
            [DllImport("libbz2.dylib")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern IntPtr BZ2_bzlibVersion();

            [DllImport("libbz2.dylib")]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int BZ2_bzBuffToBuffCompress(byte[] dest, uint[] destLen, byte[] source, uint sourceLen, int blockSize100k, int verbosity, int workFactor);
        }
    }
}
