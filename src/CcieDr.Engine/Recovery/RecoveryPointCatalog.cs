using System;
using System.Globalization;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;

namespace CcieDr.Engine.Recovery
{
    /// <summary>Recovery point states (RecoveryPoint.State).</summary>
    public static class RecoveryPointStates
    {
        public const string Pending = "pending";
        public const string Completed = "completed";
        public const string Error = "error";
        public const string Incomplete = "incomplete";

        public static IReadOnlyList<string> All { get; } = new[] { Pending, Completed, Error, Incomplete };
    }

    /// <summary>Which recovery points to return. Every criterion is optional; all given ones must hold.</summary>
    public sealed class RecoveryPointFilter
    {
        /// <summary>One point by id (rp-... for CcieDr points, snap-... for a seed snapshot).</summary>
        public string? RecoveryPointId { get; set; }

        /// <summary>Only points in these states (pending, completed, error, incomplete).</summary>
        public IReadOnlyList<string> States { get; set; } = Array.Empty<string>();

        /// <summary>Only points created before this time (exclusive).</summary>
        public DateTime? Before { get; set; }

        /// <summary>Only points created after this time (exclusive).</summary>
        public DateTime? After { get; set; }

        /// <summary>Only points taken of this instance.</summary>
        public string? SourceInstanceId { get; set; }

        /// <summary>Only points of the box with this Name tag.</summary>
        public string? BoxName { get; set; }

        /// <summary>Include single-volume points for snapshots made by the seed's script (description CircleCI*, no ccie tags).</summary>
        public bool IncludeSeed { get; set; } = true;

        /// <summary>
        /// Only the newest matching point: the newest completed one, or, when <see cref="States"/> is given, the
        /// newest in those states.
        /// </summary>
        public bool Latest { get; set; }
    }

    /// <summary>
    /// Groups snapshots into recovery points by their ccie:recovery-point tag and reads each point's state and
    /// identity. Snapshots made by the seed's script (description CircleCI*, no ccie tags) appear as
    /// single-volume points whose id is the snapshot id.
    /// </summary>
    public static class RecoveryPointCatalog
    {
        /// <summary>Recovery points in <paramref name="region"/> matching <paramref name="filter"/>, newest first.</summary>
        public static async Task<IReadOnlyList<RecoveryPoint>> ListAsync(IAmazonEC2 ec2, string region, RecoveryPointFilter? filter, CancellationToken ct)
        {
            if (ec2 is null)
            {
                throw new ArgumentNullException(nameof(ec2));
            }

            filter ??= new RecoveryPointFilter();
            IReadOnlyList<Snapshot> snapshots;
            if (!string.IsNullOrEmpty(filter.RecoveryPointId))
            {
                snapshots = await DescribePointSnapshotsAsync(ec2, filter.RecoveryPointId!, ct).ConfigureAwait(false);
            }
            else
            {
                var requests = new List<(DescribeSnapshotsRequest Request, string What)>
                {
                    (new DescribeSnapshotsRequest { OwnerIds = new List<string> { "self" }, Filters = new List<Filter> { Ec2Extensions.Filter("tag-key", RecoveryTags.RecoveryPoint) } }, "tag-key=" + RecoveryTags.RecoveryPoint),
                };
                if (filter.IncludeSeed)
                {
                    requests.Add((new DescribeSnapshotsRequest { OwnerIds = new List<string> { "self" }, Filters = new List<Filter> { Ec2Extensions.Filter("description", RecoveryTags.SeedDescriptionFilter) } }, "description=" + RecoveryTags.SeedDescriptionFilter));
                }

                var all = new Dictionary<string, Snapshot>(StringComparer.Ordinal);
                foreach ((DescribeSnapshotsRequest request, string what) in requests)
                {
                    foreach (Snapshot s in await DescribeAsync(ec2, request, what, ct).ConfigureAwait(false))
                    {
                        if (s.SnapshotId is not null)
                        {
                            all[s.SnapshotId] = s;
                        }
                    }
                }

                snapshots = all.Values.ToList();
            }

            return Apply(Group(snapshots, region), filter);
        }

        /// <summary>The one error for a recovery point id that no snapshot in <paramref name="region"/> carries.</summary>
        public static CcieException NotFound(string region, string recoveryPointId) => new CcieException(
            "RecoveryPointNotFound",
            CcieErrorCategory.ObjectNotFound,
            $"No recovery point {recoveryPointId} in {region}: no snapshot there carries it. Check -Region (a copied point is in the region it was copied to), or list the points with Get-CcieSnapshot -Region {region}.",
            recoveryPointId);

