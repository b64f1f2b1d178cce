using System;
using System.Runtime.InteropServices;
using CcieDr.Engine.Archive.Common;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>P/Invoke surface of the system libbz2 (decompression only).</summary>
    internal static class Bzip2DecompressNative
    {
        internal const int BZ_OK = 0;
        internal const int BZ_STREAM_END = 4;
        internal const int BZ_SEQUENCE_ERROR = -1;
        internal const int BZ_PARAM_ERROR = -2;
        internal const int BZ_MEM_ERROR = -3;
        internal const int BZ_DATA_ERROR = -4;
        internal const int BZ_DATA_ERROR_MAGIC = -5;
        internal const int BZ_CONFIG_ERROR = -9;

        private static readonly object Gate = new object();
        private static int _library = -1; // -1 unknown, 0 none, 1 libbz2.so.1.0, 2 libbz2.so.1

        /// <summary>Layout of <c>bz_stream</c> (bzlib.h); lives in unmanaged memory because libbz2 keeps a pointer to it.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct BzStream
        {
            public IntPtr NextIn;
            public uint AvailIn;
            public uint TotalInLo32;
            public uint TotalInHi32;
            public IntPtr NextOut;
            public uint AvailOut;
            public uint TotalOutLo32;
            public uint TotalOutHi32;
            public IntPtr State;
            public IntPtr BzAlloc;
            public IntPtr BzFree;
            public IntPtr Opaque;
        }

        internal static readonly int SizeOfStream = Marshal.SizeOf<BzStream>();
        internal static readonly int OffNextIn = (int)Marshal.OffsetOf<BzStream>(nameof(BzStream.NextIn));
        internal static readonly int OffAvailIn = (int)Marshal.OffsetOf<BzStream>(nameof(BzStream.AvailIn));
        internal static readonly int OffNextOut = (int)Marshal.OffsetOf<BzStream>(nameof(BzStream.NextOut));
        internal static readonly int OffAvailOut = (int)Marshal.OffsetOf<BzStream>(nameof(BzStream.AvailOut));

        /// <summary>Whether a usable libbz2 was found (probed once).</summary>
        internal static bool IsAvailable
        {
            get
            {
                lock (Gate)
                {
                    if (_library < 0)
                    {
                        _library = Probe();
                    }

                    return _library > 0;
                }
            }
        }

        internal static int DecompressInit(IntPtr strm) =>
            _library == 1 ? Lib10.BZ2_bzDecompressInit(strm, 0, 0) : Lib1.BZ2_bzDecompressInit(strm, 0, 0);

        internal static int Decompress(IntPtr strm) =>
            _library == 1 ? Lib10.BZ2_bzDecompress(strm) : Lib1.BZ2_bzDecompress(strm);

        internal static int DecompressEnd(IntPtr strm) =>
            _library == 1 ? Lib10.BZ2_bzDecompressEnd(strm) : Lib1.BZ2_bzDecompressEnd(strm);

        /// <summary>Clears a bz_stream before BZ2_bzDecompressInit (libbz2 requires zeroed allocator fields).</summary>
        internal static void ZeroStream(IntPtr strm)
        {
            for (int i = 0; i < SizeOfStream; i += 4)
            {
                Marshal.WriteInt32(strm, i, 0);
            }
        }

        /// <summary>One BZ2_bzDecompress call over the given input and output windows; returns its code and how much it consumed and produced.</summary>
        internal static int Step(IntPtr strm, IntPtr nextIn, int availIn, IntPtr nextOut, int availOut, out int consumed, out int produced)
        {
            Marshal.WriteIntPtr(strm, OffNextIn, nextIn);
            Marshal.WriteInt32(strm, OffAvailIn, availIn);
            Marshal.WriteIntPtr(strm, OffNextOut, nextOut);
            Marshal.WriteInt32(strm, OffAvailOut, availOut);
            int rc = Decompress(strm);
            consumed = availIn - Marshal.ReadInt32(strm, OffAvailIn);
            produced = availOut - Marshal.ReadInt32(strm, OffAvailOut);
            return rc;
        }

        /// <summary>The error for a failing BZ2_bzDecompress code, after <paramref name="streamsDone"/> complete streams, at <paramref name="where"/>.</summary>
        internal static ArchiveCorruptException Failure(int rc, int streamsDone, string where) =>
            new ArchiveCorruptException(streamsDone > 0 && rc == BZ_DATA_ERROR_MAGIC
                ? $"bzip2: data after bzip2 stream {streamsDone} is not a bzip2 stream ({where}); the archive is corrupt."
                : $"bzip2: {Describe(rc)} {where}; the archive is corrupt.");

        /// <summary>The error for input that ends inside a stream.</summary>
        internal static ArchiveCorruptException Truncated(string afterWhat) =>
            new ArchiveCorruptException($"bzip2: unexpected end of input after {afterWhat}: the archive is truncated.");

        /// <summary>BZ2_bzDecompressInit on a zeroed stream; a failure is reported as corrupt input.</summary>
        internal static void Init(IntPtr strm)
        {
            ZeroStream(strm);
            int rc = DecompressInit(strm);
            if (rc != BZ_OK)
            {
                throw new ArchiveCorruptException("bzip2: cannot start decoding: " + Describe(rc));
            }
        }

        internal static string Describe(int rc) => rc switch
        {
            BZ_DATA_ERROR => "data integrity error (CRC mismatch or corrupt block)",
            BZ_DATA_ERROR_MAGIC => "not a bzip2 stream (bad magic)",
            BZ_MEM_ERROR => "out of memory",
            BZ_PARAM_ERROR => "parameter error",
            BZ_SEQUENCE_ERROR => "sequence error",
            BZ_CONFIG_ERROR => "libbz2 is misconfigured",
            _ => "libbz2 error " + rc.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

        private static int Probe()
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && !RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
            {
                return 0;
            }

            try
            {
                _ = Lib10.BZ2_bzlibVersion();
                return 1;
            }
            catch (DllNotFoundException)
            {
            }
            catch (EntryPointNotFoundException)
            {
            }

            try
            {
                _ = Lib1.BZ2_bzlibVersion();
                return 2;
            }
            catch (DllNotFoundException)
            {
            }
            catch (EntryPointNotFoundException)
            {
            }

            return 0;
        }

        private static class Lib10
        {
            private const string Name = "libbz2.so.1.0";

            [DllImport(Name)]
            internal static extern IntPtr BZ2_bzlibVersion();

            [DllImport(Name)]
            internal static extern int BZ2_bzDecompressInit(IntPtr strm, int verbosity, int small);

            [DllImport(Name)]
            internal static extern int BZ2_bzDecompress(IntPtr strm);

            [DllImport(Name)]
            internal static extern int BZ2_bzDecompressEnd(IntPtr strm);
        }

        private static class Lib1
        {
            private const string Name = "libbz2.so.1";

            [DllImport(Name)]
            internal static extern IntPtr BZ2_bzlibVersion();

            [DllImport(Name)]
            internal static extern int BZ2_bzDecompressInit(IntPtr strm, int verbosity, int small);

            [DllImport(Name)]
            internal static extern int BZ2_bzDecompress(IntPtr strm);

            [DllImport(Name)]
            internal static extern int BZ2_bzDecompressEnd(IntPtr strm);
        }
    }
}
