using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using CcieDr.Engine;
using CcieDr.Engine.Archive.Retention;
using CcieDr.Engine.Archive.Storage;
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
            var isS3 = S3UploadLocation.IsS3Uri(Path);
            var location = isS3 ? Path : await ResolveProviderPathAsync(Path).ConfigureAwait(false);
            using IAmazonS3? s3 = isS3 ? Aws.CreateS3() : null;
            var remover = new DataBackupRemover(s3) { Verbose = WriteVerbose, Warning = WriteWarning };
            IReadOnlyList<DataBackupRemoval> plan;
            try
            {
                plan = await remover.PlanAsync(location, options, !SkipVerification.IsPresent, DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.ErrorId == "BackupLocationNotFound")
            {
                WriteCcieError(e);
                return;
            }

            foreach (var d in plan)
            {
                var output = BackupInfoMapper.ToOutput(d.Archive);
                output.RetentionAction = d.Keep ? "Keep" : "Remove";
                output.RetentionReasons = d.Reasons;
                if (d.Keep)
                {
                    WriteVerbose($"Keeping {d.Archive.Location} ({string.Join(", ", d.Reasons)}).");
                    if (IncludeKept.IsPresent)
                    {
                        WriteObject(output);
                    }

                    continue;
                }

                if (!await ShouldProcessForceAsync(Force.IsPresent, d.Archive.Location, d.Action).ConfigureAwait(false))
                {
                    continue;
                }

                try
                {
                    await remover.RemoveAsync(d, cancellationToken).ConfigureAwait(false);
                    WriteObject(output);
                }
                catch (CcieException e)
                {
                    WriteCcieError(e);
                }
            }
        }
    }
}
