using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery
{
    /// <summary>
    /// The clean-up after New-/Copy-CcieSnapshot. CreateSnapshot(s) and CopySnapshot take no client token: when a
    /// response is lost the SDK retries and EC2 makes a second snapshot. Each run tags what it creates with its own
    /// ccie:run-id (in the create call itself, so a retried call's duplicate carries it too); afterwards the
    /// snapshots with the point's id that the run does not return are sorted: those with this run's id are its own
    /// duplicates and are deleted, every other one (a concurrent run's, a copy brought back from another region, a
    /// tool's) is left alone and reported.
    /// </summary>
    internal static class RunDuplicates
    {
        /// <summary>The plan step -WhatIf shows.</summary>
        internal const string PlanText = "delete duplicates created by this run's lost responses (if any): only snapshots tagged with this run's ccie:run-id; another run's snapshots of the point are left alone and reported";

        /// <summary>A new run id: run-&lt;32 hex&gt;, random.</summary>
        public static string NewRunId() => "run-" + Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture);

        /// <summary>
        /// Deletes the snapshots of <paramref name="recoveryPointId"/> that carry <paramref name="runId"/> but are not
        /// in <paramref name="ours"/>, and reports the others not in <paramref name="ours"/>. Never deletes a
        /// snapshot without this run's id.
        /// </summary>
        public static async Task<Result> SweepAsync(IAmazonEC2 ec2, string region, string recoveryPointId, string runId, IReadOnlyCollection<string> ours, string doing, IOperationReporter reporter, CancellationToken ct)
        {
            var own = new Dictionary<string, Snapshot>(StringComparer.Ordinal);
            var foreign = new Dictionary<string, Snapshot>(StringComparer.Ordinal);

            // Tag filters are eventually consistent: look a few times, backing off (the shared policy), so a late
            // duplicate is still seen.
            await AwsRetryPolicy.Default(SnapshotCalls.DuplicateLooks).UntilAsync(
                async (_, token) =>
                {
                    foreach (Snapshot s in await SnapshotCalls.DescribeByPointAsync(ec2, recoveryPointId, null, token).ConfigureAwait(false))
                    {
                        if (s.SnapshotId is null || ours.Contains(s.SnapshotId))
                        {
                            continue;
                        }

                        if (string.Equals(RunOf(s), runId, StringComparison.Ordinal))
                        {
                            own[s.SnapshotId] = s;
                        }
                        else
                        {
                            foreign[s.SnapshotId] = s;
                        }
                    }

                    return own.Count + foreign.Count;
                },
                _ => false,
                null,
                ct).ConfigureAwait(false);

            var result = new Result();
            foreach (Snapshot s in own.Values.OrderBy(s => s.SnapshotId, StringComparer.Ordinal))
            {
                string id = s.SnapshotId!;
                CcieException? error = await AwsCall.TryRunAsync("ec2:DeleteSnapshot", id, token => ec2.DeleteSnapshotAsync(new DeleteSnapshotRequest { SnapshotId = id }, token), ct).ConfigureAwait(false);
                if (error is null)
                {
                    result.Deleted.Add(Describe(s, region, runId, true, $"a duplicate this run made (tagged {RecoveryTags.RunId}={runId}): an AWS response was lost and the call was retried"));
                    reporter.Verbose($"Deleted duplicate snapshot {id} of {recoveryPointId} in {region} (made by this run: an AWS response was lost and the call was retried).");
                }
                else if (AwsRetry.IsNotFound(error))
                {
                    result.Deleted.Add(Describe(s, region, runId, true, "a duplicate this run made; already gone"));
                }
                else
                {
                    string message = error.Message;
                    result.LeftAlone.Add(Describe(s, region, runId, false, "a duplicate this run made that could not be deleted: " + message));
                    reporter.Warning($"Could not delete duplicate snapshot {id} of {recoveryPointId} in {region} (made by this run): {message} Delete it with: aws ec2 delete-snapshot --snapshot-id {id} --region {region}");
                }
            }

            foreach (IGrouping<string?, Snapshot> run in foreign.Values.OrderBy(s => s.SnapshotId, StringComparer.Ordinal).GroupBy(RunOf))
            {
                string who = run.Key is null ? "snapshots without a " + RecoveryTags.RunId + " tag (another tool, or an older CcieDr)" : "another run (" + RecoveryTags.RunId + "=" + run.Key + ")";
                foreach (Snapshot s in run)
                {
                    result.LeftAlone.Add(Describe(s, region, run.Key, false, $"not made by this run ({(run.Key is null ? "no " + RecoveryTags.RunId + " tag" : RecoveryTags.RunId + "=" + run.Key)}): left alone"));
                }

                reporter.Warning($"Recovery point {recoveryPointId} in {region} also has {string.Join(", ", run.Select(s => s.SnapshotId))} from {who}: someone else is {doing} it too. Left alone: a run deletes only the duplicates it made itself. Check the point with Get-CcieSnapshot {recoveryPointId} -Region {region} once both are done.");
            }

            return result;
        }

        /// <summary>
        /// For a rerun that takes over what an earlier run left (a pending point, earlier copies): among snapshots
        /// that stand for the same thing (<paramref name="keyOf"/>: one volume of a point, one source snapshot of a
        /// copy), ordered best first, keeps the first of each key and deletes the others that carry the same
        /// ccie:run-id as the kept one: the earlier run's own duplicates, made when its responses were lost and its
        /// calls retried, which it could not clean up because it failed. Snapshots of another run are kept as they are.
        /// Returns the snapshots kept (in order) and those deleted.
        /// </summary>
        public static async Task<(List<Snapshot> Kept, List<DuplicateSnapshot> Deleted)> KeepOnePerKeyAsync(
            IAmazonEC2 ec2, string region, IEnumerable<Snapshot> ordered, Func<Snapshot, string?> keyOf, IOperationReporter reporter, CancellationToken ct)
        {
            var kept = new List<Snapshot>();
            var deleted = new List<DuplicateSnapshot>();
            var first = new Dictionary<string, Snapshot>(StringComparer.Ordinal);
            foreach (Snapshot s in ordered)
            {
                string? key = keyOf(s);
                if (key is null || s.SnapshotId is null || !first.TryGetValue(key, out Snapshot? keeper))
                {
                    if (key is not null)
                    {
                        first[key] = s;
                    }

                    kept.Add(s);
                    continue;
                }

                string? run = RunOf(s);
                if (run is null || !string.Equals(run, RunOf(keeper), StringComparison.Ordinal))
                {
                    kept.Add(s); // another run's: not ours to delete
                    continue;
                }

                string id = s.SnapshotId;
                CcieException? error = await AwsCall.TryRunAsync("ec2:DeleteSnapshot", id, token => ec2.DeleteSnapshotAsync(new DeleteSnapshotRequest { SnapshotId = id }, token), ct).ConfigureAwait(false);
                if (error is null || AwsRetry.IsNotFound(error))
                {
                    string reason = $"a duplicate of {keeper.SnapshotId} made by the earlier run {run} (a lost response and a retried call); {keeper.SnapshotId} is kept";
                    deleted.Add(Describe(s, region, run, true, reason));
                    reporter.Verbose($"Deleted snapshot {id} in {region}: {reason}.");
                }
                else
                {
                    kept.Add(s);
                    reporter.Warning($"Could not delete duplicate snapshot {id} in {region} (a duplicate of {keeper.SnapshotId} made by the earlier run {run}): {error.Message} Delete it with: aws ec2 delete-snapshot --snapshot-id {id} --region {region}");
                }
            }

            return (kept, deleted);
        }

        private static string? RunOf(Snapshot s) => RecoveryTags.Get(s.Tags.ToDictionary(), RecoveryTags.RunId);

        private static DuplicateSnapshot Describe(Snapshot s, string region, string? runId, bool deleted, string reason) => new DuplicateSnapshot
        {
            SnapshotId = s.SnapshotId ?? string.Empty,
            Region = region,
            RunId = runId,
            SourceSnapshotId = RecoveryTags.Get(s.Tags.ToDictionary(), RecoveryTags.SourceSnapshotId),
            Deleted = deleted,
            Reason = reason,
        };

        /// <summary>What a sweep did.</summary>
        internal sealed class Result
        {
            public List<DuplicateSnapshot> Deleted { get; } = new List<DuplicateSnapshot>();

            public List<DuplicateSnapshot> LeftAlone { get; } = new List<DuplicateSnapshot>();

            /// <summary>The timeline detail of the sweep.</summary>
            public string Detail
            {
                get
                {
                    var parts = new List<string>();
                    parts.Add(Deleted.Count == 0 ? "no duplicates" : "deleted duplicates " + string.Join(", ", Deleted.Select(d => d.SnapshotId)));
                    if (LeftAlone.Count > 0)
                    {
                        parts.Add("left alone (not this run's) " + string.Join(", ", LeftAlone.Select(d => d.SnapshotId)));
                    }

                    return string.Join("; ", parts);
                }
            }

            /// <summary>Copies the sweep onto the point the run returns.</summary>
            public void ApplyTo(RecoveryPoint point, string runId)
            {
                point.RunId = runId;
                point.DeletedDuplicates = Deleted.ToList();
                point.LeftAlone = LeftAlone.ToList();
            }
        }
    }
}
