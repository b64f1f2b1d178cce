using System;

namespace CcieDr
{
    /// <summary>One step of a long operation: what was done, to what, when, and how it ended.</summary>
    public sealed class TimelineEntry
    {
        internal TimelineEntry()
        {
        }

        /// <summary>1-based position in the operation.</summary>
        public int Step { get; internal set; }

        /// <summary>What was done, e.g. "ec2:RegisterImage" or "wait:instance-status-ok".</summary>
        public string Action { get; internal set; } = string.Empty;

        /// <summary>The resource the step acted on, once known.</summary>
        public string? Target { get; internal set; }

        public DateTime Started { get; internal set; }

        public DateTime? Ended { get; internal set; }

        public TimeSpan? Duration => Ended is null ? (TimeSpan?)null : Ended.Value - Started;

        /// <summary>Succeeded, Failed, Skipped or Reused (an earlier run's resource was found and reused).</summary>
        public string Outcome { get; internal set; } = "Running";

        public string? Detail { get; internal set; }

        public override string ToString() => $"{Step}. {Action} {Target} {Outcome}";
    }
}
