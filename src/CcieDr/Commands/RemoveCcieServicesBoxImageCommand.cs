using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine;
using CcieDr.Engine.Failover;

namespace CcieDr.Commands
{
    /// <summary>
    /// Deregisters an image of the Services box and deletes its snapshots. Never the newest image of a box, never
    /// one a live replica was launched from, unless -Force (and you confirm).
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "CcieServicesBoxImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(ServicesBoxImage))]
    public sealed class RemoveCcieServicesBoxImageCommand : CcieAwsCmdlet
    {
        /// <summary>The image (pipe Get-CcieServicesBoxImage).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern("^ami-[0-9a-f]{8,17}$")]
        public string ImageId { get; set; } = string.Empty;

        /// <summary>Also remove the newest image or one a replica was launched from (you are still asked to confirm).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override object? TerminatingTarget() => ImageId;

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            var service = new ServicesBoxImageService(ec2, Aws.Region, Reporter);
            ServicesBoxImage? image = (await service.ListAsync(null, cancellationToken).ConfigureAwait(false)).FirstOrDefault(i => i.ImageId == ImageId);
            if (image is null)
            {
                WriteCcieError(new CcieException("ServicesBoxImageNotFound", CcieErrorCategory.ObjectNotFound, $"{ImageId} is not an image made by New-CcieServicesBoxImage in {Aws.Region}. List them with Get-CcieServicesBoxImage.", ImageId));
                return;
            }

            string risk = image.IsNewest ? " It is the NEWEST image of " + image.SourceInstanceId + "." : string.Empty;
            risk += image.ReplicaInstanceIds.Count > 0 ? " Replica(s) " + string.Join(", ", image.ReplicaInstanceIds) + " were launched from it." : string.Empty;
            string plan = $"Remove-CcieServicesBoxImage on {ImageId}:\n   1. ec2:DeregisterImage  {ImageId}\n" + string.Concat(image.SnapshotIds.Select((s, n) => $"   {n + 2}. ec2:DeleteSnapshot  {s}\n"));
            if (!await ShouldProcessAsync(plan.TrimEnd(), $"Deregister {ImageId} and delete its {image.SnapshotIds.Count} snapshots?{risk}", "Remove-CcieServicesBoxImage").ConfigureAwait(false))
            {
                return;
            }

            try
            {
                WriteObject(await service.RemoveAsync(image, Force.IsPresent, cancellationToken).ConfigureAwait(false));
            }
            catch (CcieException e)
            {
                WriteCcieError(e);
            }
        }
    }
}