        /// <summary>One recovery point by id; throws <see cref="NotFound"/>'s error when none exists.</summary>
        public static async Task<RecoveryPoint> GetRequiredAsync(IAmazonEC2 ec2, string region, string recoveryPointId, CancellationToken ct)
            => await GetAsync(ec2, region, recoveryPointId, ct).ConfigureAwait(false) ?? throw NotFound(region, recoveryPointId);

        /// <summary>One recovery point by id (rp-... or, for a seed snapshot, snap-...), or null when none exists.</summary>
        public static async Task<RecoveryPoint?> GetAsync(IAmazonEC2 ec2, string region, string recoveryPointId, CancellationToken ct)
        {
            if (ec2 is null)
            {
                throw new ArgumentNullException(nameof(ec2));
            }

            if (string.IsNullOrEmpty(recoveryPointId))
            {
                throw new ArgumentException("A recovery point id is required.", nameof(recoveryPointId));
            }

            IReadOnlyList<Snapshot> snapshots = await DescribePointSnapshotsAsync(ec2, recoveryPointId, ct).ConfigureAwait(false);
            return Group(snapshots, region).FirstOrDefault(p => string.Equals(p.RecoveryPointId, recoveryPointId, StringComparison.Ordinal));
        }

        /// <summary>True when <paramref name="id"/> looks like a recovery point id (rp-...) or a seed snapshot id (snap-...).</summary>
        public static bool IsValidId(string? id)
            => RecoveryTags.TryParseRecoveryPointId(id, out _) || IsSnapshotId(id);

        /// <summary>Groups snapshots into recovery points, newest first (pure: no AWS calls).</summary>
        public static IReadOnlyList<RecoveryPoint> Group(IEnumerable<Snapshot> snapshots, string region)
        {
            if (snapshots is null)
            {
                throw new ArgumentNullException(nameof(snapshots));
            }

            var points = new List<RecoveryPoint>();
            var byPoint = new Dictionary<string, List<Snapshot>>(StringComparer.Ordinal);
            foreach (Snapshot s in snapshots.Where(s => s.SnapshotId is not null).GroupBy(s => s.SnapshotId, StringComparer.Ordinal).Select(g => g.First()))
            {
                IReadOnlyDictionary<string, string> tags = s.Tags.ToDictionary();
                if (tags.TryGetValue(RecoveryTags.RecoveryPoint, out string? id) && !string.IsNullOrEmpty(id))
                {
                    if (!byPoint.TryGetValue(id, out List<Snapshot>? list))
                    {
                        byPoint[id] = list = new List<Snapshot>();
                    }

                    list.Add(s);
                }
                else if ((s.Description ?? string.Empty).StartsWith(RecoveryTags.SeedDescriptionStart, StringComparison.Ordinal))
                {
                    points.Add(BuildSeedPoint(s, region));
                }
            }

            foreach (KeyValuePair<string, List<Snapshot>> p in byPoint)
            {
                points.Add(BuildPoint(p.Key, p.Value, region));
            }

            return Sort(points);
        }

        /// <summary>Builds one CcieDr point from its snapshots (pure).</summary>
        public static RecoveryPoint BuildPoint(string recoveryPointId, IReadOnlyList<Snapshot> snapshots, string region)
        {
            if (snapshots is null || snapshots.Count == 0)
            {
                throw new ArgumentException("A recovery point has at least one snapshot.", nameof(snapshots));
            }

            // The snapshot with the most ccie tags speaks for the point (a copy in progress may lack some).
            Snapshot lead = snapshots.OrderByDescending(s => (s.Tags ?? new List<Tag>()).Count).First();
            IReadOnlyDictionary<string, string> tags = lead.Tags.ToDictionary();
            RecoveryIdentity identity = RecoveryTags.ReadIdentity(tags);
            List<RecoveryPointSnapshot> items = snapshots
                .Select(RecoveryTags.ReadSnapshot)
                .OrderBy(s => s.IsRootDevice ? 0 : 1)
                .ThenBy(s => s.DeviceName ?? "~", StringComparer.Ordinal)
                .ThenBy(s => s.SnapshotId, StringComparer.Ordinal)
                .ToList();

            // When the snapshots were started, by EC2's clock (the clock seed snapshots are dated by too, to the
            // millisecond). Copies were started later: for them the creation tag (or the time in the id, to the
            // second) is used.
            DateTime? createdAt = RecoveryTags.ParseCreatedAt(RecoveryTags.Get(tags, RecoveryTags.CreatedAt));
            List<DateTime> starts = items.Where(s => s.SourceSnapshotId is null && s.StartTime != default).Select(s => s.StartTime).ToList();
            DateTime created = starts.Count > 0
                ? starts.Min()
                : createdAt is { } at
                    ? at
                    : RecoveryTags.TryParseRecoveryPointId(recoveryPointId, out DateTime fromId)
                        ? fromId
                        : items.Select(s => s.StartTime).Where(t => t != default).DefaultIfEmpty(DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc)).Min();

