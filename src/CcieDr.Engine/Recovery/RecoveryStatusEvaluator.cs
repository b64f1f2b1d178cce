using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;

namespace CcieDr.Engine.Recovery
{
    /// <summary>The targets a recovery status is judged against.</summary>
    public sealed class RecoveryTargets
    {
        /// <summary>The newest verified point may be at most this old. Default 24 h.</summary>
        public TimeSpan RpoTarget { get; set; } = TimeSpan.FromHours(24);

        /// <summary>The last drill's measured RTO may be at most this. Default 1 h.</summary>
        public TimeSpan RtoTarget { get; set; } = TimeSpan.FromHours(1);

        /// <summary>A drill must have run within this. Default 30 days.</summary>
        public TimeSpan DrillMaxAge { get; set; } = TimeSpan.FromDays(30);
    }

    /// <summary>A data archive (tarball) as the status sees it: where, when taken, and whether Test-CcieBackup passed it.</summary>
    public sealed class BackupEvidence
    {
        public string Location { get; set; } = string.Empty;

        public DateTime Created { get; set; }

        /// <summary>When Test-CcieBackup passed it (recorded next to the archive); null when untested or failed.</summary>
        public DateTime? TestedAt { get; set; }
    }

    /// <summary>
    /// Get-CcieRecoveryStatus's engine: reads the recovery points (and the drill verdicts recorded on them by
    /// Test-CcieRecovery, so no other store is needed) and judges them against the targets.
    /// </summary>
    public static class RecoveryStatusEvaluator
    {
        /// <summary>Reads the points of <paramref name="boxName"/> in <paramref name="region"/> and its copies in <paramref name="copyRegions"/>.</summary>
        public static async Task<RecoveryStatus> GetAsync(Func<string, IAmazonEC2> clientFor, string region, string boxName, IReadOnlyList<string> copyRegions, RecoveryTargets targets, DateTime now, CancellationToken ct, IReadOnlyList<BackupEvidence>? backups = null)
        {
            IReadOnlyList<RecoveryPoint> points = await RecoveryPointCatalog.ListAsync(clientFor(region), region, new RecoveryPointFilter { BoxName = boxName }, ct).ConfigureAwait(false);
            var copies = new List<RecoveryPoint>();
            foreach (string other in copyRegions.Where(r => !string.Equals(r, region, StringComparison.Ordinal)).Distinct(StringComparer.Ordinal))
            {
                copies.AddRange(await RecoveryPointCatalog.ListAsync(clientFor(other), other, new RecoveryPointFilter { BoxName = boxName }, ct).ConfigureAwait(false));
            }

            return Evaluate(region, boxName, points, copyRegions, copies, targets, now, backups);
        }

