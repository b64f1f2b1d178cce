using Xunit;
using System.Net;
using System.Reflection;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;
using CcieDr.Simulator;

namespace CcieDr.Engine.Tests.Snapshots;

/// <summary>
/// A seeded simulator per test with a real-time clock and short transitions, SDK clients per region, and fast
/// polling: the snapshot engine runs end to end through the real AWS SDK.
/// </summary>
internal sealed class SnapshotSim : IAsyncDisposable
{
    public const string Region = "us-east-1";
    public const string DrRegion = "us-west-2";
    private readonly List<IAmazonEC2> clients = new();

    static SnapshotSim()
    {
        Environment.SetEnvironmentVariable("CCIEDR_POLL_SCALE", "0.02");
    }

    private SnapshotSim(SimulatorServer server, SeedResult seed)
    {
        Server = server;
        Seed = seed;
    }

    public SimulatorServer Server { get; }

    public SimulatorControl Control => Server.Control;

    public SeedResult Seed { get; }

    public static async Task<SnapshotSim> StartAsync(double transitionSeconds = 0.4, DateTime? manualClockStart = null)
    {
        var options = new SimulatorOptions { ClockMode = manualClockStart is null ? ClockMode.Realtime : ClockMode.Manual, StartTime = manualClockStart };
        options.Durations.SetAll(transitionSeconds);
        var server = await SimulatorServer.StartAsync(options);
        return new SnapshotSim(server, server.Control.SeedCircleCi(Region));
    }

    public static WaitOptions FastWait(double timeoutSeconds = 30) => new()
    {
        Timeout = TimeSpan.FromSeconds(timeoutSeconds),
        InitialDelay = TimeSpan.FromMilliseconds(50),
        MaxDelay = TimeSpan.FromMilliseconds(200),
    };

    public IAmazonEC2 Ec2(string region = Region, int maxErrorRetry = 8)
    {
        var config = new AmazonEC2Config
        {
            ServiceURL = Server.Url.ToString(),
            AuthenticationRegion = region,
            MaxErrorRetry = maxErrorRetry,
            Timeout = TimeSpan.FromSeconds(10),
        };
        var client = new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), config);
        clients.Add(client);
        return client;
    }

    public async Task<ServicesBox> BoxAsync(IAmazonEC2? ec2 = null)
    {
        var boxes = await new ServicesBoxLocator(ec2 ?? Ec2(), Region).FindAsync(new ServicesBoxQuery(), CancellationToken.None);
        return Assert.Single(boxes);
    }

    public async Task<List<Snapshot>> SnapshotsAsync(IAmazonEC2 ec2, params Filter[] filters)
    {
        var all = await ec2.DescribeAllSnapshotsAsync(new DescribeSnapshotsRequest { OwnerIds = ["self"], Filters = filters.ToList() }, CancellationToken.None);
        return all.ToList();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var c in clients)
        {
            c.Dispose();
        }

        await Server.DisposeAsync();
    }
}

/// <summary>An IAmazonEC2 that forwards to a real client except for the calls a test intercepts.</summary>
public class Ec2Interceptor : DispatchProxy
{
    public IAmazonEC2 Inner { get; set; } = null!;

    /// <summary>Returns a replacement result (e.g. a faulted task) or null to forward the call.</summary>
    public Func<MethodInfo, object?[]?, object?>? Intercept { get; set; }

    public List<string> Calls { get; } = new();

    public static (IAmazonEC2 Client, Ec2Interceptor Proxy) Wrap(IAmazonEC2 inner, Func<MethodInfo, object?[]?, object?> intercept)
    {
        IAmazonEC2 client = Create<IAmazonEC2, Ec2Interceptor>();
        var proxy = (Ec2Interceptor)(object)client;
        proxy.Inner = inner;
        proxy.Intercept = intercept;
        return (client, proxy);
    }

    public static Task<T> Fail<T>(string code, HttpStatusCode status = HttpStatusCode.BadRequest)
        => Task.FromException<T>(new AmazonEC2Exception($"simulated {code}", ErrorType.Sender, code, "req-test", status));

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        lock (Calls)
        {
            Calls.Add(targetMethod.Name);
        }

        object? replaced = Intercept?.Invoke(targetMethod, args);
        if (replaced is not null)
        {
            return replaced;
        }

        try
        {
            return targetMethod.Invoke(Inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }
}
