using System;
using System.Management.Automation;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using CcieDr.Engine;
using CcieDr.Engine.Archive.Restore;
using CcieDr.Engine.Archive.Storage;

namespace CcieDr.Commands
{
    /// <summary>
    /// Restores a data tarball (local file or s3://bucket/key) into the data directory atomically:
    /// extract and verify into a staging directory, then move the existing data aside into
    /// &lt;Path&gt;/circleci-restore-&lt;timestamp&gt; and the restored data into place, under a journal.
    /// </summary>
    [Cmdlet(VerbsData.Restore, "CcieData", DefaultParameterSetName = RestoreSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(DataRestoreResult), ParameterSetName = new[] { RestoreSet })]
    [OutputType(typeof(DataRestoreRecovery), ParameterSetName = new[] { RecoverSet })]
    public sealed class RestoreCcieDataCommand : CcieAwsCmdlet
    {
        private const string RestoreSet = "Restore";
        private const string RecoverSet = "Recover";
        private const int ActivityId = 0x4C1E;

        /// <summary>The archive: a local path or s3://bucket/key. Pipes from Backup-CcieData and Get-CcieBackup (Location).</summary>
        [Parameter(ParameterSetName = RestoreSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Location")]
        [ValidateNotNullOrEmpty]
        public string Source { get; set; } = string.Empty;

        /// <summary>The data directory. Default: /data.</summary>
        [Parameter(ParameterSetName = RestoreSet, Position = 1)]
        [Parameter(ParameterSetName = RecoverSet, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = "/data";

        /// <summary>Refuse archives without a CcieDr manifest (GNU tar's own archives).</summary>
        [Parameter(ParameterSetName = RestoreSet)]
        public SwitchParameter RequireManifest { get; set; }

        /// <summary>Restore an archive that has no CcieDr manifest (GNU tar's own), unverified; refused without it.</summary>
        [Parameter(ParameterSetName = RestoreSet)]
        public SwitchParameter AllowNoManifest { get; set; }

        /// <summary>Standard (default) strips setuid/setgid from restored files, with a warning; Full keeps them.</summary>
        [Parameter(ParameterSetName = RestoreSet)]
        public PermissionPreservation PreservePermissions { get; set; } = PermissionPreservation.Standard;

        /// <summary>Finish an interrupted restore instead of starting one: Auto, RollForward or RollBack.</summary>
        [Parameter(ParameterSetName = RecoverSet, Mandatory = true)]
        public RecoveryMode Recover { get; set; }

        /// <summary>Do not ask for confirmation.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override object? TerminatingTarget() => ParameterSetName == RecoverSet ? Path : Source;

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            string path = await ResolveProviderPathAsync(Path).ConfigureAwait(false);
            if (ParameterSetName == RecoverSet)
            {
                await RecoverAsync(path).ConfigureAwait(false);
                return;
            }

            string source = DataRestoreSource.IsS3(Source) ? Source : await ResolveProviderPathAsync(Source).ConfigureAwait(false);
            IAmazonS3? s3 = DataRestoreSource.IsS3(Source) ? Aws.CreateS3() : null;
            try
            {
                var operation = new DataRestore(s3);
                var options = new DataRestoreOptions(source, path)
                {
                    RequireManifest = RequireManifest.IsPresent,
                    AllowNoManifest = AllowNoManifest.IsPresent,
                    PreservePermissions = PreservePermissions,
                    Progress = new ArchiveProgressSink(WriteProgress, $"Restoring {source} into {path}", ActivityId),
                };

                bool whatIf = await WhatIfRequestedAsync().ConfigureAwait(false);
                try
                {
                    // -WhatIf reads the whole archive (nothing is written) so it can list what would be restored.
                    var plan = await operation.PlanAsync(options, readArchive: whatIf, cancellationToken).ConfigureAwait(false);
                    string description = Describe(plan);
                    if (whatIf)
                    {
                        await ShouldProcessAsync(description, description, "Restore-CcieData").ConfigureAwait(false);
                        return;
                    }

                    if (!await ShouldProcessForceAsync(
                        Force.IsPresent,
                        description,
                        $"Restore {source} into {path}, moving its {plan.MoveAside.Count} existing entries into {plan.AsideDirectory}?",
                        "Restore-CcieData").ConfigureAwait(false))
                    {
                        return;
                    }

                    DataRestoreResult result = await operation.RestoreAsync(options, cancellationToken).ConfigureAwait(false);
                    foreach (var warning in result.Warnings)
                    {
                        WriteWarning(warning);
                    }

                    WriteObject(result);
                }
                finally
                {
                    WriteProgress(new ProgressRecord(ActivityId, "Restore-CcieData", "Done") { RecordType = ProgressRecordType.Completed });
                }
            }
            catch (Exception error) when (error is not OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Refused or failed restores (UnsafeArchive, ArchiveCorrupt, RestoreInProgress, S3 errors) are
                // non-terminating errors targeting the archive, so -ErrorAction applies.
                WriteError(ErrorRecords.FromException(error, source));
            }
            finally
            {
                s3?.Dispose();
            }
        }

        private async Task RecoverAsync(string path)
        {
            var state = DataRestore.FindInterrupted(path);
            if (state is null)
            {
                WriteVerbose($"No interrupted restore in {path}: nothing to recover.");
                return;
            }

            string action = Recover switch
            {
                RecoveryMode.RollForward => "Roll forward (finish) the interrupted restore",
                RecoveryMode.RollBack => "Roll back (undo) the interrupted restore",
                _ => state == JournalState.Staging ? "Roll back the interrupted restore (it had not finished staging)" : "Roll forward (finish) the interrupted restore",
            };
            if (!await ShouldProcessForceAsync(Force.IsPresent, path, $"{action} (journal state {RestoreJournal.StateName(state.Value)})").ConfigureAwait(false))
            {
                return;
            }

            try
            {
                var r = DataRestore.Recover(path, Recover);
                if (r != null)
                {
                    WriteObject(new DataRestoreRecovery(r.Path, r.Source, RestoreJournal.StateName(r.FoundState), r.Applied.ToString(), r.MovedAsideTo, r.Message));
                }
            }
            catch (CcieException error)
            {
                WriteCcieError(error);
            }
        }

        private static string Describe(DataRestorePlan plan)
        {
            var sb = new StringBuilder();
            sb.Append("Restore ").Append(plan.Source).Append(" into ").Append(plan.Path).Append(':');
            int i = 1;
            foreach (var step in plan.Steps)
            {
                sb.AppendLine().Append("  ").Append(i++).Append(". ").Append(step);
            }

            return sb.ToString();
        }
    }
}
