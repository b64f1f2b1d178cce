using System;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>How decoding one block's bit range went.</summary>
    internal enum Bzip2BlockStatus
    {
        /// <summary>Decoded, ended exactly at the range's end, CRC matches (or not yet known: see <see cref="Bzip2BlockResult.Pending"/>).</summary>
        Ok,

        /// <summary>The range does not start with the block magic.</summary>
        NotABlock,

        /// <summary>A randomised block (bzip2 0.9.0), which this decoder does not undo.</summary>
        Randomised,

        /// <summary>The block's tables or symbols are inconsistent.</summary>
        Corrupt,

        /// <summary>The block needs bits beyond the range's end (the end is not a true block boundary, or the input is cut).</summary>
        Overrun,

        /// <summary>The block ended before the range's end.</summary>
        Short,

        /// <summary>The block decoded but its CRC does not match.</summary>
        CrcMismatch,
    }

    /// <summary>One block's compressed bits: <c>Data[0..Length)</c>, from bit <c>StartBit</c> (0..7) to <c>EndBit</c>, relative to <c>Data[0]</c>.</summary>
    internal readonly struct Bzip2BlockRange
    {
        public Bzip2BlockRange(byte[] data, int length, int startBit, long endBit)
        {
            Data = data;
            Length = length;
            StartBit = startBit;
            EndBit = endBit;
        }

        public byte[] Data { get; }

        public int Length { get; }

        public int StartBit { get; }

        public long EndBit { get; }
    }

    /// <summary>The decoded block: its output (or the part that fit) and its CRCs.</summary>
    internal sealed class Bzip2BlockResult
    {
        public Bzip2BlockStatus Status { get; set; }

        /// <summary>The CRC stored in the block header.</summary>
        public uint StoredCrc { get; set; }

        /// <summary>Bytes before the run-length stage (at most the stream's block size).</summary>
        public int BlockLength { get; set; }

        public byte[]? Output { get; set; }

        public int OutLength { get; set; }

        /// <summary>When the output did not fit: the block's bytes before the run-length stage, expanded on by <see cref="Rle"/>.</summary>
        public byte[]? Pending { get; set; }

        public Bzip2Rle1 Rle;
    }

    /// <summary>
    /// bzip2's first-stage run-length decoding (four equal bytes are followed by a count of more), resumable so that
    /// a block that expands to more than its output buffer is expanded on in pieces; computes the block CRC.
    /// </summary>
    internal struct Bzip2Rle1
    {
        private int _index;
        private int _length;
        private int _last;
        private int _run;
        private int _repeat;
        private byte _repeatByte;
        private uint _crc;

        public Bzip2Rle1(int length)
        {
            _index = 0;
            _length = length;
            _last = -1;
            _run = 0;
            _repeat = 0;
            _repeatByte = 0;
            _crc = 0xFFFFFFFFu;
        }

        public readonly bool Done => _index >= _length && _repeat == 0;

        /// <summary>The block CRC, once <see cref="Done"/>.</summary>
        public readonly uint Crc => ~_crc;

        /// <summary>Expands from <paramref name="pre"/> into <paramref name="dst"/> (up to <paramref name="capacity"/> bytes); returns the bytes written.</summary>
        public unsafe int Expand(byte* pre, byte* dst, int capacity, uint* table)
        {
            int o = 0;
            int i = _index;
            int n = _length;
            int last = _last;
            int run = _run;
            uint crc = _crc;
            while (o < capacity)
            {
                if (_repeat > 0)
                {
                    int k = Math.Min(_repeat, capacity - o);
                    byte c = _repeatByte;
                    for (int j = 0; j < k; j++)
                    {
                        dst[o++] = c;
                        crc = (crc << 8) ^ table[(crc >> 24) ^ c];
                    }

                    _repeat -= k;
                    continue;
                }

                if (i >= n)
                {
                    break;
                }

                byte b = pre[i++];
                if (run == 4)
                {
                    _repeat = b;
                    _repeatByte = (byte)last;
                    run = 0;
                    last = -1;
                    continue;
                }

                dst[o++] = b;
                crc = (crc << 8) ^ table[(crc >> 24) ^ b];
                if (b == last)
                {
                    run++;
                }
                else
                {
                    last = b;
                    run = 1;
                }
            }

            _index = i;
            _last = last;
            _run = run;
            _crc = crc;
            return o;
        }
    }

    /// <summary>Block-level decoding: one or two blocks given by their bit ranges (single-stream archives cut at block magics).</summary>
    internal sealed partial class Bzip2ManagedDecoder
    {
        /// <summary>The largest block (bytes before the run-length stage): level 9.</summary>
        internal const int MaxBlockLength = 900_000;

        /// <summary>
        /// Decodes the blocks of <paramref name="ranges"/> (one or two; two walk their chains together) into
        /// <paramref name="outputs"/>. A block whose output does not fit keeps its pre-run-length bytes in
        /// <see cref="Bzip2BlockResult.Pending"/>, its CRC checked once expanded. Never throws on bad data.
        /// </summary>
        public Bzip2BlockResult[] DecodeBlocks(Bzip2BlockRange[] ranges, byte[][] outputs)
        {
            int n = ranges.Length;
            if (n < 1 || n > 2)
            {
                throw new ArgumentOutOfRangeException(nameof(ranges));
            }

            var results = new Bzip2BlockResult[n];
            int ready = 0;
            for (int i = 0; i < n; i++)
            {
                var c = _cursors[i];
                var status = c.ReadRangeBlock(ranges[i]);
                results[i] = new Bzip2BlockResult { Status = status, StoredCrc = c.StoredCrc, BlockLength = c.BlockLength };
                c.HasBlock = status == Bzip2BlockStatus.Ok;
                if (c.HasBlock)
                {
                    ready++;
                }
            }

            if (ready == 2)
            {
                WalkPair(_cursors[0], _cursors[1]);
            }
            else
            {
                for (int i = 0; i < n; i++)
                {
                    if (_cursors[i].HasBlock)
                    {
                        WalkOne(_cursors[i]);
                    }
                }
            }

            for (int i = 0; i < n; i++)
            {
                var c = _cursors[i];
                if (c.HasBlock)
                {
                    Expand(c, results[i], outputs[i]);
                }

                c.Release();
            }

            return results;
        }

        private static unsafe void Expand(Cursor c, Bzip2BlockResult r, byte[] output)
        {
            var rle = new Bzip2Rle1(c.BlockLength);
            int produced;
            fixed (byte* pre = c.Pre)
            fixed (byte* dst = output)
            fixed (uint* table = CrcTable)
            {
                produced = rle.Expand(pre, dst, output.Length, table);
            }

            r.Output = output;
            r.OutLength = produced;
            r.Rle = rle;
            if (!rle.Done)
            {
                r.Pending = c.Pre.AsSpan(0, c.BlockLength).ToArray();
            }
            else if (rle.Crc != r.StoredCrc)
            {
                r.Status = Bzip2BlockStatus.CrcMismatch;
            }
        }

        /// <summary>Expands a block that did not fit its output further (see <see cref="Bzip2BlockResult.Pending"/>).</summary>
        internal static unsafe int ExpandMore(Bzip2BlockResult r, byte[] output)
        {
            fixed (byte* pre = r.Pending)
            fixed (byte* dst = output)
            fixed (uint* table = CrcTable)
            {
                return r.Rle.Expand(pre, dst, output.Length, table);
            }
        }

        private sealed partial class Cursor
        {
            public uint StoredCrc => _blockCrc;

            /// <summary>Reads one block from a bit range: magic, header, tables, symbols; it must end exactly at the range's end.</summary>
            public Bzip2BlockStatus ReadRangeBlock(in Bzip2BlockRange r)
            {
                _in = r.Data;
                _inLength = r.Length;
                _pos = 0;
                _buf = 0;
                _bits = 0;
                _blockCrc = 0;
                BlockLength = 0;
                _blockMax = MaxBlockLength;
                if (Tt.Length < _blockMax)
                {
                    Tt = new uint[_blockMax];
                    Pre = new byte[_blockMax];
                }

                bool ok = false;
                try
                {
                    if (r.StartBit > 0)
                    {
                        Get(r.StartBit);
                    }

                    ulong magic = ((ulong)Get(24) << 24) | Get(24);
                    if (magic != BlockMagic)
                    {
                        return Bzip2BlockStatus.NotABlock;
                    }

                    _blockCrc = Get(32);
                    if (Get(1) != 0)
                    {
                        return Bzip2BlockStatus.Randomised;
                    }

                    OrigPtr = (int)Get(24);
                    ok = ReadBlock();
                }
                catch (IndexOutOfRangeException)
                {
                    ok = false; // inconsistent tables in damaged data
                }

                long consumed = ((long)_pos * 8) - _bits;
                if (consumed > r.EndBit)
                {
                    return Bzip2BlockStatus.Overrun;
                }

                if (!ok)
                {
                    return Bzip2BlockStatus.Corrupt;
                }

                return consumed < r.EndBit ? Bzip2BlockStatus.Short : Bzip2BlockStatus.Ok;
            }
        }
    }
}
