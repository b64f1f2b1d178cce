using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Failover;

namespace CcieDr.Commands
{
    /// <summary>Lists the images made by New-CcieServicesBoxImage, newest first, with the replicas launched from each.</summary>
    [Cmdlet(VerbsCommon.Get, "CcieServicesBoxImage")]
    [OutputType(typeof(ServicesBoxImage))]
    public sealed class GetCcieServicesBoxImageCommand : CcieAwsCmdlet
    {
        /// <summary>Only images of this box.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        public string? InstanceId { get; set; }

        /// <summary>Only this image.</summary>
        [Parameter]
        [ValidatePattern("^ami-[0-9a-f]{8,17}$")]
        public string? ImageId { get; set; }

        /// <summary>Only the newest image (of each box).</summary>
        [Parameter]
        public SwitchParameter Latest { get; set; }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            var images = await new ServicesBoxImageService(ec2, Aws.Region, Reporter).ListAsync(InstanceId, cancellationToken).ConfigureAwait(false);
            foreach (ServicesBoxImage image in images.Where(i => (ImageId is null || i.ImageId == ImageId) && (!Latest.IsPresent || i.IsNewest)))
            {
                WriteObject(image);
            }
        }
    }
}
