using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using CcieDr.Engine.Archive.Common;
using ICSharpCode.SharpZipLib.BZip2;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>Which bzip2 decoder to use.</summary>
    public enum Bzip2Implementation
    {
        /// <summary>The system libbz2 on every core when present (multi-stream archives decode in parallel), else the managed decoder.</summary>
        Auto,

        /// <summary>The system libbz2 (libbz2.so.1.0 / libbz2.so.1); fails when absent.</summary>
        Native,

        /// <summary>SharpZipLib's managed decoder.</summary>
        Managed,

        /// <summary>The system libbz2 on every core (streams decoded in parallel); fails when absent.</summary>
        NativeParallel,
    }

    /// <summary>
    /// Read-only stream that decompresses bzip2 data, including several concatenated bzip2
    /// streams (the pbzip2 layout; lbzip2 output is one multi-block stream). A truncated or corrupt input raises
    /// <see cref="ArchiveCorruptException"/>; it never ends early silently.
    /// </summary>
    public abstract class Bzip2DecompressStream : Stream
    {
        private long _position;

        /// <summary>Whether the system libbz2 can be used.</summary>
        public static bool NativeAvailable => Bzip2DecompressNative.IsAvailable;

        /// <summary>Compressed bytes consumed so far (for progress).</summary>
        public abstract long CompressedBytesRead { get; }

        /// <summary>Number of complete bzip2 streams decoded so far.</summary>
        public abstract int StreamsCompleted { get; }

        /// <summary>"native" or "managed".</summary>
        public abstract string ImplementationName { get; }

        /// <inheritdoc/>
        public override bool CanRead => true;

        /// <inheritdoc/>
        public override bool CanSeek => false;

        /// <inheritdoc/>
        public override bool CanWrite => false;

        /// <inheritdoc/>
        public override long Length => throw new NotSupportedException();

        /// <inheritdoc/>
        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        /// <summary>Opens a decompressing stream over <paramref name="compressed"/>.</summary>
        public static Bzip2DecompressStream Open(Stream compressed, bool leaveOpen = false, Bzip2Implementation implementation = Bzip2Implementation.Auto)
        {
            if (compressed is null)
            {
                throw new ArgumentNullException(nameof(compressed));
            }

            switch (implementation)
            {
                case Bzip2Implementation.Native:
                    if (!NativeAvailable)
                    {
                        throw new PlatformNotSupportedException("The system bzip2 library (libbz2.so.1.0 or libbz2.so.1) was not found.");
                    }

                    return new NativeBzip2DecompressStream(compressed, leaveOpen);
                case Bzip2Implementation.Managed:
                    return new ManagedBzip2DecompressStream(compressed, leaveOpen);
                case Bzip2Implementation.NativeParallel:
                    if (!NativeAvailable)
                    {
                        throw new PlatformNotSupportedException("The system bzip2 library (libbz2.so.1.0 or libbz2.so.1) was not found.");
                    }

                    return new ParallelBzip2DecompressStream(compressed, leaveOpen, Math.Max(2, Environment.ProcessorCount));
                default:
                    if (!NativeAvailable)
                    {
                        return new ManagedBzip2DecompressStream(compressed, leaveOpen);
                    }

                    return Environment.ProcessorCount > 1
                        ? new ParallelBzip2DecompressStream(compressed, leaveOpen, Environment.ProcessorCount)
                        : new NativeBzip2DecompressStream(compressed, leaveOpen);
            }
        }

        /// <inheritdoc/>
        public sealed override int Read(byte[] buffer, int offset, int count)
        {
            if (buffer is null)
            {
                throw new ArgumentNullException(nameof(buffer));
            }

            if (offset < 0 || count < 0 || offset + count > buffer.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(count));
            }

            if (count == 0)
            {
                return 0;
            }

            int n = ReadCore(buffer, offset, count);
            _position += n;
            return n;
        }

        /// <inheritdoc/>
        public override void Flush()
        {
        }

        /// <inheritdoc/>
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        /// <inheritdoc/>
        public override void SetLength(long value) => throw new NotSupportedException();

        /// <inheritdoc/>
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        /// <summary>Decompresses into the buffer; 0 only at the clean end of the last stream.</summary>
        protected abstract int ReadCore(byte[] buffer, int offset, int count);
    }

    /// <summary>bzip2 decoding through the system libbz2, looping over concatenated streams.</summary>
    internal sealed class NativeBzip2DecompressStream : Bzip2DecompressStream
    {
        private const int InSize = 128 * 1024;
        private const int OutSize = 256 * 1024;

        private readonly Stream _input;
        private readonly bool _leaveOpen;
        private readonly byte[] _inManaged = new byte[InSize];
        private IntPtr _strm;
        private IntPtr _inBuf;
        private IntPtr _outBuf;
        private int _inPos;
        private int _inLen;
        private bool _inEof;
        private int _outPos;
        private int _outLen;
        private bool _active;
        private bool _done;
        private int _streams;
        private long _compressed;

        internal NativeBzip2DecompressStream(Stream input, bool leaveOpen)
        {
            _input = input;
            _leaveOpen = leaveOpen;
            _strm = Marshal.AllocHGlobal(Bzip2DecompressNative.SizeOfStream);
            _inBuf = Marshal.AllocHGlobal(InSize);
            _outBuf = Marshal.AllocHGlobal(OutSize);
            Bzip2DecompressNative.ZeroStream(_strm);
        }

        ~NativeBzip2DecompressStream()
        {
            Dispose(false);
        }

        public override long CompressedBytesRead => _compressed - (_inLen - _inPos);

        public override int StreamsCompleted => _streams;

        public override string ImplementationName => "native";

        protected override int ReadCore(byte[] buffer, int offset, int count)
        {
            if (_strm == IntPtr.Zero)
            {
                throw new ObjectDisposedException(nameof(Bzip2DecompressStream));
            }

            while (true)
            {
                if (_outPos < _outLen)
                {
                    int n = Math.Min(count, _outLen - _outPos);
                    Marshal.Copy(_outBuf + _outPos, buffer, offset, n);
                    _outPos += n;
                    return n;
                }

                if (_done)
                {
                    return 0;
                }

                _outPos = 0;
                _outLen = 0;
                if (!_active)
                {
                    if (_inPos == _inLen && !Fill())
                    {
                        if (_streams == 0)
                        {
                            throw new ArchiveCorruptException("The archive is empty: no bzip2 data.");
                        }

                        _done = true;
                        return 0;
                    }

                    Bzip2DecompressNative.Init(_strm);
                    _active = true;
                }

                if (_inPos == _inLen)
                {
                    Fill();
                }

                int rc = Bzip2DecompressNative.Step(_strm, _inBuf + _inPos, _inLen - _inPos, _outBuf, OutSize, out int consumed, out _outLen);
                _inPos += consumed;

                if (rc == Bzip2DecompressNative.BZ_STREAM_END)
                {
                    Bzip2DecompressNative.DecompressEnd(_strm);
                    _active = false;
                    _streams++;
                }
                else if (rc != Bzip2DecompressNative.BZ_OK)
                {
                    Bzip2DecompressNative.DecompressEnd(_strm);
                    _active = false;
                    _done = true;
                    throw Bzip2DecompressNative.Failure(rc, _streams, "at compressed offset " + CompressedBytesRead.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                else if (_outLen == 0 && consumed == 0 && _inPos == _inLen && _inEof)
                {
                    Bzip2DecompressNative.DecompressEnd(_strm);
                    _active = false;
                    _done = true;
                    throw Bzip2DecompressNative.Truncated($"{CompressedBytesRead} compressed bytes");
                }
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (_strm != IntPtr.Zero)
            {
                if (_active)
                {
                    Bzip2DecompressNative.DecompressEnd(_strm);
                    _active = false;
                }

                Marshal.FreeHGlobal(_strm);
                Marshal.FreeHGlobal(_inBuf);
                Marshal.FreeHGlobal(_outBuf);
                _strm = IntPtr.Zero;
                _inBuf = IntPtr.Zero;
                _outBuf = IntPtr.Zero;
            }

            if (disposing && !_leaveOpen)
            {
                _input.Dispose();
            }

            base.Dispose(disposing);
        }

        private bool Fill()
        {
            _inPos = 0;
            _inLen = 0;
            if (_inEof)
            {
                return false;
            }

            int n = _input.Read(_inManaged, 0, InSize);
            if (n <= 0)
            {
                _inEof = true;
                return false;
            }

            Marshal.Copy(_inManaged, 0, _inBuf, n);
            _inLen = n;
            _compressed += n;
            return true;
        }
    }

    /// <summary>
    /// bzip2 decoding through SharpZipLib. Its BZip2InputStream stops at the end of the first
    /// stream and reads its input byte by byte, so each following stream gets a new decoder on
    /// the same (buffered) input.
    /// </summary>
    internal sealed class ManagedBzip2DecompressStream : Bzip2DecompressStream
    {
        private readonly PeekableStream _input;
        private readonly Stream _owned;
        private readonly bool _leaveOpen;
        private BZip2InputStream? _current;
        private int _streams;
        private bool _done;

        internal ManagedBzip2DecompressStream(Stream input, bool leaveOpen)
        {
            _owned = input;
            _leaveOpen = leaveOpen;
            _input = new PeekableStream(input);
        }

        public override long CompressedBytesRead => _input.Consumed;

        public override int StreamsCompleted => _streams;

        public override string ImplementationName => "managed";

        protected override int ReadCore(byte[] buffer, int offset, int count)
        {
            while (!_done)
            {
                if (_current is null)
                {
                    if (_input.PeekByte() < 0)
                    {
                        if (_streams == 0)
                        {
                            throw new ArchiveCorruptException("The archive is empty: no bzip2 data.");
                        }

                        _done = true;
                        return 0;
                    }

                    try
                    {
                        _current = new BZip2InputStream(_input) { IsStreamOwner = false };
                    }
                    catch (Exception ex) when (ex is BZip2Exception || ex is EndOfStreamException)
                    {
                        _done = true;
                        throw new ArchiveCorruptException(_streams > 0
                            ? $"bzip2: data after bzip2 stream {_streams} is not a bzip2 stream; the archive is corrupt ({ex.Message})."
                            : $"bzip2: not a bzip2 stream ({ex.Message}).", ex);
                    }
                }

                int n;
                try
                {
                    n = _current.Read(buffer, offset, count);
                }
                catch (Exception ex) when (ex is BZip2Exception || ex is EndOfStreamException || ex is IndexOutOfRangeException)
                {
                    _done = true;
                    throw new ArchiveCorruptException($"bzip2: corrupt or truncated data after {_input.Consumed} compressed bytes ({ex.Message}); the archive is corrupt.", ex);
                }

                if (n > 0)
                {
                    return n;
                }

                _current.Dispose();
                _current = null;
                _streams++;
            }

            return 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _current?.Dispose();
                _current = null;
                if (!_leaveOpen)
                {
                    _owned.Dispose();
                }
            }

            base.Dispose(disposing);
        }

        /// <summary>Buffered input with one-byte look-ahead and a fast ReadByte.</summary>
        private sealed class PeekableStream : Stream
        {
            private readonly Stream _inner;
            private readonly byte[] _buf = new byte[64 * 1024];
            private int _pos;
            private int _len;
            private long _consumed;

            internal PeekableStream(Stream inner)
            {
                _inner = inner;
            }

            internal long Consumed => _consumed;

            public override bool CanRead => true;

            public override bool CanSeek => false;

            public override bool CanWrite => false;

            public override long Length => throw new NotSupportedException();

            public override long Position
            {
                get => _consumed;
                set => throw new NotSupportedException();
            }

            internal int PeekByte()
            {
                if (_pos == _len && !Fill())
                {
                    return -1;
                }

                return _buf[_pos];
            }

            public override int ReadByte()
            {
                if (_pos == _len && !Fill())
                {
                    return -1;
                }

                _consumed++;
                return _buf[_pos++];
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                if (_pos == _len && !Fill())
                {
                    return 0;
                }

                int n = Math.Min(count, _len - _pos);
                Buffer.BlockCopy(_buf, _pos, buffer, offset, n);
                _pos += n;
                _consumed += n;
                return n;
            }

            public override void Flush()
            {
            }

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            private bool Fill()
            {
                _pos = 0;
                _len = _inner.Read(_buf, 0, _buf.Length);
                if (_len <= 0)
                {
                    _len = 0;
                    return false;
                }

                return true;
            }
        }
    }
}
