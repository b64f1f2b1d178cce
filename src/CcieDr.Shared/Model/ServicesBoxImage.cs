using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>
    /// An AMI of the configured Services box (PSTypeName <c>CcieDr.ServicesBoxImage</c>): what a cold replica is
    /// launched from. Emitted by New-, Get- and Remove-CcieServicesBoxImage.
    /// </summary>
    public sealed class ServicesBoxImage
    {
        internal ServicesBoxImage()
        {
        }

        public string ImageId { get; internal set; } = string.Empty;

        public string Region { get; internal set; } = string.Empty;

        public string? Name { get; internal set; }

        /// <summary>pending, available, failed, deregistered.</summary>
        public string State { get; internal set; } = string.Empty;

        /// <summary>The box the image was made of.</summary>
        public string? SourceInstanceId { get; internal set; }

        public string? BoxName { get; internal set; }

        /// <summary>Version of the app on the box when the image was made (when known).</summary>
        public string? AppVersion { get; internal set; }

        public DateTime Created { get; internal set; }

        /// <summary>True when the image was made without a reboot (file systems crash-consistent only).</summary>
        public bool NoReboot { get; internal set; }

        /// <summary>The newest image of its box: never removed without -Force.</summary>
        public bool IsNewest { get; internal set; }

        public IReadOnlyList<string> SnapshotIds { get; internal set; } = Array.Empty<string>();

        /// <summary>Replicas (not terminated) launched from this image.</summary>
        public IReadOnlyList<string> ReplicaInstanceIds { get; internal set; } = Array.Empty<string>();

        /// <summary>The box's launch identity (subnet, groups, type, key, profile) when the image was made.</summary>
        public RecoveryIdentity Identity { get; internal set; } = new RecoveryIdentity();

        /// <summary>For Remove-CcieServicesBoxImage: deregistered and its snapshots deleted.</summary>
        public bool Removed { get; internal set; }

        public IReadOnlyList<TimelineEntry> Timeline { get; internal set; } = Array.Empty<TimelineEntry>();

        public override string ToString() => ImageId;
    }
}
