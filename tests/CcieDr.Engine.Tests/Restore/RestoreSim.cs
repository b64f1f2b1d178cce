using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.KeyManagementService;
using Amazon.Runtime;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Recovery.Restore;
using CcieDr.Simulator;

namespace CcieDr.Engine.Tests.Restore;

/// <summary>
/// A seeded simulator for one restore test: real-time clock with short transitions (so the restore's own
/// waits run unchanged), SDK clients built like the module's, and helpers to take a recovery point, count
/// what a restore created and run restores.
/// </summary>
internal sealed class RestoreSim : IAsyncDisposable
{
    public const string Region = "us-east-1";
    public const double Transition = 0.3;
    private readonly List<IAmazonEC2> clients = new();
    private readonly List<IAmazonKeyManagementService> kmsClients = new();

    private RestoreSim(SimulatorServer server, SeedResult seed)
    {
        Server = server;
        Seed = seed;
        Ec2 = Client();
        Kms = KmsClient();
    }

    public SimulatorServer Server { get; }

    public SimulatorControl Control => Server.Control;

    public SeedResult Seed { get; }

    public IAmazonEC2 Ec2 { get; }

    /// <summary>The KMS client the restore pre-flight uses (kms:DescribeKey).</summary>
    public IAmazonKeyManagementService Kms { get; }

    public static async Task<RestoreSim> StartAsync(double transitionSeconds = Transition)
    {
        var options = new SimulatorOptions { ClockMode = ClockMode.Realtime };
        options.Durations.SetAll(transitionSeconds);
        SimulatorServer server = await SimulatorServer.StartAsync(options);
        SeedResult seed = server.Control.SeedCircleCi(Region);
        return new RestoreSim(server, seed);
    }

