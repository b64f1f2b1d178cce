using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace CcieDr.Engine.Archive.Zstd
{
    /// <summary>Settings for zstd compression.</summary>
    public sealed class ZstdCompressOptions
    {
        /// <summary>The level <c>zstd</c> and <c>tar --zstd</c> use by default.</summary>
        public const int DefaultLevel = 3;

        /// <summary>Default uncompressed bytes per independent frame when compressing on several threads (4 MiB).</summary>
        public const int DefaultBlockSize = 4 * 1024 * 1024;

        /// <summary>Compression level, 1 (fastest) to 22; default 3.</summary>
        public int Level { get; set; } = DefaultLevel;

        /// <summary>
        /// Compression threads; default: every core. With 2 or more, the data is cut into <see cref="BlockSize"/>
        /// blocks compressed in parallel as independent zstd frames (what pzstd does; any zstd reader reads the
        /// concatenation). 0 or 1 compresses on the writing thread into one frame.
        /// </summary>
        public int Threads { get; set; } = Environment.ProcessorCount;

        /// <summary>Uncompressed bytes per frame with several threads (default 4 MiB; at least 64 KiB).</summary>
        public int BlockSize { get; set; } = DefaultBlockSize;

        /// <summary>Adds zstd's XXH64 content checksum to every frame (as the zstd CLI does), so corruption is detected on read.</summary>
        public bool Checksum { get; set; } = true;

        /// <summary>With several threads: the machine's libzstd when it loads (default), else the managed ZstdSharp.</summary>
        public ZstdImplementation Implementation { get; set; } = ZstdImplementation.Auto;

        /// <summary>What compresses with these options, e.g. "libzstd 1.5.4" or "ZstdSharp (managed)".</summary>
        public string ImplementationName => Threads > 1 ? ZstdBlockCompressor.Describe(Implementation) : "ZstdSharp (managed)";
    }

    /// <summary>
    /// A write-only stream that compresses to zstd (ZstdSharp.Port, a managed port of zstd). With several
    /// threads the input is cut into blocks compressed in parallel as independent frames and written in order,
    /// with bounded memory (two blocks in flight per thread): measured faster and leaner here than ZstdSharp's
    /// own multi-threaded mode. Output is standard zstd that <c>zstd -d</c> and <c>tar -I zstd -xf</c> read.
    /// <see cref="EndFrame"/> ends the current frame so a reader can start at the next one (the archive's
    /// manifest, written last, gets a frame of its own). <see cref="Complete"/> finishes the stream. Disposing
    /// does NOT complete (as <see cref="ParallelBzip2Stream"/>): after an exception or a cancellation the pending
    /// data is dropped, nothing more is written, and the tar stream inside lacks its end marker.
    /// </summary>
    public sealed class ZstdCompressStream : Stream
    {
        private const int MinBlockSize = 64 * 1024;
        private readonly OutputGate _gate;
        private readonly ZstdCompressOptions _options;
        private readonly bool _leaveOpen;
        private readonly BlockPipeline? _blocks;
        private CompressionStream? _frame;
        private long _frameInput;
        private int _framesClosed; // one thread: frames ended by CloseFrame
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

            if (_options.BlockSize < MinBlockSize)
            {
                throw new ArgumentOutOfRangeException(nameof(options), _options.BlockSize, $"The block size must be at least {MinBlockSize} bytes.");
            }

            _gate = new OutputGate(output);
            _leaveOpen = leaveOpen;
            if (_options.Threads > 1)
            {
                _ = _options.ImplementationName; // fails now, not in a worker, when Native is asked for and absent
                _blocks = new BlockPipeline(_gate, _options);
            }
        }

        /// <summary>Uncompressed bytes written so far.</summary>
        public long BytesIn { get; private set; }

        /// <summary>Compressed bytes handed to the output so far.</summary>
        public long BytesOut => _gate.Written;

        /// <summary>Frames written to the output so far.</summary>
        public int FramesCompleted => _blocks?.FramesWritten ?? _framesClosed;

        /// <summary>Compression threads in use (0: on the writing thread).</summary>
        public int Workers => _blocks is null ? 0 : _options.Threads;

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

            if (_blocks != null)
            {
                _blocks.Write(buffer, offset, count);
            }
            else
            {
                var frame = _frame ??= OpenFrame();
                frame.Write(buffer, offset, count);
                _frameInput += count;
            }

            BytesIn += count;
        }

        /// <summary>
        /// Ends the current frame and writes everything so far to the output: the next write starts a new frame,
        /// at <see cref="BytesOut"/>. Does nothing when no data was written since the last frame ended.
        /// </summary>
        public void EndFrame()
        {
            ThrowIfUnusable();
            if (_blocks != null)
            {
                _blocks.EndFrame(emptyFrameIfNone: false);
                return;
            }

            if (_frame is null || _frameInput == 0)
            {
                return;
            }

            CloseFrame();
        }

        /// <summary>Writes out what is compressed so far (a zstd flush with one thread; finished blocks with several) and flushes the output.</summary>
        public override void Flush()
        {
            if (_completed)
            {
                return;
            }

            ThrowIfUnusable();
            if (_blocks != null)
            {
                _blocks.WaitUntilWritten();
            }
            else
            {
                _frame?.Flush();
            }

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
            if (_blocks != null)
            {
                _blocks.EndFrame(emptyFrameIfNone: FramesCompleted == 0);
            }
            else
            {
                if (_frame is null && FramesCompleted == 0)
                {
                    _frame = OpenFrame();
                }

                if (_frame != null)
                {
                    CloseFrame();
                }
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
            _blocks?.Dispose();
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

            // Not completed: release without finishing anything (a completed stream has nothing left to write).
            _gate.Closed = true;
            ReleaseFrame();
            _blocks?.Dispose();
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
            _framesClosed++;
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

            _blocks?.ThrowIfWriteFailed();

            // With a pipeline only its writer thread writes to the gate: its record of the failure comes with the
            // exception (the gate's flag is set a moment earlier, before the exception reaches the writer).
            if (_blocks != null ? _blocks.WriteFailed : _gate.Faulted)
            {
                throw new InvalidOperationException("Writing the compressed data failed earlier; the zstd stream cannot continue.");
            }

            if (_completed)
            {
                throw new InvalidOperationException("The zstd stream is already complete.");
            }
        }

        /// <summary>
        /// Cuts the input into blocks, compresses each as an independent frame on the thread pool, and writes the
        /// frames in input order on a writer thread of its own, so the writing thread (which reads and hashes the
        /// files) never waits on the output, its hash or the disk. At most two blocks per compression thread are
        /// in flight (compressing or waiting to be written); the writing thread waits when that many are.
        /// A failure to write is rethrown, as it was thrown, to the writing thread at its next call.
        /// </summary>
        private sealed class BlockPipeline : IDisposable
        {
            private readonly OutputGate _gate;
            private readonly ZstdCompressOptions _options;
            private readonly int _maxInFlight;
            private readonly SemaphoreSlim _slots; // one a block in flight: taken on submission, given back once written
            private readonly BlockingCollection<Task<Block>> _toWrite = new BlockingCollection<Task<Block>>();
            private readonly ConcurrentBag<Block> _free = new ConcurrentBag<Block>();
            private readonly ConcurrentBag<ZstdBlockCompressor> _compressors = new ConcurrentBag<ZstdBlockCompressor>();
            private Thread? _writer;
            private Block? _current;
            private volatile ExceptionDispatchInfo? _writeError;
            private bool _writeErrorReported;
            private int _framesWritten;
            private bool _released;

            public BlockPipeline(OutputGate gate, ZstdCompressOptions options)
            {
                _gate = gate;
                _options = options;
                _maxInFlight = options.Threads * 2;
                _slots = new SemaphoreSlim(_maxInFlight);
            }

            /// <summary>Frames written to the output so far (by the writer thread).</summary>
            public int FramesWritten => Volatile.Read(ref _framesWritten);

            /// <summary>Buffers the data, submitting full blocks.</summary>
            public void Write(byte[] buffer, int offset, int count)
            {
                while (count > 0)
                {
                    var block = _current ??= Rent();
                    int n = Math.Min(count, block.Input.Length - block.Length);
                    Buffer.BlockCopy(buffer, offset, block.Input, block.Length, n);
                    block.Length += n;
                    offset += n;
                    count -= n;
                    if (block.Length == block.Input.Length)
                    {
                        Submit();
                    }
                }
            }

            /// <summary>Submits the partial block (or an empty frame when asked and there is none) and writes every frame out.</summary>
            public void EndFrame(bool emptyFrameIfNone)
            {
                if (_current != null && _current.Length > 0)
                {
                    Submit();
                }
                else if (emptyFrameIfNone && _slots.CurrentCount == _maxInFlight)
                {
                    _current ??= Rent();
                    Submit();
                }

                WaitUntilWritten();
            }

            /// <summary>Waits until every submitted block is written (all slots are free), then rethrows a failure.</summary>
            public void WaitUntilWritten()
            {
                for (int i = 0; i < _maxInFlight; i++)
                {
                    _slots.Wait();
                }

                _slots.Release(_maxInFlight);
                ThrowIfWriteFailed();
            }

            /// <summary>Whether compressing or writing a frame failed (nothing more is written after that).</summary>
            public bool WriteFailed => _writeError != null;

            /// <summary>
            /// Rethrows on the writing thread, once, the exception that compressing or writing a frame raised (its own
            /// type and stack); later calls find the stream failed (<see cref="WriteFailed"/>) instead.
            /// </summary>
            public void ThrowIfWriteFailed()
            {
                var error = _writeError;
                if (error != null && !_writeErrorReported)
                {
                    _writeErrorReported = true;
                    error.Throw();
                }
            }

            /// <summary>Lets compressions and the writer finish (the gate is closed: nothing more reaches the output), then frees the compressors.</summary>
            public void Dispose()
            {
                if (_released)
                {
                    return;
                }

                _released = true;
                _toWrite.CompleteAdding();
                _writer?.Join();
                while (_compressors.TryTake(out var c))
                {
                    c.Dispose();
                }

                _toWrite.Dispose();
                _slots.Dispose();
            }

            private void Submit()
            {
                ThrowIfWriteFailed();
                _slots.Wait();
                ThrowIfWriteFailed(); // the writer may have failed while this thread waited for a slot
                var block = _current!;
                _current = null;
                if (_writer is null)
                {
                    _writer = new Thread(WriteLoop) { IsBackground = true, Name = "CcieDr zstd writer" };
                    _writer.Start();
                }

                _toWrite.Add(Task.Run(() => Compress(block)));
            }

            // The writer thread: frames in submission order; after a failure, it only drains (returns blocks, frees slots).
            private void WriteLoop()
            {
                foreach (var task in _toWrite.GetConsumingEnumerable())
                {
                    Block? block = null;
                    try
                    {
                        block = task.GetAwaiter().GetResult();
                        if (_writeError is null)
                        {
                            _gate.Write(block.Output, 0, block.OutputLength);
                            Interlocked.Increment(ref _framesWritten);
                        }
                    }
#pragma warning disable CA1031 // Handed to the writing thread, which rethrows it as it was thrown.
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        _writeError ??= ExceptionDispatchInfo.Capture(ex);
                    }
                    finally
                    {
                        if (block != null)
                        {
                            Return(block);
                        }

                        _slots.Release(); // after the write: a free slot means that block is out
                    }
                }
            }

            private Block Compress(Block block)
            {
                if (!_compressors.TryTake(out var compressor))
                {
                    compressor = ZstdBlockCompressor.Create(_options.Implementation, _options.Level, _options.Checksum);
                }

                try
                {
                    block.OutputLength = compressor.Compress(block.Input, block.Length, block.Output);
                }
                finally
                {
                    _compressors.Add(compressor);
                }

                return block;
            }

            private Block Rent()
            {
                if (_free.TryTake(out var block))
                {
                    return block;
                }

                return new Block(_options.BlockSize, Compressor.GetCompressBound(_options.BlockSize));
            }

            private void Return(Block block)
            {
                block.Length = 0;
                block.OutputLength = 0;
                _free.Add(block);
            }
        }

        private sealed class Block
        {
            public Block(int size, int bound)
            {
                Input = new byte[size];
                Output = new byte[bound];
            }

            public byte[] Input { get; }

            public byte[] Output { get; }

            public int Length { get; set; }

            public int OutputLength { get; set; }
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