            (string state, string? message) = StateOf(items, identity.VolumeCount);
            string? sourceRegion = items.Select(s => s.SourceRegion).FirstOrDefault(r => r is not null);
            return new RecoveryPoint
            {
                RecoveryPointId = recoveryPointId,
                Region = region,
                Created = created,
                CreatedAt = createdAt,
                State = state,
                StateMessage = message,
                IsComplete = state == RecoveryPointStates.Completed,
                Progress = (int)Math.Round(items.Average(s => (double)s.Progress)),
                Origin = "CcieDr",
                Label = RecoveryTags.Get(tags, RecoveryTags.Label),
                Description = lead.Description,
                CreatedBy = RecoveryTags.Get(tags, RecoveryTags.CreatedBy),
                Snapshots = items,
                Identity = identity,
                CopiedFrom = sourceRegion is null ? null : sourceRegion + "/" + recoveryPointId,
                LastDrillAt = DateTime.TryParse(RecoveryTags.Get(tags, RecoveryTags.DrillAt), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime drilled) ? drilled : (DateTime?)null,
                LastDrillVerdict = RecoveryTags.Get(tags, RecoveryTags.DrillVerdict),
                LastDrillRto = double.TryParse(RecoveryTags.Get(tags, RecoveryTags.DrillRtoSeconds), NumberStyles.Float, CultureInfo.InvariantCulture, out double rto) ? TimeSpan.FromSeconds(rto) : (TimeSpan?)null,
                LastDrillId = RecoveryTags.Get(tags, RecoveryTags.DrillId),
            };
        }

        /// <summary>The state of a point from its snapshots: error, then incomplete, then pending, else completed.</summary>
        internal static (string State, string? Message) StateOf(IReadOnlyList<RecoveryPointSnapshot> items, int? expectedVolumes)
        {
            List<RecoveryPointSnapshot> failed = items.Where(s => s.State == "error").ToList();
            if (failed.Count > 0)
            {
                return (RecoveryPointStates.Error, string.Join("; ", failed.Select(s =>
                    $"snapshot {s.SnapshotId}{(s.DeviceName is null ? string.Empty : " (" + s.DeviceName + ")")} failed" + (s.StateMessage is null ? string.Empty : ": " + s.StateMessage))));
            }

            int volumes = items.Select(s => s.DeviceName ?? s.VolumeId ?? s.SnapshotId).Distinct(StringComparer.Ordinal).Count();
            if (expectedVolumes is { } expected && volumes < expected)
            {
                return (RecoveryPointStates.Incomplete, $"{volumes} of {expected} volumes have a snapshot; the others are missing (a partial failure). Take a new point with New-CcieSnapshot; Remove-CcieSnapshot cleans this one up.");
            }

            if (items.Any(s => s.State != "completed"))
            {
                return (RecoveryPointStates.Pending, null);
            }

            return (RecoveryPointStates.Completed, null);
        }

        /// <summary>A snapshot made by the seed's script: a single-volume point with what can be known.</summary>
        public static RecoveryPoint BuildSeedPoint(Snapshot snapshot, string region)
        {
            if (snapshot is null)
            {
                throw new ArgumentNullException(nameof(snapshot));
            }

            RecoveryPointSnapshot item = RecoveryTags.ReadSnapshot(snapshot);
            (string state, string? message) = StateOf(new[] { item }, null);
            return new RecoveryPoint
            {
                RecoveryPointId = item.SnapshotId,
                Region = region,
                Created = item.StartTime,
                State = state,
                StateMessage = message,
                IsComplete = state == RecoveryPointStates.Completed,
                Progress = item.Progress,
                Origin = "Seed",
                Description = snapshot.Description,
                Snapshots = new[] { item },
                Identity = new RecoveryIdentity(),
                CopiedFrom = item.SourceRegion is null ? null : item.SourceRegion + "/" + item.SourceSnapshotId,
            };
        }

