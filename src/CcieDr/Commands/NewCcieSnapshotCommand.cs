using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;

namespace CcieDr.Commands
{
    /// <summary>
    /// Takes a recovery point of the Services box: a crash-consistent snapshot of every attached EBS volume,
    /// tagged with everything a restore needs, without rebooting the box.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "CcieSnapshot", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(RecoveryPoint))]
    public sealed class NewCcieSnapshotCommand : CcieAwsCmdlet
    {
        private const string ByNameSet = "ByName";
        private const string ByIdSet = "ById";

        /// <summary>Instance id of the Services box; binds from Get-CcieServicesBox output.</summary>
        [Parameter(ParameterSetName = ByIdSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        public string InstanceId { get; set; } = string.Empty;

        /// <summary>Value of the Name tag that identifies the box. Default: circleci_services.</summary>
        [Parameter(ParameterSetName = ByNameSet)]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; } = ServicesBoxQuery.DefaultName;

        /// <summary>Free text saved in the ccie:label tag, e.g. "before upgrade 1.48".</summary>
        [Parameter]
        [ValidateLength(1, 256)]
        public string? Label { get; set; }

        /// <summary>Wait until every snapshot is completed, with progress.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>How long -Wait waits, in seconds. Default: 3600.</summary>
        [Parameter]
        [ValidateRange(1, 7 * 24 * 3600)]
        public int TimeoutSeconds { get; set; } = 3600;

        /// <summary>Auto (CreateSnapshots, per-volume fallback), MultiVolume, or PerVolume.</summary>
        [Parameter]
        public SnapshotMethod Method { get; set; } = SnapshotMethod.Auto;

        protected override object? TerminatingTarget() => ParameterSetName == ByIdSet ? InstanceId : Name;

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            string region = Aws.Region;
            ServicesBox? box = await FindBoxAsync(ec2, region, cancellationToken).ConfigureAwait(false);
            if (box is null)
            {
                return;
            }

            var request = new NewSnapshotRequest
            {
                Label = Label,
                Method = Method,
                Wait = Wait.IsPresent,
                WaitOptions = WaitOptions.Default(TimeSpan.FromSeconds(TimeoutSeconds)),
            };
            OperationPlan plan = SnapshotCreator.Plan(box, request);
            if (!await ShouldProcessAsync(plan.Render(), $"Snapshot all {box.Volumes.Count} volumes of {box.InstanceId} ({box.Name}) in {region}?", "New-CcieSnapshot").ConfigureAwait(false))
            {
                return;
            }

            var creator = new SnapshotCreator(ec2, region, Reporter);
            RecoveryPoint point;
            try
            {
                point = await creator.CreateAsync(box, request, cancellationToken).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.Target is RecoveryPoint || e.ErrorId == "WaitTimedOut")
            {
                // The point exists but is not usable (or not done): one failed item, not a failed command.
                WriteCcieError(e);
                return;
            }

            if (point.State is RecoveryPointStates.Error or RecoveryPointStates.Incomplete)
            {
                WriteCcieError(new CcieException(
                    "RecoveryPointIncomplete",
                    CcieErrorCategory.InvalidData,
                    $"Recovery point {point.RecoveryPointId} of {box.InstanceId} is {point.State}: {point.StateMessage} It is not usable for a restore and retention will not count it; rerun New-CcieSnapshot.",
                    point));
                return;
            }

            WriteObject(point);
        }

        private async Task<ServicesBox?> FindBoxAsync(IAmazonEC2 ec2, string region, CancellationToken ct)
        {
            var query = new ServicesBoxQuery { Name = Name, InstanceIds = ParameterSetName == ByIdSet ? new[] { InstanceId } : Array.Empty<string>() };
            try
            {
                return await new ServicesBoxLocator(ec2, region).FindOneAsync(query, ct).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.ErrorId is "ServicesBoxNotFound" or "ServicesBoxAmbiguous")
            {
                WriteCcieError(e);
                return null;
            }
        }
    }
}
