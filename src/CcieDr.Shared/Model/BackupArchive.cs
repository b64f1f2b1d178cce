using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>
    /// A data archive written by Backup-CcieData: where it is, how big, its SHA-256, what went into it and how long
    /// it took. Location pipes into Restore-CcieData and Test-CcieBackup.
    /// </summary>
    public sealed class BackupArchive
    {
        internal BackupArchive()
        {
        }

        /// <summary>Full path of the archive, or s3://bucket/key.</summary>
        public string Location { get; internal set; } = string.Empty;

        /// <summary>Archive file name (circleci-data-export[-yyyyMMddTHHmmssZ].tar.bz2).</summary>
        public string Name { get; internal set; } = string.Empty;

        /// <summary>S3 bucket, for S3 archives.</summary>
        public string? BucketName { get; internal set; }

        /// <summary>S3 key, for S3 archives.</summary>
        public string? Key { get; internal set; }

        /// <summary>Data directory that was backed up.</summary>
        public string SourcePath { get; internal set; } = string.Empty;

        /// <summary>Host the backup was taken on.</summary>
        public string SourceHost { get; internal set; } = string.Empty;

        /// <summary>Archive size in bytes.</summary>
        public long Size { get; internal set; }

        /// <summary>Lowercase hex SHA-256 of the archive.</summary>
        public string Sha256 { get; internal set; } = string.Empty;

        /// <summary>Regular files archived.</summary>
        public long FileCount { get; internal set; }

        /// <summary>Members archived (files, directories, links).</summary>
        public long EntryCount { get; internal set; }

        /// <summary>File bytes read from the data directory.</summary>
        public long BytesRead { get; internal set; }

        /// <summary>Archive size / bytes read.</summary>
        public double CompressionRatio => BytesRead <= 0 ? 0 : (double)Size / BytesRead;

        /// <summary>Start time (UTC).</summary>
        public DateTime Started { get; internal set; }

        /// <summary>End time (UTC).</summary>
        public DateTime Completed { get; internal set; }

        /// <summary>Completed - Started.</summary>
        public TimeSpan Duration => Completed - Started;

        /// <summary>Megabytes (10^6 bytes) of data read per second.</summary>
        public double ThroughputMBps { get; internal set; }

        /// <summary>"bzip2" (.tar.bz2, the default) or "zstd" (.tar.zst, -Compression Zstd).</summary>
        public string Compression { get; internal set; } = "bzip2";

        /// <summary>Compressor used: the bzip2 implementation (native libbz2 or managed), or zstd with its level and threads.</summary>
        public string Compressor { get; internal set; } = string.Empty;

        /// <summary>Files that changed or vanished while being read, entries skipped, hook problems.</summary>
        public IReadOnlyList<string> Warnings { get; internal set; } = Array.Empty<string>();

        public override string ToString() => Location;
    }

    /// <summary>A data archive listed by Get-CcieBackup (and considered by Remove-CcieBackup).</summary>
    public sealed class BackupInfo
    {
        internal BackupInfo()
        {
        }

        /// <summary>File or object name.</summary>
        public string Name { get; internal set; } = string.Empty;

        /// <summary>Full path or s3://bucket/key.</summary>
        public string Location { get; internal set; } = string.Empty;

        /// <summary>Size in bytes.</summary>
        public long Size { get; internal set; }

        /// <summary>When the backup was taken (UTC): from the manifest or S3 metadata, else the name's timestamp, else the last write.</summary>
        public DateTime Created { get; internal set; }

        /// <summary>Last write time of the file or object (UTC).</summary>
        public DateTime LastModified { get; internal set; }

        /// <summary>True when the archive ends with a CcieDr manifest: a complete CcieDr archive.</summary>
        public bool HasManifest { get; internal set; }

        /// <summary>"bzip2" or "zstd", read from the archive's first bytes (not its name); null when it is neither.</summary>
        public string? Compression { get; internal set; }

        /// <summary>Files in the archive, when the manifest was read.</summary>
        public long? FileCount { get; internal set; }

        /// <summary>Host the backup was taken on, when the manifest was read.</summary>
        public string? SourceHost { get; internal set; }

        /// <summary>S3 bucket, for S3 archives.</summary>
        public string? BucketName { get; internal set; }

        /// <summary>S3 key, for S3 archives.</summary>
        public string? Key { get; internal set; }

        /// <summary>Set by Remove-CcieBackup: Keep or Remove.</summary>
        public string? RetentionAction { get; internal set; }

        /// <summary>Set by Remove-CcieBackup: which rules keep it (e.g. keep-daily 2026-11-27) or why it goes.</summary>
        public IReadOnlyList<string> RetentionReasons { get; internal set; } = Array.Empty<string>();

        public override string ToString() => Location;
    }
}