        /// <summary>Applies a filter to points (pure), newest first.</summary>
        public static IReadOnlyList<RecoveryPoint> Apply(IEnumerable<RecoveryPoint> points, RecoveryPointFilter? filter)
        {
            if (points is null)
            {
                throw new ArgumentNullException(nameof(points));
            }

            filter ??= new RecoveryPointFilter();
            IEnumerable<RecoveryPoint> q = points;
            if (!string.IsNullOrEmpty(filter.RecoveryPointId))
            {
                q = q.Where(p => string.Equals(p.RecoveryPointId, filter.RecoveryPointId, StringComparison.Ordinal));
            }

            if (!filter.IncludeSeed)
            {
                q = q.Where(p => p.Origin != "Seed");
            }

            if (filter.States.Count > 0)
            {
                q = q.Where(p => filter.States.Contains(p.State, StringComparer.OrdinalIgnoreCase));
            }

            if (filter.Before is { } before)
            {
                DateTime b = ToUtc(before);
                q = q.Where(p => p.Created < b);
            }

            if (filter.After is { } after)
            {
                DateTime a = ToUtc(after);
                q = q.Where(p => p.Created > a);
            }

            if (!string.IsNullOrEmpty(filter.SourceInstanceId))
            {
                q = q.Where(p => string.Equals(p.Identity.SourceInstanceId, filter.SourceInstanceId, StringComparison.Ordinal));
            }

            if (!string.IsNullOrEmpty(filter.BoxName))
            {
                q = q.Where(p => string.Equals(p.Identity.Name, filter.BoxName, StringComparison.Ordinal));
            }

            List<RecoveryPoint> sorted = Sort(q);
            if (filter.Latest)
            {
                RecoveryPoint? latest = filter.States.Count > 0 ? (sorted.Count > 0 ? sorted[0] : null) : sorted.FirstOrDefault(p => p.IsComplete);
                return latest is null ? Array.Empty<RecoveryPoint>() : new[] { latest };
            }

            return sorted;
        }

        internal static bool IsSnapshotId(string? id) => id is not null && id.StartsWith("snap-", StringComparison.Ordinal) && id.Length > 5;

        /// <summary>
        /// The time that orders a point among others: its creation tag (to the 100 ns) when it has one, else when
        /// its snapshots were started. Retention and -Latest decide "newest" by this.
        /// </summary>
        public static DateTime OrderTime(RecoveryPoint point)
            => point is null ? throw new ArgumentNullException(nameof(point)) : point.CreatedAt ?? point.Created;

        /// <summary>Newest first: by the creation tag, then the snapshots' start time, the id only as a last tie-break.</summary>
        internal static List<RecoveryPoint> Sort(IEnumerable<RecoveryPoint> points)
            => points
                .OrderByDescending(OrderTime)
                .ThenByDescending(p => p.Created)
                .ThenByDescending(p => p.RecoveryPointId, StringComparer.Ordinal)
                .ToList();

        private static async Task<IReadOnlyList<Snapshot>> DescribePointSnapshotsAsync(IAmazonEC2 ec2, string recoveryPointId, CancellationToken ct)
        {
            if (IsSnapshotId(recoveryPointId))
            {
                // A seed point: the id is the snapshot id. A missing id is "no such point", not an error.
                try
                {
                    return await DescribeAsync(ec2, new DescribeSnapshotsRequest { SnapshotIds = new List<string> { recoveryPointId } }, recoveryPointId, ct).ConfigureAwait(false);
                }
                catch (CcieException e) when (e.Category == CcieErrorCategory.ObjectNotFound || e.ErrorId == "Aws.InvalidSnapshotID.Malformed")
                {
                    return Array.Empty<Snapshot>();
                }
            }

            return await DescribeAsync(
                ec2,
                new DescribeSnapshotsRequest { OwnerIds = new List<string> { "self" }, Filters = new List<Filter> { Ec2Extensions.Filter("tag:" + RecoveryTags.RecoveryPoint, recoveryPointId) } },
                recoveryPointId,
                ct).ConfigureAwait(false);
        }

        private static Task<IReadOnlyList<Snapshot>> DescribeAsync(IAmazonEC2 ec2, DescribeSnapshotsRequest request, string target, CancellationToken ct)
            => AwsCall.RunAsync("ec2:DescribeSnapshots", target, token => ec2.DescribeAllSnapshotsAsync(request, token), ct);

        private static DateTime ToUtc(DateTime t) => t.Kind switch
        {
            DateTimeKind.Utc => t,
            DateTimeKind.Local => t.ToUniversalTime(),
            _ => DateTime.SpecifyKind(t, DateTimeKind.Utc),
        };
    }
}
