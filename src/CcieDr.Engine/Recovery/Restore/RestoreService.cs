using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.KeyManagementService;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>How the caller named the recovery point to restore.</summary>
    public sealed class RestoreSource
    {
        /// <summary>A point object (pipeline from Get-CcieSnapshot).</summary>
        public RecoveryPoint? RecoveryPoint { get; set; }

        /// <summary>A point id (rp-..., or snap-... for a seed snapshot).</summary>
        public string? RecoveryPointId { get; set; }

        /// <summary>A single snapshot made by the seed's backup script.</summary>
        public string? SnapshotId { get; set; }

        /// <summary>The box's identity for seed snapshots (which carry none).</summary>
        public SeedIdentity Seed { get; set; } = new SeedIdentity();
    }

    /// <summary>
    /// The restore as one engine operation: resolve the point, plan and pre-flight (no changes), then execute.
    /// The cmdlet calls <see cref="PrepareAsync"/>, asks ShouldProcess with the plan, then <see cref="ExecuteAsync"/>.
    /// </summary>
    public sealed class RestoreService
    {
        private readonly IAmazonEC2 _ec2;
        private readonly string _region;
        private readonly IRecoveryPointSource _points;
        private readonly IOperationReporter _reporter;
        private readonly IAmazonKeyManagementService? _kms;

        /// <param name="kms">KMS client for the pre-flight's key check (kms:DescribeKey); null leaves the keys unchecked.</param>
        public RestoreService(IAmazonEC2 ec2, string region, IRecoveryPointSource? points = null, IOperationReporter? reporter = null, IAmazonKeyManagementService? kms = null)
        {
            _kms = kms;
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
            _points = points ?? new CatalogRecoveryPointSource(ec2, region);
            _reporter = reporter ?? NullReporter.Instance;
        }

        /// <summary>Test hook passed to the executor.</summary>
        internal Func<string, bool, Task>? StepHook { get; set; }

        /// <summary>Test override of the executor's polling.</summary>
        internal WaitOptions? Polling { get; set; }

        /// <summary>The recovery point the source names. Seed snapshots get their identity from <see cref="RestoreSource.Seed"/>.</summary>
        public async Task<RecoveryPoint> ResolvePointAsync(RestoreSource source, IList<string> assumptions, CancellationToken ct)
        {
            if (source is null)
            {
                throw new ArgumentNullException(nameof(source));
            }

            string? seedSnapshot = source.SnapshotId;
            RecoveryPoint? point = source.RecoveryPoint;
            if (seedSnapshot is null && point is null)
            {
                string id = source.RecoveryPointId ?? throw new ArgumentException("Name a recovery point, a recovery point id or a snapshot id.", nameof(source));
                if (!RecoveryPointCatalog.IsValidId(id))
                {
                    throw new CcieException("InvalidRecoveryPointId", CcieErrorCategory.InvalidArgument, $"'{id}' is not a recovery point id (rp-<yyyyMMddTHHmmssZ>-<8 hex>) or a snapshot id (snap-...). List the points with Get-CcieSnapshot.", id);
                }

                point = await _points.GetAsync(id, ct).ConfigureAwait(false)
                    ?? throw RecoveryPointCatalog.NotFound(_region, id);
            }

            if (point is not null && string.Equals(point.Origin, "Seed", StringComparison.Ordinal))
            {
                seedSnapshot = point.RecoveryPointId;
            }

            if (seedSnapshot is not null)
            {
                return await SeedRecoveryPoint.FromSnapshotAsync(_ec2, _region, seedSnapshot, source.Seed, assumptions, ct).ConfigureAwait(false);
            }

            return point!;
        }

        /// <summary>Plans and pre-flights (read-only). Check <see cref="RestorePlan.CanProceed"/> before executing.</summary>
        public Task<RestorePlan> PrepareAsync(RestoreRequest request, CancellationToken ct, Timeline? timeline = null)
            => new RestorePlanner(_ec2, _region, _reporter, _kms).PlanAsync(request, ct, timeline);

        /// <summary>Carries out the plan; throws a CcieException whose Target is the failed RestoreResult.</summary>
        public Task<RestoreResult> ExecuteAsync(RestorePlan plan, CancellationToken ct)
            => new RestoreExecutor(_ec2, _reporter) { StepHook = StepHook, Polling = Polling }.ExecuteAsync(plan, ct);
    }
}
