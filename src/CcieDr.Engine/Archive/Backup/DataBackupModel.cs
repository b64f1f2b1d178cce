using System;
using System.Collections.Generic;
using CcieDr.Engine.Archive.Bzip2;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Zstd;

namespace CcieDr.Engine.Archive.Backup
{
    /// <summary>What a data backup does.</summary>
    public sealed class DataBackupOptions
    {
        /// <summary>Default archive file name (the name the seed's circleci-restore expects).</summary>
        public const string DefaultFileName = "circleci-data-export.tar.bz2";

        /// <summary>Data directory to back up (default /data).</summary>
        public string SourcePath { get; set; } = "/data";

        /// <summary>Destination directory, or "s3://bucket/prefix/".</summary>
        public string Destination { get; set; } = string.Empty;

        /// <summary>Name the archive circleci-data-export-&lt;yyyyMMddTHHmmssZ&gt;.tar.bz2 so several can be kept.</summary>
        public bool TimestampedName { get; set; }

        /// <summary>Exclude patterns (see <see cref="DataBackupExclude"/>).</summary>
        public IList<string> Exclude { get; } = new List<string>();

        /// <summary>Shell command run before the backup (e.g. dump a database); a non-zero exit aborts the backup.</summary>
        public string? PreBackupCommand { get; set; }

        /// <summary>Shell command run after the backup, whatever its outcome, once the pre-backup command ran.</summary>
        public string? PostBackupCommand { get; set; }

        /// <summary>Longest a hook may run before it is killed (default 30 minutes).</summary>
        public TimeSpan HookTimeout { get; set; } = TimeSpan.FromMinutes(30);

        /// <summary>S3: KMS key for server-side encryption (aws:kms); AES256 otherwise.</summary>
        public string? KmsKeyId { get; set; }

        /// <summary>S3: server-side encryption ("AES256" default; ignored when <see cref="KmsKeyId"/> is set).</summary>
        public string? ServerSideEncryption { get; set; } = "AES256";

        /// <summary>S3: part size (default 16 MiB).</summary>
        public int S3PartSize { get; set; } = 16 * 1024 * 1024;

        /// <summary>Compression threads (0 = all cores).</summary>
        public int Threads { get; set; }

        /// <summary>bzip2 (default, .tar.bz2, what the seed's circleci-restore expects) or zstd (.tar.zst, the fast mode).</summary>
        public CompressionKind Compression { get; set; } = CompressionKind.Bzip2;

        /// <summary>zstd level (1-22, default 3) when <see cref="Compression"/> is zstd.</summary>
        public int ZstdLevel { get; set; } = ZstdCompressOptions.DefaultLevel;

        /// <summary>Uncompressed bytes per bzip2 stream (default 900 kB).</summary>
        public int BlockSize { get; set; } = ParallelBzip2Stream.DefaultBlockSize;

        /// <summary>Local: fraction of the source size the archive is assumed to need (default 0.6).</summary>
        public double EstimatedCompressionRatio { get; set; } = 0.6;

        /// <summary>Local: free space to keep on top of the estimate; the backup also stops if free space falls below half of it (default 64 MiB).</summary>
        public long SpaceReserveBytes { get; set; } = 64L * 1024 * 1024;

        /// <summary>Local: skip the free-space check.</summary>
        public bool SkipSpaceCheck { get; set; }

        /// <summary>Receives progress (throttled to <see cref="ProgressInterval"/>).</summary>
        public IProgress<DataBackupProgress>? Progress { get; set; }

        /// <summary>Minimum time between progress reports (default 250 ms).</summary>
        public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromMilliseconds(250);

        /// <summary>Host name recorded in the manifest (default: this machine).</summary>
        public string? HostName { get; set; }

        /// <summary>Clock (tests).</summary>
        public Func<DateTimeOffset>? Clock { get; set; }

        /// <summary>
        /// The archive's file name, fixed by <see cref="DataBackupPlan.Create"/> so the name confirmed is the
        /// name written; null: derived from the start time and <see cref="TimestampedName"/>. A bare name only.
        /// </summary>
        public string? FileName { get; set; }

        /// <summary>Free-space provider (tests).</summary>
        public IDiskSpaceProvider? DiskSpace { get; set; }
    }

    /// <summary>Phase of a running backup.</summary>
    public enum DataBackupPhase
    {
        /// <summary>Running the pre-backup command.</summary>
        PreBackupCommand,

        /// <summary>Listing the data directory.</summary>
        Scanning,

        /// <summary>Reading, archiving and compressing.</summary>
        Archiving,

        /// <summary>Writing the manifest, flushing, completing the upload or renaming the file.</summary>
        Finishing,

        /// <summary>Running the post-backup command.</summary>
        PostBackupCommand,
    }

    /// <summary>Progress of a running backup.</summary>
    public sealed class DataBackupProgress
    {
        internal DataBackupProgress(DataBackupPhase phase, long bytesRead, long totalBytes, long filesDone, long totalEntries, string? currentPath, long archiveBytes)
        {
            Phase = phase;
            BytesRead = bytesRead;
            TotalBytes = totalBytes;
            EntriesDone = filesDone;
            TotalEntries = totalEntries;
            CurrentPath = currentPath;
            ArchiveBytes = archiveBytes;
        }

