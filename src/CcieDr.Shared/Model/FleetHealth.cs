using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>
    /// The builder fleet's health as CircleCI's CloudWatch metrics and EC2 see it. Emitted by Get-CcieFleetHealth.
    /// </summary>
    public sealed class FleetHealth
    {
        internal FleetHealth()
        {
        }

        public string Region { get; internal set; } = string.Empty;

        /// <summary>Outage, NoBuilders, NotConnected, Degraded, Healthy or MetricsMissing.</summary>
        public string Verdict { get; internal set; } = string.Empty;

        /// <summary>Why, one sentence each, most important first.</summary>
        public IReadOnlyList<string> Reasons { get; internal set; } = Array.Empty<string>();

        /// <summary>What to do about it.</summary>
        public string SuggestedAction { get; internal set; } = string.Empty;

        /// <summary>The CloudWatch namespace read (given with -Namespace or found by the metric's name); null when none was found.</summary>
        public string? Namespace { get; internal set; }

        /// <summary>Newest circle.state.num-masters (the Services box's web host counts as one); null when there is none.</summary>
        public double? NumMasters { get; internal set; }

        /// <summary>Builders the app sees: num-masters − 1 (null when unknown).</summary>
        public int? BuildersSeenByApp { get; internal set; }

        /// <summary>Running EC2 instances tagged aws:autoscaling:groupName (the builders AWS runs).</summary>
        public int BuildersRunning { get; internal set; }

        public IReadOnlyList<string> BuilderInstanceIds { get; internal set; } = Array.Empty<string>();

        /// <summary>The Auto Scaling groups those builders belong to.</summary>
        public IReadOnlyList<string> AutoScalingGroupNames { get; internal set; } = Array.Empty<string>();

        /// <summary>The Services box's private IPs (what builders' SERVICES_PRIVATE_IP must name); empty when the box was not found.</summary>
        public IReadOnlyList<string> ServicesPrivateIps { get; internal set; } = Array.Empty<string>();

        /// <summary>Running builders launched with a SERVICES_PRIVATE_IP that is not the box's (instance id = the IP in its user data).</summary>
        public IReadOnlyDictionary<string, string> BuildersWithOtherServicesIp { get; internal set; } = new Dictionary<string, string>();

        public double? RunQueueBuilds { get; internal set; }

        public double? ContainersLeaked { get; internal set; }

        /// <summary>Each metric read, with its newest value and age.</summary>
        public IReadOnlyList<FleetMetric> Metrics { get; internal set; } = Array.Empty<FleetMetric>();

        /// <summary>"Now" on CloudWatch's clock when the metrics were read.</summary>
        public DateTime CheckedAt { get; internal set; }

        public TimeSpan StaleAfter { get; internal set; }

        public TimeSpan Since { get; internal set; }

        public override string ToString() => Verdict + ": " + string.Join(" ", Reasons);
    }

    /// <summary>One CloudWatch metric as Get-CcieFleetHealth read it.</summary>
    public sealed class FleetMetric
    {
        internal FleetMetric()
        {
        }

        public string Namespace { get; internal set; } = string.Empty;

        public string MetricName { get; internal set; } = string.Empty;

        /// <summary>The dimensions of the series read ("Name=Value, …"), empty when it has none.</summary>
        public string Dimensions { get; internal set; } = string.Empty;

        /// <summary>The newest value in the window (Maximum over 60 s), or null.</summary>
        public double? Value { get; internal set; }

        public DateTime? Timestamp { get; internal set; }

        /// <summary>How old the newest value is, on CloudWatch's clock.</summary>
        public TimeSpan? Age { get; internal set; }

        /// <summary>Ok, Stale (older than -StaleAfter), NoData (listed, nothing in the window) or Missing (never published).</summary>
        public string Status { get; internal set; } = string.Empty;

        /// <summary>Oldest value in the window (for trends such as a growing queue), or null.</summary>
        public double? FirstValue { get; internal set; }
    }
}
