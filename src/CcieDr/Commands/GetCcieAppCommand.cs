using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Remote;

namespace CcieDr.Commands
{
    /// <summary>Reads the CircleCI app's state from Replicated on the Services box.</summary>
    [Cmdlet(VerbsCommon.Get, "CcieApp")]
    [OutputType(typeof(ReplicatedApp))]
    public sealed class GetCcieAppCommand : CcieRemoteCmdlet
    {
        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IRemoteShell shell = await OpenShellAsync(cancellationToken).ConfigureAwait(false);
            var client = new ReplicatedClient(shell, !NoSudo.IsPresent, TimeSpan.FromSeconds(TimeoutSec));
            ReplicatedApp app = await client.GetAppAsync(cancellationToken).ConfigureAwait(false);
            app.InstanceId = InstanceId;
            WriteObject(app);
        }
    }
}
