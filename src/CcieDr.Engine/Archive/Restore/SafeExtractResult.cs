using System.Collections.Generic;
using CcieDr.Engine.Archive.Common;

namespace CcieDr.Engine.Archive.Restore
{
    /// <summary>Outcome of reading an archive with <see cref="SafeExtractor"/>.</summary>
    public sealed class SafeExtractResult
    {
        internal SafeExtractResult(
            ArchiveManifest? manifest,
            bool manifestVerified,
            long members,
            long files,
            long directories,
            long symlinks,
            long hardLinks,
            long contentBytes,
            long compressedBytes,
            int bzip2Streams,
            IReadOnlyList<string> topLevelEntries,
            IReadOnlyList<string> problems,
            long problemCount,
            IReadOnlyList<string> warnings,
            string decoder)
        {
            Manifest = manifest;
            ManifestVerified = manifestVerified;
            Members = members;
            Files = files;
            Directories = directories;
            Symlinks = symlinks;
            HardLinks = hardLinks;
            ContentBytes = contentBytes;
            CompressedBytes = compressedBytes;
            Bzip2Streams = bzip2Streams;
            TopLevelEntries = topLevelEntries;
            Problems = problems;
            ProblemCount = problemCount;
            Warnings = warnings;
            Decoder = decoder;
        }

        /// <summary>The archive's manifest, when it has one.</summary>
        public ArchiveManifest? Manifest { get; }

        /// <summary>True when a manifest was present and every member matched it.</summary>
        public bool ManifestVerified { get; }

        /// <summary>Members read (including the manifest).</summary>
        public long Members { get; }

        /// <summary>Regular files (hard links not counted).</summary>
        public long Files { get; }

        /// <summary>Directories.</summary>
        public long Directories { get; }

        /// <summary>Symbolic links.</summary>
        public long Symlinks { get; }

        /// <summary>Hard links.</summary>
        public long HardLinks { get; }

        /// <summary>File content bytes.</summary>
        public long ContentBytes { get; }

        /// <summary>Compressed bytes read.</summary>
        public long CompressedBytes { get; }

        /// <summary>Number of concatenated bzip2 streams.</summary>
        public int Bzip2Streams { get; }

        /// <summary>Top-level names in the archive (what a restore puts into the data directory).</summary>
        public IReadOnlyList<string> TopLevelEntries { get; }

        /// <summary>The first problems found (only when collecting).</summary>
        public IReadOnlyList<string> Problems { get; }

        /// <summary>How many problems were found in all.</summary>
        public long ProblemCount { get; }

        /// <summary>Non-fatal remarks (no manifest, lone zero block, ...).</summary>
        public IReadOnlyList<string> Warnings { get; }

        /// <summary>"native" or "managed" bzip2 decoder, or "zstd".</summary>
        public string Decoder { get; }

        /// <summary>bzip2 or zstd, as found in the archive's first bytes; null when it was neither.</summary>
        public CompressionKind? Compression { get; internal set; }
    }
}
