using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Aws.CloudWatch;
using CcieDr.Engine.Detection;

namespace CcieDr.Commands
{
    /// <summary>
    /// The builder fleet's health from CircleCI's CloudWatch metrics (circle.state.num-masters, run queue, leaked
    /// containers) against the builders AWS runs: Outage, NoBuilders, NotConnected, Degraded, Healthy or MetricsMissing.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "CcieFleetHealth")]
    [OutputType(typeof(FleetHealth))]
    public sealed class GetCcieFleetHealthCommand : CcieAwsCmdlet
    {
        /// <summary>CloudWatch namespace of CircleCI's metrics (as set in Replicated). Default: found by the metric's name.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Namespace { get; set; }

        /// <summary>num-masters older than this counts as an outage (the app stopped publishing). Default 10 minutes.</summary>
        [Parameter]
        public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(10);

        /// <summary>How far back to read. Default 15 minutes.</summary>
        [Parameter]
        public TimeSpan Since { get; set; } = TimeSpan.FromMinutes(15);

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            using CloudWatchClient cloudWatch = CloudWatchClient.Create(Aws);
            var check = new FleetHealthCheck(cloudWatch, ec2, Aws.Region);
            WriteObject(await check.RunAsync(new FleetHealthOptions { Namespace = Namespace, StaleAfter = StaleAfter, Since = Since }, cancellationToken).ConfigureAwait(false));
        }
    }
}
