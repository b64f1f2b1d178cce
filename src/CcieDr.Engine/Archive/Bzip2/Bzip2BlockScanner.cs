using System;
using System.Buffers.Binary;

namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>
    /// Finds bzip2 block boundaries inside one stream: the 48-bit block magic 0x314159265359 and the end-of-stream
    /// magic 0x177245385090, at any bit offset (blocks are not byte-aligned). A table look-up of one "anchor"
    /// byte per position (the third byte of a candidate, which lies wholly inside the magic for every bit shift)
    /// narrows the search to about one byte in sixteen; each hit is checked with one 64-bit load and eight shifts.
    /// A hit may be a false positive (the pattern occurring inside compressed data): the caller verifies it by
    /// decoding.
    /// </summary>
    internal static class Bzip2BlockScanner
    {
        internal const ulong BlockMagic = 0x314159265359UL;
        internal const ulong EndMagic = 0x177245385090UL;
        private const ulong Mask48 = (1UL << 48) - 1;

        private static readonly bool[] Anchors = BuildAnchors();

        /// <summary>
        /// The first magic starting at bit <paramref name="fromBit"/> or later in <paramref name="data"/> (bit 0 is
        /// the high bit of byte 0). With <paramref name="complete"/> false, more data may follow, so only candidates
        /// whose 8 bytes are all present are examined, and <paramref name="resumeBit"/> says where to search again
        /// once more data is there. Returns the bit offset, or -1.
        /// </summary>
        public static long Find(ReadOnlySpan<byte> data, long fromBit, bool complete, out bool endOfStream, out long resumeBit)
        {
            endOfStream = false;
            long firstQ = fromBit >> 3;
            long lastQ = complete ? data.Length - 6 : data.Length - 8; // the magic needs 6 bytes; the load reads 8
            resumeBit = Math.Max(fromBit, (lastQ + 1) * 8);
            if (firstQ > lastQ)
            {
                return -1;
            }

            int p = (int)firstQ + 2;
            int lastP = (int)lastQ + 2;
            while (p <= lastP)
            {
                while (p <= lastP && !Anchors[data[p]])
                {
                    p++;
                }

                if (p > lastP)
                {
                    return -1;
                }

                int q = p - 2;
                ulong w = Load(data, q);
                for (int s = 0; s < 8; s++)
                {
                    long bit = ((long)q * 8) + s;
                    if (bit < fromBit || bit + 48 > (long)data.Length * 8)
                    {
                        continue;
                    }

                    ulong v = (w >> (16 - s)) & Mask48;
                    if (v == BlockMagic || v == EndMagic)
                    {
                        endOfStream = v == EndMagic;
                        return bit;
                    }
                }

                p++;
            }

            return -1;
        }

        /// <summary>The 48 bits at bit <paramref name="bit"/> (zeros past the end).</summary>
        public static ulong Read48(ReadOnlySpan<byte> data, long bit) => (Load(data, (int)(bit >> 3)) >> (16 - (int)(bit & 7))) & Mask48;

        /// <summary><paramref name="count"/> (at most 32) bits at bit <paramref name="bit"/> (zeros past the end).</summary>
        public static uint ReadBits(ReadOnlySpan<byte> data, long bit, int count) =>
            (uint)((Load(data, (int)(bit >> 3)) >> (64 - count - (int)(bit & 7))) & ((1UL << count) - 1));

        private static ulong Load(ReadOnlySpan<byte> data, int q)
        {
            if (q >= 0 && q + 8 <= data.Length)
            {
                return BinaryPrimitives.ReadUInt64BigEndian(data.Slice(q, 8));
            }

            ulong w = 0;
            for (int i = 0; i < 8; i++)
            {
                int k = q + i;
                w = (w << 8) | (k >= 0 && k < data.Length ? data[k] : 0UL);
            }

            return w;
        }

        private static bool[] BuildAnchors()
        {
            // Byte q+2 of a magic starting at bit 8q+s holds the magic's bits (16-s)..(23-s).
            var table = new bool[256];
            for (int s = 0; s < 8; s++)
            {
                table[(byte)(BlockMagic >> (24 + s))] = true;
                table[(byte)(EndMagic >> (24 + s))] = true;
            }

            return table;
        }
    }
}
