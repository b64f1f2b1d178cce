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
    /// Gives the Services box a floating (secondary) private IP in its subnet for failover mode 1, and says how to
    /// point the builders at it. An IP in use elsewhere is never taken.
    /// </summary>
    [Cmdlet(VerbsCommon.Add, "CcieFloatingIp", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(FloatingIp))]
    public sealed class AddCcieFloatingIpCommand : CcieAwsCmdlet
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

        /// <summary>The IP to use (a free address of the box's subnet). Default: EC2 picks a free one.</summary>
        [Parameter]
        [ValidatePattern(@"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")]
        public string? PrivateIpAddress { get; set; }

        protected override object? TerminatingTarget() => ParameterSetName == ByIdSet ? InstanceId : Name;

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            ServicesBox box = await new ServicesBoxLocator(ec2, Aws.Region).FindOneAsync(new ServicesBoxQuery { Name = Name, InstanceIds = ParameterSetName == ByIdSet ? new[] { InstanceId } : Array.Empty<string>() }, cancellationToken).ConfigureAwait(false);
            if (!await ShouldProcessAsync(FloatingIpService.Plan(box, PrivateIpAddress).Render(), $"Assign floating IP {PrivateIpAddress ?? "(a free one)"} to {box.InstanceId} in {box.SubnetId}?", "Add-CcieFloatingIp").ConfigureAwait(false))
            {
                return;
            }

            FloatingIp ip = await new FloatingIpService(ec2).AddAsync(box, PrivateIpAddress, cancellationToken).ConfigureAwait(false);
            foreach (string step in ip.NextSteps)
            {
                WriteVerbose("Next: " + step);
            }

            WriteObject(ip);
        }
    }
}
