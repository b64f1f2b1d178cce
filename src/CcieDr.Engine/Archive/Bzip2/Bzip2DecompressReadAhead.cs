using System;
using System.Collections.Concurrent;
using System.IO;
using System.Threading;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>
    /// Decodes on a background thread into a small bounded queue of chunks so that bzip2
    /// decompression and extraction (hashing, writing) run on two cores. Memory is bounded by
    /// <c>chunkSize * depth</c>. Errors of the decoder surface on the reading side, in order.
    /// </summary>
    internal sealed class Bzip2DecompressReadAhead : Stream
    {
        private const int ChunkSize = 1024 * 1024;
        private const int Depth = 8;

        private readonly Stream _source;
        private readonly BlockingCollection<Chunk> _queue = new BlockingCollection<Chunk>(Depth);
        private readonly CancellationTokenSource _stop;
        private readonly Thread _thread;
        private Chunk? _current;
        private int _pos;
        private bool _end;
        private long _position;

        internal Bzip2DecompressReadAhead(Stream source, CancellationToken cancellationToken)
        {
            _source = source;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _thread = new Thread(Produce) { IsBackground = true, Name = "CcieDr bzip2 read-ahead" };
            _thread.Start();
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            while (true)
            {
                if (_end)
                {
                    return 0;
                }

                if (_current != null && _pos < _current.Length)
                {
                    int n = Math.Min(count, _current.Length - _pos);
                    Buffer.BlockCopy(_current.Data!, _pos, buffer, offset, n);
                    _pos += n;
                    _position += n;
                    return n;
                }

                Chunk next;
                try
                {
                    next = _queue.Take(_stop.Token);
                }
                catch (OperationCanceledException)
                {
                    _stop.Token.ThrowIfCancellationRequested();
                    throw;
                }

                if (next.Error != null)
                {
                    _end = true;
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(next.Error).Throw();
                }

                if (next.Length == 0)
                {
                    _end = true;
                    return 0;
                }

                _current = next;
                _pos = 0;
            }
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _stop.Cancel();
                _thread.Join();
                _stop.Dispose();
                _queue.Dispose();
            }

            base.Dispose(disposing);
        }

        private void Produce()
        {
            var token = _stop.Token;
            try
            {
                while (!token.IsCancellationRequested)
                {
                    var data = new byte[ChunkSize];
                    int len = 0;
                    while (len < ChunkSize)
                    {
                        int n = _source.Read(data, len, ChunkSize - len);
                        if (n <= 0)
                        {
                            break;
                        }

                        len += n;
                    }

                    _queue.Add(new Chunk(data, len, null), token);
                    if (len < ChunkSize)
                    {
                        if (len > 0)
                        {
                            _queue.Add(new Chunk(null, 0, null), token); // a 0-length chunk marks the end
                        }

                        return;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception ex)
            {
                try
                {
                    _queue.Add(new Chunk(null, 0, ex), token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        private sealed class Chunk
        {
            internal Chunk(byte[]? data, int length, Exception? error)
            {
                Data = data;
                Length = length;
                Error = error;
            }

            internal byte[]? Data { get; }

            internal int Length { get; }

            internal Exception? Error { get; }
        }
    }
}
