using System;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace CcieDr.Engine.Archive.Zstd
{
    /// <summary>Which zstd compressor compresses the blocks.</summary>
    public enum ZstdImplementation
    {
        /// <summary>The machine's libzstd (libzstd.so.1) when it loads, else ZstdSharp.</summary>
        Auto,

        /// <summary>The machine's libzstd; fails when it cannot be loaded.</summary>
        Native,

        /// <summary>ZstdSharp.Port, the managed port (always available).</summary>
        Managed,
    }

    /// <summary>
    /// Compresses one block into one complete zstd frame (content size and, when asked, the XXH64 checksum in it).
    /// Each compressing thread owns one. The native libzstd is used when present (as the bzip2 side uses libbz2):
    /// it costs less than half the CPU of the managed port per byte; both write the same format.
    /// </summary>
    internal abstract class ZstdBlockCompressor : IDisposable
    {
        private static readonly Lazy<string?> NativeVersion = new Lazy<string?>(NativeZstd.TryVersion);

        /// <summary>Whether libzstd.so.1 loads on this machine.</summary>
        public static bool NativeAvailable => NativeVersion.Value != null;

        /// <summary>"libzstd 1.5.4" or "ZstdSharp (managed)" for <paramref name="implementation"/>.</summary>
        public static string Describe(ZstdImplementation implementation) =>
            UseNative(implementation) ? "libzstd " + NativeVersion.Value : "ZstdSharp (managed)";

        public static ZstdBlockCompressor Create(ZstdImplementation implementation, int level, bool checksum) =>
            UseNative(implementation) ? new NativeBlockCompressor(level, checksum) : new ManagedBlockCompressor(level, checksum);

        /// <summary>Compresses <paramref name="input"/>[0..<paramref name="length"/>) into <paramref name="output"/> (at least the compress bound long); returns the frame length.</summary>
        public abstract int Compress(byte[] input, int length, byte[] output);

        public void Dispose()
        {
            Dispose(true);
            GC.SuppressFinalize(this);
        }

        protected abstract void Dispose(bool disposing);

        private static bool UseNative(ZstdImplementation implementation)
        {
            if (implementation == ZstdImplementation.Native && !NativeAvailable)
            {
                throw new PlatformNotSupportedException("The system zstd library (libzstd.so.1) was not found; install libzstd1 or use the managed implementation.");
            }

            return implementation != ZstdImplementation.Managed && NativeAvailable;
        }

        private sealed class ManagedBlockCompressor : ZstdBlockCompressor
        {
            private readonly Compressor _compressor;

            public ManagedBlockCompressor(int level, bool checksum)
            {
                _compressor = new Compressor(level);
                _compressor.SetParameter(ZSTD_cParameter.ZSTD_c_checksumFlag, checksum ? 1 : 0);
            }

            public override int Compress(byte[] input, int length, byte[] output) =>
                _compressor.Wrap(new ReadOnlySpan<byte>(input, 0, length), new Span<byte>(output));

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    _compressor.Dispose();
                }
            }
        }

        private sealed class NativeBlockCompressor : ZstdBlockCompressor
        {
            private const int CompressionLevelParameter = 100; // ZSTD_c_compressionLevel
            private const int ChecksumFlagParameter = 201; // ZSTD_c_checksumFlag
            private readonly CCtxHandle _cctx;

            public NativeBlockCompressor(int level, bool checksum)
            {
                _cctx = NativeZstd.ZSTD_createCCtx();
                if (_cctx.IsInvalid)
                {
                    throw new IOException("libzstd could not create a compression context (out of memory?).");
                }

                Check(NativeZstd.ZSTD_CCtx_setParameter(_cctx, CompressionLevelParameter, level));
                Check(NativeZstd.ZSTD_CCtx_setParameter(_cctx, ChecksumFlagParameter, checksum ? 1 : 0));
            }

            public override int Compress(byte[] input, int length, byte[] output)
            {
                var n = NativeZstd.ZSTD_compress2(_cctx, output, (UIntPtr)output.Length, input, (UIntPtr)length);
                Check(n);
                return checked((int)n.ToUInt64());
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    _cctx.Dispose();
                }
            }

            private static void Check(UIntPtr code)
            {
                if (NativeZstd.ZSTD_isError(code) != 0)
                {
                    throw new IOException("libzstd failed: " + Marshal.PtrToStringAnsi(NativeZstd.ZSTD_getErrorName(code)));
                }
            }
        }

        /// <summary>A ZSTD_CCtx*, freed with ZSTD_freeCCtx.</summary>
        internal sealed class CCtxHandle : SafeHandleZeroOrMinusOneIsInvalid
        {
            public CCtxHandle()
                : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                NativeZstd.ZSTD_freeCCtx(handle);
                return true;
            }
        }

        /// <summary>libzstd.so.1 entry points (netstandard2.0 has no NativeLibrary: the name is fixed).</summary>
        private static class NativeZstd
        {
            private const string Lib = "libzstd.so.1";

            public static string? TryVersion()
            {
                try
                {
                    return Marshal.PtrToStringAnsi(ZSTD_versionString());
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

            [DllImport(Lib)]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern IntPtr ZSTD_versionString();

            [DllImport(Lib)]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern CCtxHandle ZSTD_createCCtx();

            [DllImport(Lib)]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern UIntPtr ZSTD_freeCCtx(IntPtr cctx);

            [DllImport(Lib)]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern UIntPtr ZSTD_CCtx_setParameter(CCtxHandle cctx, int param, int value);

            [DllImport(Lib)]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern UIntPtr ZSTD_compress2(CCtxHandle cctx, byte[] dst, UIntPtr dstCapacity, byte[] src, UIntPtr srcSize);

            [DllImport(Lib)]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern uint ZSTD_isError(UIntPtr code);

            [DllImport(Lib)]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern IntPtr ZSTD_getErrorName(UIntPtr code);
        }
    }
}
