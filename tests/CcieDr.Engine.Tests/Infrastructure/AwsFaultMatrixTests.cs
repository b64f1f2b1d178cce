using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Recovery.Restore;
using CcieDr.Engine.Tests.Restore;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Infrastructure;

/// <summary>
/// The fault matrix: every mutating engine operation × {throttle, internal-error, drop-after, timeout}, each
/// fault served once (the SDK's retry meets it) and persistently (every call of that action, beyond every retry).
/// A cell passes when the operation completes, or fails with a CcieException whose id is the fault's and whose
/// message names the call, and when a rerun (faults gone) leaves exactly the expected resources: one recovery point
/// with one snapshot per volume, one copy per source snapshot, one AMI, one instance, only the kept points.
/// Counted through the simulator's state, not through what the engine says.
/// Plus Ctrl+C under a slow call: the operation ends with OperationCanceledException, no mutating call follows,
/// and a rerun still leaves exactly the expected resources.
/// Data backup uploads are not in this matrix: the simulator serves EC2, SSM and Auto Scaling, not S3; their S3
/// calls have their own matrix against s3rver behind a fault proxy (S3FaultMatrixTests).
/// </summary>
public sealed class AwsFaultMatrixTests
{
    private const string Region = "us-east-1";
    private const string DrRegion = "us-west-2";
    private const int Persistent = 200;

    private static readonly HashSet<string> Mutating = new(StringComparer.Ordinal)
    {
        "CreateSnapshots", "CreateSnapshot", "CreateTags", "CopySnapshot", "DeleteSnapshot",
        "RegisterImage", "DeregisterImage", "RunInstances", "TerminateInstances", "AssignPrivateIpAddresses",
    };

    static AwsFaultMatrixTests()
    {
        Environment.SetEnvironmentVariable("CCIEDR_POLL_SCALE", "0.02");
    }

