using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>
    /// A cold (stopped) or warm (running) replica of the Services box (PSTypeName <c>CcieDr.Replica</c>).
    /// Emitted by New-, Get- and Update-CcieReplica.
    /// </summary>
    public sealed class Replica
    {
        internal Replica()
        {
        }

        public string InstanceId { get; internal set; } = string.Empty;

        public string Region { get; internal set; } = string.Empty;

        /// <summary>The Services box this replica stands in for.</summary>
        public string? PrimaryInstanceId { get; internal set; }

        public string State { get; internal set; } = string.Empty;

        public string? AvailabilityZone { get; internal set; }

        public string? SubnetId { get; internal set; }

        public string? PrivateIpAddress { get; internal set; }

        /// <summary>FloatingIp (same subnet), MovableEni (same AZ) or NewIp (another AZ).</summary>
        public string Mode { get; internal set; } = string.Empty;

        /// <summary>What the mode does on failover and what it survives.</summary>
        public string ModeDescription { get; internal set; } = string.Empty;

        /// <summary>Replication (the user's DRBD/GlusterFS/NFS) or RecoveryPoint (a volume from the newest point).</summary>
        public string DataFrom { get; internal set; } = string.Empty;

        /// <summary>Recovery point the data volume was made from (RecoveryPoint mode).</summary>
        public string? DataRecoveryPointId { get; internal set; }

        /// <summary>When the data was taken (RecoveryPoint mode).</summary>
        public DateTime? DataCreated { get; internal set; }

        /// <summary>Age of the data: the RPO of a failover to this replica now (RecoveryPoint mode).</summary>
        public TimeSpan? DataAge { get; internal set; }

        public string? DataVolumeId { get; internal set; }

        public string? ImageId { get; internal set; }

        /// <summary>True when a failover to it can start now.</summary>
        public bool Ready { get; internal set; }

        /// <summary>Why it is (not) ready.</summary>
        public IReadOnlyList<string> Readiness { get; internal set; } = Array.Empty<string>();

        public IReadOnlyList<TimelineEntry> Timeline { get; internal set; } = Array.Empty<TimelineEntry>();

        public override string ToString() => InstanceId;
    }

    /// <summary>A floating (secondary) private IP of the Services box (PSTypeName <c>CcieDr.FloatingIp</c>). Emitted by Add-CcieFloatingIp.</summary>
    public sealed class FloatingIp
    {
        internal FloatingIp()
        {
        }

        public string InstanceId { get; internal set; } = string.Empty;

        public string NetworkInterfaceId { get; internal set; } = string.Empty;

        public string PrivateIpAddress { get; internal set; } = string.Empty;

        public string? SubnetId { get; internal set; }

        public string? AvailabilityZone { get; internal set; }

        /// <summary>True when the IP was already the box's (nothing changed).</summary>
        public bool AlreadyAssigned { get; internal set; }

        /// <summary>What the operator does next (point the builders at the IP).</summary>
        public IReadOnlyList<string> NextSteps { get; internal set; } = Array.Empty<string>();

        public override string ToString() => PrivateIpAddress;
    }
}
