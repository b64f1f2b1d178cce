using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine;
using CcieDr.Engine.Recovery;

namespace CcieDr.Commands
{
    /// <summary>Lists recovery points (snapshots grouped by their recovery-point tag), newest first.</summary>
    [Cmdlet(VerbsCommon.Get, "CcieSnapshot", DefaultParameterSetName = ListSet)]
    [OutputType(typeof(RecoveryPoint))]
    public sealed class GetCcieSnapshotCommand : CcieAwsCmdlet
    {
        private const string ListSet = "List";
        private const string ByIdSet = "ById";

        /// <summary>One or more recovery point ids (rp-..., or snap-... for a seed snapshot).</summary>
        [Parameter(ParameterSetName = ByIdSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern(RecoveryPointIds.Pattern)]
        [ArgumentCompleter(typeof(RecoveryPointIdCompleter))]
        public string[] RecoveryPointId { get; set; } = Array.Empty<string>();

        /// <summary>Only the newest point: the newest completed one (or the newest in -State).</summary>
        [Parameter(ParameterSetName = ListSet)]
        public SwitchParameter Latest { get; set; }

        /// <summary>Only points in these states.</summary>
        [Parameter(ParameterSetName = ListSet)]
        [ValidateSet("pending", "completed", "error", "incomplete")]
        public string[] State { get; set; } = Array.Empty<string>();

        /// <summary>Only points taken before this time.</summary>
        [Parameter(ParameterSetName = ListSet)]
        public DateTime? Before { get; set; }

        /// <summary>Only points taken after this time.</summary>
        [Parameter(ParameterSetName = ListSet)]
        public DateTime? After { get; set; }

        /// <summary>Only points taken of this instance.</summary>
        [Parameter(ParameterSetName = ListSet)]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        public string? InstanceId { get; set; }

        /// <summary>Only points of the box with this Name tag.</summary>
        [Parameter(ParameterSetName = ListSet)]
        [ValidateNotNullOrEmpty]
        public string? BoxName { get; set; }

        /// <summary>Leave out snapshots made by the seed's backup script.</summary>
        [Parameter(ParameterSetName = ListSet)]
        public SwitchParameter ExcludeSeed { get; set; }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            string region = Aws.Region;
            if (ParameterSetName == ByIdSet)
            {
                foreach (string id in RecoveryPointId)
                {
                    RecoveryPoint? point = await RecoveryPointCatalog.GetAsync(ec2, region, id, cancellationToken).ConfigureAwait(false);
                    if (point is null)
                    {
                        WriteCcieError(RecoveryPointCatalog.NotFound(region, id));
                        continue;
                    }

                    WriteObject(point);
                }

                return;
            }

            var filter = new RecoveryPointFilter
            {
                Latest = Latest.IsPresent,
                States = State,
                Before = Before,
                After = After,
                SourceInstanceId = InstanceId,
                BoxName = BoxName,
                IncludeSeed = !ExcludeSeed.IsPresent,
            };
            IReadOnlyList<RecoveryPoint> points = await RecoveryPointCatalog.ListAsync(ec2, region, filter, cancellationToken).ConfigureAwait(false);
            if (Latest.IsPresent && points.Count == 0)
            {
                WriteCcieError(new CcieException(
                    "NoRecoveryPoint",
                    CcieErrorCategory.ObjectNotFound,
                    $"No {(State.Length > 0 ? string.Join("/", State) : "completed")} recovery point in {region} matches. Take one with New-CcieSnapshot, or check -Region.",
                    region));
                return;
            }

            foreach (RecoveryPoint p in points)
            {
                WriteObject(p);
            }
        }
    }
}
