using System;
using System.Collections.Concurrent;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Archive.Common;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>
    /// Decodes multi-stream bzip2 (the pbzip2 layout, which Backup-CcieData writes too) on every core.
    /// bzip2 and lbzip2 write one stream of many blocks: once a stream runs past <see cref="BlockModeBytes"/>, the
    /// rest of the input goes to <see cref="BlockParallelBzip2DecompressStream"/>, which cuts it at block magics.
    /// A reader thread cuts the compressed input at stream starts ("BZh1".."BZh9" followed by the
    /// block magic 0x314159265359), each segment is decoded by its own libbz2 decoder on the thread
    /// pool, and the output is handed back in order. Every segment must decode to complete streams,
    /// so a false cut (the signature occurring inside compressed data) makes the decode fail loudly
    /// rather than produce wrong data. Segments that decode to more than <see cref="MaxDecodedBytes"/> fall back to
    /// streaming decoding. Memory is bounded: at most <c>depth</c> segments of at most
    /// <see cref="MaxSegmentBytes"/> compressed and <see cref="MaxDecodedBytes"/> decoded.
    /// </summary>
    internal sealed class ParallelBzip2DecompressStream : Bzip2DecompressStream
    {
        internal const int MaxSegmentBytes = 16 * 1024 * 1024;
        internal const int MaxDecodedBytes = 16 * 1024 * 1024;

        /// <summary>
        /// A stream longer than this is made of many blocks (a one-block stream, as pbzip2 and Backup-CcieData write
        /// them, compresses to at most ~0.9 MB): the rest of the input is decoded block by block.
        /// </summary>
        internal const int BlockModeBytes = 2 * 1024 * 1024;
        private const int ReadSize = 1024 * 1024;
        private const int OutputSize = 1024 * 1024;
        private const int InputSize = 1024 * 1024;
        private readonly BufferBag _outputs;
        private readonly BufferBag _inputs;

        private readonly Stream _input;
        private readonly bool _leaveOpen;
        private readonly BlockingCollection<Segment> _queue;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly Thread _reader;
        private byte[]? _out;
        private int _outPos;
        private int _outLen;
        private Stream? _streaming;
        private ReplayStream? _rest; // the single-stream fallback's input: buffered prefix, then _input
        private Bzip2DecompressStream? _streamingDecoder;
        private int _streamsBefore;
        private long _compressedRead; // by the splitter thread
        private readonly ConcurrentBag<Bzip2ManagedDecoder> _decoders = new ConcurrentBag<Bzip2ManagedDecoder>();
        private Segment? _held; // splitter thread only: a segment waiting for a partner
        private int _managedFallbacks;
        private bool _done;
        private bool _any;
        private bool _disposed;

        private readonly int _maxSegment;
        private readonly int _maxDecoded;
        private readonly int _threads;

        internal ParallelBzip2DecompressStream(Stream input, bool leaveOpen, int threads, int maxSegmentBytes = MaxSegmentBytes, int maxDecodedBytes = MaxDecodedBytes)
        {
            _maxSegment = maxSegmentBytes;
            _maxDecoded = maxDecodedBytes;
            _threads = Math.Max(1, threads);
            _input = input;
            _leaveOpen = leaveOpen;
            // Two segments per core in flight (a decode task takes a pair): one more pair kept a third ~9 MB decoder and
            // its buffers alive for no speed on 2 cores (peak RSS restoring the 300 MB tree 214-224 -> 164-173 MB).
            _queue = new BlockingCollection<Segment>(Math.Max(4, 2 * threads));
            _outputs = new BufferBag(Math.Min(OutputSize, maxDecodedBytes), _queue.BoundedCapacity + 2);
            _inputs = new BufferBag(InputSize, _queue.BoundedCapacity + 2);
            _reader = new Thread(Split) { IsBackground = true, Name = "CcieDr bzip2 splitter" };
            _reader.Start();
        }

        /// <summary>Bytes the splitter read, plus what the single-stream fallback read itself after its buffered prefix.</summary>
        public override long CompressedBytesRead =>
            Interlocked.Read(ref _compressedRead) + (_rest is null ? 0 : _rest.Position - _rest.PrefixLength);

        public override int StreamsCompleted => _streamsBefore + (_streamingDecoder?.StreamsCompleted ?? 0);

        public override string ImplementationName => UseManagedDecoder ? "managed-pairs+native" : "native-parallel";

        /// <summary>Segments the managed decoder handed to libbz2 (0 for archives Backup-CcieData wrote).</summary>
        internal int ManagedFallbacks => Volatile.Read(ref _managedFallbacks);

        /// <summary>
        /// Block-by-block decoding of many-block streams (GNU tar -cjf, lbzip2) on every core, every block CRC and the
        /// combined CRC checked. On by default; CCIEDR_BZIP2_BLOCKS=0 (or CCIEDR_BZIP2_DECODER=native) decodes such
        /// streams on one core with libbz2, as before.
        /// </summary>
        internal static bool UseBlockDecoder { get; set; } = !string.Equals(Environment.GetEnvironmentVariable("CCIEDR_BZIP2_DECODER"), "native", StringComparison.OrdinalIgnoreCase) &&
            !string.Equals(Environment.GetEnvironmentVariable("CCIEDR_BZIP2_BLOCKS"), "0", StringComparison.Ordinal);

        /// <summary>The managed two-chain decoder is used unless CCIEDR_BZIP2_DECODER=native (diagnostics: libbz2 only).</summary>
        internal static bool UseManagedDecoder { get; set; } =
            !string.Equals(Environment.GetEnvironmentVariable("CCIEDR_BZIP2_DECODER"), "native", StringComparison.OrdinalIgnoreCase);

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
                    // A stream of many blocks (GNU tar -cjf, bzip2, lbzip2): decode the rest block by block on every
                    // core (libbz2 streaming, on one core, when the managed decoder is switched off).
                    _done = true;
                    _rest = new ReplayStream(seg.Rest, _input, leaveOpen: true);
                    _streamingDecoder = UseBlockDecoder
                        ? new BlockParallelBzip2DecompressStream(_rest, leaveOpen: true, _threads, seg.Offset)
                        : new NativeBzip2DecompressStream(_rest, leaveOpen: true);
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
                if (_out != null)
                {
                    _outputs.Return(_out);
                }

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
                while (_decoders.TryTake(out _))
                {
                }
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

        /// <summary>
        /// Decodes the complete bzip2 stream(s) of one segment straight into a pooled array (libbz2 writes into the
        /// pinned array itself: no intermediate buffer, no copy). Our own archives decode to at most 900,000 bytes
        /// per stream, so one <see cref="OutputSize"/> array takes a whole segment without growing.
        /// </summary>
        private Decoded Decode(byte[] compressed, int length)
        {
            var strm = Marshal.AllocHGlobal(Bzip2DecompressNative.SizeOfStream);
            var inHandle = GCHandle.Alloc(compressed, GCHandleType.Pinned);
            var data = _outputs.Rent();
            int len = 0;
            int streams = 0;
            int inPos = 0;
            try
            {
                var inBase = inHandle.AddrOfPinnedObject();
                while (inPos < length)
                {
                    Bzip2DecompressNative.Init(strm);
                    try
                    {
                        while (true)
                        {
                            if (len == data.Length)
                            {
                                if (data.Length >= _maxDecoded)
                                {
                                    _outputs.Return(data);
                                    return new Decoded(null, 0, 0, tooBig: true);
                                }

                                var bigger = new byte[Math.Min(_maxDecoded, data.Length * 2)];
                                Buffer.BlockCopy(data, 0, bigger, 0, len);
                                _outputs.Return(data);
                                data = bigger;
                            }

                            var outHandle = GCHandle.Alloc(data, GCHandleType.Pinned);
                            int rc;
                            int consumed;
                            int produced;
                            try
                            {
                                rc = Bzip2DecompressNative.Step(strm, inBase + inPos, length - inPos, outHandle.AddrOfPinnedObject() + len, data.Length - len, out consumed, out produced);
                            }
                            finally
                            {
                                outHandle.Free();
                            }

                            inPos += consumed;
                            len += produced;
                            if (rc == Bzip2DecompressNative.BZ_STREAM_END)
                            {
                                streams++;
                                break;
                            }

                            if (rc != Bzip2DecompressNative.BZ_OK)
                            {
                                throw Bzip2DecompressNative.Failure(rc, streams, "at compressed offset " + inPos.ToString(System.Globalization.CultureInfo.InvariantCulture) + " of the segment");
                            }

                            if (consumed == 0 && produced == 0 && inPos == length)
                            {
                                throw Bzip2DecompressNative.Truncated($"{inPos} compressed bytes of the segment");
                            }
                        }
                    }
                    finally
                    {
                        Bzip2DecompressNative.DecompressEnd(strm);
                    }
                }

                var result = new Decoded(data, len, streams, tooBig: false);
                data = null;
                return result;
            }
            finally
            {
                if (data != null)
                {
                    _outputs.Return(data);
                }

                inHandle.Free();
                Marshal.FreeHGlobal(strm);
            }
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

                        FlushHeld();
                        _queue.Add(Segment.EndMarker, token);
                        return;
                    }

                    if (len >= _maxSegment || (UseBlockDecoder && len >= BlockModeBytes))
                    {
                        var rest = new byte[len];
                        Buffer.BlockCopy(win, 0, rest, 0, len);
                        FlushHeld();
                        _queue.Add(new Segment { Rest = rest, Offset = segOffset }, token);
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
                        Interlocked.Add(ref _compressedRead, n);
                    }
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
                    _queue.Add(new Segment { Error = ex }, token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        private void Emit(byte[] win, int length, long offset, CancellationToken token)
        {
            var copy = _inputs.Rent(length);
            Buffer.BlockCopy(win, 0, copy, 0, length);
            var seg = new Segment { Compressed = copy, Length = length, Offset = offset, Completion = new TaskCompletionSource<Decoded>(TaskCreationOptions.RunContinuationsAsynchronously) };
            _queue.Add(seg, token);

            // Segments are decoded two at a time (the managed decoder walks both blocks' chains in one loop).
            if (_held is null)
            {
                _held = seg;
                return;
            }

            var first = _held;
            _held = null;
            StartDecode(first, seg);
        }

        /// <summary>Starts the decode of a segment still waiting for a partner (end of input, errors, disposal).</summary>
        private void FlushHeld()
        {
            var held = _held;
            _held = null;
            if (held != null)
            {
                StartDecode(held, null);
            }
        }

        private void StartDecode(Segment a, Segment? b)
        {
            _ = Task.Run(
                () =>
                {
                    var segments = b is null ? new[] { a } : new[] { a, b };
                    Decoded?[] managed = DecodeManaged(segments);
                    for (int i = 0; i < segments.Length; i++)
                    {
                        var seg = segments[i];
                        try
                        {
                            var d = managed[i] ?? Decode(seg.Compressed!, seg.Length);
                            if (!d.TooBig)
                            {
                                _inputs.Return(seg.Compressed!); // else the consumer streams the segment from it
                            }

                            seg.Completion!.TrySetResult(d);
                        }
#pragma warning disable CA1031 // handed to the consumer, which rethrows it for this segment
                        catch (Exception ex)
#pragma warning restore CA1031
                        {
                            seg.Completion!.TrySetException(ex);
                        }
                    }
                },
                CancellationToken.None);
        }

        /// <summary>
        /// The managed two-chain decoder over the segments; null for a segment it did not decode (libbz2 then
        /// decodes it and gives the verdict on damaged data). Never throws.
        /// </summary>
        private Decoded?[] DecodeManaged(Segment[] segments)
        {
            var result = new Decoded?[segments.Length];
            if (!UseManagedDecoder)
            {
                return result;
            }

            var decoder = _decoders.TryTake(out var d) ? d : new Bzip2ManagedDecoder();
            var outputs = new byte[segments.Length][];
            try
            {
                var inputs = new byte[segments.Length][];
                var lengths = new int[segments.Length];
                for (int i = 0; i < segments.Length; i++)
                {
                    inputs[i] = segments[i].Compressed!;
                    lengths[i] = segments[i].Length;
                    outputs[i] = _outputs.Rent();
                }

                var decoded = decoder.Decode(inputs, lengths, outputs, _maxDecoded);
                for (int i = 0; i < segments.Length; i++)
                {
                    if (decoded[i].Length >= 0)
                    {
                        result[i] = new Decoded(outputs[i], decoded[i].Length, decoded[i].Streams, tooBig: false);
                        outputs[i] = null!;
                    }
                    else
                    {
                        Interlocked.Increment(ref _managedFallbacks);
                    }
                }
            }
#pragma warning disable CA1031 // a decoder fault must not fail the restore: libbz2 decodes the segments instead
            catch (Exception)
#pragma warning restore CA1031
            {
                Interlocked.Add(ref _managedFallbacks, segments.Length);
                decoder = new Bzip2ManagedDecoder(); // its state is unknown: not pooled
                Array.Clear(result, 0, result.Length);
            }
            finally
            {
                foreach (var o in outputs)
                {
                    if (o != null)
                    {
                        _outputs.Return(o);
                    }
                }

                if (_decoders.Count < _threads) // ~9 MB of scratch each: keep one per core
                {
                    _decoders.Add(decoder);
                }
            }

            return result;
        }

        private sealed class Segment
        {
            internal static readonly Segment EndMarker = new Segment { End = true };

            internal byte[]? Compressed { get; set; }

            internal int Length { get; set; }

            internal long Offset { get; set; }

            internal Task<Decoded>? Work => Completion?.Task;

            /// <summary>Completed by the decode task that took this segment (alone or paired).</summary>
            internal TaskCompletionSource<Decoded>? Completion { get; set; }

            internal byte[]? Rest { get; set; }

            internal bool End { get; set; }

            internal Exception? Error { get; set; }
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
    }
}
