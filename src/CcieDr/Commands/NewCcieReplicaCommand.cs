using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Failover;
using CcieDr.Engine.Recovery;

namespace CcieDr.Commands
{
    /// <summary>
    /// Launches a replica of the Services box from its newest image (or -ImageId, or a recovery point) into a
    /// subnet of the box's VPC in another AZ (or -SubnetId/-AvailabilityZone), with the box's security groups,
    /// type, key and profile; stopped (cold) unless -Running. Reports the failover mode it gives.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "CcieReplica", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(Replica))]
    public sealed class NewCcieReplicaCommand : CcieAwsCmdlet
    {
        private const string ByNameSet = "ByName";
        private const string ByIdSet = "ById";

        /// <summary>The primary box's instance id (pipe Get-CcieServicesBox).</summary>
        [Parameter(ParameterSetName = ByIdSet, Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        public string InstanceId { get; set; } = string.Empty;

        /// <summary>Name tag of the primary. Default circleci_services.</summary>
        [Parameter(ParameterSetName = ByNameSet)]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; } = ServicesBoxQuery.DefaultName;

        /// <summary>Image to launch from. Default: the newest image of the box (New-CcieServicesBoxImage).</summary>
        [Parameter]
        [ValidatePattern("^ami-[0-9a-f]{8,17}$")]
        public string? ImageId { get; set; }

        /// <summary>Launch from this recovery point's snapshots instead of an image.</summary>
        [Parameter]
        [ArgumentCompleter(typeof(RecoveryPointIdCompleter))]
        public string? RecoveryPointId { get; set; }

        /// <summary>Subnet of the replica. Same subnet as the box: mode 1 (floating IP); another AZ: mode 3.</summary>
        [Parameter]
        [ValidatePattern("^subnet-[0-9a-f]{8,17}$")]
        public string? SubnetId { get; set; }

        /// <summary>AZ of the replica (a subnet of the box's VPC there is used). Default: another AZ than the box's.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? AvailabilityZone { get; set; }

        /// <summary>Leave the replica running (warm). Default: stopped (cold).</summary>
        [Parameter]
        public SwitchParameter Running { get; set; }

        /// <summary>Replication (your DRBD/GlusterFS/NFS fills /data) or RecoveryPoint (the newest point's data volume, created in the replica's AZ).</summary>
        [Parameter]
        public ReplicaDataSource DataFrom { get; set; } = ReplicaDataSource.Replication;

        /// <summary>A command that exits 0 on the replica when /data is in sync; Invoke-CcieFailover runs it before promoting.</summary>
        [Parameter]
        [ValidateLength(1, 256)]
        public string? ReplicationCheckCommand { get; set; }

        /// <summary>Name tag of the replica. Default &lt;box name&gt;-replica.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ReplicaName { get; set; }

        protected override object? TerminatingTarget() => ParameterSetName == ByIdSet ? InstanceId : Name;

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            ServicesBox box = await new ServicesBoxLocator(ec2, Aws.Region).FindOneAsync(new ServicesBoxQuery { Name = Name, InstanceIds = ParameterSetName == ByIdSet ? new[] { InstanceId } : Array.Empty<string>() }, cancellationToken).ConfigureAwait(false);
            RecoveryPoint? point = RecoveryPointId is null ? null : await RecoveryPointCatalog.GetRequiredAsync(ec2, Aws.Region, RecoveryPointId, cancellationToken).ConfigureAwait(false);
            var service = new ReplicaService(ec2, Aws.Region, Reporter);
            ReplicaLaunchPlan plan = await service.PlanAsync(new NewReplicaRequest
            {
                Primary = box,
                ImageId = ImageId,
                RecoveryPoint = point,
                SubnetId = SubnetId,
                AvailabilityZone = AvailabilityZone,
                Running = Running.IsPresent,
                DataFrom = DataFrom,
                ReplicationCheckCommand = ReplicationCheckCommand,
                Name = ReplicaName,
            }, cancellationToken).ConfigureAwait(false);
            WriteVerbose(plan.ModeDescription);
            if (!await ShouldProcessAsync(plan.Operation.Render(), $"Launch a {(Running.IsPresent ? "warm" : "cold")} replica of {box.InstanceId} in {plan.SubnetId} ({plan.AvailabilityZone}, {plan.Mode})?", "New-CcieReplica").ConfigureAwait(false))
            {
                return;
            }

            WriteObject(await service.LaunchAsync(plan, cancellationToken).ConfigureAwait(false));
        }
    }
}
