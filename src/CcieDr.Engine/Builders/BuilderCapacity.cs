using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Aws.AutoScaling;
using CcieDr.Engine.Operations;
using AsgGroup = CcieDr.Engine.Aws.AutoScaling.AutoScalingGroup;

namespace CcieDr.Engine.Builders
{
    /// <summary>What Set-CcieBuilderCapacity asks for: an absolute size or an increase, and optionally until when.</summary>
    public sealed class BuilderCapacityRequest
    {
        public BuilderCapacityRequest(string autoScalingGroupName)
        {
            AutoScalingGroupName = string.IsNullOrEmpty(autoScalingGroupName) ? throw new ArgumentException("A group name is required.", nameof(autoScalingGroupName)) : autoScalingGroupName;
        }

        public string AutoScalingGroupName { get; }

        /// <summary>The desired capacity to set (exclusive with <see cref="Add"/>).</summary>
        public int? DesiredCapacity { get; set; }

        /// <summary>How many builders to add to the current desired capacity (exclusive with <see cref="DesiredCapacity"/>).</summary>
        public int? Add { get; set; }

        /// <summary>When to return to the previous desired capacity and MaxSize (a scheduled action); null: stay.</summary>
        public DateTime? Until { get; set; }
    }

    /// <summary>A capacity change ready to run: the plan -WhatIf shows and the values it sets.</summary>
    public sealed class BuilderCapacityPlan
    {
        internal BuilderCapacityPlan(OperationPlan operation, AsgGroup group, int desired, int maxSize, int returnDesired, int returnMax, DateTime? until, IReadOnlyList<string> warnings)
        {
            Operation = operation;
            Group = group;
            DesiredCapacity = desired;
            MaxSize = maxSize;
            ReturnDesiredCapacity = returnDesired;
            ReturnMaxSize = returnMax;
            Until = until;
            Warnings = warnings;
        }

        public OperationPlan Operation { get; }

        public AsgGroup Group { get; }

        public int DesiredCapacity { get; }

        public int MaxSize { get; }

        /// <summary>What the scheduled return sets (the size before the first temporary raise still pending).</summary>
        public int ReturnDesiredCapacity { get; }

        public int ReturnMaxSize { get; }

        public DateTime? Until { get; }

        public IReadOnlyList<string> Warnings { get; }
    }

    /// <summary>
    /// Temporary builder capacity for the catch-up after an outage: sets the group's desired capacity (raising
    /// MaxSize when needed, in one UpdateAutoScalingGroup), and with an end time schedules the return to the
    /// previous desired capacity and MaxSize with a one-time scheduled action, so nobody has to remember. The
    /// action has one name per group (<see cref="ReturnActionName"/>): a second raise before the first return
    /// replaces it and still returns to the size before the first raise.
    /// </summary>
    public sealed class BuilderCapacity
    {
        /// <summary>The scheduled action that returns the group to its size.</summary>
        public const string ReturnActionName = "ccie-builder-capacity-return";

        private readonly AutoScalingClient _asg;
        private readonly string _region;

        public BuilderCapacity(AutoScalingClient asg, string region)
        {
            _asg = asg ?? throw new ArgumentNullException(nameof(asg));
            _region = region ?? throw new ArgumentNullException(nameof(region));
        }

        /// <summary>Reads the group and plans the change; changes nothing.</summary>
        /// <exception cref="CcieException">BuilderGroupNotFound; InvalidCapacity / InvalidUntil (InvalidArgument) naming the fix.</exception>
        public async Task<BuilderCapacityPlan> PlanAsync(BuilderCapacityRequest request, CancellationToken ct)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            if ((request.DesiredCapacity is null) == (request.Add is null))
            {
                throw new ArgumentException("Give either DesiredCapacity or Add.", nameof(request));
            }

            string name = request.AutoScalingGroupName;
            AsgGroup g = await _asg.GetAutoScalingGroupAsync(name, ct).ConfigureAwait(false)
                ?? throw new CcieException("BuilderGroupNotFound", CcieErrorCategory.ObjectNotFound, $"No Auto Scaling group named '{name}' in {_region}. Check the name and -Region.", name);
            DateTime now = _asg.ServerTime ?? DateTime.UtcNow;

