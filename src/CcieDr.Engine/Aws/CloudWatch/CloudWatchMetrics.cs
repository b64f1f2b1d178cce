using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace CcieDr.Engine.Aws.CloudWatch
{
    /// <summary>The newest value of one metric, or why there is none.</summary>
    public sealed class MetricReading
    {
        public MetricReading(MetricIdentity metric, string stat, bool listed, MetricPoint? latest, DateTime now)
        {
            Metric = metric;
            Stat = stat;
            Listed = listed;
            Latest = latest;
            Now = now;
        }

        public MetricIdentity Metric { get; }

        public string Stat { get; }

        /// <summary>True when ListMetrics knows the metric (it was published within the last two weeks).</summary>
        public bool Listed { get; }

        /// <summary>The newest data point in the window, or null when there is none.</summary>
        public MetricPoint? Latest { get; }

        /// <summary>"Now" on the service's clock when it answered (the age is measured against it).</summary>
        public DateTime Now { get; }

        public double? Value => Latest?.Value;

        public DateTime? Timestamp => Latest?.Timestamp;

        /// <summary>How old the newest point is (never negative), or null when there is none.</summary>
        public TimeSpan? Age => Latest is null ? null : Now - Latest.Timestamp < TimeSpan.Zero ? TimeSpan.Zero : Now - Latest.Timestamp;
    }

    /// <summary>
    /// Reading current values from CloudWatch for health checks (Services box CPU/memory/disk, CircleCI's fleet
    /// metrics): the newest point of a metric within a window, measured on the service's clock.
    /// </summary>
    public sealed class CloudWatchMetrics
    {
        private readonly CloudWatchClient _client;

        public CloudWatchMetrics(CloudWatchClient client) => _client = client ?? throw new ArgumentNullException(nameof(client));

        /// <summary>The client (for ListMetrics and raw GetMetricData).</summary>
        public CloudWatchClient Client => _client;

        /// <summary>
        /// The newest <paramref name="stat"/> of the metric over <paramref name="period"/>-second periods within the last
        /// <paramref name="since"/>. ListMetrics first (does the metric exist at all, and the service's clock), then
        /// GetMetricData newest first.
        /// </summary>
        public async Task<MetricReading> GetLatestAsync(
            string metricNamespace, string metricName, IEnumerable<MetricDimension>? dimensions, TimeSpan since, string stat, CancellationToken ct, int period = 60)
        {
            var metric = new MetricIdentity(metricNamespace, metricName, dimensions);
            IReadOnlyDictionary<string, MetricReading> all = await GetLatestAsync(new[] { metric }, since, stat, ct, period).ConfigureAwait(false);
            return all.Values.First();
        }

        /// <summary>The newest value of each of <paramref name="metrics"/> in one GetMetricData call (keyed by <see cref="MetricIdentity.ToString"/>).</summary>
        public async Task<IReadOnlyDictionary<string, MetricReading>> GetLatestAsync(
            IReadOnlyList<MetricIdentity> metrics, TimeSpan since, string stat, CancellationToken ct, int period = 60)
        {
            if (metrics is null || metrics.Count == 0)
            {
                throw new ArgumentException("At least one metric is needed.", nameof(metrics));
            }

            var listed = new HashSet<string>(StringComparer.Ordinal);
            foreach (IGrouping<string, MetricIdentity> ns in metrics.GroupBy(m => m.Namespace))
            {
                foreach (MetricIdentity m in await _client.ListMetricsAsync(ns.Key, null, null, ct).ConfigureAwait(false))
                {
                    listed.Add(Key(m));
                }
            }

            DateTime now = DateTime.UtcNow + _client.ClockOffset;
            var queries = metrics.Select((m, i) => new MetricDataQuery("m" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), m, period, stat)).ToList();
            MetricDataResponse data = await _client.GetMetricDataAsync(queries, now - since, now.AddMinutes(1), ct).ConfigureAwait(false);
            now = data.ServerTime ?? now;
            var result = new Dictionary<string, MetricReading>(StringComparer.Ordinal);
            for (int i = 0; i < metrics.Count; i++)
            {
                MetricPoint? latest = data[queries[i].Id]?.Points.OrderByDescending(p => p.Timestamp).FirstOrDefault();
                result[metrics[i].ToString()] = new MetricReading(metrics[i], stat, listed.Contains(Key(metrics[i])), latest, now);
            }

            return result;
        }

        private static string Key(MetricIdentity m) =>
            m.Namespace + "\n" + m.MetricName + "\n" + string.Join("\n", m.Dimensions.OrderBy(d => d.Name, StringComparer.Ordinal).Select(d => d.Name + "=" + d.Value));
    }
}
