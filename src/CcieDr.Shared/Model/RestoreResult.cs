using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>Outcome of Restore-CcieServicesBox: the new box, what it came from, and a timeline of every step.</summary>
    public sealed class RestoreResult
    {
        internal RestoreResult()
        {
        }

        public string Region { get; internal set; } = string.Empty;

        /// <summary>The new instance (pipes into Get-CcieServicesBox -InstanceId).</summary>
        public string InstanceId { get; internal set; } = string.Empty;

        public string? PrivateIpAddress { get; internal set; }

        public string? SubnetId { get; internal set; }

        public string? AvailabilityZone { get; internal set; }

        public string? ImageId { get; internal set; }

        public string RecoveryPointId { get; internal set; } = string.Empty;

        /// <summary>True when the box kept the recovery point's private IP (builders need no change).</summary>
        public bool PrivateIpPreserved { get; internal set; }

        /// <summary>Succeeded, or Failed with the timeline showing where.</summary>
        public string Status { get; internal set; } = string.Empty;

        public DateTime Started { get; internal set; }

        public DateTime Completed { get; internal set; }

        /// <summary>Wall-clock recovery time of this restore (Completed - Started).</summary>
        public TimeSpan Duration => Completed - Started;

        public IReadOnlyList<TimelineEntry> Timeline { get; internal set; } = Array.Empty<TimelineEntry>();

        public IReadOnlyList<string> Warnings { get; internal set; } = Array.Empty<string>();

        public override string ToString() => InstanceId;
    }
}
