using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery
{
    /// <summary>A retention policy over recovery points (Remove-CcieSnapshot -Keep*/-OlderThan).</summary>
    public sealed class SnapshotRetentionRequest
    {
        public int KeepLast { get; set; }

        public int KeepDaily { get; set; }

        public int KeepWeekly { get; set; }

        public int KeepMonthly { get; set; }

        /// <summary>Only points older than this may go: every point taken within this span is kept.</summary>
        public TimeSpan? OlderThan { get; set; }

        /// <summary>Allow removing the newest completed point of a box when no rule keeps it.</summary>
        public bool IncludeNewest { get; set; }

        /// <summary>Which points the policy looks at (box name, instance); seed snapshots only with IncludeSeed.</summary>
        public RecoveryPointFilter Scope { get; set; } = new RecoveryPointFilter { IncludeSeed = false };

        /// <summary>Points that are not completed but younger than this are treated as in progress and kept.</summary>
        public TimeSpan InProgressGrace { get; set; } = TimeSpan.FromMinutes(30);

        public bool IsEmpty => KeepLast == 0 && KeepDaily == 0 && KeepWeekly == 0 && KeepMonthly == 0 && OlderThan is null;

        public RetentionOptions ToOptions() => new RetentionOptions
        {
            KeepLast = KeepLast,
            KeepDaily = KeepDaily,
            KeepWeekly = KeepWeekly,
            KeepMonthly = KeepMonthly,
            OlderThan = OlderThan,
            IncludeNewest = IncludeNewest,
        };

        public string Describe()
        {
            var rules = new List<string>();
            void Add(string name, int n)
            {
                if (n != 0)
                {
                    rules.Add(name + " " + (n < 0 ? "all" : n.ToString(CultureInfo.InvariantCulture)));
                }
            }

            Add("keep-last", KeepLast);
            Add("keep-daily", KeepDaily);
            Add("keep-weekly", KeepWeekly);
            Add("keep-monthly", KeepMonthly);
            if (OlderThan is { } o)
            {
                rules.Add("older-than " + o.ToString("c", CultureInfo.InvariantCulture));
            }

            if (IncludeNewest)
            {
                rules.Add("include newest");
            }

            return string.Join(", ", rules);
        }
    }

    /// <summary>
    /// Deletes recovery points by id or by a retention policy. Never deletes the newest completed point of a box
    /// unless forced, never a point an AMI still uses, never a point still in progress by policy; incomplete and
    /// failed points never count as good.
    /// </summary>
    public sealed class SnapshotRemover
    {
        public const string Keep = "Keep";
        public const string Remove = "Remove";

        private const string NamedById = "named by id";
        private const string NewestReason = "newest completed (use -IncludeNewest to remove it)";

        private readonly IAmazonEC2 _ec2;
        private readonly string _region;
        private readonly IOperationReporter _reporter;
        private readonly Func<DateTime> _clock;
        private Dictionary<string, string>? _newestByBox;

        public SnapshotRemover(IAmazonEC2 ec2, string region, IOperationReporter? reporter = null, Func<DateTime>? clock = null)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
            _reporter = reporter ?? NullReporter.Instance;
            _clock = clock ?? (() => DateTime.UtcNow);
        }

        /// <summary>Lists the points in scope, applies the policy and checks AMI use: one decision per point, newest first.</summary>
        public async Task<IReadOnlyList<RecoveryPointDecision>> PlanPolicyAsync(SnapshotRetentionRequest request, CancellationToken ct)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            if (request.IsEmpty)
            {
                throw new CcieException(
                    "RetentionPolicyEmpty",
                    CcieErrorCategory.InvalidArgument,
                    "Give at least one of -KeepLast, -KeepDaily, -KeepWeekly, -KeepMonthly or -OlderThan (or name points with -RecoveryPointId); with no rule nothing would be kept.");
            }

            if (request.OlderThan is { } span && span <= TimeSpan.Zero)
            {
                throw new CcieException("InvalidOlderThan", CcieErrorCategory.InvalidArgument, $"-OlderThan must be a positive time span (e.g. 30.00:00:00 for 30 days); got {span}.", span);
            }

            IReadOnlyList<RecoveryPoint> points = await RecoveryPointCatalog.ListAsync(_ec2, _region, request.Scope, ct).ConfigureAwait(false);
            List<string> candidates = Evaluate(points, request, _clock(), new Dictionary<string, IReadOnlyList<string>>())
                .Where(d => d.Action == Remove)
                .SelectMany(d => d.SnapshotIds)
                .ToList();
            IReadOnlyDictionary<string, IReadOnlyList<string>> images = candidates.Count == 0
                ? new Dictionary<string, IReadOnlyList<string>>()
                : await SnapshotCalls.ImagesUsingAsync(_ec2, candidates, ct).ConfigureAwait(false);
            return Evaluate(points, request, _clock(), images);
        }

        /// <summary>
        /// The policy as a pure function over points: retention per box (Name tag), in-progress points kept,
        /// not-good points removed, points an AMI uses kept. One decision per point, newest first.
        /// </summary>
        public static IReadOnlyList<RecoveryPointDecision> Evaluate(IReadOnlyList<RecoveryPoint> points, SnapshotRetentionRequest request, DateTime nowUtc, IReadOnlyDictionary<string, IReadOnlyList<string>> imagesBySnapshot)
        {
            if (points is null)
            {
                throw new ArgumentNullException(nameof(points));
            }

            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            imagesBySnapshot ??= new Dictionary<string, IReadOnlyList<string>>();
            RetentionOptions options = request.ToOptions();
            var decisions = new List<RecoveryPointDecision>();
            foreach (IGrouping<string, RecoveryPoint> box in points.GroupBy(BoxKey, StringComparer.Ordinal))
            {
                var items = new List<RetentionItem>();
                foreach (RecoveryPoint p in box)
                {
                    if (InProgress(p, nowUtc, request.InProgressGrace))
                    {
                        decisions.Add(Decide(p, Keep, new[] { p.State == RecoveryPointStates.Pending ? "in progress (pending)" : $"in progress ({p.State}, taken less than {request.InProgressGrace.TotalMinutes:0} minutes ago)" }));
                    }
                    else
                    {
                        items.Add(new RetentionItem(p.RecoveryPointId, new DateTimeOffset(DateTime.SpecifyKind(RecoveryPointCatalog.OrderTime(p), DateTimeKind.Utc)), p.IsComplete, p));
                    }
                }

                if (items.Count == 0)
                {
                    continue;
                }

                foreach (RetentionDecision d in RetentionPolicy.Evaluate(items, new DateTimeOffset(DateTime.SpecifyKind(nowUtc, DateTimeKind.Utc)), options))
                {
                    var p = (RecoveryPoint)d.Item.Tag!;
                    IReadOnlyList<string> reasons = d.Reasons
                        .Select(r => r == RetentionPolicy.NewestGoodReason ? NewestReason
                            : r == RetentionPolicy.BadReason ? $"not usable ({p.State})"
                            : r)
                        .ToList();
                    decisions.Add(Decide(p, d.Keep ? Keep : Remove, reasons));
                }
            }

            foreach (RecoveryPointDecision d in decisions.Where(d => d.Action == Remove).ToList())
            {
                List<string> users = d.SnapshotIds.SelectMany(s => imagesBySnapshot.TryGetValue(s, out IReadOnlyList<string>? u) ? u : Array.Empty<string>()).Distinct(StringComparer.Ordinal).ToList();
                if (users.Count > 0)
                {
                    d.Action = Keep;
                    d.ImageIds = users;
                    d.Reasons = d.Reasons.Concat(new[] { "used by AMI " + string.Join(", ", users) + " (deregister it first)" }).ToList();
                }
            }

            // The newest point a recovery drill verified is the one known to work: retention never takes it (-IncludeNewest does).
            if (!request.IncludeNewest)
            {
                foreach (IGrouping<string, RecoveryPoint> box in points.Where(p => p.Verified).GroupBy(BoxKey, StringComparer.Ordinal))
                {
                    RecoveryPoint verified = box.OrderByDescending(p => p.Created).First();
                    RecoveryPointDecision? d = decisions.FirstOrDefault(x => x.RecoveryPointId == verified.RecoveryPointId && x.Action == Remove);
                    if (d is not null)
                    {
                        d.Action = Keep;
                        d.Reasons = new[] { $"newest verified (drill passed {verified.LastDrillAt:yyyy-MM-dd HH:mm}Z)" };
                    }
                }
            }

            return decisions.OrderByDescending(d => d.Created).ThenByDescending(d => d.RecoveryPointId, StringComparer.Ordinal).ToList();
        }

        /// <summary>
        /// The decision for one point named by id: Remove, or Keep with the reason (the newest completed point of
        /// its box without includeNewest, or used by an AMI). Throws RecoveryPointNotFound.
        /// </summary>
        public async Task<RecoveryPointDecision> PlanExplicitAsync(string recoveryPointId, bool includeNewest, CancellationToken ct)
        {
            RecoveryPoint point = await RecoveryPointCatalog.GetRequiredAsync(_ec2, _region, recoveryPointId, ct).ConfigureAwait(false);

            var reasons = new List<string> { NamedById };
            if (point.IsComplete && !includeNewest)
            {
                // The newest completed point of each box, listed once per remover (a pipeline of ids lists once).
                _newestByBox ??= (await RecoveryPointCatalog.ListAsync(_ec2, _region, new RecoveryPointFilter(), ct).ConfigureAwait(false))
                    .Where(p => p.IsComplete)
                    .GroupBy(BoxKey, StringComparer.Ordinal)
                    .ToDictionary(g => g.Key, g => g.First().RecoveryPointId, StringComparer.Ordinal); // ListAsync: newest first
                if (_newestByBox.TryGetValue(BoxKey(point), out string? newest) && newest == point.RecoveryPointId)
                {
                    return Decide(point, Keep, new List<string> { NewestReason });
                }
            }

            IReadOnlyDictionary<string, IReadOnlyList<string>> images = await SnapshotCalls.ImagesUsingAsync(_ec2, point.SnapshotIds, ct).ConfigureAwait(false);
            List<string> users = images.Values.SelectMany(u => u).Distinct(StringComparer.Ordinal).ToList();
            if (users.Count > 0)
            {
                RecoveryPointDecision kept = Decide(point, Keep, new[] { "used by AMI " + string.Join(", ", users) + " (deregister it first)" });
                kept.ImageIds = users;
                return kept;
            }

            return Decide(point, Remove, reasons);
        }

        /// <summary>The -WhatIf text: which points go (with the EC2 calls) and why each kept point is kept.</summary>
        public static string Render(string title, IReadOnlyList<RecoveryPointDecision> decisions)
        {
            if (decisions is null)
            {
                throw new ArgumentNullException(nameof(decisions));
            }

            var text = new StringBuilder();
            int removing = decisions.Count(d => d.Action == Remove);
            text.Append(title).Append(": remove ").Append(removing.ToString(CultureInfo.InvariantCulture))
                .Append(" of ").Append(decisions.Count.ToString(CultureInfo.InvariantCulture)).Append(" recovery points");
            foreach (RecoveryPointDecision d in decisions)
            {
                text.AppendLine().Append(string.Format(
                    CultureInfo.InvariantCulture,
                    "  {0,-6} {1}  {2:yyyy-MM-dd HH:mm}Z  {3,-10} {4}",
                    d.Action.ToUpperInvariant(),
                    d.RecoveryPointId,
                    d.Created,
                    d.State,
                    d.Reason));
                if (d.Action == Remove)
                {
                    text.Append("  -> ec2:DeleteSnapshot ").Append(string.Join(", ", d.SnapshotIds));
                }
            }

            return text.ToString();
        }

        /// <summary>Deletes every snapshot of the point. Returns the decision with Outcome Removed or Failed (and Error).</summary>
        public async Task<RecoveryPointDecision> RemoveAsync(RecoveryPointDecision decision, CancellationToken ct)
        {
            if (decision is null)
            {
                throw new ArgumentNullException(nameof(decision));
            }

            var failures = new List<string>();
            foreach (string id in decision.SnapshotIds)
            {
                CcieException? error = await Aws.AwsCall.TryRunAsync("ec2:DeleteSnapshot", id, token => _ec2.DeleteSnapshotAsync(new DeleteSnapshotRequest { SnapshotId = id }, token), ct).ConfigureAwait(false);
                if (error is null)
                {
                    _reporter.Verbose($"Deleted snapshot {id} of {decision.RecoveryPointId}.");
                }
                else if (Aws.AwsRetry.IsNotFound(error))
                {
                    _reporter.Verbose($"Snapshot {id} of {decision.RecoveryPointId} was already gone.");
                }
                else
                {
                    failures.Add(error.Message);
                }
            }

            if (_newestByBox is not null && _newestByBox.ContainsValue(decision.RecoveryPointId))
            {
                _newestByBox = null; // a newest point went (-IncludeNewest): the next one is the newest now
            }

            decision.Outcome = failures.Count == 0 ? "Removed" : "Failed";
            decision.Error = failures.Count == 0 ? null : string.Join(" ", failures);
            return decision;
        }

        /// <summary>Retention and the newest-good guarantee apply per box: its Name tag, else its instance id.</summary>
        internal static string BoxKey(RecoveryPoint p)
            => p.Origin == "Seed" ? "(seed)" : p.Identity.Name ?? p.Identity.SourceInstanceId ?? string.Empty;

        private static bool InProgress(RecoveryPoint p, DateTime nowUtc, TimeSpan grace)
            => p.State == RecoveryPointStates.Pending || (!p.IsComplete && p.State != RecoveryPointStates.Error && nowUtc - p.Created < grace);

        private static RecoveryPointDecision Decide(RecoveryPoint p, string action, IReadOnlyList<string> reasons) => new RecoveryPointDecision
        {
            RecoveryPointId = p.RecoveryPointId,
            Region = p.Region,
            BoxName = p.Identity.Name,
            Created = p.Created,
            State = p.State,
            Action = action,
            Outcome = action == Keep ? "Kept" : "Planned",
            Reasons = reasons,
            SnapshotIds = p.SnapshotIds,
            RecoveryPoint = p,
        };
    }
}
