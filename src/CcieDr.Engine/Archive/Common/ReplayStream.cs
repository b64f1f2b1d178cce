using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace CcieDr.Engine.Archive.Common
{
    /// <summary>
    /// A read-only, forward-only stream that first replays bytes already taken from <c>inner</c> (a peek)
    /// and then continues with <c>inner</c> itself. Works on non-seekable sources (an S3 body, a pipe).
    /// </summary>
    public sealed class ReplayStream : Stream
    {
        private readonly Stream _inner;
        private readonly byte[] _prefix;
        private readonly bool _leaveOpen;
        private int _prefixPos;
        private long _position;
        private bool _disposed;

        /// <summary>Creates the stream: <paramref name="prefix"/> is read first, then <paramref name="inner"/>.</summary>
        public ReplayStream(byte[] prefix, Stream inner, bool leaveOpen = false)
        {
            _prefix = prefix ?? throw new ArgumentNullException(nameof(prefix));
            _inner = inner ?? throw new ArgumentNullException(nameof(inner));
            _leaveOpen = leaveOpen;
        }

        /// <summary>The stream being continued.</summary>
        public Stream Inner => _inner;

        /// <summary>Bytes replayed before <see cref="Inner"/> continues.</summary>
        public int PrefixLength => _prefix.Length;

        /// <inheritdoc/>
        public override bool CanRead => !_disposed;

        /// <inheritdoc/>
        public override bool CanSeek => false;

        /// <inheritdoc/>
        public override bool CanWrite => false;

        /// <inheritdoc/>
        public override long Length => throw new NotSupportedException();

        /// <summary>Bytes read through this stream so far (the prefix included).</summary>
        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        /// <inheritdoc/>
        public override int Read(byte[] buffer, int offset, int count)
        {
            ValidateRead(buffer, offset, count);
            if (count == 0)
            {
                return 0;
            }

            int n;
            if (_prefixPos < _prefix.Length)
            {
                n = Math.Min(count, _prefix.Length - _prefixPos);
                Buffer.BlockCopy(_prefix, _prefixPos, buffer, offset, n);
                _prefixPos += n;
            }
            else
            {
                n = _inner.Read(buffer, offset, count);
            }

            _position += n;
            return n;
        }

        /// <inheritdoc/>
        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            ValidateRead(buffer, offset, count);
            if (count == 0)
            {
                return 0;
            }

            int n;
            if (_prefixPos < _prefix.Length)
            {
                n = Math.Min(count, _prefix.Length - _prefixPos);
                Buffer.BlockCopy(_prefix, _prefixPos, buffer, offset, n);
                _prefixPos += n;
            }
            else
            {
                n = await _inner.ReadAsync(buffer, offset, count, cancellationToken).ConfigureAwait(false);
            }

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

        /// <inheritdoc/>
        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                if (!_leaveOpen)
                {
                    _inner.Dispose();
                }
            }

            base.Dispose(disposing);
        }

        private void ValidateRead(byte[] buffer, int offset, int count)
        {
            if (_disposed)
            {
                throw new ObjectDisposedException(nameof(ReplayStream));
            }

            if (buffer is null)
            {
                throw new ArgumentNullException(nameof(buffer));
            }

            if (offset < 0 || count < 0 || offset + count > buffer.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(count));
            }
        }
    }
}
