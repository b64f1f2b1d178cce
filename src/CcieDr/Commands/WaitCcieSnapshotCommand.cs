using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;

namespace CcieDr.Commands
{
    /// <summary>Waits until recovery points are completed, one progress bar per point.</summary>
    [Cmdlet(VerbsLifecycle.Wait, "CcieSnapshot", DefaultParameterSetName = ByObjectSet)]
    [OutputType(typeof(RecoveryPoint))]
    public sealed class WaitCcieSnapshotCommand : CcieAwsCmdlet
    {
        private const string ByObjectSet = "ByObject";
        private const string ByIdSet = "ById";
        private readonly List<(string Region, RecoveryPoint? Point, string Id)> _items = new List<(string, RecoveryPoint?, string)>();

        /// <summary>Recovery points from New-, Get- or Copy-CcieSnapshot.</summary>
        [Parameter(ParameterSetName = ByObjectSet, Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNullOrEmpty]
        public RecoveryPoint[] RecoveryPoint { get; set; } = Array.Empty<RecoveryPoint>();

        /// <summary>Recovery point ids (rp-..., or snap-... for a seed snapshot).</summary>
        [Parameter(ParameterSetName = ByIdSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern(RecoveryPointIds.Pattern)]
        [ArgumentCompleter(typeof(RecoveryPointIdCompleter))]
        public string[] RecoveryPointId { get; set; } = Array.Empty<string>();

        /// <summary>How long to wait for all points, in seconds. Default: 3600.</summary>
        [Parameter]
        [ValidateRange(1, 7 * 24 * 3600)]
        public int TimeoutSeconds { get; set; } = 3600;

        protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            // Collect; EndProcessing waits for all of them at once.
            string region = Aws.Region;
            if (ParameterSetName == ByObjectSet)
            {
                foreach (RecoveryPoint p in RecoveryPoint.Where(p => p is not null))
                {
                    _items.Add((string.IsNullOrEmpty(p.Region) ? region : p.Region, p, p.RecoveryPointId));
                }
            }
            else
            {
                foreach (string id in RecoveryPointId)
                {
                    _items.Add((region, null, id));
                }
            }

            return Task.CompletedTask;
        }

        protected override async Task EndProcessingAsync(CancellationToken cancellationToken)
        {
            if (_items.Count == 0)
            {
                return;
            }

            var clients = new Dictionary<string, IAmazonEC2>(StringComparer.Ordinal);
            try
            {
                foreach (string region in _items.Select(i => i.Region).Distinct(StringComparer.Ordinal))
                {
                    clients[region] = Aws.CreateEc2(region);
                }

                WaitOptions options = WaitOptions.Default(TimeSpan.FromSeconds(TimeoutSeconds));
                using var parent = _items.Count > 1
                    ? new ProgressActivity(Reporter, "Wait-CcieSnapshot", string.Format(CultureInfo.InvariantCulture, "Waiting for {0} recovery points", _items.Count))
                    : null;
                int done = 0;
                IEnumerable<Task> waits = _items
                    .GroupBy(i => (i.Region, i.Id))
                    .Select(g => g.First())
                    .Select(async item =>
                    {
                        try
                        {
                            IAmazonEC2 ec2 = clients[item.Region];
                            RecoveryPoint? point = item.Point ?? await RecoveryPointCatalog.GetAsync(ec2, item.Region, item.Id, cancellationToken).ConfigureAwait(false);
                            if (point is null)
                            {
                                WriteCcieError(new CcieException(
                                    "RecoveryPointNotFound",
                                    CcieErrorCategory.ObjectNotFound,
                                    $"No recovery point {item.Id} in {item.Region}. List the points with Get-CcieSnapshot -Region {item.Region}.",
                                    item.Id));
                                return;
                            }

                            var waiter = new SnapshotWaiter(ec2, item.Region, Reporter);
                            RecoveryPoint completed = await waiter.WaitAsync(point, options, parent, new Timeline(), cancellationToken).ConfigureAwait(false);
                            WriteObject(completed);
                        }
                        catch (CcieException e)
                        {
                            WriteCcieError(e);
                        }
                        finally
                        {
                            int n = Interlocked.Increment(ref done);
                            parent?.Update(string.Format(CultureInfo.InvariantCulture, "{0} of {1} recovery points done", n, _items.Count), n * 100 / _items.Count);
                        }
                    })
                    .ToList();
                await Task.WhenAll(waits).ConfigureAwait(false);
            }
            finally
            {
                foreach (IAmazonEC2 c in clients.Values)
                {
                    c.Dispose();
                }
            }
        }
    }
}
