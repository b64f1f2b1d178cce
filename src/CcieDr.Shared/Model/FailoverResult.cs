using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>Outcome of Invoke-CcieFailover (PSTypeName <c>CcieDr.FailoverResult</c>).</summary>
    public sealed class FailoverResult
    {
        internal FailoverResult()
        {
        }

        public string Region { get; internal set; } = string.Empty;

        /// <summary>The new Services box (the promoted replica).</summary>
        public string InstanceId { get; internal set; } = string.Empty;

        /// <summary>The old primary, now fenced.</summary>
        public string OldPrimaryInstanceId { get; internal set; } = string.Empty;

        /// <summary>The IP builders reach the new box on.</summary>
        public string? PrivateIpAddress { get; internal set; }

        /// <summary>FloatingIp, MovableEni or NewIp.</summary>
        public string Mode { get; internal set; } = string.Empty;

        public string ModeDescription { get; internal set; } = string.Empty;

        /// <summary>Succeeded, or Incomplete when steps are left to the operator.</summary>
        public string Status { get; internal set; } = string.Empty;

        public bool Planned { get; internal set; }

        /// <summary>How the old primary was fenced: AlreadyStopped, Stopped, ForceStopped or AssumedDead.</summary>
        public string Fencing { get; internal set; } = string.Empty;

        /// <summary>True when the operator passed -AssumePrimaryDead and it was used.</summary>
        public bool AssumedPrimaryDead { get; internal set; }

        /// <summary>Health verdict of the new box after the start.</summary>
        public string? Health { get; internal set; }

        /// <summary>Measured recovery time: start of the run to the verified new box.</summary>
        public TimeSpan Rto { get; internal set; }

        /// <summary>True when this run continued an interrupted one.</summary>
        public bool Resumed { get; internal set; }

        /// <summary>What the operator still has to do (exact commands).</summary>
        public IReadOnlyList<string> StepsLeft { get; internal set; } = Array.Empty<string>();

        public IReadOnlyList<TimelineEntry> Timeline { get; internal set; } = Array.Empty<TimelineEntry>();

        public override string ToString() => InstanceId;
    }
}
