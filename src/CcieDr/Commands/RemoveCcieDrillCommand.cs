using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine;
using CcieDr.Engine.Recovery.Drill;

namespace CcieDr.Commands
{
    /// <summary>
    /// Removes what recovery drills left behind (a drill killed mid-way, or kept with -KeepOnFailure): every
    /// instance, volume, AMI and security group tagged ccie:drill, for one drill (-DrillId) or all of them.
    /// Never touches anything without that tag; never deletes snapshots.
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "CcieDrill", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(RecoveryDrillResource))]
    public sealed class RemoveCcieDrillCommand : CcieAwsCmdlet
    {
        /// <summary>The drill (from Test-CcieRecovery's result, or the ccie:drill tag). Default: every drill's leftovers.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern("^drill-[0-9A-Za-z-]{1,64}$")]
        public string? DrillId { get; set; }

        /// <summary>Skip the confirmation prompt (never -WhatIf).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            var sweeper = new DrillSweeper(ec2, Aws.Region);
            try
            {
                IReadOnlyList<RecoveryDrillResource> found = await sweeper.FindAsync(DrillId, cancellationToken).ConfigureAwait(false);
                if (found.Count == 0)
                {
                    WriteVerbose(DrillId is null ? $"No recovery drill left anything in {Aws.Region}." : $"Recovery drill {DrillId} left nothing in {Aws.Region}.");
                    return;
                }

                string list = string.Join(", ", found.Select(r => $"{r.Kind} {r.Id} ({r.DrillId})"));
                if (!await ShouldProcessForceAsync(Force.IsPresent, $"Remove {found.Count} drill resource(s) in {Aws.Region}: {list}", $"Remove {found.Count} resource(s) left by recovery drills: {list}?", "Remove-CcieDrill").ConfigureAwait(false))
                {
                    return;
                }

                await sweeper.RemoveAsync(found, Reporter, cancellationToken).ConfigureAwait(false);
                foreach (RecoveryDrillResource r in found)
                {
                    if (!r.Removed)
                    {
                        WriteCcieError(new CcieException("DrillResourceNotRemoved", CcieErrorCategory.ResourceBusy, $"{r.Kind} {r.Id} of {r.DrillId} was not removed: {r.Error} Rerun Remove-CcieDrill once it is free.", r.Id));
                    }

                    WriteObject(r);
                }
            }
            catch (CcieException e)
            {
                WriteCcieError(e);
            }
        }
    }
}
