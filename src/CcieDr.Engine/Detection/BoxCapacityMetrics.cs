using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Aws.CloudWatch;

namespace CcieDr.Engine.Detection
{
    /// <summary>One capacity check (Cpu, Memory, Disk:/data, Disk:/) as CloudWatch has it over the window.</summary>
    public sealed class CapacityReading
    {
        public CapacityReading(string check, string metricNamespace, string metricName, MetricIdentity? metric, TimeSpan window, IReadOnlyList<MetricPoint> points, TimeSpan? age, string? error = null)
        {
            Check = check;
            Namespace = metricNamespace;
            MetricName = metricName;
            Metric = metric;
            Window = window;
            Points = points ?? Array.Empty<MetricPoint>();
            Age = age;
            Error = error;
        }

        /// <summary>The check row it feeds: Cpu, Memory, Disk:/data or Disk:/.</summary>
        public string Check { get; }

        public string Namespace { get; }

        public string MetricName { get; }

        /// <summary>The series read (exact dimensions, as ListMetrics listed it); null when CloudWatch has none for the box.</summary>
        public MetricIdentity? Metric { get; }

        public TimeSpan Window { get; }

        /// <summary>The 1-minute averages in the window, newest first.</summary>
        public IReadOnlyList<MetricPoint> Points { get; }

        /// <summary>How old the newest point is on CloudWatch's clock (null: no point in the window).</summary>
        public TimeSpan? Age { get; }

        /// <summary>Why CloudWatch could not be asked (null: it answered).</summary>
        public string? Error { get; }

        /// <summary>
        /// The value the check judges: for CPU and memory the average over the window (a sustained level, not a spike);
        /// for a disk the newest point (a disk fills, it does not average out).
        /// </summary>
        public double? Value => Points.Count == 0 ? null
            : Check.StartsWith("Disk:", StringComparison.Ordinal) ? Points.OrderByDescending(p => p.Timestamp).First().Value
            : Points.Average(p => p.Value);

        /// <summary>"AWS/EC2 CPUUtilization [InstanceId=i-…]" (the series), or namespace and name when there is none.</summary>
        public string Describe() => Metric?.ToString() ?? Namespace + " " + MetricName;
    }

    /// <summary>Which source a capacity check uses: CloudWatch when it has recent data, otherwise the box's remote shell.</summary>
    public static class CapacitySource
    {
        public const string CloudWatch = "cloudwatch";
        public const string Box = "box";

        /// <summary>
        /// A newest point older than this is stale (the agent or the instance stopped publishing). Ten minutes: EC2's basic
        /// monitoring sends CPUUtilization every 5 minutes and a few minutes late; the agent every minute by default.
        /// </summary>
        public static readonly TimeSpan DefaultStaleAfter = TimeSpan.FromMinutes(10);

        /// <summary>Null when the check should use <paramref name="reading"/>; otherwise why not (said in the row).</summary>
        public static string? WhyNotCloudWatch(CapacityReading? reading, TimeSpan staleAfter)
        {
            if (reading is null)
            {
                return "CloudWatch was not asked";
            }

            if (reading.Error is not null)
            {
                return $"CloudWatch could not be asked ({reading.Error})";
            }

            if (reading.Metric is null)
            {
                return reading.Namespace == "AWS/EC2"
                    ? $"CloudWatch has no {reading.Namespace} {reading.MetricName} for the box"
                    : $"CloudWatch has no {reading.Namespace} {reading.MetricName} for the box (the CloudWatch agent does not publish it)";
            }

            if (reading.Points.Count == 0 || reading.Age is null)
            {
                return $"CloudWatch has no {reading.Describe()} point in the last {Minutes(reading.Window)}";
            }

            if (reading.Age.Value > staleAfter)
            {
                return $"CloudWatch's newest {reading.Describe()} point is {Minutes(reading.Age.Value)} old (stale after {Minutes(staleAfter)}: the publisher stopped)";
            }

            return null;
        }

        /// <summary>What a CloudWatch-sourced row says about its data ("AWS/EC2 CPUUtilization [...]: average of 15 points over 15 min, newest 1 min old").</summary>
        public static string Describe(CapacityReading reading)
        {
            if (reading is null)
            {
                throw new ArgumentNullException(nameof(reading));
            }

            string how = reading.Check.StartsWith("Disk:", StringComparison.Ordinal) ? "newest point" : $"average of {reading.Points.Count} point{(reading.Points.Count == 1 ? string.Empty : "s")} over {Minutes(reading.Window)}";
            return $"CloudWatch {reading.Describe()}: {how}, newest {Minutes(reading.Age ?? TimeSpan.Zero)} old";
        }

        internal static string Minutes(TimeSpan t) =>
            t < TimeSpan.FromMinutes(1) ? string.Format(CultureInfo.InvariantCulture, "{0:0} s", Math.Max(0, t.TotalSeconds)) : string.Format(CultureInfo.InvariantCulture, "{0:0} min", t.TotalMinutes);
    }

    /// <summary>
    /// Reads the Services box's capacity from CloudWatch: <c>AWS/EC2 CPUUtilization</c> (dimension InstanceId) and the
    /// CloudWatch agent's <c>mem_used_percent</c> and <c>disk_used_percent</c> (namespace CWAgent unless the agent's
    /// configuration names another; dimensions InstanceId and, for disks, path, plus whatever else the agent appends:
    /// device, fstype, ImageId, InstanceType). The series are found with ListMetrics (a filter on InstanceId and path
    /// matches them whatever else they carry; the one with the fewest dimensions wins, i.e. an aggregation), then read
    /// in one GetMetricData call.
    /// </summary>
    public sealed class CloudWatchCapacityReader
    {
        public const string Ec2Namespace = "AWS/EC2";
        public const string DefaultAgentNamespace = "CWAgent";

