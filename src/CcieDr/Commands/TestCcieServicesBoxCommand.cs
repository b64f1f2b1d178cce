using System;
using System.Management.Automation;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Aws.CloudWatch;
using CcieDr.Engine.Detection;
using CcieDr.Engine.Remote;

namespace CcieDr.Commands
{
    /// <summary>
    /// Checks the Services box (EC2 state, status checks, scheduled events, CPU, memory, disks, the app's ports,
    /// Replicated's app state) and gives a verdict (Healthy, Degraded, Down) with the reasons and what to do.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "CcieServicesBox")]
    [OutputType(typeof(ServicesBoxHealth), typeof(bool))]
    public sealed class TestCcieServicesBoxCommand : CcieAppProbeCmdlet
    {
        /// <summary>
        /// The window the CPU, memory and disk checks look at: CloudWatch's points in it (CPU and memory averaged), or, when
        /// CloudWatch has no recent data, the box's 1, 5 or 15 minute load average. Default: 15 minutes.
        /// </summary>
        [Parameter]
        public TimeSpan Since { get; set; } = TimeSpan.FromMinutes(15);

        /// <summary>CPU use (percent of the box's CPUs) at or above which the check fails; 10 points below it warns.</summary>
        [Parameter]
        [ValidateRange(1, 1000)]
        public double CpuThreshold { get; set; } = 90;

        /// <summary>Memory in use (percent) at or above which the check fails.</summary>
        [Parameter]
        [ValidateRange(1, 100)]
        public double MemoryThreshold { get; set; } = 90;

        /// <summary>Disk use (percent) of /data and / at or above which the check fails.</summary>
        [Parameter]
        [ValidateRange(1, 100)]
        public double DiskThreshold { get; set; } = 90;

        /// <summary>The namespace the CloudWatch agent on the box publishes mem_used_percent and disk_used_percent into. Default: CWAgent.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string AgentNamespace { get; set; } = CloudWatchCapacityReader.DefaultAgentNamespace;

        /// <summary>Each check's own time limit (an EC2 call, reaching the box, a command on it).</summary>
        [Parameter]
        [ValidateRange(1, 120)]
        public int CheckTimeoutSec { get; set; } = 10;

        /// <summary>Return only $true (Healthy) or $false, for if (-not (Test-CcieServicesBox -Quiet)) { ... }.</summary>
        [Parameter]
        public SwitchParameter Quiet { get; set; }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            AppProbeOptions probe = ProbeOptions();
            if (Transport == RemoteTransport.Local && probe.ProbeAddress is null && From == ProbeFrom.Here)
            {
                probe.ProbeAddress = "127.0.0.1";
            }

            string? noShell = null;
            if (Transport == RemoteTransport.Ssh && EndpointUrl is { IsLoopback: true } && !(SshHost is not null && IPAddress.TryParse(SshHost, out IPAddress? ip) && IPAddress.IsLoopback(ip)))
            {
                noShell = $"not connecting over SSH to the simulated box's address (the endpoint {EndpointUrl.GetLeftPart(UriPartial.Authority)} is a simulator): give -SshHost with a loopback sshd, or -Transport Local";
            }

            var request = new ServicesBoxHealthRequest
            {
                InstanceId = InstanceId,
                Ec2 = () => Aws.CreateEc2(),
                Region = Aws.Region,
                CloudWatch = () => CloudWatchClient.Create(Aws),
                AgentNamespace = AgentNamespace,
                OpenShell = noShell is null ? ct => OpenShellAsync(ct) : null,
                NoShellReason = noShell,
                Sudo = !NoSudo.IsPresent,
                Since = Since,
                CpuThreshold = CpuThreshold,
                MemoryThreshold = MemoryThreshold,
                DiskThreshold = DiskThreshold,
                Probe = probe,
                BoxAddress = SshHost,
                CheckTimeout = TimeSpan.FromSeconds(CheckTimeoutSec),
            };
            ServicesBoxHealth health = await new ServicesBoxHealthCheck(Reporter).RunAsync(request, cancellationToken).ConfigureAwait(false);
            WriteVerbose($"{health.InstanceId}: {health.Verdict} after {health.Duration.TotalSeconds:0.0} s.");
            if (Quiet.IsPresent)
            {
                WriteObject(health.Verdict == "Healthy");
                return;
            }

            WriteObject(health);
        }
    }
}
