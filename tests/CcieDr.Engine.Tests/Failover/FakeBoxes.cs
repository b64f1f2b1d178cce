using System.Reflection;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Failover;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Tests.Failover;

/// <summary>
/// Stand-in boxes for the failover hooks: the app's state per instance (it only runs on a running instance),
/// /etc/default/replicated* per instance, the builders' configured IP, every command run, and a split-brain
/// check (at most one instance both running the app and holding the builders' IP) after every EC2 request and
/// every hook call, against the simulator's own state.
/// </summary>
internal sealed class FakeBoxes : IFailoverHooks
{
    private readonly IAmazonEC2 raw;
    private readonly object gate = new();

    public FakeBoxes(IAmazonEC2 raw, string primaryId, string primaryIp, string buildersIp)
    {
        this.raw = raw;
        App[primaryId] = true;
        BuildersIp = buildersIp;
        Files[primaryId] = new Dictionary<string, string>
        {
            ["/etc/default/replicated"] = $"REPLICATED_OPTS=\"-e LOCAL_ADDRESS={primaryIp}\"",
            ["/etc/default/replicated-operator"] = $"REPLICATED_OPERATOR_OPTS=\"-e DAEMON_ENDPOINT={primaryIp}:9879\"",
        };
    }

    public Dictionary<string, bool> App { get; } = new();

    public Dictionary<string, Dictionary<string, string>> Files { get; } = new();

    public string BuildersIp { get; private set; }

    public List<string> Events { get; } = new();

    public List<string> Violations { get; } = new();

    /// <summary>Exit codes for scripts (default 0).</summary>
    public Dictionary<string, int> ExitCodes { get; } = new();

    /// <summary>False: fix-ups and builders are left to the operator (the engines of #9/#11 not plugged in).</summary>
    public bool CanReconfigure { get; set; } = true;

    public int Checks { get; private set; }

    public IAmazonEC2 Checked(IAmazonEC2 inner)
    {
        IAmazonEC2 proxy = DispatchProxy.Create<IAmazonEC2, CheckingProxy>();
        var p = (CheckingProxy)(object)proxy;
        p.Inner = inner;
        p.After = CheckAsync;
        return proxy;
    }

