using CcieDr.Simulator.CloudWatch;

namespace CcieDr.Simulator;

/// <summary>CloudWatch control: pin or write metrics, stop publishers, fill the box's disk, pin CPU, kill the app.</summary>
public sealed partial class SimulatorControl
{
    /// <summary>
    /// Pins a metric: from the next simulated minute it is published with <paramref name="value"/> instead of what the
    /// world implies (any metric, also one no publisher writes). Null unpins it.
    /// </summary>
    public void SetMetricValue(string region, string metricNamespace, string metricName, IReadOnlyDictionary<string, string>? dimensions, double? value) => Locked(() =>
    {
        world.Tick();
        var cw = world.Region(region).CloudWatch;
        var dims = Dims(dimensions);
        var key = CloudWatch.MetricSeries.SeriesKey(metricNamespace, metricName, dims);
        if (value is null)
        {
            cw.Pinned.Remove(key);
        }
        else
        {
            cw.Pinned[key] = (metricNamespace, metricName, dims, value.Value);
        }
    });

    /// <summary>
    /// Writes a series of values now: the last at the current simulated time, the others <paramref name="intervalSeconds"/>
    /// apart before it (as if published over the past minutes).
    /// </summary>
    public void PutMetricSeries(string region, string metricNamespace, string metricName, IReadOnlyDictionary<string, string>? dimensions, IReadOnlyList<double> values, double intervalSeconds = 60) => Locked(() =>
    {
        ArgumentNullException.ThrowIfNull(values);
        world.Tick();
        var cw = world.Region(region).CloudWatch;
        var dims = Dims(dimensions);
        for (var k = 0; k < values.Count; k++)
        {
            cw.Add(metricNamespace, metricName, dims, MetricSample.Of(world.Now.AddSeconds(-(values.Count - 1 - k) * intervalSeconds), values[k]));
        }
    });

    /// <summary>Stops (<paramref name="running"/> false: its metrics go stale) or resumes one of <see cref="CloudWatchPublishers.All"/>.</summary>
    public void SetCloudWatchPublisher(string region, string publisher, bool running) => Locked(() =>
    {
        if (!CloudWatchPublishers.All.Contains(publisher))
        {
            throw new ArgumentException($"unknown publisher '{publisher}' (known: {string.Join(", ", CloudWatchPublishers.All)})", nameof(publisher));
        }

        world.Tick();
        var cw = world.Region(region).CloudWatch;
        if (running)
        {
            cw.Stopped.Remove(publisher);
        }
        else
        {
            cw.Stopped.Add(publisher);
        }
    });

    /// <summary>The Services box's disk at <paramref name="path"/> (/data or /) is <paramref name="percent"/> % used (CWAgent disk_used_percent).</summary>
    public void FillDisk(string region, double percent, string path = "/data", string? instanceId = null) => Locked(() =>
    {
        if (percent is < 0 or > 100)
        {
            throw new ArgumentException("percent must be 0..100", nameof(percent));
        }

        world.Tick();
        var r = world.Region(region);
        var id = BoxId(r, instanceId);
        if (!r.CloudWatch.Disk.TryGetValue(id, out var disk))
        {
            disk = new Dictionary<string, double>(StringComparer.Ordinal);
            r.CloudWatch.Disk[id] = disk;
        }

        disk[path] = percent;
    });

    /// <summary>Pins an instance's CPUUtilization (default: the Services box) to <paramref name="percent"/>; null unpins.</summary>
    public void PinCpu(string region, double? percent, string? instanceId = null) => Locked(() =>
    {
        world.Tick();
        var r = world.Region(region);
        var id = instanceId ?? BoxId(r, null);
        if (percent is null)
        {
            r.CloudWatch.Cpu.Remove(id);
        }
        else
        {
            r.CloudWatch.Cpu[id] = percent.Value;
        }
    });

