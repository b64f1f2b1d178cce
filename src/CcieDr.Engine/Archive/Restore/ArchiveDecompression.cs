using System;
using System.IO;
using CcieDr.Engine.Archive.Bzip2;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Zstd;

namespace CcieDr.Engine.Archive.Restore
{
    /// <summary>A compressed archive opened for reading its tar stream, with the compression found in its content.</summary>
    public sealed class DecompressedArchive : IDisposable
    {
        private readonly ReplayStream _compressed;

        internal DecompressedArchive(CompressionKind kind, Stream tar, ReplayStream compressed)
        {
            Kind = kind;
            Tar = tar;
            _compressed = compressed;
        }

        /// <summary>bzip2 or zstd, as read from the first bytes.</summary>
        public CompressionKind Kind { get; }

        /// <summary>The decompressed tar stream.</summary>
        public Stream Tar { get; }

        /// <summary>Compressed bytes consumed so far (for progress against the archive's size).</summary>
        public long CompressedBytesRead => _compressed.Position;

        /// <summary>Disposes the decompressor and, unless opened with leaveOpen, the compressed source.</summary>
        public void Dispose() => Tar.Dispose();
    }

    /// <summary>Opens either kind of data archive by content: bzip2 (<c>BZh</c>) or zstd (<c>28 B5 2F FD</c>), whatever its name.</summary>
    public static class ArchiveDecompression
    {
        /// <summary>Detects the compression of <paramref name="compressed"/> and opens the matching decompressor.</summary>
        /// <param name="compressed">The archive from its first byte; need not be seekable.</param>
        /// <param name="location">Path or s3:// URI, for error messages.</param>
        /// <param name="leaveOpen">Keep <paramref name="compressed"/> open when the result is disposed.</param>
        /// <param name="bzip2">Which bzip2 decoder to use for a bzip2 archive.</param>
        /// <exception cref="ArchiveCorruptException">Empty, or neither bzip2 nor zstd.</exception>
        public static DecompressedArchive Open(Stream compressed, string? location = null, bool leaveOpen = false, Bzip2Implementation bzip2 = Bzip2Implementation.Auto) =>
            Open(compressed, location, leaveOpen, s => Bzip2DecompressStream.Open(s, leaveOpen: false, bzip2));

        /// <summary>As <see cref="Open(Stream, string, bool, Bzip2Implementation)"/>, with the caller's bzip2 decoder factory (it must own the stream it is given).</summary>
        public static DecompressedArchive Open(Stream compressed, string? location, bool leaveOpen, Func<Stream, Stream> openBzip2)
        {
            if (openBzip2 is null)
            {
                throw new ArgumentNullException(nameof(openBzip2));
            }

            var detected = ArchiveFormatDetector.Detect(compressed, location, leaveOpen);
            var replay = (ReplayStream)detected.Stream;
            try
            {
                Stream tar = detected.Kind == CompressionKind.Zstd
                    ? new ZstdDecompressStream(replay, leaveOpen: false, location)
                    : openBzip2(replay);
                return new DecompressedArchive(detected.Kind, tar, replay);
            }
            catch
            {
                replay.Dispose();
                throw;
            }
        }
    }
}
