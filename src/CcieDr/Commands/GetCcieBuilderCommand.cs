using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine;
using CcieDr.Engine.Aws.AutoScaling;
using CcieDr.Engine.Builders;
using CcieDr.Engine.Recovery;

namespace CcieDr.Commands
{
    /// <summary>
    /// Lists the builders (members of the builders' Auto Scaling group) and marks the stale ones: launched with a
    /// Services IP that is no longer the box's, launched before the box was last restored or failed over, or older
    /// than -MaxAge. -Summary gives the group instead: size, in service, stale, and whether its configuration points
    /// at the box.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "CcieBuilder")]
    [OutputType(typeof(Builder), typeof(BuilderGroup))]
    public sealed class GetCcieBuilderCommand : CcieAwsCmdlet
    {
        /// <summary>The builders' Auto Scaling group. Default: the group whose user data carries SERVICES_PRIVATE_IP.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string? AutoScalingGroupName { get; set; }

        /// <summary>Name tag of the Services box (its private IP is what builders must have).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string ServicesBoxName { get; set; } = ServicesBoxQuery.DefaultName;

        /// <summary>The IP builders must have, instead of the Services box's current one.</summary>
        [Parameter]
        [ValidatePattern(@"^\d{1,3}(\.\d{1,3}){3}$")]
        public string? ServicesPrivateIp { get; set; }

        /// <summary>Builders running longer than this are stale.</summary>
        [Parameter]
        public TimeSpan? MaxAge { get; set; }

        /// <summary>When the Services box was last recovered, instead of what its tags and launch time say.</summary>
        [Parameter]
        public DateTime? RecoveredAt { get; set; }

        /// <summary>Only the stale builders.</summary>
        [Parameter]
        public SwitchParameter Stale { get; set; }

        /// <summary>One object per group (size, in service, stale, configuration) instead of one per builder.</summary>
        [Parameter]
        public SwitchParameter Summary { get; set; }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            if (MaxAge is { } max && max <= TimeSpan.Zero)
            {
                throw new CcieException("InvalidMaxAge", CcieErrorCategory.InvalidArgument, $"-MaxAge {max} is not positive: give a duration such as (New-TimeSpan -Days 7).", max);
            }

            using IAmazonEC2 ec2 = Aws.CreateEc2();
            using AutoScalingClient asg = AutoScalingClient.Create(Aws);
            var inventory = new BuilderInventory(ec2, asg, Aws.Region);
            BuilderInventoryResult result;
            try
            {
                result = await inventory.GetAsync(
                    new BuilderQuery
                    {
                        AutoScalingGroupName = AutoScalingGroupName,
                        ServicesBox = new ServicesBoxQuery { Name = ServicesBoxName },
                        ServicesPrivateIp = ServicesPrivateIp,
                        MaxAge = MaxAge,
                        RecoveredAt = RecoveredAt,
                    },
                    cancellationToken).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.Category == CcieErrorCategory.ObjectNotFound)
            {
                WriteCcieError(e);
                return;
            }

            foreach (string warning in result.Warnings)
            {
                WriteWarning(warning);
            }

            foreach (BuilderGroup group in result.Groups)
            {
                if (Summary.IsPresent)
                {
                    WriteObject(group);
                    continue;
                }

                foreach (Builder builder in group.Builders)
                {
                    if (!Stale.IsPresent || builder.Stale)
                    {
                        WriteObject(builder);
                    }
                }
            }
        }
    }
}
