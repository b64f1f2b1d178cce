using System;
using System.Numerics;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>
    /// Sorts the rotations of one bzip2 block (the Burrows-Wheeler transform): fills <see cref="Sorted"/> with the
    /// start index of every rotation of <see cref="Block"/>[0..n) in lexicographic order.
    /// </summary>
    internal unsafe interface IBzip2RotationSorter
    {
        /// <summary>Where the block goes (at least <see cref="Bzip2BlockEncoder.MaxBlockFill"/> bytes).</summary>
        byte* Block { get; }

        /// <summary>The sorted rotation indices after <see cref="Sort"/> (n entries).</summary>
        uint* Sorted { get; }

        /// <summary>Sorts the first <paramref name="n"/> bytes of <see cref="Block"/>; returns the index in <see cref="Sorted"/> of rotation 0.</summary>
        int Sort(int n);
    }

    /// <summary>
    /// Encodes one buffer as one complete bzip2 stream (level 9 blocks): run-length step 1, the block sort from an
    /// <see cref="IBzip2RotationSorter"/>, then move-to-front and zero runs, six Huffman tables chosen per group of
    /// 50 symbols (four refinement passes, as bzip2 does), the bit stream and the CRCs. The move-to-front step
    /// searches eight bytes at a time and moves with a block copy (libbz2 shifts byte by byte: on incompressible
    /// data that loop is most of its time), and the table costs are summed four tables per addition.
    /// Not thread-safe: one instance per thread.
    /// </summary>
    internal sealed unsafe class Bzip2BlockEncoder
    {
        /// <summary>Bytes of run-length-coded data per block at level 9 (libbz2's nblockMAX: 900000 - 19).</summary>
        public const int MaxBlockBytes = 900_000 - 19;

        /// <summary>The most a block can hold: the last run added may take it up to 4 bytes past <see cref="MaxBlockBytes"/>, as in libbz2.</summary>
        public const int MaxBlockFill = MaxBlockBytes + 4;

        private const int MaxAlpha = 258;
        private const int Groups = 6;
        private const int GroupSize = 50;
        private const int Iterations = 4;
        private const int MaxCodeLength = 17;

        private readonly IBzip2RotationSorter _sorter;
        private readonly ushort[] _mtfv = new ushort[MaxBlockBytes + 8];
        private readonly byte[] _last = new byte[MaxBlockFill + 8];
        private readonly byte[] _selectors = new byte[(MaxBlockBytes / GroupSize) + 8];
        private readonly int[] _mtfFreq = new int[MaxAlpha];
        private readonly byte[] _len = new byte[Groups * MaxAlpha];
        private readonly int[] _rfreq = new int[Groups * MaxAlpha];
        private readonly uint[] _code = new uint[Groups * MaxAlpha];
        private readonly ulong[] _packLow = new ulong[MaxAlpha];
        private readonly ulong[] _packHigh = new ulong[MaxAlpha];
        private readonly bool[] _inUse = new bool[256];
        private readonly byte[] _unseqToSeq = new byte[256];
        private readonly Huffman _huffman = new Huffman();
        private BitWriter _bits;

        public Bzip2BlockEncoder(IBzip2RotationSorter sorter)
        {
            _sorter = sorter ?? throw new ArgumentNullException(nameof(sorter));
        }

        /// <summary>
        /// Compresses <paramref name="input"/>[0..<paramref name="length"/>) into <paramref name="output"/> as one
        /// bzip2 stream; returns its length, or -1 when it does not fit in <paramref name="output"/>.
        /// </summary>
        public int Encode(byte[] input, int length, byte[] output)
        {
            if (input is null)
            {
                throw new ArgumentNullException(nameof(input));
            }

            if (output is null)
            {
                throw new ArgumentNullException(nameof(output));
            }

            if (length < 0 || length > input.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(length));
            }

            fixed (byte* inp = input)
            fixed (byte* outp = output)
            {
                _bits = new BitWriter(outp, output.Length);
                _bits.Write(8, 'B');
                _bits.Write(8, 'Z');
                _bits.Write(8, 'h');
                _bits.Write(8, '9');
                uint combined = 0;
                var pos = 0;
                while (pos < length)
                {
                    var start = pos;
                    var nblock = RunLengthEncode(inp, ref pos, length);
                    var crc = ~Bzip2Crc.Update(Bzip2Crc.Initial, inp + start, pos - start);
                    combined = ((combined << 1) | (combined >> 31)) ^ crc;
                    WriteBlock(nblock, crc);
                    if (_bits.Overflowed)
                    {
                        return -1;
                    }
                }

                _bits.Write(24, 0x177245);
                _bits.Write(24, 0x385090);
                _bits.Write(16, combined >> 16);
                _bits.Write(16, combined & 0xFFFF);
                _bits.Finish();
                return _bits.Overflowed ? -1 : _bits.Length;
            }
        }

        /// <summary>Step 1: runs of 4..255 equal bytes become 4 bytes and a count, into the sorter's block, until it is full.</summary>
        private int RunLengthEncode(byte* inp, ref int pos, int length)
        {
            Array.Clear(_inUse, 0, 256);
            var block = _sorter.Block;
            var n = 0;
            var i = pos;
            var inUse = _inUse;
            while (i < length && n < MaxBlockBytes)
            {
                var ch = inp[i];
                var j = i + 1;
                var limit = Math.Min(length, i + 255);
                while (j < limit && inp[j] == ch)
                {
                    j++;
                }

                var run = j - i;
                inUse[ch] = true;
                if (run < 4)
                {
                    block[n++] = ch;
                    if (run > 1)
                    {
                        block[n++] = ch;
                        if (run > 2)
                        {
                            block[n++] = ch;
                        }
                    }
                }
                else
                {
                    block[n] = ch;
                    block[n + 1] = ch;
                    block[n + 2] = ch;
                    block[n + 3] = ch;
                    block[n + 4] = (byte)(run - 4);
                    inUse[run - 4] = true;
                    n += 5;
                }

                i = j;
            }

            pos = i;
            return n;
        }

        private void WriteBlock(int nblock, uint crc)
        {
            var origPtr = _sorter.Sort(nblock);
            var nInUse = 0;
            for (var i = 0; i < 256; i++)
            {
                if (_inUse[i])
                {
                    _unseqToSeq[i] = (byte)nInUse++;
                }
            }

            var alphaSize = nInUse + 2;
            var nMtf = MoveToFront(nblock, nInUse);
            _bits.Write(24, 0x314159);
            _bits.Write(24, 0x265359);
            _bits.Write(16, crc >> 16);
            _bits.Write(16, crc & 0xFFFF);
            _bits.Write(1, 0);
            _bits.Write(24, (uint)origPtr);
            WriteMap();
            WriteCodes(nMtf, alphaSize);
        }

        /// <summary>Step 2: the BWT output through move-to-front, zero runs as RUNA/RUNB, ended by EOB. Returns the symbol count.</summary>
        private int MoveToFront(int nblock, int nInUse)
        {
            var freq = _mtfFreq;
            Array.Clear(freq, 0, MaxAlpha);
            var eob = nInUse + 1;
            var yy = stackalloc byte[256];
            for (var i = 0; i < 256; i++)
            {
                yy[i] = (byte)i;
            }

            var block = _sorter.Block;
            var ptr = _sorter.Sorted;
            var wr = 0;
            var zPend = 0;
            fixed (ushort* mtfv = _mtfv)
            fixed (byte* map = _unseqToSeq)
            fixed (byte* last = _last)
            {
                // The last column first, in a pass of its own: its reads are scattered over the block (cache misses)
                // but independent, so they overlap; inside the move-to-front loop each would wait for the previous.
                for (var i = 0; i < nblock; i++)
                {
                    var j = (int)ptr[i] - 1;
                    if (j < 0)
                    {
                        j += nblock;
                    }

                    last[i] = map[block[j]];
                }

                if (nInUse > 96 && Vector.IsHardwareAccelerated && 256 % Vector<byte>.Count == 0)
                {
                    wr = MoveToFrontByPositions(last, nblock, mtfv, freq);
                    mtfv[wr++] = (ushort)eob;
                    freq[eob]++;
                    return wr;
                }

                for (var i = 0; i < nblock; i++)
                {
                    var ll = last[i];
                    if (yy[0] == ll)
                    {
                        zPend++;
                        continue;
                    }

                    if (zPend > 0)
                    {
                        wr = ZeroRun(mtfv, wr, zPend, freq);
                        zPend = 0;
                    }

                    var k = Find(yy, ll);
                    if (k < 16)
                    {
                        for (var m = k; m > 0; m--)
                        {
                            yy[m] = yy[m - 1];
                        }
                    }
                    else
                    {
                        Buffer.MemoryCopy(yy, yy + 1, 255, k);
                    }

                    yy[0] = ll;
                    mtfv[wr++] = (ushort)(k + 1);
                    freq[k + 1]++;
                }

                if (zPend > 0)
                {
                    wr = ZeroRun(mtfv, wr, zPend, freq);
                }

                mtfv[wr++] = (ushort)eob;
                freq[eob]++;
            }

            return wr;
        }

        /// <summary>
        /// Move-to-front for blocks of many distinct bytes (binary, incompressible), where the list search would walk
        /// half the list per symbol: each byte's position is kept instead, and a move to the front adds one to every
        /// position below the moved byte's, a vector compare-and-subtract over all 256 at a constant cost.
        /// </summary>
        private static int MoveToFrontByPositions(byte* last, int nblock, ushort* mtfv, int[] freq)
        {
            var pos = stackalloc byte[256 + 64];
            var p = (byte*)(((long)pos + 63) & ~63L);
            for (var i = 0; i < 256; i++)
            {
                p[i] = (byte)i;
            }

            var step = Vector<byte>.Count;
            var wr = 0;
            var zPend = 0;
            for (var i = 0; i < nblock; i++)
            {
                var ll = last[i];
                int k = p[ll];
                if (k == 0)
                {
                    zPend++;
                    continue;
                }

                if (zPend > 0)
                {
                    wr = ZeroRun(mtfv, wr, zPend, freq);
                    zPend = 0;
                }

                var below = new Vector<byte>((byte)k);
                for (var off = 0; off < 256; off += step)
                {
                    var v = System.Runtime.CompilerServices.Unsafe.Read<Vector<byte>>(p + off);
                    System.Runtime.CompilerServices.Unsafe.Write(p + off, v - Vector.LessThan(v, below)); // true lanes are 0xFF: minus -1 adds one
                }

                p[ll] = 0;
                mtfv[wr++] = (ushort)(k + 1);
                freq[k + 1]++;
            }

            if (zPend > 0)
            {
                wr = ZeroRun(mtfv, wr, zPend, freq);
            }

            return wr;
        }

        private static int ZeroRun(ushort* mtfv, int wr, int zPend, int[] freq)
        {
            zPend--;
            while (true)
            {
                var s = zPend & 1; // RUNB = 1, RUNA = 0
                mtfv[wr++] = (ushort)s;
                freq[s]++;
                if (zPend < 2)
                {
                    return wr;
                }

                zPend = (zPend - 2) / 2;
            }
        }

        /// <summary>Position of <paramref name="value"/> in the 256-byte list (it is there): a vector compare finds the chunk, eight bytes per step inside it.</summary>
        private static int Find(byte* list, byte value)
        {
            const ulong Ones = 0x0101010101010101UL;
            const ulong Highs = 0x8080808080808080UL;
            var pattern = Ones * value;
            var words = (ulong*)list;
            var w = 0;
            if (value != list[0] && Vector.IsHardwareAccelerated && Vector<byte>.Count >= 16 && 256 % Vector<byte>.Count == 0)
            {
                // The first chunk holds the recent symbols (text): look there word by word before any vector work.
                if (((words[0] ^ pattern) - Ones & ~(words[0] ^ pattern) & Highs) == 0 && ((words[1] ^ pattern) - Ones & ~(words[1] ^ pattern) & Highs) == 0)
                {
                    var wanted = new Vector<byte>(value);
                    var step = Vector<byte>.Count;
                    var off = 0;
                    while (Vector.EqualsAll(Vector.Equals(System.Runtime.CompilerServices.Unsafe.Read<Vector<byte>>(list + off), wanted), Vector<byte>.Zero))
                    {
                        off += step;
                    }

                    w = off / 8;
                }
            }

            for (; ; w++)
            {
                var x = words[w] ^ pattern;
                var hit = (x - Ones) & ~x & Highs; // the lowest set high bit marks the first zero byte (little-endian)
                if (hit != 0)
                {
                    return (w * 8) + (LowestBitIndex(hit) >> 3);
                }
            }
        }

        private static int LowestBitIndex(ulong v)
        {
            // De Bruijn: index of the lowest set bit.
            var isolated = v & (ulong)-(long)v;
            return DeBruijn[(int)((isolated * 0x03F79D71B4CB0A89UL) >> 58)];
        }

        private static readonly byte[] DeBruijn = BuildDeBruijn();

        private static byte[] BuildDeBruijn()
        {
            var t = new byte[64];
            for (var i = 0; i < 64; i++)
            {
                t[(int)(((1UL << i) * 0x03F79D71B4CB0A89UL) >> 58)] = (byte)i;
            }

            return t;
        }

        /// <summary>The used-bytes bitmap: 16 bits for the 16-byte ranges used, then 16 bits per used range.</summary>
        private void WriteMap()
        {
            uint ranges = 0;
            for (var r = 0; r < 16; r++)
            {
                for (var b = 0; b < 16; b++)
                {
                    if (_inUse[(r * 16) + b])
                    {
                        ranges |= 1u << (15 - r);
                        break;
                    }
                }
            }

            _bits.Write(16, ranges);
            for (var r = 0; r < 16; r++)
            {
                if ((ranges & (1u << (15 - r))) == 0)
                {
                    continue;
                }

                uint bitsOfRange = 0;
                for (var b = 0; b < 16; b++)
                {
                    if (_inUse[(r * 16) + b])
                    {
                        bitsOfRange |= 1u << (15 - b);
                    }
                }

                _bits.Write(16, bitsOfRange);
            }
        }

        /// <summary>Step 3: Huffman tables per group of 50 symbols, the selectors, the tables and the coded symbols.</summary>
        private void WriteCodes(int nMtf, int alphaSize)
        {
            var nGroups = nMtf < 200 ? 2 : nMtf < 600 ? 3 : nMtf < 1200 ? 4 : nMtf < 2400 ? 5 : 6;
            var len = _len;
            var rfreq = _rfreq;
            InitialTables(nMtf, alphaSize, nGroups);
            var nSelectors = 0;
            var cost = stackalloc int[Groups];
            fixed (ushort* mtfv = _mtfv)
            fixed (ulong* packLow = _packLow)
            fixed (ulong* packHigh = _packHigh)
            {
                for (var iter = 0; iter < Iterations; iter++)
                {
                    Array.Clear(rfreq, 0, rfreq.Length);
                    for (var v = 0; v < alphaSize; v++)
                    {
                        packLow[v] = len[v] | ((ulong)len[MaxAlpha + v] << 16) | ((ulong)len[(2 * MaxAlpha) + v] << 32) | ((ulong)len[(3 * MaxAlpha) + v] << 48);
                        packHigh[v] = len[(4 * MaxAlpha) + v] | ((ulong)len[(5 * MaxAlpha) + v] << 16);
                    }

                    nSelectors = 0;
                    for (var gs = 0; gs < nMtf; gs += GroupSize)
                    {
                        var ge = Math.Min(gs + GroupSize, nMtf);
                        ulong low = 0, high = 0;
                        for (var i = gs; i < ge; i++)
                        {
                            var v = mtfv[i];
                            low += packLow[v];
                            high += packHigh[v];
                        }

                        cost[0] = (int)(low & 0xFFFF);
                        cost[1] = (int)((low >> 16) & 0xFFFF);
                        cost[2] = (int)((low >> 32) & 0xFFFF);
                        cost[3] = (int)(low >> 48);
                        cost[4] = (int)(high & 0xFFFF);
                        cost[5] = (int)((high >> 16) & 0xFFFF);
                        var best = 0;
                        for (var t = 1; t < nGroups; t++)
                        {
                            if (cost[t] < cost[best])
                            {
                                best = t;
                            }
                        }

                        _selectors[nSelectors++] = (byte)best;
                        var f = best * MaxAlpha;
                        for (var i = gs; i < ge; i++)
                        {
                            rfreq[f + mtfv[i]]++;
                        }
                    }

                    for (var t = 0; t < nGroups; t++)
                    {
                        _huffman.CodeLengths(rfreq, t * MaxAlpha, alphaSize, MaxCodeLength, len, t * MaxAlpha);
                    }
                }

                _bits.Write(3, (uint)nGroups);
                _bits.Write(15, (uint)nSelectors);
                WriteSelectors(nSelectors, nGroups);
                for (var t = 0; t < nGroups; t++)
                {
                    AssignCodes(t, alphaSize);
                    WriteTable(t, alphaSize);
                }

                var selector = 0;
                for (var gs = 0; gs < nMtf; gs += GroupSize)
                {
                    var ge = Math.Min(gs + GroupSize, nMtf);
                    var off = _selectors[selector++] * MaxAlpha;
                    fixed (byte* l = &len[off])
                    fixed (uint* c = &_code[off])
                    {
                        for (var i = gs; i < ge; i++)
                        {
                            var v = mtfv[i];
                            _bits.Write(l[v], c[v]);
                        }
                    }
                }
            }
        }

        /// <summary>Starting tables: each covers a contiguous range of symbols with about an equal share of the frequency.</summary>
        private void InitialTables(int nMtf, int alphaSize, int nGroups)
        {
            const byte LesserCost = 0;
            const byte GreaterCost = 15;
            for (var i = 0; i < _len.Length; i++)
            {
                _len[i] = GreaterCost;
            }

            var nPart = nGroups;
            var remaining = nMtf;
            var gs = 0;
            while (nPart > 0)
            {
                var target = remaining / nPart;
                var ge = gs - 1;
                var acc = 0;
                while (acc < target && ge < alphaSize - 1)
                {
                    ge++;
                    acc += _mtfFreq[ge];
                }

                if (ge > gs && nPart != nGroups && nPart != 1 && ((nGroups - nPart) % 2 == 1))
                {
                    acc -= _mtfFreq[ge];
                    ge--;
                }

                var off = (nPart - 1) * MaxAlpha;
                for (var v = 0; v < alphaSize; v++)
                {
                    _len[off + v] = v >= gs && v <= ge ? LesserCost : GreaterCost;
                }

                nPart--;
                gs = ge + 1;
                remaining -= acc;
            }
        }

        private void WriteSelectors(int nSelectors, int nGroups)
        {
            var order = stackalloc byte[Groups];
            for (var t = 0; t < nGroups; t++)
            {
                order[t] = (byte)t;
            }

            for (var i = 0; i < nSelectors; i++)
            {
                var s = _selectors[i];
                var j = 0;
                while (order[j] != s)
                {
                    j++;
                }

                for (var m = j; m > 0; m--)
                {
                    order[m] = order[m - 1];
                }

                order[0] = s;

                // j ones then a zero (j <= 5).
                _bits.Write(j + 1, ((1u << j) - 1) << 1);
            }
        }

        private void AssignCodes(int t, int alphaSize)
        {
            var off = t * MaxAlpha;
            int min = 32, max = 0;
            for (var v = 0; v < alphaSize; v++)
            {
                min = Math.Min(min, _len[off + v]);
                max = Math.Max(max, _len[off + v]);
            }

            uint code = 0;
            for (var n = min; n <= max; n++)
            {
                for (var v = 0; v < alphaSize; v++)
                {
                    if (_len[off + v] == n)
                    {
                        _code[off + v] = code++;
                    }
                }

                code <<= 1;
            }
        }

        /// <summary>A table's code lengths: 5 bits for the first, then per symbol +1 ("10") / -1 ("11") steps and a "0".</summary>
        private void WriteTable(int t, int alphaSize)
        {
            var off = t * MaxAlpha;
            int curr = _len[off];
            _bits.Write(5, (uint)curr);
            for (var v = 0; v < alphaSize; v++)
            {
                int l = _len[off + v];
                while (curr < l)
                {
                    _bits.Write(2, 2);
                    curr++;
                }

                while (curr > l)
                {
                    _bits.Write(2, 3);
                    curr--;
                }

                _bits.Write(1, 0);
            }
        }

        /// <summary>Most-significant-bit-first bit output into a fixed buffer; notes overflow instead of writing past the end.</summary>
        private struct BitWriter
        {
            private readonly byte* _out;
            private readonly int _capacity;
            private ulong _buffer; // pending bits, left-aligned
            private int _live;
            private int _pos;

            public BitWriter(byte* output, int capacity)
            {
                _out = output;
                _capacity = capacity;
                _buffer = 0;
                _live = 0;
                _pos = 0;
                Overflowed = false;
            }

            public bool Overflowed { get; private set; }

            public int Length => _pos;

            /// <summary>Writes the low <paramref name="n"/> bits (1..24) of <paramref name="value"/>.</summary>
            public void Write(int n, uint value)
            {
                _buffer |= (ulong)value << (64 - _live - n);
                _live += n;
                if (_live >= 32)
                {
                    if (_pos + 4 > _capacity)
                    {
                        Overflowed = true;
                        _pos = 0;
                    }

                    var top = (uint)(_buffer >> 32);
                    _out[_pos] = (byte)(top >> 24);
                    _out[_pos + 1] = (byte)(top >> 16);
                    _out[_pos + 2] = (byte)(top >> 8);
                    _out[_pos + 3] = (byte)top;
                    _pos += 4;
                    _buffer <<= 32;
                    _live -= 32;
                }
            }

            public void Write(int n, char value) => Write(n, (uint)value);

            /// <summary>Writes the pending bits, the last byte padded with zeros.</summary>
            public void Finish()
            {
                while (_live > 0)
                {
                    if (_pos + 1 > _capacity)
                    {
                        Overflowed = true;
                        return;
                    }

                    _out[_pos++] = (byte)(_buffer >> 56);
                    _buffer <<= 8;
                    _live -= 8;
                }

                _live = 0;
            }
        }

        /// <summary>Length-limited Huffman code lengths (weights halved until the longest code fits, as bzip2 does).</summary>
        private sealed class Huffman
        {
            private readonly long[] _weight = new long[2 * MaxAlpha];
            private readonly int[] _parent = new int[2 * MaxAlpha];
            private readonly int[] _heap = new int[MaxAlpha + 2];

            public void CodeLengths(int[] freq, int freqOffset, int alphaSize, int maxLen, byte[] len, int lenOffset)
            {
                var w = _weight;
                for (var i = 0; i < alphaSize; i++)
                {
                    // Low 8 bits: the subtree depth, so equal weights merge the shallower trees first.
                    w[i] = (long)(freq[freqOffset + i] == 0 ? 1 : freq[freqOffset + i]) << 8;
                }

                while (true)
                {
                    var tooLong = Build(alphaSize, maxLen, len, lenOffset);
                    if (!tooLong)
                    {
                        return;
                    }

                    for (var i = 0; i < alphaSize; i++)
                    {
                        var j = w[i] >> 8;
                        j = 1 + (j / 2);
                        w[i] = j << 8;
                    }
                }
            }

            private bool Build(int alphaSize, int maxLen, byte[] len, int lenOffset)
            {
                var w = _weight;
                var parent = _parent;
                var heap = _heap;
                var n = 0;
                for (var i = 0; i < alphaSize; i++)
                {
                    parent[i] = -1;
                    heap[++n] = i;
                    Up(n);
                }

                var nodes = alphaSize;
                while (n > 1)
                {
                    var a = heap[1];
                    heap[1] = heap[n--];
                    Down(1, n);
                    var b = heap[1];
                    heap[1] = heap[n--];
                    Down(1, n);
                    parent[a] = nodes;
                    parent[b] = nodes;
                    w[nodes] = ((w[a] & ~0xFFL) + (w[b] & ~0xFFL)) | (long)(1 + Math.Max(w[a] & 0xFF, w[b] & 0xFF));
                    parent[nodes] = -1;
                    heap[++n] = nodes;
                    Up(n);
                    nodes++;
                }

                var tooLong = false;
                for (var i = 0; i < alphaSize; i++)
                {
                    var depth = 0;
                    for (var k = i; parent[k] >= 0; k = parent[k])
                    {
                        depth++;
                    }

                    len[lenOffset + i] = (byte)depth;
                    if (depth > maxLen)
                    {
                        tooLong = true;
                    }
                }

                return tooLong;

                void Up(int z)
                {
                    var t = heap[z];
                    while (z > 1 && w[t] < w[heap[z >> 1]])
                    {
                        heap[z] = heap[z >> 1];
                        z >>= 1;
                    }

                    heap[z] = t;
                }

                void Down(int z, int size)
                {
                    var t = heap[z];
                    while (true)
                    {
                        var y = z << 1;
                        if (y > size)
                        {
                            break;
                        }

                        if (y < size && w[heap[y + 1]] < w[heap[y]])
                        {
                            y++;
                        }

                        if (w[t] < w[heap[y]])
                        {
                            break;
                        }

                        heap[z] = heap[y];
                        z = y;
                    }

                    heap[z] = t;
                }
            }
        }
    }
}