    public async Task CheckAsync()
    {
        IReadOnlyList<Instance> instances = await raw.DescribeAllInstancesAsync(new DescribeInstancesRequest(), CancellationToken.None);
        IReadOnlyList<NetworkInterface> enis = await raw.DescribeAllNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest(), CancellationToken.None);
        lock (gate)
        {
            Checks++;
            var serving = instances
                .Where(i => i.State.Name.Value is "pending" or "running" or "stopping")
                .Where(i => App.TryGetValue(i.InstanceId, out bool on) && on)
                .Where(i => enis.Any(e => e.Attachment?.InstanceId == i.InstanceId && e.PrivateIpAddresses.Any(a => a.PrivateIpAddress == BuildersIp)))
                .Select(i => i.InstanceId)
                .ToList();
            if (serving.Count > 1)
            {
                Violations.Add($"split brain: {string.Join(", ", serving)} all run the app and hold {BuildersIp}");
            }

            // Stronger than the address rule: never two live instances running the app, unless the operator
            // declared the other one dead (-AssumePrimaryDead: its AZ is down and builders no longer use its IP).
            var running = instances
                .Where(i => i.State.Name.Value is "pending" or "running" or "stopping")
                .Where(i => App.TryGetValue(i.InstanceId, out bool on) && on)
                .Where(i => !(i.Tags ?? []).Any(t => t.Key == FailoverTags.Fenced && t.Value.StartsWith("assumed-dead", StringComparison.Ordinal)))
                .Select(i => i.InstanceId)
                .ToList();
            if (running.Count > 1)
            {
                Violations.Add($"two live boxes run the app: {string.Join(", ", running)}");
            }

            // A stopped instance's app is not running (it starts again only when told to).
            foreach (Instance i in instances.Where(i => i.State.Name.Value is "stopped" or "terminated"))
            {
                App[i.InstanceId] = false;
            }
        }
    }

    private async Task<string> StateAsync(string id) => (await raw.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = [id] })).Reservations[0].Instances[0].State.Name.Value;

    public async Task<BoxVerdict> CheckHealthAsync(FailoverBox box, CancellationToken ct)
    {
        InstanceHealth h = await FailoverEc2.HealthAsync(raw, box.InstanceId, ct);
        bool app;
        lock (gate)
        {
            app = App.TryGetValue(box.InstanceId, out bool on) && on;
        }

        return h.Healthy && app ? new BoxVerdict(true, "Healthy", $"EC2 {h}; app started; ports 80, 443, 4434 serve") : new BoxVerdict(false, h.Dead ? "Down" : "Degraded", $"EC2 {h}; app {(app ? "started" : "stopped")}");
    }

    public async Task<RemoteResult> RunAsync(FailoverBox box, string script, TimeSpan timeout, CancellationToken ct)
    {
        if (await StateAsync(box.InstanceId) != "running")
        {
            throw new CcieException("RemoteUnreachable", CcieErrorCategory.ConnectionError, $"{box.InstanceId} is not running", box.InstanceId);
        }

        lock (gate)
        {
            Events.Add($"run {box.InstanceId} {script}");
        }

        int code = ExitCodes.TryGetValue(script, out int c) ? c : 0;
        await CheckAsync();
        return new RemoteResult(code, "", code == 0 ? "" : "not in sync", false, RemoteTransport.Ssm, box.PrivateIpAddress ?? box.InstanceId, TimeSpan.Zero);
    }

    public async Task SetAppRunningAsync(FailoverBox box, bool running, TimeSpan timeout, CancellationToken ct)
    {
        if (await StateAsync(box.InstanceId) != "running")
        {
            throw new CcieException("RemoteUnreachable", CcieErrorCategory.ConnectionError, $"{box.InstanceId} is not running", box.InstanceId);
        }

        lock (gate)
        {
            App[box.InstanceId] = running;
            Events.Add($"app {(running ? "start" : "stop")} {box.InstanceId}");
        }

        await CheckAsync();
    }

    public async Task<string?> ApplyIpChangeFixupsAsync(FailoverBox box, string oldIp, string newIp, CancellationToken ct)
    {
        lock (gate)
        {
            Events.Add($"fixups {box.InstanceId} {oldIp} -> {newIp}");
        }

        if (!CanReconfigure)
        {
            return FailoverCommands.Fixups(box.InstanceId, oldIp, newIp);
        }

        lock (gate)
        {
            // The replica was made from the primary's image: same files, then fixed up.
            Files[box.InstanceId] = Files.Values.First().ToDictionary(kv => kv.Key, kv => kv.Value.Replace(oldIp, newIp, StringComparison.Ordinal));
        }

        await CheckAsync();
        return null;
    }

    public async Task<string?> ReconfigureBuildersAsync(string oldIp, string newIp, CancellationToken ct)
    {
        lock (gate)
        {
            Events.Add($"builders {oldIp} -> {newIp}");
        }

        if (!CanReconfigure)
        {
            return FailoverCommands.Builders(newIp);
        }

        lock (gate)
        {
            BuildersIp = newIp;
        }

        await CheckAsync();
        return null;
    }
}

/// <summary>An IAmazonEC2 that runs a check after every request (answered or failed).</summary>
public class CheckingProxy : DispatchProxy
{
    private static readonly MethodInfo AfterGeneric = typeof(CheckingProxy).GetMethod(nameof(AfterAsync), BindingFlags.NonPublic | BindingFlags.Static)!;

    internal IAmazonEC2 Inner { get; set; } = null!;

    internal Func<Task> After { get; set; } = () => Task.CompletedTask;

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        object? result;
        try
        {
            result = targetMethod!.Invoke(Inner, args);
        }
        catch (TargetInvocationException e)
        {
            throw e.InnerException!;
        }

        if (result is Task task && targetMethod.ReturnType.IsGenericType)
        {
            return AfterGeneric.MakeGenericMethod(targetMethod.ReturnType.GetGenericArguments()[0]).Invoke(null, [task, After]);
        }

        return result;
    }

    private static async Task<T> AfterAsync<T>(Task<T> call, Func<Task> after)
    {
        try
        {
            return await call;
        }
        finally
        {
            await after();
        }
    }
}
