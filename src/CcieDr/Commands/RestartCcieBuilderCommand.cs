using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Aws.AutoScaling;
using CcieDr.Engine.Aws.CloudWatch;
using CcieDr.Engine.Builders;
using CcieDr.Engine.Remote;

namespace CcieDr.Commands
{
    /// <summary>
    /// Rotates the builder fleet in batches: every builder, the stale ones (-Stale: not launched from the group's current
    /// configuration) or the given ones, by an Auto Scaling instance refresh where the group allows it, otherwise by
    /// raising capacity a batch at a time, waiting for the new builders, and terminating old ones. Ctrl+C stops after
    /// the current batch with the group at its size; a rerun continues.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Restart, "CcieBuilder", DefaultParameterSetName = AllParameterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(BuilderRestartResult))]
    public sealed class RestartCcieBuilderCommand : CcieAwsCmdlet
    {
        private const string AllParameterSet = "All";
        private const string StaleParameterSet = "Stale";
        private const string InstancesParameterSet = "Instances";

        private readonly List<(string? Group, BuilderSelection Selection, string[] Ids)> _work = new();

        /// <summary>The builder group (pipe Set-CcieBuilderConfiguration or Get-CcieBuilder). Default: the one group whose configuration sets SERVICES_PRIVATE_IP.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string? AutoScalingGroupName { get; set; }

        /// <summary>Only builders not launched from the group's current launch template version or launch configuration.</summary>
        [Parameter(Mandatory = true, ParameterSetName = StaleParameterSet)]
        public SwitchParameter Stale { get; set; }

        /// <summary>Only these builders (pipe Get-CcieBuilder).</summary>
        [Parameter(Mandatory = true, ParameterSetName = InstancesParameterSet, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        public string[] InstanceId { get; set; } = Array.Empty<string>();

        /// <summary>Builders replaced at a time. Default: from -MinHealthyPercent.</summary>
        [Parameter]
        [ValidateRange(1, 1000)]
        public int? BatchSize { get; set; }

        /// <summary>The share of desired capacity kept in service while rotating (default 90, as Auto Scaling).</summary>
        [Parameter]
        [ValidateRange(0, 100)]
        public int? MinHealthyPercent { get; set; }

        /// <summary>Use CcieDr's own loop even where an Auto Scaling instance refresh would do.</summary>
        [Parameter]
        public SwitchParameter NoInstanceRefresh { get; set; }

        /// <summary>A shell command run on each old builder (over SSM Run Command) before it is terminated, e.g. to let running builds finish.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? DrainCommand { get; set; }

        /// <summary>How long -DrainCommand may run on one builder.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int DrainTimeoutSec { get; set; } = 600;

        /// <summary>How long one batch may take to get its new builders in service.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int BatchTimeoutSec { get; set; } = 1200;

        /// <summary>How long the Services box may take to see a batch's new builders once they are in service (CloudWatch circle.state.num-masters).</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int ConnectTimeoutSec { get; set; } = 600;

        /// <summary>Do not wait for the Services box to see the new builders (only until they are InService); allows an Auto Scaling instance refresh.</summary>
        [Parameter]
        public SwitchParameter SkipConnectionCheck { get; set; }

        /// <summary>Skip the confirmation prompt (-WhatIf is still honoured).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override object? TerminatingTarget() => AutoScalingGroupName;

        protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            BuilderSelection selection = ParameterSetName switch
            {
                StaleParameterSet => BuilderSelection.Stale,
                InstancesParameterSet => BuilderSelection.Instances,
                _ => BuilderSelection.All,
            };
            int same = _work.FindIndex(w => w.Group == AutoScalingGroupName && w.Selection == selection);
            if (same >= 0)
            {
                _work[same] = (AutoScalingGroupName, selection, _work[same].Ids.Concat(InstanceId).Distinct(StringComparer.Ordinal).ToArray());
            }
            else
            {
                _work.Add((AutoScalingGroupName, selection, InstanceId.ToArray()));
            }

            return Task.CompletedTask;
        }

        protected override async Task EndProcessingAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            using AutoScalingClient asg = AutoScalingClient.Create(Aws);
            using var groups = new AutoScalingBuilderGroups(asg);
            var restarter = new BuilderRestarter(ec2, groups, Aws.Region, Reporter)
            {
                InventoryStale = new BuilderInventory(ec2, asg, Aws.Region).StaleInstanceIdsAsync,
            };
            using CloudWatchClient? cloudWatch = SkipConnectionCheck.IsPresent ? null : CloudWatchClient.Create(Aws);
            if (cloudWatch is not null)
            {
                restarter.ConnectedBuilders = new BuilderConnections(cloudWatch).ReadAsync;
            }

            if (DrainCommand is not null)
            {
                var aws = new RemoteAwsClients { Ec2 = () => Aws.CreateEc2(), Ssm = () => Aws.CreateSsm(), S3 = () => Aws.CreateS3(), Region = Aws.Region };
                restarter.OpenBuilderShell = (id, ct) => RemoteShellFactory.CreateAsync(new RemoteShellRequest { Transport = RemoteTransport.Ssm, InstanceId = id }, aws, Reporter, ct);
            }

            foreach ((string? group, BuilderSelection selection, string[] ids) in _work)
            {
                var request = new BuilderRestartRequest
                {
                    AutoScalingGroupName = group,
                    Selection = selection,
                    InstanceIds = ids,
                    BatchSize = BatchSize,
                    MinHealthyPercent = MinHealthyPercent,
                    NoInstanceRefresh = NoInstanceRefresh.IsPresent,
                    DrainCommand = DrainCommand,
                    DrainTimeout = TimeSpan.FromSeconds(DrainTimeoutSec),
                    BatchTimeout = TimeSpan.FromSeconds(BatchTimeoutSec),
                    ConnectTimeout = TimeSpan.FromSeconds(ConnectTimeoutSec),
                };
                BuilderRestartPlan plan = await restarter.PlanAsync(request, cancellationToken).ConfigureAwait(false);
                foreach (string note in plan.Steps.Notes)
                {
                    WriteVerbose(note);
                }

                if (plan.Targets.Count == 0)
                {
                    if (!await WhatIfRequestedAsync().ConfigureAwait(false))
                    {
                        WriteObject(await restarter.ApplyAsync(plan, cancellationToken).ConfigureAwait(false));
                    }

                    continue;
                }

                if (!await ShouldProcessForceAsync(Force.IsPresent, plan.Render(), $"Replace {plan.Targets.Count} builder(s) of {plan.Group.Name} in batches of {plan.BatchSize}?", "Restart-CcieBuilder").ConfigureAwait(false))
                {
                    continue;
                }

                WriteObject(await restarter.ApplyAsync(plan, cancellationToken).ConfigureAwait(false));
            }
        }
    }
}
