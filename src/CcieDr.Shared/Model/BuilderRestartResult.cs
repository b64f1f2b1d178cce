using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>What Restart-CcieBuilder did: which builders it replaced with which, how, in how many batches, and when.</summary>
    public sealed class BuilderRestartResult
    {
        internal BuilderRestartResult()
        {
        }

        public string Region { get; internal set; } = string.Empty;

        public string AutoScalingGroupName { get; internal set; } = string.Empty;

        /// <summary>InstanceRefresh (Auto Scaling replaced them) or Rolling (CcieDr's own raise-wait-terminate loop).</summary>
        public string Method { get; internal set; } = string.Empty;

        /// <summary>All, Stale or Instances.</summary>
        public string Selection { get; internal set; } = string.Empty;

        /// <summary>The configuration new builders come from ("lt-… version 4" or a launch configuration name).</summary>
        public string? Configuration { get; internal set; }

        public int DesiredCapacity { get; internal set; }

        public int BatchSize { get; internal set; }

        /// <summary>Batches done (of <see cref="BatchesPlanned"/>).</summary>
        public int Batches { get; internal set; }

        public int BatchesPlanned { get; internal set; }

        /// <summary>The builders that were (or, for an instance refresh, were to be) replaced.</summary>
        public IReadOnlyList<string> Replaced { get; internal set; } = Array.Empty<string>();

        /// <summary>The builders launched in their place (own loop; for a refresh, the members on the new configuration at the end).</summary>
        public IReadOnlyList<string> Launched { get; internal set; } = Array.Empty<string>();

        /// <summary>The fewest builders seen in service at any poll during the run.</summary>
        public int MinInService { get; internal set; }

        public string? InstanceRefreshId { get; internal set; }

        /// <summary>Completed, NothingToDo, or Stopped (Ctrl+C / a failure: a rerun continues).</summary>
        public string Status { get; internal set; } = string.Empty;

        /// <summary>Whether the new builders were checked as connected to the Services box (CloudWatch circle.state.num-masters), and how.</summary>
        public string ConnectionCheck { get; internal set; } = string.Empty;

        public IReadOnlyList<string> Warnings { get; internal set; } = Array.Empty<string>();

        public IReadOnlyList<TimelineEntry> Timeline { get; internal set; } = Array.Empty<TimelineEntry>();

        public TimeSpan Duration { get; internal set; }

        public override string ToString() => $"{AutoScalingGroupName}: {Status}, {Replaced.Count} replaced in {Batches} batch(es) by {Method}";
    }
}