            int desired = request.DesiredCapacity ?? checked(g.DesiredCapacity + request.Add!.Value);
            if (desired < 0)
            {
                throw new CcieException("InvalidCapacity", CcieErrorCategory.InvalidArgument, $"The desired capacity would be {desired.ToString(CultureInfo.InvariantCulture)}: give a capacity of 0 or more.", name);
            }

            if (desired < g.MinSize)
            {
                throw new CcieException(
                    "InvalidCapacity",
                    CcieErrorCategory.InvalidArgument,
                    $"{desired.ToString(CultureInfo.InvariantCulture)} builders is below the group's MinSize {g.MinSize.ToString(CultureInfo.InvariantCulture)}: give at least {g.MinSize.ToString(CultureInfo.InvariantCulture)}, or lower MinSize first.",
                    name);
            }

            DateTime? until = request.Until?.ToUniversalTime();
            if (until is { } u && u <= now)
            {
                throw new CcieException(
                    "InvalidUntil",
                    CcieErrorCategory.InvalidArgument,
                    $"-Until {Stamp(u)} is not in the future (the service's clock says {Stamp(now)}): give a later time, e.g. (Get-Date).AddHours(2).",
                    name);
            }

            // A return still pending from an earlier raise: its size is the one to go back to.
            IReadOnlyList<ScheduledAction> pending = await _asg.DescribeScheduledActionsAsync(name, new[] { ReturnActionName }, ct).ConfigureAwait(false);
            ScheduledAction? earlier = pending.FirstOrDefault(a => a.ScheduledActionName == ReturnActionName);
            int returnDesired = earlier?.DesiredCapacity ?? g.DesiredCapacity;
            int returnMax = earlier?.MaxSize ?? g.MaxSize;
            int max = Math.Max(g.MaxSize, desired);

            var warnings = new List<string>();
            var plan = new OperationPlan($"Set the builder capacity of {name}", name);
            // The return is scheduled first: if the change then fails, a return to the current size is harmless,
            // while a raise without its scheduled return would stay until someone remembers.
            if (until is { } returnAt)
            {
                plan.Add(
                    "autoscaling:PutScheduledUpdateGroupAction",
                    $"AutoScalingGroupName={name} ScheduledActionName={ReturnActionName} Time={Stamp(returnAt)} DesiredCapacity={returnDesired.ToString(CultureInfo.InvariantCulture)} MaxSize={returnMax.ToString(CultureInfo.InvariantCulture)}",
                    name);
            }

            if (max != g.MaxSize)
            {
                plan.Add("autoscaling:UpdateAutoScalingGroup", $"AutoScalingGroupName={name} MaxSize={max.ToString(CultureInfo.InvariantCulture)} DesiredCapacity={desired.ToString(CultureInfo.InvariantCulture)}", name);
            }
            else
            {
                plan.Add("autoscaling:SetDesiredCapacity", $"AutoScalingGroupName={name} DesiredCapacity={desired.ToString(CultureInfo.InvariantCulture)}", name);
            }

