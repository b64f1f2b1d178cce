using System;
using System.Collections.Concurrent;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace CcieDr.Engine.Archive
{
    /// <summary>
    /// Decodes multi-stream bzip2 (the pbzip2 layout, which Backup-CcieData writes too) on every core.
    /// lbzip2 writes one stream of many blocks: that decodes as a single stream, on one core.
    /// A reader thread cuts the compressed input at stream starts ("BZh1".."BZh9" followed by the
    /// block magic 0x314159265359), each segment is decoded by its own libbz2 decoder on the thread
    /// pool, and the output is handed back in order. Every segment must decode to complete streams,
    /// so a false cut (the signature occurring inside compressed data) makes the decode fail loudly
    /// rather than produce wrong data. Single-stream input (GNU tar -cjf) and oversized segments
    /// fall back to streaming decoding. Memory is bounded: at most <c>depth</c> segments of at most
    /// <see cref="MaxSegmentBytes"/> compressed and <see cref="MaxDecodedBytes"/> decoded.
    /// </summary>
    internal sealed class ParallelBzip2DecompressStream : Bzip2DecompressStream
    {
        internal const int MaxSegmentBytes = 16 * 1024 * 1024;
        internal const int MaxDecodedBytes = 16 * 1024 * 1024;
        private const int ReadSize = 1024 * 1024;

        private readonly Stream _input;
        private readonly bool _leaveOpen;
        private readonly BlockingCollection<Segment> _queue;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly Thread _reader;
        private byte[]? _out;
        private int _outPos;
        private int _outLen;
        private Stream? _streaming;
        private Bzip2DecompressStream? _streamingDecoder;
        private int _streamsBefore;
        private readonly Counter _compressed = new Counter();
        private bool _done;
        private bool _any;
        private bool _disposed;

        private readonly int _maxSegment;
        private readonly int _maxDecoded;

        internal ParallelBzip2DecompressStream(Stream input, bool leaveOpen, int threads, int maxSegmentBytes = MaxSegmentBytes, int maxDecodedBytes = MaxDecodedBytes)
        {
            _maxSegment = maxSegmentBytes;
            _maxDecoded = maxDecodedBytes;
            _input = input;
            _leaveOpen = leaveOpen;
            _queue = new BlockingCollection<Segment>(Math.Max(2, threads + 1));
            _reader = new Thread(Split) { IsBackground = true, Name = "CcieDr bzip2 splitter" };
            _reader.Start();
        }

        public override long CompressedBytesRead => Interlocked.Read(ref _compressed.Value);

        public override int StreamsCompleted => _streamsBefore + (_streamingDecoder?.StreamsCompleted ?? 0);

        public override string ImplementationName => "native-parallel";

        protected override int ReadCore(byte[] buffer, int offset, int count)
        {
            while (true)
            {
                if (_outPos < _outLen)
                {
                    int n = Math.Min(count, _outLen - _outPos);
                    Buffer.BlockCopy(_out!, _outPos, buffer, offset, n);
                    _outPos += n;
                    return n;
                }

                if (_streaming != null)
                {
                    int n = _streaming.Read(buffer, offset, count);
                    if (n > 0)
                    {
                        return n;
                    }

                    _streamsBefore += _streamingDecoder!.StreamsCompleted;
                    _streaming.Dispose();
                    _streaming = null;
                    _streamingDecoder = null;
                }

                if (_done)
                {
                    return 0;
                }

                var seg = _queue.Take(_stop.Token);
                if (seg.Error != null)
                {
                    _done = true;
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(seg.Error).Throw();
                }

                if (seg.End)
                {
                    _done = true;
                    if (!_any)
                    {
                        throw new ArchiveCorruptException("The archive is empty: no bzip2 data.");
                    }

                    return 0;
                }

                _any = true;
                if (seg.Rest != null)
                {
                    // No stream start within MaxSegmentBytes (single-stream archive): decode the rest as one stream.
                    _done = true;
                    var rest = new PrefixedStream(seg.Rest, seg.RestLength, _input, this);
                    _streamingDecoder = new NativeBzip2DecompressStream(rest, leaveOpen: true);
                    _streaming = _streamingDecoder;
                    continue;
                }

                Decoded d;
                try
                {
                    d = seg.Work!.GetAwaiter().GetResult();
                }
                catch (ArchiveCorruptException ex)
                {
                    _done = true;
                    throw new ArchiveCorruptException($"{ex.Message} (in the bzip2 stream at compressed offset {seg.Offset})", ex);
                }

                if (d.TooBig)
                {
                    _streamingDecoder = new NativeBzip2DecompressStream(new MemoryStream(seg.Compressed!, 0, seg.Length, false), leaveOpen: false);
                    _streaming = _streamingDecoder;
                    continue;
                }

                _streamsBefore += d.Streams;
                _out = d.Data;
                _outPos = 0;
                _outLen = d.Length;
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                _stop.Cancel();
                _reader.Join();
                _streaming?.Dispose();
                while (_queue.TryTake(out var s))
                {
                    s.Work?.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
                }

                _queue.Dispose();
                _stop.Dispose();
                if (!_leaveOpen)
                {
                    _input.Dispose();
                }
            }

            base.Dispose(disposing);
        }

        private static bool IsStreamStart(byte[] b, int p) =>
            b[p] == 0x42 && b[p + 1] == 0x5A && b[p + 2] == 0x68 && b[p + 3] >= 0x31 && b[p + 3] <= 0x39
            && b[p + 4] == 0x31 && b[p + 5] == 0x41 && b[p + 6] == 0x59 && b[p + 7] == 0x26 && b[p + 8] == 0x53 && b[p + 9] == 0x59;

        private static Decoded Decode(byte[] compressed, int length, int maxDecoded)
        {
            using var dec = new NativeBzip2DecompressStream(new MemoryStream(compressed, 0, length, false), leaveOpen: false);
            var data = new byte[Math.Min(maxDecoded, Math.Max(64 * 1024, length * 4))];
            int len = 0;
            while (true)
            {
                if (len == data.Length)
                {
                    if (data.Length >= maxDecoded)
                    {
                        // Check whether it really is more, without keeping it.
                        var probe = new byte[1];
                        if (dec.Read(probe, 0, 1) > 0)
                        {
                            return new Decoded(null, 0, 0, tooBig: true);
                        }

                        break;
                    }

                    Array.Resize(ref data, Math.Min(maxDecoded, data.Length * 2));
                }

                int n = dec.Read(data, len, data.Length - len);
                if (n <= 0)
                {
                    break;
                }

                len += n;
            }

            return new Decoded(data, len, dec.StreamsCompleted, tooBig: false);
        }

        private void Split()
        {
            var token = _stop.Token;
            byte[] win = new byte[2 * ReadSize];
            int len = 0;
            int scan = 1;
            long segOffset = 0;
            try
            {
                bool eof = false;
                while (true)
                {
                    // Look for the next stream start after position 0.
                    int found = -1;
                    for (int p = scan; p + 10 <= len; p++)
                    {
                        p = Array.IndexOf(win, (byte)0x42, p, len - 10 - p + 1);
                        if (p < 0)
                        {
                            break;
                        }

                        if (IsStreamStart(win, p))
                        {
                            found = p;
                            break;
                        }
                    }

                    if (found > 0)
                    {
                        Emit(win, found, segOffset, token);
                        segOffset += found;
                        Buffer.BlockCopy(win, found, win, 0, len - found);
                        len -= found;
                        scan = 1;
                        continue;
                    }

                    scan = Math.Max(1, len - 9);
                    if (eof)
                    {
                        if (len > 0)
                        {
                            Emit(win, len, segOffset, token);
                        }

                        _queue.Add(Segment.EndMarker, token);
                        return;
                    }

                    if (len >= _maxSegment)
                    {
                        var rest = new byte[len];
                        Buffer.BlockCopy(win, 0, rest, 0, len);
                        _queue.Add(new Segment { Rest = rest, RestLength = len, Offset = segOffset }, token);
                        return; // the consumer reads the remaining input itself
                    }

                    if (win.Length - len < ReadSize)
                    {
                        Array.Resize(ref win, win.Length * 2);
                    }

                    int n = _input.Read(win, len, ReadSize);
                    if (n <= 0)
                    {
                        eof = true;
                    }
                    else
                    {
                        len += n;
                        Interlocked.Add(ref _compressed.Value, n);
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
                    _queue.Add(new Segment { Error = ex }, token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        private void Emit(byte[] win, int length, long offset, CancellationToken token)
        {
            var copy = new byte[length];
            Buffer.BlockCopy(win, 0, copy, 0, length);
            var seg = new Segment { Compressed = copy, Length = length, Offset = offset };
            int cap = _maxDecoded;
            seg.Work = Task.Run(() => Decode(copy, length, cap), CancellationToken.None);
            _queue.Add(seg, token);
        }

        private sealed class Segment
        {
            internal static readonly Segment EndMarker = new Segment { End = true };

            internal byte[]? Compressed { get; set; }

            internal int Length { get; set; }

            internal long Offset { get; set; }

            internal Task<Decoded>? Work { get; set; }

            internal byte[]? Rest { get; set; }

            internal int RestLength { get; set; }

            internal bool End { get; set; }

            internal Exception? Error { get; set; }
        }

        private sealed class Counter
        {
            internal long Value;
        }

        private sealed class Decoded
        {
            internal Decoded(byte[]? data, int length, int streams, bool tooBig)
            {
                Data = data;
                Length = length;
                Streams = streams;
                TooBig = tooBig;
            }

            internal byte[]? Data { get; }

            internal int Length { get; }

            internal int Streams { get; }

            internal bool TooBig { get; }
        }

        /// <summary>The buffered prefix, then the rest of the input (counted for progress).</summary>
        private sealed class PrefixedStream : Stream
        {
            private readonly byte[] _prefix;
            private readonly int _prefixLength;
            private readonly Stream _rest;
            private readonly ParallelBzip2DecompressStream _owner;
            private int _pos;

            internal PrefixedStream(byte[] prefix, int prefixLength, Stream rest, ParallelBzip2DecompressStream owner)
            {
                _prefix = prefix;
                _prefixLength = prefixLength;
                _rest = rest;
                _owner = owner;
            }

            public override bool CanRead => true;

            public override bool CanSeek => false;

            public override bool CanWrite => false;

            public override long Length => throw new NotSupportedException();

            public override long Position
            {
                get => throw new NotSupportedException();
                set => throw new NotSupportedException();
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                if (_pos < _prefixLength)
                {
                    int n = Math.Min(count, _prefixLength - _pos);
                    Buffer.BlockCopy(_prefix, _pos, buffer, offset, n);
                    _pos += n;
                    return n;
                }

                int r = _rest.Read(buffer, offset, count);
                if (r > 0)
                {
                    Interlocked.Add(ref _owner._compressed.Value, r);
                }

                return r;
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
