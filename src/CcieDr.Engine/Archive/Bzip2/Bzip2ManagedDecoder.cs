using System;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>
    /// A bzip2 decoder for the parallel restore path, built for one thing libbz2 cannot do: decode two streams at
    /// once. Undoing the Burrows-Wheeler transform is a chain of dependent loads through a 3.6 MB array, so one
    /// chain leaves the core waiting on the cache; walking two blocks' chains in the same loop lets their misses
    /// overlap. Huffman decoding uses lookup tables instead of libbz2's bit-by-bit search.
    /// <para>
    /// It is deliberately strict and never the last word: anything it does not handle (randomised blocks from
    /// bzip2 0.9.0, a block that does not end where a new stream begins, oversized output) or that does not check
    /// out (every block CRC and every stream's combined CRC are verified) makes it report failure, and the caller
    /// decodes that segment with libbz2 instead, which then gives the real verdict on damaged data.
    /// </para>
    /// One instance per concurrent decode (it owns large scratch arrays); not thread-safe.
    /// </summary>
    internal sealed partial class Bzip2ManagedDecoder
    {
        private const ulong BlockMagic = 0x314159265359UL;
        private const ulong EndMagic = 0x177245385090UL;
        private const int GroupSize = 50;
        private const int MaxGroups = 6;
        private const int MaxAlpha = 258;
        private const int MaxCodeLength = 20;
        private const int MaxSelectors = 18002;
        private const int LookupBits = 10;

        private static readonly uint[] CrcTable = BuildCrcTable();

        private readonly Cursor[] _cursors = { new Cursor(), new Cursor() };

        /// <summary>
        /// Decodes one or two segments, each made of complete bzip2 streams, into <paramref name="outputs"/>
        /// (at most <paramref name="maxOutput"/> bytes each). Returns, per segment, the decoded length and the
        /// number of streams, or a length of -1 when the segment must be decoded by libbz2 instead.
        /// </summary>
        public (int Length, int Streams)[] Decode(byte[][] inputs, int[] lengths, byte[][] outputs, int maxOutput)
        {
            int n = inputs.Length;
            if (n < 1 || n > 2)
            {
                throw new ArgumentOutOfRangeException(nameof(inputs));
            }

            var result = new (int, int)[n];
            for (int i = 0; i < n; i++)
            {
                _cursors[i].Start(inputs[i], lengths[i], outputs[i], maxOutput);
            }

            while (true)
            {
                // Next block of every segment still going (Huffman stage, sequential per segment).
                int ready = 0;
                for (int i = 0; i < n; i++)
                {
                    var c = _cursors[i];
                    c.HasBlock = !c.Failed && !c.Finished && c.NextBlock();
                    if (c.HasBlock)
                    {
                        ready++;
                    }
                }

                if (ready == 0)
                {
                    break;
                }

                // Inverse BWT: both chains in one loop when two blocks are ready.
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

                // Run-length stage and CRC, sequential and cache-friendly.
                for (int i = 0; i < n; i++)
                {
                    if (_cursors[i].HasBlock)
                    {
                        _cursors[i].EmitBlock();
                    }
                }
            }

            for (int i = 0; i < n; i++)
            {
                var c = _cursors[i];
                result[i] = c.Failed || !c.Finished ? (-1, 0) : (c.OutLength, c.Streams);
                c.Release();
            }

            return result;
        }

        private static unsafe void WalkPair(Cursor a, Cursor b)
        {
            int na = a.BlockLength;
            int nb = b.BlockLength;
            int common = Math.Min(na, nb);
            fixed (uint* ta = a.Tt, tb = b.Tt)
            fixed (byte* oa = a.Pre, ob = b.Pre)
            {
                uint pa = ta[a.OrigPtr] >> 8;
                uint pb = tb[b.OrigPtr] >> 8;
                for (int i = 0; i < common; i++)
                {
                    pa = ta[pa];
                    pb = tb[pb];
                    oa[i] = (byte)pa;
                    ob[i] = (byte)pb;
                    pa >>= 8;
                    pb >>= 8;
                }

                // The longer block finishes alone.
                Walk(ta, oa, pa, common, na);
                Walk(tb, ob, pb, common, nb);
            }
        }

        private static unsafe void WalkOne(Cursor a)
        {
            fixed (uint* ta = a.Tt)
            fixed (byte* oa = a.Pre)
            {
                Walk(ta, oa, ta[a.OrigPtr] >> 8, 0, a.BlockLength);
            }
        }

        /// <summary>Follows one chain from position <paramref name="p"/>, writing bytes <paramref name="from"/>..<paramref name="to"/>.</summary>
        private static unsafe void Walk(uint* tt, byte* output, uint p, int from, int to)
        {
            for (int i = from; i < to; i++)
            {
                p = tt[p];
                output[i] = (byte)p;
                p >>= 8;
            }
        }

        private static uint[] BuildCrcTable()
        {
            var t = new uint[256];
            for (uint i = 0; i < 256; i++)
            {
                uint c = i << 24;
                for (int k = 0; k < 8; k++)
                {
                    c = (c & 0x80000000u) != 0 ? (c << 1) ^ 0x04C11DB7u : c << 1;
                }

                t[i] = c;
            }

            return t;
        }

        /// <summary>Decoding state of one segment: bit reader, current block, output.</summary>
        private sealed partial class Cursor
        {
            private readonly int[] _counts = new int[256];
            private readonly byte[] _seqToUnseq = new byte[256];
            private readonly byte[] _mtf = new byte[256];
            private readonly byte[] _selectors = new byte[MaxSelectors];
            private readonly byte[] _lengths = new byte[MaxGroups * MaxAlpha];
            private readonly ushort[] _lookup = new ushort[MaxGroups << LookupBits];
            private readonly int[] _limit = new int[MaxGroups * (MaxCodeLength + 2)];
            private readonly int[] _first = new int[MaxGroups * (MaxCodeLength + 2)];
            private readonly int[] _offset = new int[MaxGroups * (MaxCodeLength + 2)];
            private readonly ushort[] _sorted = new ushort[MaxGroups * MaxAlpha];
            private readonly int[] _maxLen = new int[MaxGroups];
            private readonly byte[] _groupOrder = new byte[MaxGroups];
            private readonly int[] _lengthCount = new int[MaxCodeLength + 2];
            private readonly int[] _nextSlot = new int[MaxCodeLength + 2];

            private byte[] _in = Array.Empty<byte>();
            private int _inLength;
            private byte[] _out = Array.Empty<byte>();
            private int _maxOutput;
            private int _pos;
            private ulong _buf;
            private int _bits;
            private int _blockMax;
            private bool _inStream;
            private uint _streamCrc;
            private uint _blockCrc;

            public uint[] Tt { get; private set; } = Array.Empty<uint>();

            public byte[] Pre { get; private set; } = Array.Empty<byte>();

            public int BlockLength { get; private set; }

            public int OrigPtr { get; private set; }

            public int OutLength { get; private set; }

            public int Streams { get; private set; }

            public bool Failed { get; private set; }

            public bool Finished { get; private set; }

            public bool HasBlock { get; set; }

            public void Start(byte[] input, int length, byte[] output, int maxOutput)
            {
                _in = input;
                _inLength = length;
                _out = output;
                _maxOutput = Math.Min(maxOutput, output.Length);
                _pos = 0;
                _buf = 0;
                _bits = 0;
                _inStream = false;
                OutLength = 0;
                Streams = 0;
                Failed = false;
                Finished = false;
                HasBlock = false;
            }

            public void Release()
            {
                _in = Array.Empty<byte>();
                _out = Array.Empty<byte>();
            }

            /// <summary>Reads up to the next block (through stream ends and starts); false at the end or on failure.</summary>
            public bool NextBlock()
            {
                try
                {
                    while (true)
                    {
                        if (!_inStream)
                        {
                            // A stream starts on a byte boundary: "BZh" and the level.
                            _bits -= _bits % 8;
                            if (ConsumedBytes() >= _inLength)
                            {
                                Finished = Streams > 0;
                                Failed = Streams == 0;
                                return false;
                            }

                            if (Get(8) != 'B' || Get(8) != 'Z' || Get(8) != 'h')
                            {
                                return Fail();
                            }

                            int level = (int)Get(8) - '0';
                            if (level < 1 || level > 9)
                            {
                                return Fail();
                            }

                            _blockMax = level * 100_000;
                            if (Tt.Length < _blockMax)
                            {
                                Tt = new uint[_blockMax];
                                Pre = new byte[_blockMax];
                            }

                            _inStream = true;
                            _streamCrc = 0;
                        }

                        ulong magic = ((ulong)Get(24) << 24) | Get(24);
                        if (magic == EndMagic)
                        {
                            uint combined = Get(32);
                            if (combined != _streamCrc || Overrun())
                            {
                                return Fail();
                            }

                            Streams++;
                            _inStream = false;
                            continue;
                        }

                        if (magic != BlockMagic)
                        {
                            return Fail();
                        }

                        _blockCrc = Get(32);
                        if (Get(1) != 0)
                        {
                            return Fail(); // randomised block (bzip2 0.9.0): libbz2 handles it
                        }

                        OrigPtr = (int)Get(24);
                        return ReadBlock() || Fail();
                    }
                }
                catch (IndexOutOfRangeException)
                {
                    return Fail(); // inconsistent tables in damaged data
                }
            }

            /// <summary>Undoes the initial run-length coding into the output and checks the block CRC.</summary>
            public unsafe void EmitBlock()
            {
                int n = BlockLength;
                int o = OutLength;
                int max = _maxOutput;
                uint crc = 0xFFFFFFFFu;
                fixed (byte* pre = Pre)
                fixed (byte* outp = _out)
                fixed (uint* table = CrcTable)
                {
                    int last = -1;
                    int run = 0;
                    int i = 0;
                    while (i < n)
                    {
                        byte c = pre[i++];
                        if (o >= max)
                        {
                            Failed = true;
                            return;
                        }

                        outp[o++] = c;
                        crc = (crc << 8) ^ table[(crc >> 24) ^ c];
                        if (c == last)
                        {
                            if (++run == 4)
                            {
                                if (i >= n)
                                {
                                    break;
                                }

                                int extra = pre[i++];
                                if (o + extra > max)
                                {
                                    Failed = true;
                                    return;
                                }

                                for (int k = 0; k < extra; k++)
                                {
                                    outp[o++] = c;
                                    crc = (crc << 8) ^ table[(crc >> 24) ^ c];
                                }

                                run = 0;
                                last = -1;
                            }
                        }
                        else
                        {
                            last = c;
                            run = 1;
                        }
                    }
                }

                crc = ~crc;
                if (crc != _blockCrc)
                {
                    Failed = true;
                    return;
                }

                _streamCrc = ((_streamCrc << 1) | (_streamCrc >> 31)) ^ crc;
                OutLength = o;
            }

            private bool Fail()
            {
                Failed = true;
                return false;
            }

            private int ConsumedBytes() => _pos - (_bits / 8);

            private bool Overrun() => ((long)_pos * 8) - _bits > (long)_inLength * 8;

            private void Refill()
            {
                while (_bits <= 56)
                {
                    _buf = (_buf << 8) | (_pos < _inLength ? _in[_pos] : 0u);
                    _pos++;
                    _bits += 8;
                }
            }

            private uint Get(int n)
            {
                if (_bits < n)
                {
                    Refill();
                }

                _bits -= n;
                return (uint)(_buf >> _bits) & (uint)((1UL << n) - 1);
            }

            /// <summary>Symbol map, Huffman tables, selectors, then the symbols (MTF and RUNA/RUNB) into Tt.</summary>
            private bool ReadBlock()
            {
                // Which byte values occur.
                int inUse16 = (int)Get(16);
                int nInUse = 0;
                for (int i = 0; i < 16; i++)
                {
                    if ((inUse16 & (0x8000 >> i)) != 0)
                    {
                        int bits = (int)Get(16);
                        for (int j = 0; j < 16; j++)
                        {
                            if ((bits & (0x8000 >> j)) != 0)
                            {
                                _seqToUnseq[nInUse++] = (byte)((i * 16) + j);
                            }
                        }
                    }
                }

                if (nInUse == 0)
                {
                    return false;
                }

                int alphaSize = nInUse + 2;
                int nGroups = (int)Get(3);
                if (nGroups < 2 || nGroups > MaxGroups)
                {
                    return false;
                }

                // The field allows up to 32767 selectors and some encoders (lbzip2) write more than the 18002 a
                // block of 900,000 symbols can use: read them all, keep the first 18002 (as bzip2 1.0.8 does).
                int nSelectors = (int)Get(15);
                if (nSelectors < 1)
                {
                    return false;
                }

                // Selectors, MTF-coded in unary.
                var pos = _groupOrder;
                for (int i = 0; i < nGroups; i++)
                {
                    pos[i] = (byte)i;
                }

                for (int i = 0; i < nSelectors; i++)
                {
                    int j = 0;
                    while (Get(1) == 1)
                    {
                        if (++j >= nGroups)
                        {
                            return false;
                        }
                    }

                    byte v = pos[j];
                    for (; j > 0; j--)
                    {
                        pos[j] = pos[j - 1];
                    }

                    pos[0] = v;
                    if (i < MaxSelectors)
                    {
                        _selectors[i] = v;
                    }
                }

                nSelectors = Math.Min(nSelectors, MaxSelectors);

                // Code lengths, delta-coded, and the decoding tables.
                for (int t = 0; t < nGroups; t++)
                {
                    int curr = (int)Get(5);
                    for (int i = 0; i < alphaSize; i++)
                    {
                        while (true)
                        {
                            if (curr < 1 || curr > MaxCodeLength)
                            {
                                return false;
                            }

                            if (Get(1) == 0)
                            {
                                break;
                            }

                            curr += Get(1) == 0 ? 1 : -1;
                        }

                        _lengths[(t * MaxAlpha) + i] = (byte)curr;
                    }

                    if (!BuildTable(t, alphaSize))
                    {
                        return false;
                    }
                }

                return ReadSymbols(nInUse, alphaSize, nSelectors) && !Overrun();
            }

            /// <summary>Canonical codes of group <paramref name="t"/>: a 10-bit lookup table plus per-length ranges for longer codes.</summary>
            private bool BuildTable(int t, int alphaSize)
            {
                int lb = t * (MaxCodeLength + 2);
                int sb = t * MaxAlpha;
                var count = _lengthCount;
                Array.Clear(count, 0, count.Length);
                int maxLen = 0;
                for (int i = 0; i < alphaSize; i++)
                {
                    int l = _lengths[sb + i];
                    count[l]++;
                    maxLen = Math.Max(maxLen, l);
                }

                _maxLen[t] = maxLen;
                int code = 0;
                int offset = 0;
                for (int l = 1; l <= MaxCodeLength; l++)
                {
                    _first[lb + l] = code;
                    _offset[lb + l] = offset;
                    _limit[lb + l] = code + count[l]; // codes of length l: [first, limit)
                    code += count[l];
                    offset += count[l];
                    if (code > (1 << l))
                    {
                        return false; // over-subscribed: not a prefix code
                    }

                    code <<= 1;
                }

                // Symbols sorted by (length, value): the canonical order.
                var next = _nextSlot;
                for (int l = 1; l <= MaxCodeLength; l++)
                {
                    next[l] = _offset[lb + l];
                }

                for (int i = 0; i < alphaSize; i++)
                {
                    int l = _lengths[sb + i];
                    _sorted[sb + next[l]++] = (ushort)i;
                }

                int tb = t << LookupBits;
                Array.Clear(_lookup, tb, 1 << LookupBits);
                for (int l = 1; l <= Math.Min(maxLen, LookupBits); l++)
                {
                    for (int k = 0; k < count[l]; k++)
                    {
                        int sym = _sorted[sb + _offset[lb + l] + k];
                        int c = _first[lb + l] + k;
                        int start = c << (LookupBits - l);
                        int end = (c + 1) << (LookupBits - l);
                        ushort entry = (ushort)((sym << 5) | l);
                        for (int e = start; e < end; e++)
                        {
                            _lookup[tb + e] = entry;
                        }
                    }
                }

                return true;
            }

            private unsafe bool ReadSymbols(int nInUse, int alphaSize, int nSelectors)
            {
                int nblock = DecodeSymbols(nInUse, nSelectors);
                if (nblock < 0 || OrigPtr >= nblock)
                {
                    return false;
                }

                LinkForInverseBwt(nblock);
                BlockLength = nblock;
                return true;
            }

            /// <summary>
            /// Decodes the block's Huffman-coded MTF/RLE2 symbols into <see cref="Tt"/> (one byte per position) and
            /// counts every byte; returns the block length, or -1 when the data is corrupt. Keeps the bit reader in
            /// locals: this loop runs once per symbol.
            /// </summary>
            private unsafe int DecodeSymbols(int nInUse, int nSelectors)
            {
                int eob = nInUse + 1;
                int blockMax = _blockMax;
                Array.Clear(_counts, 0, 256);
                for (int i = 0; i < nInUse; i++)
                {
                    _mtf[i] = (byte)i;
                }

                int nblock = 0;
                int groupNo = -1;
                int groupPos = 0;
                int run = 0;
                int runBit = 0;
                int t = 0;
                ulong buf = _buf;
                int bits = _bits;
                int p = _pos;
                byte[] input = _in;
                int inLength = _inLength;
                fixed (uint* tt = Tt)
                fixed (int* counts = _counts)
                fixed (byte* mtf = _mtf)
                fixed (byte* unseq = _seqToUnseq)
                fixed (ushort* lookup = _lookup)
                fixed (ushort* sorted = _sorted)
                fixed (int* first = _first, limit = _limit, offs = _offset)
                {
                    ushort* lut = lookup;
                    int maxLen = 0;
                    while (true)
                    {
                        if (groupPos == 0)
                        {
                            if (++groupNo >= nSelectors)
                            {
                                return -1;
                            }

                            groupPos = GroupSize;
                            t = _selectors[groupNo];
                            lut = lookup + (t << LookupBits);
                            maxLen = _maxLen[t];
                        }

                        groupPos--;

                        // Refill() inlined on locals: this loop runs once per symbol.
                        while (bits <= 56)
                        {
                            buf = (buf << 8) | (p < inLength ? input[p] : 0u);
                            p++;
                            bits += 8;
                        }

                        int sym;
                        ushort entry = lut[(int)(buf >> (bits - LookupBits)) & ((1 << LookupBits) - 1)];
                        if (entry != 0)
                        {
                            bits -= entry & 31;
                            sym = entry >> 5;
                        }
                        else
                        {
                            int code = DecodeLongCode(buf, bits, t, maxLen, first, limit, offs, sorted);
                            if (code < 0)
                            {
                                return -1;
                            }

                            bits -= code & 31;
                            sym = code >> 5;
                        }

                        if (sym <= 1)
                        {
                            // RUNA/RUNB: a run of the front symbol, length in bijective base 2.
                            if (runBit > 20)
                            {
                                return -1;
                            }

                            run += (sym + 1) << runBit;
                            runBit++;
                            continue;
                        }

                        if (run > 0)
                        {
                            if (nblock + run > blockMax)
                            {
                                return -1;
                            }

                            byte rb = unseq[mtf[0]];
                            counts[rb] += run;
                            uint* q = tt + nblock;
                            for (int k = 0; k < run; k++)
                            {
                                q[k] = rb;
                            }

                            nblock += run;
                            run = 0;
                            runBit = 0;
                        }

                        if (sym == eob)
                        {
                            break;
                        }

                        if (nblock >= blockMax)
                        {
                            return -1;
                        }

                        int v = sym - 1;
                        byte idx = mtf[v];
                        if (v < 16)
                        {
                            for (int k = v; k > 0; k--)
                            {
                                mtf[k] = mtf[k - 1];
                            }
                        }
                        else
                        {
                            Buffer.MemoryCopy(mtf, mtf + 1, 255, v);
                        }

                        mtf[0] = idx;
                        byte b = unseq[idx];
                        counts[b]++;
                        tt[nblock++] = b;
                    }

                    _buf = buf;
                    _bits = bits;
                    _pos = p;
                }

                return nblock;
            }

            /// <summary>
            /// A code longer than the lookup table: finds the length whose range holds it. Returns the symbol and the
            /// code length packed as a lookup entry (<c>sym &lt;&lt; 5 | length</c>), or -1 when no length fits.
            /// </summary>
            private static unsafe int DecodeLongCode(ulong buf, int bits, int t, int maxLen, int* first, int* limit, int* offs, ushort* sorted)
            {
                int lb = t * (MaxCodeLength + 2);
                for (int l = LookupBits + 1; l <= maxLen; l++)
                {
                    int c = (int)(buf >> (bits - l)) & ((1 << l) - 1);
                    if (c < limit[lb + l])
                    {
                        if (c < first[lb + l])
                        {
                            return -1;
                        }

                        return (sorted[(t * MaxAlpha) + offs[lb + l] + (c - first[lb + l])] << 5) | l;
                    }
                }

                return -1;
            }

            /// <summary>Links for the inverse BWT: tt[i] keeps its byte in the low 8 bits, the next position above.</summary>
            private unsafe void LinkForInverseBwt(int nblock)
            {
                fixed (uint* tt = Tt)
                fixed (int* counts = _counts)
                {
                    int sum = 0;
                    int* cf = stackalloc int[256];
                    for (int i = 0; i < 256; i++)
                    {
                        cf[i] = sum;
                        sum += counts[i];
                    }

                    for (int i = 0; i < nblock; i++)
                    {
                        uint u = tt[i] & 0xFF;
                        tt[cf[u]++] |= (uint)i << 8;
                    }
                }
            }
        }
    }
}
