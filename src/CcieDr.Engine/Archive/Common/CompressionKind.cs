using System;

namespace CcieDr.Engine.Archive.Common
{
    /// <summary>How a data archive's tar stream is compressed.</summary>
    public enum CompressionKind
    {
        /// <summary>bzip2 (<c>.tar.bz2</c>): the default, what the seed's <c>circleci-restore</c> expects.</summary>
        Bzip2,

        /// <summary>Zstandard (<c>.tar.zst</c>): the fast mode, read by <c>tar -I zstd -xf</c>.</summary>
        Zstd,
    }

    /// <summary>File naming per compression kind.</summary>
    public static class CompressionKinds
    {
        /// <summary>The archive file name suffix, including the tar part: <c>.tar.bz2</c> or <c>.tar.zst</c>.</summary>
        public static string ArchiveExtension(this CompressionKind kind) => kind switch
        {
            CompressionKind.Bzip2 => ".tar.bz2",
            CompressionKind.Zstd => ".tar.zst",
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown compression kind."),
        };

        /// <summary>"bzip2" or "zstd", as output objects show it.</summary>
        public static string DisplayName(this CompressionKind kind) => kind switch
        {
            CompressionKind.Bzip2 => "bzip2",
            CompressionKind.Zstd => "zstd",
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown compression kind."),
        };

        /// <summary>The GNU tar option that reads such an archive, for messages and help.</summary>
        public static string TarReadCommand(this CompressionKind kind) => kind switch
        {
            CompressionKind.Bzip2 => "tar -xjf",
            CompressionKind.Zstd => "tar -I zstd -xf",
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown compression kind."),
        };

        /// <summary>
        /// Replaces a known archive suffix (<c>.tar.bz2</c>, <c>.tbz2</c>, <c>.tar.zst</c>, <c>.tzst</c>) of
        /// <paramref name="fileName"/> with the one for <paramref name="kind"/>; appends it when there is none.
        /// </summary>
        public static string WithArchiveExtension(string fileName, CompressionKind kind)
        {
            if (fileName is null)
            {
                throw new ArgumentNullException(nameof(fileName));
            }

            foreach (var known in KnownSuffixes)
            {
                if (fileName.EndsWith(known, StringComparison.OrdinalIgnoreCase))
                {
                    return fileName.Substring(0, fileName.Length - known.Length) + kind.ArchiveExtension();
                }
            }

            return fileName + kind.ArchiveExtension();
        }

        /// <summary>Whether a file name looks like a data archive of either kind (for listings; the content decides the kind).</summary>
        public static bool HasArchiveExtension(string fileName)
        {
            if (fileName is null)
            {
                return false;
            }

            foreach (var known in KnownSuffixes)
            {
                if (fileName.EndsWith(known, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }

            return false;
        }

        private static readonly string[] KnownSuffixes = { ".tar.bz2", ".tbz2", ".tar.zst", ".tzst" };
    }
}
