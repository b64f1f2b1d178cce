using System;
using System.Globalization;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using CcieDr.Engine;
using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Storage;

namespace CcieDr.Commands
{
    /// <summary>Backs up the Services box data directory into circleci-data-export.tar.bz2 (or .tar.zst with -Compression Zstd), locally or straight to S3.</summary>
    [Cmdlet(VerbsData.Backup, "CcieData", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(BackupArchive))]
    public sealed class BackupCcieDataCommand : CcieAwsCmdlet
    {
        private string? _target;

        /// <summary>Data directory to back up. Default: /data.</summary>
        [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = "/data";

        /// <summary>Directory to write the archive to, or s3://bucket/prefix/.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Destination { get; set; } = string.Empty;

        /// <summary>Name the archive circleci-data-export-&lt;yyyyMMddTHHmmssZ&gt;.tar.bz2 so several can be kept.</summary>
        [Parameter]
        public SwitchParameter TimestampedName { get; set; }

        /// <summary>Patterns of paths to leave out (tar-style: "*.tmp", "mongo/journal", "**/cache/").</summary>
        [Parameter]
        [ValidateNotNull]
        public string[] Exclude { get; set; } = Array.Empty<string>();

        /// <summary>Shell command run first (e.g. dump or quiesce a database); a non-zero exit aborts the backup.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? PreBackupCommand { get; set; }

        /// <summary>Shell command run last, whether the backup succeeded or not, once the pre-backup command ran.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? PostBackupCommand { get; set; }

        /// <summary>S3 only: KMS key id or ARN for server-side encryption (aws:kms). Default: AES256.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? KmsKeyId { get; set; }

        /// <summary>
        /// Bzip2 (default: circleci-data-export.tar.bz2, what the seed's circleci-restore expects) or Zstd (the fast
        /// mode: circleci-data-export.tar.zst, read by tar -I zstd -xf). Restore-CcieData, Test-CcieBackup and
        /// Get-CcieBackup recognise either by content.
        /// </summary>
        [Parameter]
        [ValidateSet("Bzip2", "Zstd")]
        public string Compression { get; set; } = "Bzip2";

        /// <summary>Compression threads. Default: all cores.</summary>
        [Parameter]
        [ValidateRange(1, 256)]
        public int ThrottleLimit { get; set; }

        /// <inheritdoc/>
        protected override object? TerminatingTarget() => _target;

        /// <inheritdoc/>
        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            var source = await ResolveProviderPathAsync(Path).ConfigureAwait(false);
            var isS3 = S3UploadLocation.IsS3Uri(Destination);
            var options = new DataBackupOptions
            {
                SourcePath = source,
                Destination = isS3 ? Destination : await ResolveProviderPathAsync(Destination).ConfigureAwait(false),
                TimestampedName = TimestampedName.IsPresent,
                PreBackupCommand = PreBackupCommand,
                PostBackupCommand = PostBackupCommand,
                KmsKeyId = KmsKeyId,
                Threads = ThrottleLimit,
                Compression = string.Equals(Compression, "Zstd", StringComparison.OrdinalIgnoreCase) ? CompressionKind.Zstd : CompressionKind.Bzip2,
            };
            foreach (var e in Exclude)
            {
                options.Exclude.Add(e);
            }

            var plan = DataBackupPlan.Create(options, DateTimeOffset.UtcNow);
            var location = plan.Location;
            _target = location;
            bool showCommands = await OnPipelineAsync(() => MyInvocation.BoundParameters.ContainsKey("Verbose")).ConfigureAwait(false);
            if (!await ShouldProcessAsync(
                    $"Back up {source} to {location}:\n{plan.Describe(showCommands)}",
                    $"Back up {source} to {location}?",
                    "Backup-CcieData").ConfigureAwait(false))
            {
                return;
            }

            var activityId = 41;
            var activity = $"Backing up {source} to {location}";
            options.Progress = new ProgressForwarder(p =>
            {
                var status = p.Phase switch
                {
                    DataBackupPhase.PreBackupCommand => "Running the pre-backup command",
                    DataBackupPhase.Scanning => "Listing files",
                    DataBackupPhase.Archiving => string.Format(CultureInfo.InvariantCulture, "{0:N0} of {1:N0} MB read, {2:N0} MB written: {3}", p.BytesRead / 1e6, p.TotalBytes / 1e6, p.ArchiveBytes / 1e6, p.CurrentPath ?? string.Empty),
                    DataBackupPhase.Finishing => "Writing the manifest and finishing the archive",
                    _ => "Running the post-backup command",
                };
                WriteProgress(new ProgressRecord(activityId, activity, status)
                {
                    PercentComplete = p.Phase == DataBackupPhase.Archiving ? Math.Max(-1, p.PercentComplete) : -1,
                });
            });

            IAmazonS3? s3 = isS3 ? Aws.CreateS3() : null;
            try
            {
                DataBackupResult result;
                try
                {
                    result = await new DataBackup(s3).RunAsync(options, cancellationToken).ConfigureAwait(false);
                }
                catch (DataBackupException ex)
                {
                    var error = plan.ToError(ex);
                    if (ex.Kind == DataBackupErrorKind.InvalidDestination)
                    {
                        throw error;
                    }

                    WriteCcieError(error);
                    return;
                }

                foreach (var w in result.Warnings)
                {
                    WriteWarning(w);
                }

                if (result.PostBackupCommand is { Succeeded: false } post)
                {
                    WriteCcieError(plan.PostBackupError(post));
                }

                WriteObject(ToOutput(result));
            }
            finally
            {
                WriteProgress(new ProgressRecord(activityId, activity, "Done") { RecordType = ProgressRecordType.Completed });
                s3?.Dispose();
            }
        }

        internal static BackupArchive ToOutput(DataBackupResult r) => new BackupArchive
        {
            Location = r.Location,
            Name = r.FileName,
            BucketName = r.BucketName,
            Key = r.Key,
            SourcePath = r.Manifest.SourcePath,
            SourceHost = r.Manifest.Host,
            Size = r.ArchiveSize,
            Sha256 = r.Sha256,
            FileCount = r.FileCount,
            EntryCount = r.Manifest.EntryCount,
            BytesRead = r.BytesRead,
            Started = r.Started.UtcDateTime,
            Completed = r.Completed.UtcDateTime,
            ThroughputMBps = Math.Round(r.ThroughputBytesPerSecond / 1e6, 2),
            Compression = r.Compression.DisplayName(),
            Compressor = r.Compressor,
            Warnings = r.Warnings,
        };

        private sealed class ProgressForwarder : IProgress<DataBackupProgress>
        {
            private readonly Action<DataBackupProgress> _action;

            public ProgressForwarder(Action<DataBackupProgress> action) => _action = action;

            public void Report(DataBackupProgress value) => _action(value);
        }
    }
}
