using System;
using System.IO;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace CcieDr.Engine.Archive.Compression
{
    /// <summary>Settings for zstd compression.</summary>
    public sealed class ZstdCompressOptions
    {
        /// <summary>The level <c>zstd</c> and <c>tar --zstd</c> use by default.</summary>
        public const int DefaultLevel = 3;

        /// <summary>Compression level, 1 (fastest) to 22; default 3.</summary>
        public int Level { get; set; } = DefaultLevel;

        /// <summary>
        /// Compression threads (zstd's worker threads, <c>-T</c>); default: every core. 0 or 1 compresses on the
        /// writing thread itself.
        /// </summary>
        public int Threads { get; set; } = Environment.ProcessorCount;

        /// <summary>Adds zstd's XXH64 content checksum to every frame (as the zstd CLI does), so corruption is detected on read.</summary>
        public bool Checksum { get; set; } = true;
    }

    /// <summary>
    /// A write-only stream that compresses to zstd on several threads (ZstdSharp's port of zstd's own
    /// multi-threaded compressor, <c>nbWorkers</c>). Output is standard zstd frames that <c>zstd -d</c> and
    /// <c>tar -I zstd -xf</c> read. <see cref="EndFrame"/> closes the current frame so a reader can later start
    /// at the next one (the archive's manifest, written last, gets a frame of its own). <see cref="Complete"/>
    /// finishes the last frame. Disposing does NOT complete (as <see cref="ParallelBzip2Stream"/>): after an
    /// exception or a cancellation the output never looks whole; it releases the workers and writes nothing more.
    /// </summary>
    public sealed class ZstdCompressStream : Stream
    {
        private readonly OutputGate _gate;
        private readonly ZstdCompressOptions _options;
        private readonly bool _leaveOpen;
        private CompressionStream? _frame;
        private long _frameInput;
        private bool _disposed;
        private bool _aborted;
        private bool _completed;

        /// <summary>Creates the stream over <paramref name="output"/>.</summary>
        public ZstdCompressStream(Stream output, ZstdCompressOptions? options = null, bool leaveOpen = false)
        {
            if (output is null)
            {
                throw new ArgumentNullException(nameof(output));
            }

            if (!output.CanWrite)
            {
                throw new ArgumentException("The output stream is not writable.", nameof(output));
            }

            _options = options ?? new ZstdCompressOptions();
            if (_options.Level < Compressor.MinCompressionLevel || _options.Level > Compressor.MaxCompressionLevel)
            {
                throw new ArgumentOutOfRangeException(nameof(options), _options.Level, $"The zstd level must be between 1 and {Compressor.MaxCompressionLevel}.");
            }

            if (_options.Threads < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(options), _options.Threads, "Threads must be 0 or more.");
            }

            _gate = new OutputGate(output);
            _leaveOpen = leaveOpen;
        }

        /// <summary>Uncompressed bytes written so far.</summary>
        public long BytesIn { get; private set; }

        /// <summary>Compressed bytes handed to the output so far.</summary>
        public long BytesOut => _gate.Written;

        /// <summary>Frames finished so far.</summary>
        public int FramesCompleted { get; private set; }

        /// <summary>Worker threads used (0: on the writing thread).</summary>
        public int Workers => _options.Threads <= 1 ? 0 : _options.Threads;

        /// <inheritdoc/>
        public override bool CanRead => false;

        /// <inheritdoc/>
        public override bool CanSeek => false;

        /// <inheritdoc/>
        public override bool CanWrite => !_disposed;

        /// <inheritdoc/>
        public override long Length => throw new NotSupportedException();

        /// <inheritdoc/>
        public override long Position
        {
            get => BytesIn;
            set => throw new NotSupportedException();
        }

        /// <inheritdoc/>
        public override void Write(byte[] buffer, int offset, int count)
        {
            if (buffer is null)
            {
                throw new ArgumentNullException(nameof(buffer));
            }

            if (offset < 0 || count < 0 || offset + count > buffer.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(count));
            }

            ThrowIfUnusable();
            if (count == 0)
            {
                return;
            }

            var frame = _frame ??= OpenFrame();
            frame.Write(buffer, offset, count);
            _frameInput += count;
            BytesIn += count;
        }

        /// <summary>
        /// Finishes the current frame (epilogue and checksum written to the output). The next write starts a
        /// new frame; without one, nothing more is written. Does nothing when no data was written since the last frame.
        /// </summary>
        public void EndFrame()
        {
            ThrowIfUnusable();
            if (_frame is null || _frameInput == 0)
            {
                return;
            }

            CloseFrame();
        }

        /// <summary>Flushes compressed data of the current frame to the output (a zstd flush, not a frame end).</summary>
        public override void Flush()
        {
            if (_completed)
            {
                return;
            }

            ThrowIfUnusable();
            _frame?.Flush();
            _gate.Flush();
        }

        /// <summary>
        /// Finishes the stream: the last frame's epilogue and checksum are written and the output flushed. An empty
        /// input still yields one (empty) frame, so the result is a valid zstd file. Idempotent.
        /// </summary>
        public void Complete()
        {
            if (_completed)
            {
                return;
            }

            ThrowIfUnusable();
            if (_frame is null && FramesCompleted == 0)
            {
                _frame = OpenFrame();
            }

            if (_frame != null)
            {
                CloseFrame();
            }

            _gate.Flush();
            _completed = true;
        }

        /// <summary>Stops without writing anything more (a failed or cancelled backup); Dispose does the same. Idempotent.</summary>
        public void Abort()
        {
            if (_aborted || _disposed || _completed)
            {
                return;
            }

            _aborted = true;
            _gate.Closed = true;
            ReleaseFrame();
        }

        /// <inheritdoc/>
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        /// <inheritdoc/>
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        /// <inheritdoc/>
        public override void SetLength(long value) => throw new NotSupportedException();

        /// <inheritdoc/>
        protected override void Dispose(bool disposing)
        {
            if (!disposing || _disposed)
            {
                base.Dispose(disposing);
                return;
            }

            _disposed = true;
            if (_frame != null)
            {
                // Not completed: release the workers without finishing the frame.
                _gate.Closed = true;
                ReleaseFrame();
            }

            if (!_leaveOpen)
            {
                _gate.Inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private CompressionStream OpenFrame()
        {
            var frame = new CompressionStream(_gate, _options.Level, 0, leaveOpen: true);
            try
            {
                frame.SetParameter(ZSTD_cParameter.ZSTD_c_checksumFlag, _options.Checksum ? 1 : 0);
                if (_options.Threads > 1)
                {
                    frame.SetParameter(ZSTD_cParameter.ZSTD_c_nbWorkers, _options.Threads);
                }
            }
            catch
            {
                _gate.Closed = true;
                frame.Dispose();
                _gate.Closed = false;
                throw;
            }

            _frameInput = 0;
            return frame;
        }

        private void CloseFrame()
        {
            var frame = _frame!;
            _frame = null;
            frame.Dispose(); // ZSTD_e_end: writes the rest of the frame and its checksum.
            FramesCompleted++;
            _frameInput = 0;
        }

        private void ReleaseFrame()
        {
            var frame = _frame;
            _frame = null;
            if (frame is null)
            {
                return;
            }

            try
            {
                frame.Dispose(); // The gate is closed: whatever it tries to write goes nowhere.
            }
#pragma warning disable CA1031 // Releasing after a failure: the first error is the one that matters.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        private void ThrowIfUnusable()
        {
            if (_disposed)
            {
                throw new ObjectDisposedException(nameof(ZstdCompressStream));
            }

            if (_aborted)
            {
                throw new InvalidOperationException("The zstd stream was aborted.");
            }

            if (_gate.Faulted)
            {
                throw new InvalidOperationException("Writing the compressed data failed earlier; the zstd stream cannot continue.");
            }

            if (_completed)
            {
                throw new InvalidOperationException("The zstd stream is already complete.");
            }
        }

        /// <summary>Counts what reaches the output, remembers a failure, and drops writes once closed.</summary>
        private sealed class OutputGate : Stream
        {
            public OutputGate(Stream inner) => Inner = inner;

            public Stream Inner { get; }

            public long Written { get; private set; }

            public bool Faulted { get; private set; }

            public bool Closed { get; set; }

            public override bool CanRead => false;

            public override bool CanSeek => false;

            public override bool CanWrite => true;

            public override long Length => throw new NotSupportedException();

            public override long Position
            {
                get => Written;
                set => throw new NotSupportedException();
            }

            public override void Write(byte[] buffer, int offset, int count)
            {
                if (Closed || Faulted)
                {
                    return;
                }

                try
                {
                    Inner.Write(buffer, offset, count);
                }
                catch
                {
                    Faulted = true;
                    throw;
                }

                Written += count;
            }

            public override void Flush()
            {
                if (Closed || Faulted)
                {
                    return;
                }

                try
                {
                    Inner.Flush();
                }
                catch
                {
                    Faulted = true;
                    throw;
                }
            }

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();
        }
    }
}
