using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery
{
    /// <summary>
    /// Waits for recovery points to complete, one progress bar per point: polls the point's snapshots by id
    /// (eventual consistency tolerated), tolerates throttling and transient errors until the deadline, and
    /// fails clearly when a snapshot goes to error or a volume's snapshot is missing.
    /// </summary>
    public sealed class SnapshotWaiter
    {
        private readonly IAmazonEC2 _ec2;
        private readonly string _region;
        private readonly IOperationReporter _reporter;

        public SnapshotWaiter(IAmazonEC2 ec2, string region, IOperationReporter? reporter = null)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
            _reporter = reporter ?? NullReporter.Instance;
        }

        /// <summary>Re-reads a point from EC2 (its snapshots by id; by tag when a volume's snapshot is not known yet).</summary>
        public async Task<RecoveryPoint> RefreshAsync(RecoveryPoint point, CancellationToken ct)
        {
            if (point is null)
            {
                throw new ArgumentNullException(nameof(point));
            }

            (IReadOnlyList<Snapshot> found, IReadOnlyList<string> missing) = await SnapshotCalls.DescribeByIdsAsync(_ec2, point.SnapshotIds.ToList(), 2, ct).ConfigureAwait(false);
            var all = found.ToDictionary(s => s.SnapshotId!, StringComparer.Ordinal);
            if (point.Origin != "Seed" && (point.ExpectedVolumeCount is null || all.Count < point.ExpectedVolumeCount))
            {
                foreach (Snapshot s in await SnapshotCalls.DescribeByPointAsync(_ec2, point.RecoveryPointId, null, ct).ConfigureAwait(false))
                {
                    all[s.SnapshotId!] = s;
                }
            }

            if (all.Count == 0)
            {
                throw new CcieException(
                    "RecoveryPointNotFound",
                    CcieErrorCategory.ObjectNotFound,
                    $"Recovery point {point.RecoveryPointId} has no snapshots left in {_region} (snapshots {string.Join(", ", missing)} not found). It was deleted; list the remaining points with Get-CcieSnapshot.",
                    point.RecoveryPointId);
            }

            RecoveryPoint fresh = point.Origin == "Seed"
                ? RecoveryPointCatalog.BuildSeedPoint(all.Values.First(), _region)
                : RecoveryPointCatalog.BuildPoint(point.RecoveryPointId, all.Values.ToList(), _region);
            fresh.Timeline = point.Timeline;
            return fresh;
        }

        /// <summary>
        /// Waits until the point is completed. Throws CcieException RecoveryPointFailed (a snapshot failed),
        /// RecoveryPointIncomplete (a volume's snapshot is missing) or WaitTimedOut.
        /// </summary>
        public async Task<RecoveryPoint> WaitAsync(RecoveryPoint point, WaitOptions? options, ProgressActivity? parent, Timeline? timeline, CancellationToken ct)
        {
            if (point is null)
            {
                throw new ArgumentNullException(nameof(point));
            }

            options ??= WaitOptions.Default();
            DateTime started = DateTime.UtcNow;
            TimelineEntry? entry = timeline?.Begin("wait:snapshot-completed", point.RecoveryPointId);
            using var bar = new ProgressActivity(_reporter, $"Recovery point {point.RecoveryPointId} ({_region})", Status(point), parent);
            RecoveryPoint current = point;
            try
            {
                RecoveryPoint done = await Waiter.UntilAsync(
                    async token =>
                    {
                        try
                        {
                            current = await RefreshAsync(current, token).ConfigureAwait(false);
                        }
                        catch (CcieException e) when (e.ErrorId == "RecoveryPointNotFound" && DateTime.UtcNow - started < TimeSpan.FromSeconds(30))
                        {
                            return current; // just created: EC2 may not list it yet
                        }

                        switch (current.State)
                        {
                            case RecoveryPointStates.Error:
                                throw new CcieException(
                                    "RecoveryPointFailed",
                                    CcieErrorCategory.ResourceUnavailable,
                                    $"Recovery point {current.RecoveryPointId} in {_region} failed: {current.StateMessage}. It is not usable for a restore. Take a new point with New-CcieSnapshot; Remove-CcieSnapshot -RecoveryPointId {current.RecoveryPointId} deletes this one.",
                                    current);
                            case RecoveryPointStates.Incomplete when DateTime.UtcNow - started > TimeSpan.FromSeconds(10) || DateTime.UtcNow - current.Created > TimeSpan.FromMinutes(5):
                                throw new CcieException(
                                    "RecoveryPointIncomplete",
                                    CcieErrorCategory.InvalidData,
                                    $"Recovery point {current.RecoveryPointId} in {_region} is incomplete: {current.StateMessage}",
                                    current);
                            default:
                                return current;
                        }
                    },
                    p => p.State == RecoveryPointStates.Completed,
                    options,
                    $"recovery point {point.RecoveryPointId} to complete",
                    point.RecoveryPointId,
                    ct,
                    p => string.Format(CultureInfo.InvariantCulture, "{0}, {1}%", p.State, p.Progress),
                    p =>
                    {
                        if (p.Error is not null)
                        {
                            _reporter.Verbose($"Polling {point.RecoveryPointId}: {p.Error.Message} Retrying.");
                        }
                        else
                        {
                            bar.Update(Status(p.Last), p.Last.Progress);
                        }
                    }).ConfigureAwait(false);
                if (entry is not null)
                {
                    timeline!.Complete(entry, detail: $"{done.Snapshots.Count} snapshots completed");
                    done.Timeline = timeline.Entries;
                }

                return done;
            }
            catch (Exception e) when (entry is not null)
            {
                timeline!.Fail(entry, e);
                throw;
            }
        }

        private static string Status(RecoveryPoint p)
        {
            int completed = p.Snapshots.Count(s => s.State == "completed");
            return string.Format(CultureInfo.InvariantCulture, "{0}: {1}% ({2} of {3} snapshots completed)", p.State, p.Progress, completed, p.Snapshots.Count);
        }
    }
}
