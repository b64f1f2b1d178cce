using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>Verdict of <c>Test-CcieBackup</c>.</summary>
    public enum BackupVerdict
    {
        /// <summary>The archive reads completely and every member matches its manifest.</summary>
        Passed,

        /// <summary>The archive is damaged, hostile, or does not match its manifest.</summary>
        Failed,

        /// <summary>The archive reads completely but has no manifest to check it against.</summary>
        NoManifest,
    }

    /// <summary>Outcome of <c>Test-CcieBackup</c> (PSTypeName <c>CcieDr.BackupVerification</c>).</summary>
    public sealed class BackupVerification
    {
        internal BackupVerification(
            string source,
            BackupVerdict verdict,
            long memberCount,
            long fileCount,
            long bytes,
            long compressedBytes,
            int bzip2Streams,
            string? manifestTool,
            string? manifestHost,
            DateTimeOffset? manifestCreated,
            long problemCount,
            IReadOnlyList<string> problems,
            IReadOnlyList<string> warnings,
            TimeSpan duration)
        {
            Source = source;
            Verdict = verdict;
            MemberCount = memberCount;
            FileCount = fileCount;
            Bytes = bytes;
            CompressedBytes = compressedBytes;
            Bzip2Streams = bzip2Streams;
            ManifestTool = manifestTool;
            ManifestHost = manifestHost;
            ManifestCreated = manifestCreated;
            ProblemCount = problemCount;
            Problems = problems;
            Warnings = warnings;
            Duration = duration;
        }

        /// <summary>Archive checked (local path or s3://bucket/key).</summary>
        public string Source { get; }

        /// <summary>Passed, Failed or NoManifest.</summary>
        public BackupVerdict Verdict { get; }

        /// <summary>True when the verdict is Passed.</summary>
        public bool Passed => Verdict == BackupVerdict.Passed;

        /// <summary>Members read (files, directories, links).</summary>
        public long MemberCount { get; }

        /// <summary>Regular files.</summary>
        public long FileCount { get; }

        /// <summary>File content bytes.</summary>
        public long Bytes { get; }

        /// <summary>Compressed bytes read.</summary>
        public long CompressedBytes { get; }

        /// <summary>Concatenated bzip2 streams.</summary>
        public int Bzip2Streams { get; }

        /// <summary>"bzip2" or "zstd", as found in the archive's first bytes; null when it was neither.</summary>
        public string? Compression { get; internal set; }

        /// <summary>Tool that wrote the manifest ("CcieDr 1.2.0"), when present.</summary>
        public string? ManifestTool { get; }

        /// <summary>Host the backup was taken on, when present.</summary>
        public string? ManifestHost { get; }

        /// <summary>When the backup was taken, when present.</summary>
        public DateTimeOffset? ManifestCreated { get; }

        /// <summary>How many problems were found.</summary>
        public long ProblemCount { get; }

        /// <summary>The first problems found.</summary>
        public IReadOnlyList<string> Problems { get; }

        /// <summary>Non-fatal remarks.</summary>
        public IReadOnlyList<string> Warnings { get; }

        /// <summary>How long the check took.</summary>
        public TimeSpan Duration { get; }

        /// <summary>Where Test-CcieBackup recorded this result next to the archive (&lt;archive&gt;.ccie-test.json); null with -NoRecord.</summary>
        public string? RecordLocation { get; internal set; }
    }
}
