using Amazon.EC2.Model;
using CcieDr.Engine.Builders;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Remote;
using CcieDr.Engine.Tests.Snapshots;
using Xunit;

namespace CcieDr.Engine.Tests.Builders
{
    /// <summary>
    /// The rolling loop against a scripted Auto Scaling group (new members go Pending, then InService after a few
    /// looks; a terminate with decrement removes one and lowers desired), with the simulator's EC2 for tags.
    /// </summary>
    public class BuilderRestartTests
    {
        private const string Group = "circleci-builders";

        private sealed class Fleet
        {
            private int _next;

            public Fleet(SnapshotSim sim, FakeBuilderGroups groups, int pendingLooks = 2)
            {
                Groups = groups;
                State.SuspendedProcesses = Array.Empty<string>();
                State.Members = sim.Seed.BuilderInstanceIds.Select(id => new BuilderGroupMember { InstanceId = id, LifecycleState = "InService", HealthStatus = "Healthy", LaunchTemplateId = sim.Seed.LaunchTemplateId, LaunchTemplateVersion = "1" }).ToList();
                State.DesiredCapacity = State.Members.Count;
                groups.OnSetDesired = (_, desired) =>
                {
                    var members = State.Members.ToList();
                    while (members.Count(m => !m.LifecycleState.StartsWith("Terminat", StringComparison.Ordinal)) < desired)
                    {
                        members.Add(new BuilderGroupMember { InstanceId = $"i-0new{_next++:x12}", LifecycleState = "Pending", HealthStatus = "Healthy", LaunchTemplateId = sim.Seed.LaunchTemplateId, LaunchTemplateVersion = State.LaunchTemplateVersion == "$Default" ? "1" : State.LaunchTemplateVersion });
                        Looks[members[^1].InstanceId] = 0;
                    }

                    State.Members = members;
                    InServiceLog.Add(InService);
                    return Task.CompletedTask;
                };
                groups.OnTerminate = (id, decrement) =>
                {
                    State.Members = State.Members.Where(m => m.InstanceId != id).ToList();
                    if (decrement)
                    {
                        State.DesiredCapacity--;
                    }

                    InServiceLog.Add(InService);
                    return Task.CompletedTask;
                };
                PendingLooks = pendingLooks;
                groups.Described = () =>
                {
                    foreach (BuilderGroupMember m in State.Members.Where(m => m.LifecycleState == "Pending"))
                    {
                        if (++Looks[m.InstanceId] >= PendingLooks)
                        {
                            m.LifecycleState = "InService";
                        }
                    }

                    InServiceLog.Add(InService);
                };
            }

            public FakeBuilderGroups Groups { get; }

            public BuilderGroupState State => Groups.Groups[0];

            public Dictionary<string, int> Looks { get; } = new();

            public int PendingLooks { get; set; }

            public List<int> InServiceLog { get; } = new();

            public int InService => State.Members.Count(m => m.InService);
        }

        private static (BuilderRestarter Restarter, Fleet Fleet) Make(SnapshotSim sim, string groupVersion = "2", int pendingLooks = 2)
        {
            var groups = new FakeBuilderGroups();
            groups.Groups.Add(new BuilderGroupState { Name = Group, LaunchTemplateId = sim.Seed.LaunchTemplateId, LaunchTemplateVersion = groupVersion, MinSize = 0, MaxSize = 10 });
            var fleet = new Fleet(sim, groups, pendingLooks);
            var restarter = new BuilderRestarter(sim.Ec2(), groups, SnapshotSim.Region, NullReporter.Instance)
            {
                Polling = new WaitOptions { InitialDelay = TimeSpan.FromMilliseconds(5), MaxDelay = TimeSpan.FromMilliseconds(20), Timeout = TimeSpan.FromSeconds(30) },
            };
            return (restarter, fleet);
        }

