using CcieDr.Simulator.Ssm;

namespace CcieDr.Simulator;

/// <summary>What a command run in a box's sandbox did.</summary>
public sealed record BoxCommandResult(int ExitCode, string Stdout, string Stderr);

/// <summary>The SSM sandbox's control operations (the boxes' files and the stand-in), also under <c>/_sim/boxes/</c>.</summary>
public sealed partial class SimulatorControl
{
    /// <summary>True when the simulator runs SSM commands in sandboxes.</summary>
    public bool SsmSandboxEnabled => world.Sandbox is not null;

    /// <summary>Why the sandbox cannot run commands on this machine (null: it can, or it is off).</summary>
    public string? SsmSandboxUnavailable => world.Sandbox?.Unavailable;

    /// <summary>The host directory that plays the instance's <c>/</c> (created and populated on first use).</summary>
    public string BoxRoot(string region, string instanceId) => Box(region, instanceId).Root;

    /// <summary>The instance's private IP (as EC2 reports it now).</summary>
    public string BoxPrivateIp(string region, string instanceId) => Locked(() => Instance(region, instanceId).PrivateIpAddress);

    /// <summary>Reads a file of the box (inside its sandbox, so a link cannot lead out of it).</summary>
    public string ReadBoxFile(string region, string instanceId, string path)
    {
        var r = RunInBox(region, instanceId, "cat -- " + Quote(Absolute(path)));
        return r.ExitCode == 0 ? r.Stdout : throw new KeyNotFoundException($"cannot read {path} on {instanceId}: {r.Stderr.Trim()}");
    }

    /// <summary>Writes a file of the box (inside its sandbox), creating its directory.</summary>
    public void WriteBoxFile(string region, string instanceId, string path, string content)
    {
        var p = Quote(Absolute(path));
        var r = RunInBox(region, instanceId, $"mkdir -p \"$(dirname -- {p})\" && cat > {p}", content);
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException($"cannot write {path} on {instanceId}: {r.Stderr.Trim()}");
        }
    }

    /// <summary>Runs <c>replicated-standin</c> with <paramref name="args"/> in the box (e.g. <c>fail-start on</c>).</summary>
    public BoxCommandResult RunStandin(string region, string instanceId, params string[] args) =>
        RunInBox(region, instanceId, "replicated-standin " + string.Join(' ', args.Select(Quote)));

    /// <summary>Runs a shell script in the box's sandbox as SSM would (root, the simulated clock as STANDIN_NOW) and waits.</summary>
    public BoxCommandResult RunInBox(string region, string instanceId, string script, string? stdin = null)
    {
        var (root, now) = Box(region, instanceId);
        var sandbox = world.Sandbox!;
        var (code, stdout, stderr) = sandbox.Run(root, script, now, stdin);
        return new BoxCommandResult(code, stdout, stderr);
    }

    private (string Root, DateTime Now) Box(string region, string instanceId) => Locked(() =>
    {
        var sandbox = world.Sandbox ?? throw new InvalidOperationException("the SSM sandbox is off: start the simulator with --ssm-sandbox (SimulatorOptions.SsmSandbox = true)");
        world.Tick();
        var i = Instance(region, instanceId);
        if (!Ssm.SsmService.Managed(i))
        {
            throw new InvalidOperationException($"{instanceId} is not a managed instance (no IAM instance profile, or terminated): it has no SSM sandbox");
        }

        var root = sandbox.BoxRoot(i, world.Region(region), world.Now);
        sandbox.WriteCapacity(root, CloudWatch.CloudWatchPublisher.CapacityOf(world.Region(region), i));
        return (root, world.Now);
    });

    private Instance Instance(string region, string instanceId) =>
        world.Region(region).Instances.TryGetValue(instanceId, out var i) ? i : throw new KeyNotFoundException($"no instance {instanceId} in {region}");

    private static string Absolute(string path) =>
        path is { Length: > 0 } && path[0] == '/' ? path : throw new ArgumentException($"the path must be absolute (as the box sees it): '{path}'", nameof(path));

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
