using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Failover;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Tests.Restore;

namespace CcieDr.Engine.Tests.Failover;

/// <summary>Shared helpers of the failover tests, on top of <see cref="RestoreSim"/> (real-time clock, short transitions).</summary>
internal static class FailoverKit
{
    public static readonly WaitOptions FastPolling = new() { InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(100) };

    public static async Task<ServicesBox> BoxAsync(RestoreSim sim, string? id = null)
        => await new ServicesBoxLocator(sim.Ec2, RestoreSim.Region).FindOneAsync(id is null ? new ServicesBoxQuery() : new ServicesBoxQuery { InstanceIds = [id] }, CancellationToken.None);

    public static ServicesBoxImageService Images(RestoreSim sim, IOperationReporter? reporter = null)
        => new(sim.Ec2, RestoreSim.Region, reporter) { Polling = FastPolling };

    public static ReplicaService Replicas(RestoreSim sim, IOperationReporter? reporter = null)
        => new(sim.Ec2, RestoreSim.Region, reporter) { Polling = FastPolling };

    /// <summary>Waits until the seeded box runs with status ok (the seed starts it running; status needs a moment).</summary>
    public static Task SettleAsync(RestoreSim sim, string id)
        => RestoreSim.UntilAsync(async () =>
        {
            var s = await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [id], IncludeAllInstances = true });
            return s.InstanceStatuses.FirstOrDefault()?.Status?.Status?.Value == "ok" ? "ok" : null;
        });

    public static async Task<ServicesBoxImage> ImageAsync(RestoreSim sim, bool noReboot = false)
    {
        ServicesBox box = await BoxAsync(sim);
        return await Images(sim).CreateAsync(new ServicesBoxImageRequest { Box = box, NoReboot = noReboot }, CancellationToken.None);
    }

    public static async Task<Replica> ReplicaAsync(RestoreSim sim, string? subnetId = null, bool running = false, ReplicaDataSource data = ReplicaDataSource.Replication, string? check = null)
    {
        ServicesBox box = await BoxAsync(sim, sim.Seed.ServicesInstanceId);
        ReplicaService service = Replicas(sim);
        ReplicaLaunchPlan plan = await service.PlanAsync(new NewReplicaRequest { Primary = box, SubnetId = subnetId, Running = running, DataFrom = data, ReplicationCheckCommand = check }, CancellationToken.None);
        return await service.LaunchAsync(plan, CancellationToken.None);
    }

    public static async Task<Instance> InstanceAsync(RestoreSim sim, string id) => (await sim.InstanceAsync(id))!;

    public static string? Tag(Instance i, string key) => (i.Tags ?? []).FirstOrDefault(t => t.Key == key)?.Value;
}
