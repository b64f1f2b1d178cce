using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Failover;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Tests.Failover;
using CcieDr.Engine.Tests.Restore;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Infrastructure;

/// <summary>
/// The fault matrix of the Failover room, on the simulator: every mutating AWS action of every failover operation
/// (the failover's fence StopInstances through its no-SDK-retry client, the promote's StartInstances, mode 1's
/// re-addressing AssignPrivateIpAddresses with AllowReassignment and its state tags CreateTags; Add-CcieFloatingIp's
/// AssignPrivateIpAddresses and CreateTags; New-CcieReplica's RunInstances and cold StopInstances, and from a
/// recovery point its RegisterImage and image CreateTags; New-CcieServicesBoxImage's CreateImage and snapshot
/// CreateTags) × {throttle, internal-error, drop-after, timeout} × {once, persistent}.
/// A cell passes when the operation completes (once: a retry meets the fault; persistent drop-after where the engine
/// finds the change already made) or fails with a CcieException whose id is the fault's and whose message names the
/// call (the fence's refusal PrimaryNotFenced carries the fault's error as its cause); when the state it leaves is
/// safe (the primary never terminated, the floating IP on exactly one instance and on the replica only once the
/// primary is stopped, never two boxes running the app, at most one replica and one image, failover state tags that
/// name this primary); and when a rerun (faults gone) ends with exactly the expected resources: one replica, one
/// image, the IP on the replica. Counted through the simulator's state, not through what the engine says.
/// Plus Ctrl+C under a slow call of each operation: OperationCanceledException at once, no mutating call after the
/// cancel, and a rerun still ends clean. A rerun after a New-CcieReplica or New-CcieServicesBoxImage that completed
/// is not made (a second run makes a second resource by design); after a failed or cancelled one it must finish the first.
/// Not in the matrix: the SSM app start (a SendCommand whose answer is lost runs twice, below every retry policy:
/// open), Update-CcieReplica's data-volume refresh and mode 2 (movable ENI).
/// </summary>
public sealed class FailoverFaultMatrixTests
{
    private const string Region = RestoreSim.Region;
    private const string Floating = "10.0.1.200";
    private const int Persistent = 200;

    internal static readonly HashSet<string> Mutating = new(StringComparer.Ordinal)
    {
        "CreateTags", "DeleteTags", "StopInstances", "StartInstances", "RunInstances", "TerminateInstances",
        "AssignPrivateIpAddresses", "UnassignPrivateIpAddresses", "CreateImage", "RegisterImage", "DeregisterImage",
        "CreateVolume", "AttachVolume", "DetachVolume", "DeleteVolume", "ModifyInstanceAttribute",
        "AttachNetworkInterface", "DetachNetworkInterface", "SendCommand",
    };

    static FailoverFaultMatrixTests()
    {
        Environment.SetEnvironmentVariable("CCIEDR_POLL_SCALE", "0.02");
    }

