using System;
using System.IO;

namespace CcieDr.Engine.Archive.Common
{
    /// <summary>
    /// Base of the small write-only, forward-only streams of the archive code: counts what is written
    /// (<see cref="BytesWritten"/>, also its Length and Position) and refuses reading and seeking. A subclass
    /// decides where the bytes go (<see cref="WriteCore"/>; by default nowhere: a pure byte counter).
    /// </summary>
    internal class WriteCountingStream : Stream
    {
        /// <summary>Bytes written so far.</summary>
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

        public sealed override void Write(byte[] buffer, int offset, int count)
        {
            WriteCore(buffer, offset, count);
            BytesWritten += count;
            OnWritten(BytesWritten);
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        /// <summary>Where the bytes go; <see cref="BytesWritten"/> still holds the count before them.</summary>
        protected virtual void WriteCore(byte[] buffer, int offset, int count)
        {
        }

        /// <summary>Called after each write with the new total.</summary>
        protected virtual void OnWritten(long total)
        {
        }
    }
}
