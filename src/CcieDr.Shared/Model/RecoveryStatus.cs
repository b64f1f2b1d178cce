using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>Get-CcieRecoveryStatus: could the box be recovered right now, to what point, in how long, measured against targets.</summary>
    public sealed class RecoveryStatus
    {
        internal RecoveryStatus()
        {
        }

        public string Region { get; internal set; } = string.Empty;

        public string BoxName { get; internal set; } = string.Empty;

        /// <summary>Pass or Fail against the targets; <see cref="Reasons"/> says why it fails.</summary>
        public string Status { get; internal set; } = string.Empty;

        public IReadOnlyList<string> Reasons { get; internal set; } = Array.Empty<string>();

        /// <summary>Facts that do not fail the status but an operator should know.</summary>
        public IReadOnlyList<string> Notes { get; internal set; } = Array.Empty<string>();

        public string? NewestPointId { get; internal set; }

        /// <summary>Age of the newest completed recovery point: the data lost if the box died now (RPO now).</summary>
        public TimeSpan? Rpo { get; internal set; }

        /// <summary>The newest point whose last drill passed.</summary>
        public string? NewestVerifiedPointId { get; internal set; }

        public TimeSpan? VerifiedRpo { get; internal set; }

        /// <summary>With -BackupLocation: the newest data archive (tarball) found there.</summary>
        public string? NewestBackup { get; internal set; }

        /// <summary>With -BackupLocation: the newest archive Test-CcieBackup passed (recorded next to it).</summary>
        public string? NewestTestedBackup { get; internal set; }

        /// <summary>Age of <see cref="NewestTestedBackup"/>.</summary>
        public TimeSpan? TestedBackupRpo { get; internal set; }

        public DateTime? LastDrillAt { get; internal set; }

        public string? LastDrillPointId { get; internal set; }

        public string? LastDrillVerdict { get; internal set; }

        /// <summary>The recovery time the last passed drill measured.</summary>
        public TimeSpan? LastDrillRto { get; internal set; }

        /// <summary>Regions checked for a copy (-CopyRegion).</summary>
        public IReadOnlyList<string> CopyRegions { get; internal set; } = Array.Empty<string>();

        /// <summary>The newest completed copy of one of this box's points outside <see cref="Region"/>; null when none or not checked.</summary>
        public string? NewestCopy { get; internal set; }

        public TimeSpan? CopyRpo { get; internal set; }

        public TimeSpan RpoTarget { get; internal set; }

        public TimeSpan RtoTarget { get; internal set; }

        public TimeSpan DrillMaxAge { get; internal set; }

        public int PointCount { get; internal set; }

        public DateTime CheckedAt { get; internal set; }

        public override string ToString() => $"{BoxName} {Status}";
    }
}
