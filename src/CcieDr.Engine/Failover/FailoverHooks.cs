using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Failover
{
    /// <summary>Which side of the failover a box is.</summary>
    public enum FailoverBoxRole
    {
        /// <summary>Not said (hooks treat it like the replica).</summary>
        Unspecified,

        /// <summary>The old primary (the decision's health check, a planned switchover's app stop).</summary>
        Primary,

        /// <summary>The replica being promoted (the new box).</summary>
        Replica,
    }

    /// <summary>One box the failover acts on: its instance id and the IP a remote shell reaches it on.</summary>
    public sealed class FailoverBox
    {
        public FailoverBox(string instanceId, string? privateIpAddress, FailoverBoxRole role = FailoverBoxRole.Unspecified)
        {
            InstanceId = instanceId;
            PrivateIpAddress = privateIpAddress;
            Role = role;
        }

        public string InstanceId { get; }

        /// <summary>The box's own (primary) private IP.</summary>
        public string? PrivateIpAddress { get; }

        public FailoverBoxRole Role { get; }

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
    /// Hooks that record their own sub-steps (the app recovery's channel wait, fix-ups, start, ports) into the
    /// failover's timeline: the service hands its timeline over before the first step.
    /// </summary>
    public interface IFailoverTimelineSink
    {
        void Attach(Timeline timeline);
    }

    /// <summary>The exact commands the operator runs when a step is left to them.</summary>
    public static class FailoverCommands
    {
        public static string Fixups(string instanceId, string oldIp, string newIp)
            => $"Invoke-CcieServicesBoxCommand -InstanceId {instanceId} -Command \"sudo sed -i 's/{oldIp.Replace(".", "\\\\.")}/{newIp}/g' /etc/default/replicated /etc/default/replicated-operator && sudo service replicated restart && sudo service replicated-operator restart\"";

        public static string Builders(string newIp)
            => $"Set-CcieBuilderConfiguration -ServicesPrivateIp {newIp} -Force; Restart-CcieBuilder -Stale -Force";

        /// <summary>After the builders' configuration names the new IP: the running builders still use the old one until replaced.</summary>
        public static string RotateBuilders(string? groupName, string oldIp)
            => $"Restart-CcieBuilder{(groupName is null ? string.Empty : " -AutoScalingGroupName " + groupName)} -Stale -Force   # the running builders still point at {oldIp}";

        public static IReadOnlyList<string> LoadBalancer(string newIp)
            => new[] { $"With a TCP load balancer on 80/443/4434 in front: aws elbv2 register-targets --target-group-arn <arn> --targets Id={newIp}, then deregister-targets of the old box's IP." };
    }
}
