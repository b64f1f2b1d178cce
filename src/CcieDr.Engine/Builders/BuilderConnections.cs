using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Aws.CloudWatch;

namespace CcieDr.Engine.Builders
{
    /// <summary>
    /// How many builders the Services box sees, from CircleCI's CloudWatch metric circle.state.num-masters (1 + the
    /// connected builders while the app runs), for Restart-CcieBuilder's connected wait. The namespace is found by the
    /// metric's name (CircleCI's documentation names no namespace) unless given; the newest point of the last
    /// <see cref="Window"/>, with its timestamp and the service's clock, so a wait can insist on a point taken after
    /// the new builders were in service.
    /// </summary>
    public sealed class BuilderConnections
    {
        /// <summary>The metric's name as CircleCI publishes it (the same as Detection's CircleCiMetrics.NumMasters).</summary>
        public const string NumMasters = "circle.state.num-masters";

        private readonly CloudWatchClient _cloudWatch;
        private string? _namespace;

        public BuilderConnections(CloudWatchClient cloudWatch, string? metricNamespace = null)
        {
            _cloudWatch = cloudWatch ?? throw new ArgumentNullException(nameof(cloudWatch));
            _namespace = metricNamespace;
        }

        /// <summary>How far back a data point still counts. Default 10 minutes.</summary>
        public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(10);

        /// <summary>The builders the box sees now, by the newest data point (Connected null when there is none).</summary>
        public async Task<BuilderConnectionReading> ReadAsync(CancellationToken ct)
        {
            if (_namespace is null)
            {
                IReadOnlyList<MetricIdentity> found = await _cloudWatch.ListMetricsAsync(null, NumMasters, null, ct).ConfigureAwait(false);
                _namespace = found.Select(m => m.Namespace).OrderBy(n => n, StringComparer.Ordinal).FirstOrDefault();
                if (_namespace is null)
                {
                    return new BuilderConnectionReading(null, null, DateTime.UtcNow + _cloudWatch.ClockOffset);
                }
            }

            DateTime now = DateTime.UtcNow + _cloudWatch.ClockOffset;
            var query = new MetricDataQuery("numMasters", new MetricIdentity(_namespace, NumMasters, null), 60, "Minimum");
            MetricDataResponse data = await _cloudWatch.GetMetricDataAsync(new[] { query }, now - Window, now.AddMinutes(1), ct).ConfigureAwait(false);
            now = data.ServerTime ?? DateTime.UtcNow + _cloudWatch.ClockOffset;
            MetricPoint? latest = data[query.Id]?.Points.OrderByDescending(p => p.Timestamp).FirstOrDefault();
            return latest is null
                ? new BuilderConnectionReading(null, null, now)
                : new BuilderConnectionReading(Math.Max(0, (int)Math.Round(latest.Value) - 1), latest.Timestamp, now);
        }
    }
}
