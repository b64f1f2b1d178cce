using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine;
using CcieDr.Engine.Aws;
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
        private readonly List<RecoveryPointWaitItem> _items = new List<RecoveryPointWaitItem>();

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
                    _items.Add(new RecoveryPointWaitItem(string.IsNullOrEmpty(p.Region) ? region : p.Region, p.RecoveryPointId, p));
                }
            }
            else
            {
                foreach (string id in RecoveryPointId)
                {
                    _items.Add(new RecoveryPointWaitItem(region, id));
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

            using var clients = new RegionalClients<IAmazonEC2>(r => Aws.CreateEc2(r));
            await RecoveryPointWaits.WaitAllAsync(
                _items,
                clients.For,
                WaitOptions.Default(TimeSpan.FromSeconds(TimeoutSeconds)),
                Reporter,
                WriteObject,
                WriteCcieError,
                cancellationToken).ConfigureAwait(false);
        }
    }
}
