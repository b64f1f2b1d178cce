using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Failover;
using CcieDr.Engine.Operations;

namespace CcieDr.Commands
{
    /// <summary>
    /// Refreshes a stopped replica's /data from a newer recovery point (created in the replica's AZ), or with
    /// -Replace rebuilds the replica from the newest image (after an upgrade) and terminates the old one.
    /// </summary>
    [Cmdlet(VerbsData.Update, "CcieReplica", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(Replica))]
    public sealed class UpdateCcieReplicaCommand : CcieAwsCmdlet
    {
        /// <summary>The replica's instance id (pipe Get-CcieReplica).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        public string InstanceId { get; set; } = string.Empty;

        /// <summary>The point to refresh from. Default: the newest complete point of the primary.</summary>
        [Parameter]
        [ArgumentCompleter(typeof(RecoveryPointIdCompleter))]
        public string? RecoveryPointId { get; set; }

        /// <summary>Rebuild the replica from the newest image (or -ImageId), then terminate the old one.</summary>
        [Parameter]
        public SwitchParameter Replace { get; set; }

        /// <summary>With -Replace: the image to rebuild from.</summary>
        [Parameter]
        [ValidatePattern("^ami-[0-9a-f]{8,17}$")]
        public string? ImageId { get; set; }

        protected override object? TerminatingTarget() => InstanceId;

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            var service = new ReplicaService(ec2, Aws.Region, Reporter);
            var request = new UpdateReplicaRequest { InstanceId = InstanceId, RecoveryPointId = RecoveryPointId, Replace = Replace.IsPresent, ImageId = ImageId };
            (OperationPlan plan, Replica replica, _) = await service.PlanUpdateAsync(request, cancellationToken).ConfigureAwait(false);
            string query = Replace.IsPresent
                ? $"Rebuild replica {replica.InstanceId} and TERMINATE the old one?"
                : $"Replace the /data volume of replica {replica.InstanceId} (from {replica.DataRecoveryPointId ?? "unknown"}) and delete the old one?";
            if (!await ShouldProcessAsync(plan.Render(), query, "Update-CcieReplica").ConfigureAwait(false))
            {
                return;
            }

            WriteObject(await service.UpdateAsync(request, cancellationToken).ConfigureAwait(false));
        }
    }
}
