using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.KeyManagementService;
using CcieDr.Engine;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Detection;
using CcieDr.Engine.Recovery.Drill;
using CcieDr.Engine.Remote;

namespace CcieDr.Commands
{
    /// <summary>
    /// A recovery drill: restores a recovery point (default the newest) as a throw-away box on a new private IP,
    /// optionally in an isolated security group, proves it works, measures RTO and RPO, removes everything it
    /// created (also on failure and Ctrl+C) and records the verdict on the point.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "CcieRecovery", DefaultParameterSetName = LatestSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(RecoveryDrillResult))]
    public sealed class TestCcieRecoveryCommand : CcieTransportCmdlet
    {
        private const string LatestSet = "Latest";
        private const string ByObjectSet = "ByRecoveryPoint";
        private const string ByIdSet = "ById";

        /// <summary>A recovery point from Get-CcieSnapshot.</summary>
        [Parameter(ParameterSetName = ByObjectSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public RecoveryPoint? RecoveryPoint { get; set; }

        /// <summary>A recovery point id (rp-...).</summary>
        [Parameter(ParameterSetName = ByIdSet, Mandatory = true, Position = 0)]
        [ValidatePattern(RecoveryPointIds.Pattern)]
        [ArgumentCompleter(typeof(RecoveryPointIdCompleter))]
        public string? RecoveryPointId { get; set; }

        /// <summary>With no point given: the newest completed point of the box with this Name (default circleci_services).</summary>
        [Parameter(ParameterSetName = LatestSet)]
        [ValidateNotNullOrEmpty]
        public string? BoxName { get; set; }

        /// <summary>Subnet for the drill box. Default: the point's subnet (always on a new private IP).</summary>
        [Parameter]
        [ValidatePattern("^subnet-[0-9a-f]{8,17}$")]
        public string? SubnetId { get; set; }

        /// <summary>A temporary security group that admits only the drill's checks and allows no egress (see -AllowIngressCidr, -AllowEgressCidr).</summary>
        [Parameter]
        public SwitchParameter Isolated { get; set; }

        /// <summary>Security groups for a drill that is not -Isolated. Default: the point's saved ones.</summary>
        [Parameter]
        [ValidatePattern("^sg-[0-9a-f]{8,17}$")]
        public string[]? SecurityGroupId { get; set; }

        /// <summary>-Isolated: where checks from outside the box come from (ports 22, 80, 443, 4434, 8800).</summary>
        [Parameter]
        [ValidatePattern(@"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")]
        public string[] AllowIngressCidr { get; set; } = Array.Empty<string>();

        /// <summary>-Isolated: what the box may reach on 443, e.g. the VPC's SSM interface endpoints. Default: nothing.</summary>
        [Parameter]
        [ValidatePattern(@"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")]
        public string[] AllowEgressCidr { get; set; } = Array.Empty<string>();

        /// <summary>Instance type of the drill box. Default: the point's.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? InstanceType { get; set; }

        /// <summary>Your own check, given the drill box (InstanceId, PrivateIpAddress, ...): return $true/$false or throw.</summary>
        [Parameter]
        public ScriptBlock? ValidationScript { get; set; }

        /// <summary>Keep what the drill created when it fails, for inspection (Remove-CcieDrill removes it).</summary>
        [Parameter]
        public SwitchParameter KeepOnFailure { get; set; }

        /// <summary>Do not write the verdict onto the recovery point's snapshots.</summary>
        [Parameter]
        public SwitchParameter NoRecord { get; set; }

        /// <summary>Write an HTML report (timeline chart, checks, resources) to this file.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ReportPath { get; set; }

        /// <summary>Deadline in seconds for the restore's waits. Default 2700.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSeconds { get; set; } = 2700;

        /// <summary>Do not start the app: the drill then proves only that the point boots and passes EC2's status checks.</summary>
        [Parameter]
        public SwitchParameter SkipApp { get; set; }

        /// <summary>Where the app's ports are probed from: Box (default: an isolated drill box admits nothing from outside) or Here.</summary>
        [Parameter]
        public ProbeFrom From { get; set; } = ProbeFrom.Box;

        [Parameter]
        [ValidateRange(1, 60)]
        public int ProbeTimeoutSec { get; set; } = 3;

        /// <summary>How long the remote channel, then the app (state and ports), may take on the drill box. Default 1800.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int AppTimeoutSec { get; set; } = 1800;

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            using IAmazonKeyManagementService kms = Aws.CreateKms();
            var drill = new RecoveryDrill(ec2, Aws.Region, Reporter, kms);
            try
            {
                RecoveryPoint point = RecoveryPoint ?? await ResolvePointAsync(ec2, cancellationToken).ConfigureAwait(false);
                var request = new DrillRequest
                {
                    RecoveryPoint = point,
                    SubnetId = SubnetId,
                    SecurityGroupIds = SecurityGroupId,
                    Isolated = Isolated.IsPresent,
                    AllowIngressCidrs = AllowIngressCidr,
                    AllowEgressCidrs = AllowEgressCidr,
                    InstanceType = InstanceType,
                    KeepOnFailure = KeepOnFailure.IsPresent,
                    Record = !NoRecord.IsPresent,
                    Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
                    Validate = ValidationScript is null ? null : RunValidationAsync,
                    Verifier = SkipApp.IsPresent ? null : await VerifierAsync().ConfigureAwait(false),
                };
                if (!Isolated.IsPresent && SubnetId is null)
                {
                    WriteWarning("Without -Isolated (or an isolated -SubnetId) the drill box runs with the production security groups: it cannot take the builders (its IP is new), but a restored CircleCI can reach GitHub, mail and webhooks. Prefer -Isolated.");
                }

                DrillPlan plan = await drill.PlanAsync(request, cancellationToken).ConfigureAwait(false);
                if (!plan.CanProceed && !await WhatIfRequestedAsync().ConfigureAwait(false))
                {
                    throw new CcieException("DrillPreflightFailed", CcieErrorCategory.InvalidOperation, $"The drill of {point.RecoveryPointId} stopped before any change: " + string.Join(" ", plan.Probe.Blockers.Select(b => b.Message)), point.RecoveryPointId);
                }

                string description = $"Recovery drill {plan.DrillId} of {point.RecoveryPointId}:" + string.Concat(plan.Steps().Select((s, i) => $"{Environment.NewLine}  {i + 1}. {s}"));
                if (!await ShouldProcessAsync(description, $"Run recovery drill {plan.DrillId} of {point.RecoveryPointId} (creates and removes a box)?", "Test-CcieRecovery").ConfigureAwait(false))
                {
                    return;
                }

                RecoveryDrillResult result = await drill.RunAsync(plan, cancellationToken).ConfigureAwait(false);
                foreach (string warning in result.Warnings)
                {
                    WriteWarning(warning);
                }

                if (ReportPath is not null)
                {
                    string path = await ResolveProviderPathAsync(ReportPath).ConfigureAwait(false);
                    File.WriteAllText(path, DrillReport.Render(result));
                    result.ReportPath = path;
                }

                WriteObject(result);
            }
            catch (CcieException e)
            {
                WriteCcieError(e);
            }
        }

        // The drill box exists only once the drill ran its restore: the shell opens to it then (its id for SSM; for SSH
        // its new private IP, looked up in EC2), with this invocation's transport parameters (CcieTransportCmdlet).
        private async Task<IDrillVerifier> VerifierAsync()
        {
            DrillBox? current = null;
            Uri? endpoint = EndpointUrl;
            Func<CancellationToken, Task<IRemoteShell>> open = await ShellOpenerAsync(
                () => current?.InstanceId,
                () => null,
                host => PortProbe.GuardSimulatedAddress(host, endpoint, current?.InstanceId ?? "the drill box", "Use -Transport Ssm (the simulator's sandbox runs the commands), or -SkipApp.")).ConfigureAwait(false);
            var options = new AppDrillOptions
            {
                Ec2 = () => Aws.CreateEc2(),
                Sudo = !NoSudo.IsPresent,
                ChannelTimeout = TimeSpan.FromSeconds(AppTimeoutSec),
                AppTimeout = TimeSpan.FromSeconds(AppTimeoutSec),
                Probe = ProbeParameters.Options(From, true, null, null, ProbeTimeoutSec, EndpointUrl),
            };
            options.OpenShell = (box, ct) =>
            {
                current = box;
                return open(ct);
            };
            return new AppDrillVerifier(options, Reporter);
        }

        private async Task<RecoveryPoint> ResolvePointAsync(IAmazonEC2 ec2, CancellationToken ct)
        {
            IReadOnlyList<RecoveryPoint> points = await RecoveryPointCatalog.ListAsync(ec2, Aws.Region, new RecoveryPointFilter
            {
                RecoveryPointId = RecoveryPointId,
                BoxName = RecoveryPointId is null ? BoxName : null,
                Latest = RecoveryPointId is null,
            }, ct).ConfigureAwait(false);
            return (points.Count > 0 ? points[0] : null) ?? throw (RecoveryPointId is null
                ? new CcieException("NoRecoveryPoint", CcieErrorCategory.ObjectNotFound, $"No completed recovery point in {Aws.Region} to drill. Take one with New-CcieSnapshot -Wait.", Aws.Region)
                : RecoveryPointCatalog.NotFound(Aws.Region, RecoveryPointId));
        }

        // The operator's script runs on the pipeline thread; $true (or no output) passes, $false or an error fails.
        private async Task<RecoveryDrillCheck> RunValidationAsync(DrillBox box, CancellationToken ct)
        {
            return await OnPipelineAsync(() =>
            {
                try
                {
                    var output = ValidationScript!.Invoke(box);
                    object? last = output.Count == 0 ? null : output[output.Count - 1]?.BaseObject;
                    return last is bool ok && !ok
                        ? new RecoveryDrillCheck("validation-script", "Fail", "the validation script returned $false")
                        : new RecoveryDrillCheck("validation-script", "Pass", last is null ? "no output" : "returned " + last);
                }
                catch (RuntimeException e)
                {
                    return new RecoveryDrillCheck("validation-script", "Fail", "the validation script failed: " + e.Message);
                }
            }).ConfigureAwait(false);
        }
    }
}
