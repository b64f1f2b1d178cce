using System;
using System.IO;
using System.Text;

namespace CcieDr.Engine.Archive.Common
{
    /// <summary>An archive stream whose compression was recognised from its first bytes.</summary>
    public sealed class DetectedArchive
    {
        internal DetectedArchive(CompressionKind kind, Stream stream)
        {
            Kind = kind;
            Stream = stream;
        }

        /// <summary>The compression found in the content.</summary>
        public CompressionKind Kind { get; }

        /// <summary>The whole compressed stream from its first byte (the peeked bytes are replayed).</summary>
        public Stream Stream { get; }
    }

    /// <summary>
    /// Tells a bzip2 archive from a zstd one by its content, never by its name: bzip2 starts with
    /// <c>BZh</c> and a block-size digit, zstd with the frame magic <c>28 B5 2F FD</c> (or a skippable
    /// frame <c>5x 2A 4D 18</c>, as pzstd writes first). Anything else gets an error that says what it looks like.
    /// </summary>
    public static class ArchiveFormatDetector
    {
        /// <summary>Bytes peeked: enough to see the compression magics and a plain tar's <c>ustar</c> marker.</summary>
        public const int PeekLength = 512;

        /// <summary>The zstd frame magic, little endian 0xFD2FB528.</summary>
        internal static readonly byte[] ZstdMagic = { 0x28, 0xB5, 0x2F, 0xFD };

        /// <summary>Identifies the compression from the first bytes; null when neither bzip2 nor zstd.</summary>
        public static CompressionKind? Identify(byte[] head, int count)
        {
            if (head is null)
            {
                throw new ArgumentNullException(nameof(head));
            }

            count = Math.Min(count, head.Length);
            if (count >= 4 && head[0] == (byte)'B' && head[1] == (byte)'Z' && head[2] == (byte)'h' && head[3] >= (byte)'1' && head[3] <= (byte)'9')
            {
                return CompressionKind.Bzip2;
            }

            if (count >= 4 && head[0] == ZstdMagic[0] && head[1] == ZstdMagic[1] && head[2] == ZstdMagic[2] && head[3] == ZstdMagic[3])
            {
                return CompressionKind.Zstd;
            }

            // Skippable frame 0x184D2A50..0x184D2A5F: legal at the start of a zstd stream (pzstd writes one).
            if (count >= 4 && (head[0] & 0xF0) == 0x50 && head[1] == 0x2A && head[2] == 0x4D && head[3] == 0x18)
            {
                return CompressionKind.Zstd;
            }

            return null;
        }

        /// <summary>
        /// Peeks the first bytes of <paramref name="input"/> (seekable or not) and returns the kind together
        /// with a stream that starts at the archive's first byte. The returned stream owns
        /// <paramref name="input"/> unless <paramref name="leaveOpen"/>.
        /// </summary>
        /// <param name="input">The compressed archive, positioned at its start.</param>
        /// <param name="location">Where the archive is (path or s3:// URI), for the error message.</param>
        /// <param name="leaveOpen">Keep <paramref name="input"/> open when the returned stream is disposed.</param>
        /// <exception cref="ArchiveCorruptException">The archive is empty or neither bzip2 nor zstd.</exception>
        public static DetectedArchive Detect(Stream input, string? location = null, bool leaveOpen = false)
        {
            if (input is null)
            {
                throw new ArgumentNullException(nameof(input));
            }

            var head = new byte[PeekLength];
            int got = 0;
            while (got < head.Length)
            {
                int n = input.Read(head, got, head.Length - got);
                if (n <= 0)
                {
                    break;
                }

                got += n;

                // The magic is enough once it is there; keep reading only while it could still be a plain tar.
                if (got >= 4 && Identify(head, got) != null)
                {
                    break;
                }
            }

            var kind = Identify(head, got);
            if (kind is null)
            {
                throw new ArchiveCorruptException(DescribeUnknown(head, got, location));
            }

            var prefix = new byte[got];
            Buffer.BlockCopy(head, 0, prefix, 0, got);
            return new DetectedArchive(kind.Value, new ReplayStream(prefix, input, leaveOpen));
        }

        /// <summary>Reads the kind of a local file from its first bytes.</summary>
        /// <exception cref="ArchiveCorruptException">The file is empty or neither bzip2 nor zstd.</exception>
        public static CompressionKind DetectFile(string path)
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
            return Detect(fs, path, leaveOpen: true).Kind;
        }

        private static string DescribeUnknown(byte[] head, int count, string? location)
        {
            string what = location is null ? "The archive" : $"The archive '{location}'";
            if (count == 0)
            {
                return $"{what} is empty: it holds no compressed data. Point to a circleci-data-export.tar.bz2 or .tar.zst archive.";
            }

            string looks;
            if (count >= 2 && head[0] == 0x1F && head[1] == 0x8B)
            {
                looks = "a gzip stream";
            }
            else if (count >= 6 && head[0] == 0xFD && head[1] == (byte)'7' && head[2] == (byte)'z' && head[3] == (byte)'X' && head[4] == (byte)'Z' && head[5] == 0)
            {
                looks = "an xz stream";
            }
            else if (count >= 4 && head[0] == 0x04 && head[1] == 0x22 && head[2] == 0x4D && head[3] == 0x18)
            {
                looks = "an lz4 stream";
            }
            else if (count >= 262 && Encoding.ASCII.GetString(head, 257, 5) == "ustar")
            {
                looks = "an uncompressed tar";
            }
            else if (count >= 3 && head[0] == (byte)'B' && head[1] == (byte)'Z' && head[2] == (byte)'h')
            {
                looks = "a damaged bzip2 header";
            }
            else
            {
                var sb = new StringBuilder();
                for (int i = 0; i < Math.Min(count, 4); i++)
                {
                    sb.Append(head[i].ToString("X2", System.Globalization.CultureInfo.InvariantCulture)).Append(i < Math.Min(count, 4) - 1 ? " " : string.Empty);
                }

                looks = $"unknown data (first bytes {sb})";
            }

            return $"{what} is neither bzip2 (BZh) nor zstd (28 B5 2F FD): it looks like {looks}. CcieDr reads the .tar.bz2 and .tar.zst archives that Backup-CcieData, tar -cjf and tar --zstd -cf write.";
        }
    }
}
