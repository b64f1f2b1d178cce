using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Remote;

namespace CcieDr.Commands
{
    /// <summary>Asks Replicated on the Services box to start the CircleCI app; with -Wait, waits until it is started.</summary>
    [Cmdlet(VerbsLifecycle.Start, "CcieApp", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(ReplicatedApp))]
    public sealed class StartCcieAppCommand : CcieRemoteCmdlet
    {
        /// <summary>Wait until Replicated reports the app started and no longer transitioning.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>How long -Wait waits.</summary>
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

            using IRemoteShell shell = await OpenShellAsync(cancellationToken).ConfigureAwait(false);
            var client = new ReplicatedClient(shell, !NoSudo.IsPresent, TimeSpan.FromSeconds(TimeoutSec));
            await client.SetRunningAsync(true, cancellationToken).ConfigureAwait(false);
            ReplicatedApp app = Wait.IsPresent
                ? await client.WaitForStateAsync(true, TimeSpan.FromSeconds(WaitTimeoutSec), Reporter, cancellationToken).ConfigureAwait(false)
                : await client.GetAppAsync(cancellationToken).ConfigureAwait(false);
            app.InstanceId = InstanceId;
            WriteObject(app);
        }
    }
}