    /// <summary>The operations ("room:action") and the EC2 action each one's fault is put on.</summary>
    public static readonly IReadOnlyDictionary<string, string> Operations = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["failover-fence"] = "StopInstances",
        ["failover-promote"] = "StartInstances",
        ["failover-readdress"] = "AssignPrivateIpAddresses",
        ["failover-state-tags"] = "CreateTags",
        ["floating-ip-assign"] = "AssignPrivateIpAddresses",
        ["floating-ip-tag"] = "CreateTags",
        ["replica-launch"] = "RunInstances",
        ["replica-cold-stop"] = "StopInstances",
        ["replica-from-point-register"] = "RegisterImage",
        ["replica-from-point-tag"] = "CreateTags",
        ["image-create"] = "CreateImage",
        ["image-tag-snapshots"] = "CreateTags",
    };

    /// <summary>
    /// Persistent drop-after: every call made the change and lost its answer. These operations find the change
    /// made (state, name or address look-up) and complete; every other one fails clearly and its rerun finishes.
    /// </summary>
    private static readonly HashSet<string> FindsTheChangeMade = new(StringComparer.Ordinal)
    {
        "failover-fence", "floating-ip-assign", "replica-from-point-register", "image-create",
    };

    public static TheoryData<string, string, string> Cells() => SimulatorFaultMatrixKit.Cells(Operations.Keys);

    public static TheoryData<string> EveryOperation() => SimulatorFaultMatrixKit.EveryOperation(Operations.Keys);

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task Completes_or_fails_clearly_leaves_a_safe_state_and_a_rerun_ends_with_exactly_the_expected_resources(string operation, string fault, string dose)
    {
        await using Cell cell = await Cell.StartAsync(operation);
        string action = Operations[operation];
        cell.Control.InjectFault(new FaultSpec { Kind = fault, Action = action, Count = dose == "once" ? 1 : Persistent, DelayMilliseconds = 100 });

        Failure? failure = await cell.RunAsync(CancellationToken.None);

        Assert.True(cell.Control.FaultCount(fault, action) >= 1, $"the {fault} fault on {action} was never served");
        bool completes = dose == "once" || (fault == FaultKinds.DropAfter && FindsTheChangeMade.Contains(operation));
        if (completes)
        {
            Assert.True(failure is null, $"{dose} {fault} on {action} should not fail {operation}: {failure?.ErrorId}: {failure?.Message}");
        }
        else
        {
            Assert.True(failure is not null, $"{operation} succeeded although every {action} call met {fault}");
            Assert.Contains("ec2:" + action, failure.Message, StringComparison.Ordinal);
            string expected = fault switch
            {
                FaultKinds.Throttle => "Aws.RequestLimitExceeded",
                FaultKinds.InternalError => "Aws.InternalError",
                _ => "AwsEndpointUnreachable",
            };
            if (operation == "failover-fence")
            {
                // Not stopped: the refusal (nothing moved), caused by the fault's error.
                Assert.True(failure.ErrorId == "PrimaryNotFenced", $"expected PrimaryNotFenced, got {failure.ErrorId}: {failure.Message}");
                Assert.True(failure.InnerErrorId == expected, $"expected the cause {expected}, got {failure.InnerErrorId}: {failure.Message}");
            }
            else
            {
                Assert.True(failure.ErrorId == expected, $"expected {expected}, got {failure.ErrorId}: {failure.Message}");
            }
        }

        await cell.AssertSafeAsync();

        cell.Control.ClearFaults();
        Failure? rerun = await cell.RunAsync(CancellationToken.None);

        Assert.True(rerun is null, $"the rerun of {operation} failed: {rerun?.ErrorId}: {rerun?.Message}");
        await cell.AssertExpectedAsync();
    }

    [Theory]
    [MemberData(nameof(EveryOperation))]
    public async Task Ctrl_C_during_a_slow_call_stops_at_once_and_a_rerun_finishes_the_job(string operation)
    {
        await using Cell cell = await Cell.StartAsync(operation);
        string action = Operations[operation];
        cell.Control.InjectFault(new FaultSpec { Kind = FaultKinds.Delay, Action = action, Count = 1, DelayMilliseconds = 60_000 });
        using var cts = new CancellationTokenSource();

        Task<Failure?> running = cell.RunAsync(cts.Token);
        int started = await SimulatorFaultMatrixKit.LogIndexOfAsync(cell.Control, action, running);
        cts.Cancel();
        Task first = await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(5)));

        Assert.True(first == running, $"{operation} did not end within 5 s of Ctrl+C (the slow call holds 60 s)");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        IReadOnlyList<RequestLogEntry> log = await SimulatorFaultMatrixKit.CancelledAsync(cell.Control, started);
        Assert.Empty(log.Skip(started + 1).Where(e => Mutating.Contains(e.Action)).Select(e => e.Action));
        await cell.AssertSafeAsync();

        cell.Control.ClearFaults();
        Failure? rerun = await cell.RunAsync(CancellationToken.None);

        Assert.True(rerun is null, $"the rerun of {operation} after Ctrl+C failed: {rerun?.ErrorId}: {rerun?.Message}");
        await cell.AssertExpectedAsync();
    }

    /// <summary>How an operation failed: its CcieException's id, message and the id of the CcieException that caused it.</summary>
    internal sealed record Failure(string ErrorId, string Message, string? InnerErrorId);

    /// <summary>One cell's simulator, what the operation starts from, the operation, and what must hold after it.</summary>
    private sealed class Cell : IAsyncDisposable
    {
        private readonly string operation;
        private RestoreSim sim = null!;
        private IAmazonEC2 ec2 = null!;
        private IAmazonEC2 fence = null!;
        private FakeBoxes boxes = null!;
        private string primaryId = null!;
        private string? replicaId;
        private RecoveryPoint? point;
        private HashSet<string> liveBefore = new();
        private bool completed;

        private Cell(string operation)
        {
            this.operation = operation;
        }

        public SimulatorControl Control => sim.Control;

        private bool IsFailover => operation.StartsWith("failover-", StringComparison.Ordinal);

        private bool IsFloatingIp => operation.StartsWith("floating-ip-", StringComparison.Ordinal);

        private bool IsReplica => operation.StartsWith("replica-", StringComparison.Ordinal);

        private bool FromPoint => operation.StartsWith("replica-from-point-", StringComparison.Ordinal);

        public static async Task<Cell> StartAsync(string operation)
        {
            var cell = new Cell(operation);
            await cell.SetUpAsync();
            return cell;
        }

        /// <summary>
        /// Runs the operation once; null when it completed. New-CcieReplica and New-CcieServicesBoxImage make a new
        /// resource each time they complete: once one completed, the rerun is not made (a second would be wanted).
        /// </summary>
        public async Task<Failure?> RunAsync(CancellationToken ct)
        {
            if (completed && !IsFailover && !IsFloatingIp)
            {
                return null;
            }

            try
            {
                await RunOnceAsync(ct);
                completed = true;
                return null;
            }
            catch (CcieException e)
            {
                return new Failure(e.ErrorId, e.Message, (e.InnerException as CcieException)?.ErrorId);
            }
        }

        /// <summary>What must hold after any run, failed or cancelled.</summary>
        public async Task AssertSafeAsync()
        {
            Instance primary = (await sim.InstanceAsync(primaryId))!;
            Assert.DoesNotContain(primary.State.Name.Value, new[] { "shutting-down", "terminated" });
            List<Instance> live = await LiveAsync();
            Assert.Empty(liveBefore.Except(live.Select(i => i.InstanceId))); // nothing of before was terminated
            Assert.True(await ReplicasAsync() <= 1, "a second replica");
            Assert.True(await BoxImagesAsync() <= 1, "a second image of the box");
            Assert.True(live.Count(i => FailoverKit.Tag(i, "Name") == ServicesBoxQuery.DefaultName) <= 1, "two instances carry the box's name");
            if (IsFailover)
            {
                string? holder = await HolderAsync(Floating);
                Assert.True(holder == primaryId || holder == replicaId, $"{Floating} is on {holder}");
                if (holder == replicaId)
                {
                    Assert.Equal("stopped", primary.State.Name.Value); // never moved before the fence
                }

                Instance replica = (await sim.InstanceAsync(replicaId!))!;
                if (FailoverKit.Tag(replica, FailoverTags.FailoverStep) is { Length: > 0 })
                {
                    Assert.Equal(primaryId, FailoverKit.Tag(replica, FailoverTags.FailoverPrimary));
                }

                await boxes.CheckAsync();
                Assert.Empty(boxes.Violations);
            }

            if (IsFloatingIp)
            {
                string? holder = await HolderAsync(Floating, allowNone: true);
                Assert.True(holder is null || holder == primaryId, $"{Floating} is on {holder}");
                Assert.True(SecondaryIps(primary).Count <= 1, $"{primaryId} holds {string.Join(", ", SecondaryIps(primary))}");
            }
        }

        /// <summary>What must exist after the clean rerun, exactly.</summary>
        public async Task AssertExpectedAsync()
        {
            await AssertSafeAsync();
            List<Instance> live = await LiveAsync();
            Instance primary = (await sim.InstanceAsync(primaryId))!;
            if (IsFailover)
            {
                Assert.Equal(liveBefore.OrderBy(x => x), live.Select(i => i.InstanceId).OrderBy(x => x)); // no instance made or lost
                Assert.Equal(replicaId, await HolderAsync(Floating));
                Assert.Equal("stopped", primary.State.Name.Value);
                Instance replica = (await sim.InstanceAsync(replicaId!))!;
                Assert.Equal("running", replica.State.Name.Value);
                Assert.Equal(FailoverSteps.Done, FailoverKit.Tag(replica, FailoverTags.FailoverStep));
                Assert.Equal(ServicesBoxQuery.DefaultName, FailoverKit.Tag(replica, "Name"));
                Assert.Equal(FailoverTags.RolePrimary, FailoverKit.Tag(replica, FailoverTags.Role));
                Assert.Equal(ServicesBoxQuery.DefaultName + FailoverTags.FencedNameSuffix, FailoverKit.Tag(primary, "Name"));
                Assert.StartsWith("force-stopped", FailoverKit.Tag(primary, FailoverTags.Fenced), StringComparison.Ordinal);
                Assert.True(boxes.App[replicaId!], "the app does not run on the replica");
                return;
            }

            if (IsFloatingIp)
            {
                Assert.Equal(liveBefore.OrderBy(x => x), live.Select(i => i.InstanceId).OrderBy(x => x));
                Assert.Equal(primaryId, await HolderAsync(Floating));
                Assert.Equal(new[] { Floating }, SecondaryIps(primary));
                Assert.Equal(Floating, FailoverKit.Tag(primary, FailoverTags.FloatingIp));
                return;
            }

            Assert.Equal("running", primary.State.Name.Value);
            if (IsReplica)
            {
                Assert.Equal(1, await ReplicasAsync());
                Instance replica = Assert.Single(live, i => !liveBefore.Contains(i.InstanceId));
                Assert.Equal("stopped", replica.State.Name.Value);
                Assert.Equal(primaryId, FailoverKit.Tag(replica, FailoverTags.PrimaryInstanceId));
                Assert.Single(await new ReplicaService(sim.Ec2, Region).ListAsync(primaryId, CancellationToken.None));
                if (FromPoint)
                {
                    Image image = Assert.Single(await ImagesNamedAsync("circleci-services-replica-" + point!.RecoveryPointId));
                    Assert.Equal(image.ImageId, FailoverKit.Tag(replica, FailoverTags.LaunchedFromImage));
                    Assert.Equal(point.RecoveryPointId, image.Tags.FirstOrDefault(t => t.Key == RecoveryTags.RecoveryPoint + "-source")?.Value);
                }

                return;
            }

            // image-*: one available image of the box, its snapshots tagged as its own.
            Assert.Equal(liveBefore.OrderBy(x => x), live.Select(i => i.InstanceId).OrderBy(x => x));
            ServicesBoxImage made = Assert.Single(await FailoverKit.Images(sim).ListAsync(primaryId, CancellationToken.None));
            Assert.Equal("available", made.State);
            Assert.NotEmpty(made.SnapshotIds);
            var snaps = await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = made.SnapshotIds.ToList() });
            Assert.All(snaps.Snapshots, s => Assert.Contains(s.Tags, t => t.Key == FailoverTags.ImageOf && t.Value == made.ImageId));
        }

        public async ValueTask DisposeAsync() => await sim.DisposeAsync();

        private async Task RunOnceAsync(CancellationToken ct)
        {
            if (IsFailover)
            {
                var service = new FailoverService(boxes.Checked(ec2), Region, boxes) { Polling = FailoverKit.FastPolling, FenceEc2 = boxes.Checked(fence) };
                FailoverPlan plan = await service.PlanAsync(new FailoverRequest(), ct);
                Assert.True(plan.Refusal is null, plan.Refusal?.Message);
                await service.ExecuteAsync(plan, ct);
                return;
            }

            ServicesBox box = await new ServicesBoxLocator(sim.Ec2, Region).FindOneAsync(new ServicesBoxQuery { InstanceIds = [primaryId] }, CancellationToken.None);
            if (IsFloatingIp)
            {
                await new FloatingIpService(ec2).AddAsync(box, Floating, ct);
                return;
            }

            if (IsReplica)
            {
                var service = new ReplicaService(ec2, Region) { Polling = FailoverKit.FastPolling };
                ReplicaLaunchPlan plan = await service.PlanAsync(new NewReplicaRequest { Primary = box, RecoveryPoint = point }, ct);
                await service.LaunchAsync(plan, ct);
                return;
            }

            await new ServicesBoxImageService(ec2, Region) { Polling = FailoverKit.FastPolling }.CreateAsync(new ServicesBoxImageRequest { Box = box, NoReboot = true }, ct);
        }

        private async Task SetUpAsync()
        {
            sim = await RestoreSim.StartAsync();
            ec2 = sim.Client(maxErrorRetry: 2);
            fence = sim.Client(maxErrorRetry: 0); // as Invoke-CcieFailover builds the fence's client
            ServicesBox box = await FailoverKit.BoxAsync(sim);
            primaryId = box.InstanceId;
            if (IsFailover)
            {
                await new FloatingIpService(sim.Ec2).AddAsync(box, Floating, CancellationToken.None);
                await FailoverKit.ImageAsync(sim, noReboot: true);
                replicaId = (await FailoverKit.ReplicaAsync(sim, subnetId: sim.Seed.SubnetAId)).InstanceId;
                await FailoverKit.SettleAsync(sim, primaryId);
                boxes = new FakeBoxes(sim.Client(), primaryId, box.PrivateIpAddress!, Floating);
                sim.Control.KillInstance(Region, primaryId, 60); // impaired: the health check says it does not serve
            }
            else if (FromPoint)
            {
                point = await sim.TakeRecoveryPointAsync();
            }
            else if (IsReplica)
            {
                await FailoverKit.ImageAsync(sim, noReboot: true);
            }

            liveBefore = (await LiveAsync()).Select(i => i.InstanceId).ToHashSet();
            sim.Control.ClearRequestLog();
        }

        private async Task<List<Instance>> LiveAsync()
            => (await sim.Ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest { Filters = [Ec2Extensions.Filter("instance-state-name", "pending", "running", "stopping", "stopped")] }, CancellationToken.None)).ToList();

        /// <summary>Live replicas of the primary not yet promoted (after a failover the replica is the box).</summary>
        private async Task<int> ReplicasAsync()
            => (await LiveAsync()).Count(i => FailoverKit.Tag(i, FailoverTags.PrimaryInstanceId) == primaryId && FailoverKit.Tag(i, FailoverTags.Role) == FailoverTags.RoleReplica);

        private async Task<int> BoxImagesAsync()
            => (await sim.Ec2.DescribeAllImagesAsync(new DescribeImagesRequest { Owners = ["self"], Filters = [Ec2Extensions.Filter("tag:" + FailoverTags.ImageKind, FailoverTags.ImageKindValue)] }, CancellationToken.None))
                .Count(i => i.State?.Value != "deregistered")
                + (FromPoint ? (await ImagesNamedAsync("circleci-services-replica-" + point!.RecoveryPointId)).Count : 0);

        private async Task<IReadOnlyList<Image>> ImagesNamedAsync(string name)
            => (await sim.Ec2.DescribeAllImagesAsync(new DescribeImagesRequest { Owners = ["self"], Filters = [Ec2Extensions.Filter("name", name)] }, CancellationToken.None)).Where(i => i.State?.Value != "deregistered").ToList();

        private async Task<string?> HolderAsync(string ip, bool allowNone = false)
        {
            var r = await sim.Ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest { Filters = [new Filter("addresses.private-ip-address", [ip])] });
            List<NetworkInterface> holders = r.NetworkInterfaces ?? [];
            if (allowNone && holders.Count == 0)
            {
                return null;
            }

            return Assert.Single(holders).Attachment?.InstanceId; // on exactly one interface
        }

        private static List<string> SecondaryIps(Instance i)
            => (i.NetworkInterfaces ?? [])
                .SelectMany(n => n.PrivateIpAddresses ?? [])
                .Where(a => a.Primary != true)
                .Select(a => a.PrivateIpAddress)
                .ToList();
    }
}
