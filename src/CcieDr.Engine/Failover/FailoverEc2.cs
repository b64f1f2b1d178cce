using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Failover
{
    /// <summary>EC2 state of one instance as the failover judges it.</summary>
    public sealed class InstanceHealth
    {
        public InstanceHealth(string instanceId, string state, string instanceStatus, string systemStatus)
        {
            InstanceId = instanceId;
            State = state;
            InstanceStatus = instanceStatus;
            SystemStatus = systemStatus;
        }

        public string InstanceId { get; }

        public string State { get; }

        public string InstanceStatus { get; }

        public string SystemStatus { get; }

        /// <summary>Running with both status checks ok.</summary>
        public bool Healthy => State == "running" && InstanceStatus == "ok" && SystemStatus == "ok";

        /// <summary>Stopped or terminated: EC2 itself says it cannot serve.</summary>
        public bool Dead => State is "stopped" or "terminated";

        public override string ToString() => $"{State}, status checks instance={InstanceStatus} system={SystemStatus}";
    }

    /// <summary>The EC2 calls the failover rooms share: describe, status, tags and the waits on them.</summary>
    internal static class FailoverEc2
    {
        public static async Task<Instance?> FindInstanceAsync(IAmazonEC2 ec2, string instanceId, CancellationToken ct)
        {
            IReadOnlyList<Instance> found = await AwsCall.RunAsync(
                "ec2:DescribeInstances",
                instanceId,
                token => ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest { Filters = new List<Filter> { Ec2Extensions.Filter("instance-id", instanceId) } }, token),
                ct).ConfigureAwait(false);
            return found.Count > 0 ? found[0] : null;
        }

        public static async Task<Instance> GetInstanceAsync(IAmazonEC2 ec2, string instanceId, CancellationToken ct)
            => await FindInstanceAsync(ec2, instanceId, ct).ConfigureAwait(false)
                ?? throw new CcieException("InstanceNotFound", CcieErrorCategory.ObjectNotFound, $"Instance {instanceId} was not found. Check -Region and the id (Get-CcieReplica lists replicas).", instanceId);

        public static async Task<InstanceHealth> HealthAsync(IAmazonEC2 ec2, string instanceId, CancellationToken ct)
        {
            Instance i = await GetInstanceAsync(ec2, instanceId, ct).ConfigureAwait(false);
            string state = i.State?.Name?.Value ?? "unknown";
            DescribeInstanceStatusResponse status = await AwsCall.RunAsync(
                "ec2:DescribeInstanceStatus",
                instanceId,
                token => ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = new List<string> { instanceId }, IncludeAllInstances = true }, token),
                ct).ConfigureAwait(false);
            InstanceStatus? s = status.InstanceStatuses?.FirstOrDefault();
            return new InstanceHealth(
                instanceId,
                s?.InstanceState?.Name?.Value ?? state,
                s?.Status?.Status?.Value ?? "not-applicable",
                s?.SystemStatus?.Status?.Value ?? "not-applicable");
        }

        public static Task TagAsync(IAmazonEC2 ec2, string resourceId, IEnumerable<KeyValuePair<string, string>> tags, CancellationToken ct)
            => TagAsync(ec2, new[] { resourceId }, tags, ct);

        public static Task TagAsync(IAmazonEC2 ec2, IReadOnlyCollection<string> resourceIds, IEnumerable<KeyValuePair<string, string>> tags, CancellationToken ct)
        {
            List<Tag> list = tags.Select(t => new Tag(t.Key, t.Value)).ToList();
            return AwsCall.RunAsync(
                "ec2:CreateTags",
                string.Join(",", resourceIds),
                token => ec2.CreateTagsAsync(new CreateTagsRequest { Resources = resourceIds.ToList(), Tags = list }, token),
                ct);
        }

        public static async Task<Instance> WaitStateAsync(IAmazonEC2 ec2, string instanceId, string wanted, WaitOptions options, IOperationReporter reporter, string activity, CancellationToken ct)
        {
            using var progress = new ProgressActivity(reporter, activity, "Waiting for " + wanted);
            return await Waiter.UntilAsync(
                token => GetInstanceAsync(ec2, instanceId, token),
                i => i.State?.Name?.Value == wanted || (wanted != "terminated" && i.State?.Name?.Value == "terminated"),
                options,
                $"instance {instanceId} to be {wanted}",
                instanceId,
                ct,
                i => i.State?.Name?.Value ?? "unknown",
                p => progress.Update($"{instanceId}: {p.Last?.State?.Name?.Value ?? "…"} ({p.Elapsed.TotalSeconds:0}s)")).ConfigureAwait(false);
        }

        public static async Task<InstanceHealth> WaitStatusOkAsync(IAmazonEC2 ec2, string instanceId, WaitOptions options, IOperationReporter reporter, CancellationToken ct)
        {
            using var progress = new ProgressActivity(reporter, "Status checks of " + instanceId, "Waiting for ok");
            return await Waiter.UntilAsync(
                token => HealthAsync(ec2, instanceId, token),
                h => h.Healthy || h.State is "stopped" or "terminated" or "stopping" or "shutting-down",
                options,
                $"instance {instanceId} to pass its status checks",
                instanceId,
                ct,
                h => h.ToString(),
                p => progress.Update($"{instanceId}: {p.Last?.ToString() ?? "…"} ({p.Elapsed.TotalSeconds:0}s)")).ConfigureAwait(false);
        }

        public static string Tag(Instance i, string key) => i.Tags?.FirstOrDefault(t => t.Key == key)?.Value ?? string.Empty;

        public static string? TagOrNull(Instance i, string key) => i.Tags?.FirstOrDefault(t => t.Key == key)?.Value is { Length: > 0 } v ? v : null;

        public static string Stamp(DateTime utc) => utc.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

        public static DateTime? ParseStamp(string? value)
            => value is not null && DateTime.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime t) ? DateTime.SpecifyKind(t, DateTimeKind.Utc) : null;

        /// <summary>The primary network interface and its IPs.</summary>
        public static InstanceNetworkInterface? PrimaryNic(Instance i)
            => (i.NetworkInterfaces ?? new List<InstanceNetworkInterface>()).OrderBy(n => n.Attachment?.DeviceIndex ?? 0).FirstOrDefault();
    }
}
