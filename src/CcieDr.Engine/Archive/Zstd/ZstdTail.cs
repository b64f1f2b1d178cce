using System;
using System.IO;
using CcieDr.Engine.Archive.Common;

namespace CcieDr.Engine.Archive.Zstd
{
    /// <summary>
    /// Reads the end of a zstd archive from its last bytes alone. CcieDr's zstd archives put the manifest in a
    /// frame of its own (<see cref="ZstdCompressStream.EndFrame"/>), so the last frames can be decoded without
    /// the rest: this finds frame starts (the zstd magic) in the tail, latest first, and decodes from each one
    /// that decodes cleanly to the very end until the caller accepts what came out. A magic-looking byte run
    /// inside compressed data does not decode, and is skipped.
    /// </summary>
    public static class ZstdTail
    {
        /// <summary>Most candidate frame starts that decode cleanly but are not accepted before giving up.</summary>
        public const int MaxDecodedCandidates = 16;

        /// <summary>
        /// Decodes <paramref name="tail"/> from its last frame start(s) to the end; returns the decoded bytes of the
        /// latest start for which <paramref name="accept"/> holds, or null (no frame start in the tail, or none
        /// accepted: a single-frame archive such as GNU tar's, a truncated file).
        /// </summary>
        /// <param name="tail">The last bytes of the archive.</param>
        /// <param name="accept">Whether the decoded bytes hold what the caller looks for (e.g. the manifest member).</param>
        /// <param name="maxDecodedBytes">Candidates that decode to more than this are skipped (bounded memory).</param>
        public static byte[]? Decode(byte[] tail, Func<byte[], bool> accept, int maxDecodedBytes = 256 * 1024 * 1024)
        {
            if (tail is null)
            {
                throw new ArgumentNullException(nameof(tail));
            }

            if (accept is null)
            {
                throw new ArgumentNullException(nameof(accept));
            }

            var magic = ArchiveFormatDetector.ZstdMagic;
            int decodedCandidates = 0;
            for (int i = tail.Length - 9; i >= 0 && decodedCandidates < MaxDecodedCandidates; i--)
            {
                if (tail[i] != magic[0] || tail[i + 1] != magic[1] || tail[i + 2] != magic[2] || tail[i + 3] != magic[3])
                {
                    continue;
                }

                var decoded = TryDecode(tail, i, maxDecodedBytes);
                if (decoded is null)
                {
                    continue;
                }

                decodedCandidates++;
                if (accept(decoded))
                {
                    return decoded;
                }
            }

            return null;
        }

        private static byte[]? TryDecode(byte[] data, int offset, int maxDecodedBytes)
        {
            try
            {
                using var z = new ZstdDecompressStream(new MemoryStream(data, offset, data.Length - offset, writable: false));
                using var output = new MemoryStream();
                var buffer = new byte[81920];
                int n;
                while ((n = z.Read(buffer, 0, buffer.Length)) > 0)
                {
                    output.Write(buffer, 0, n);
                    if (output.Length > maxDecodedBytes)
                    {
                        return null;
                    }
                }

                return output.ToArray();
            }
            catch (ArchiveCorruptException)
            {
                return null; // not a real frame start, or not a clean run of frames to the end
            }
        }
    }
}
