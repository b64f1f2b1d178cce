using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Failover;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Tests.Restore;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Failover;

/// <summary>Invoke-CcieFailover's engine on the simulator: each mode, each refusal, AZ outages, resume after a kill, and no split brain ever.</summary>
public sealed class FailoverTests
{
    private const string Floating = "10.0.1.200";

    private sealed class Bed : IAsyncDisposable
    {
        public required RestoreSim Sim { get; init; }

        public required FakeBoxes Boxes { get; init; }

        public required string PrimaryId { get; init; }

        public required string PrimaryIp { get; init; }

        public required Replica Replica { get; init; }

        public RecordingReporter Reporter { get; } = new();

        public FailoverService Service(IAmazonEC2? ec2 = null, Func<string, Task>? hook = null)
            => new(Boxes.Checked(ec2 ?? Sim.Ec2), RestoreSim.Region, Boxes, Reporter) { Polling = FailoverKit.FastPolling, StepHook = hook };

        public async Task<FailoverResult> RunAsync(FailoverRequest? request = null, IAmazonEC2? ec2 = null, Func<string, Task>? hook = null)
        {
            FailoverService service = Service(ec2, hook);
            FailoverPlan plan = await service.PlanAsync(request ?? new FailoverRequest(), CancellationToken.None);
            return await service.ExecuteAsync(plan, CancellationToken.None);
        }

        public int Successes(string action) => Sim.Control.RequestLog(action).Count(e => e.Status == 200);

        public ValueTask DisposeAsync() => Sim.DisposeAsync();
    }

    /// <summary>Mode 1 (floatingIp) or mode 3 (a replica in AZ b); the primary runs the app and is healthy.</summary>
    private static async Task<Bed> StartAsync(bool floatingIp = true, string? replicaSubnet = null, bool sameSubnet = true, ReplicaDataSource data = ReplicaDataSource.Replication)
    {
        RestoreSim sim = await RestoreSim.StartAsync();
        ServicesBox box = await FailoverKit.BoxAsync(sim);
        if (floatingIp)
        {
            await new FloatingIpService(sim.Ec2).AddAsync(box, Floating, CancellationToken.None);
        }

        await FailoverKit.ImageAsync(sim, noReboot: true);
        if (data == ReplicaDataSource.RecoveryPoint)
        {
            await sim.TakeRecoveryPointAsync();
        }

        Replica replica = await FailoverKit.ReplicaAsync(sim, subnetId: replicaSubnet ?? (sameSubnet ? sim.Seed.SubnetAId : sim.Seed.SubnetBId), data: data);
        await FailoverKit.SettleAsync(sim, box.InstanceId);
        var boxes = new FakeBoxes(sim.Client(), box.InstanceId, box.PrivateIpAddress!, floatingIp ? Floating : box.PrivateIpAddress!);
        sim.Control.ClearRequestLog();
        return new Bed { Sim = sim, Boxes = boxes, PrimaryId = box.InstanceId, PrimaryIp = box.PrivateIpAddress!, Replica = replica };
    }

