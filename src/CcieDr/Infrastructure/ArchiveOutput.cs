using System;
using System.Management.Automation;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using CcieDr.Engine.Archive.Storage;

namespace CcieDr.Commands
{
    /// <summary>
    /// Turns the engine's archive-read progress into PowerShell progress records: one sink shared by every
    /// cmdlet that reads an archive (Restore-CcieData, Test-CcieBackup), each with its own activity id.
    /// </summary>
    internal sealed class ArchiveProgressSink : IProgress<ArchiveReadProgress>
    {
        private readonly Action<ProgressRecord> _write;
        private readonly string _activity;
        private readonly int _id;

        internal ArchiveProgressSink(Action<ProgressRecord> write, string activity, int id)
        {
            _write = write;
            _activity = activity;
            _id = id;
        }

        /// <inheritdoc/>
        public void Report(ArchiveReadProgress value)
        {
            string status = $"{value.Phase}: {value.Members} members, {value.ContentBytes / (1024 * 1024)} MiB" + (value.CurrentMember is null ? string.Empty : " - " + value.CurrentMember);
            _write(new ProgressRecord(_id, _activity, status) { PercentComplete = value.Percent });
        }
    }

    /// <summary>The one mapping from an engine archive description to the CcieDr.BackupInfo output object.</summary>
    internal static class BackupInfoMapper
    {
        /// <summary>The output object for <paramref name="a"/>.</summary>
        internal static BackupInfo ToOutput(DataBackupArchiveInfo a) => new BackupInfo
        {
            Name = a.Name,
            Location = a.Location,
            Size = a.Size,
            Created = a.Created.UtcDateTime,
            LastModified = a.LastModified.UtcDateTime,
            HasManifest = a.HasManifest,
            Compression = a.Compression?.DisplayName(),
            FileCount = a.Manifest?.FileCount,
            SourceHost = a.Manifest?.Host,
            BucketName = a.BucketName,
            Key = a.Key,
        };
    }
}