            plan.Notes.Add($"DesiredCapacity {g.DesiredCapacity.ToString(CultureInfo.InvariantCulture)} -> {desired.ToString(CultureInfo.InvariantCulture)}, MaxSize {g.MaxSize.ToString(CultureInfo.InvariantCulture)} -> {max.ToString(CultureInfo.InvariantCulture)}, MinSize {g.MinSize.ToString(CultureInfo.InvariantCulture)}");
            if (until is { } back)
            {
                plan.Notes.Add($"At {Stamp(back)} the group returns to DesiredCapacity {returnDesired.ToString(CultureInfo.InvariantCulture)}, MaxSize {returnMax.ToString(CultureInfo.InvariantCulture)}.");
                if (earlier is not null)
                {
                    plan.Notes.Add($"This replaces the return scheduled at {When(earlier)} by an earlier Set-CcieBuilderCapacity.");
                }

                if (g.IsSuspended("ScheduledActions"))
                {
                    warnings.Add($"The group's ScheduledActions process is suspended: the return at {Stamp(back)} will not happen until it is resumed (aws autoscaling resume-processes --auto-scaling-group-name {name} --scaling-processes ScheduledActions).");
                }

                if (returnDesired < g.MinSize)
                {
                    warnings.Add($"The return to {returnDesired.ToString(CultureInfo.InvariantCulture)} builders is below the group's MinSize {g.MinSize.ToString(CultureInfo.InvariantCulture)}: Auto Scaling will refuse it unless MinSize is lowered by then.");
                }
            }
            else if (earlier is not null)
            {
                warnings.Add($"A return to DesiredCapacity {returnDesired.ToString(CultureInfo.InvariantCulture)}, MaxSize {returnMax.ToString(CultureInfo.InvariantCulture)} is still scheduled at {When(earlier)} (action {ReturnActionName}, from an earlier Set-CcieBuilderCapacity -Until); it still applies.");
            }

            if (desired > g.DesiredCapacity && g.IsSuspended("Launch"))
            {
                warnings.Add($"The group's Launch process is suspended: no builder is launched until it is resumed (aws autoscaling resume-processes --auto-scaling-group-name {name} --scaling-processes Launch).");
            }

            return new BuilderCapacityPlan(plan, g, desired, max, returnDesired, returnMax, until, warnings);
        }

        /// <summary>Runs the plan: the scheduled return first (so a raise never stays without it), then the capacity change.</summary>
        public async Task<BuilderCapacityResult> ExecuteAsync(BuilderCapacityPlan plan, CancellationToken ct)
        {
            if (plan is null)
            {
                throw new ArgumentNullException(nameof(plan));
            }

            AsgGroup g = plan.Group;
            var timeline = new Timeline();
            if (plan.Until is { } until)
            {
                await timeline.RunAsync("autoscaling:PutScheduledUpdateGroupAction", ReturnActionName, _ => _asg.PutScheduledUpdateGroupActionAsync(
                    new ScheduledAction { AutoScalingGroupName = g.Name, ScheduledActionName = ReturnActionName, Time = until, DesiredCapacity = plan.ReturnDesiredCapacity, MaxSize = plan.ReturnMaxSize },
                    ct)).ConfigureAwait(false);
            }

            if (plan.MaxSize != g.MaxSize)
            {
                await timeline.RunAsync("autoscaling:UpdateAutoScalingGroup", g.Name, _ =>
                    _asg.UpdateAutoScalingGroupAsync(new AutoScalingGroupUpdate(g.Name) { MaxSize = plan.MaxSize, DesiredCapacity = plan.DesiredCapacity }, ct)).ConfigureAwait(false);
            }
            else
            {
                await timeline.RunAsync("autoscaling:SetDesiredCapacity", g.Name, _ => _asg.SetDesiredCapacityAsync(g.Name, plan.DesiredCapacity, ct)).ConfigureAwait(false);
            }

            AsgGroup after = await _asg.GetAutoScalingGroupAsync(g.Name, ct).ConfigureAwait(false) ?? g;
            return new BuilderCapacityResult
            {
                Region = _region,
                AutoScalingGroupName = g.Name,
                PreviousDesiredCapacity = g.DesiredCapacity,
                PreviousMaxSize = g.MaxSize,
                DesiredCapacity = after.DesiredCapacity,
                MaxSize = after.MaxSize,
                MinSize = after.MinSize,
                Until = plan.Until,
                ScheduledActionName = plan.Until is null ? null : ReturnActionName,
                Applied = true,
                Warnings = plan.Warnings,
                Steps = plan.Operation.Steps.Select(s => s.ToString()).ToList(),
                Timeline = timeline.Entries,
            };
        }

        private static string When(ScheduledAction a) => (a.Time ?? a.StartTime) is DateTime t ? Stamp(t) : "an unknown time";

        private static string Stamp(DateTime t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    }
}