    private static async Task<string?> HolderAsync(Bed bed, string ip)
    {
        var r = await bed.Sim.Ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest { Filters = [new Filter("addresses.private-ip-address", [ip])] });
        return Assert.Single(r.NetworkInterfaces ?? []).Attachment?.InstanceId;
    }

    private static int IndexOf(FailoverResult r, string action) => r.Timeline.ToList().FindIndex(e => e.Action == action);

    [Fact]
    public async Task Mode1_killed_primary_is_fenced_before_the_floating_ip_moves_and_the_replica_serves()
    {
        await using Bed bed = await StartAsync();
        bed.Sim.Control.KillInstance(RestoreSim.Region, bed.PrimaryId, 30);

        FailoverResult result = await bed.RunAsync();

        Assert.Equal("Succeeded", result.Status);
        Assert.Equal(bed.Replica.InstanceId, result.InstanceId);
        Assert.Equal(nameof(ReplicaMode.FloatingIp), result.Mode);
        Assert.Equal(Floating, result.PrivateIpAddress);
        Assert.Equal(bed.Replica.InstanceId, await HolderAsync(bed, Floating));
        Assert.Equal("stopped", (await FailoverKit.InstanceAsync(bed.Sim, bed.PrimaryId)).State.Name.Value);
        Assert.StartsWith("Healthy", result.Health, StringComparison.Ordinal);
        Assert.True(bed.Boxes.App[bed.Replica.InstanceId]);
        int stopped = IndexOf(result, "wait:primary-stopped");
        Assert.True(stopped >= 0 && stopped < IndexOf(result, "ec2:AssignPrivateIpAddresses"), "fence before move");
        Assert.True(IndexOf(result, "ec2:AssignPrivateIpAddresses") < IndexOf(result, "app:start"), "move before start");
        Assert.Single(bed.Sim.Control.RequestLog("StopInstances"), e => e.Parameters.TryGetValue("Force", out string? f) && f == "true");
        Assert.True(result.Rto > TimeSpan.Zero);

        // The replica carries the box's identity; the old primary is tagged fenced.
        ServicesBox now = await FailoverKit.BoxAsync(bed.Sim);
        Assert.Equal(bed.Replica.InstanceId, now.InstanceId);
        Instance old = await FailoverKit.InstanceAsync(bed.Sim, bed.PrimaryId);
        Assert.StartsWith("force-stopped", FailoverKit.Tag(old, FailoverTags.Fenced), StringComparison.Ordinal);
        Assert.Equal("circleci_services-fenced", FailoverKit.Tag(old, "Name"));
        Assert.Empty(bed.Boxes.Violations);
        Assert.True(bed.Boxes.Checks > 10);

        // A rerun finds the finished failover and changes nothing.
        int calls = bed.Sim.Control.RequestLog().Count(e => !e.Action.StartsWith("Describe", StringComparison.Ordinal));
        FailoverResult again = await bed.RunAsync();
        Assert.Equal(bed.Replica.InstanceId, again.InstanceId);
        Assert.Equal(calls, bed.Sim.Control.RequestLog().Count(e => !e.Action.StartsWith("Describe", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Healthy_primary_is_refused_and_nothing_changes()
    {
        await using Bed bed = await StartAsync();
        FailoverService service = bed.Service();
        FailoverPlan plan = await service.PlanAsync(new FailoverRequest(), CancellationToken.None);
        Assert.Equal("PrimaryHealthy", plan.Refusal?.ErrorId);
        Assert.Contains("REFUSED", plan.Operation.Render(), StringComparison.Ordinal);
        CcieException e = await Assert.ThrowsAsync<CcieException>(() => service.ExecuteAsync(plan, CancellationToken.None));
        Assert.Contains("-Planned", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(bed.Sim.Control.RequestLog(), x => !x.Action.StartsWith("Describe", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Planned_switchover_stops_the_app_on_the_primary_first()
    {
        await using Bed bed = await StartAsync();
        FailoverResult result = await bed.RunAsync(new FailoverRequest { Planned = true, FinalSyncCommand = "sync-data --final" });
        Assert.True(result.Planned);
        Assert.Equal(bed.Replica.InstanceId, await HolderAsync(bed, Floating));
        int stop = bed.Boxes.Events.IndexOf($"app stop {bed.PrimaryId}");
        Assert.True(stop >= 0);
        Assert.True(stop < bed.Boxes.Events.IndexOf($"run {bed.PrimaryId} sync-data --final"));
        Assert.True(stop < bed.Boxes.Events.IndexOf($"app start {bed.Replica.InstanceId}"));
        Assert.Empty(bed.Boxes.Violations);
    }

    [Fact]
    public async Task Zombie_primary_that_ec2_cannot_stop_is_refused_without_fencing()
    {
        await using Bed bed = await StartAsync();
        bed.Sim.Control.SetInstanceZombie(RestoreSim.Region, bed.PrimaryId);
        bed.Sim.Control.InjectFault(new FaultSpec { Kind = FaultKinds.InternalError, Action = "StopInstances", Count = 100 });
        CcieException e = await Assert.ThrowsAsync<CcieException>(() => bed.RunAsync(ec2: bed.Sim.Client(maxErrorRetry: 1)));
        Assert.Equal("PrimaryNotFenced", e.ErrorId);
        Assert.Contains("-AssumePrimaryDead", e.Message, StringComparison.Ordinal);
        Assert.Equal("running", (await FailoverKit.InstanceAsync(bed.Sim, bed.PrimaryId)).State.Name.Value);
        Assert.Equal("stopped", (await FailoverKit.InstanceAsync(bed.Sim, bed.Replica.InstanceId)).State.Name.Value);
        Assert.Equal(bed.PrimaryId, await HolderAsync(bed, Floating));
        Assert.Empty(bed.Sim.Control.RequestLog("AssignPrivateIpAddresses"));
        Assert.Empty(bed.Sim.Control.RequestLog("StartInstances"));
        Assert.Empty(bed.Boxes.Violations);
    }

    [Fact]
    public async Task Zombie_primary_is_force_stopped_and_the_failover_goes_on()
    {
        await using Bed bed = await StartAsync();
        bed.Sim.Control.SetInstanceZombie(RestoreSim.Region, bed.PrimaryId);
        FailoverResult result = await bed.RunAsync();
        Assert.Equal("force-stopped-impaired", result.Fencing);
        Assert.Equal(bed.Replica.InstanceId, await HolderAsync(bed, Floating));
        Assert.Empty(bed.Boxes.Violations);
    }

    [Fact]
    public async Task A_replica_in_another_az_never_gets_the_floating_ip_moved_across_it_is_mode_3()
    {
        await using Bed bed = await StartAsync(sameSubnet: false);
        bed.Sim.Control.KillInstance(RestoreSim.Region, bed.PrimaryId, 30);
        FailoverResult result = await bed.RunAsync();
        Assert.Equal(nameof(ReplicaMode.NewIp), result.Mode);
        Assert.Contains("cannot move", result.ModeDescription, StringComparison.Ordinal);
        Assert.Empty(bed.Sim.Control.RequestLog("AssignPrivateIpAddresses"));
        Assert.Equal(bed.PrimaryId, await HolderAsync(bed, Floating));
        Assert.Equal(bed.Replica.PrivateIpAddress, bed.Boxes.BuildersIp);
        Assert.Empty(bed.Boxes.Violations);
    }

    [Fact]
    public async Task Az_outage_refuses_without_AssumePrimaryDead_and_with_it_the_other_az_serves_on_its_own_ip()
    {
        await using Bed bed = await StartAsync(floatingIp: false, sameSubnet: false);
        bed.Sim.Control.FailAvailabilityZone(RestoreSim.Region, bed.Sim.Seed.AvailabilityZoneA, AzOutageMode.ApiErrors);
        IAmazonEC2 ec2 = bed.Sim.Client(maxErrorRetry: 1);

        CcieException refused = await Assert.ThrowsAsync<CcieException>(() => bed.RunAsync(ec2: ec2));
        Assert.Equal("PrimaryNotFenced", refused.ErrorId);
        Assert.Contains("split brain", refused.Message, StringComparison.Ordinal);
        Assert.Equal("stopped", (await FailoverKit.InstanceAsync(bed.Sim, bed.Replica.InstanceId)).State.Name.Value);
        Assert.Empty(bed.Sim.Control.RequestLog("StartInstances"));

        FailoverResult result = await bed.RunAsync(new FailoverRequest { AssumePrimaryDead = true }, ec2);
        Assert.True(result.AssumedPrimaryDead);
        Assert.Equal("assumed-dead", result.Fencing);
        Assert.Contains(result.Timeline, t => t.Action == "fence:assumed-dead" && t.Outcome == "AssumedDead");
        Assert.Equal(nameof(ReplicaMode.NewIp), result.Mode);
        string newIp = bed.Replica.PrivateIpAddress!;
        Assert.Equal(newIp, result.PrivateIpAddress);
        Assert.Contains(newIp, bed.Boxes.Files[bed.Replica.InstanceId]["/etc/default/replicated"], StringComparison.Ordinal);
        Assert.Contains(newIp, bed.Boxes.Files[bed.Replica.InstanceId]["/etc/default/replicated-operator"], StringComparison.Ordinal);
        Assert.DoesNotContain(bed.PrimaryIp, bed.Boxes.Files[bed.Replica.InstanceId]["/etc/default/replicated"], StringComparison.Ordinal);
        Assert.Equal(newIp, bed.Boxes.BuildersIp);
        Assert.Equal("Incomplete", result.Status);
        Assert.Contains(result.StepsLeft, s => s.StartsWith("Restart-CcieBuilder -Stale", StringComparison.Ordinal) && s.Contains(bed.PrimaryIp, StringComparison.Ordinal));
        Assert.StartsWith("assumed-dead", FailoverKit.Tag(await FailoverKit.InstanceAsync(bed.Sim, bed.PrimaryId), FailoverTags.Fenced), StringComparison.Ordinal);
        Assert.Contains(bed.Reporter.Warnings, w => w.Contains("-AssumePrimaryDead", StringComparison.Ordinal));
        Assert.Empty(bed.Boxes.Violations);
    }

    [Fact]
    public async Task Az_outage_fence_tries_StopInstances_only_FenceAttempts_times_through_a_client_without_sdk_retries()
    {
        await using Bed bed = await StartAsync(floatingIp: false, sameSubnet: false);
        bed.Sim.Control.FailAvailabilityZone(RestoreSim.Region, bed.Sim.Seed.AvailabilityZoneA, AzOutageMode.ApiErrors);
        FailoverService service = bed.Service();
        service.FenceEc2 = bed.Sim.Client(maxErrorRetry: 0);
        service.FenceAttempts = 2;
        FailoverPlan plan = await service.PlanAsync(new FailoverRequest(), CancellationToken.None);

        CcieException refused = await Assert.ThrowsAsync<CcieException>(() => service.ExecuteAsync(plan, CancellationToken.None));

        Assert.Equal("PrimaryNotFenced", refused.ErrorId);
        // The SDK of the service's own client would retry each 500 eight times; the fence client does not: our policy's 2 tries.
        Assert.Equal(2, bed.Sim.Control.RequestLog("StopInstances").Count);
        Assert.All(bed.Sim.Control.RequestLog("StopInstances"), e => Assert.Equal(500, e.Status));
        Assert.Empty(bed.Sim.Control.RequestLog("StartInstances"));
    }

    [Fact]
    public async Task Mode3_without_the_builder_engines_returns_the_exact_next_commands()
    {
        await using Bed bed = await StartAsync(floatingIp: false, sameSubnet: false);
        bed.Boxes.CanReconfigure = false;
        bed.Sim.Control.KillInstance(RestoreSim.Region, bed.PrimaryId, 30);
        FailoverResult result = await bed.RunAsync();
        Assert.Equal("Incomplete", result.Status);
        Assert.Contains(result.StepsLeft, s => s.StartsWith("Set-CcieBuilderConfiguration -ServicesPrivateIp " + bed.Replica.PrivateIpAddress, StringComparison.Ordinal));
        Assert.Contains(result.StepsLeft, s => s.Contains("/etc/default/replicated-operator", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Mode2_moves_the_secondary_eni_within_the_az()
    {
        await using Bed bed = await StartAsync(floatingIp: false);
        var eni = (await bed.Sim.Ec2.CreateNetworkInterfaceAsync(new CreateNetworkInterfaceRequest { SubnetId = bed.Sim.Seed.SubnetAId, Groups = [bed.Sim.Seed.ServicesSecurityGroupId] })).NetworkInterface;
        await bed.Sim.Ec2.AttachNetworkInterfaceAsync(new AttachNetworkInterfaceRequest { NetworkInterfaceId = eni.NetworkInterfaceId, InstanceId = bed.PrimaryId, DeviceIndex = 1 });
        var boxes = new FakeBoxes(bed.Sim.Client(), bed.PrimaryId, bed.PrimaryIp, eni.PrivateIpAddress);
        await using var bed2 = new Bed { Sim = bed.Sim, Boxes = boxes, PrimaryId = bed.PrimaryId, PrimaryIp = bed.PrimaryIp, Replica = bed.Replica };
        bed.Sim.Control.KillInstance(RestoreSim.Region, bed.PrimaryId, 30);

        FailoverResult result = await bed2.RunAsync();
        Assert.Equal(nameof(ReplicaMode.MovableEni), result.Mode);
        Assert.Equal(eni.PrivateIpAddress, result.PrivateIpAddress);
        Assert.Equal(bed.Replica.InstanceId, await HolderAsync(bed, eni.PrivateIpAddress));
        Assert.Empty(boxes.Violations);
    }

    [Fact]
    public async Task Replication_check_failure_stops_before_the_ip_moves_and_a_rerun_resumes()
    {
        await using Bed bed = await StartAsync();
        bed.Boxes.ExitCodes["drbd-check"] = 1;
        bed.Sim.Control.KillInstance(RestoreSim.Region, bed.PrimaryId, 30);
        CcieException e = await Assert.ThrowsAsync<CcieException>(() => bed.RunAsync(new FailoverRequest { ReplicationCheckCommand = "drbd-check" }));
        Assert.Equal("ReplicationCheckFailed", e.ErrorId);
        Assert.Equal(bed.PrimaryId, await HolderAsync(bed, Floating));

        bed.Boxes.ExitCodes["drbd-check"] = 0;
        FailoverResult result = await bed.RunAsync(new FailoverRequest { ReplicationCheckCommand = "drbd-check" });
        Assert.True(result.Resumed);
        Assert.Equal(1, bed.Successes("StopInstances"));
        Assert.Equal(1, bed.Successes("StartInstances"));
        Assert.Equal(bed.Replica.InstanceId, await HolderAsync(bed, Floating));
    }

    private sealed class Killed : Exception
    {
        public Killed(string step)
            : base("killed after " + step)
        {
        }
    }

    [Theory]
    [InlineData(FailoverSteps.Decided)]
    [InlineData(FailoverSteps.Fenced)]
    [InlineData(FailoverSteps.Promoted)]
    [InlineData(FailoverSteps.Readdressed)]
    [InlineData(FailoverSteps.Started)]
    public async Task A_run_killed_after_a_step_resumes_from_the_next_and_repeats_nothing_destructive(string step)
    {
        await using Bed bed = await StartAsync();
        bed.Sim.Control.KillInstance(RestoreSim.Region, bed.PrimaryId, 30);
        await Assert.ThrowsAsync<Killed>(() => bed.RunAsync(hook: s => s == step ? throw new Killed(s) : Task.CompletedTask));
        Assert.Equal(step, FailoverKit.Tag(await FailoverKit.InstanceAsync(bed.Sim, bed.Replica.InstanceId), FailoverTags.FailoverStep));

        FailoverResult result = await bed.RunAsync();
        Assert.True(result.Resumed);
        Assert.Equal("Succeeded", result.Status);
        Assert.True(bed.Successes("StopInstances") <= 1);
        Assert.Equal(1, bed.Successes("StartInstances"));
        Assert.Equal(1, bed.Successes("AssignPrivateIpAddresses"));
        Assert.Single(bed.Boxes.Events, e => e == $"app start {bed.Replica.InstanceId}");
        Assert.Equal(bed.Replica.InstanceId, await HolderAsync(bed, Floating));
        Assert.Equal(bed.Replica.InstanceId, (await FailoverKit.BoxAsync(bed.Sim)).InstanceId);
        Assert.Empty(bed.Boxes.Violations);
    }

    [Fact]
    public async Task A_started_fenced_primary_is_noticed_on_resume()
    {
        await using Bed bed = await StartAsync();
        bed.Sim.Control.KillInstance(RestoreSim.Region, bed.PrimaryId, 30);
        await Assert.ThrowsAsync<Killed>(() => bed.RunAsync(hook: s => s == FailoverSteps.Fenced ? throw new Killed(s) : Task.CompletedTask));
        await bed.Sim.Ec2.StartInstancesAsync(new StartInstancesRequest { InstanceIds = [bed.PrimaryId] });
        CcieException e = await Assert.ThrowsAsync<CcieException>(() => bed.RunAsync());
        Assert.Equal("FencedPrimaryRunning", e.ErrorId);
        Assert.Empty(bed.Sim.Control.RequestLog("AssignPrivateIpAddresses"));
    }

    [Fact]
    public async Task Recovery_point_replica_gets_the_newest_data_before_it_starts()
    {
        await using Bed bed = await StartAsync(data: ReplicaDataSource.RecoveryPoint);
        await Task.Delay(1100);
        RecoveryPoint newer = await bed.Sim.TakeRecoveryPointAsync();
        bed.Sim.Control.KillInstance(RestoreSim.Region, bed.PrimaryId, 30);
        FailoverResult result = await bed.RunAsync();
        Assert.Contains(result.Timeline, t => t.Action == "ec2:CreateVolume");
        Assert.True(IndexOf(result, "ec2:AttachVolume") < IndexOf(result, "ec2:StartInstances"));
        Assert.Equal(newer.RecoveryPointId, FailoverKit.Tag(await FailoverKit.InstanceAsync(bed.Sim, bed.Replica.InstanceId), FailoverTags.DataRecoveryPoint));
    }
}
