using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery
{
    /// <summary>What Copy-CcieSnapshot asks for.</summary>
    public sealed class CopyRecoveryPointRequest
    {
        public string DestinationRegion { get; set; } = string.Empty;

        /// <summary>Encrypt the copies with this KMS key of the destination region (copies of encrypted snapshots stay encrypted anyway).</summary>
        public string? KmsKeyId { get; set; }

        /// <summary>Wait until the copies are completed.</summary>
        public bool Wait { get; set; }

        public WaitOptions? WaitOptions { get; set; }
    }

    /// <summary>
    /// Copies a recovery point to another region (for a region outage): every snapshot, with its tags and
    /// description, under the same recovery-point id, so it groups into the same point there. Copies already made
    /// by an earlier run (tag ccie:source-snapshot-id) are reused, so a rerun copies only what is missing.
    /// </summary>
    public sealed class SnapshotCopier
    {
        private readonly IAmazonEC2 _source;
        private readonly IAmazonEC2 _destination;
        private readonly string _sourceRegion;
        private readonly IOperationReporter _reporter;
        private readonly Func<DateTime> _clock;

        public SnapshotCopier(IAmazonEC2 source, string sourceRegion, IAmazonEC2 destination, IOperationReporter? reporter = null, Func<DateTime>? clock = null)
        {
            _source = source ?? throw new ArgumentNullException(nameof(source));
            _destination = destination ?? throw new ArgumentNullException(nameof(destination));
            _sourceRegion = sourceRegion;
            _reporter = reporter ?? NullReporter.Instance;
            _clock = clock ?? (() => DateTime.UtcNow);
        }

        /// <summary>The steps -WhatIf shows.</summary>
        public OperationPlan Plan(RecoveryPoint point, CopyRecoveryPointRequest request)
        {
            if (point is null)
            {
                throw new ArgumentNullException(nameof(point));
            }

            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            var plan = new OperationPlan("Copy-CcieSnapshot", $"{point.RecoveryPointId} ({_sourceRegion} -> {request.DestinationRegion})");
            if (point.State == RecoveryPointStates.Pending)
            {
                plan.Add("wait", $"until {point.RecoveryPointId} is completed in {_sourceRegion}");
            }

            plan.Add("ec2:DescribeSnapshots", $"in {request.DestinationRegion}: copies made by an earlier run (reused)");
            plan.Add("ec2:DeleteSnapshot", $"in {request.DestinationRegion}: earlier copies that failed (state error, no data), if any; each is copied again");
            foreach (RecoveryPointSnapshot s in point.Snapshots)
            {
                bool encrypt = s.Encrypted || request.KmsKeyId is not null;
                plan.Add(
                    "ec2:CopySnapshot",
                    $"in {request.DestinationRegion}: SourceRegion={_sourceRegion} SourceSnapshotId={s.SnapshotId} ({s.DeviceName}){(encrypt ? " Encrypted=true" : string.Empty)}{(request.KmsKeyId is null ? string.Empty : " KmsKeyId=" + request.KmsKeyId)}, with the recovery-point tags",
                    s.SnapshotId);
            }

            if (point.Origin != "Seed")
            {
                plan.Add("ec2:DescribeSnapshots", $"in {request.DestinationRegion}: look for duplicates a lost response could have caused (snapshots with the point's id that this run did not get back)");
                plan.Add("ec2:DeleteSnapshot", $"in {request.DestinationRegion}: {RunDuplicates.PlanText}");
            }

            if (request.Wait)
            {
                plan.Add("wait", $"until the copies are completed in {request.DestinationRegion}");
            }

            return plan;
        }

        /// <summary>Copies the point and returns it as it is in the destination region.</summary>
        public async Task<RecoveryPoint> CopyAsync(RecoveryPoint point, CopyRecoveryPointRequest request, CancellationToken ct)
        {
            if (point is null)
            {
                throw new ArgumentNullException(nameof(point));
            }

            if (request is null || string.IsNullOrEmpty(request.DestinationRegion))
            {
                throw new ArgumentException("A destination region is required.", nameof(request));
            }

            string destRegion = request.DestinationRegion;
            if (string.Equals(destRegion, _sourceRegion, StringComparison.OrdinalIgnoreCase))
            {
                throw new CcieException(
                    "SameRegion",
                    CcieErrorCategory.InvalidArgument,
                    $"Recovery point {point.RecoveryPointId} is already in {_sourceRegion}. Give another region with -DestinationRegion (a copy keeps the point id, so it must live in another region).",
                    destRegion);
            }

            var timeline = new Timeline(_clock);
            var sourceWaiter = new SnapshotWaiter(_source, _sourceRegion, _reporter);
            RecoveryPoint source = await timeline.RunAsync("ec2:DescribeSnapshots", point.RecoveryPointId, _ => sourceWaiter.RefreshAsync(point, ct)).ConfigureAwait(false);
            if (source.State == RecoveryPointStates.Pending)
            {
                _reporter.Verbose($"Recovery point {source.RecoveryPointId} is still pending in {_sourceRegion}; waiting for it before copying.");
                source = await sourceWaiter.WaitAsync(source, request.WaitOptions, null, timeline, ct).ConfigureAwait(false);
            }

            if (!source.IsComplete)
            {
                throw new CcieException(
                    "RecoveryPointNotUsable",
                    CcieErrorCategory.InvalidOperation,
                    $"Recovery point {source.RecoveryPointId} in {_sourceRegion} is {source.State} ({source.StateMessage}); only completed points are copied. Copy another point (Get-CcieSnapshot -Latest).",
                    source);
            }

            // Copies from an earlier run: reuse completed and pending ones, replace failed ones.
            string runId = RunDuplicates.NewRunId();
            var replaced = new List<DuplicateSnapshot>();
            Dictionary<string, Snapshot> existing = await timeline.RunAsync("ec2:DescribeSnapshots", destRegion, async entry =>
            {
                Dictionary<string, Snapshot> found = await FindCopiesAsync(source, destRegion, replaced, ct).ConfigureAwait(false);
                timeline.Complete(entry, found.Count == 0 ? "Succeeded" : "Reused", detail: found.Count == 0 ? "no earlier copies" : "earlier copies: " + string.Join(", ", found.Values.Select(s => s.SnapshotId)));
                return found;
            }).ConfigureAwait(false);

            var copies = new List<Snapshot>();
            foreach (RecoveryPointSnapshot s in source.Snapshots)
            {
                if (existing.TryGetValue(s.SnapshotId, out Snapshot? earlier))
                {
                    _reporter.Verbose($"Reusing copy {earlier.SnapshotId} of {s.SnapshotId} made by an earlier run.");
                    copies.Add(earlier);
                    continue;
                }

                Snapshot copy = await timeline.RunAsync("ec2:CopySnapshot", s.SnapshotId, async entry =>
                {
                    Snapshot c = await CopyOneAsync(source, s, request, runId, ct).ConfigureAwait(false);
                    timeline.Complete(entry, target: c.SnapshotId, detail: $"{_sourceRegion}/{s.SnapshotId} -> {destRegion}/{c.SnapshotId}");
                    return c;
                }).ConfigureAwait(false);
                copies.Add(copy);
            }

            // Only this run's own duplicates (its run id) are deleted: a concurrent run's copies of the same point,
            // or the point's originals when it is copied back to the region it came from, are left alone.
            var ours = new HashSet<string>(copies.Select(c => c.SnapshotId!), StringComparer.Ordinal);
            var sweep = new RunDuplicates.Result();
            if (source.Origin != "Seed")
            {
                sweep = await timeline.RunAsync("ec2:DescribeSnapshots", destRegion, async entry =>
                {
                    RunDuplicates.Result r = await RunDuplicates.SweepAsync(_destination, destRegion, source.RecoveryPointId, runId, ours, "copying", _reporter, ct).ConfigureAwait(false);
                    timeline.Complete(entry, detail: r.Detail);
                    return r;
                }).ConfigureAwait(false);
            }

            sweep.Deleted.InsertRange(0, replaced);
            RecoveryPoint result = source.Origin == "Seed"
                ? RecoveryPointCatalog.BuildSeedPoint(copies[0], destRegion)
                : RecoveryPointCatalog.BuildPoint(source.RecoveryPointId, copies, destRegion);
            result.Timeline = timeline.Entries;
            if (request.Wait)
            {
                result = await new SnapshotWaiter(_destination, destRegion, _reporter).WaitAsync(result, request.WaitOptions, null, timeline, ct).ConfigureAwait(false);
            }

            sweep.ApplyTo(result, runId);
            result.Timeline = timeline.Entries;
            return result;
        }

        private async Task<Dictionary<string, Snapshot>> FindCopiesAsync(RecoveryPoint source, string destRegion, List<DuplicateSnapshot> replaced, CancellationToken ct)
        {
            IReadOnlyList<Snapshot> found = await AwsCall.RunAsync(
                "ec2:DescribeSnapshots",
                source.RecoveryPointId,
                token => _destination.DescribeAllSnapshotsAsync(
                    new DescribeSnapshotsRequest
                    {
                        OwnerIds = new List<string> { "self" },
                        Filters = new List<Filter>
                        {
                            Ec2Extensions.Filter("tag:" + RecoveryTags.SourceRegion, _sourceRegion),
                            Ec2Extensions.Filter("tag:" + RecoveryTags.SourceSnapshotId, source.SnapshotIds.ToArray()),
                        },
                    },
                    token),
                ct).ConfigureAwait(false);

            // An earlier run that died after lost responses may have left two copies of a source: one each.
            (List<Snapshot> usable, List<DuplicateSnapshot> duplicates) = await RunDuplicates.KeepOnePerKeyAsync(
                _destination,
                destRegion,
                found.OrderByDescending(s => s.StartTime ?? DateTime.MinValue),
                s => s.State == SnapshotState.Error ? null : RecoveryTags.Get(s.Tags.ToDictionary(), RecoveryTags.SourceSnapshotId),
                _reporter,
                ct).ConfigureAwait(false);
            replaced.AddRange(duplicates);

            var result = new Dictionary<string, Snapshot>(StringComparer.Ordinal);
            foreach (Snapshot s in usable)
            {
                string? from = RecoveryTags.Get(s.Tags.ToDictionary(), RecoveryTags.SourceSnapshotId);
                if (from is null || s.SnapshotId is null)
                {
                    continue;
                }

                if (s.State == SnapshotState.Error)
                {
                    // A failed copy is useless and would mark the copied point as failed: replace it.
                    await AwsCall.RunAsync("ec2:DeleteSnapshot", s.SnapshotId, token => _destination.DeleteSnapshotAsync(new DeleteSnapshotRequest { SnapshotId = s.SnapshotId }, token), ct).ConfigureAwait(false);
                    _reporter.Verbose($"Deleted failed copy {s.SnapshotId} of {from}; copying it again.");

                    replaced.Add(new DuplicateSnapshot
                    {
                        SnapshotId = s.SnapshotId,
                        Region = destRegion,
                        RunId = RecoveryTags.Get(s.Tags.ToDictionary(), RecoveryTags.RunId),
                        SourceSnapshotId = from,
                        Deleted = true,
                        Reason = "an earlier copy of " + from + " that failed (state error, no data): replaced by a new copy",
                    });
                    continue;
                }

                if (!result.ContainsKey(from))
                {
                    result[from] = s;
                }
            }

            return result;
        }

        private async Task<Snapshot> CopyOneAsync(RecoveryPoint source, RecoveryPointSnapshot s, CopyRecoveryPointRequest request, string runId, CancellationToken ct)
        {
            Snapshot original = await DescribeOneAsync(s.SnapshotId, ct).ConfigureAwait(false);
            var tags = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (KeyValuePair<string, string> t in original.Tags.ToDictionary())
            {
                // Only our schema and the Name: never arbitrary tags.
                if (t.Key.StartsWith(RecoveryTags.Prefix, StringComparison.Ordinal) || t.Key == RecoveryTags.Name)
                {
                    tags[t.Key] = t.Value;
                }
            }

            bool encrypt = s.Encrypted || request.KmsKeyId is not null;
            tags[RecoveryTags.SourceRegion] = _sourceRegion;
            tags[RecoveryTags.SourceSnapshotId] = s.SnapshotId;
            tags[RecoveryTags.RunId] = runId; // this run's, not the original's: in the call itself, so a retried call's duplicate carries it too
            if (source.Origin != "Seed")
            {
                tags[RecoveryTags.Encrypted] = encrypt ? "true" : "false";
                tags[RecoveryTags.KmsKeyId] = request.KmsKeyId ?? string.Empty; // the destination's default key otherwise
            }

            var copyRequest = new CopySnapshotRequest
            {
                SourceRegion = _sourceRegion,
                SourceSnapshotId = s.SnapshotId,
                Description = original.Description,
                TagSpecifications = new List<TagSpecification> { new TagSpecification { ResourceType = ResourceType.Snapshot, Tags = RecoveryTags.ToTagList(tags) } },
            };
            if (encrypt)
            {
                copyRequest.Encrypted = true;
                if (request.KmsKeyId is not null)
                {
                    copyRequest.KmsKeyId = request.KmsKeyId;
                }
            }

            CopySnapshotResponse response = await AwsCall.RunAsync("ec2:CopySnapshot", s.SnapshotId, token => _destination.CopySnapshotAsync(copyRequest, token), ct).ConfigureAwait(false);

            return new Snapshot
            {
                SnapshotId = response.SnapshotId,
                State = SnapshotState.Pending,
                Progress = "0%",
                StartTime = _clock(),
                VolumeSize = original.VolumeSize,
                Encrypted = encrypt,
                KmsKeyId = request.KmsKeyId,
                Description = original.Description,
                Tags = RecoveryTags.ToTagList(tags),
            };
        }

        private async Task<Snapshot> DescribeOneAsync(string id, CancellationToken ct)
        {
            (IReadOnlyList<Snapshot> found, _) = await SnapshotCalls.DescribeByIdsAsync(_source, new[] { id }, SnapshotCalls.NotFoundRetries, ct).ConfigureAwait(false);
            if (found.Count == 0)
            {
                throw new CcieException("SnapshotNotFound", CcieErrorCategory.ObjectNotFound, $"Snapshot {id} is gone from {_sourceRegion}; the recovery point cannot be copied.", id);
            }

            return found[0];
        }
    }
}
