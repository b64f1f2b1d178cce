using System.Text;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws.AutoScaling;
using CcieDr.Engine.Builders;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Recovery.Drill;
using CcieDr.Engine.Recovery.Restore;
using CcieDr.Engine.Tests.Builders;
using CcieDr.Engine.Tests.Snapshots;
using CcieDr.Simulator;
using Xunit;
using AsgGroup = CcieDr.Engine.Aws.AutoScaling.AutoScalingGroup;

namespace CcieDr.Engine.Tests.Infrastructure;

/// <summary>
/// The fault matrix of the Builders room, on the simulator's EC2 and Auto Scaling: every mutating call of pointing the
/// builders at the Services box (a launch template group: CreateLaunchTemplateVersion, UpdateAutoScalingGroup; a
/// launch configuration group: CreateLaunchConfiguration, UpdateAutoScalingGroup; a rollback to version 1:
/// UpdateAutoScalingGroup), of temporary capacity
/// (PutScheduledUpdateGroupAction, SetDesiredCapacity; above MaxSize: UpdateAutoScalingGroup) and of rotating the
/// fleet (an instance refresh: StartInstanceRefresh; CcieDr's own loop in batches of one: CreateTags,
/// SetDesiredCapacity, TerminateInstanceInAutoScalingGroup; at MaxSize: UpdateAutoScalingGroup), and the drill
/// sweeper's deletions (TerminateInstances, DeleteVolume, DeregisterImage, DeleteSecurityGroup) × {throttle,
/// internal-error, drop-after, timeout}, each served once (the retries meet it) and persistently (every call of that
/// action). A cell passes when the operation completes (once; persistently only where the engine looks up that the
/// lost change landed), or fails with a CcieException whose id is the fault's and whose message names the call (a
/// sweep: the failure it records names the call and the AWS error); when the state afterwards is safe (at most one
/// new launch template version or launch configuration; no raised capacity without its scheduled return; a rotated
/// group back at its desired capacity and MaxSize and never below its minimum healthy: desired for the own loop,
/// desired − batch for a refresh; a sweep touches nothing without the drill tag); and when a rerun with the faults
/// gone leaves exactly the expected state (one new version or configuration with the box's IP that the group uses,
/// or the group back on version 1 with no new version;
/// the asked capacity with one scheduled return to the old size; every builder on the group's configuration at the
/// old desired capacity, no refresh running; nothing of the drill left).
/// Counted through the simulator's state, not through what the engine says.
/// Plus Ctrl+C under a slow call of each of those actions: OperationCanceledException within 10 s, no call that
/// moves the operation forward after it (a rotation may only put the group back: finish terminating the old builders
/// of a batch whose new ones are in service, set desired capacity or MaxSize back, cancel its refresh), and a rerun
/// still leaves exactly the expected state. And Ctrl+C while an instance refresh runs, with each fault once and
/// persistently on the CancelInstanceRefresh it makes: stopped at once, the refresh cancelled when the call got
/// through (else left to finish, never below desired − batch), and a rerun finishes the job.
/// </summary>
public sealed class BuilderFaultMatrixTests
{
    private const string Region = BuilderSim.Region;
    private const string Group = "circleci-builders";
    private const string BoxIp = "10.0.1.77";
    private const int Persistent = 200;

    static BuilderFaultMatrixTests()
    {
        Environment.SetEnvironmentVariable("CCIEDR_POLL_SCALE", "0.02");
    }