        /// <summary>The judgement itself, from what was read (pure: the tests give it points).</summary>
        public static RecoveryStatus Evaluate(string region, string boxName, IReadOnlyList<RecoveryPoint> points, IReadOnlyList<string> copyRegions, IReadOnlyList<RecoveryPoint> copies, RecoveryTargets targets, DateTime now, IReadOnlyList<BackupEvidence>? backups = null)
        {
            var reasons = new List<string>();
            var notes = new List<string>();
            List<RecoveryPoint> complete = points.Where(p => p.IsComplete && p.CopiedFrom is null).OrderByDescending(p => p.Created).ToList();
            RecoveryPoint? newest = complete.FirstOrDefault();
            RecoveryPoint? verified = complete.FirstOrDefault(p => p.Verified);
            RecoveryPoint? lastDrilled = points.Where(p => p.LastDrillAt is not null).OrderByDescending(p => p.LastDrillAt).FirstOrDefault();
            RecoveryPoint? lastPassed = points.Where(p => p.Verified && p.LastDrillAt is not null).OrderByDescending(p => p.LastDrillAt).FirstOrDefault();
            var status = new RecoveryStatus
            {
                Region = region,
                BoxName = boxName,
                CheckedAt = now,
                PointCount = complete.Count,
                RpoTarget = targets.RpoTarget,
                RtoTarget = targets.RtoTarget,
                DrillMaxAge = targets.DrillMaxAge,
                NewestPointId = newest?.RecoveryPointId,
                Rpo = newest is null ? null : now - newest.Created,
                NewestVerifiedPointId = verified?.RecoveryPointId,
                VerifiedRpo = verified is null ? null : now - verified.Created,
                LastDrillAt = lastDrilled?.LastDrillAt,
                LastDrillPointId = lastDrilled?.RecoveryPointId,
                LastDrillVerdict = lastDrilled?.LastDrillVerdict,
                LastDrillRto = lastPassed?.LastDrillRto,
                CopyRegions = copyRegions,
            };

            // A tarball that Test-CcieBackup passed is a verified point too (its data is proven readable and complete).
            BackupEvidence? newestBackup = backups?.OrderByDescending(b => b.Created).FirstOrDefault();
            BackupEvidence? tested = backups?.Where(b => b.TestedAt is not null).OrderByDescending(b => b.Created).FirstOrDefault();
            status.NewestBackup = newestBackup?.Location;
            status.NewestTestedBackup = tested?.Location;
            status.TestedBackupRpo = tested is null ? null : now - tested.Created;
            if (tested is not null && (verified is null || tested.Created > verified.Created))
            {
                status.NewestVerifiedPointId = tested.Location;
                status.VerifiedRpo = status.TestedBackupRpo;
            }

            if (newestBackup is not null && tested is not null && !ReferenceEquals(newestBackup, tested))
            {
                notes.Add($"newest data archive {newestBackup.Location} untested (Test-CcieBackup); newest tested is {tested.Location}");
            }
            else if (newestBackup is not null && tested is null)
            {
                notes.Add($"no data archive in the backup location was tested: Test-CcieBackup {newestBackup.Location}");
            }

            if (newest is null)
            {
                reasons.Add($"no completed recovery point of {boxName} in {region}: take one (New-CcieSnapshot -Wait) and schedule it");
            }
            else if (status.Rpo > targets.RpoTarget)
            {
                reasons.Add($"newest recovery point {newest.RecoveryPointId} is {Age(status.Rpo.Value)} old (RPO target {Age(targets.RpoTarget)})");
            }

            if (newest is not null && verified is null && tested is null)
            {
                reasons.Add("no recovery point has passed a drill (Test-CcieRecovery) and no data archive a test (Test-CcieBackup): none is known to work");
            }
            else if (status.NewestVerifiedPointId is not null && status.VerifiedRpo > targets.RpoTarget)
            {
                reasons.Add($"newest verified point {status.NewestVerifiedPointId} is {Age(status.VerifiedRpo!.Value)} old (RPO target {Age(targets.RpoTarget)}): drill (or test) a newer one");
            }

            if (newest is not null && status.NewestVerifiedPointId is not null && status.NewestVerifiedPointId != newest.RecoveryPointId)
            {
                notes.Add($"newest point {newest.RecoveryPointId} unverified; newest verified is {status.NewestVerifiedPointId}");
            }

            if (lastDrilled is null || now - lastDrilled.LastDrillAt!.Value > targets.DrillMaxAge)
            {
                reasons.Add(lastDrilled is null ? "no recovery drill on record" : $"no drill in {Age(targets.DrillMaxAge)} (last {lastDrilled.LastDrillAt:yyyy-MM-dd})");
            }
            else if (!lastDrilled.Verified)
            {
                reasons.Add($"last drill ({lastDrilled.LastDrillAt:yyyy-MM-dd HH:mm}, {lastDrilled.RecoveryPointId}) {lastDrilled.LastDrillVerdict}");
            }

            if (lastPassed?.LastDrillRto is { } rto && rto > targets.RtoTarget)
            {
                reasons.Add($"last drill's RTO {Age(rto)} exceeds the RTO target {Age(targets.RtoTarget)}");
            }

            if (copyRegions.Count > 0)
            {
                HashSet<string> mine = new HashSet<string>(points.Select(p => p.RecoveryPointId), StringComparer.Ordinal);
                RecoveryPoint? copy = copies.Where(p => p.IsComplete && p.CopiedFrom is not null && (mine.Contains(p.RecoveryPointId) || p.CopiedFrom.StartsWith(region + "/", StringComparison.Ordinal)))
                    .OrderByDescending(p => p.Created).FirstOrDefault();
                status.NewestCopy = copy is null ? null : copy.Region + "/" + copy.RecoveryPointId;
                status.CopyRpo = copy is null ? null : now - copy.Created;
                if (copy is null)
                {
                    reasons.Add($"no copy outside {region} (checked {string.Join(", ", copyRegions.Where(r => r != region))}): Copy-CcieSnapshot -DestinationRegion …");
                }
                else if (status.CopyRpo > targets.RpoTarget)
                {
                    reasons.Add($"newest copy {status.NewestCopy} is {Age(status.CopyRpo!.Value)} old (RPO target {Age(targets.RpoTarget)})");
                }
            }
            else
            {
                notes.Add("cross-region copies not checked: give -CopyRegion");
            }

            status.Reasons = reasons;
            status.Notes = notes;
            status.Status = reasons.Count == 0 ? "Pass" : "Fail";
            return status;
        }

        private static string Age(TimeSpan t) => t.TotalDays >= 2 ? $"{t.TotalDays:0} days"
            : t.TotalSeconds < 120 ? $"{t.TotalSeconds:0.0} s" : t.TotalHours < 2 ? $"{t.TotalMinutes:0.0} min" : $"{t.TotalHours:0.0} h";
    }
}
