using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using CcieDr.Engine;
using CcieDr.Engine.Archive;
using CcieDr.Engine.Recovery;

namespace CcieDr.Commands
{
    /// <summary>
    /// Applies a retention policy (restic/borg semantics) to the data archives in a directory or S3 prefix and
    /// removes those no rule keeps. The newest good archive is never removed unless -IncludeNewest.
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "CcieBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(BackupInfo))]
    public sealed class RemoveCcieBackupCommand : CcieAwsCmdlet
    {
        /// <summary>Directory, or s3://bucket/prefix/.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Destination")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = string.Empty;

        /// <summary>Keep the newest N complete archives.</summary>
        [Parameter]
        [ValidateRange(0, int.MaxValue)]
        public int KeepLast { get; set; }

        /// <summary>Keep the newest complete archive of each of the last N days that have one.</summary>
        [Parameter]
        [ValidateRange(0, int.MaxValue)]
        public int KeepDaily { get; set; }

        /// <summary>Keep the newest complete archive of each of the last N ISO weeks that have one.</summary>
        [Parameter]
        [ValidateRange(0, int.MaxValue)]
        public int KeepWeekly { get; set; }

        /// <summary>Keep the newest complete archive of each of the last N months that have one.</summary>
        [Parameter]
        [ValidateRange(0, int.MaxValue)]
        public int KeepMonthly { get; set; }

        /// <summary>Allow removing the newest good archive when no rule keeps it.</summary>
        [Parameter]
        public SwitchParameter IncludeNewest { get; set; }

        /// <summary>Skip the confirmation prompts (as in PowerShell's own cmdlets). Never overrides -WhatIf.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Do not verify the newest archives: any complete archive (one that ends with its manifest) counts as good.</summary>
        [Parameter]
        public SwitchParameter SkipVerification { get; set; }

        /// <summary>Also output the archives that are kept (with their reasons).</summary>
        [Parameter]
        public SwitchParameter IncludeKept { get; set; }

        /// <inheritdoc/>
        protected override object? TerminatingTarget() => Path;

        /// <inheritdoc/>
        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            var options = new RetentionOptions
            {
                KeepLast = KeepLast,
                KeepDaily = KeepDaily,
                KeepWeekly = KeepWeekly,
                KeepMonthly = KeepMonthly,
                IncludeNewest = IncludeNewest.IsPresent,
            };
            if (options.IsEmpty)
            {
                throw new CcieException("RetentionPolicyRequired", CcieErrorCategory.InvalidArgument, "Give at least one of -KeepLast, -KeepDaily, -KeepWeekly or -KeepMonthly: with none, every archive but the newest would be removed.", Path);
            }

            var isS3 = S3UploadLocation.IsS3Uri(Path);
            var location = isS3 ? Path : await ResolveProviderPathAsync(Path).ConfigureAwait(false);
            using IAmazonS3? s3 = isS3 ? Aws.CreateS3() : null;
            var catalog = new DataBackupCatalog(s3);
            IReadOnlyList<DataBackupArchiveInfo> archives;
            try
            {
                archives = await catalog.ListAsync(location, cancellationToken).ConfigureAwait(false);
            }
            catch (System.IO.DirectoryNotFoundException ex)
            {
                WriteCcieError(new CcieException("BackupLocationNotFound", CcieErrorCategory.ObjectNotFound, ex.Message, location, ex));
                return;
            }
            catch (FormatException ex)
            {
                throw new CcieException("InvalidBackupLocation", CcieErrorCategory.InvalidArgument, ex.Message, Path, ex);
            }

            // Good = complete (ends with its manifest) and, unless -SkipVerification, the newest complete archives are
            // verified (Test-CcieBackup) newest first until one passes: that one is never removed without -IncludeNewest.
            Func<DataBackupArchiveInfo, CancellationToken, Task<bool>>? verify = null;
            if (!SkipVerification.IsPresent)
            {
                var verifier = new ArchiveVerifier(s3);
                verify = async (archive, ct) =>
                {
                    WriteVerbose($"Verifying {archive.Location} (the newest archive that passes is protected).");
                    var v = await verifier.VerifyAsync(archive.Location, ct).ConfigureAwait(false);
                    if (!v.Passed)
                    {
                        WriteWarning($"{archive.Location} failed verification: {string.Join("; ", v.Problems.Take(3))}");
                    }

                    return v.Passed;
                };
            }

            var decisions = await DataBackupRetention.PlanAsync(archives, options, DateTimeOffset.UtcNow, verify, cancellationToken).ConfigureAwait(false);
            foreach (var d in decisions)
            {
                var archive = (DataBackupArchiveInfo)d.Item.Tag!;
                var output = BackupInfoMapper.ToOutput(archive);
                output.RetentionAction = d.Keep ? "Keep" : "Remove";
                output.RetentionReasons = d.Reasons;
                var reasons = string.Join(", ", d.Reasons);
                if (d.Keep)
                {
                    WriteVerbose($"Keeping {archive.Location} ({reasons}).");
                    if (IncludeKept.IsPresent)
                    {
                        WriteObject(output);
                    }

                    continue;
                }

                var action = $"Remove backup archive created {archive.Created.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, {archive.Size:N0} bytes ({reasons}){(isS3 ? ": s3:DeleteObject" : string.Empty)}";
                if (!await ShouldProcessForceAsync(Force.IsPresent, archive.Location, action).ConfigureAwait(false))
                {
                    continue;
                }

                try
                {
                    await catalog.RemoveAsync(archive, cancellationToken).ConfigureAwait(false);
                    WriteObject(output);
                }
                catch (Exception ex) when (ex is System.IO.IOException || ex is UnauthorizedAccessException || ex is AmazonS3Exception)
                {
                    WriteCcieError(new CcieException("BackupRemoveFailed", CcieErrorCategory.WriteError, $"Could not remove {archive.Location}: {ex.Message}", archive.Location, ex));
                }
            }
        }
    }
}