    /// <summary>The operations and the actions each one's faults are put on.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Operations = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["configure-template"] = ["CreateLaunchTemplateVersion", "UpdateAutoScalingGroup"],
        ["configure-launch-configuration"] = ["CreateLaunchConfiguration", "UpdateAutoScalingGroup"],
        ["configure-rollback"] = ["UpdateAutoScalingGroup"],
        ["capacity"] = ["PutScheduledUpdateGroupAction", "SetDesiredCapacity"],
        ["capacity-above-max"] = ["UpdateAutoScalingGroup"],
        ["restart-refresh"] = ["StartInstanceRefresh"],
        ["restart-rolling"] = ["CreateTags", "SetDesiredCapacity", "TerminateInstanceInAutoScalingGroup"],
        ["restart-rolling-at-max"] = ["UpdateAutoScalingGroup"],
        ["sweep-drill"] = ["TerminateInstances", "DeleteVolume", "DeregisterImage", "DeleteSecurityGroup"],
    };

    /// <summary>
    /// Cells where a persistent fault still lets the operation complete: the change landed, the answer was lost, and
    /// the engine finds the change made (an instance refresh running, the old builder terminating, desired capacity
    /// already raised) instead of failing or redoing it.
    /// </summary>
    private static readonly HashSet<string> CompletesDespitePersistent = new(StringComparer.Ordinal)
    {
        "restart-refresh/StartInstanceRefresh/drop-after",
        "restart-rolling/SetDesiredCapacity/drop-after",
        "restart-rolling/TerminateInstanceInAutoScalingGroup/drop-after",
        "restart-rolling-at-max/UpdateAutoScalingGroup/drop-after",
    };

    private static readonly HashSet<string> Ec2Actions = new(StringComparer.Ordinal)
    {
        "CreateLaunchTemplateVersion", "CreateTags", "TerminateInstances", "DeleteVolume", "DeregisterImage", "DeleteSecurityGroup",
    };

    public static TheoryData<string, string, string, string> Cells()
    {
        var data = new TheoryData<string, string, string, string>();
        foreach ((string op, string[] actions) in Operations)
        {
            foreach (string action in actions)
            {
                foreach (string fault in SimulatorFaultMatrixKit.Faults)
                {
                    data.Add(op, action, fault, "once");
                    data.Add(op, action, fault, "persistent");
                }
            }
        }

        return data;
    }

    public static TheoryData<string, string> EveryAction()
    {
        var data = new TheoryData<string, string>();
        foreach ((string op, string[] actions) in Operations)
        {
            foreach (string action in actions)
            {
                data.Add(op, action);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task Completes_or_fails_clearly_leaves_a_safe_state_and_a_rerun_leaves_exactly_the_expected_state(string operation, string action, string fault, string dose)
    {
        await using Cell cell = await Cell.StartAsync(operation);
        // The sweep retries a transient failure until its wait times out (1 s here): its persistent faults outlast that.
        int persistent = operation == "sweep-drill" ? int.MaxValue : Persistent;
        cell.Control.InjectFault(new FaultSpec { Kind = fault, Action = action, Count = dose == "once" ? 1 : persistent, DelayMilliseconds = 100 });

        Failure? failure = await cell.RunAsync(CancellationToken.None);

        Assert.True(cell.Control.FaultCount(fault, action) >= 1, $"the {fault} fault on {action} was never served");
        if (dose == "once" || CompletesDespitePersistent.Contains($"{operation}/{action}/{fault}"))
        {
            Assert.True(failure is null, $"{(dose == "once" ? "one" : "every")} {fault} on {action} should not fail {operation}: {failure?.Message}");
        }
        else
        {
            Assert.True(failure is not null, $"{operation} succeeded although every {action} call met {fault}");
            string prefix = Ec2Actions.Contains(action) ? "ec2:" : "autoscaling:";
            Assert.Contains(prefix + action, failure.Message, StringComparison.Ordinal);
            if (failure.ErrorId is not null)
            {
                Assert.True(ExpectedErrorId(action, fault) == failure.ErrorId, $"expected {ExpectedErrorId(action, fault)}, got {failure.ErrorId}: {failure.Message}");
            }
            else
            {
                // A sweep collects each resource's failure (its message) and goes on.
                string expected = ExpectedErrorId(action, fault) == "AwsEndpointUnreachable" ? "could not be reached" : ExpectedErrorId(action, fault)["Aws.".Length..];
                Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
            }
        }

        await cell.AssertSafeAsync();

        cell.Control.ClearFaults();
        Failure? rerun = await cell.RunAsync(CancellationToken.None);

        Assert.True(rerun is null, $"the rerun of {operation} failed: {rerun?.Message}");
        await cell.AssertExpectedAsync();
    }

    [Theory]
    [MemberData(nameof(EveryAction))]
    public async Task Ctrl_C_during_a_slow_call_stops_at_once_and_a_rerun_finishes_the_job(string operation, string action)
    {
        await using Cell cell = await Cell.StartAsync(operation);
        cell.Control.InjectFault(new FaultSpec { Kind = FaultKinds.Delay, Action = action, Count = 1, DelayMilliseconds = 60_000 });
        using var cts = new CancellationTokenSource();

        Task<Failure?> running = cell.RunAsync(cts.Token);
        int started = await SimulatorFaultMatrixKit.LogIndexOfAsync(cell.Control, action, running);
        cts.Cancel();
        Task first = await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(10)));

        Assert.True(first == running, $"{operation} did not end within 10 s of Ctrl+C (the slow {action} holds 60 s)");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        IReadOnlyList<RequestLogEntry> log = await SimulatorFaultMatrixKit.CancelledAsync(cell.Control, started);
        Assert.Empty(log.Skip(started + 1).Where(cell.MovesForward).Select(e => $"{e.Action} {string.Join(" ", e.Parameters.Select(p => p.Key + "=" + p.Value))}"));
        await cell.AssertSafeAsync();

        cell.Control.ClearFaults();
        Failure? rerun = await cell.RunAsync(CancellationToken.None);

        Assert.True(rerun is null, $"the rerun of {operation} after Ctrl+C failed: {rerun?.Message}");
        await cell.AssertExpectedAsync();
    }

    public static TheoryData<string, string> CancelFaults()
    {
        var data = new TheoryData<string, string>();
        foreach (string fault in SimulatorFaultMatrixKit.Faults)
        {
            data.Add(fault, "once");
            data.Add(fault, "persistent");
        }

        return data;
    }

    /// <summary>
    /// Ctrl+C while an instance refresh runs: the rotation cancels it (CancelInstanceRefresh, a cleanup with its own time
    /// limit) and ends with OperationCanceledException at once, also when that call meets a fault (then it warns, and
    /// Auto Scaling finishes the refresh); the group never drops below desired − batch and a rerun finishes the job.
    /// </summary>
    [Theory]
    [MemberData(nameof(CancelFaults))]
    public async Task Ctrl_C_during_a_refresh_cancels_it_or_leaves_it_running_safely_and_a_rerun_finishes_the_job(string fault, string dose)
    {
        await using Cell cell = await Cell.StartAsync("restart-refresh");
        using var cts = new CancellationTokenSource();

        Task<Failure?> running = cell.RunAsync(cts.Token);
        await cell.RefreshRunningAsync(running);
        cell.Control.InjectFault(new FaultSpec { Kind = fault, Action = "CancelInstanceRefresh", Count = dose == "once" ? 1 : Persistent, DelayMilliseconds = 100 });
        int cancelledAt = cell.Control.RequestLog().Count;
        cts.Cancel();
        Task first = await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(10)));

        Assert.True(first == running, "the rotation did not end within 10 s of Ctrl+C");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        IReadOnlyList<RequestLogEntry> log = cell.Control.RequestLog();
        Assert.Contains(log.Skip(cancelledAt), e => e.Action == "CancelInstanceRefresh");
        Assert.Empty(log.Skip(cancelledAt).Where(cell.MovesForward).Select(e => e.Action));
        Assert.True(cell.Control.FaultCount(fault, "CancelInstanceRefresh") >= 1, $"the {fault} fault on CancelInstanceRefresh was never served");
        bool landed = dose == "once" || fault == FaultKinds.DropAfter;   // a retry got through, or the call was served and its answer lost
        Assert.Equal(landed, await cell.RefreshCancelledAsync());
        await cell.AssertSafeAsync();

        cell.Control.ClearFaults();
        Failure? rerun = await cell.RunAsync(CancellationToken.None);

        Assert.True(rerun is null, $"the rerun after Ctrl+C failed: {rerun?.Message}");
        await cell.AssertExpectedAsync();
    }

    private static string ExpectedErrorId(string action, string fault)
    {
        bool ec2 = Ec2Actions.Contains(action);
        return fault switch
        {
            FaultKinds.Throttle => ec2 ? "Aws.RequestLimitExceeded" : "Aws.Throttling",
            FaultKinds.InternalError => ec2 ? "Aws.InternalError" : "Aws.InternalFailure",
            _ => "AwsEndpointUnreachable",
        };
    }

    /// <summary>A sweep that recorded failures on its resources (it throws none of its own).</summary>
    private sealed class SweepFailed(string message) : Exception(message);

    /// <summary>How an operation failed: a CcieException's id and message, or a sweep's collected failures (no id).</summary>
    internal sealed record Failure(string? ErrorId, string Message);

    /// <summary>One cell's simulator, the state the operation starts from, the operation, and what must hold after it.</summary>
    private sealed class Cell : IAsyncDisposable
    {
        private readonly string operation;
        private readonly CancellationTokenSource stopClock = new();
        private BuilderSim sim = null!;
        private AutoScalingBuilderGroups groups = null!;
        private ServicesBox box = null!;
        private Task clock = Task.CompletedTask;
        private readonly List<string> drillIds = new();
        private int versionsBefore;
        private int configurationsBefore;
        private int desiredBefore;
        private int maxBefore;
        private string newVersion = string.Empty;
        private DateTime started;
        private DateTime until;

        private Cell(string operation)
        {
            this.operation = operation;
        }

        public SimulatorControl Control => sim.Control;

        private bool Rotates => operation.StartsWith("restart-", StringComparison.Ordinal);

        private bool Sweeps => operation == "sweep-drill";

        public static async Task<Cell> StartAsync(string operation)
        {
            var cell = new Cell(operation);
            await cell.SetUpAsync();
            return cell;
        }

        /// <summary>Runs the operation once; null when it completed.</summary>
        public async Task<Failure?> RunAsync(CancellationToken ct)
        {
            try
            {
                await RunOnceAsync(ct);
                return null;
            }
            catch (SweepFailed e)
            {
                return new Failure(null, e.Message);
            }
            catch (CcieException e)
            {
                return new Failure(e.ErrorId, e.Message);
            }
        }

        /// <summary>A call after Ctrl+C that moves the operation on (a rotation may still put the group back to its size).</summary>
        public bool MovesForward(RequestLogEntry e)
        {
            if (e.Action.StartsWith("Describe", StringComparison.Ordinal) || e.Action is "GetMetricData" or "ListMetrics")
            {
                return false;
            }

            if (!Rotates || Sweeps)
            {
                return true;
            }

            return e.Action switch
            {
                "TerminateInstanceInAutoScalingGroup" => e.Parameters.GetValueOrDefault("ShouldDecrementDesiredCapacity") != "true",
                "SetDesiredCapacity" => e.Parameters.GetValueOrDefault("DesiredCapacity") != desiredBefore.ToString(),
                "UpdateAutoScalingGroup" => e.Parameters.GetValueOrDefault("MaxSize") != maxBefore.ToString() || e.Parameters.ContainsKey("DesiredCapacity"),
                "CancelInstanceRefresh" => false,
                _ => true,
            };
        }

        /// <summary>Returns once the rotation's instance refresh is in progress (a hang guard, not a timing assertion).</summary>
        public async Task RefreshRunningAsync(Task running)
        {
            for (int i = 0; i < 3000; i++)
            {
                if ((await sim.Asg.DescribeInstanceRefreshesAsync(Group, null, CancellationToken.None)).Any(r => r.Status is "Pending" or "InProgress"))
                {
                    return;
                }

                if (running.IsCompleted)
                {
                    await running;
                    Assert.Fail("the rotation ended before its instance refresh was seen running");
                }

                await Task.Delay(5);
            }

            throw new TimeoutException("the instance refresh never ran");
        }

        /// <summary>True when the rotation's instance refresh was cancelled (it ended Cancelled or is cancelling).</summary>
        public async Task<bool> RefreshCancelledAsync() =>
            (await sim.Asg.DescribeInstanceRefreshesAsync(Group, null, CancellationToken.None)).Any(r => r.Status is "Cancelled" or "Cancelling");

        /// <summary>What must hold after any run, failed, stopped or not.</summary>
        public async Task AssertSafeAsync()
        {
            switch (operation)
            {
                case "configure-template":
                    Assert.InRange(await VersionCountAsync(), versionsBefore, versionsBefore + 1);
                    break;
                case "configure-rollback":
                    Assert.Equal(versionsBefore, await VersionCountAsync());
                    break;
                case "configure-launch-configuration":
                    Assert.InRange((await sim.Asg.DescribeLaunchConfigurationsAsync(null, CancellationToken.None)).Count, configurationsBefore, configurationsBefore + 1);
                    break;
                case "capacity":
                case "capacity-above-max":
                    {
                        AsgGroup g = await GroupAsync();
                        IReadOnlyList<ScheduledAction> returns = await sim.Asg.DescribeScheduledActionsAsync(Group, null, CancellationToken.None);
                        Assert.True(returns.Count <= 1, $"{returns.Count} scheduled actions");
                        if (g.DesiredCapacity != desiredBefore || g.MaxSize != maxBefore)
                        {
                            ScheduledAction back = Assert.Single(returns);
                            Assert.Equal((BuilderCapacity.ReturnActionName, desiredBefore, maxBefore, until), (back.ScheduledActionName, back.DesiredCapacity, back.MaxSize, back.Time));
                        }

                        break;
                    }

                case "sweep-drill":
                    {
                        // Only what carries the drill's tag is touched: the Services box, the builders and their images stay.
                        var seeded = new[] { sim.Seed.ServicesInstanceId }.Concat(sim.Seed.BuilderInstanceIds).ToList();
                        var instances = (await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = seeded })).Reservations.SelectMany(r => r.Instances).ToList();
                        Assert.All(instances, i => Assert.Equal("running", i.State.Name.Value));
                        var images = (await sim.Ec2.DescribeImagesAsync(new DescribeImagesRequest { ImageIds = [sim.Seed.ServicesImageId, sim.Seed.BuilderImageId] })).Images;
                        Assert.All(images, i => Assert.Equal("available", i.State.Value));
                        Assert.Equal(2, images.Count);
                        Assert.Single((await sim.Ec2.DescribeSecurityGroupsAsync(new DescribeSecurityGroupsRequest { GroupIds = [sim.Seed.BuildersSecurityGroupId] })).SecurityGroups);
                        break;
                    }

                default:
                    {
                        await SettleAsync();
                        AsgGroup g = await GroupAsync();
                        Assert.True(g.DesiredCapacity == desiredBefore, $"the group was left at desired capacity {g.DesiredCapacity}, not {desiredBefore}");
                        Assert.Equal(maxBefore, g.MaxSize);
                        int floor = operation == "restart-refresh" ? desiredBefore - 1 : desiredBefore;
                        IReadOnlyList<CapacityPoint> history = Control.AutoScalingHistory(Region, Group, started);
                        Assert.True(history.All(p => p.InService >= floor), $"in service dropped below {floor}: {string.Join(",", history.Select(p => p.InService))}");
                        break;
                    }
            }
        }

        public async Task AssertExpectedAsync()
        {
            await AssertSafeAsync();
            switch (operation)
            {
                case "configure-template":
                    {
                        Assert.Equal(versionsBefore + 1, await VersionCountAsync());
                        LaunchTemplateVersion latest = (await sim.Ec2.DescribeLaunchTemplateVersionsAsync(new DescribeLaunchTemplateVersionsRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId, Versions = ["$Latest"] })).LaunchTemplateVersions.Single();
                        Assert.Equal(BoxIp, UserDataReader.ServicesIpOf(latest.LaunchTemplateData.UserData, "latest"));
                        AsgGroup g = await GroupAsync();
                        Assert.Equal(latest.VersionNumber!.Value.ToString(), g.LaunchTemplate?.Version);
                        break;
                    }

                case "configure-rollback":
                    Assert.Equal("1", (await GroupAsync()).LaunchTemplate?.Version);
                    break;

                case "configure-launch-configuration":
                    {
                        IReadOnlyList<LaunchConfiguration> all = await sim.Asg.DescribeLaunchConfigurationsAsync(null, CancellationToken.None);
                        Assert.Equal(configurationsBefore + 1, all.Count);
                        AsgGroup g = await GroupAsync();
                        LaunchConfiguration used = Assert.Single(all, c => c.LaunchConfigurationName == g.LaunchConfigurationName);
                        Assert.NotEqual("builders-v1", used.LaunchConfigurationName);
                        Assert.Equal(BoxIp, UserDataReader.ServicesIpOf(used.UserData, "new"));
                        break;
                    }

                case "capacity":
                case "capacity-above-max":
                    {
                        AsgGroup g = await GroupAsync();
                        Assert.Equal(operation == "capacity" ? (4, maxBefore) : (12, 12), (g.DesiredCapacity, g.MaxSize));
                        ScheduledAction back = Assert.Single(await sim.Asg.DescribeScheduledActionsAsync(Group, null, CancellationToken.None));
                        Assert.Equal((BuilderCapacity.ReturnActionName, desiredBefore, maxBefore, until), (back.ScheduledActionName, back.DesiredCapacity, back.MaxSize, back.Time));
                        break;
                    }

                case "sweep-drill":
                    Assert.Empty(await Sweeper().FindAsync("drill-1", CancellationToken.None));
                    Assert.Equal(4, drillIds.Count);
                    break;

                default:
                    {
                        AsgGroup g = await GroupAsync();
                        List<AutoScalingInstance> live = g.Instances.Where(i => !i.LifecycleState.StartsWith("Terminat", StringComparison.Ordinal)).ToList();
                        Assert.Equal(desiredBefore, live.Count);
                        Assert.All(live, i => Assert.Equal(("InService", newVersion), (i.LifecycleState, i.LaunchTemplate?.Version)));
                        Assert.DoesNotContain(await sim.Asg.DescribeInstanceRefreshesAsync(Group, null, CancellationToken.None), r => r.Status is "Pending" or "InProgress" or "Cancelling");
                        break;
                    }
            }
        }

        public async ValueTask DisposeAsync()
        {
            stopClock.Cancel();
            await clock;
            groups?.Dispose();
            if (sim is not null)
            {
                await sim.DisposeAsync();
            }

            stopClock.Dispose();
        }

        private async Task RunOnceAsync(CancellationToken ct)
        {
            switch (operation)
            {
                case "configure-template":
                case "configure-launch-configuration":
                case "configure-rollback":
                    {
                        var configurator = new BuilderConfigurator(sim.Ec2, groups, Region, NullReporter.Instance);
                        var request = operation == "configure-rollback"
                            ? new BuilderConfigurationRequest { AutoScalingGroupName = Group, Version = "1" }
                            : new BuilderConfigurationRequest { AutoScalingGroupName = Group, ServicesBox = box };
                        BuilderConfigurationPlan plan = await configurator.PlanAsync(request, ct);
                        await configurator.ApplyAsync(plan, ct);
                        return;
                    }

                case "capacity":
                case "capacity-above-max":
                    {
                        BuilderCapacityPlan plan = await sim.Capacity.PlanAsync(new BuilderCapacityRequest(Group) { DesiredCapacity = operation == "capacity" ? 4 : 12, Until = until }, ct);
                        await sim.Capacity.ExecuteAsync(plan, ct);
                        return;
                    }

                case "sweep-drill":
                    {
                        IReadOnlyList<RecoveryDrillResource> found = await Sweeper().FindAsync("drill-1", ct);
                        await Sweeper().RemoveAsync(found, NullReporter.Instance, ct);
                        List<string> errors = found.Where(r => r.Error is not null).Select(r => r.Error!).ToList();
                        if (errors.Count > 0)
                        {
                            throw new SweepFailed(string.Join(" ", errors));
                        }

                        return;
                    }

                default:
                    {
                        var restarter = new BuilderRestarter(sim.Ec2, groups, Region, NullReporter.Instance, () => Control.Now)
                        {
                            Polling = new WaitOptions { InitialDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(40), Timeout = TimeSpan.FromSeconds(30) },
                        };
                        var request = new BuilderRestartRequest
                        {
                            AutoScalingGroupName = Group,
                            Selection = BuilderSelection.Stale,
                            BatchSize = 1,
                            NoInstanceRefresh = operation != "restart-refresh",
                            BatchTimeout = TimeSpan.FromSeconds(30),
                        };
                        BuilderRestartPlan plan = await restarter.PlanAsync(request, ct);
                        Assert.Equal(operation != "restart-refresh" ? "Rolling" : plan.Targets.Count == 0 ? plan.Method : "InstanceRefresh", plan.Method);
                        await restarter.ApplyAsync(plan, ct);
                        return;
                    }
            }
        }

        private async Task SetUpAsync()
        {
            sim = await BuilderSim.StartAsync();
            groups = new AutoScalingBuilderGroups(sim.Asg);
            if (operation == "restart-rolling-at-max")
            {
                // No room for a batch: the rotation raises MaxSize first and puts it back at the end.
                await sim.Asg.UpdateAutoScalingGroupAsync(new AutoScalingGroupUpdate(Group) { MaxSize = 2 }, CancellationToken.None);
            }

            AsgGroup g = await GroupAsync();
            desiredBefore = g.DesiredCapacity;
            maxBefore = g.MaxSize;
            switch (operation)
            {
                case "configure-template":
                case "configure-launch-configuration":
                    {
                        await sim.RestoreBoxOntoAsync(BoxIp);
                        box = Assert.Single(await new ServicesBoxLocator(sim.Ec2, Region).FindAsync(new ServicesBoxQuery(), CancellationToken.None), b => b.PrivateIpAddress == BoxIp);
                        if (operation == "configure-launch-configuration")
                        {
                            await sim.Asg.CreateLaunchConfigurationAsync(
                                new LaunchConfiguration { LaunchConfigurationName = "builders-v1", ImageId = sim.Seed.BuilderImageId, InstanceType = "m5.xlarge", SecurityGroups = [sim.Seed.BuildersSecurityGroupId], UserData = sim.Seed.BuilderUserData },
                                CancellationToken.None);
                            await sim.Asg.UpdateAutoScalingGroupAsync(new AutoScalingGroupUpdate(Group) { LaunchConfigurationName = "builders-v1" }, CancellationToken.None);
                        }

                        versionsBefore = await VersionCountAsync();
                        configurationsBefore = (await sim.Asg.DescribeLaunchConfigurationsAsync(null, CancellationToken.None)).Count;
                        break;
                    }

                case "capacity":
                case "capacity-above-max":
                    await sim.Asg.ResumeProcessesAsync(Group, null, CancellationToken.None);
                    until = Control.Now.AddHours(1);
                    break;

                case "configure-rollback":
                    newVersion = (await sim.NewVersionAsync(BoxIp)).ToString();   // the group uses version 2; the rollback puts 1 back
                    versionsBefore = await VersionCountAsync();
                    break;

                case "sweep-drill":
                    await CreateDrillAsync();
                    StartClock();
                    break;

                default:
                    {
                        await sim.Asg.ResumeProcessesAsync(Group, null, CancellationToken.None);
                        newVersion = (await sim.NewVersionAsync(BoxIp)).ToString();

                        StartClock();
                        break;
                    }
            }

            started = Control.Now;
            Control.ClearRequestLog();
        }

        /// <summary>Simulated time moves on its own (2 s every 10 ms), so new builders come up, a refresh proceeds, instances terminate.</summary>
        private void StartClock()
        {
            clock = Task.Run(async () =>
            {
                while (!stopClock.IsCancellationRequested)
                {
                    Control.AdvanceClock(2);
                    try
                    {
                        await Task.Delay(10, stopClock.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            });
        }

        private DrillSweeper Sweeper() => new(sim.Ec2, Region, new WaitOptions { InitialDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(40), Timeout = TimeSpan.FromSeconds(1) });

        /// <summary>What a killed drill leaves: its instance (in its own security group), a data volume and the AMI it registered, all tagged ccie:drill.</summary>
        private async Task CreateDrillAsync()
        {
            var tags = new List<Tag> { new(RestoreNaming.DrillTag, "drill-1") };
            string sg = (await sim.Ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "ccie-drill-1", Description = "drill", VpcId = sim.Seed.VpcId })).GroupId;
            await sim.Ec2.CreateTagsAsync(new CreateTagsRequest { Resources = [sg], Tags = tags });
            var run = await sim.Ec2.RunInstancesAsync(new RunInstancesRequest
            {
                ImageId = sim.Seed.ServicesImageId,
                InstanceType = Amazon.EC2.InstanceType.M5Xlarge,
                MinCount = 1,
                MaxCount = 1,
                SubnetId = sim.Seed.SubnetAId,
                SecurityGroupIds = [sg],
                TagSpecifications = [new TagSpecification { ResourceType = Amazon.EC2.ResourceType.Instance, Tags = tags }],
            });
            string volume = (await sim.Ec2.CreateVolumeAsync(new CreateVolumeRequest { AvailabilityZone = sim.Seed.AvailabilityZoneA, Size = 8, TagSpecifications = [new TagSpecification { ResourceType = Amazon.EC2.ResourceType.Volume, Tags = tags }] })).Volume.VolumeId;
            string image = (await sim.Ec2.RegisterImageAsync(new RegisterImageRequest
            {
                Name = "ccie-drill-1",
                RootDeviceName = "/dev/xvda",
                VirtualizationType = "hvm",
                BlockDeviceMappings = [new BlockDeviceMapping { DeviceName = "/dev/xvda", Ebs = new EbsBlockDevice { SnapshotId = sim.Seed.ImageSnapshotIds[0] } }],
            })).ImageId;
            await sim.Ec2.CreateTagsAsync(new CreateTagsRequest { Resources = [image], Tags = tags });
            drillIds.AddRange([run.Reservation.Instances[0].InstanceId, volume, image, sg]);
            Control.AdvanceClock(30);
            Assert.Equal(4, (await Sweeper().FindAsync("drill-1", CancellationToken.None)).Count);
        }

        /// <summary>Lets what a stopped or failed rotation set in motion finish (a refresh's batch in flight, a terminating builder).</summary>
        private async Task SettleAsync()
        {
            for (int i = 0; i < 500; i++)
            {
                AsgGroup g = await GroupAsync();
                bool refreshing = (await sim.Asg.DescribeInstanceRefreshesAsync(Group, null, CancellationToken.None)).Any(r => r.Status is "Pending" or "InProgress" or "Cancelling");
                if (!refreshing && g.Instances.All(m => m.LifecycleState == "InService") && g.Instances.Count == g.DesiredCapacity)
                {
                    return;
                }

                await Task.Delay(20);
            }

            throw new TimeoutException("the group never settled");
        }

        private async Task<AsgGroup> GroupAsync() => (await sim.Asg.GetAutoScalingGroupAsync(Group, CancellationToken.None))!;

        private async Task<int> VersionCountAsync() =>
            (await sim.Ec2.DescribeLaunchTemplateVersionsAsync(new DescribeLaunchTemplateVersionsRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId })).LaunchTemplateVersions.Count;
    }
}
