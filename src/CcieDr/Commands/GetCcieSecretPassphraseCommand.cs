using System;
using System.Management.Automation;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Remote;

namespace CcieDr.Commands
{
    /// <summary>Reads CIRCLE_SECRET_PASSPHRASE from the Services box as a SecureString (never written to any stream).</summary>
    [Cmdlet(VerbsCommon.Get, "CcieSecretPassphrase")]
    [OutputType(typeof(SecureString))]
    public sealed class GetCcieSecretPassphraseCommand : CcieRemoteCmdlet
    {
        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IRemoteShell shell = await OpenShellAsync(cancellationToken).ConfigureAwait(false);
            var client = new ReplicatedClient(shell, !NoSudo.IsPresent, TimeSpan.FromSeconds(TimeoutSec));
            WriteObject(await client.GetSecretPassphraseAsync(cancellationToken).ConfigureAwait(false));
        }
    }
}
