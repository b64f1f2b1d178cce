using System;
using System.Collections.Generic;

namespace CcieDr.Engine.Failover
{
    /// <summary>Where a replica's /data comes from.</summary>
    public enum ReplicaDataSource
    {
        /// <summary>The user's replication (DRBD, GlusterFS, NFS): CcieDr only checks it with the check command.</summary>
        Replication,

        /// <summary>The data volume of the newest recovery point, created in the replica's AZ (RPO = the point's age).</summary>
        RecoveryPoint,
    }

    /// <summary>What New-CcieReplica launches.</summary>
    public sealed class NewReplicaRequest
    {
        public ServicesBox Primary { get; set; } = null!;

        /// <summary>Image to launch from (New-CcieServicesBoxImage). Default: the newest image of the primary.</summary>
        public string? ImageId { get; set; }

        /// <summary>Launch from this recovery point instead of an image (its snapshots are registered as an AMI).</summary>
        public RecoveryPoint? RecoveryPoint { get; set; }

        public string? SubnetId { get; set; }

        public string? AvailabilityZone { get; set; }

        public bool Running { get; set; }

        public ReplicaDataSource DataFrom { get; set; } = ReplicaDataSource.Replication;

        /// <summary>Command that exits 0 when the replica's /data is in sync (kept in a tag for Invoke-CcieFailover).</summary>
        public string? ReplicationCheckCommand { get; set; }

        public string? Name { get; set; }

        public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(30);
    }

    /// <summary>What Update-CcieReplica does.</summary>
    public sealed class UpdateReplicaRequest
    {
        public string InstanceId { get; set; } = string.Empty;

        /// <summary>Refresh the data volume from this point (default: the newest completed point of the primary).</summary>
        public string? RecoveryPointId { get; set; }

        /// <summary>Rebuild the replica from the newest image (after an upgrade) and terminate the old one.</summary>
        public bool Replace { get; set; }

        /// <summary>For -Replace: the image to rebuild from (default: the newest of the primary).</summary>
        public string? ImageId { get; set; }

        public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(30);
    }

    /// <summary>The concrete launch a New-CcieReplica request resolves to (shown under -WhatIf).</summary>
    public sealed class ReplicaLaunchPlan
    {
        public ServicesBox Primary { get; set; } = null!;

        public string? ImageId { get; set; }

        public RecoveryPoint? FromRecoveryPoint { get; set; }

        public string SubnetId { get; set; } = string.Empty;

        public string AvailabilityZone { get; set; } = string.Empty;

        public ReplicaDataSource DataFrom { get; set; }

        /// <summary>RecoveryPoint mode: the point whose data volume the replica gets.</summary>
        public RecoveryPoint? DataPoint { get; set; }

        public RecoveryPointSnapshot? DataSnapshot { get; set; }

        public string Name { get; set; } = string.Empty;

        public bool Running { get; set; }

        public string? ReplicationCheckCommand { get; set; }

        public ReplicaMode Mode { get; set; }

        public string ModeDescription { get; set; } = string.Empty;

        public List<string> Notes { get; } = new List<string>();

        public CcieDr.Engine.Operations.OperationPlan Operation { get; set; } = null!;
    }
}
