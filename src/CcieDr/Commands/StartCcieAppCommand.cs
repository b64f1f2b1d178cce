using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Detection;
using CcieDr.Engine.Remote;

namespace CcieDr.Commands
{
    /// <summary>
    /// Asks Replicated on the Services box to start the CircleCI app; with -Wait, waits until it is started and its ports
    /// (80, 443, 4434, 8800) accept connections from here (-From Here) or from the box (-From Box).
    /// </summary>
    [Cmdlet(VerbsLifecycle.Start, "CcieApp", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(ReplicatedApp))]
    public sealed class StartCcieAppCommand : CcieAppProbeCmdlet
    {
        /// <summary>Wait until Replicated reports the app started and no longer transitioning, then until its ports accept connections.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>How long -Wait waits (for the state and the ports together).</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int WaitTimeoutSec { get; set; } = 900;

        /// <summary>Skip the confirmation prompt (-WhatIf is still honoured).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            if (!await ShouldProcessForceAsync(Force.IsPresent, BoxName, "Start the CircleCI app (replicatedctl app start / replicated app <id> start)").ConfigureAwait(false))
            {
                return;
            }

            AppProbeOptions probe = ProbeOptions();
            using IRemoteShell shell = await OpenShellAsync(cancellationToken).ConfigureAwait(false);
            AppPortProbeSpec? ports = Wait.IsPresent ? probe.Resolve(shell, shell.Host, BoxName) : null;
            var client = new ReplicatedClient(shell, !NoSudo.IsPresent, TimeSpan.FromSeconds(TimeoutSec));
            await client.SetRunningAsync(true, cancellationToken).ConfigureAwait(false);
            ReplicatedApp app;
            if (Wait.IsPresent)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                TimeSpan total = TimeSpan.FromSeconds(WaitTimeoutSec);
                app = await client.WaitForStateAsync(true, total, Reporter, cancellationToken).ConfigureAwait(false);
                TimeSpan left = total - clock.Elapsed;
                var open = await AppPortWaiter.WaitUntilOpenAsync(ports!, left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), BoxName, app.State, Reporter, cancellationToken).ConfigureAwait(false);
                foreach (PortProbeResult p in open)
                {
                    WriteVerbose($"Port {p.Port} open {ports!.Describe()}{(p.ProbedPort != p.Port ? " (probed at " + p.ProbedPort + ")" : string.Empty)}{(p.CertificateAccepted == false ? "; certificate not accepted: " + p.CertificateProblem : string.Empty)}.");
                }
            }
            else
            {
                app = await client.GetAppAsync(cancellationToken).ConfigureAwait(false);
            }

            app.InstanceId = InstanceId;
            WriteObject(app);
        }
    }
}
