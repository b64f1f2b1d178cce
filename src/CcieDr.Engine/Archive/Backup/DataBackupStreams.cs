using System;
using System.IO;
using System.Security.Cryptography;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Tar;

namespace CcieDr.Engine.Archive.Backup
{
    /// <summary>Pass-through write stream that counts bytes and computes the SHA-256 of everything written.</summary>
    internal sealed class HashingWriteStream : WriteCountingStream
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

        /// <summary>Lowercase hex SHA-256 of all bytes written; ends hashing.</summary>
        public string FinishHash() => _hex ??= TarWriter.ToHex(_sha.GetHashAndReset());

        public override void Flush() => _inner.Flush();

        protected override void WriteCore(byte[] buffer, int offset, int count)
        {
            _inner.Write(buffer, offset, count);
            _sha.AppendData(buffer, offset, count);
        }

        protected override void OnWritten(long total) => _onWritten?.Invoke(total);

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
