using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Threading;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>
    /// Write-only stream that compresses what is written to it with bzip2 on several threads: the input is
    /// cut into blocks (900 kB by default), each block becomes an independent bzip2 stream, and the streams
    /// are written to the output in order (a multi-stream .bz2, as pbzip2/lbzip2 write it). Memory is bounded:
    /// at most <see cref="MaxBlocksInFlight"/> blocks are queued or being compressed; a writer that gets ahead
    /// waits for the oldest block.
    /// </summary>
    public sealed class ParallelBzip2Stream : Stream
    {
        /// <summary>Default block size: bzip2's own 900 kB block (-9).</summary>
        public const int DefaultBlockSize = 900_000;

        private readonly Stream _output;
        private readonly bool _leaveOpen;
        private readonly int _blockSize;
        private readonly CancellationToken _cancellationToken;
        private readonly BlockingCollection<Job> _work;
        private readonly Queue<Job> _pending = new Queue<Job>();
        private readonly BufferBag _inputs;
        private readonly BufferBag _outputs;
        private readonly Thread[] _workers;
        private readonly CancellationTokenSource _stop;
        private byte[] _current;
        private int _currentLength;
        private bool _completed;
        private bool _failed;
        private bool _disposed;

        /// <summary>Creates the stream.</summary>
        /// <param name="output">Where the compressed bytes go.</param>
        /// <param name="threads">Compression threads (default: processor count).</param>
        /// <param name="blockSize">Uncompressed bytes per bzip2 stream (100 kB .. 900 kB).</param>
        /// <param name="leaveOpen">Leave <paramref name="output"/> open on dispose.</param>
        /// <param name="cancellationToken">Stops compression; pending writes throw <see cref="OperationCanceledException"/>.</param>
        public ParallelBzip2Stream(Stream output, int threads = 0, int blockSize = DefaultBlockSize, bool leaveOpen = false, CancellationToken cancellationToken = default)
        {
            _output = output ?? throw new ArgumentNullException(nameof(output));
            if (blockSize < 1024 || blockSize > DefaultBlockSize)
            {
                throw new ArgumentOutOfRangeException(nameof(blockSize), "Block size must be between 1 KB and 900 kB.");
            }

            _leaveOpen = leaveOpen;
            _blockSize = blockSize;
            _cancellationToken = cancellationToken;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var n = threads > 0 ? threads : Environment.ProcessorCount;
            Threads = n;
            MaxBlocksInFlight = (3 * n) + 2;
            _work = new BlockingCollection<Job>(new ConcurrentQueue<Job>(), MaxBlocksInFlight);
            _inputs = new BufferBag(_blockSize, MaxBlocksInFlight + 2); // every block buffer there can be: never dropped
            _outputs = new BufferBag(Bzip2BlockCompressor.MaxCompressedSize(_blockSize), MaxBlocksInFlight + 2);
            _current = new byte[_blockSize];
            Bzip2NativeWorkspace.Enter();
            _workers = new Thread[n];
            for (var i = 0; i < n; i++)
            {
                _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = "ccie-bzip2-" + i };
                _workers[i].Start();
            }
        }

        /// <summary>Compression threads.</summary>
        public int Threads { get; }

        /// <summary>Most blocks buffered at once (bounds memory to about twice this many block sizes).</summary>
        public int MaxBlocksInFlight { get; }

        /// <summary>Uncompressed bytes written so far.</summary>
        public long BytesIn { get; private set; }

        /// <summary>Compressed bytes written to the output so far.</summary>
        public long BytesOut { get; private set; }

        /// <summary>bzip2 streams written to the output so far.</summary>
        public long StreamsWritten { get; private set; }

        /// <inheritdoc/>
        public override bool CanRead => false;

        /// <inheritdoc/>
        public override bool CanSeek => false;

        /// <inheritdoc/>
        public override bool CanWrite => !_completed && !_disposed;

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
            while (count > 0)
            {
                var n = Math.Min(count, _blockSize - _currentLength);
                Buffer.BlockCopy(buffer, offset, _current, _currentLength, n);
                _currentLength += n;
                offset += n;
                count -= n;
                BytesIn += n;
                if (_currentLength == _blockSize)
                {
                    SubmitCurrent();
                }
            }
        }

        /// <summary>Writes the blocks finished so far to the output (a partial block stays buffered).</summary>
        public override void Flush()
        {
            ThrowIfUnusable();
            DrainReady();
            _output.Flush();
        }

        /// <summary>Compresses the last partial block, writes every block and flushes the output. Idempotent.</summary>
        public void Complete()
        {
            if (_completed)
            {
                return;
            }

            ThrowIfUnusable();
            try
            {
                if (_currentLength > 0 || StreamsWritten + _pending.Count == 0)
                {
                    // An empty input still yields one (empty) bzip2 stream so the output is a valid .bz2.
                    SubmitCurrent();
                }

                while (_pending.Count > 0)
                {
                    WriteOldest();
                }

                _output.Flush();
                _completed = true;
            }
            catch
            {
                _failed = true;
                throw;
            }
        }

        /// <inheritdoc/>
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        /// <inheritdoc/>
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        /// <inheritdoc/>
        public override void SetLength(long value) => throw new NotSupportedException();

        /// <summary>
        /// Stops the workers. Does NOT complete the stream: call <see cref="Complete"/> first, so an exception or a
        /// cancellation never produces an archive that looks whole.
        /// </summary>
        protected override void Dispose(bool disposing)
        {
            if (!_disposed && disposing)
            {
                _disposed = true;
                _stop.Cancel();
                _work.CompleteAdding();
                foreach (var t in _workers)
                {
                    t.Join();
                }

                _work.Dispose();
                _stop.Dispose();
                Bzip2NativeWorkspace.Leave();
                if (!_leaveOpen)
                {
                    _output.Dispose();
                }
            }

            base.Dispose(disposing);
        }

        private void ThrowIfUnusable()
        {
            if (_disposed)
            {
                throw new ObjectDisposedException(nameof(ParallelBzip2Stream));
            }

            if (_completed)
            {
                throw new InvalidOperationException("The bzip2 stream is already complete.");
            }

            if (_failed)
            {
                throw new InvalidOperationException("The bzip2 stream failed earlier; its output is incomplete.");
            }

            _cancellationToken.ThrowIfCancellationRequested();
        }

        private void SubmitCurrent()
        {
            try
            {
                while (_pending.Count >= MaxBlocksInFlight)
                {
                    WriteOldest();
                }

                var job = new Job(_current, _currentLength);
                _pending.Enqueue(job);
                _work.Add(job, _cancellationToken);
                _current = _inputs.Rent();
                _currentLength = 0;
                DrainReady();
            }
            catch
            {
                _failed = true;
                throw;
            }
        }

        private void DrainReady()
        {
            while (_pending.Count > 0 && _pending.Peek().Done.IsSet)
            {
                WriteOldest();
            }
        }

        private void WriteOldest()
        {
            var job = _pending.Peek();

            // Rather than idle while the oldest block is compressed elsewhere, compress a queued block here: the
            // writing thread becomes one more compressor (and on a busy machine, one less wake-up to wait for).
            while (!job.Done.IsSet && _work.TryTake(out var queued))
            {
                Compress(queued);
            }

            job.Done.Wait(_cancellationToken);
            _pending.Dequeue();
            job.Done.Dispose();
            if (job.Error != null)
            {
                throw new IOException("bzip2 compression of a block failed: " + job.Error.Message, job.Error);
            }

            _output.Write(job.Output!, 0, job.OutputLength);
            BytesOut += job.OutputLength;
            StreamsWritten++;
            _inputs.Return(job.Input);
            _outputs.Return(job.Output!);
        }

        private void WorkerLoop()
        {
            try
            {
                foreach (var job in _work.GetConsumingEnumerable(_stop.Token))
                {
                    Compress(job);
                }
            }
            catch (OperationCanceledException)
            {
                // Disposed or cancelled: stop.
            }
        }

        private void Compress(Job job)
        {
            try
            {
                var output = _outputs.Rent();
                job.OutputLength = Bzip2BlockCompressor.Compress(job.Input, job.Length, output);
                job.Output = output;
            }
#pragma warning disable CA1031 // The failure is handed to the writer thread, which rethrows it.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                job.Error = ex;
            }
            finally
            {
                job.Done.Set();
            }
        }

        private sealed class Job
        {
            public Job(byte[] input, int length)
            {
                Input = input;
                Length = length;
            }

            public byte[] Input { get; }

            public int Length { get; }

            public byte[]? Output { get; set; }

            public int OutputLength { get; set; }

            public Exception? Error { get; set; }

            public ManualResetEventSlim Done { get; } = new ManualResetEventSlim(false);
        }
    }
}
