using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.KeyManagementService;
using CcieDr.Engine;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery.Restore;
using CcieDr.Engine.Recovery.App;
using CcieDr.Engine.Remote;

namespace CcieDr.Commands
{
    /// <summary>
    /// Restores the Services box from a recovery point: registers an AMI from its snapshots and launches it with
    /// the saved private IP, subnet, security groups, type, key and profile, after read-only pre-flight checks;
    /// waits until it runs and passes its status checks; reruns resume instead of duplicating.
    /// </summary>
    [Cmdlet(VerbsData.Restore, "CcieServicesBox", DefaultParameterSetName = ByIdSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(RestoreResult))]
    public sealed class RestoreCcieServicesBoxCommand : CcieTransportCmdlet
    {
        private const string ByIdSet = "ById";
        private const string ByObjectSet = "ByRecoveryPoint";
        private const string BySnapshotSet = "BySnapshot";

        /// <summary>Recovery point id (rp-...), or a seed snapshot id; binds by property name from Get-CcieSnapshot.</summary>
        [Parameter(ParameterSetName = ByIdSet, Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RecoveryPointIdCompleter))]
        public string RecoveryPointId { get; set; } = string.Empty;

        /// <summary>A recovery point object from Get-CcieSnapshot or New-CcieSnapshot.</summary>
        [Parameter(ParameterSetName = ByObjectSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public RecoveryPoint? RecoveryPoint { get; set; }

        /// <summary>A single snapshot made by the seed's backup script; give the identity as parameters.</summary>
        [Parameter(ParameterSetName = BySnapshotSet, Mandatory = true)]
        [ValidatePattern("^snap-[0-9a-f]{8,17}$")]
        public string SnapshotId { get; set; } = string.Empty;

        /// <summary>Private IP for the box. Default: the saved one. Builders must be re-associated when it changes.</summary>
        [Parameter]
        [ValidatePattern(@"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")]
        public string? PrivateIpAddress { get; set; }

        /// <summary>Subnet for the box (another AZ). Default: the saved one.</summary>
        [Parameter]
        [ValidatePattern("^subnet-[0-9a-f]{8,17}$")]
        public string? SubnetId { get; set; }

        /// <summary>Security groups. Default: the saved ones.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ValidatePattern("^sg-[0-9a-f]{8,17}$")]
        public string[]? SecurityGroupId { get; set; }

        /// <summary>Instance type. Default: the saved one.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? InstanceType { get; set; }

        /// <summary>Key pair name. Default: the saved one.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? KeyName { get; set; }

        /// <summary>IAM instance profile, ARN or name. Default: the saved one.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? IamInstanceProfile { get; set; }

        /// <summary>Name tag of the restored box. Default: the saved one (circleci_services).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Name { get; set; }

        /// <summary>Seed snapshots: the box's root device name (from its AMI). Never assumed.</summary>
        [Parameter]
        [ValidatePattern("^/dev/[a-z0-9]+$")]
        public string? RootDeviceName { get; set; }

        /// <summary>Seed snapshots: architecture of the box. Default x86_64.</summary>
        [Parameter]
        [ValidateSet("x86_64", "arm64", "i386")]
        public string? Architecture { get; set; }

        /// <summary>Seed snapshots: ENA support. Default true.</summary>
        [Parameter]
        public bool? EnaSupport { get; set; }

        /// <summary>Seed snapshots: virtualization type. Default hvm.</summary>
        [Parameter]
        [ValidateSet("hvm", "paravirtual")]
        public string? VirtualizationType { get; set; }

        /// <summary>Terminate the Services box that still holds the private IP, and wait until the IP is free.</summary>
        [Parameter]
        public SwitchParameter ReplaceExisting { get; set; }

        /// <summary>Deregister the AMI once the box runs (its snapshots are kept).</summary>
        [Parameter]
        public SwitchParameter DeregisterImage { get; set; }

        /// <summary>Deadline in seconds for all waits together (IP release, AMI, running, status checks). Default 1800.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSeconds { get; set; } = 1800;

        /// <summary>After the restore: wait for the remote shell, fix Replicated's addresses if the IP changed, restart Replicated, start the app and wait until it serves.</summary>
        [Parameter]
        public SwitchParameter StartApp { get; set; }

        /// <summary>
        /// With -StartApp over SSH: the host to connect to. Default: the restored box's private IP. (The other transport
        /// parameters, -Transport, -Ssh*, -OutputS3BucketName and -NoSudo, are those of every remote cmdlet.)
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SshHost { get; set; }

        /// <summary>
        /// With -StartApp: probe the app's ports from here (default) or from the box. Left at its default against a simulator
        /// on loopback, the restored box's simulated address is probed from the box (its sandbox).
        /// </summary>
        [Parameter]
        public Engine.Detection.ProbeFrom From { get; set; } = Engine.Detection.ProbeFrom.Here;

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ProbeAddress { get; set; }

        [Parameter]
        public System.Collections.Hashtable? ProbePortMap { get; set; }

        [Parameter]
        [ValidateRange(1, 60)]
        public int ProbeTimeoutSec { get; set; } = 3;

        /// <summary>With -StartApp: how long the remote channel, then the app (state and ports), may take.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int AppTimeoutSec { get; set; } = 1800;

        protected override object? TerminatingTarget() => ParameterSetName switch
        {
            ByObjectSet => RecoveryPoint,
            BySnapshotSet => SnapshotId,
            _ => RecoveryPointId,
        };

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            var timeline = new Timeline();
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            using IAmazonKeyManagementService kms = Aws.CreateKms();
            var service = new RestoreService(ec2, Aws.Region, new CatalogRecoveryPointSource(ec2, Aws.Region), Reporter, kms);
            var request = new RestoreRequest
            {
                ReplaceExisting = ReplaceExisting.IsPresent,
                DeregisterImage = DeregisterImage.IsPresent,
                Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
            };

            RestorePlan plan;
            try
            {
                RecoveryPoint point = await service.ResolvePointAsync(Source(), request.Assumptions, cancellationToken).ConfigureAwait(false);
                request.RecoveryPoint = point;
                if (!string.Equals(point.Origin, "Seed", StringComparison.Ordinal))
                {
                    ApplyOverrides(request, point);
                }

                plan = await service.PrepareAsync(request, cancellationToken, timeline).ConfigureAwait(false);
            }
            catch (CcieException e)
            {
                WriteCcieError(e);
                return;
            }

            bool whatIf = await WhatIfRequestedAsync().ConfigureAwait(false);
            if (!plan.CanProceed && !whatIf)
            {
                WriteCcieError(PreflightError(plan));
                return;
            }

            AppRecoveryRequest? app = null;
            if (StartApp.IsPresent)
            {
                app = await AppRequestAsync(plan).ConfigureAwait(false);
                AppRecovery.AddPlanSteps(plan.Operation, app);
            }

            if (!await ShouldProcessAsync(plan.Operation.Render(), Query(plan), "Restore-CcieServicesBox").ConfigureAwait(false))
            {
                return;
            }

            foreach (string warning in plan.Warnings)
            {
                WriteWarning(warning);
            }

            try
            {
                RestoreResult result = await service.ExecuteAsync(plan, cancellationToken).ConfigureAwait(false);
                if (app is not null)
                {
                    app.Box = result.InstanceId;
                    app.PrivateIpAddress = result.PrivateIpAddress;
                    try
                    {
                        AppRecoveryResult recovered = await new AppRecovery(Reporter).RunAsync(app, plan.Timeline, cancellationToken).ConfigureAwait(false);
                        result.AppState = recovered.App.State;
                        result.AppFixups = recovered.Fixups;
                    }
                    catch (CcieException e)
                    {
                        // The box is restored: hand it out, then say what stopped the app from serving.
                        result.AppState = "NotStarted";
                        result.Timeline = plan.Timeline.Entries;
                        WriteObject(result);
                        WriteCcieError(new CcieException(e.ErrorId, e.Category, $"{result.InstanceId} is restored, but the app is not serving yet: {e.Message}", result.InstanceId, e));
                        return;
                    }

                    result.Timeline = plan.Timeline.Entries;
                }

                WriteObject(result);
            }
            catch (CcieException e)
            {
                WriteCcieError(e);
            }
        }

        /// <summary>
        /// The -StartApp request. The shell opens to the restored box once it exists (request.Box is set to the NEW
        /// instance id after the launch), by the transport selection every remote cmdlet uses: -Transport, else SSM when
        /// that instance is managed and its agent Online, else SSH (-SshHost, else its private IP) when SSH settings
        /// were given. Until then the recovery's WaitRemoteChannel step retries on the shared waiter.
        /// </summary>
        private async Task<AppRecoveryRequest> AppRequestAsync(RestorePlan plan)
        {
            var request = new AppRecoveryRequest
            {
                Box = plan.Target.RecoveryPointId,
                PrivateIpAddress = plan.Target.PrivateIpAddress,
                Sudo = !NoSudo.IsPresent,
                ChannelTimeout = TimeSpan.FromSeconds(AppTimeoutSec),
                AppTimeout = TimeSpan.FromSeconds(AppTimeoutSec),
                Probe = ProbeParameters.Options(From, MyInvocation.BoundParameters.ContainsKey(nameof(From)), ProbeAddress, ProbePortMap, ProbeTimeoutSec, EndpointUrl),
            };

            // Against a simulator the restored box's 10.x address is fiction: never connect to it for real over SSH.
            Uri? endpoint = EndpointUrl;
            request.OpenShell = await ShellOpenerAsync(
                () => request.Box.StartsWith("i-", StringComparison.Ordinal) ? request.Box : null,
                () => SshHost,
                host => Engine.Detection.PortProbe.GuardSimulatedAddress(host, endpoint, request.Box, "Give -SshHost with a loopback sshd, or -Transport Ssm (the simulator's sandbox) or Local.")).ConfigureAwait(false);
            return request;
        }

        private RestoreSource Source() => new RestoreSource
        {
            RecoveryPoint = ParameterSetName == ByObjectSet ? RecoveryPoint : null,
            RecoveryPointId = ParameterSetName == ByIdSet ? RecoveryPointId : null,
            SnapshotId = ParameterSetName == BySnapshotSet ? SnapshotId : null,
            Seed = new SeedIdentity
            {
                PrivateIpAddress = PrivateIpAddress,
                SubnetId = SubnetId,
                SecurityGroupIds = SecurityGroupId ?? Array.Empty<string>(),
                InstanceType = InstanceType,
                KeyName = KeyName,
                IamInstanceProfile = IamInstanceProfile,
                RootDeviceName = RootDeviceName,
                Architecture = Architecture,
                EnaSupport = EnaSupport,
                VirtualizationType = VirtualizationType,
                Name = Name,
            },
        };

        private void ApplyOverrides(RestoreRequest request, RecoveryPoint point)
        {
            request.PrivateIpAddress = PrivateIpAddress;
            request.SubnetId = SubnetId;
            request.SecurityGroupIds = SecurityGroupId;
            request.InstanceType = InstanceType;
            request.KeyName = KeyName;
            request.IamInstanceProfile = IamInstanceProfile;
            request.Name = Name;
            foreach ((string parameter, string? given, string? saved) in new[]
            {
                ("RootDeviceName", RootDeviceName, point.Identity.RootDeviceName),
                ("Architecture", Architecture, point.Identity.Architecture),
                ("VirtualizationType", VirtualizationType, point.Identity.VirtualizationType),
            })
            {
                if (given is not null && !string.Equals(given, saved, StringComparison.Ordinal))
                {
                    request.Assumptions.Add($"-{parameter} {given} is ignored: recovery point {point.RecoveryPointId} records {saved ?? "none"}, and the snapshots are what they are. (-{parameter} is for seed snapshots.)");
                }
            }
        }


        private static string Query(RestorePlan plan)
        {
            RestoreTarget t = plan.Target;
            string replace = plan.InstanceToReplace?.InstanceId is { } old && plan.InstanceToReplace.InstanceState is not ("shutting-down" or "terminated")
                ? $"TERMINATE {old} (it holds {plan.InstanceToReplace.IpAddress}), then "
                : string.Empty;
            string launch = plan.ExistingInstance is null
                ? $"launch a {t.InstanceType} from {t.RecoveryPointId} at {t.PrivateIpAddress ?? "a new private IP"} in {t.SubnetId}"
                : $"finish the restore of {t.RecoveryPointId} with instance {plan.ExistingInstance.Id} from an earlier run";
            return $"{replace}{launch}?";
        }

        private static CcieException PreflightError(RestorePlan plan)
        {
            List<PreflightFinding> blockers = plan.Blockers.ToList();
            PreflightFinding first = blockers[0];
            string message = blockers.Count == 1
                ? $"Restore of {plan.Target.RecoveryPointId} stopped before any change: {first.Message}"
                : $"Restore of {plan.Target.RecoveryPointId} stopped before any change; pre-flight found {blockers.Count} problems:" + string.Concat(blockers.Select(b => Environment.NewLine + " - " + b.Message));
            return new CcieException(first.ErrorId ?? "RestorePreflightFailed", first.Category, message, first.Target ?? plan.Target.RecoveryPointId);
        }
    }
}
