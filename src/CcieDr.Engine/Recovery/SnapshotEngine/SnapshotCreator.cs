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
    /// <summary>How New-CcieSnapshot creates the snapshots.</summary>
    public enum SnapshotMethod
    {
        /// <summary>The multi-volume CreateSnapshots call (crash-consistent), falling back to per-volume calls where it is not available.</summary>
        Auto,

        /// <summary>Only CreateSnapshots: fail if it is not available.</summary>
        MultiVolume,

        /// <summary>One CreateSnapshot call per volume, started back to back (not crash-consistent across volumes).</summary>
        PerVolume,
    }

    /// <summary>What New-CcieSnapshot asks for.</summary>
    public sealed class NewSnapshotRequest
    {
        /// <summary>Free text stored in the ccie:label tag (e.g. "before upgrade 1.48").</summary>
        public string? Label { get; set; }

        public SnapshotMethod Method { get; set; } = SnapshotMethod.Auto;

        /// <summary>Wait until every snapshot is completed.</summary>
        public bool Wait { get; set; }

        public WaitOptions? WaitOptions { get; set; }

        /// <summary>
        /// Reuse a recovery point of the same instance that is still pending with the same volumes (a rerun after
        /// a failure or a lost response) instead of starting a second one.
        /// </summary>
        public bool ReusePending { get; set; } = true;
    }

    /// <summary>
    /// Takes a recovery point of the Services box: a crash-consistent snapshot of every attached EBS volume
    /// (CreateSnapshots, or CreateSnapshot per volume as a fallback), each tagged with the point id and the box's
    /// recovery identity, without rebooting or stopping the box.
    /// </summary>
    public sealed class SnapshotCreator
    {
        // Error codes meaning "this account/endpoint cannot do CreateSnapshots": fall back to per-volume calls.
        private static readonly HashSet<string> NoMultiVolume = new HashSet<string>(StringComparer.Ordinal)
        {
            "InvalidAction", "UnsupportedOperation", "UnknownOperation", "NotImplemented", "UnauthorizedOperation", "Unsupported",
        };

        private readonly IAmazonEC2 _ec2;
        private readonly string _region;
        private readonly IOperationReporter _reporter;
        private readonly Func<DateTime> _clock;

        public SnapshotCreator(IAmazonEC2 ec2, string region, IOperationReporter? reporter = null, Func<DateTime>? clock = null)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
            _reporter = reporter ?? NullReporter.Instance;
            _clock = clock ?? (() => DateTime.UtcNow);
        }

        /// <summary>The steps -WhatIf shows.</summary>
        public static OperationPlan Plan(ServicesBox box, NewSnapshotRequest request)
        {
            if (box is null)
            {
                throw new ArgumentNullException(nameof(box));
            }

            request ??= new NewSnapshotRequest();
            var plan = new OperationPlan("New-CcieSnapshot", $"{box.InstanceId} ({box.Name ?? "unnamed"}, {box.PrivateIpAddress}, {box.Region})");
            string volumes = string.Join(", ", box.Volumes.Select(v => $"{v.DeviceName}={v.VolumeId} ({v.SizeGiB} GiB {v.VolumeType}{(v.Encrypted ? " encrypted" : string.Empty)})"));
            if (request.ReusePending)
            {
                plan.Add("ec2:DescribeSnapshots", $"look for a pending recovery point of {box.InstanceId} to reuse (no duplicates on a rerun)");
            }

            if (request.Method == SnapshotMethod.PerVolume)
            {
                foreach (ServicesBoxVolume v in box.Volumes)
                {
                    plan.Add("ec2:CreateSnapshot", $"VolumeId={v.VolumeId} ({v.DeviceName}) with the recovery-point and identity tags", v.VolumeId);
                }
            }
            else
            {
                plan.Add("ec2:CreateSnapshots", $"InstanceId={box.InstanceId}, all {box.Volumes.Count} volumes together (crash-consistent, no reboot): {volumes}; Description='{RecoveryTags.DescriptionPrefix}<now>'; tags ccie:recovery-point, identity (private IP {box.PrivateIpAddress}, subnet {box.SubnetId}, AZ {box.AvailabilityZone}, security groups {string.Join(",", box.SecurityGroupIds)}, type {box.InstanceType}, key {box.KeyName}){(string.IsNullOrEmpty(request.Label) ? string.Empty : ", ccie:label")}", box.InstanceId);
                if (request.Method == SnapshotMethod.Auto)
                {
                    plan.Notes.Add("where CreateSnapshots is not available, one ec2:CreateSnapshot per volume instead");
                }

                plan.Add("ec2:CreateTags", $"per snapshot: ccie:device-name, volume type/size/IOPS/throughput, encryption, Name ({box.Volumes.Count} calls)");
            }

            plan.Add("ec2:DescribeSnapshots", "look for duplicates a lost response could have caused (snapshots with the new point's id that this run did not get back)");
            plan.Add("ec2:DeleteSnapshot", RunDuplicates.PlanText);
            if (request.Wait)
            {
                plan.Add("wait", "until every snapshot is completed (ec2:DescribeSnapshots, with backoff)");
            }

            return plan;
        }

        /// <summary>Takes (or resumes) the recovery point and returns it; pending unless <see cref="NewSnapshotRequest.Wait"/>.</summary>
        public async Task<RecoveryPoint> CreateAsync(ServicesBox box, NewSnapshotRequest request, CancellationToken ct)
        {
            if (box is null)
            {
                throw new ArgumentNullException(nameof(box));
            }

            request ??= new NewSnapshotRequest();
            var timeline = new Timeline(_clock);
            Validate(box);

            RecoveryPoint? point = null;
            if (request.ReusePending)
            {
                point = await timeline.RunAsync("ec2:DescribeSnapshots", box.InstanceId, async entry =>
                {
                    RecoveryPoint? found = await FindPendingAsync(box, request.Label, ct).ConfigureAwait(false);
                    timeline.Complete(entry, found is null ? "Succeeded" : "Reused", found?.RecoveryPointId, found is null ? "no pending recovery point to reuse" : "reusing pending recovery point");
                    return found;
                }).ConfigureAwait(false);
                if (point is not null)
                {
                    _reporter.Warning($"Recovery point {point.RecoveryPointId} of {box.InstanceId} is still pending ({point.Progress}%), started {point.Created:u}: reusing it instead of starting a second one.");
                    await RepairVolumeTagsAsync(box, point, ct).ConfigureAwait(false);
                }
            }

            if (point is null)
            {
                point = await CreateNewAsync(box, request, timeline, ct).ConfigureAwait(false);
            }

            point.Timeline = timeline.Entries;
            if (request.Wait && point.State is RecoveryPointStates.Pending or RecoveryPointStates.Completed)
            {
                RecoveryPoint created = point;
                point = await new SnapshotWaiter(_ec2, _region, _reporter).WaitAsync(point, request.WaitOptions, null, timeline, ct).ConfigureAwait(false);
                point.RunId = created.RunId;
                point.DeletedDuplicates = created.DeletedDuplicates;
                point.LeftAlone = created.LeftAlone;
            }

            point.Timeline = timeline.Entries;
            return point;
        }

        private static void Validate(ServicesBox box)
        {
            if (box.State is "terminated" or "shutting-down")
            {
                throw new CcieException(
                    "ServicesBoxNotSnapshottable",
                    CcieErrorCategory.InvalidOperation,
                    $"Instance {box.InstanceId} is {box.State}: its volumes can no longer be snapshotted. Restore from an existing recovery point (Get-CcieSnapshot -Latest) instead.",
                    box.InstanceId);
            }

            if (box.Volumes.Count == 0)
            {
                throw new CcieException(
                    "ServicesBoxHasNoVolumes",
                    CcieErrorCategory.InvalidOperation,
                    $"Instance {box.InstanceId} has no attached EBS volume to snapshot. Check the instance in the EC2 console.",
                    box.InstanceId);
            }
        }

        /// <summary>A pending point of this instance with the same volumes and label: an earlier run's, still in progress.</summary>
        private async Task<RecoveryPoint?> FindPendingAsync(ServicesBox box, string? label, CancellationToken ct)
        {
            IReadOnlyList<Snapshot> snapshots = await AwsCall.RunAsync(
                "ec2:DescribeSnapshots",
                box.InstanceId,
                token => _ec2.DescribeAllSnapshotsAsync(
                    new DescribeSnapshotsRequest
                    {
                        OwnerIds = new List<string> { "self" },
                        Filters = new List<Filter>
                        {
                            Ec2Extensions.Filter("tag:" + RecoveryTags.SourceInstanceId, box.InstanceId),
                            Ec2Extensions.Filter("status", "pending"),
                        },
                    },
                    token),
                ct).ConfigureAwait(false);

            var volumeIds = new HashSet<string>(box.Volumes.Select(v => v.VolumeId), StringComparer.Ordinal);
            foreach (string id in snapshots.Select(s => s.Tags.ToDictionary()).Select(t => RecoveryTags.Get(t, RecoveryTags.RecoveryPoint)).Where(id => id is not null).Select(id => id!).Distinct(StringComparer.Ordinal).OrderByDescending(id => id, StringComparer.Ordinal))
            {
                // The whole point (completed snapshots of it too), by tag.
                IReadOnlyList<Snapshot> all = await SnapshotCalls.DescribeByPointAsync(_ec2, id, null, ct).ConfigureAwait(false);
                if (all.Count == 0)
                {
                    continue;
                }

                RecoveryPoint p = RecoveryPointCatalog.BuildPoint(id, all, _region);
                var covered = new HashSet<string>(p.Snapshots.Select(s => s.VolumeId ?? string.Empty), StringComparer.Ordinal);
                if (p.State == RecoveryPointStates.Pending && covered.SetEquals(volumeIds) && string.Equals(p.Label, string.IsNullOrEmpty(label) ? null : label, StringComparison.Ordinal))
                {
                    // The earlier run may have died after lost responses left it two snapshots of a volume: one each.
                    (List<Snapshot> kept, List<DuplicateSnapshot> deleted) = await RunDuplicates.KeepOnePerKeyAsync(
                        _ec2,
                        _region,
                        all.OrderBy(s => s.StartTime ?? DateTime.MaxValue).ThenBy(s => s.SnapshotId, StringComparer.Ordinal),
                        s => s.VolumeId,
                        _reporter,
                        ct).ConfigureAwait(false);
                    if (deleted.Count > 0)
                    {
                        p = RecoveryPointCatalog.BuildPoint(id, kept, _region);
                        p.DeletedDuplicates = deleted;
                    }

                    return p;
                }
            }

            return null;
        }

        private async Task<RecoveryPoint> CreateNewAsync(ServicesBox box, NewSnapshotRequest request, Timeline timeline, CancellationToken ct)
        {
            DateTime now = _clock();
            string rpId = RecoveryTags.NewRecoveryPointId(now);
            string description = RecoveryTags.Description(now);
            string runId = RunDuplicates.NewRunId();
            _reporter.Verbose($"Taking recovery point {rpId} of {box.InstanceId}: {box.Volumes.Count} volumes ({string.Join(", ", box.Volumes.Select(v => v.DeviceName))}), run {runId}.");

            var created = new List<Snapshot>();
            var failures = new List<string>();
            bool perVolume = request.Method == SnapshotMethod.PerVolume;
            if (!perVolume)
            {
                TimelineEntry entry = timeline.Begin("ec2:CreateSnapshots", box.InstanceId);
                try
                {
                    created.AddRange(await CreateMultiVolumeAsync(box, rpId, runId, now, description, request.Label, ct).ConfigureAwait(false));
                    timeline.Complete(entry, target: rpId, detail: string.Join(", ", created.Select(s => s.SnapshotId)));
                }
                catch (CcieException e) when (request.Method == SnapshotMethod.Auto && e.InnerException is Amazon.Runtime.AmazonServiceException s && NoMultiVolume.Contains(s.ErrorCode ?? string.Empty))
                {
                    timeline.Complete(entry, "Skipped", detail: "CreateSnapshots not available: " + s.ErrorCode);
                    _reporter.Warning($"CreateSnapshots is not available here ({s.ErrorCode}); snapshotting the {box.Volumes.Count} volumes one by one. Those snapshots are started back to back but are not crash-consistent across volumes.");
                    perVolume = true;
                }
                catch (Exception e)
                {
                    timeline.Fail(entry, e);
                    throw;
                }
            }

            if (perVolume)
            {
                foreach (ServicesBoxVolume v in box.Volumes)
                {
                    TimelineEntry entry = timeline.Begin("ec2:CreateSnapshot", v.VolumeId);
                    try
                    {
                        Snapshot s = await CreateOneAsync(box, v, rpId, runId, now, description, request.Label, ct).ConfigureAwait(false);
                        created.Add(s);
                        timeline.Complete(entry, target: s.SnapshotId, detail: v.DeviceName);
                    }
                    catch (CcieException e)
                    {
                        // A partial failure: keep going; the point will read as incomplete and never count as good.
                        timeline.Fail(entry, e);
                        failures.Add($"{v.DeviceName} ({v.VolumeId}): {e.Message}");
                    }
                }

                if (created.Count == 0)
                {
                    throw new CcieException("SnapshotCreationFailed", CcieErrorCategory.NotSpecified, $"No snapshot of {box.InstanceId} could be created: {string.Join("; ", failures)}", box.InstanceId);
                }
            }
            else
            {
                // CreateSnapshots tags every snapshot alike; the per-volume tags follow.
                await timeline.RunAsync("ec2:CreateTags", rpId, async _ =>
                {
                    foreach (Snapshot s in created)
                    {
                        ServicesBoxVolume? v = box.Volumes.FirstOrDefault(x => x.VolumeId == s.VolumeId);
                        if (v is null)
                        {
                            continue; // a volume attached after Get-CcieServicesBox read the box: untagged device
                        }

                        IDictionary<string, string> tags = RecoveryTags.ForVolume(box, v, rpId);
                        await SnapshotCalls.TagAsync(_ec2, s.SnapshotId!, tags, ct).ConfigureAwait(false);
                        s.Tags = Merge(s.Tags, tags);
                    }
                }).ConfigureAwait(false);
            }

            // Only this run's own duplicates (its run id) are deleted; anything else with the point's id is left alone.
            var ours = new HashSet<string>(created.Select(s => s.SnapshotId!), StringComparer.Ordinal);
            RunDuplicates.Result sweep = await timeline.RunAsync("ec2:DescribeSnapshots", rpId, async entry =>
            {
                RunDuplicates.Result r = await RunDuplicates.SweepAsync(_ec2, _region, rpId, runId, ours, "creating", _reporter, ct).ConfigureAwait(false);
                timeline.Complete(entry, detail: r.Detail);
                return r;
            }).ConfigureAwait(false);

            RecoveryPoint point = RecoveryPointCatalog.BuildPoint(rpId, created, _region);
            sweep.ApplyTo(point, runId);
            if (failures.Count > 0)
            {
                point.StateMessage = (point.StateMessage is null ? string.Empty : point.StateMessage + " ") + "Failed: " + string.Join("; ", failures);
            }

            return point;
        }

        private async Task<IReadOnlyList<Snapshot>> CreateMultiVolumeAsync(ServicesBox box, string rpId, string runId, DateTime createdUtc, string description, string? label, CancellationToken ct)
        {
            IDictionary<string, string> pointTags = RecoveryTags.ForPoint(box, rpId, label, createdUtc);
            pointTags[RecoveryTags.RunId] = runId; // in the call itself: a retried call's duplicate carries it too
            var request = new CreateSnapshotsRequest
            {
                InstanceSpecification = new InstanceSpecification { InstanceId = box.InstanceId, ExcludeBootVolume = false },
                Description = description,
                TagSpecifications = new List<TagSpecification> { new TagSpecification { ResourceType = ResourceType.Snapshot, Tags = RecoveryTags.ToTagList(pointTags) } },
            };
            CreateSnapshotsResponse response = await AwsCall.RunAsync("ec2:CreateSnapshots", box.InstanceId, token => _ec2.CreateSnapshotsAsync(request, token), ct).ConfigureAwait(false);

            DateTime now = _clock();
            return (response.Snapshots ?? new List<SnapshotInfo>())
                .Where(i => i.SnapshotId is not null)
                .Select(i => new Snapshot
                {
                    SnapshotId = i.SnapshotId,
                    VolumeId = i.VolumeId,
                    State = i.State ?? SnapshotState.Pending,
                    Progress = i.Progress ?? "0%",
                    StartTime = i.StartTime ?? now,
                    VolumeSize = i.VolumeSize,
                    Encrypted = i.Encrypted,
                    Description = i.Description ?? description,
                    Tags = Merge(i.Tags, pointTags),
                })
                .ToList();
        }

        private async Task<Snapshot> CreateOneAsync(ServicesBox box, ServicesBoxVolume v, string rpId, string runId, DateTime createdUtc, string description, string? label, CancellationToken ct)
        {
            IDictionary<string, string> tags = RecoveryTags.ForSnapshot(box, v, rpId, label, createdUtc);
            tags[RecoveryTags.RunId] = runId; // in the call itself: a retried call's duplicate carries it too
            var request = new CreateSnapshotRequest
            {
                VolumeId = v.VolumeId,
                Description = description,
                TagSpecifications = new List<TagSpecification> { new TagSpecification { ResourceType = ResourceType.Snapshot, Tags = RecoveryTags.ToTagList(tags) } },
            };
            CreateSnapshotResponse r = await AwsCall.RunAsync("ec2:CreateSnapshot", v.VolumeId, token => _ec2.CreateSnapshotAsync(request, token), ct).ConfigureAwait(false);
            Snapshot s = r.Snapshot ?? new Snapshot();
            s.VolumeId ??= v.VolumeId;
            s.Description ??= description;
            s.StartTime ??= _clock();
            s.Tags = Merge(s.Tags, tags);
            return s;
        }

        /// <summary>A reused point's snapshots may lack their per-volume tags (the earlier run stopped in between).</summary>
        private async Task RepairVolumeTagsAsync(ServicesBox box, RecoveryPoint point, CancellationToken ct)
        {
            foreach (RecoveryPointSnapshot s in point.Snapshots.Where(s => s.DeviceName is null))
            {
                ServicesBoxVolume? v = box.Volumes.FirstOrDefault(x => x.VolumeId == s.VolumeId);
                if (v is not null)
                {
                    await SnapshotCalls.TagAsync(_ec2, s.SnapshotId, RecoveryTags.ForVolume(box, v, point.RecoveryPointId), ct).ConfigureAwait(false);
                    s.DeviceName = v.DeviceName;
                    s.IsRootDevice = v.IsRootDevice;
                    s.VolumeType = v.VolumeType;
                    s.Iops = v.Iops;
                    s.Throughput = v.Throughput;
                    s.KmsKeyId ??= v.KmsKeyId;
                }
            }
        }

        private static List<Tag> Merge(List<Tag>? existing, IEnumerable<KeyValuePair<string, string>> add)
        {
            var d = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Tag t in existing ?? new List<Tag>())
            {
                if (t.Key is not null)
                {
                    d[t.Key] = t.Value ?? string.Empty;
                }
            }

            foreach (KeyValuePair<string, string> t in add)
            {
                d[t.Key] = t.Value;
            }

            return RecoveryTags.ToTagList(d);
        }
    }
}
