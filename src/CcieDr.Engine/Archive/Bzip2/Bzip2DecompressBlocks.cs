using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Archive.Common;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>
    /// Decodes bzip2 streams of many blocks (GNU <c>tar -cjf</c>, <c>bzip2</c>, <c>lbzip2</c>) on every core. A reader
    /// thread cuts the input at every 48-bit block or end-of-stream magic, at any bit offset
    /// (<see cref="Bzip2BlockScanner"/>); each piece is decoded on the thread pool, two at a time by one
    /// <see cref="Bzip2ManagedDecoder"/>, and handed back in order. A block is accepted only when it starts where the
    /// previous one ended, decodes, ends exactly at the next cut and matches its CRC; the end-of-stream trailer must
    /// match the blocks' combined CRC. A cut that is not a true boundary (the pattern inside compressed data) makes
    /// the piece before it fail: it is merged with the next piece and decoded again. A piece that still fails is the
    /// archive's damage, reported as <see cref="ArchiveCorruptException"/>. Concatenated streams decode too.
    /// Memory is bounded: a few pieces per core in flight, each at most <see cref="MaxPieceBytes"/> compressed and
    /// <see cref="OutputSize"/> decoded (a block that expands further is expanded on by the reading thread).
    /// </summary>
    internal sealed class BlockParallelBzip2DecompressStream : Bzip2DecompressStream
    {
        /// <summary>A block of 900,000 symbols of at most 20 bits, plus its tables: no true block is longer.</summary>
        internal const int MaxPieceBytes = (Bzip2ManagedDecoder.MaxBlockLength * 20 / 8) + (64 * 1024);
        internal const int OutputSize = 2 * 1024 * 1024;
        private const int ReadSize = 1024 * 1024;
        private const int InputSize = 1024 * 1024;

        private readonly Stream _input;
        private readonly bool _leaveOpen;
        private readonly long _baseOffset;
        private readonly int _threads;
        private readonly BlockingCollection<Piece> _queue;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly Thread _reader;
        private readonly BufferBag _outputs;
        private readonly BufferBag _inputs;
        private readonly BlockingCollection<Piece[]> _work = new BlockingCollection<Piece[]>();
        private readonly Thread[] _workers;
        private readonly long[] _falseCuts;
        private Bzip2ManagedDecoder? _mergeDecoder;
        private Piece? _held; // reader thread only: a block piece waiting for a partner
        private Piece? _peeked; // consumer only: taken from the queue while merging, not yet used
        private long _compressedRead;
        private int _merges;

        // Consumer state.
        private byte[]? _out;
        private int _outPos;
        private int _outLen;
        private Bzip2BlockResult? _expanding; // a block that did not fit its output
        private long _expandingOffset;
        private byte[]? _chunk;
        private long _expected;
        private int _level;
        private uint _streamCrc;
        private int _streams;
        private bool _inStream;
        private bool _done;
        private bool _disposed;

        /// <param name="input">The input, at the start of a stream ("BZh1".."BZh9").</param>
        /// <param name="leaveOpen">Whether to leave <paramref name="input"/> open on dispose.</param>
        /// <param name="threads">Cores to decode on.</param>
        /// <param name="baseOffset">Offset of <paramref name="input"/>'s first byte in the archive (for messages).</param>
        /// <param name="falseCuts">Tests only: bit offsets to cut at as if the magic were found there.</param>
        internal BlockParallelBzip2DecompressStream(Stream input, bool leaveOpen, int threads, long baseOffset = 0, long[]? falseCuts = null)
        {
            _falseCuts = falseCuts ?? Array.Empty<long>();
            Array.Sort(_falseCuts);
            _input = input;
            _leaveOpen = leaveOpen;
            _baseOffset = baseOffset;
            _threads = Math.Max(1, threads);
            _queue = new BlockingCollection<Piece>(Math.Max(4, (2 * _threads) + 2));
            _outputs = new BufferBag(OutputSize, _queue.BoundedCapacity + 4);
            _inputs = new BufferBag(InputSize, _queue.BoundedCapacity + 4);
            _expected = 32;
            _workers = new Thread[_threads];
            for (int i = 0; i < _threads; i++)
            {
                _workers[i] = new Thread(Work) { IsBackground = true, Name = "CcieDr bzip2 block decoder" };
                _workers[i].Start();
            }

            _reader = new Thread(Split) { IsBackground = true, Name = "CcieDr bzip2 block splitter" };
            _reader.Start();
        }

        public override long CompressedBytesRead => Interlocked.Read(ref _compressedRead);

        public override int StreamsCompleted => _streams;

        public override string ImplementationName => "managed-blocks";

        /// <summary>Pieces merged with the next because their end was not a true block boundary (or the data is damaged).</summary>
        internal int Merges => _merges;

        protected override int ReadCore(byte[] buffer, int offset, int count)
        {
            if (_disposed)
            {
                throw new ObjectDisposedException(nameof(BlockParallelBzip2DecompressStream));
            }

            try
            {
                return ReadBlocks(buffer, offset, count);
            }
            catch (ArchiveCorruptException e) when (!e.Message.Contains(OneCoreHint, StringComparison.Ordinal))
            {
                // Nothing wrong was returned (every block CRC is checked); if another tool reads the archive, the
                // operator can still restore it on one core today.
                throw new ArchiveCorruptException($"{e.Message.TrimEnd()} {OneCoreHint}", e);
            }
        }

        /// <summary>What to do when this decoder refuses an archive that other tools read.</summary>
        internal const string OneCoreHint = "(Decoded block by block on every core: if 'bzip2 -t' finds the archive intact, rerun with the environment variable CCIEDR_BZIP2_BLOCKS=0 to decode it on one core, and report it.)";

        private int ReadBlocks(byte[] buffer, int offset, int count)
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

                if (_expanding != null)
                {
                    ExpandMore();
                    continue;
                }

                if (_done)
                {
                    return 0;
                }

                var piece = Take();
                if (piece.Error != null)
                {
                    _done = true;
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(piece.Error).Throw();
                }

                if (piece.End)
                {
                    _done = true;
                    if (_inStream)
                    {
                        throw Bzip2DecompressNative.Truncated($"{_baseOffset + CompressedBytesRead} compressed bytes");
                    }

                    return 0;
                }

                Accept(piece);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                _stop.Cancel();
                _reader.Join();
                foreach (var w in _workers)
                {
                    w.Join(); // each finishes at most the piece pair in hand
                }

                _work.Dispose();
                Forget(_peeked);
                while (_queue.TryTake(out var p))
                {
                    Forget(p);
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

        private static void Forget(Piece? p) => p?.Work?.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);

        private Piece Take()
        {
            if (_peeked != null)
            {
                var p = _peeked;
                _peeked = null;
                return p;
            }

            return _queue.Take(_stop.Token);
        }

        private long Offset(long bit) => _baseOffset + (bit >> 3);

        /// <summary>Takes the piece at the expected position: a block or a stream end, merged with the next ones while it fails.</summary>
        private void Accept(Piece piece)
        {
            if (piece.StartBit != _expected)
            {
                throw new InvalidOperationException($"bzip2 block splitter out of step: piece at bit {piece.StartBit}, expected {_expected}.");
            }

            var outcome = Evaluate(piece, Wait(piece));
            if (outcome.Error != null)
            {
                // Reported if merging does not help: the first failure is where the damage (or the cut input) is.
                var first = outcome.Error;
                while (outcome.Error != null && outcome.Mergeable && piece.EndBit - piece.StartBit < (long)MaxPieceBytes * 8)
                {
                    var next = Take();
                    if (next.End || next.Error != null)
                    {
                        _peeked = next;
                        break;
                    }

                    Interlocked.Increment(ref _merges);
                    Discard(outcome.Result);
                    Discard(Wait(next));
                    piece = Merge(piece, next);
                    outcome = Evaluate(piece, piece.IsEnd ? null : DecodeHere(piece));
                }

                if (outcome.Error != null)
                {
                    _done = true;
                    Discard(outcome.Result);
                    throw first;
                }
            }

            _inputs.Return(piece.Data);
            _expected = piece.EndBit;
            if (outcome.Result is null)
            {
                return; // a stream end
            }

            var res = outcome.Result;
            ReleaseOut();
            _out = res.Output;
            _outPos = 0;
            _outLen = res.OutLength;
            if (res.Pending != null)
            {
                _expanding = res;
                _expandingOffset = Offset(piece.StartBit);
            }
            else
            {
                _streamCrc = ((_streamCrc << 1) | (_streamCrc >> 31)) ^ res.StoredCrc;
            }
        }

        /// <summary>Continues a block that expands to more than one output buffer; checks its CRC at the end.</summary>
        private void ExpandMore()
        {
            var r = _expanding!;
            if (!r.Rle.Done)
            {
                _chunk ??= new byte[OutputSize];
                _outLen = Bzip2ManagedDecoder.ExpandMore(r, _chunk);
                _outPos = 0;
                ReleaseOut();
                _out = _chunk;
                if (_outLen > 0)
                {
                    return;
                }
            }

            _expanding = null;
            if (r.Rle.Crc != r.StoredCrc)
            {
                _done = true;
                throw Bzip2DecompressNative.Failure(Bzip2DecompressNative.BZ_DATA_ERROR, _streams, "at compressed offset " + _expandingOffset.ToString(CultureInfo.InvariantCulture) + " (block CRC)");
            }

            _streamCrc = ((_streamCrc << 1) | (_streamCrc >> 31)) ^ r.StoredCrc;
        }

        /// <summary>The decode result of a piece; null when the decode itself failed (judged as undecodable).</summary>
        private static Bzip2BlockResult? Wait(Piece p)
        {
            try
            {
                return p.Work?.GetAwaiter().GetResult();
            }
#pragma warning disable CA1031 // a decoder fault is judged like damaged data
            catch (Exception) when (p.Work != null && !p.Work.IsCanceled)
#pragma warning restore CA1031
            {
                return null;
            }
        }

        /// <summary>Gives the output buffer being read back to the pool (the expansion buffer is kept).</summary>
        private void ReleaseOut()
        {
            if (_out != null && !ReferenceEquals(_out, _chunk))
            {
                _outputs.Return(_out);
            }

            _out = null;
        }

        private void Discard(Bzip2BlockResult? r)
        {
            if (r?.Output != null)
            {
                _outputs.Return(r.Output);
                r.Output = null;
            }
        }

        private Bzip2BlockResult DecodeHere(Piece piece)
        {
            _mergeDecoder ??= new Bzip2ManagedDecoder();
            var output = _outputs.Rent();
            return Decode(_mergeDecoder, new[] { piece }, new[] { output })[0];
        }

        /// <summary>Judges a piece: a block's decode result, or (for a piece starting with the end-of-stream magic) the trailer.</summary>
        private Outcome Evaluate(Piece piece, Bzip2BlockResult? r)
        {
            string at = "at compressed offset " + Offset(piece.StartBit).ToString(CultureInfo.InvariantCulture);
            if (piece.IsEnd)
            {
                return EvaluateEnd(piece, at);
            }

            if (r is null)
            {
                return Outcome.Fail(Bzip2DecompressNative.Failure(Bzip2DecompressNative.BZ_DATA_ERROR, _streams, at), mergeable: true);
            }

            if (r.Status == Bzip2BlockStatus.Ok && r.BlockLength <= _level * 100_000)
            {
                return Outcome.Good(r);
            }

            if (piece.AtEof)
            {
                // No trailer after this block: the input was cut (or the trailer is damaged).
                return Outcome.Fail(Bzip2DecompressNative.Truncated($"{Offset(piece.EndBit)} compressed bytes"), mergeable: false, r);
            }

            string why = r.Status switch
            {
                Bzip2BlockStatus.Randomised => "a randomised block (bzip2 0.9.0), which this decoder does not support: decompress the archive with bzip2 -d first,",
                Bzip2BlockStatus.NotABlock => "no block where one should start",
                _ => string.Empty,
            };
            var error = why.Length == 0
                ? Bzip2DecompressNative.Failure(Bzip2DecompressNative.BZ_DATA_ERROR, _streams, at)
                : new ArchiveCorruptException($"bzip2: {why} {at}; the archive is corrupt.");
            return Outcome.Fail(error, mergeable: r.Status != Bzip2BlockStatus.Randomised, r);
        }

        /// <summary>The end-of-stream trailer: combined CRC, padding, then the input's end or the next stream's header.</summary>
        private Outcome EvaluateEnd(Piece piece, string at)
        {
            var data = piece.Data.AsSpan(0, piece.Length);
            long rel = piece.StartBit - (piece.DataByte * 8);
            uint stored = Bzip2BlockScanner.ReadBits(data, rel + 48, 32);
            long padded = ((piece.StartBit + 80 + 7) / 8) * 8; // the next stream starts on a byte boundary
            if (piece.AtEof)
            {
                if (padded > piece.EndBit)
                {
                    return Outcome.Fail(Bzip2DecompressNative.Truncated($"{Offset(piece.EndBit)} compressed bytes"), mergeable: false);
                }

                if (padded < piece.EndBit)
                {
                    return Outcome.Fail(Bzip2DecompressNative.Failure(Bzip2DecompressNative.BZ_DATA_ERROR_MAGIC, _streams + 1, "at compressed offset " + Offset(padded).ToString(CultureInfo.InvariantCulture)), mergeable: false);
                }
            }
            else
            {
                int h = (int)((padded / 8) - piece.DataByte);
                bool header = piece.EndBit == padded + 32 && h + 4 <= piece.Length
                    && data[h] == 0x42 && data[h + 1] == 0x5A && data[h + 2] == 0x68 && data[h + 3] >= 0x31 && data[h + 3] <= 0x39;
                if (!header)
                {
                    // Either a false cut inside the trailer's bits, or garbage between streams.
                    return Outcome.Fail(Bzip2DecompressNative.Failure(Bzip2DecompressNative.BZ_DATA_ERROR_MAGIC, _streams + 1, "at compressed offset " + Offset(padded).ToString(CultureInfo.InvariantCulture)), mergeable: true);
                }
            }

            if (stored != _streamCrc)
            {
                return Outcome.Fail(new ArchiveCorruptException($"bzip2: data integrity error (the stream's combined CRC does not match its blocks) {at}; the archive is corrupt."), mergeable: false);
            }

            _streams++;
            _streamCrc = 0;
            _inStream = !piece.AtEof;
            if (_inStream)
            {
                int h = (int)((padded / 8) - piece.DataByte);
                _level = data[h + 3] - '0';
            }

            return Outcome.Good(null);
        }

        private Piece Merge(Piece a, Piece b)
        {
            int keep = (int)(b.DataByte - a.DataByte);
            var data = new byte[keep + b.Length];
            Buffer.BlockCopy(a.Data, 0, data, 0, keep);
            Buffer.BlockCopy(b.Data, 0, data, keep, b.Length);
            _inputs.Return(a.Data);
            _inputs.Return(b.Data);
            return new Piece
            {
                Data = data,
                Length = data.Length,
                DataByte = a.DataByte,
                StartBit = a.StartBit,
                EndBit = b.EndBit,
                AtEof = b.AtEof,
                IsEnd = a.IsEnd,
            };
        }

        private static Bzip2BlockResult[] Decode(Bzip2ManagedDecoder decoder, Piece[] pieces, byte[][] outputs)
        {
            var ranges = new Bzip2BlockRange[pieces.Length];
            for (int i = 0; i < pieces.Length; i++)
            {
                var p = pieces[i];
                ranges[i] = new Bzip2BlockRange(p.Data, p.Length, (int)(p.StartBit - (p.DataByte * 8)), p.EndBit - (p.DataByte * 8));
            }

            return decoder.DecodeBlocks(ranges, outputs);
        }

        // ---- Reader thread ----

        private void Split()
        {
            var token = _stop.Token;
            byte[] win = new byte[4 * ReadSize];
            int len = 0;
            long winByte = 0; // archive byte of win[0]
            try
            {
                bool eof = false;
                while (len < 4 && !eof)
                {
                    eof = !Fill(ref win, ref len);
                }

                if (len == 0)
                {
                    throw new ArchiveCorruptException("The archive is empty: no bzip2 data.");
                }

                if (len < 4 || win[0] != 0x42 || win[1] != 0x5A || win[2] != 0x68 || win[3] < 0x31 || win[3] > 0x39)
                {
                    throw Bzip2DecompressNative.Failure(Bzip2DecompressNative.BZ_DATA_ERROR_MAGIC, 0, "at compressed offset " + _baseOffset.ToString(CultureInfo.InvariantCulture));
                }

                _level = win[3] - '0';
                _inStream = true;
                long boundary = 32;
                long scanFrom = 33;
                while (true)
                {
                    token.ThrowIfCancellationRequested();
                    long c = Bzip2BlockScanner.Find(win.AsSpan(0, len), scanFrom - (winByte * 8), eof, out _, out long resume);
                    long planted = PlantedCut(boundary, c < 0 ? (eof ? (winByte + len) * 8 : resume + (winByte * 8)) : c + (winByte * 8));
                    if (c >= 0 || planted >= 0)
                    {
                        long cut = planted >= 0 ? planted : c + (winByte * 8);
                        Emit(win, winByte, len, boundary, cut, atEof: false, token);
                        boundary = cut;
                        scanFrom = cut + 1;
                        continue;
                    }

                    if (eof)
                    {
                        Emit(win, winByte, len, boundary, (winByte + len) * 8, atEof: true, token);
                        FlushHeld();
                        _work.CompleteAdding();
                        _queue.Add(Piece.EndMarker, token);
                        return;
                    }

                    scanFrom = resume + (winByte * 8);
                    long keepFrom = boundary >> 3;
                    if ((winByte + len - keepFrom) > MaxPieceBytes)
                    {
                        throw new ArchiveCorruptException($"bzip2: no block boundary within {MaxPieceBytes} bytes after compressed offset {Offset(boundary)}; the archive is corrupt.");
                    }

                    if (win.Length - len < ReadSize)
                    {
                        // Drop what is before the current piece; grow only if that is not enough.
                        int drop = (int)(keepFrom - winByte);
                        if (drop > 0)
                        {
                            Buffer.BlockCopy(win, drop, win, 0, len - drop);
                            len -= drop;
                            winByte += drop;
                        }

                        if (win.Length - len < ReadSize)
                        {
                            Array.Resize(ref win, win.Length * 2);
                        }
                    }

                    eof = !Fill(ref win, ref len);
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception ex)
            {
                FlushHeld();
                try
                {
                    _queue.Add(new Piece { Error = ex }, token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        /// <summary>A test's planted cut after <paramref name="boundary"/> and before <paramref name="before"/>, or -1.</summary>
        private long PlantedCut(long boundary, long before)
        {
            foreach (var f in _falseCuts)
            {
                if (f > boundary && f < before)
                {
                    return f;
                }
            }

            return -1;
        }

        private bool Fill(ref byte[] win, ref int len)
        {
            int n = _input.Read(win, len, Math.Min(ReadSize, win.Length - len));
            if (n <= 0)
            {
                return false;
            }

            len += n;
            Interlocked.Add(ref _compressedRead, n);
            return true;
        }

        private void Emit(byte[] win, long winByte, int len, long startBit, long endBit, bool atEof, CancellationToken token)
        {
            long first = startBit >> 3;
            long last = Math.Min((endBit + 7) >> 3, winByte + len);
            int length = (int)(last - first);
            var copy = _inputs.Rent(length);
            Buffer.BlockCopy(win, (int)(first - winByte), copy, 0, length);
            bool isEnd = Bzip2BlockScanner.Read48(copy.AsSpan(0, length), startBit - (first * 8)) == Bzip2BlockScanner.EndMagic;
            var piece = new Piece { Data = copy, Length = length, DataByte = first, StartBit = startBit, EndBit = endBit, AtEof = atEof, IsEnd = isEnd };
            if (!isEnd)
            {
                piece.Completion = new TaskCompletionSource<Bzip2BlockResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            _queue.Add(piece, token);
            if (isEnd)
            {
                return;
            }

            if (_held is null)
            {
                _held = piece;
                return;
            }

            var a = _held;
            _held = null;
            StartDecode(a, piece);
        }

        private void FlushHeld()
        {
            var held = _held;
            _held = null;
            if (held != null)
            {
                StartDecode(held, null);
            }
        }

        private void StartDecode(Piece a, Piece? b) => _work.Add(b is null ? new[] { a } : new[] { a, b });

        /// <summary>A decoding thread: one decoder (~9 MB of scratch) per core, reused for every piece.</summary>
        private void Work()
        {
            var decoder = new Bzip2ManagedDecoder();
            try
            {
                foreach (var pieces in _work.GetConsumingEnumerable(_stop.Token))
                {
                    var outputs = new byte[pieces.Length][];
                    try
                    {
                        for (int i = 0; i < pieces.Length; i++)
                        {
                            outputs[i] = _outputs.Rent();
                        }

                        var results = Decode(decoder, pieces, outputs);
                        for (int i = 0; i < pieces.Length; i++)
                        {
                            if (results[i].Output is null)
                            {
                                _outputs.Return(outputs[i]);
                            }

                            pieces[i].Completion!.TrySetResult(results[i]);
                        }
                    }
#pragma warning disable CA1031 // handed to the consumer, which judges the piece as undecodable
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        decoder = new Bzip2ManagedDecoder(); // its state is unknown
                        foreach (var p in pieces)
                        {
                            p.Completion!.TrySetException(ex);
                        }
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        private sealed class Piece
        {
            internal static readonly Piece EndMarker = new Piece { End = true };

            internal byte[] Data { get; set; } = Array.Empty<byte>();

            internal int Length { get; set; }

            /// <summary>Archive byte (relative to the stream's input) of <see cref="Data"/>[0].</summary>
            internal long DataByte { get; set; }

            internal long StartBit { get; set; }

            internal long EndBit { get; set; }

            /// <summary>The piece runs to the end of the input.</summary>
            internal bool AtEof { get; set; }

            /// <summary>The piece starts with the end-of-stream magic.</summary>
            internal bool IsEnd { get; set; }

            internal TaskCompletionSource<Bzip2BlockResult>? Completion { get; set; }

            internal Task<Bzip2BlockResult>? Work => Completion?.Task;

            internal bool End { get; set; }

            internal Exception? Error { get; set; }
        }

        private readonly struct Outcome
        {
            private Outcome(ArchiveCorruptException? error, bool mergeable, Bzip2BlockResult? result)
            {
                Error = error;
                Mergeable = mergeable;
                Result = result;
            }

            internal ArchiveCorruptException? Error { get; }

            /// <summary>The failure may be a false cut at the piece's end: merging with the next piece may cure it.</summary>
            internal bool Mergeable { get; }

            internal Bzip2BlockResult? Result { get; }

            internal static Outcome Good(Bzip2BlockResult? r) => new Outcome(null, false, r);

            internal static Outcome Fail(ArchiveCorruptException error, bool mergeable, Bzip2BlockResult? r = null) =>
                new Outcome(error, mergeable, r);
        }
    }
}
