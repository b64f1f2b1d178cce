using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using System.Xml.Linq;
using CcieDr.Engine.Aws.Query;

namespace CcieDr.Engine.Aws.CloudWatch
{
    /// <summary>
    /// A minimal hand-written CloudWatch client (no AWSSDK.CloudWatch package is served): GetMetricData, ListMetrics
    /// and PutMetricData over the Query protocol (version 2010-08-01), through the shared <see cref="QueryClient"/>
    /// (signing, retries, error mapping, paging). Only the calls CcieDr needs, and only the members it uses.
    /// </summary>
    public sealed class CloudWatchClient : IDisposable
    {
        private readonly QueryClient _query;

        public CloudWatchClient(QueryClient query) => _query = query ?? throw new ArgumentNullException(nameof(query));

        /// <summary>A client configured like <paramref name="factory"/>'s SDK clients.</summary>
        public static CloudWatchClient Create(AwsClientFactory factory, string? region = null) =>
            new CloudWatchClient(QueryClient.Create(factory, QueryService.CloudWatch, region));

        public string Region => _query.Region;

        /// <summary>The service's clock at its last answer minus ours (zero until the first answer with a Date header).</summary>
        public TimeSpan ClockOffset { get; private set; }

        /// <summary>
        /// GetMetricData: the points of every query between <paramref name="start"/> and <paramref name="end"/>, all pages
        /// (NextToken) merged per query id. <paramref name="scanBy"/>: TimestampDescending (newest first, the default) or
        /// TimestampAscending.
        /// </summary>
        public async Task<MetricDataResponse> GetMetricDataAsync(
            IReadOnlyCollection<MetricDataQuery> queries, DateTime start, DateTime end, CancellationToken ct, string scanBy = "TimestampDescending", int? maxDatapoints = null)
        {
            if (queries is null || queries.Count == 0)
            {
                throw new ArgumentException("GetMetricData needs at least one query.", nameof(queries));
            }

            var request = new QueryRequest("GetMetricData");
            request.SetMembers("MetricDataQueries", queries, (q, item) => q
                .Set("Id", item.Id)
                .Set("Label", item.Label)
                .SetStructure("MetricStat", s => s
                    .SetStructure("Metric", m => SetMetric(m, item.Metric))
                    .Set("Period", (long)item.Period)
                    .Set("Stat", item.Stat)));
            request.Set("StartTime", start).Set("EndTime", end).Set("ScanBy", scanBy).Set("MaxDatapoints", (long?)maxDatapoints);

            var order = new List<string>();
            var points = new Dictionary<string, List<MetricPoint>>(StringComparer.Ordinal);
            var labels = new Dictionary<string, string?>(StringComparer.Ordinal);
            var status = new Dictionary<string, string>(StringComparer.Ordinal);
            var messages = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            DateTime? serverTime = null;
            IReadOnlyList<XElement> members = await _query.ListAllAsync(
                request,
                page =>
                {
                    serverTime = page.ServerTime ?? serverTime;
                    Learn(page);
                    return page.Result.Members("MetricDataResults");
                },
                ct,
                string.Join(", ", queries.Select(q => q.Metric.MetricName).Distinct())).ConfigureAwait(false);

            foreach (XElement m in members)
            {
                string id = m.Text("Id") ?? string.Empty;
                if (!points.TryGetValue(id, out List<MetricPoint>? list))
                {
                    order.Add(id);
                    list = new List<MetricPoint>();
                    points[id] = list;
                    messages[id] = new List<string>();
                }

                labels[id] = m.Text("Label") ?? (labels.TryGetValue(id, out string? l) ? l : null);
                status[id] = m.Text("StatusCode") ?? "Complete";
                List<XElement> stamps = m.Members("Timestamps").ToList();
                List<XElement> values = m.Members("Values").ToList();
                for (int i = 0; i < Math.Min(stamps.Count, values.Count); i++)
                {
                    list.Add(new MetricPoint(QueryXml.ParseTimestamp(stamps[i].Value), double.Parse(values[i].Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture)));
                }

                messages[id].AddRange(m.Members("Messages").Select(x => x.Text("Code") + ": " + x.Text("Value")));
            }

            return new MetricDataResponse(
                order.Select(id => new MetricDataResult(id, labels[id], status[id], points[id], messages[id])).ToList(),
                serverTime);
        }

        /// <summary>
        /// ListMetrics: every metric (all pages) matching the namespace, name and dimension filters (null: any; a
        /// filter dimension without value matches any value). <paramref name="recentlyActive"/>: only those with data
        /// in the past three hours (RecentlyActive=PT3H).
        /// </summary>
        public Task<IReadOnlyList<MetricIdentity>> ListMetricsAsync(
            string? metricNamespace, string? metricName, IEnumerable<MetricDimension>? dimensions, CancellationToken ct, bool recentlyActive = false)
        {
            var request = new QueryRequest("ListMetrics");
            request.Set("Namespace", metricNamespace).Set("MetricName", metricName);
            request.SetMembers("Dimensions", dimensions, (d, item) => d.Set("Name", item.Name).Set("Value", item.Value));
            request.Set("RecentlyActive", recentlyActive ? "PT3H" : null);
            return _query.ListAllAsync(
                request,
                page =>
                {
                    Learn(page);
                    return page.Result.Members("Metrics").Select(ReadMetric);
                },
                ct,
                metricNamespace);
        }

        /// <summary>PutMetricData: writes <paramref name="data"/> (at most 1000 values per call) into <paramref name="metricNamespace"/>.</summary>
        public async Task PutMetricDataAsync(string metricNamespace, IReadOnlyCollection<MetricDatum> data, CancellationToken ct)
        {
            if (string.IsNullOrEmpty(metricNamespace))
            {
                throw new ArgumentException("A namespace is required.", nameof(metricNamespace));
            }

            var request = new QueryRequest("PutMetricData");
            request.Set("Namespace", metricNamespace);
            request.SetMembers("MetricData", data, (m, d) =>
            {
                m.Set("MetricName", d.MetricName);
                m.SetMembers("Dimensions", d.Dimensions, (x, dim) => x.Set("Name", dim.Name).Set("Value", dim.Value));
                m.Set("Timestamp", d.Timestamp).Set("Value", d.Value).Set("Unit", d.Unit);
            });
            Learn(await _query.SendAsync(request, ct, metricNamespace).ConfigureAwait(false));
        }

        /// <inheritdoc/>
        public void Dispose() => _query.Dispose();

        private static void SetMetric(QueryParameters m, MetricIdentity metric)
        {
            m.Set("Namespace", metric.Namespace).Set("MetricName", metric.MetricName);
            m.SetMembers("Dimensions", metric.Dimensions, (d, item) => d.Set("Name", item.Name).Set("Value", item.Value));
        }

        private static MetricIdentity ReadMetric(XElement m) => new MetricIdentity(
            m.Text("Namespace") ?? string.Empty,
            m.Text("MetricName") ?? string.Empty,
            m.Members("Dimensions").Select(d => new MetricDimension(d.Text("Name") ?? "?", d.Text("Value"))));

        private void Learn(QueryResponse page)
        {
            if (page.ServerTime is DateTime t)
            {
                ClockOffset = t - DateTime.UtcNow;
            }
        }
    }
}