    /// <summary>The operations and the EC2 action each one's fault is put on.</summary>
    public static readonly IReadOnlyDictionary<string, string> Operations = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["create-point"] = "CreateSnapshots",
        ["create-point-per-volume"] = "CreateSnapshot",
        ["tag-point"] = "CreateTags",
        ["copy-point"] = "CopySnapshot",
        ["delete-point-by-id"] = "DeleteSnapshot",
        ["delete-points-by-policy"] = "DeleteSnapshot",
        ["restore-register-image"] = "RegisterImage",
        ["restore-run-instance"] = "RunInstances",
        ["restore-replace-existing"] = "TerminateInstances",
        ["restore-deregister-image"] = "DeregisterImage",
    };

    public static TheoryData<string, string, string> Cells() => SimulatorFaultMatrixKit.Cells(Operations.Keys);

    public static TheoryData<string> EveryOperation() => SimulatorFaultMatrixKit.EveryOperation(Operations.Keys);

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task Completes_or_fails_clearly_and_a_rerun_leaves_exactly_the_expected_resources(string operation, string fault, string dose)
    {
        await using Cell cell = await Cell.StartAsync(operation);
        string action = Operations[operation];
        cell.Control.InjectFault(new FaultSpec { Kind = fault, Action = action, Count = dose == "once" ? 1 : Persistent, DelayMilliseconds = 100 });

        Failure? failure = await cell.RunAsync(CancellationToken.None);

        Assert.True(cell.Control.FaultCount(fault, action) >= 1, $"the {fault} fault on {action} was never served");
        if (dose == "once")
        {
            Assert.True(failure is null, $"one {fault} on {action} (the SDK retries it) should not fail {operation}: {failure?.Message}");
        }
        else
        {
            Assert.True(failure is not null, $"{operation} succeeded although every {action} call met {fault}");
            Assert.Contains("ec2:" + action, failure.Message, StringComparison.Ordinal);
            if (failure.ErrorId is not null)
            {
                Assert.True(ExpectedErrorId(operation, fault) == failure.ErrorId, $"expected {ExpectedErrorId(operation, fault)}, got {failure.ErrorId}: {failure.Message}");
            }
            else
            {
                Assert.Contains(ExpectedErrorId(operation, fault) == "AwsEndpointUnreachable" ? "could not be reached" : fault == FaultKinds.Throttle ? "RequestLimitExceeded" : "InternalError", failure.Message, StringComparison.Ordinal);
            }
        }

        cell.Control.ClearFaults();
        Failure? rerun = await cell.RunAsync(CancellationToken.None);

        Assert.True(rerun is null, $"the rerun of {operation} failed: {rerun?.Message}");
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
        Task first = await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(10)));

        Assert.True(first == running, $"{operation} did not end within 10 s of Ctrl+C (the slow call holds 60 s)");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        IReadOnlyList<RequestLogEntry> log = await SimulatorFaultMatrixKit.CancelledAsync(cell.Control, started);
        Assert.Empty(log.Skip(started + 1).Where(e => Mutating.Contains(e.Action)).Select(e => e.Action));

        cell.Control.ClearFaults();
        Failure? rerun = await cell.RunAsync(CancellationToken.None);

        Assert.True(rerun is null, $"the rerun of {operation} after Ctrl+C failed: {rerun?.Message}");
        await cell.AssertExpectedAsync();
    }

    private static string ExpectedErrorId(string operation, string fault)
    {
        if (operation == "create-point-per-volume")
        {
            return "SnapshotCreationFailed"; // every volume failed: the per-volume errors are listed in it
        }

        return fault switch
        {
            FaultKinds.Throttle => "Aws.RequestLimitExceeded",
            FaultKinds.InternalError => "Aws.InternalError",
            _ => "AwsEndpointUnreachable",
        };
    }

    /// <summary>How an operation failed: a CcieException's id and message, or a collected failure's message (no id).</summary>
    internal sealed record Failure(string? ErrorId, string Message);

    /// <summary>One cell's simulator, the resources the operation starts from, the operation, and what must exist after it.</summary>
    private sealed class Cell : IAsyncDisposable
    {
        private readonly List<IAmazonEC2> clients = new();
        private readonly string operation;
        private SimulatorServer? server;
        private RestoreSim? restore;
        private IAmazonEC2 ec2 = null!;
        private IAmazonEC2 west = null!;
        private ServicesBox box = null!;
        private RecoveryPoint point = null!;
        private List<string> pointIds = new();
        private int imagesBefore;

        private Cell(string operation)
        {
            this.operation = operation;
        }

        public SimulatorControl Control => restore?.Control ?? server!.Control;

        public static async Task<Cell> StartAsync(string operation)
        {
            var cell = new Cell(operation);
            if (operation.StartsWith("restore-", StringComparison.Ordinal))
            {
                await cell.StartRestoreAsync();
            }
            else
            {
                await cell.StartSnapshotsAsync();
            }

            return cell;
        }

        /// <summary>Runs the operation once; null when it completed.</summary>
        public async Task<Failure?> RunAsync(CancellationToken ct)
        {
            try
            {
                return await RunOnceAsync(ct);
            }
            catch (CcieException e)
            {
                return new Failure(e.ErrorId, e.Message);
            }
        }

        public async Task AssertExpectedAsync()
        {
            switch (operation)
            {
                case "create-point":
                case "create-point-per-volume":
                case "tag-point":
                    {
                        List<Snapshot> ours = await SnapshotsAsync(ec2, Ec2Extensions.Filter("tag-key", RecoveryTags.RecoveryPoint));
                        string? id = Assert.Single(ours.Select(s => Tag(s, RecoveryTags.RecoveryPoint)).Distinct());
                        Assert.Equal(box.Volumes.Select(v => v.VolumeId).OrderBy(x => x), ours.Select(s => s.VolumeId).OrderBy(x => x)); // one snapshot per volume
                        RecoveryPoint read = (await RecoveryPointCatalog.GetAsync(ec2, Region, id!, CancellationToken.None))!;
                        Assert.Equal(box.Volumes.Select(v => v.DeviceName).OrderBy(x => x), read.Snapshots.Select(s => s.DeviceName).OrderBy(x => x)); // per-volume tags there
                        break;
                    }

                case "copy-point":
                    {
                        List<Snapshot> copies = await SnapshotsAsync(west);
                        Assert.Equal(point.SnapshotIds.OrderBy(x => x), copies.Select(s => Tag(s, RecoveryTags.SourceSnapshotId)).OrderBy(x => x)); // one copy per source
                        Assert.Single(copies.Select(s => Tag(s, RecoveryTags.RecoveryPoint)).Distinct());
                        break;
                    }

                case "delete-point-by-id":
                case "delete-points-by-policy":
                    {
                        IReadOnlyList<RecoveryPoint> left = await RecoveryPointCatalog.ListAsync(ec2, Region, new RecoveryPointFilter(), CancellationToken.None);
                        Assert.Equal(new[] { pointIds[^1] }, left.Select(p => p.RecoveryPointId));
                        Assert.Equal(box.Volumes.Count, (await SnapshotsAsync(ec2, Ec2Extensions.Filter("tag-key", RecoveryTags.RecoveryPoint))).Count);
                        break;
                    }

                default:
                    {
                        RestoreSim sim = restore!;
                        Assert.Equal(1, await sim.InstancesLaunchedSinceSeedAsync());
                        Assert.Single(await sim.RestoredInstancesAsync(point.RecoveryPointId));
                        int images = (await ec2.DescribeAllImagesAsync(new DescribeImagesRequest { Owners = ["self"] }, CancellationToken.None)).Count;
                        Assert.Equal(operation == "restore-deregister-image" ? 0 : 1, images - imagesBefore);
                        if (operation == "restore-replace-existing")
                        {
                            Assert.Contains((await sim.InstanceAsync(sim.Seed.ServicesInstanceId))?.State?.Name?.Value, new[] { "shutting-down", "terminated" });
                        }

                        break;
                    }
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (IAmazonEC2 c in clients)
            {
                c.Dispose();
            }

            if (restore is not null)
            {
                await restore.DisposeAsync();
            }

            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }

        private async Task<Failure?> RunOnceAsync(CancellationToken ct)
        {
            switch (operation)
            {
                case "create-point":
                case "tag-point":
                    await Creator().CreateAsync(box, new NewSnapshotRequest { Method = SnapshotMethod.MultiVolume }, ct);
                    return null;
                case "create-point-per-volume":
                    await Creator().CreateAsync(box, new NewSnapshotRequest { Method = SnapshotMethod.PerVolume }, ct);
                    return null;
                case "copy-point":
                    await new SnapshotCopier(ec2, Region, west).CopyAsync(point, new CopyRecoveryPointRequest { DestinationRegion = DrRegion }, ct);
                    return null;
                case "delete-point-by-id":
                    {
                        if (await RecoveryPointCatalog.GetAsync(ec2, Region, pointIds[0], ct) is null)
                        {
                            // Gone already (the earlier run deleted it): asking again says so clearly.
                            CcieException e = await Assert.ThrowsAsync<CcieException>(() => Remover().PlanExplicitAsync(pointIds[0], includeNewest: false, ct));
                            Assert.Equal("RecoveryPointNotFound", e.ErrorId);
                            return null;
                        }

                        var remover = Remover();
                        RecoveryPointDecision d = await remover.PlanExplicitAsync(pointIds[0], includeNewest: false, ct);
                        Assert.Equal("Remove", d.Action);
                        d = await remover.RemoveAsync(d, ct);
                        return d.Outcome == "Removed" ? null : new Failure(null, d.Error ?? d.Outcome ?? "no outcome");
                    }

                case "delete-points-by-policy":
                    {
                        var remover = Remover();
                        var errors = new List<string>();
                        foreach (RecoveryPointDecision d in (await remover.PlanPolicyAsync(new SnapshotRetentionRequest { KeepLast = 1 }, ct)).Where(d => d.Action == "Remove"))
                        {
                            RecoveryPointDecision done = await remover.RemoveAsync(d, ct);
                            if (done.Outcome != "Removed")
                            {
                                errors.Add(done.Error ?? done.Outcome ?? "no outcome");
                            }
                        }

                        return errors.Count == 0 ? null : new Failure(null, string.Join(" ", errors));
                    }

                default:
                    {
                        var request = new RestoreRequest
                        {
                            RecoveryPoint = point,
                            ReplaceExisting = operation == "restore-replace-existing",
                            DeregisterImage = operation == "restore-deregister-image",
                        };
                        RestoreService service = restore!.Service(ec2: ec2);
                        RestorePlan plan = await service.PrepareAsync(request, ct);
                        Assert.True(plan.CanProceed, string.Join(" | ", plan.Blockers));
                        await service.ExecuteAsync(plan, ct);
                        return null;
                    }
            }
        }

        private SnapshotCreator Creator() => new(ec2, Region, null, () => server!.Control.Now);

        private SnapshotRemover Remover() => new(ec2, Region, null, () => server!.Control.Now);

        private async Task StartSnapshotsAsync()
        {
            // A manual clock: nothing completes unless the test moves time, so a rerun finds the point still pending.
            var options = new SimulatorOptions { ClockMode = ClockMode.Manual, StartTime = new DateTime(2026, 3, 1, 12, 0, 0, DateTimeKind.Utc) };
            options.Durations.SetAll(1);
            server = await SimulatorServer.StartAsync(options);
            server.Control.SeedCircleCi(Region);
            ec2 = Client(server.Url, Region);
            west = Client(server.Url, DrRegion);
            box = Assert.Single(await new ServicesBoxLocator(ec2, Region).FindAsync(new ServicesBoxQuery(), CancellationToken.None));
            int points = operation switch
            {
                "copy-point" => 1,
                "delete-point-by-id" => 2,
                "delete-points-by-policy" => 3,
                _ => 0,
            };
            for (int i = 0; i < points; i++)
            {
                RecoveryPoint p = await Creator().CreateAsync(box, new NewSnapshotRequest(), CancellationToken.None);
                pointIds.Add(p.RecoveryPointId);
                server.Control.AdvanceClock(3600); // completes it; the next one is an hour younger
            }

            if (points > 0)
            {
                point = (await RecoveryPointCatalog.GetAsync(ec2, Region, pointIds[0], CancellationToken.None))!;
                Assert.True(point.IsComplete);
            }

            server.Control.ClearRequestLog();
        }

        private async Task StartRestoreAsync()
        {
            restore = await RestoreSim.StartAsync();
            ec2 = Client(restore.Server.Url, Region);
            point = await restore.TakeRecoveryPointAsync();
            if (operation != "restore-replace-existing")
            {
                await restore.TerminateBoxAsync();
            }

            imagesBefore = (await ec2.DescribeAllImagesAsync(new DescribeImagesRequest { Owners = ["self"] }, CancellationToken.None)).Count;
            restore.Control.ClearRequestLog();
        }

        /// <summary>A client as the module builds one (standard retries), with two SDK retries and a request timeout longer than the Ctrl+C bound.</summary>
        private AmazonEC2Client Client(Uri url, string region)
        {
            var client = new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonEC2Config
            {
                ServiceURL = url.ToString(),
                AuthenticationRegion = region,
                RetryMode = RequestRetryMode.Standard,
                MaxErrorRetry = 2,
                Timeout = TimeSpan.FromSeconds(30),
            });
            clients.Add(client);
            return client;
        }

        private static async Task<List<Snapshot>> SnapshotsAsync(IAmazonEC2 client, params Filter[] filters)
            => (await client.DescribeAllSnapshotsAsync(new DescribeSnapshotsRequest { OwnerIds = ["self"], Filters = filters.ToList() }, CancellationToken.None)).ToList();

        private static string? Tag(Snapshot s, string key) => s.Tags?.FirstOrDefault(t => t.Key == key)?.Value;
    }
}
