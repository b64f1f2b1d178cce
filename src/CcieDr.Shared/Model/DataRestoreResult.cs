using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>Outcome of <c>Restore-CcieData</c> (PSTypeName <c>CcieDr.DataRestoreResult</c>).</summary>
    public sealed class DataRestoreResult
    {
        internal DataRestoreResult(
            string source,
            string path,
            string? movedAsideTo,
            IReadOnlyList<string> movedAside,
            IReadOnlyList<string> restored,
            long fileCount,
            long bytes,
            long compressedBytes,
            DateTimeOffset startTime,
            TimeSpan duration,
            bool manifestVerified,
            IReadOnlyList<string> warnings,
            IReadOnlyList<TimelineEntry> timeline)
        {
            Source = source;
            Path = path;
            MovedAsideTo = movedAsideTo;
            MovedAside = movedAside;
            Restored = restored;
            FileCount = fileCount;
            Bytes = bytes;
            CompressedBytes = compressedBytes;
            StartTime = startTime;
            Duration = duration;
            ManifestVerified = manifestVerified;
            Warnings = warnings;
            Timeline = timeline;
        }

        /// <summary>Archive restored (local path or s3://bucket/key).</summary>
        public string Source { get; }

        /// <summary>Data directory restored into.</summary>
        public string Path { get; }

        /// <summary>Folder the previous data was moved to (<c>&lt;Path&gt;/circleci-restore-&lt;timestamp&gt;</c>), or null when the directory was empty.</summary>
        public string? MovedAsideTo { get; }

        /// <summary>Top-level names that were moved aside.</summary>
        public IReadOnlyList<string> MovedAside { get; }

        /// <summary>Top-level names that were restored.</summary>
        public IReadOnlyList<string> Restored { get; }

        /// <summary>Regular files restored (hard links not counted).</summary>
        public long FileCount { get; }

        /// <summary>File content bytes restored.</summary>
        public long Bytes { get; }

        /// <summary>Compressed archive bytes read.</summary>
        public long CompressedBytes { get; }

        /// <summary>When the restore started.</summary>
        public DateTimeOffset StartTime { get; }

        /// <summary>How long it took.</summary>
        public TimeSpan Duration { get; }

        /// <summary>True when the archive's manifest was present and every member matched it.</summary>
        public bool ManifestVerified { get; }

        /// <summary>Non-fatal remarks (e.g. "no manifest: contents not verified against a manifest").</summary>
        public IReadOnlyList<string> Warnings { get; }

        /// <summary>What happened when.</summary>
        public IReadOnlyList<TimelineEntry> Timeline { get; }
    }
}
