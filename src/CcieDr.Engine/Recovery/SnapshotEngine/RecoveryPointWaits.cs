using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery
{
    /// <summary>A recovery point to wait for: by id, or already described (from the pipeline).</summary>
    public sealed class RecoveryPointWaitItem
    {
        /// <summary>Creates an item; <paramref name="point"/> may be null when only the id is known.</summary>
        public RecoveryPointWaitItem(string region, string recoveryPointId, RecoveryPoint? point = null)
        {
            Region = region ?? throw new ArgumentNullException(nameof(region));
            RecoveryPointId = recoveryPointId ?? throw new ArgumentNullException(nameof(recoveryPointId));
            Point = point;
        }

        /// <summary>The region the point lives in.</summary>
        public string Region { get; }

        /// <summary>The point's id.</summary>
        public string RecoveryPointId { get; }

        /// <summary>The point as last described, or null.</summary>
        public RecoveryPoint? Point { get; }
    }

    /// <summary>
    /// Waits for many recovery points at once, each in its own region (what Wait-CcieSnapshot does): duplicates
    /// are waited for once, unknown ids are reported as RecoveryPointNotFound, one failing point does not stop
    /// the others, and a parent progress bar counts the points done.
    /// </summary>
    public static class RecoveryPointWaits
    {
        /// <summary>
        /// Waits for every item; <paramref name="completed"/> receives each completed point and
        /// <paramref name="failed"/> each point's error, as they happen (from worker tasks).
        /// </summary>
        public static async Task WaitAllAsync(
            IReadOnlyList<RecoveryPointWaitItem> items,
            Func<string, IAmazonEC2> clientFor,
            WaitOptions options,
            IOperationReporter? reporter,
            Action<RecoveryPoint> completed,
            Action<CcieException> failed,
            CancellationToken cancellationToken)
        {
            if (items is null || clientFor is null || completed is null || failed is null)
            {
                throw new ArgumentNullException(items is null ? nameof(items) : clientFor is null ? nameof(clientFor) : completed is null ? nameof(completed) : nameof(failed));
            }

            List<RecoveryPointWaitItem> distinct = items
                .GroupBy(i => (i.Region, i.RecoveryPointId))
                .Select(g => g.FirstOrDefault(i => i.Point != null) ?? g.First())
                .ToList();
            if (distinct.Count == 0)
            {
                return;
            }

            reporter ??= NullReporter.Instance;
            using ProgressActivity? parent = distinct.Count > 1
                ? new ProgressActivity(reporter, "Wait-CcieSnapshot", string.Format(CultureInfo.InvariantCulture, "Waiting for {0} recovery points", distinct.Count))
                : null;
            int done = 0;
            IEnumerable<Task> waits = distinct.Select(async item =>
            {
                try
                {
                    IAmazonEC2 ec2 = clientFor(item.Region);
                    RecoveryPoint point = item.Point ?? await RecoveryPointCatalog.GetRequiredAsync(ec2, item.Region, item.RecoveryPointId, cancellationToken).ConfigureAwait(false);

                    var waiter = new SnapshotWaiter(ec2, item.Region, reporter);
                    completed(await waiter.WaitAsync(point, options, parent, new Timeline(), cancellationToken).ConfigureAwait(false));
                }
                catch (CcieException e)
                {
                    failed(e);
                }
                finally
                {
                    int n = Interlocked.Increment(ref done);
                    parent?.Update(string.Format(CultureInfo.InvariantCulture, "{0} of {1} recovery points done", n, distinct.Count), n * 100 / distinct.Count);
                }
            }).ToList();
            await Task.WhenAll(waits).ConfigureAwait(false);
        }
    }
}
