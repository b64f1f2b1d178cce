using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Failover;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;

namespace CcieDr.Commands
{
    /// <summary>
    /// Makes an AMI of the configured Services box for replicas: every volume, a reboot for consistent file systems
    /// (unless -NoReboot), tagged with the box's identity like a recovery point, waited until available.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "CcieServicesBoxImage", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(ServicesBoxImage))]
    public sealed class NewCcieServicesBoxImageCommand : CcieAwsCmdlet
    {
        private const string ByNameSet = "ByName";
        private const string ByIdSet = "ById";

        /// <summary>The box's instance id (pipe Get-CcieServicesBox).</summary>
        [Parameter(ParameterSetName = ByIdSet, Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        public string InstanceId { get; set; } = string.Empty;

        /// <summary>Name tag of the box. Default circleci_services.</summary>
        [Parameter(ParameterSetName = ByNameSet)]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; } = ServicesBoxQuery.DefaultName;

        /// <summary>AMI name. Default circleci-services-&lt;instance&gt;-&lt;UTC time&gt;.</summary>
        [Parameter]
        [ValidateLength(3, 128)]
        public string? ImageName { get; set; }

        /// <summary>Do not reboot the box: the image is crash-consistent only (a warning says so).</summary>
        [Parameter]
        public SwitchParameter NoReboot { get; set; }

        /// <summary>App version to record on the image (Get-CcieApp shows it).</summary>
        [Parameter]
        [ValidateLength(1, 128)]
        public string? AppVersion { get; set; }

        /// <summary>How long to wait for the image to become available. Default 3600.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSeconds { get; set; } = 3600;

        protected override object? TerminatingTarget() => ParameterSetName == ByIdSet ? InstanceId : Name;

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            ServicesBox box = await new ServicesBoxLocator(ec2, Aws.Region).FindOneAsync(new ServicesBoxQuery { Name = Name, InstanceIds = ParameterSetName == ByIdSet ? new[] { InstanceId } : Array.Empty<string>() }, cancellationToken).ConfigureAwait(false);
            var service = new ServicesBoxImageService(ec2, Aws.Region, Reporter);
            var request = new ServicesBoxImageRequest { Box = box, NoReboot = NoReboot.IsPresent, Name = ImageName, AppVersion = AppVersion, Timeout = TimeSpan.FromSeconds(TimeoutSeconds) };
            OperationPlan plan = service.Plan(request);
            string query = NoReboot.IsPresent || box.State != "running"
                ? $"Make an image of {box.InstanceId} ({box.Name}) without a reboot?"
                : $"REBOOT {box.InstanceId} ({box.Name}) to make a consistent image of it? The app is unavailable for a few minutes.";
            if (!await ShouldProcessAsync(plan.Render(), query, "New-CcieServicesBoxImage").ConfigureAwait(false))
            {
                return;
            }

            WriteObject(await service.CreateAsync(request, cancellationToken).ConfigureAwait(false));
        }
    }
}
