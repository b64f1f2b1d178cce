using System;
using System.Management.Automation;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Aws.AutoScaling;
using CcieDr.Engine.Builders;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Remote;

namespace CcieDr.Commands
{
    /// <summary>
    /// Points the builder group at the Services box: a new launch template version (or launch configuration) whose user
    /// data differs from the old only in SERVICES_PRIVATE_IP and CIRCLE_SECRET_PASSPHRASE, and the group made to use it;
    /// or, with -Version / -LaunchConfigurationName, a previous one put back. The passphrase never reaches a stream.
    /// </summary>
    [Cmdlet(VerbsCommon.Set, "CcieBuilderConfiguration", DefaultParameterSetName = SetParameterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(BuilderConfiguration))]
    public sealed class SetCcieBuilderConfigurationCommand : CcieRemoteCmdlet
    {
        private const string SetParameterSet = "Set";
        private const string VersionParameterSet = "Version";
        private const string LaunchConfigurationParameterSet = "LaunchConfiguration";

        /// <summary>The IP (or a load balancer's host name) builders use to find the Services box. Default: the box's current private IP.</summary>
        [Parameter(Position = 0, ParameterSetName = SetParameterSet)]
        [ValidateNotNullOrEmpty]
        public string? ServicesPrivateIp { get; set; }

        /// <summary>CIRCLE_SECRET_PASSPHRASE. Default: read from the box (replicated admin get-secret-token), as Get-CcieSecretPassphrase does.</summary>
        [Parameter(ParameterSetName = SetParameterSet)]
        public SecureString? SecretPassphrase { get; set; }

        /// <summary>Leave CIRCLE_SECRET_PASSPHRASE as the configuration has it (no remote access to the box).</summary>
        [Parameter(ParameterSetName = SetParameterSet)]
        public SwitchParameter KeepSecretPassphrase { get; set; }

        /// <summary>The builder group. Default: the one group whose configuration sets SERVICES_PRIVATE_IP.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string? AutoScalingGroupName { get; set; }

        /// <summary>Rollback: make the group use this version of its launch template.</summary>
        [Parameter(Mandatory = true, ParameterSetName = VersionParameterSet)]
        [ValidatePattern(@"^([0-9]{1,9}|\$Latest|\$Default)$")]
        public string Version { get; set; } = string.Empty;

        /// <summary>Rollback: make the group use this launch configuration.</summary>
        [Parameter(Mandatory = true, ParameterSetName = LaunchConfigurationParameterSet)]
        [ValidateNotNullOrEmpty]
        public string LaunchConfigurationName { get; set; } = string.Empty;

        /// <summary>Skip the confirmation prompt (-WhatIf is still honoured).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override object? TerminatingTarget() => AutoScalingGroupName ?? BoxName;

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            using var groups = new AutoScalingBuilderGroups(AutoScalingClient.Create(Aws), ownsClient: true);
            bool deferred = false;
            var configurator = new BuilderConfigurator(ec2, groups, Aws.Region, Reporter);
            var request = new BuilderConfigurationRequest
            {
                AutoScalingGroupName = AutoScalingGroupName,
                Version = ParameterSetName == VersionParameterSet ? Version : null,
                LaunchConfigurationName = ParameterSetName == LaunchConfigurationParameterSet ? LaunchConfigurationName : null,
            };
            if (ParameterSetName == SetParameterSet)
            {
                if (ServicesPrivateIp is null)
                {
                    var query = new ServicesBoxQuery { InstanceIds = InstanceId is null ? Array.Empty<string>() : new[] { InstanceId } };
                    request.ServicesBox = await new ServicesBoxLocator(ec2, Aws.Region).FindOneAsync(query, cancellationToken).ConfigureAwait(false);
                    InstanceId ??= request.ServicesBox.InstanceId;
                }
                else
                {
                    UserDataEditor.ValidateIp(ServicesPrivateIp);
                    request.ServicesPrivateIp = ServicesPrivateIp;
                }

                // -WhatIf runs nothing on the box (SSM SendCommand is a change on AWS's side): the passphrase the box has is
                // stood in for by a placeholder, which the diff masks like any passphrase.
                deferred = SecretPassphrase is null && !KeepSecretPassphrase.IsPresent && await WhatIfRequestedAsync().ConfigureAwait(false);
                request.SecretPassphrase = SecretPassphrase ?? (KeepSecretPassphrase.IsPresent ? null : deferred ? Placeholder() : await ReadPassphraseAsync(cancellationToken).ConfigureAwait(false));
            }

            BuilderConfigurationPlan plan = await configurator.PlanAsync(request, cancellationToken).ConfigureAwait(false);
            if (deferred)
            {
                plan.Steps.Notes.Add("CIRCLE_SECRET_PASSPHRASE: read from the Services box (replicated admin get-secret-token, as Get-CcieSecretPassphrase does) when this runs; -WhatIf runs no command on the box, so the diff shows it masked whether or not it changes.");
            }
            foreach (string note in plan.Steps.Notes)
            {
                WriteVerbose(note);
            }

            if (!plan.HasWork)
            {
                if (!await WhatIfRequestedAsync().ConfigureAwait(false))
                {
                    WriteObject(await configurator.ApplyAsync(plan, cancellationToken).ConfigureAwait(false));
                }

                return;
            }

            string target = $"Auto Scaling group {plan.GroupName}";
            if (!await ShouldProcessForceAsync(Force.IsPresent, plan.Render(), $"Change the builder configuration of {target}? (shown above; the passphrase as ******)", "Set-CcieBuilderConfiguration").ConfigureAwait(false))
            {
                return;
            }

            BuilderConfiguration result = await configurator.ApplyAsync(plan, cancellationToken).ConfigureAwait(false);
            foreach (string warning in result.Warnings)
            {
                WriteWarning(warning);
            }

            WriteObject(result);
        }

        private static SecureString Placeholder()
        {
            var s = new SecureString();
            foreach (char c in "ccie-whatif-passphrase-from-the-box")
            {
                s.AppendChar(c);
            }

            s.MakeReadOnly();
            return s;
        }

        private async Task<SecureString> ReadPassphraseAsync(CancellationToken cancellationToken)
        {
            using IRemoteShell shell = await OpenShellAsync(cancellationToken).ConfigureAwait(false);
            return await new ReplicatedClient(shell, !NoSudo.IsPresent, TimeSpan.FromSeconds(TimeoutSec)).GetSecretPassphraseAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