        private readonly CloudWatchClient _client;

        public CloudWatchCapacityReader(CloudWatchClient client) => _client = client ?? throw new ArgumentNullException(nameof(client));

        /// <summary>One reading per check (Cpu, Memory, Disk:/data, Disk:/), keyed by the check's name.</summary>
        public async Task<IReadOnlyDictionary<string, CapacityReading>> ReadAsync(string instanceId, TimeSpan since, CancellationToken ct, string agentNamespace = DefaultAgentNamespace)
        {
            if (string.IsNullOrEmpty(instanceId))
            {
                throw new ArgumentException("An instance id is needed.", nameof(instanceId));
            }

            var wanted = new[]
            {
                (Check: "Cpu", Ns: Ec2Namespace, Name: "CPUUtilization", Path: (string?)null),
                (Check: "Memory", Ns: agentNamespace, Name: "mem_used_percent", Path: (string?)null),
                (Check: "Disk:/data", Ns: agentNamespace, Name: "disk_used_percent", Path: (string?)"/data"),
                (Check: "Disk:/", Ns: agentNamespace, Name: "disk_used_percent", Path: (string?)"/"),
            };

            var byInstance = new[] { new MetricDimension("InstanceId", instanceId) };
            var listed = new Dictionary<string, IReadOnlyList<MetricIdentity>>(StringComparer.Ordinal);
            foreach (var (ns, name) in wanted.Select(w => (w.Ns, w.Name)).Distinct())
            {
                listed[ns + " " + name] = await _client.ListMetricsAsync(ns, name, byInstance, ct).ConfigureAwait(false);
            }

            var series = new Dictionary<string, MetricIdentity?>(StringComparer.Ordinal);
            foreach (var w in wanted)
            {
                series[w.Check] = Pick(listed[w.Ns + " " + w.Name], instanceId, w.Path);
            }

            var queries = new List<(string Check, MetricDataQuery Query)>();
            foreach (var w in wanted)
            {
                if (series[w.Check] is MetricIdentity m)
                {
                    queries.Add((w.Check, new MetricDataQuery("q" + queries.Count.ToString(CultureInfo.InvariantCulture), m, 60, "Average")));
                }
            }

            DateTime now = DateTime.UtcNow + _client.ClockOffset;
            MetricDataResponse? data = null;
            if (queries.Count > 0)
            {
                data = await _client.GetMetricDataAsync(queries.Select(q => q.Query).ToList(), now - since, now.AddMinutes(1), ct).ConfigureAwait(false);
                now = data.ServerTime ?? now;
            }

            var result = new Dictionary<string, CapacityReading>(StringComparer.Ordinal);
            foreach (var w in wanted)
            {
                string? id = queries.Where(q => q.Check == w.Check).Select(q => q.Query.Id).FirstOrDefault();
                List<MetricPoint> points = (id is null ? null : data?[id]?.Points)?.Where(p => p.Timestamp >= now - since).OrderByDescending(p => p.Timestamp).ToList() ?? new List<MetricPoint>();
                TimeSpan? age = points.Count == 0 ? null : now - points[0].Timestamp < TimeSpan.Zero ? TimeSpan.Zero : now - points[0].Timestamp;
                result[w.Check] = new CapacityReading(w.Check, w.Ns, w.Name, series[w.Check], since, points, age);
            }

            return result;
        }

        /// <summary>Readings that say CloudWatch could not be asked (each check then falls back to the box).</summary>
        public static IReadOnlyDictionary<string, CapacityReading> Failed(string error, TimeSpan since, string agentNamespace = DefaultAgentNamespace) =>
            new Dictionary<string, CapacityReading>(StringComparer.Ordinal)
            {
                ["Cpu"] = new CapacityReading("Cpu", Ec2Namespace, "CPUUtilization", null, since, Array.Empty<MetricPoint>(), null, error),
                ["Memory"] = new CapacityReading("Memory", agentNamespace, "mem_used_percent", null, since, Array.Empty<MetricPoint>(), null, error),
                ["Disk:/data"] = new CapacityReading("Disk:/data", agentNamespace, "disk_used_percent", null, since, Array.Empty<MetricPoint>(), null, error),
                ["Disk:/"] = new CapacityReading("Disk:/", agentNamespace, "disk_used_percent", null, since, Array.Empty<MetricPoint>(), null, error),
            };

        /// <summary>The series of the box (and path) with the fewest dimensions; null when there is none.</summary>
        public static MetricIdentity? Pick(IEnumerable<MetricIdentity> listed, string instanceId, string? path) =>
            (listed ?? Enumerable.Empty<MetricIdentity>())
                .Where(m => m.Dimensions.Any(d => d.Name == "InstanceId" && d.Value == instanceId))
                .Where(m => path is null ? m.Dimensions.All(d => d.Name != "path") : m.Dimensions.Any(d => d.Name == "path" && d.Value == path))
                .OrderBy(m => m.Dimensions.Count)
                .ThenBy(m => m.ToString(), StringComparer.Ordinal)
                .FirstOrDefault();
    }
}
