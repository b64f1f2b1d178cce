using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Remote;

namespace CcieDr.Commands
{
    /// <summary>Runs a shell command on the Services box and returns its exit code and output as an object.</summary>
    [Cmdlet(VerbsLifecycle.Invoke, "CcieServicesBoxCommand", DefaultParameterSetName = CommandSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(RemoteCommandResult))]
    public sealed class InvokeCcieServicesBoxCommandCommand : CcieRemoteCmdlet
    {
        private const string CommandSet = "Command";
        private const string ScriptBlockSet = "ScriptBlock";

        /// <summary>POSIX shell text run by /bin/sh on the box.</summary>
        [Parameter(ParameterSetName = CommandSet, Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Command { get; set; } = string.Empty;

        /// <summary>A script block whose text is run by /bin/sh on the box (shell syntax, not PowerShell).</summary>
        [Parameter(ParameterSetName = ScriptBlockSet, Mandatory = true, Position = 0)]
        [ValidateNotNull]
        public ScriptBlock? ScriptBlock { get; set; }

        /// <summary>Run as the SSH user instead of root (no sudo -n).</summary>
        [Parameter]
        public SwitchParameter AsUser { get; set; }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            string script = ParameterSetName == ScriptBlockSet ? ScriptBlock!.ToString().Trim() : Command;
            var command = new RemoteCommand(script) { Sudo = !AsUser.IsPresent && !NoSudo.IsPresent, Timeout = TimeSpan.FromSeconds(TimeoutSec) };
            string described = RemoteScript.Describe(command);
            if (!await ShouldProcessAsync(BoxName, "Run: " + described).ConfigureAwait(false))
            {
                return;
            }

            using IRemoteShell shell = await OpenShellAsync(cancellationToken).ConfigureAwait(false);
            RemoteResult r = await shell.RunAsync(command, cancellationToken).ConfigureAwait(false);
            WriteObject(new RemoteCommandResult
            {
                Host = r.Host,
                InstanceId = InstanceId,
                Transport = r.Transport.ToString(),
                Command = described,
                ExitCode = r.ExitCode,
                StandardOutput = r.Stdout,
                StandardError = r.Stderr,
                Truncated = r.Truncated,
                Duration = r.Duration,
            });
        }
    }
}