        private static async Task NewVersionAsync(SnapshotSim sim) =>
            await sim.Ec2().CreateLaunchTemplateVersionAsync(new CreateLaunchTemplateVersionRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId, SourceVersion = "1", LaunchTemplateData = new RequestLaunchTemplateData() });

        [Fact]
        public async Task Stale_builders_are_replaced_batch_by_batch_without_dropping_below_desired()
        {
            await using var sim = await SnapshotSim.StartAsync();
            await NewVersionAsync(sim);
            var (restarter, fleet) = Make(sim);
            List<string> old = fleet.State.Members.Select(m => m.InstanceId).ToList();

            BuilderRestartPlan plan = await restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.Stale, BatchSize = 1, NoInstanceRefresh = true }, CancellationToken.None);
            Assert.Equal("Rolling", plan.Method);
            Assert.Equal(old, plan.Targets);
            Assert.Equal(2, plan.BatchesPlanned);
            Assert.DoesNotContain(fleet.Groups.Calls, c => c.StartsWith("SetDesiredCapacity", StringComparison.Ordinal));   // planning changes nothing
            Assert.Contains("batch 2/2", plan.Render(), StringComparison.Ordinal);

            BuilderRestartResult r = await restarter.ApplyAsync(plan, CancellationToken.None);
            Assert.Equal("Completed", r.Status);
            Assert.Equal(old, r.Replaced);
            Assert.Equal(2, r.Launched.Count);
            Assert.Equal(2, r.Batches);
            Assert.All(fleet.State.Members, m => Assert.Equal("2", m.LaunchTemplateVersion));
            Assert.All(fleet.State.Members, m => Assert.Equal("InService", m.LifecycleState));
            Assert.Equal(2, fleet.State.DesiredCapacity);
            Assert.True(fleet.InServiceLog.Min() >= 2, "in service dropped below desired: " + string.Join(",", fleet.InServiceLog));
            Assert.Equal(2, r.MinInService);
            Assert.Equal(
                new[] { "SetDesiredCapacity circleci-builders 3", $"TerminateInstanceInAutoScalingGroup {old[0]} True", "SetDesiredCapacity circleci-builders 3", $"TerminateInstanceInAutoScalingGroup {old[1]} True" },
                fleet.Groups.Calls.Where(c => !c.StartsWith("Describe", StringComparison.Ordinal)));
            Assert.Contains(r.Timeline, t => t.Action == "wait:builders-in-service" && t.Outcome == "Succeeded");

            // The old builders were tagged for a rerun before anything was changed.
            var tags = await sim.Ec2().DescribeTagsAsync(new DescribeTagsRequest { Filters = [new Filter("key", [BuilderRestarter.PendingTag])] });
            Assert.Equal(old.OrderBy(x => x), tags.Tags.Select(t => t.ResourceId).OrderBy(x => x));

            BuilderRestartPlan again = await restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.Stale, BatchSize = 1 }, CancellationToken.None);
            Assert.Empty(again.Targets);
            Assert.Equal("NothingToDo", (await restarter.ApplyAsync(again, CancellationToken.None)).Status);
        }

        [Fact]
        public async Task A_batch_bigger_than_the_room_raises_max_size_and_puts_it_back()
        {
            await using var sim = await SnapshotSim.StartAsync();
            var (restarter, fleet) = Make(sim, groupVersion: "1");
            fleet.State.MaxSize = 2;
            BuilderRestartResult r = await restarter.ApplyAsync(await restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.All, BatchSize = 1, NoInstanceRefresh = true }, CancellationToken.None), CancellationToken.None);
            Assert.Equal(2, r.Batches);
            Assert.Contains("UpdateAutoScalingGroup circleci-builders MaxSize 3", fleet.Groups.Calls);
            Assert.Equal("UpdateAutoScalingGroup circleci-builders MaxSize 2", fleet.Groups.Calls.Last(c => c.Contains("MaxSize", StringComparison.Ordinal)));
            Assert.Equal(2, fleet.State.MaxSize);
            Assert.DoesNotContain(fleet.State.Members, m => sim.Seed.BuilderInstanceIds.Contains(m.InstanceId));
        }

        [Fact]
        public async Task Ctrl_C_while_waiting_puts_the_size_back_and_a_rerun_continues_with_the_tagged_builders()
        {
            await using var sim = await SnapshotSim.StartAsync();
            var (restarter, fleet) = Make(sim, groupVersion: "1", pendingLooks: int.MaxValue);   // the new builders never come up
            var reporter = new ListReporter();
            restarter = new BuilderRestarter(sim.Ec2(), fleet.Groups, SnapshotSim.Region, reporter) { Polling = restarter.Polling };
            using var stop = new CancellationTokenSource();
            fleet.Groups.Described = (fleet.Groups.Described ?? (() => { })) + (() =>
            {
                if (fleet.State.DesiredCapacity == 3)
                {
                    stop.Cancel();
                }
            });

            BuilderRestartPlan plan = await restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.All, BatchSize = 1, NoInstanceRefresh = true }, CancellationToken.None);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => restarter.ApplyAsync(plan, stop.Token));
            Assert.Equal(2, fleet.State.DesiredCapacity);   // back at its size
            Assert.Equal("SetDesiredCapacity circleci-builders 2", fleet.Groups.Calls.Last(c => c.StartsWith("SetDesired", StringComparison.Ordinal)));
            string takenBack = Assert.Single(fleet.Groups.Calls, c => c.StartsWith("Terminate", StringComparison.Ordinal));   // the never-ready new one, not an old one
            Assert.StartsWith("TerminateInstanceInAutoScalingGroup i-0new", takenBack, StringComparison.Ordinal);
            Assert.All(sim.Seed.BuilderInstanceIds, id => Assert.Contains(fleet.State.Members, m => m.InstanceId == id));
            Assert.Contains(reporter.Warnings, w => w.Contains("Rerun Restart-CcieBuilder", StringComparison.Ordinal));

            // The group removed the never-ready extra; one old builder is replaced by hand; the rerun picks up the other.
            fleet.State.Members = fleet.State.Members.Where(m => m.LifecycleState != "Pending" && m.InstanceId != sim.Seed.BuilderInstanceIds[0]).ToList();
            await sim.Ec2().TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [sim.Seed.BuilderInstanceIds[0]] });
            fleet.State.Members = fleet.State.Members.Append(new BuilderGroupMember { InstanceId = "i-0aaaaaaaaaaaaaaaa", LifecycleState = "InService", HealthStatus = "Healthy", LaunchTemplateId = sim.Seed.LaunchTemplateId, LaunchTemplateVersion = "1" }).ToList();
            fleet.PendingLooks = 1;
            BuilderRestartPlan rerun = await restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.All, BatchSize = 1, NoInstanceRefresh = true }, CancellationToken.None);
            Assert.Equal(new[] { sim.Seed.BuilderInstanceIds[1] }, rerun.Targets);
            Assert.Contains("Continuing an earlier rotation", rerun.Render(), StringComparison.Ordinal);
            Assert.Equal("Completed", (await restarter.ApplyAsync(rerun, CancellationToken.None)).Status);
        }

        [Fact]
        public async Task Drain_runs_on_each_old_builder_and_a_failed_drain_is_a_warning()
        {
            await using var sim = await SnapshotSim.StartAsync();
            var (restarter, fleet) = Make(sim, groupVersion: "1");
            var shells = new List<string>();
            restarter.OpenBuilderShell = (id, _) =>
            {
                shells.Add(id);
                return Task.FromResult<IRemoteShell>(new ScriptedShell(id, id == sim.Seed.BuilderInstanceIds[1] ? 3 : 0));
            };
            BuilderRestartRequest request = new() { Selection = BuilderSelection.Instances, InstanceIds = sim.Seed.BuilderInstanceIds.ToList(), BatchSize = 1, DrainCommand = "sudo touch /tmp/drain", DrainTimeout = TimeSpan.FromSeconds(5) };
            BuilderRestartPlan plan = await restarter.PlanAsync(request, CancellationToken.None);
            Assert.Equal("Rolling", plan.Method);   // a drain needs the own loop
            BuilderRestartResult r = await restarter.ApplyAsync(plan, CancellationToken.None);
            Assert.Equal(sim.Seed.BuilderInstanceIds, shells);
            Assert.Equal(2, r.Timeline.Count(t => t.Action == "remote:drain"));
            Assert.Contains(r.Timeline, t => t.Action == "remote:drain" && t.Outcome == "Failed" && t.Target == sim.Seed.BuilderInstanceIds[1]);
            string warning = Assert.Single(r.Warnings);
            Assert.Contains("exited with 3", warning, StringComparison.Ordinal);
            Assert.Equal(sim.Seed.BuilderInstanceIds, r.Replaced);

            var ex = await Assert.ThrowsAsync<CcieException>(() => restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.Instances, InstanceIds = ["i-0123456789abcdef0"] }, CancellationToken.None));
            Assert.Equal("BuilderNotInGroup", ex.ErrorId);
        }

        [Fact]
        public async Task Suspended_launch_or_terminate_is_refused_with_the_fix()
        {
            await using var sim = await SnapshotSim.StartAsync();
            var (restarter, fleet) = Make(sim, groupVersion: "1");
            fleet.State.SuspendedProcesses = new[] { "Launch", "AZRebalance" };
            var ex = await Assert.ThrowsAsync<CcieException>(() => restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.All }, CancellationToken.None));
            Assert.Equal("BuilderGroupProcessesSuspended", ex.ErrorId);
            Assert.Contains("resume-processes --auto-scaling-group-name circleci-builders --scaling-processes Launch", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public async Task With_the_metric_a_batch_waits_until_the_box_sees_its_builders_before_terminating_old_ones()
        {
            await using var sim = await SnapshotSim.StartAsync();
            await NewVersionAsync(sim);
            var (restarter, fleet) = Make(sim);
            List<string> old = fleet.State.Members.Select(m => m.InstanceId).ToList();
            var box = new ScriptedBox(fleet);   // the old builders point at the old IP: the box sees none of them
            restarter.ConnectedBuilders = box.ReadAsync;

            BuilderRestartPlan plan = await restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.Stale, BatchSize = 1 }, CancellationToken.None);
            Assert.Equal("Rolling", plan.Method);   // a refresh cannot wait for the connection
            Assert.Contains("InService and connected", plan.Render(), StringComparison.Ordinal);
            BuilderRestartResult r = await restarter.ApplyAsync(plan, CancellationToken.None);

            Assert.Equal("Completed", r.Status);
            Assert.Equal("Connected (circle.state.num-masters)", r.ConnectionCheck);
            Assert.Equal(old, r.Replaced);
            Assert.Equal(2, r.Timeline.Count(t => t.Action == "wait:builders-connected" && t.Outcome == "Succeeded"));

            // Every terminate came after a data point, taken after the batch's builders were in service, that counted them.
            Assert.Equal(2, box.TerminatesSeen.Count);
            Assert.All(box.TerminatesSeen, seen => Assert.True(seen.Point >= seen.Expected, $"terminated with the box seeing {seen.Point} of {seen.Expected}"));
        }

        [Fact]
        public async Task Builders_that_never_connect_stop_the_rotation_and_only_the_new_ones_are_taken_back()
        {
            await using var sim = await SnapshotSim.StartAsync();
            await NewVersionAsync(sim);
            var (restarter, fleet) = Make(sim);
            List<string> old = fleet.State.Members.Select(m => m.InstanceId).ToList();
            var box = new ScriptedBox(fleet) { Refuses = true };   // e.g. a wrong CIRCLE_SECRET_PASSPHRASE
            restarter.ConnectedBuilders = box.ReadAsync;

            BuilderRestartPlan plan = await restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.Stale, BatchSize = 1, ConnectTimeout = TimeSpan.FromMilliseconds(300) }, CancellationToken.None);
            CcieException e = await Assert.ThrowsAsync<CcieException>(() => restarter.ApplyAsync(plan, CancellationToken.None));

            Assert.Equal("BuildersNotConnected", e.ErrorId);
            Assert.Equal(CcieErrorCategory.OperationTimeout, e.Category);
            Assert.Contains("CIRCLE_SECRET_PASSPHRASE", e.Message, StringComparison.Ordinal);
            Assert.Contains("circle.state.num-masters says 0 builder(s)", e.Message, StringComparison.Ordinal);
            Assert.Equal(old.OrderBy(x => x), fleet.State.Members.Select(m => m.InstanceId).OrderBy(x => x));   // old ones untouched, the new one gone
            Assert.Equal(2, fleet.State.DesiredCapacity);
            Assert.DoesNotContain(fleet.Groups.Calls, c => old.Any(id => c == $"TerminateInstanceInAutoScalingGroup {id} True"));
        }

        [Fact]
        public async Task Without_metric_data_the_builders_are_waited_for_until_InService_with_a_warning()
        {
            await using var sim = await SnapshotSim.StartAsync();
            await NewVersionAsync(sim);
            var (restarter, fleet) = Make(sim);
            restarter.ConnectedBuilders = _ => Task.FromResult(new BuilderConnectionReading(null, null, DateTime.UtcNow));
            BuilderRestartResult r = await restarter.ApplyAsync(await restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.Stale, BatchSize = 1 }, CancellationToken.None), CancellationToken.None);
            Assert.Equal("Completed", r.Status);
            Assert.StartsWith("NotChecked", r.ConnectionCheck, StringComparison.Ordinal);
            Assert.Contains(r.Warnings, w => w.Contains("no (recent) data", StringComparison.Ordinal));
        }

        [Fact]
        public async Task Without_leave_to_read_CloudWatch_the_rotation_runs_unchecked_and_says_so()
        {
            await using var sim = await SnapshotSim.StartAsync();
            await NewVersionAsync(sim);
            var (restarter, _) = Make(sim);
            restarter.ConnectedBuilders = _ => throw new CcieException("AccessDenied", CcieErrorCategory.PermissionDenied, "not authorized to perform cloudwatch:ListMetrics");
            BuilderRestartResult denied = await restarter.ApplyAsync(await restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.Stale, BatchSize = 1 }, CancellationToken.None), CancellationToken.None);
            Assert.Equal("Completed", denied.Status);
            Assert.StartsWith("NotChecked", denied.ConnectionCheck, StringComparison.Ordinal);
        }

        [Fact]
        public async Task A_batch_size_at_or_above_desired_is_clamped_with_a_warning_and_nothing_stale_is_nothing_to_do()
        {
            await using var sim = await SnapshotSim.StartAsync();
            await NewVersionAsync(sim);
            var (restarter, fleet) = Make(sim);
            var reporter = new ListReporter();
            restarter = new BuilderRestarter(sim.Ec2(), fleet.Groups, SnapshotSim.Region, reporter) { Polling = restarter.Polling };
            BuilderRestartPlan plan = await restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.Stale, BatchSize = 5, NoInstanceRefresh = true }, CancellationToken.None);
            Assert.Equal(1, plan.BatchSize);
            Assert.Equal(2, plan.BatchesPlanned);
            string warning = Assert.Single(reporter.Warnings);
            Assert.Contains("-BatchSize 5 is not below the desired capacity of circleci-builders (2): batches of 1", warning, StringComparison.Ordinal);
            BuilderRestartResult r = await restarter.ApplyAsync(plan, CancellationToken.None);
            Assert.Contains(warning, r.Warnings);
            Assert.True(fleet.InServiceLog.Min() >= 2);

            int calls = fleet.Groups.Calls.Count(c => !c.StartsWith("Describe", StringComparison.Ordinal));
            BuilderRestartPlan none = await restarter.PlanAsync(new BuilderRestartRequest { Selection = BuilderSelection.Stale, BatchSize = 2 }, CancellationToken.None);
            Assert.Contains(none.Steps.Notes, n => n.Contains("nothing to rotate", StringComparison.Ordinal));
            Assert.Equal("NothingToDo", (await restarter.ApplyAsync(none, CancellationToken.None)).Status);
            Assert.Equal(calls, fleet.Groups.Calls.Count(c => !c.StartsWith("Describe", StringComparison.Ordinal)));
        }

        [Theory]
        [InlineData(2, 2, null, 1)]
        [InlineData(5, 7, null, 4)]
        [InlineData(1, 3, null, 3)]   // one builder: the own loop raises capacity first, so the batch is the lone builder (the extra are not there)
        [InlineData(5, 2, null, 2)]
        [InlineData(2, null, null, 1)]
        [InlineData(10, null, 90, 1)]
        [InlineData(10, null, 50, 5)]
        [InlineData(10, null, 100, 1)]
        [InlineData(4, 0, null, 1)]
        public void Batch_size_follows_Auto_Scaling_arithmetic(int desired, int? batch, int? minHealthy, int expected)
        {
            Assert.Equal(expected, BuilderRestarter.BatchSizeFor(desired, batch, minHealthy));
        }

        /// <summary>
        /// The Services box's view as CloudWatch gives it: every read is a new data point two seconds on; the box sees the
        /// InService builders on the new version (2) unless it refuses them all. Records, at each terminate of an old
        /// builder, what the newest data point had said and what was expected of it.
        /// </summary>
        private sealed class ScriptedBox
        {
            private readonly Fleet _fleet;
            private DateTime _now = new DateTime(2026, 12, 7, 10, 0, 0, DateTimeKind.Utc);
            private int _last;

            public ScriptedBox(Fleet fleet)
            {
                _fleet = fleet;
                var terminate = fleet.Groups.OnTerminate;
                fleet.Groups.OnTerminate = (id, decrement) =>
                {
                    if (!id.StartsWith("i-0new", StringComparison.Ordinal))
                    {
                        TerminatesSeen.Add((_last, _fleet.State.Members.Count(m => m.InService && m.LaunchTemplateVersion == "2")));
                    }

                    return terminate!(id, decrement);
                };
            }

            public bool Refuses { get; set; }

            public List<(int Point, int Expected)> TerminatesSeen { get; } = new();

            public Task<BuilderConnectionReading> ReadAsync(CancellationToken ct)
            {
                _now = _now.AddSeconds(2);
                _last = Refuses ? 0 : _fleet.State.Members.Count(m => m.InService && m.LaunchTemplateVersion == "2");
                return Task.FromResult(new BuilderConnectionReading(_last, _now.AddSeconds(-1), _now));
            }
        }

        private sealed class ListReporter : IOperationReporter
        {
            public List<string> Warnings { get; } = new();

            public void Progress(ProgressUpdate update)
            {
            }

            public void Verbose(string message)
            {
            }

            public void Warning(string message)
            {
                lock (Warnings)
                {
                    Warnings.Add(message);
                }
            }
        }

        private sealed class ScriptedShell : IRemoteShell
        {
            private readonly int _exit;

            public ScriptedShell(string host, int exit)
            {
                Host = host;
                _exit = exit;
            }

            public RemoteTransport Transport => RemoteTransport.Ssh;

            public string Host { get; }

            public Task<RemoteResult> RunAsync(RemoteCommand command, CancellationToken cancellationToken) =>
                Task.FromResult(new RemoteResult(_exit, string.Empty, _exit == 0 ? string.Empty : "builds still running", false, RemoteTransport.Ssh, Host, TimeSpan.FromSeconds(1)));

            public void Dispose()
            {
            }
        }
    }
}
