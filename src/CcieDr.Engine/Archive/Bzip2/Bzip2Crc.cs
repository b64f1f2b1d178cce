namespace CcieDr.Engine.Archive.Bzip2
{
    /// <summary>
    /// bzip2's block CRC: CRC-32 with polynomial 0x04C11DB7, most significant bit first (not the reflected zlib
    /// CRC), computed eight bytes at a time (slicing-by-8).
    /// </summary>
    internal static class Bzip2Crc
    {
        private static readonly uint[] Table = Build();

        /// <summary>The value a block's CRC starts from.</summary>
        public const uint Initial = 0xFFFFFFFFu;

        /// <summary>Adds <paramref name="count"/> bytes at <paramref name="data"/> to a running CRC (start from <see cref="Initial"/>; the block CRC is its complement).</summary>
        public static unsafe uint Update(uint crc, byte* data, int count)
        {
            fixed (uint* t = Table)
            {
                while (count >= 8)
                {
                    var a = crc ^ ((uint)data[0] << 24 | (uint)data[1] << 16 | (uint)data[2] << 8 | data[3]);
                    crc = t[(7 * 256) + (a >> 24)] ^ t[(6 * 256) + ((a >> 16) & 0xFF)] ^ t[(5 * 256) + ((a >> 8) & 0xFF)] ^ t[(4 * 256) + (a & 0xFF)]
                        ^ t[(3 * 256) + data[4]] ^ t[(2 * 256) + data[5]] ^ t[256 + data[6]] ^ t[data[7]];
                    data += 8;
                    count -= 8;
                }

                while (count-- > 0)
                {
                    crc = (crc << 8) ^ t[(crc >> 24) ^ *data++];
                }
            }

            return crc;
        }

        /// <summary>The block CRC of <paramref name="count"/> bytes of <paramref name="data"/> from <paramref name="offset"/>.</summary>
        public static unsafe uint Compute(byte[] data, int offset, int count)
        {
            fixed (byte* p = data)
            {
                return ~Update(Initial, p + offset, count);
            }
        }

        private static uint[] Build()
        {
            var t = new uint[8 * 256];
            for (uint i = 0; i < 256; i++)
            {
                var c = i << 24;
                for (var k = 0; k < 8; k++)
                {
                    c = (c & 0x80000000u) != 0 ? (c << 1) ^ 0x04C11DB7u : c << 1;
                }

                t[i] = c;
            }

            // t[k*256 + b]: the CRC contribution of byte b followed by k zero bytes.
            for (var k = 1; k < 8; k++)
            {
                for (var i = 0; i < 256; i++)
                {
                    var prev = t[((k - 1) * 256) + i];
                    t[(k * 256) + i] = (prev << 8) ^ t[prev >> 24];
                }
            }

            return t;
        }
    }
}
