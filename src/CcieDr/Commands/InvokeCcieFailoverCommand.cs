using System;
using System.Management.Automation;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Aws.AutoScaling;
using CcieDr.Engine.Builders;
using CcieDr.Engine.Detection;
using CcieDr.Engine.Failover;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Remote;

namespace CcieDr.Commands
{
    /// <summary>
    /// Fails the Services box over to its replica: decide (refuse a healthy primary unless -Planned), fence (EC2 must
    /// say stopped, or the primary is force-stopped; -AssumePrimaryDead when it cannot be), promote the replica,
    /// re-address (move the floating IP or ENI, or fix up the new IP and reconfigure the builders), start the app
    /// and verify, then move the box's Name tag. Resumes an interrupted run from the first unfinished step.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "CcieFailover", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(FailoverResult))]
    public sealed class InvokeCcieFailoverCommand : CcieAppProbeCmdlet
    {
        /// <summary>Name tag of the primary when -InstanceId is not given. Default circleci_services.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; } = ServicesBoxQuery.DefaultName;

        /// <summary>The replica to promote. Default: the one replica of the primary (Get-CcieReplica).</summary>
        [Parameter]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        public string? ReplicaId { get; set; }

        /// <summary>A planned switchover of a healthy primary: stop its app, run -FinalSyncCommand, then fail over.</summary>
        [Parameter]
        public SwitchParameter Planned { get; set; }

        /// <summary>With -Planned: a command run on the primary after its app stopped (a last sync of /data).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? FinalSyncCommand { get; set; }

        /// <summary>You know the primary is dead although EC2 cannot stop it (its AZ is down): recorded in the timeline, the result and a tag.</summary>
        [Parameter]
        public SwitchParameter AssumePrimaryDead { get; set; }

        /// <summary>Exits 0 on the replica when /data is in sync. Default: the one New-CcieReplica recorded.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ReplicationCheckCommand { get; set; }

        /// <summary>Makes the replica's /data primary, e.g. 'drbdadm primary r0 &amp;&amp; mount /data'.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? PromoteCommand { get; set; }

        /// <summary>How long to wait for the primary to stop. Default 600.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int FenceTimeoutSec { get; set; } = 600;

        /// <summary>How long to wait for the replica to run and pass its status checks. Default 900.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int StartTimeoutSec { get; set; } = 900;

        /// <summary>How long to wait for the app to start (or stop). Default 1200.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int AppTimeoutSec { get; set; } = 1200;

        /// <summary>Mode 3: leave the builders' configuration to you (the result names the exact command) instead of writing a new launch template version with SERVICES_PRIVATE_IP.</summary>
        [Parameter]
        public SwitchParameter NoBuilderConfiguration { get; set; }

        /// <summary>Mode 3: the builder group to point at the new box. Default: the one group whose user data sets SERVICES_PRIVATE_IP.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? AutoScalingGroupName { get; set; }

        /// <summary>Each health check's own time limit (an EC2 call, reaching a box, a command on it). Default 10.</summary>
        [Parameter]
        [ValidateRange(1, 120)]
        public int CheckTimeoutSec { get; set; } = 10;

        protected override object? TerminatingTarget() => InstanceId ?? Name;

