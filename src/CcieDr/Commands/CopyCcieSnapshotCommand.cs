using System;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;

namespace CcieDr.Commands
{
    /// <summary>Copies a recovery point to another region, keeping its id, tags and grouping.</summary>
    [Cmdlet(VerbsCommon.Copy, "CcieSnapshot", DefaultParameterSetName = ByObjectSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(RecoveryPoint))]
    public sealed class CopyCcieSnapshotCommand : CcieAwsCmdlet
    {
        private const string ByIdSet = "ById";
        private const string ByObjectSet = "ByObject";

        /// <summary>Recovery point ids to copy, in -Region.</summary>
        [Parameter(ParameterSetName = ByIdSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern(RecoveryPointIds.Pattern)]
        [ArgumentCompleter(typeof(RecoveryPointIdCompleter))]
        public string[] RecoveryPointId { get; set; } = Array.Empty<string>();

        /// <summary>Recovery points from Get-/New-CcieSnapshot, each copied from its own region.</summary>
        [Parameter(ParameterSetName = ByObjectSet, Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNullOrEmpty]
        public RecoveryPoint[] RecoveryPoint { get; set; } = Array.Empty<RecoveryPoint>();

        /// <summary>The region to copy to (the disaster-recovery region).</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidatePattern("^[a-z]{2}(-[a-z]+)+-[0-9]+$")]
        [ArgumentCompleter(typeof(RegionCompleter))]
        public string DestinationRegion { get; set; } = string.Empty;

        /// <summary>KMS key (id, alias or ARN in the destination region) to encrypt the copies with.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? KmsKeyId { get; set; }

        /// <summary>Wait until the copies are completed, with progress.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>How long to wait (for the source to complete, and with -Wait for the copies), in seconds. Default: 3600.</summary>
        [Parameter]
        [ValidateRange(1, 7 * 24 * 3600)]
        public int TimeoutSeconds { get; set; } = 3600;

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            // A piped point is copied from the region it lives in (a session default -Region does not override it).
            var items = ParameterSetName == ByObjectSet
                ? RecoveryPoint.Where(p => p is not null).Select(p => (Region: string.IsNullOrEmpty(p.Region) ? Aws.Region : p.Region, Id: p.RecoveryPointId)).ToList()
                : RecoveryPointId.Select(id => (Region: Aws.Region, Id: id)).ToList();
            using var clients = new RegionalClients<IAmazonEC2>(r => Aws.CreateEc2(r));
            IAmazonEC2 destination = clients.For(DestinationRegion);
            var request = new CopyRecoveryPointRequest
            {
                DestinationRegion = DestinationRegion,
                KmsKeyId = KmsKeyId,
                Wait = Wait.IsPresent,
                WaitOptions = WaitOptions.Default(TimeSpan.FromSeconds(TimeoutSeconds)),
            };
            foreach ((string sourceRegion, string id) in items)
            {
                try
                {
                    IAmazonEC2 source = clients.For(sourceRegion);
                    var copier = new SnapshotCopier(source, sourceRegion, destination, Reporter);
                    RecoveryPoint point = await RecoveryPointCatalog.GetRequiredAsync(source, sourceRegion, id, cancellationToken).ConfigureAwait(false);
                    OperationPlan plan = copier.Plan(point, request);
                    if (!await ShouldProcessAsync(plan.Render(), $"Copy the {point.Snapshots.Count} snapshots of {id} from {sourceRegion} to {DestinationRegion}?", "Copy-CcieSnapshot").ConfigureAwait(false))
                    {
                        continue;
                    }

                    WriteObject(await copier.CopyAsync(point, request, cancellationToken).ConfigureAwait(false));
                }
                catch (CcieException e)
                {
                    WriteCcieError(e);
                }
            }
        }
    }
}