        /// <summary>Phase.</summary>
        public DataBackupPhase Phase { get; }

        /// <summary>File bytes read so far.</summary>
        public long BytesRead { get; }

        /// <summary>Estimated file bytes in total (from the scan; live data may change it).</summary>
        public long TotalBytes { get; }

        /// <summary>Entries archived so far.</summary>
        public long EntriesDone { get; }

        /// <summary>Entries found by the scan.</summary>
        public long TotalEntries { get; }

        /// <summary>Archive path being read, when any.</summary>
        public string? CurrentPath { get; }

        /// <summary>Compressed bytes written so far.</summary>
        public long ArchiveBytes { get; }

        /// <summary>Percent complete by bytes (0-100), or -1 when the total is unknown.</summary>
        public int PercentComplete => TotalBytes <= 0 ? -1 : (int)Math.Min(100, BytesRead * 100 / TotalBytes);
    }

    /// <summary>Outcome of a successful data backup.</summary>
    public sealed class DataBackupResult
    {
        internal DataBackupResult(
            string location,
            string? bucketName,
            string? key,
            string fileName,
            long archiveSize,
            string sha256,
            ArchiveManifest manifest,
            long bytesRead,
            DateTimeOffset started,
            DateTimeOffset completed,
            IReadOnlyList<string> warnings,
            string compressor,
            BackupHookResult? preHook,
            BackupHookResult? postHook)
        {
            Location = location;
            BucketName = bucketName;
            Key = key;
            FileName = fileName;
            ArchiveSize = archiveSize;
            Sha256 = sha256;
            Manifest = manifest;
            BytesRead = bytesRead;
            Started = started;
            Completed = completed;
            Warnings = warnings;
            Compressor = compressor;
            PreBackupCommand = preHook;
            PostBackupCommand = postHook;
        }

        /// <summary>Full path of the archive, or s3://bucket/key.</summary>
        public string Location { get; }

        /// <summary>S3 bucket, when uploaded to S3.</summary>
        public string? BucketName { get; }

        /// <summary>S3 key, when uploaded to S3.</summary>
        public string? Key { get; }

        /// <summary>Archive file name.</summary>
        public string FileName { get; }

        /// <summary>Archive size in bytes.</summary>
        public long ArchiveSize { get; }

        /// <summary>Lowercase hex SHA-256 of the archive.</summary>
        public string Sha256 { get; }

        /// <summary>The manifest stored as the archive's last member.</summary>
        public ArchiveManifest Manifest { get; }

        /// <summary>Regular files archived.</summary>
        public long FileCount => Manifest.FileCount;

        /// <summary>File bytes read from the data directory.</summary>
        public long BytesRead { get; }

        /// <summary>Start time.</summary>
        public DateTimeOffset Started { get; }

        /// <summary>End time.</summary>
        public DateTimeOffset Completed { get; }

        /// <summary>Duration.</summary>
        public TimeSpan Duration => Completed - Started;

        /// <summary>File bytes read per second.</summary>
        public double ThroughputBytesPerSecond => Duration.TotalSeconds <= 0 ? 0 : BytesRead / Duration.TotalSeconds;

        /// <summary>Files that changed or vanished while being read, entries skipped, hook problems.</summary>
        public IReadOnlyList<string> Warnings { get; }

        /// <summary>Compressor used (bzip2 implementation, or zstd with its level and threads).</summary>
        public string Compressor { get; }

        /// <summary>bzip2 or zstd.</summary>
        public CompressionKind Compression { get; internal set; }

        /// <summary>Pre-backup command outcome, when one ran.</summary>
        public BackupHookResult? PreBackupCommand { get; }

        /// <summary>Post-backup command outcome, when one ran.</summary>
        public BackupHookResult? PostBackupCommand { get; }
    }

    /// <summary>Why a backup failed.</summary>
    public enum DataBackupErrorKind
    {
        /// <summary>The source directory does not exist or is not a directory.</summary>
        SourceNotFound,

        /// <summary>The destination is not usable (bad s3:// URI, not a directory, no S3 client).</summary>
        InvalidDestination,

        /// <summary>Not enough free space for the archive.</summary>
        InsufficientSpace,

        /// <summary>The pre-backup command failed.</summary>
        PreBackupCommandFailed,

        /// <summary>Reading, compressing, writing or uploading failed.</summary>
        WriteFailed,
    }

    /// <summary>A backup failed; nothing was left behind at the destination.</summary>
    public sealed class DataBackupException : Exception
    {
        /// <summary>Creates the exception.</summary>
        public DataBackupException(DataBackupErrorKind kind, string message, Exception? inner = null)
            : base(message, inner)
        {
            Kind = kind;
        }

        /// <summary>Why it failed.</summary>
        public DataBackupErrorKind Kind { get; }

        /// <summary>Pre-backup command outcome, when one ran.</summary>
        public BackupHookResult? PreBackupCommand { get; internal set; }

        /// <summary>Post-backup command outcome, when one ran.</summary>
        public BackupHookResult? PostBackupCommand { get; internal set; }
    }
}
