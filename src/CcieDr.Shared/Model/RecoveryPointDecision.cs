using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>
    /// What Remove-CcieSnapshot decided for one recovery point and why: which rule keeps it, or why it goes.
    /// Emitted with -WhatIf (Outcome WhatIf) and -PassThru.
    /// </summary>
    public sealed class RecoveryPointDecision
    {
        internal RecoveryPointDecision()
        {
        }

        public string RecoveryPointId { get; internal set; } = string.Empty;

        public string Region { get; internal set; } = string.Empty;

        /// <summary>Name tag of the box the point belongs to (retention is applied per box).</summary>
        public string? BoxName { get; internal set; }

        public DateTime Created { get; internal set; }

        /// <summary>The point's state: pending, completed, error, incomplete.</summary>
        public string State { get; internal set; } = string.Empty;

        /// <summary>Keep or Remove.</summary>
        public string Action { get; internal set; } = string.Empty;

        /// <summary>WhatIf (nothing done), Kept, Removed, Failed, or Declined (answered No at the confirmation).</summary>
        public string Outcome { get; internal set; } = string.Empty;

        /// <summary>Why: the keep rules that keep it (keep-daily 2026-11-27, within 30d, newest completed, used by AMI ...) or why it goes.</summary>
        public IReadOnlyList<string> Reasons { get; internal set; } = Array.Empty<string>();

        public string Reason => string.Join(", ", Reasons);

        public IReadOnlyList<string> SnapshotIds { get; internal set; } = Array.Empty<string>();

        /// <summary>AMIs that still use a snapshot of the point (such a point is never deleted).</summary>
        public IReadOnlyList<string> ImageIds { get; internal set; } = Array.Empty<string>();

        /// <summary>The failure when Outcome is Failed.</summary>
        public string? Error { get; internal set; }

        public RecoveryPoint? RecoveryPoint { get; internal set; }

        public override string ToString() => $"{Action} {RecoveryPointId} ({Reason})";
    }
}
