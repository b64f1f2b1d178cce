using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.S3;
using CcieDr.Engine;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Recovery;

namespace CcieDr.Commands
{
    /// <summary>
    /// Could the Services box be recovered right now, to what point, in how long: the newest recovery point and
    /// its age (RPO), the newest verified one (drilled by Test-CcieRecovery), the last drill's RTO and verdict,
    /// cross-region copies, judged Pass/Fail against -RpoTarget/-RtoTarget with reasons.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "CcieRecoveryStatus")]
    [OutputType(typeof(RecoveryStatus), typeof(bool))]
    public sealed class GetCcieRecoveryStatusCommand : CcieAwsCmdlet
    {
        /// <summary>The box's Name tag. Default circleci_services.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Name")]
        [ValidateNotNullOrEmpty]
        public string BoxName { get; set; } = ServicesBoxQuery.DefaultName;

        /// <summary>Regions where copies of the points must exist (Copy-CcieSnapshot).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] CopyRegion { get; set; } = Array.Empty<string>();

        /// <summary>The newest verified point may be at most this old. Default 24 hours.</summary>
        [Parameter]
        public TimeSpan RpoTarget { get; set; } = TimeSpan.FromHours(24);

        /// <summary>The last drill's RTO may be at most this. Default 1 hour.</summary>
        [Parameter]
        public TimeSpan RtoTarget { get; set; } = TimeSpan.FromHours(1);

        /// <summary>A drill must have run within this. Default 30 days.</summary>
        [Parameter]
        public TimeSpan DrillMaxAge { get; set; } = TimeSpan.FromDays(30);

        /// <summary>Where the data archives (tarballs) are: directories or s3://bucket/prefix/. An archive Test-CcieBackup passed counts as a verified point.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] BackupLocation { get; set; } = Array.Empty<string>();

        /// <summary>Return only $true (Pass) or $false, for monitoring.</summary>
        [Parameter]
        public SwitchParameter Quiet { get; set; }

        // Every archive in -BackupLocation with the test Test-CcieBackup recorded next to it (a stale or failed record is no proof).
        private async Task<IReadOnlyList<BackupEvidence>> BackupsAsync(CancellationToken ct)
        {
            var result = new List<BackupEvidence>();
            IAmazonS3? s3 = BackupLocation.Any(S3UploadLocation.IsS3Uri) ? Aws.CreateS3() : null;
            try
            {
                var catalog = new DataBackupCatalog(s3);
                foreach (string given in BackupLocation)
                {
                    string location = S3UploadLocation.IsS3Uri(given) ? given : await ResolveProviderPathAsync(given).ConfigureAwait(false);
                    IReadOnlyList<DataBackupArchiveInfo> archives;
                    try
                    {
                        archives = await catalog.ListAsync(location, ct).ConfigureAwait(false);
                    }
                    catch (System.IO.DirectoryNotFoundException e)
                    {
                        throw new CcieException("BackupLocationNotFound", CcieErrorCategory.ObjectNotFound, e.Message + " Give -BackupLocation the directory (or s3://bucket/prefix/) Backup-CcieData writes to.", given, e);
                    }

                    foreach (DataBackupArchiveInfo a in archives)
                    {
                        BackupTestRecord? record = await BackupTestRecord.ReadAsync(a, s3, ct).ConfigureAwait(false);
                        result.Add(new BackupEvidence { Location = a.Location, Created = a.Created.UtcDateTime, TestedAt = record is { Passed: true } ? record.TestedAt.UtcDateTime : null });
                    }
                }
            }
            finally
            {
                s3?.Dispose();
            }

            return result;
        }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using var clients = new RegionalClients<IAmazonEC2>(r => Aws.CreateEc2(r));
            try
            {
                RecoveryStatus status = await RecoveryStatusEvaluator.GetAsync(
                    clients.For,
                    Aws.Region,
                    BoxName,
                    CopyRegion,
                    new RecoveryTargets { RpoTarget = RpoTarget, RtoTarget = RtoTarget, DrillMaxAge = DrillMaxAge },
                    DateTime.UtcNow,
                    cancellationToken,
                    BackupLocation.Length == 0 ? null : await BackupsAsync(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
                WriteObject(Quiet.IsPresent ? status.Status == "Pass" : status);
            }
            catch (CcieException e)
            {
                if (Quiet.IsPresent)
                {
                    WriteObject(false);
                }

                WriteCcieError(e);
            }
        }
    }
}
