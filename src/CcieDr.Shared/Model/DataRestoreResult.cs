using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>Outcome of <c>Restore-CcieData</c> (PSTypeName <c>CcieDr.DataRestoreResult</c>).</summary>
    public sealed class DataRestoreResult
    {
        /// <summary>Creates the result.</summary>
        public DataRestoreResult(
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
            IReadOnlyList<string> timeline)
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

        /// <summary>What happened when ("2026-01-01T00:00:00.000Z staged 1200 files").</summary>
        public IReadOnlyList<string> Timeline { get; }
    }
}
