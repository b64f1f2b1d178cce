using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Failover;

namespace CcieDr.Commands
{
    /// <summary>Lists replicas of the Services box with their failover mode, AZ, data age and readiness.</summary>
    [Cmdlet(VerbsCommon.Get, "CcieReplica")]
    [OutputType(typeof(Replica))]
    public sealed class GetCcieReplicaCommand : CcieAwsCmdlet
    {
        /// <summary>Only replicas of this primary.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("PrimaryInstanceId")]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        public string? InstanceId { get; set; }

        /// <summary>Only this replica.</summary>
        [Parameter]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        public string? ReplicaId { get; set; }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            var service = new ReplicaService(ec2, Aws.Region, Reporter);
            if (ReplicaId is not null)
            {
                WriteObject(await service.GetOneAsync(ReplicaId, cancellationToken).ConfigureAwait(false));
                return;
            }

            foreach (Replica r in await service.ListAsync(InstanceId, cancellationToken).ConfigureAwait(false))
            {
                WriteObject(r);
            }
        }
    }
}
