using System;
using System.Collections.Generic;
using System.Linq;

namespace CcieDr.Engine.Aws.CloudWatch
{
    /// <summary>A CloudWatch dimension (name and value). In a ListMetrics filter the value may be null (any value).</summary>
    public sealed class MetricDimension
    {
        public MetricDimension(string name, string? value)
        {
            Name = string.IsNullOrEmpty(name) ? throw new ArgumentException("A dimension needs a name.", nameof(name)) : name;
            Value = value;
        }

        public string Name { get; }

        public string? Value { get; }

        public override string ToString() => Value is null ? Name : Name + "=" + Value;
    }

    /// <summary>A metric: namespace, name and dimensions (what ListMetrics returns and GetMetricData asks for).</summary>
    public sealed class MetricIdentity
    {
        public MetricIdentity(string metricNamespace, string metricName, IEnumerable<MetricDimension>? dimensions = null)
        {
            Namespace = metricNamespace ?? throw new ArgumentNullException(nameof(metricNamespace));
            MetricName = metricName ?? throw new ArgumentNullException(nameof(metricName));
            Dimensions = (dimensions ?? Enumerable.Empty<MetricDimension>()).ToList();
        }

        public string Namespace { get; }

        public string MetricName { get; }

        public IReadOnlyList<MetricDimension> Dimensions { get; }

        public override string ToString() =>
            Namespace + " " + MetricName + (Dimensions.Count == 0 ? string.Empty : " [" + string.Join(", ", Dimensions) + "]");
    }

    /// <summary>One query of a GetMetricData call (a MetricStat: metric, period, statistic).</summary>
    public sealed class MetricDataQuery
    {
        /// <param name="id">The query's id: a lower-case letter, then letters, digits and '_'.</param>
        /// <param name="metric">The metric.</param>
        /// <param name="period">Seconds per data point (60, or a multiple of 60; 1/5/10/30 for high resolution).</param>
        /// <param name="stat">Average, Maximum, Minimum, Sum, SampleCount (or a percentile such as p99).</param>
        public MetricDataQuery(string id, MetricIdentity metric, int period, string stat)
        {
            Id = id ?? throw new ArgumentNullException(nameof(id));
            Metric = metric ?? throw new ArgumentNullException(nameof(metric));
            Period = period;
            Stat = stat ?? throw new ArgumentNullException(nameof(stat));
        }

        public string Id { get; }

        public MetricIdentity Metric { get; }

        public int Period { get; }

        public string Stat { get; }

        public string? Label { get; set; }
    }

    /// <summary>One data point: its timestamp (UTC) and value.</summary>
    public sealed class MetricPoint
    {
        public MetricPoint(DateTime timestamp, double value)
        {
            Timestamp = timestamp;
            Value = value;
        }

        public DateTime Timestamp { get; }

        public double Value { get; }
    }

    /// <summary>The answer to one query of GetMetricData, every page merged.</summary>
    public sealed class MetricDataResult
    {
        public MetricDataResult(string id, string? label, string statusCode, IReadOnlyList<MetricPoint> points, IReadOnlyList<string> messages)
        {
            Id = id;
            Label = label;
            StatusCode = statusCode;
            Points = points;
            Messages = messages;
        }

        public string Id { get; }

        public string? Label { get; }

        /// <summary>Complete, PartialData, InternalError or Forbidden (of the last page).</summary>
        public string StatusCode { get; }

        /// <summary>Points in the order the service sent them (ScanBy).</summary>
        public IReadOnlyList<MetricPoint> Points { get; }

        /// <summary>The service's messages for this query ("Code: Value").</summary>
        public IReadOnlyList<string> Messages { get; }
    }

    /// <summary>The answer of GetMetricData: the results, and the service's clock when it answered (if known).</summary>
    public sealed class MetricDataResponse
    {
        public MetricDataResponse(IReadOnlyList<MetricDataResult> results, DateTime? serverTime)
        {
            Results = results;
            ServerTime = serverTime;
        }

        public IReadOnlyList<MetricDataResult> Results { get; }

        public DateTime? ServerTime { get; }

        /// <summary>The result of query <paramref name="id"/>, or null.</summary>
        public MetricDataResult? this[string id] => Results.FirstOrDefault(r => r.Id == id);
    }

    /// <summary>One value PutMetricData writes.</summary>
    public sealed class MetricDatum
    {
        public MetricDatum(string metricName, double value, DateTime? timestamp = null, IEnumerable<MetricDimension>? dimensions = null, string? unit = null)
        {
            MetricName = metricName ?? throw new ArgumentNullException(nameof(metricName));
            Value = value;
            Timestamp = timestamp;
            Dimensions = (dimensions ?? Enumerable.Empty<MetricDimension>()).ToList();
            Unit = unit;
        }

        public string MetricName { get; }

        public double Value { get; }

        public DateTime? Timestamp { get; }

        public IReadOnlyList<MetricDimension> Dimensions { get; }

        public string? Unit { get; }
    }
}
