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

        /// <summary>The instance the recovery point was taken from.</summary>
        public string? SourceInstanceId { get; internal set; }

        /// <summary>The instance terminated to free the private IP (-ReplaceExisting), if any.</summary>
        public string? ReplacedInstanceId { get; internal set; }

        public string? InstanceType { get; internal set; }

        public IReadOnlyList<string> SecurityGroupIds { get; internal set; } = Array.Empty<string>();

        /// <summary>True when the AMI was deregistered after launch (-DeregisterImage); its snapshots are kept.</summary>
        public bool ImageDeregistered { get; internal set; }

        /// <summary>True when this run reused an AMI or instance an earlier run of the same restore had created.</summary>
        public bool Resumed { get; internal set; }

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

        /// <summary>With -StartApp: the app's state at the end (started), or null without -StartApp.</summary>
        public string? AppState { get; internal set; }

        /// <summary>With -StartApp: the addresses rewritten in /etc/default/replicated* (empty when the IP had not changed).</summary>
        public IReadOnlyList<string> AppFixups { get; internal set; } = Array.Empty<string>();

        public override string ToString() => InstanceId;
    }
}
