using System;
using System.IO;
using System.Security.Cryptography;

namespace CcieDr.Engine.Archive
{
    /// <summary>Pass-through write stream that counts bytes and computes the SHA-256 of everything written.</summary>
    internal sealed class HashingWriteStream : Stream
    {
        private readonly Stream _inner;
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly Action<long>? _onWritten;
        private string? _hex;

        public HashingWriteStream(Stream inner, Action<long>? onWritten = null)
        {
            _inner = inner;
            _onWritten = onWritten;
        }

        public long BytesWritten { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => BytesWritten;

        public override long Position
        {
            get => BytesWritten;
            set => throw new NotSupportedException();
        }

        /// <summary>Lowercase hex SHA-256 of all bytes written; ends hashing.</summary>
        public string FinishHash() => _hex ??= TarWriter.ToHex(_sha.GetHashAndReset());

        public override void Write(byte[] buffer, int offset, int count)
        {
            _inner.Write(buffer, offset, count);
            _sha.AppendData(buffer, offset, count);
            BytesWritten += count;
            _onWritten?.Invoke(BytesWritten);
        }

        public override void Flush() => _inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _sha.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
