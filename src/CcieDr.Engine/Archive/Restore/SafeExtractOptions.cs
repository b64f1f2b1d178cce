using System;
using System.Threading;
using CcieDr.Engine.Archive.Bzip2;

namespace CcieDr.Engine.Archive.Restore
{
    /// <summary>Progress of reading (and extracting) an archive.</summary>
    public sealed class ArchiveReadProgress
    {
        internal ArchiveReadProgress(string phase, string? currentMember, long compressedBytes, long? compressedTotal, long members, long contentBytes)
        {
            Phase = phase;
            CurrentMember = currentMember;
            CompressedBytes = compressedBytes;
            CompressedTotal = compressedTotal;
            Members = members;
            ContentBytes = contentBytes;
        }

        /// <summary>What is happening ("Extracting", "Verifying", "Moving aside", ...).</summary>
        public string Phase { get; }

        /// <summary>Member being processed.</summary>
        public string? CurrentMember { get; }

        /// <summary>Compressed bytes read so far.</summary>
        public long CompressedBytes { get; }

        /// <summary>Size of the compressed archive, when known.</summary>
        public long? CompressedTotal { get; }

        /// <summary>Members processed so far.</summary>
        public long Members { get; }

        /// <summary>File content bytes processed so far.</summary>
        public long ContentBytes { get; }

        /// <summary>Percent complete (0-100) when the total is known, else -1.</summary>
        public int Percent => CompressedTotal is long t && t > 0 ? (int)Math.Min(100, CompressedBytes * 100 / t) : -1;
    }

    /// <summary>Settings of one <see cref="SafeExtractor"/> run.</summary>
    public sealed class SafeExtractOptions
    {
        /// <summary>
        /// Empty directory to extract into (a staging directory the caller created), or null to
        /// read and verify only.
        /// </summary>
        public string? TargetDirectory { get; set; }

        /// <summary>
        /// Where the contents will finally live (the data directory). Absolute symlink targets
        /// are accepted only inside it. Null: the manifest's source path, else none accepted.
        /// </summary>
        public string? FinalPath { get; set; }

        /// <summary>Restore uid/gid (default: when running as root).</summary>
        public bool? RestoreOwnership { get; set; }

        /// <summary>Largest member accepted (bytes); default 4 TiB.</summary>
        public long MaxMemberSize { get; set; } = 4L << 40;

        /// <summary>Refuse a member when it would not fit in the free space of the target filesystem.</summary>
        public bool CheckFreeSpace { get; set; } = true;

        /// <summary>
        /// Record problems (up to <see cref="MaxProblems"/>) and keep reading, instead of stopping
        /// at the first. Used by verification; extraction always stops at the first.
        /// </summary>
        public bool CollectProblems { get; set; }

        /// <summary>How many problems to keep when collecting.</summary>
        public int MaxProblems { get; set; } = 20;

        /// <summary>Size of the compressed input, when known (for percent).</summary>
        public long? CompressedLength { get; set; }

        /// <summary>Progress callback (throttled).</summary>
        public IProgress<ArchiveReadProgress>? Progress { get; set; }

        /// <summary>Phase name reported in progress.</summary>
        public string Phase { get; set; } = "Extracting";

        /// <summary>bzip2 decoder choice.</summary>
        public Bzip2Implementation Bzip2 { get; set; } = Bzip2Implementation.Auto;

        /// <summary>Decode ahead on a second thread (pipelining decompression and extraction).</summary>
        public bool ReadAhead { get; set; } = true;

        /// <summary>Keep setuid/setgid on regular files (<see cref="PermissionPreservation.Full"/>); by default they are stripped, with a warning.</summary>
        public PermissionPreservation PreservePermissions { get; set; } = PermissionPreservation.Standard;

        internal CancellationToken CancellationToken { get; set; }

        /// <summary>Test hook: called with the full path of each extracted file after its first block is written, before the rest (and before its mode is applied).</summary>
        internal Action<string>? FileWriting { get; set; }

        /// <summary>Test hook: called with the extractor's index once the archive is read (what it holds in memory).</summary>
        internal Action<SafeExtractIndex>? IndexInspector { get; set; }
    }
}
