using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine;
using CcieDr.Engine.Aws.AutoScaling;
using CcieDr.Engine.Builders;

namespace CcieDr.Commands
{
    /// <summary>
    /// Sets the builder fleet's size for the catch-up after an outage (-DesiredCapacity, or -Add to the current size),
    /// raising the group's MaxSize when needed; with -Until, schedules the return to the previous size and MaxSize.
    /// </summary>
    [Cmdlet(VerbsCommon.Set, "CcieBuilderCapacity", DefaultParameterSetName = AddSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(BuilderCapacityResult))]
    public sealed class SetCcieBuilderCapacityCommand : CcieAwsCmdlet
    {
        private const string AddSet = "Add";
        private const string DesiredSet = "Desired";

        /// <summary>The builders' Auto Scaling group. Default: the group whose user data carries SERVICES_PRIVATE_IP.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string? AutoScalingGroupName { get; set; }

        /// <summary>The number of builders to run.</summary>
        [Parameter(ParameterSetName = DesiredSet, Mandatory = true)]
        [ValidateRange(0, 100000)]
        public int DesiredCapacity { get; set; }

        /// <summary>How many builders to add to the current desired capacity.</summary>
        [Parameter(ParameterSetName = AddSet, Mandatory = true)]
        [ValidateRange(1, 100000)]
        public int Add { get; set; }

        /// <summary>When to return to the previous desired capacity and MaxSize (a scheduled action).</summary>
        [Parameter]
        public DateTime? Until { get; set; }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            using IAmazonEC2 ec2 = Aws.CreateEc2();
            using AutoScalingClient asg = AutoScalingClient.Create(Aws);
            var capacity = new BuilderCapacity(asg, Aws.Region);
            BuilderCapacityPlan plan;
            try
            {
                string name = await new BuilderInventory(ec2, asg, Aws.Region).ResolveGroupNameAsync(AutoScalingGroupName, cancellationToken).ConfigureAwait(false);
                var request = new BuilderCapacityRequest(name) { Until = Until };
                if (ParameterSetName == DesiredSet)
                {
                    request.DesiredCapacity = DesiredCapacity;
                }
                else
                {
                    request.Add = Add;
                }

                plan = await capacity.PlanAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.Category is CcieErrorCategory.ObjectNotFound or CcieErrorCategory.InvalidArgument)
            {
                WriteCcieError(e);
                return;
            }

            string question = $"Set {plan.Group.Name} to {plan.DesiredCapacity} builders (now {plan.Group.DesiredCapacity})"
                + (plan.Until is { } u ? $" until {u:yyyy-MM-dd HH:mm:ss}Z?" : "?");
            foreach (string warning in plan.Warnings)
            {
                WriteWarning(warning);
            }

            if (!await ShouldProcessAsync(plan.Operation.Render(), question, "Set-CcieBuilderCapacity").ConfigureAwait(false))
            {
                return;
            }

            WriteObject(await capacity.ExecuteAsync(plan, cancellationToken).ConfigureAwait(false));
        }
    }
}
