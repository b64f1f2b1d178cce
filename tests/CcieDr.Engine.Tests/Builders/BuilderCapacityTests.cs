using CcieDr.Engine.Builders;
using Xunit;

namespace CcieDr.Engine.Tests.Builders;

public class BuilderCapacityTests
{
    private const string Group = "circleci-builders";

    private static async Task<(int Desired, int Max)> Size(BuilderSim sim)
    {
        var g = await sim.Asg.GetAutoScalingGroupAsync(Group, CancellationToken.None);
        return (g!.DesiredCapacity, g.MaxSize);
    }

    [Fact]
    public async Task Add_until_raises_the_group_and_the_clock_returns_it()
    {
        await using var sim = await BuilderSim.StartAsync();
        await sim.Asg.ResumeProcessesAsync(Group, null, CancellationToken.None);
        var until = sim.Control.Now.AddHours(1);
        var plan = await sim.Capacity.PlanAsync(new BuilderCapacityRequest(Group) { Add = 3, Until = until }, CancellationToken.None);
        Assert.Equal((5, 10, 2, 10), (plan.DesiredCapacity, plan.MaxSize, plan.ReturnDesiredCapacity, plan.ReturnMaxSize));
        Assert.Equal(["autoscaling:PutScheduledUpdateGroupAction", "autoscaling:SetDesiredCapacity"], plan.Operation.Steps.Select(s => s.Action));
        Assert.Empty(plan.Warnings);
        Assert.Equal((2, 10), await Size(sim)); // planning changes nothing

        var result = await sim.Capacity.ExecuteAsync(plan, CancellationToken.None);
        Assert.Equal((2, 5, 10, 10, until, BuilderCapacity.ReturnActionName, true), (result.PreviousDesiredCapacity, result.DesiredCapacity, result.PreviousMaxSize, result.MaxSize, result.Until, result.ScheduledActionName, result.Applied));
        Assert.Equal(["autoscaling:PutScheduledUpdateGroupAction", "autoscaling:SetDesiredCapacity"], result.Timeline.Select(t => t.Action));
        Assert.All(result.Timeline, t => Assert.Equal("Succeeded", t.Outcome));
        sim.Advance(10);
        sim.Advance(10);
        Assert.Equal(5, (await sim.Asg.GetAutoScalingGroupAsync(Group, CancellationToken.None))!.Instances.Count(i => i.LifecycleState == "InService"));

        sim.Advance(3600 - 21); // just before the return
        Assert.Equal((5, 10), await Size(sim));
        sim.Advance(2);
        Assert.Equal((2, 10), await Size(sim));
        Assert.Empty(await sim.Asg.DescribeScheduledActionsAsync(Group, null, CancellationToken.None));
    }

    [Fact]
    public async Task Above_max_raises_max_and_a_second_raise_still_returns_to_the_size_before_the_first()
    {
        await using var sim = await BuilderSim.StartAsync();
        await sim.Asg.ResumeProcessesAsync(Group, null, CancellationToken.None);
        var start = sim.Control.Now;
        var first = await sim.Capacity.PlanAsync(new BuilderCapacityRequest(Group) { DesiredCapacity = 12, Until = start.AddHours(1) }, CancellationToken.None);
        Assert.Equal("autoscaling:UpdateAutoScalingGroup", first.Operation.Steps[1].Action);
        Assert.Contains("MaxSize=12 DesiredCapacity=12", first.Operation.Steps[1].Description);
        await sim.Capacity.ExecuteAsync(first, CancellationToken.None);
        Assert.Equal((12, 12), await Size(sim));

        var second = await sim.Capacity.PlanAsync(new BuilderCapacityRequest(Group) { Add = 2, Until = start.AddHours(2) }, CancellationToken.None);
        Assert.Equal((14, 14, 2, 10), (second.DesiredCapacity, second.MaxSize, second.ReturnDesiredCapacity, second.ReturnMaxSize));
        Assert.Contains(second.Operation.Notes, n => n.Contains("replaces the return scheduled at"));
        await sim.Capacity.ExecuteAsync(second, CancellationToken.None);

        sim.Advance(3601);
        Assert.Equal((14, 14), await Size(sim)); // the first return was replaced
        sim.Advance(3600);
        Assert.Equal((2, 10), await Size(sim));
    }

    [Fact]
    public async Task Bad_requests_are_refused_before_anything_changes_and_suspended_processes_are_warned_about()
    {
        await using var sim = await BuilderSim.StartAsync();
        var past = await Assert.ThrowsAsync<CcieException>(() => sim.Capacity.PlanAsync(new BuilderCapacityRequest(Group) { Add = 1, Until = sim.Control.Now.AddMinutes(-5) }, CancellationToken.None));
        Assert.Equal(("InvalidUntil", CcieErrorCategory.InvalidArgument), (past.ErrorId, past.Category));
        await sim.Asg.UpdateAutoScalingGroupAsync(new Aws.AutoScaling.AutoScalingGroupUpdate(Group) { MinSize = 2 }, CancellationToken.None);
        var low = await Assert.ThrowsAsync<CcieException>(() => sim.Capacity.PlanAsync(new BuilderCapacityRequest(Group) { DesiredCapacity = 1 }, CancellationToken.None));
        Assert.Equal("InvalidCapacity", low.ErrorId);
        Assert.Contains("MinSize 2", low.Message);
        var missing = await Assert.ThrowsAsync<CcieException>(() => sim.Capacity.PlanAsync(new BuilderCapacityRequest("nope") { Add = 1 }, CancellationToken.None));
        Assert.Equal("BuilderGroupNotFound", missing.ErrorId);
        Assert.Equal((2, 10), await Size(sim));

        // The seeded group has every process suspended: the plan says the change and the return would not happen.
        var plan = await sim.Capacity.PlanAsync(new BuilderCapacityRequest(Group) { Add = 1, Until = sim.Control.Now.AddHours(1) }, CancellationToken.None);
        Assert.Contains(plan.Warnings, w => w.Contains("ScheduledActions process is suspended"));
        Assert.Contains(plan.Warnings, w => w.Contains("Launch process is suspended"));
    }
}
