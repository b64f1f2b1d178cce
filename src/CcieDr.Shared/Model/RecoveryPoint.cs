using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>
    /// One crash-consistent backup of the Services box: a snapshot of every volume taken together, tagged
    /// with the box's recovery identity. Emitted by New-CcieSnapshot, Get-CcieSnapshot, Copy-CcieSnapshot.
    /// </summary>
    public sealed class RecoveryPoint
    {
        internal RecoveryPoint()
        {
        }

        /// <summary>Stable id shared by all snapshots of the point (tag ccie:recovery-point), e.g. rp-20261128T140000Z-1a2b3c4d.</summary>
        public string RecoveryPointId { get; internal set; } = string.Empty;

        public string Region { get; internal set; } = string.Empty;

        /// <summary>When the snapshots were started (UTC).</summary>
        public DateTime Created { get; internal set; }

        /// <summary>
        /// When CcieDr took the point, to the 100 ns (tag ccie:created-at), or null for seed snapshots and points
        /// taken before the tag existed. Orders points taken within the same second.
        /// </summary>
        public DateTime? CreatedAt { get; internal set; }

        /// <summary>
        /// pending, completed, error (a volume's snapshot failed), or incomplete (a volume's snapshot is missing,
        /// e.g. after a partial failure). Only completed points are usable for a restore.
        /// </summary>
        public string State { get; internal set; } = string.Empty;

        /// <summary>Average progress of the snapshots, 0-100.</summary>
        public int Progress { get; internal set; }

        /// <summary>True when every volume of the box has a completed snapshot: usable for a restore.</summary>
        public bool IsComplete { get; internal set; }

        /// <summary>CcieDr (tagged recovery point) or Seed (a snapshot made by the seed's backup script, identity unknown).</summary>
        public string Origin { get; internal set; } = "CcieDr";

        public string? Label { get; internal set; }

        public string? Description { get; internal set; }

        public IReadOnlyList<RecoveryPointSnapshot> Snapshots { get; internal set; } = Array.Empty<RecoveryPointSnapshot>();

        /// <summary>What a restore needs to rebuild the box; partly empty for seed snapshots.</summary>
        public RecoveryIdentity Identity { get; internal set; } = new RecoveryIdentity();

        /// <summary>Where this point was copied from (Copy-CcieSnapshot), e.g. us-east-1/rp-....</summary>
        public string? CopiedFrom { get; internal set; }

        /// <summary>Name tag of the box the point was taken of (same as Identity.Name).</summary>
        public string? BoxName => Identity.Name;

        /// <summary>Number of volumes the box had (tag ccie:volume-count); null for seed snapshots.</summary>
        public int? ExpectedVolumeCount => Identity.VolumeCount;

        /// <summary>Tool and version that took the point (tag ccie:created-by), e.g. "CcieDr 0.1.0".</summary>
        public string? CreatedBy { get; internal set; }

        /// <summary>When the last recovery drill (Test-CcieRecovery) of this point ran; null when never drilled.</summary>
        public DateTime? LastDrillAt { get; internal set; }

        /// <summary>Passed or Failed: the last drill's verdict.</summary>
        public string? LastDrillVerdict { get; internal set; }

        /// <summary>The recovery time the last drill measured.</summary>
        public TimeSpan? LastDrillRto { get; internal set; }

        public string? LastDrillId { get; internal set; }

        /// <summary>True when the last drill of this point passed: it is a verified recovery point.</summary>
        public bool Verified => string.Equals(LastDrillVerdict, "Passed", StringComparison.Ordinal);

        /// <summary>Why the point is not usable (failed or missing volumes), or null.</summary>
        public string? StateMessage { get; internal set; }

        /// <summary>What the producing operation did, when (New-, Wait-, Copy-CcieSnapshot); empty from Get-CcieSnapshot.</summary>
        public IReadOnlyList<TimelineEntry> Timeline { get; internal set; } = Array.Empty<TimelineEntry>();

        /// <summary>
        /// The ccie:run-id of the New-/Copy-CcieSnapshot run that produced this object: the snapshots that run
        /// created carry it (reused ones keep their own run's). Null when the run created nothing (New-CcieSnapshot
        /// reused a pending point), and from Get-/Wait-CcieSnapshot.
        /// </summary>
        public string? RunId { get; internal set; }

        /// <summary>
        /// Snapshots of this point that the producing run deleted, and why: only duplicates the run itself made
        /// (tagged with its <see cref="RunId"/>: EC2 made a second one when the SDK retried a call whose response
        /// was lost), and for Copy-CcieSnapshot earlier copies that had failed (state error, no data) and were
        /// replaced. Empty when there were none, and from Get-/Wait-CcieSnapshot.
        /// </summary>
        public IReadOnlyList<DuplicateSnapshot> DeletedDuplicates { get; internal set; } = Array.Empty<DuplicateSnapshot>();

        /// <summary>
        /// Snapshots with this point's id that the producing run found but did not make (another run creating or
        /// copying the same point, or a tool), or could not delete: left alone, never deleted by this run.
        /// </summary>
        public IReadOnlyList<DuplicateSnapshot> LeftAlone { get; internal set; } = Array.Empty<DuplicateSnapshot>();

        public IReadOnlyList<string> SnapshotIds
        {
            get
            {
                var ids = new List<string>(Snapshots.Count);
                foreach (RecoveryPointSnapshot s in Snapshots)
                {
                    ids.Add(s.SnapshotId);
                }

                return ids;
            }
        }

        public override string ToString() => RecoveryPointId;
    }

    /// <summary>
    /// A snapshot with a recovery point's id that New-/Copy-CcieSnapshot did not return as part of the point: either
    /// deleted (a duplicate the run itself made) or left alone (another run's, or a tool's).
    /// </summary>
    public sealed class DuplicateSnapshot
    {
        internal DuplicateSnapshot()
        {
        }

        public string SnapshotId { get; internal set; } = string.Empty;

        public string Region { get; internal set; } = string.Empty;

        /// <summary>The snapshot's ccie:run-id tag, or null (made by a tool, or by a version before the tag).</summary>
        public string? RunId { get; internal set; }

        /// <summary>For a copy: the snapshot it was copied from (tag ccie:source-snapshot-id).</summary>
        public string? SourceSnapshotId { get; internal set; }

        /// <summary>True when the run deleted it.</summary>
        public bool Deleted { get; internal set; }

        /// <summary>Why it was deleted or left alone.</summary>
        public string Reason { get; internal set; } = string.Empty;

        public override string ToString() => SnapshotId;
    }

    /// <summary>One volume's snapshot within a recovery point.</summary>
    public sealed class RecoveryPointSnapshot
    {
        internal RecoveryPointSnapshot()
        {
        }

        public string SnapshotId { get; internal set; } = string.Empty;

        public string? VolumeId { get; internal set; }

        /// <summary>Device name the volume had on the box (/dev/sda1, /dev/xvdf).</summary>
        public string? DeviceName { get; internal set; }

        public bool IsRootDevice { get; internal set; }

        public int SizeGiB { get; internal set; }

        public string? VolumeType { get; internal set; }

        public int? Iops { get; internal set; }

        public int? Throughput { get; internal set; }

        public bool Encrypted { get; internal set; }

        public string? KmsKeyId { get; internal set; }

        /// <summary>pending, completed, error.</summary>
        public string State { get; internal set; } = string.Empty;

        public int Progress { get; internal set; }

        public DateTime StartTime { get; internal set; }

        /// <summary>EC2's reason when the snapshot failed (state error).</summary>
        public string? StateMessage { get; internal set; }

        /// <summary>For a copy: the snapshot it was copied from (tag ccie:source-snapshot-id).</summary>
        public string? SourceSnapshotId { get; internal set; }

        /// <summary>For a copy: the region it was copied from (tag ccie:source-region).</summary>
        public string? SourceRegion { get; internal set; }

        public override string ToString() => SnapshotId;
    }

    /// <summary>The Services box's recovery identity, as saved in the snapshot tags.</summary>
    public sealed class RecoveryIdentity
    {
        internal RecoveryIdentity()
        {
        }

        public string? SourceInstanceId { get; internal set; }

        /// <summary>Name tag of the box.</summary>
        public string? Name { get; internal set; }

        public string? PrivateIpAddress { get; internal set; }

        public IReadOnlyList<string> SecondaryPrivateIpAddresses { get; internal set; } = Array.Empty<string>();

        public string? SubnetId { get; internal set; }

        public string? VpcId { get; internal set; }

        public string? AvailabilityZone { get; internal set; }

        public IReadOnlyList<string> SecurityGroupIds { get; internal set; } = Array.Empty<string>();

        public string? InstanceType { get; internal set; }

        public string? KeyName { get; internal set; }

        public string? IamInstanceProfileArn { get; internal set; }

        public string? ImageId { get; internal set; }

        public string? RootDeviceName { get; internal set; }

        public string? Architecture { get; internal set; }

        public bool? EnaSupport { get; internal set; }

        public string? VirtualizationType { get; internal set; }

        /// <summary>Number of volumes the box had when the point was taken (detects incomplete points).</summary>
        public int? VolumeCount { get; internal set; }

        public override string ToString() => $"{SourceInstanceId} {PrivateIpAddress} {SubnetId}";
    }
}
