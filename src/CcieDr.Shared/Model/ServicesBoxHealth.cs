using System;
using System.Collections.Generic;
using System.Linq;

namespace CcieDr
{
    /// <summary>One check of Test-CcieServicesBox: what was seen, against which threshold, and why it passed or not.</summary>
    public sealed class ServicesBoxCheck
    {
        internal ServicesBoxCheck()
        {
        }

        /// <summary>Ec2State, SystemStatus, InstanceStatus, ScheduledEvents, Cpu, Memory, Disk:/data, Disk:/, Port80, Port443, Port4434, Port8800, AppState.</summary>
        public string Name { get; internal set; } = string.Empty;

        /// <summary>Pass, Warn, Fail or Unknown (could not be checked: the reason says why; never a guess).</summary>
        public string Status { get; internal set; } = "Unknown";

        /// <summary>What was seen ("running", "95 % used", "open, certificate not accepted").</summary>
        public string? Observed { get; internal set; }

        /// <summary>What passes ("running", "&lt; 90 %", "accepts connections").</summary>
        public string? Threshold { get; internal set; }

        public string? Reason { get; internal set; }

        /// <summary>Where the value came from: ec2, cloudwatch, box (the remote shell), here (a probe from this machine).</summary>
        public string? Source { get; internal set; }

        /// <summary>
        /// For CPU, memory and disks: the data behind the value (the CloudWatch series, its window and age), or why the
        /// check fell back to the box's remote shell (CloudWatch had no recent data).
        /// </summary>
        public string? SourceNote { get; internal set; }

        /// <summary>How long the check took.</summary>
        public TimeSpan Duration { get; internal set; }

        public override string ToString() => $"{Name}: {Status}";
    }

    /// <summary>Test-CcieServicesBox's answer: the verdict, why, what to do, and every check.</summary>
    public sealed class ServicesBoxHealth
    {
        internal ServicesBoxHealth()
        {
        }

        public string InstanceId { get; internal set; } = string.Empty;

        public string? Region { get; internal set; }

        public string? PrivateIpAddress { get; internal set; }

        /// <summary>Healthy (every check passed or could not apply), Degraded (up but short of capacity or warned), Down (not serving).</summary>
        public string Verdict { get; internal set; } = "Down";

        /// <summary>The failed and warned checks' reasons, worst first.</summary>
        public IReadOnlyList<string> Reasons { get; internal set; } = Array.Empty<string>();

        /// <summary>What to do next, e.g. "Restore from the latest recovery point ... or fail over ...".</summary>
        public string? SuggestedAction { get; internal set; }

        /// <summary>Why that action (the CircleCI guide's reasoning for this kind of failure).</summary>
        public string? Why { get; internal set; }

        public IReadOnlyList<ServicesBoxCheck> Checks { get; internal set; } = Array.Empty<ServicesBoxCheck>();

        public DateTime CheckedAt { get; internal set; }

        public TimeSpan Duration { get; internal set; }

        /// <summary>Checks that could not be made (Unknown), by name.</summary>
        public IReadOnlyList<string> Unknown => Checks.Where(c => c.Status == "Unknown").Select(c => c.Name).ToList();

        public override string ToString() => $"{InstanceId}: {Verdict}";
    }
}