    /// <summary>
    /// Kills (<paramref name="running"/> false) or revives the CircleCI app on the Services box (default) while the instance
    /// keeps running: the flag <c>Instance.AppKilled</c>, read by the CloudWatch publisher (num-masters 0).
    /// </summary>
    public void SetAppRunning(string region, bool running, string? instanceId = null) => Locked(() =>
    {
        world.Tick();
        var r = world.Region(region);
        r.Instances[BoxId(r, instanceId)].AppKilled = !running;
    });

    /// <summary>Shorthand for <see cref="SetAppRunning"/> false.</summary>
    public void KillApp(string region = "us-east-1", string? instanceId = null) => SetAppRunning(region, false, instanceId);

    /// <summary>Shorthand for <see cref="SetAppRunning"/> true.</summary>
    public void ReviveApp(string region = "us-east-1", string? instanceId = null) => SetAppRunning(region, true, instanceId);

    /// <summary>True when the CircleCI app on the Services box runs (box running, checks pass, AZ up, app not killed).</summary>
    public bool AppRunning(string region = "us-east-1") => Locked(() =>
    {
        world.Tick();
        var r = world.Region(region);
        return CloudWatchPublisher.ServicesBox(r) is { } box && CloudWatchPublisher.AppRuns(r, box);
    });

    /// <summary>CircleCI reports <paramref name="count"/> leaked containers (ContainersLeaked) from the next minute.</summary>
    public void SetLeakedContainers(string region, double count) => Locked(() =>
    {
        world.Tick();
        world.Region(region).CloudWatch.LeakedContainers = Math.Max(0, count);
    });

    /// <summary>The namespace the simulated CircleCI app publishes into (default "CircleCI").</summary>
    public void SetCircleCiNamespace(string region, string metricNamespace) => Locked(() =>
    {
        ArgumentException.ThrowIfNullOrEmpty(metricNamespace);
        world.Tick();
        world.Region(region).CloudWatch.CircleCiNamespace = metricNamespace;
    });

    /// <summary>The builders the simulated app counts as connected (see CloudWatchPublisher.IsConnected).</summary>
    public IReadOnlyList<string> ConnectedBuilders(string region = "us-east-1") => Locked(() =>
    {
        world.Tick();
        var r = world.Region(region);
        var box = CloudWatchPublisher.ServicesBox(r);
        return box is null ? (IReadOnlyList<string>)[] : r.Instances.Values.Where(b => CloudWatchPublisher.IsConnected(world, r, b, box)).Select(b => b.Id).OrderBy(x => x, StringComparer.Ordinal).ToList();
    });

    /// <summary>The stored series of a region (optionally one namespace) with their newest point.</summary>
    public IReadOnlyList<MetricSeriesInfo> CloudWatchSeries(string region = "us-east-1", string? metricNamespace = null) => Locked(() =>
    {
        world.Tick();
        return world.Region(region).CloudWatch.Series.Values
            .Where(s => metricNamespace is null || s.Namespace == metricNamespace)
            .OrderBy(s => s.Key, StringComparer.Ordinal)
            .Select(s => new MetricSeriesInfo(
                s.Namespace,
                s.MetricName,
                s.Dimensions.ToDictionary(d => d.Key, d => d.Value, StringComparer.Ordinal),
                s.Samples.Count,
                s.Samples.Count == 0 ? null : s.Samples[^1].Timestamp,
                s.Samples.Count == 0 ? null : s.Samples[^1].Sum / Math.Max(1, s.Samples[^1].SampleCount)))
            .ToList();
    });

    private static List<KeyValuePair<string, string>> Dims(IReadOnlyDictionary<string, string>? d) =>
        (d ?? new Dictionary<string, string>()).OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => new KeyValuePair<string, string>(x.Key, x.Value)).ToList();

    private static string BoxId(RegionState r, string? instanceId)
    {
        if (instanceId is not null)
        {
            return r.Instances.ContainsKey(instanceId) ? instanceId : throw new ArgumentException($"no instance {instanceId} in {r.Name}", nameof(instanceId));
        }

        return CloudWatchPublisher.ServicesBox(r)?.Id ?? throw new InvalidOperationException($"no Services box (tag Name=circleci_services) in {r.Name}: seed first");
    }
}
