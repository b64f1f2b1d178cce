using System;
using System.IO;
using System.Runtime.InteropServices;
using ICSharpCode.SharpZipLib.BZip2;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>
    /// Compresses one buffer into one complete, independent bzip2 stream (header, blocks, end-of-stream
    /// trailer). Concatenated outputs form a valid multi-stream .bz2 file, the layout pbzip2/lbzip2 write and
    /// <c>bzip2 -d</c> / <c>tar -xjf</c> read. Uses the machine's native libbz2 when it can be loaded, else
    /// SharpZipLib (pure managed, slower).
    /// </summary>
    public static class Bzip2BlockCompressor
    {
        private static readonly Lazy<NativeBzip2?> Native = new Lazy<NativeBzip2?>(NativeBzip2.TryLoad);

        /// <summary>True when the native libbz2 is in use.</summary>
        public static bool IsNative => Native.Value != null;

        /// <summary>Describes the implementation, e.g. "libbz2.so.1.0 1.0.8" or "SharpZipLib".</summary>
        public static string Implementation => Native.Value?.Description ?? "SharpZipLib (managed)";

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
                return native.Compress(input, length, output, blockSize100k);
            }

            return CompressManaged(input, length, output, blockSize100k);
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

            public static NativeBzip2? TryLoad()
            {
                if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && !RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
                {
                    return null;
                }

                return TryOne("libbz2.so.1.0", () => Lib10.BZ2_bzlibVersion(), Lib10.BZ2_bzBuffToBuffCompress, new StreamApi(Lib10.BZ2_bzCompressInit, Lib10.BZ2_bzCompress, Lib10.BZ2_bzCompressEnd))
                    ?? TryOne("libbz2.so.1", () => Lib1.BZ2_bzlibVersion(), Lib1.BZ2_bzBuffToBuffCompress, new StreamApi(Lib1.BZ2_bzCompressInit, Lib1.BZ2_bzCompress, Lib1.BZ2_bzCompressEnd))
                    ?? TryOne("libbz2.so", () => LibSo.BZ2_bzlibVersion(), LibSo.BZ2_bzBuffToBuffCompress, new StreamApi(LibSo.BZ2_bzCompressInit, LibSo.BZ2_bzCompress, LibSo.BZ2_bzCompressEnd))
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

        private sealed class StreamApi
        {
            public StreamApi(Func<IntPtr, int, int, int, int> init, Func<IntPtr, int, int> compress, Func<IntPtr, int> end)
            {
                Init = init;
                Compress = compress;
                End = end;
            }

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