        /// <summary>
        /// The shell to one box of the failover: -SshHost is the primary's (the -InstanceId box); the replica is reached by
        /// SSM (the default) or at its private IP. Against a simulator (a loopback endpoint) a simulated 10.x address is never
        /// connected to: without -SshHost no SSH host is given, and -Transport Ssh to such an address is refused.
        /// </summary>
        private Task<IRemoteShell> OpenBoxShellAsync(FailoverBox box, CancellationToken ct)
        {
            string? host = box.Role == FailoverBoxRole.Primary && SshHost is not null ? SshHost : box.PrivateIpAddress;
            bool simulated = EndpointUrl is { IsLoopback: true } && host is not null && !(IPAddress.TryParse(host, out IPAddress? ip) && IPAddress.IsLoopback(ip));
            if (simulated && Transport == RemoteTransport.Ssh)
            {
                PortProbe.GuardSimulatedAddress(host!, EndpointUrl, box.InstanceId, "Give -SshHost with a loopback sshd for the primary, or use SSM (the default) against the simulator's sandbox.");
            }

            return OpenShellAsync(box.InstanceId, simulated ? null : host, ct);
        }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            using IAmazonEC2 fenceEc2 = new AwsClientFactory(Aws.Options.WithRegion(Aws.Region).WithMaxErrorRetry(0)).CreateEc2();
            AwsClientFactory aws = Aws;
            var hooks = new EngineFailoverHooks(
                new EngineFailoverHookOptions
                {
                    Ec2 = () => aws.CreateEc2(),
                    Region = Aws.Region,
                    OpenShell = OpenBoxShellAsync,
                    Sudo = !NoSudo.IsPresent,
                    Probe = ProbeOptions(),
                    CheckTimeout = TimeSpan.FromSeconds(CheckTimeoutSec),
                    CommandTimeout = TimeSpan.FromSeconds(TimeoutSec),
                    ReconfigureBuilders = !NoBuilderConfiguration.IsPresent,
                    AutoScalingGroupName = AutoScalingGroupName,
                    BuilderGroups = () => new AutoScalingBuilderGroups(AutoScalingClient.Create(aws), ownsClient: true),
                },
                Reporter);
            var service = new FailoverService(ec2, Aws.Region, hooks, Reporter) { FenceEc2 = fenceEc2 };
            var request = new FailoverRequest
            {
                InstanceId = InstanceId,
                Name = Name,
                ReplicaId = ReplicaId,
                Planned = Planned.IsPresent,
                FinalSyncCommand = FinalSyncCommand,
                AssumePrimaryDead = AssumePrimaryDead.IsPresent,
                ReplicationCheckCommand = ReplicationCheckCommand,
                PromoteCommand = PromoteCommand,
                FenceTimeout = TimeSpan.FromSeconds(FenceTimeoutSec),
                StartTimeout = TimeSpan.FromSeconds(StartTimeoutSec),
                AppTimeout = TimeSpan.FromSeconds(AppTimeoutSec),
                CommandTimeout = TimeSpan.FromSeconds(TimeoutSec),
            };
            FailoverPlan plan = await service.PlanAsync(request, cancellationToken).ConfigureAwait(false);
            WriteVerbose(plan.ModeDescription);
            bool whatIf = await WhatIfRequestedAsync().ConfigureAwait(false);
            if (plan.Refusal is not null && !whatIf)
            {
                WriteCcieError(plan.Refusal);
                return;
            }

            if (plan.AlreadyDone)
            {
                WriteVerbose($"The failover from {plan.Primary.InstanceId} to {plan.Replica.InstanceId} is finished; nothing to do.");
                WriteObject(await service.ExecuteAsync(plan, cancellationToken).ConfigureAwait(false));
                return;
            }

            string query = $"FAIL OVER from {plan.Primary.InstanceId} ({plan.PrimaryHealth}) to {plan.Replica.InstanceId} in {plan.Replica.Placement?.AvailabilityZone}, {plan.Mode}{(plan.Resumed ? ", resuming after step " + plan.DoneStep : string.Empty)}? The primary is stopped and the builders' address moves to the replica.";
            if (!await ShouldProcessAsync(plan.Operation.Render(), query, "Invoke-CcieFailover").ConfigureAwait(false))
            {
                return;
            }

            FailoverResult result;
            try
            {
                result = await service.ExecuteAsync(plan, cancellationToken).ConfigureAwait(false);
            }
            catch (CcieException e)
            {
                WriteCcieError(e);
                return;
            }

            foreach (string step in result.StepsLeft)
            {
                WriteWarning("Left to you: " + step);
            }

            WriteObject(result);
        }
    }
}
