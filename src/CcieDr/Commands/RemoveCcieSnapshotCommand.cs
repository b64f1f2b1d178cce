using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Recovery;

namespace CcieDr.Commands
{
    /// <summary>
    /// Deletes recovery points by id or by a retention policy. Never the newest completed point of a box unless
    /// -IncludeNewest, never a point an AMI still uses; -WhatIf lists what goes and why each kept point is kept.
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "CcieSnapshot", DefaultParameterSetName = ByObjectSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(RecoveryPointDecision))]
    public sealed class RemoveCcieSnapshotCommand : CcieAwsCmdlet
    {
        private const string ByIdSet = "ById";
        private const string ByPolicySet = "ByPolicy";
        private const string ByObjectSet = "ByObject";
        private readonly Dictionary<string, SnapshotRemover> _removers = new Dictionary<string, SnapshotRemover>(StringComparer.Ordinal);
        private RegionalClients<IAmazonEC2>? _clients;

        /// <summary>Recovery point ids to delete, in -Region.</summary>
        [Parameter(ParameterSetName = ByIdSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern(RecoveryPointIds.Pattern)]
        [ArgumentCompleter(typeof(RecoveryPointIdCompleter))]
        public string[] RecoveryPointId { get; set; } = Array.Empty<string>();

        /// <summary>Recovery points from Get-CcieSnapshot, each deleted in its own region.</summary>
        [Parameter(ParameterSetName = ByObjectSet, Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNullOrEmpty]
        public RecoveryPoint[] RecoveryPoint { get; set; } = Array.Empty<RecoveryPoint>();

        /// <summary>Keep the newest N completed points.</summary>
        [Parameter(ParameterSetName = ByPolicySet)]
        [ValidateRange(1, 100000)]
        public int KeepLast { get; set; }

        /// <summary>Keep the newest completed point of each of the last N days that have one.</summary>
        [Parameter(ParameterSetName = ByPolicySet)]
        [ValidateRange(1, 100000)]
        public int KeepDaily { get; set; }

        /// <summary>Keep the newest completed point of each of the last N ISO weeks that have one.</summary>
        [Parameter(ParameterSetName = ByPolicySet)]
        [ValidateRange(1, 100000)]
        public int KeepWeekly { get; set; }

        /// <summary>Keep the newest completed point of each of the last N months that have one.</summary>
        [Parameter(ParameterSetName = ByPolicySet)]
        [ValidateRange(1, 100000)]
        public int KeepMonthly { get; set; }

        /// <summary>Only points older than this may go: every completed point taken within it is kept.</summary>
        [Parameter(ParameterSetName = ByPolicySet)]
        public TimeSpan? OlderThan { get; set; }

        /// <summary>Apply the policy only to the points of the box with this Name tag.</summary>
        [Parameter(ParameterSetName = ByPolicySet)]
        [ValidateNotNullOrEmpty]
        public string? BoxName { get; set; }

        /// <summary>Apply the policy only to points taken of this instance.</summary>
        [Parameter(ParameterSetName = ByPolicySet)]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        public string? InstanceId { get; set; }

        /// <summary>Also apply the policy to snapshots made by the seed's backup script (as their own group).</summary>
        [Parameter(ParameterSetName = ByPolicySet)]
        public SwitchParameter IncludeSeed { get; set; }

        /// <summary>Allow deleting the newest completed recovery point of a box (no rule keeps it otherwise).</summary>
        [Parameter]
        public SwitchParameter IncludeNewest { get; set; }

        /// <summary>Skip the confirmation prompt (as in PowerShell's own cmdlets). Never overrides -WhatIf.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Emit a CcieDr.RecoveryPointDecision per point (what was removed or kept, and why).</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            if (ParameterSetName == ByPolicySet)
            {
                await ApplyPolicyAsync(RemoverFor(Aws.Region), cancellationToken).ConfigureAwait(false);
                return;
            }

            // A piped point is deleted in the region it lives in (a session default -Region does not override it).
            var items = ParameterSetName == ByObjectSet
                ? RecoveryPoint.Where(p => p is not null).Select(p => (Region: string.IsNullOrEmpty(p.Region) ? Aws.Region : p.Region, Id: p.RecoveryPointId)).ToList()
                : RecoveryPointId.Select(id => (Region: Aws.Region, Id: id)).ToList();
            foreach ((string region, string id) in items)
            {
                SnapshotRemover remover = RemoverFor(region);
                RecoveryPointDecision decision;
                try
                {
                    decision = await remover.PlanExplicitAsync(id, IncludeNewest.IsPresent, cancellationToken).ConfigureAwait(false);
                }
                catch (CcieException e)
                {
                    WriteCcieError(e);
                    continue;
                }

                if (decision.Action == SnapshotRemover.Keep)
                {
                    bool inUse = decision.ImageIds.Count > 0;
                    WriteCcieError(new CcieException(
                        inUse ? "RecoveryPointInUse" : "NewestRecoveryPoint",
                        inUse ? CcieErrorCategory.ResourceBusy : CcieErrorCategory.InvalidOperation,
                        inUse
                            ? $"Recovery point {id} was not deleted: AMI {string.Join(", ", decision.ImageIds)} still uses its snapshots. Deregister the AMI first (Unregister-EC2Image / aws ec2 deregister-image), then rerun."
                            : $"Recovery point {id} was not deleted: it is the newest completed recovery point of {decision.BoxName ?? "its box"} in {decision.Region}. Take a newer one first, or add -IncludeNewest to delete it anyway.",
                        decision.RecoveryPoint));
                    EmitIfAsked(decision);
                    continue;
                }

                string target = string.Format(CultureInfo.InvariantCulture, "{0} in {1} ({2}, {3:u}, snapshots {4})", id, decision.Region, decision.State, decision.Created, string.Join(", ", decision.SnapshotIds));
                if (!await ShouldProcessForceAsync(Force.IsPresent, target, $"Delete recovery point (ec2:DeleteSnapshot x{decision.SnapshotIds.Count})").ConfigureAwait(false))
                {
                    decision.Outcome = await WhatIfRequestedAsync().ConfigureAwait(false) ? "WhatIf" : "Declined";
                    EmitIfAsked(decision);
                    continue;
                }

                await RemoveOneAsync(remover, decision, cancellationToken).ConfigureAwait(false);
            }
        }

        private async Task ApplyPolicyAsync(SnapshotRemover remover, CancellationToken ct)
        {
            var request = new SnapshotRetentionRequest
            {
                KeepLast = KeepLast,
                KeepDaily = KeepDaily,
                KeepWeekly = KeepWeekly,
                KeepMonthly = KeepMonthly,
                OlderThan = OlderThan,
                IncludeNewest = IncludeNewest.IsPresent,
                Scope = new RecoveryPointFilter { BoxName = BoxName, SourceInstanceId = InstanceId, IncludeSeed = IncludeSeed.IsPresent },
            };
            IReadOnlyList<RecoveryPointDecision> decisions = await remover.PlanPolicyAsync(request, ct).ConfigureAwait(false);
            foreach (RecoveryPointDecision used in decisions.Where(d => d.ImageIds.Count > 0))
            {
                WriteWarning($"Recovery point {used.RecoveryPointId} is kept although no rule keeps it: AMI {string.Join(", ", used.ImageIds)} still uses its snapshots. Deregister the AMI to let retention remove it.");
            }

            List<RecoveryPointDecision> removals = decisions.Where(d => d.Action == SnapshotRemover.Remove).ToList();
            string region = Aws.Region;
            string title = $"Remove-CcieSnapshot in {region} (policy: {request.Describe()})";
            string plan = SnapshotRemover.Render(title, decisions);
            bool proceed = removals.Count > 0
                && await ShouldProcessForceAsync(Force.IsPresent, plan, $"Delete {removals.Count} recovery points ({removals.Sum(d => d.SnapshotIds.Count)} snapshots) in {region}?", "Remove-CcieSnapshot").ConfigureAwait(false);
            if (removals.Count == 0)
            {
                WriteVerbose(plan);
            }

            if (!proceed)
            {
                bool whatIf = await WhatIfRequestedAsync().ConfigureAwait(false);
                foreach (RecoveryPointDecision d in decisions)
                {
                    if (d.Action == SnapshotRemover.Remove)
                    {
                        d.Outcome = whatIf ? "WhatIf" : "Declined";
                    }

                    if (PassThru.IsPresent || whatIf)
                    {
                        WriteObject(d);
                    }
                }

                return;
            }

            foreach (RecoveryPointDecision d in decisions)
            {
                if (d.Action == SnapshotRemover.Remove)
                {
                    await RemoveOneAsync(remover, d, ct).ConfigureAwait(false);
                }
                else
                {
                    EmitIfAsked(d);
                }
            }
        }

        private async Task RemoveOneAsync(SnapshotRemover remover, RecoveryPointDecision decision, CancellationToken ct)
        {
            await remover.RemoveAsync(decision, ct).ConfigureAwait(false);
            if (decision.Outcome == "Failed")
            {
                WriteCcieError(new CcieException(
                    "RecoveryPointRemoveFailed",
                    CcieErrorCategory.WriteError,
                    $"Recovery point {decision.RecoveryPointId} was only partly deleted: {decision.Error} Rerun Remove-CcieSnapshot -RecoveryPointId {decision.RecoveryPointId} to delete the rest.",
                    decision.RecoveryPoint));
            }

            EmitIfAsked(decision);
        }

        /// <summary>One client and remover per region for the whole pipeline (the points are listed once, not per id).</summary>
        private SnapshotRemover RemoverFor(string region)
        {
            _clients ??= new RegionalClients<IAmazonEC2>(r => Aws.CreateEc2(r));
            if (!_removers.TryGetValue(region, out SnapshotRemover? remover))
            {
                remover = new SnapshotRemover(_clients.For(region), region, Reporter);
                _removers[region] = remover;
            }

            return remover;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _removers.Clear();
                _clients?.Dispose();
                _clients = null;
            }

            base.Dispose(disposing);
        }

        private void EmitIfAsked(RecoveryPointDecision decision)
        {
            if (PassThru.IsPresent || decision.Outcome == "WhatIf")
            {
                WriteObject(decision);
            }
        }
    }
}
