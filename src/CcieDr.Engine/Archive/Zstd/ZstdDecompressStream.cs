using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Archive.Common;
using ZstdSharp;

namespace CcieDr.Engine.Archive.Zstd
{
    /// <summary>
    /// A read-only stream that decompresses zstd: one frame or several concatenated (what pzstd, zstd -T and
    /// <see cref="ZstdCompressStream.EndFrame"/> write), skippable frames skipped, content checksums verified.
    /// A stream that ends inside a frame, a corrupt frame, a checksum mismatch or trailing bytes that are not
    /// zstd raise <see cref="ArchiveCorruptException"/>: never a silent early end. Window size is capped
    /// at zstd's default decoder limit (128 MiB), so a hostile frame cannot demand unbounded memory.
    /// </summary>
    public sealed class ZstdDecompressStream : Stream
    {
        private readonly CountingReadStream _counter;
        private readonly DecompressionStream _zstd;
        private readonly string? _location;
        private readonly bool _leaveOpen;
        private bool _ended;
        private bool _disposed;

        /// <summary>Creates the stream over <paramref name="compressed"/>, read from its current position.</summary>
        /// <param name="compressed">The zstd data.</param>
        /// <param name="leaveOpen">Keep <paramref name="compressed"/> open when this stream is disposed.</param>
        /// <param name="location">Where the data comes from, for error messages.</param>
        public ZstdDecompressStream(Stream compressed, bool leaveOpen = false, string? location = null)
        {
            if (compressed is null)
            {
                throw new ArgumentNullException(nameof(compressed));
            }

            _counter = new CountingReadStream(compressed);
            _zstd = new DecompressionStream(_counter, 0, checkEndOfStream: true, leaveOpen: true);
            _location = location;
            _leaveOpen = leaveOpen;
        }

        /// <summary>Compressed bytes consumed from the source so far (including read-ahead).</summary>
        public long CompressedBytesRead => _counter.Count;

        /// <summary>Uncompressed bytes produced so far.</summary>
        public long BytesRead { get; private set; }

        /// <inheritdoc/>
        public override bool CanRead => !_disposed;

        /// <inheritdoc/>
        public override bool CanSeek => false;

        /// <inheritdoc/>
        public override bool CanWrite => false;

        /// <inheritdoc/>
        public override long Length => throw new NotSupportedException();

        /// <inheritdoc/>
        public override long Position
        {
            get => BytesRead;
            set => throw new NotSupportedException();
        }

        /// <inheritdoc/>
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_disposed)
            {
                throw new ObjectDisposedException(nameof(ZstdDecompressStream));
            }

            if (buffer is null)
            {
                throw new ArgumentNullException(nameof(buffer));
            }

            if (offset < 0 || count < 0 || offset + count > buffer.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(count));
            }

            if (count == 0 || _ended)
            {
                return 0;
            }

            int n;
            try
            {
                n = _zstd.Read(buffer, offset, count);
            }
            catch (ZstdException e)
            {
                throw new ArchiveCorruptException(Describe(ProblemFor(e)), e);
            }
            catch (EndOfStreamException e) when (_counter.ReachedEnd)
            {
                throw new ArchiveCorruptException(Describe($"it ends in the middle of a zstd frame after {_counter.Count:N0} compressed bytes (truncated: an interrupted copy or upload?)"), e);
            }

            if (n == 0)
            {
                _ended = true;
                if (_counter.Count == 0)
                {
                    throw new ArchiveCorruptException(Describe("it holds no zstd data at all (empty)"));
                }
            }

            BytesRead += n;
            return n;
        }

        /// <inheritdoc/>
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            // Decompression is CPU work: run it on the calling thread, as Read does.
            cancellationToken.ThrowIfCancellationRequested();
            return Task.FromResult(Read(buffer, offset, count));
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
                _zstd.Dispose();
                if (!_leaveOpen)
                {
                    _counter.Inner.Dispose();
                }
            }

            base.Dispose(disposing);
        }

        private static string ProblemFor(ZstdException e)
        {
            var code = e.Code.ToString();
            if (code.IndexOf("checksum", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                return "a zstd frame's content checksum does not match (the data was altered)";
            }

            if (code.IndexOf("prefix_unknown", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                return "bytes that are not a zstd frame follow or replace the data (unknown frame magic)";
            }

            if (code.IndexOf("memory", StringComparison.OrdinalIgnoreCase) >= 0 || code.IndexOf("window", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                return "a zstd frame asks for a window larger than 128 MiB (corrupt or hostile)";
            }

            return $"a zstd frame is corrupt ({e.Message})";
        }

        private string Describe(string problem)
        {
            string what = _location is null ? "The zstd archive" : $"The zstd archive '{_location}'";
            return $"{what} is damaged: {problem}. Nothing read from it can be trusted; use another backup, and check archives with Test-CcieBackup.";
        }

        /// <summary>Counts compressed bytes and notes when the source reached its end.</summary>
        private sealed class CountingReadStream : Stream
        {
            public CountingReadStream(Stream inner) => Inner = inner;

            public Stream Inner { get; }

            public long Count { get; private set; }

            public bool ReachedEnd { get; private set; }

            public override bool CanRead => true;

            public override bool CanSeek => false;

            public override bool CanWrite => false;

            public override long Length => throw new NotSupportedException();

            public override long Position
            {
                get => Count;
                set => throw new NotSupportedException();
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                int n = Inner.Read(buffer, offset, count);
                if (n <= 0 && count > 0)
                {
                    ReachedEnd = true;
                }

                Count += Math.Max(n, 0);
                return n;
            }

            public override void Flush()
            {
            }

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }
    }
}
