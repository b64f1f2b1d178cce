using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>Outcome of Test-CcieRecovery: did the recovery point boot into a working box, how long it took (RTO), how old it was (RPO).</summary>
    public sealed class RecoveryDrillResult
    {
        internal RecoveryDrillResult()
        {
        }

        /// <summary>The drill's id: the value of the ccie:drill tag on everything it created.</summary>
        public string DrillId { get; internal set; } = string.Empty;

        public string Region { get; internal set; } = string.Empty;

        public string RecoveryPointId { get; internal set; } = string.Empty;

        /// <summary>Passed, Failed or Cancelled.</summary>
        public string Verdict { get; internal set; } = string.Empty;

        /// <summary>Why it failed (or was cancelled); empty when it passed.</summary>
        public string? Reason { get; internal set; }

        /// <summary>Recovery time: from the start of the drill until the restored box passed every check. Null when it never did.</summary>
        public TimeSpan? Rto { get; internal set; }

        /// <summary>Recovery point age when the drill started: the data a real restore of it would lose.</summary>
        public TimeSpan Rpo { get; internal set; }

        public DateTime Started { get; internal set; }

        public DateTime Completed { get; internal set; }

        /// <summary>The throw-away box (never the production IP).</summary>
        public string? InstanceId { get; internal set; }

        public string? PrivateIpAddress { get; internal set; }

        public string? SubnetId { get; internal set; }

        /// <summary>True when the drill ran in a temporary security group that admits only its own checks and allows no other egress.</summary>
        public bool Isolated { get; internal set; }

        public IReadOnlyList<RecoveryDrillCheck> Checks { get; internal set; } = Array.Empty<RecoveryDrillCheck>();

        /// <summary>Everything the drill created, and whether it was removed.</summary>
        public IReadOnlyList<RecoveryDrillResource> Resources { get; internal set; } = Array.Empty<RecoveryDrillResource>();

        /// <summary>True when resources were kept (-KeepOnFailure); Remove-CcieDrill -DrillId removes them later.</summary>
        public bool ResourcesKept { get; internal set; }

        /// <summary>True when the outcome was written onto the recovery point's snapshots (tags ccie:drill-*).</summary>
        public bool Recorded { get; internal set; }

        public string? ReportPath { get; internal set; }

        public IReadOnlyList<TimelineEntry> Timeline { get; internal set; } = Array.Empty<TimelineEntry>();

        public IReadOnlyList<string> Warnings { get; internal set; } = Array.Empty<string>();

        public override string ToString() => $"{DrillId} {Verdict}";
    }

    /// <summary>One check a drill made of the restored box.</summary>
    public sealed class RecoveryDrillCheck
    {
        public RecoveryDrillCheck(string name, string status, string? detail = null)
        {
            Name = name;
            Status = status;
            Detail = detail;
        }

        public string Name { get; }

        /// <summary>Pass, Warn, Fail or Unknown.</summary>
        public string Status { get; }

        public string? Detail { get; }

        public override string ToString() => $"{Name} {Status}";
    }

    /// <summary>A resource a drill created (or, for Remove-CcieDrill, found).</summary>
    public sealed class RecoveryDrillResource
    {
        internal RecoveryDrillResource()
        {
        }

        public string DrillId { get; internal set; } = string.Empty;

        public string Region { get; internal set; } = string.Empty;

        /// <summary>instance, volume, image or security-group.</summary>
        public string Kind { get; internal set; } = string.Empty;

        public string Id { get; internal set; } = string.Empty;

        public string? State { get; internal set; }

        public bool Removed { get; internal set; }

        /// <summary>Why it could not be removed (empty when removed or not tried).</summary>
        public string? Error { get; internal set; }

        public override string ToString() => $"{Kind} {Id}";
    }
}