    /// <summary>A client configured as AwsClientFactory does (standard retries, 8 of them) unless told otherwise.</summary>
    public IAmazonEC2 Client(int maxErrorRetry = 8)
    {
        var config = new AmazonEC2Config
        {
            ServiceURL = Server.Url.ToString(),
            AuthenticationRegion = Region,
            RetryMode = RequestRetryMode.Standard,
            MaxErrorRetry = maxErrorRetry,
            Timeout = TimeSpan.FromSeconds(10),
        };
        var client = new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), config);
        clients.Add(client);
        return client;
    }

    /// <summary>A KMS client configured as AwsClientFactory does.</summary>
    public IAmazonKeyManagementService KmsClient(int maxErrorRetry = 8)
    {
        var config = new AmazonKeyManagementServiceConfig
        {
            ServiceURL = Server.Url.ToString(),
            AuthenticationRegion = Region,
            RetryMode = RequestRetryMode.Standard,
            MaxErrorRetry = maxErrorRetry,
            Timeout = TimeSpan.FromSeconds(10),
        };
        var client = new AmazonKeyManagementServiceClient(new BasicAWSCredentials("AKIDSIM", "secret"), config);
        kmsClients.Add(client);
        return client;
    }

    /// <summary>Takes a CcieDr recovery point of the Services box (snapshots tagged with the schema) and waits until complete.</summary>
    public async Task<RecoveryPoint> TakeRecoveryPointAsync()
    {
        ServicesBox box = (await new ServicesBoxLocator(Ec2, Region).FindAsync(new ServicesBoxQuery(), CancellationToken.None))[0];
        DateTime now = DateTime.UtcNow;
        string id = RecoveryTags.NewRecoveryPointId(now);
        foreach (ServicesBoxVolume v in box.Volumes)
        {
            await Ec2.CreateSnapshotAsync(new CreateSnapshotRequest
            {
                VolumeId = v.VolumeId,
                Description = RecoveryTags.Description(now),
                TagSpecifications = [new TagSpecification { ResourceType = ResourceType.Snapshot, Tags = RecoveryTags.ToTagList(RecoveryTags.ForSnapshot(box, v, id, null)) }],
            });
        }

        return await UntilAsync(async () =>
        {
            RecoveryPoint? p = await RecoveryPointCatalog.GetAsync(Ec2, Region, id, CancellationToken.None);
            return p is { IsComplete: true } ? p : null;
        });
    }

    public async Task TerminateBoxAsync()
    {
        await Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [Seed.ServicesInstanceId] });
        await UntilAsync(async () => (await InstanceAsync(Seed.ServicesInstanceId))?.State?.Name?.Value == "terminated" ? "done" : null);
    }

    public async Task<Instance?> InstanceAsync(string id)
    {
        var r = await Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [Ec2Extensions.Filter("instance-id", id)] });
        return r.Reservations?.SelectMany(x => x.Instances ?? []).FirstOrDefault();
    }

    /// <summary>Instances a restore of <paramref name="pointId"/> launched (any state but gone).</summary>
    public async Task<IReadOnlyList<Instance>> RestoredInstancesAsync(string pointId, bool liveOnly = true)
    {
        var filters = new List<Filter> { Ec2Extensions.Filter("tag:" + RestoreNaming.RestoredFromTag, pointId) };
        if (liveOnly)
        {
            filters.Add(Ec2Extensions.Filter("instance-state-name", "pending", "running", "stopping", "stopped"));
        }

        return await Ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest { Filters = filters }, CancellationToken.None);
    }

    /// <summary>AMIs registered by restores (any name), from the simulator's request log: successful RegisterImage calls.</summary>
    public int RegisterImageSuccesses() => Control.RequestLog("RegisterImage").Count(e => e.Status == 200);

    /// <summary>Instances actually created by RunInstances (distinct successful launches, idempotent replays excluded).</summary>
    public async Task<int> InstancesLaunchedSinceSeedAsync()
    {
        var r = await Ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest(), CancellationToken.None);
        var seeded = new HashSet<string>(Seed.BuilderInstanceIds.Append(Seed.ServicesInstanceId));
        return r.Count(i => !seeded.Contains(i.InstanceId));
    }

    public async Task<IReadOnlyList<Image>> RestoreImagesAsync(string pointId)
        => await Ec2.DescribeAllImagesAsync(new DescribeImagesRequest { Owners = ["self"], Filters = [Ec2Extensions.Filter("name", RestoreNaming.ImageName(pointId))] }, CancellationToken.None);

    public RestoreService Service(IAmazonEC2? ec2 = null, IOperationReporter? reporter = null, Func<string, bool, Task>? hook = null)
        => new(ec2 ?? Ec2, Region, null, reporter, Kms)
        {
            StepHook = hook,
            Polling = new WaitOptions { InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(100) },
        };

    /// <summary>Plans and, when pre-flight passes, executes.</summary>
    public static async Task<(RestorePlan Plan, RestoreResult? Result)> RestoreAsync(RestoreService service, RestoreRequest request)
    {
        RestorePlan plan = await service.PrepareAsync(request, CancellationToken.None);
        if (!plan.CanProceed)
        {
            return (plan, null);
        }

        return (plan, await service.ExecuteAsync(plan, CancellationToken.None));
    }

    public static async Task<T> UntilAsync<T>(Func<Task<T?>> poll, double seconds = 20)
        where T : class
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            T? v = await poll();
            if (v is not null)
            {
                return v;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("condition not met in time");
            }

            await Task.Delay(25);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IAmazonEC2 c in clients)
        {
            c.Dispose();
        }

        foreach (IAmazonKeyManagementService k in kmsClients)
        {
            k.Dispose();
        }

        await Server.DisposeAsync();
    }
}

/// <summary>Collects what the engine reports (progress, verbose, warnings).</summary>
internal sealed class RecordingReporter : IOperationReporter
{
    public List<ProgressUpdate> Progress { get; } = new();

    public List<string> Verbose { get; } = new();

    public List<string> Warnings { get; } = new();

    void IOperationReporter.Progress(ProgressUpdate update)
    {
        lock (Progress)
        {
            Progress.Add(update);
        }
    }

    void IOperationReporter.Verbose(string message)
    {
        lock (Verbose)
        {
            Verbose.Add(message);
        }
    }

    void IOperationReporter.Warning(string message)
    {
        lock (Warnings)
        {
            Warnings.Add(message);
        }
    }
}
