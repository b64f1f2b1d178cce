using System.Net;

namespace CcieDr.Simulator.CloudWatch;

/// <summary>A CloudWatch API error: the real code, message, type and HTTP status.</summary>
internal sealed class CloudWatchError : Exception
{
    public CloudWatchError(string code, string message, HttpStatusCode status = HttpStatusCode.BadRequest, string type = "Sender")
        : base(message)
    {
        Code = code;
        Status = status;
        Type = type;
    }

    public string Code { get; }

    public HttpStatusCode Status { get; }

    /// <summary>Sender or Receiver.</summary>
    public string Type { get; }

    public static CloudWatchError Missing(string parameter) => new("MissingParameter", $"The parameter {parameter} is required.");

    public static CloudWatchError Invalid(string message) => new("InvalidParameterValue", message);
}

/// <summary>One stored value (PutMetricData Value, or a StatisticSet).</summary>
internal sealed record MetricSample(DateTime Timestamp, double Sum, double SampleCount, double Minimum, double Maximum, string? Unit)
{
    public static MetricSample Of(DateTime t, double v, string? unit = null) => new(t, v, 1, v, v, unit);
}

/// <summary>A metric series: namespace, name and an exact dimension set, with its samples (oldest first).</summary>
internal sealed class MetricSeries
{
    public required string Namespace { get; init; }

    public required string MetricName { get; init; }

    /// <summary>Dimensions sorted by name (CloudWatch treats the set as part of the identity).</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Dimensions { get; init; }

    public List<MetricSample> Samples { get; } = new();

    public string Key => SeriesKey(Namespace, MetricName, Dimensions);

    public static string SeriesKey(string ns, string name, IEnumerable<KeyValuePair<string, string>> dimensions) =>
        ns + "\n" + name + "\n" + string.Join("\n", dimensions.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => d.Key + "=" + d.Value));
}

/// <summary>The simulated publishers (what the world publishes by itself every simulated minute).</summary>
public static class CloudWatchPublishers
{
    /// <summary>AWS/EC2 CPUUtilization and StatusCheckFailed(_Instance/_System) of every running instance.</summary>
    public const string Ec2 = "ec2";

    /// <summary>The CloudWatch agent on the Services box: CWAgent mem_used_percent, disk_used_percent (path=/ and /data).</summary>
    public const string Agent = "cwagent";

    /// <summary>The CircleCI app on the Services box: circle.state.num-masters, run queue, containers, running builds.</summary>
    public const string CircleCi = "circleci";

    public static readonly IReadOnlyList<string> All = [Ec2, Agent, CircleCi];
}

/// <summary>CloudWatch state of one region: stored series, publisher switches, overrides and the simulated fleet's counters.</summary>
internal sealed class CloudWatchState
{
    /// <summary>Series by <see cref="MetricSeries.Key"/>.</summary>
    public Dictionary<string, MetricSeries> Series { get; } = new(StringComparer.Ordinal);

    /// <summary>The last whole minute the publishers wrote (null: not yet; the first tick backfills 10 minutes).</summary>
    public DateTime? LastPublished { get; set; }

    /// <summary>Publishers switched off (stale data): their metrics get no new points.</summary>
    public HashSet<string> Stopped { get; } = new(StringComparer.Ordinal);

    /// <summary>Pinned values by series key: published every minute instead of what the world implies.</summary>
    public Dictionary<string, (string Namespace, string MetricName, List<KeyValuePair<string, string>> Dimensions, double Value)> Pinned { get; } = new(StringComparer.Ordinal);

    /// <summary>The namespace CircleCI's app publishes into (Replicated setting; simulator default "CircleCI").</summary>
    public string CircleCiNamespace { get; set; } = "CircleCI";

    /// <summary>Per Services-box instance: disk used percent by path.</summary>
    public Dictionary<string, Dictionary<string, double>> Disk { get; } = new(StringComparer.Ordinal);

    /// <summary>Per instance: pinned CPU percent.</summary>
    public Dictionary<string, double> Cpu { get; } = new(StringComparer.Ordinal);

    /// <summary>Builds waiting in CircleCI's run queue.</summary>
    public double RunQueueBuilds { get; set; }

    /// <summary>Leaked containers CircleCI reports (set on request).</summary>
    public double LeakedContainers { get; set; }

    public MetricSeries SeriesFor(string ns, string name, IEnumerable<KeyValuePair<string, string>> dimensions)
    {
        var dims = dimensions.OrderBy(d => d.Key, StringComparer.Ordinal).ToList();
        var key = MetricSeries.SeriesKey(ns, name, dims);
        if (!Series.TryGetValue(key, out var s))
        {
            s = new MetricSeries { Namespace = ns, MetricName = name, Dimensions = dims };
            Series[key] = s;
        }

        return s;
    }

    /// <summary>Adds a sample, keeping samples in time order and dropping those older than 15 days.</summary>
    public void Add(string ns, string name, IEnumerable<KeyValuePair<string, string>> dimensions, MetricSample sample)
    {
        var s = SeriesFor(ns, name, dimensions);
        var i = s.Samples.Count;
        while (i > 0 && s.Samples[i - 1].Timestamp > sample.Timestamp)
        {
            i--;
        }

        s.Samples.Insert(i, sample);
        var cutoff = s.Samples[^1].Timestamp.AddDays(-15);
        var old = s.Samples.FindIndex(x => x.Timestamp >= cutoff);
        if (old > 0)
        {
            s.Samples.RemoveRange(0, old);
        }
    }
}

/// <summary>A view of a stored series for the control API and tests.</summary>
public sealed record MetricSeriesInfo(string Namespace, string MetricName, IReadOnlyDictionary<string, string> Dimensions, int Points, DateTime? LatestTimestamp, double? LatestValue);
