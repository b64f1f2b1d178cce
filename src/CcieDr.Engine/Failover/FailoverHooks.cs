using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Failover
{
    /// <summary>One box the failover acts on: its instance id and the IP a remote shell reaches it on.</summary>
    public sealed class FailoverBox
    {
        public FailoverBox(string instanceId, string? privateIpAddress)
        {
            InstanceId = instanceId;
            PrivateIpAddress = privateIpAddress;
        }

        public string InstanceId { get; }

        public string? PrivateIpAddress { get; }

        public override string ToString() => InstanceId;
    }

    /// <summary>A health verdict: Healthy or not, and why.</summary>
    public sealed class BoxVerdict
    {
        public BoxVerdict(bool healthy, string verdict, string reason)
        {
            Healthy = healthy;
            Verdict = verdict;
            Reason = reason;
        }

        public bool Healthy { get; }

        /// <summary>Healthy, Degraded, Down or Unknown.</summary>
        public string Verdict { get; }

        public string Reason { get; }

        public override string ToString() => Verdict + ": " + Reason;
    }

    /// <summary>
    /// What the failover needs beyond EC2: health verdicts, commands and the app on a box, the post-IP-change
    /// fix-ups and the builders' reconfiguration. Fix-ups and builders return null when done, else the exact
    /// command the operator runs next (when the engine that does it is not available).
    /// </summary>
    public interface IFailoverHooks
    {
        Task<BoxVerdict> CheckHealthAsync(FailoverBox box, CancellationToken ct);

        Task<RemoteResult> RunAsync(FailoverBox box, string script, TimeSpan timeout, CancellationToken ct);

        Task SetAppRunningAsync(FailoverBox box, bool running, TimeSpan timeout, CancellationToken ct);

        Task<string?> ApplyIpChangeFixupsAsync(FailoverBox box, string oldIp, string newIp, CancellationToken ct);

        Task<string?> ReconfigureBuildersAsync(string oldIp, string newIp, CancellationToken ct);
    }

    /// <summary>
    /// The hooks over a remote shell: commands and the app through <see cref="ReplicatedClient"/>, health from EC2's
    /// state and status checks plus the app's state; fix-ups and builders return the operator's next command.
    /// </summary>
    public class RemoteFailoverHooks : IFailoverHooks
    {
        private readonly Func<FailoverBox, CancellationToken, Task<IRemoteShell>> _open;
        private readonly IAmazonEC2 _ec2;
        private readonly IOperationReporter _reporter;

        public RemoteFailoverHooks(IAmazonEC2 ec2, Func<FailoverBox, CancellationToken, Task<IRemoteShell>> openShell, IOperationReporter? reporter = null)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _open = openShell ?? throw new ArgumentNullException(nameof(openShell));
            _reporter = reporter ?? NullReporter.Instance;
        }

        /// <summary>Use sudo -n on the box (default true).</summary>
        public bool Sudo { get; set; } = true;

        public virtual async Task<BoxVerdict> CheckHealthAsync(FailoverBox box, CancellationToken ct)
        {
            InstanceHealth ec2 = await FailoverEc2.HealthAsync(_ec2, box.InstanceId, ct).ConfigureAwait(false);
            if (!ec2.Healthy)
            {
                return new BoxVerdict(false, ec2.Dead ? "Down" : "Degraded", "EC2: " + ec2);
            }

            try
            {
                using IRemoteShell shell = await _open(box, ct).ConfigureAwait(false);
                ReplicatedApp app = await new ReplicatedClient(shell, Sudo).GetAppAsync(ct).ConfigureAwait(false);
                return app.State == "started"
                    ? new BoxVerdict(true, "Healthy", $"EC2: {ec2}; app {app.State}")
                    : new BoxVerdict(false, "Degraded", $"EC2: {ec2}; app {app.State}");
            }
            catch (CcieException e)
            {
                return new BoxVerdict(false, "Unknown", $"EC2: {ec2}; the app could not be asked: {e.Message}");
            }
        }

        public virtual async Task<RemoteResult> RunAsync(FailoverBox box, string script, TimeSpan timeout, CancellationToken ct)
        {
            using IRemoteShell shell = await _open(box, ct).ConfigureAwait(false);
            return await shell.RunAsync(new RemoteCommand(script) { Sudo = Sudo, Timeout = timeout }, ct).ConfigureAwait(false);
        }

        public virtual async Task SetAppRunningAsync(FailoverBox box, bool running, TimeSpan timeout, CancellationToken ct)
        {
            using IRemoteShell shell = await _open(box, ct).ConfigureAwait(false);
            var client = new ReplicatedClient(shell, Sudo);
            await client.SetRunningAsync(running, ct).ConfigureAwait(false);
            await client.WaitForStateAsync(running, timeout, _reporter, ct).ConfigureAwait(false);
        }

        public virtual Task<string?> ApplyIpChangeFixupsAsync(FailoverBox box, string oldIp, string newIp, CancellationToken ct)
            => Task.FromResult<string?>(FailoverCommands.Fixups(box.InstanceId, oldIp, newIp));

        public virtual Task<string?> ReconfigureBuildersAsync(string oldIp, string newIp, CancellationToken ct)
            => Task.FromResult<string?>(FailoverCommands.Builders(newIp));
    }

    /// <summary>The exact commands the operator runs when a step is left to them.</summary>
    public static class FailoverCommands
    {
        public static string Fixups(string instanceId, string oldIp, string newIp)
            => $"Invoke-CcieServicesBoxCommand -InstanceId {instanceId} -Command \"sudo sed -i 's/{oldIp.Replace(".", "\\\\.")}/{newIp}/g' /etc/default/replicated /etc/default/replicated-operator && sudo service replicated restart && sudo service replicated-operator restart\"";

        public static string Builders(string newIp)
            => $"Set-CcieBuilderConfiguration -ServicesPrivateIp {newIp} -CircleSecretPassphrase (Get-CcieSecretPassphrase -SshHost {newIp}) -Confirm:$false; Restart-CcieBuilder -Confirm:$false";

        public static IReadOnlyList<string> LoadBalancer(string newIp)
            => new[] { $"With a TCP load balancer on 80/443/4434 in front: aws elbv2 register-targets --target-group-arn <arn> --targets Id={newIp}, then deregister-targets of the old box's IP." };
    }
}
