using CcieDr.Engine.Detection;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Recovery.App;
using CcieDr.Engine.Recovery.Drill;
using CcieDr.Engine.Recovery.Restore;
using CcieDr.Engine.Tests.Restore;
using Xunit;

namespace CcieDr.Engine.Tests.Recovery
{
    /// <summary>The drill's app step: Recovery/App on the drill box, then the health verdict; fakes for both, and a drill on the simulator whose app fails to start.</summary>
    public sealed class AppDrillVerifierTests
    {
        private static readonly DrillBox Box = new DrillBox
        {
            DrillId = "drill-20261207T120000Z-abc123",
            Region = "us-east-1",
            InstanceId = "i-0d0d0d0d0d0d0d0d0",
            PrivateIpAddress = "10.0.1.77",
            SourcePrivateIpAddress = "10.0.1.10",
            RecoveryPointId = "rp-20261207T110000Z-00000000",
        };

        private static AppRecoveryResult Started(params string[] fixups) => new AppRecoveryResult(
            new ReplicatedApp { State = "started" },
            fixups,
            Array.Empty<string>(),
            fixups.Length > 0,
            AppPorts.All.Select(p => new PortProbeResult(p, "127.0.0.1", p, ProbeFrom.Box, true, TimeSpan.Zero)).ToList());

        private static ServicesBoxHealth Health(string verdict, params string[] reasons) => new ServicesBoxHealth { InstanceId = Box.InstanceId, Verdict = verdict, Reasons = reasons };

        [Fact]
        public async Task Starts_the_app_on_the_drill_box_then_judges_it_from_the_box()
        {
            AppRecoveryRequest? seenApp = null;
            ServicesBoxHealthRequest? seenHealth = null;
            var verifier = new AppDrillVerifier(
                new AppDrillOptions(),
                startApp: (r, t, c) =>
                {
                    seenApp = r;
                    t.Complete(t.Begin("StartApp", r.Box));
                    return Task.FromResult(Started("/etc/default/replicated: PRIVATE_ADDRESS 10.0.1.10 -> 10.0.1.77"));
                },
                health: (r, c) =>
                {
                    seenHealth = r;
                    return Task.FromResult(Health("Healthy"));
                });
            var timeline = new Timeline();

            IReadOnlyList<RecoveryDrillCheck> checks = await verifier.VerifyAsync(Box, timeline, CancellationToken.None);

            Assert.Equal(new[] { "app", "health" }, checks.Select(c => c.Name));
            Assert.All(checks, c => Assert.Equal("Pass", c.Status));
            Assert.Contains("ports 80, 443, 4434, 8800 open from the box", checks[0].Detail, StringComparison.Ordinal);
            Assert.Contains("rewritten to 10.0.1.77", checks[0].Detail, StringComparison.Ordinal);
            Assert.Equal(Box.InstanceId, seenApp!.Box);
            Assert.Equal("10.0.1.77", seenApp.PrivateIpAddress);
            Assert.Equal(ProbeFrom.Box, seenApp.Probe.From);
            Assert.Equal(Box.InstanceId, seenHealth!.InstanceId);
            Assert.Equal(ProbeFrom.Box, seenHealth.Probe.From);
            Assert.NotNull(seenHealth.OpenShell);
            Assert.Equal(new[] { "StartApp", "HealthVerdict" }, timeline.Entries.Select(e => e.Action));
            Assert.Equal("Healthy", timeline.Entries[1].Detail);
        }

        [Fact]
        public async Task A_failed_start_is_a_failed_app_check_naming_why_and_the_verdict_is_not_run()
        {
            bool judged = false;
            var verifier = new AppDrillVerifier(
                new AppDrillOptions(),
                startApp: (r, t, c) => throw new CcieException("ReplicatedAppFailedToStart", CcieErrorCategory.InvalidOperation, "Replicated could not start the app on i-0d0d0d0d0d0d0d0d0: Container circleci-frontend failed to start: exit status 1."),
                health: (r, c) =>
                {
                    judged = true;
                    return Task.FromResult(Health("Healthy"));
                });

            IReadOnlyList<RecoveryDrillCheck> checks = await verifier.VerifyAsync(Box, new Timeline(), CancellationToken.None);

            RecoveryDrillCheck app = Assert.Single(checks);
            Assert.Equal("Fail", app.Status);
            Assert.Contains("did not start on the drill box i-0d0d0d0d0d0d0d0d0", app.Detail, StringComparison.Ordinal);
            Assert.Contains("circleci-frontend failed to start", app.Detail, StringComparison.Ordinal);
            Assert.False(judged);
        }

        [Theory]
        [InlineData("Healthy", "Pass")]
        [InlineData("Degraded", "Warn")]
        [InlineData("Down", "Fail")]
        public async Task The_health_verdict_maps_to_the_check(string verdict, string status)
        {
            var verifier = new AppDrillVerifier(new AppDrillOptions(), startApp: (r, t, c) => Task.FromResult(Started()), health: (r, c) => Task.FromResult(Health(verdict, "Port443: closed")));
            var timeline = new Timeline();

            IReadOnlyList<RecoveryDrillCheck> checks = await verifier.VerifyAsync(Box, timeline, CancellationToken.None);

            Assert.Equal(status, checks.Single(c => c.Name == "health").Status);
            Assert.StartsWith(verdict, checks.Single(c => c.Name == "health").Detail, StringComparison.Ordinal);
            Assert.Equal(verdict == "Down" ? "Failed" : "Succeeded", timeline.Entries.Single(e => e.Action == "HealthVerdict").Outcome);
        }

        [Fact]
        public async Task A_drill_whose_app_does_not_start_fails_with_the_reason_and_leaves_nothing()
        {
            await using RestoreSim sim = await RestoreSim.StartAsync();
            RecoveryPoint point = await sim.TakeRecoveryPointAsync();
            var verifier = new AppDrillVerifier(
                new AppDrillOptions(),
                startApp: (r, t, c) => throw new CcieException("ReplicatedAppFailedToStart", CcieErrorCategory.InvalidOperation, $"Replicated could not start the app on {r.Box}: Container circleci-frontend failed to start."),
                health: (r, c) => Task.FromResult(Health("Healthy")));
            var drill = new RecoveryDrill(sim.Ec2, RestoreSim.Region, kms: sim.Kms);
            DrillPlan plan = await drill.PlanAsync(new DrillRequest { RecoveryPoint = point, Isolated = true, Verifier = verifier }, CancellationToken.None);
            Assert.Contains(plan.Steps(), s => s.Contains("start the app", StringComparison.Ordinal) && s.Contains("health verdict", StringComparison.Ordinal));

            RecoveryDrillResult result = await drill.RunAsync(plan, CancellationToken.None);

            Assert.Equal("Failed", result.Verdict);
            Assert.StartsWith("app: CircleCI did not start on the drill box " + result.InstanceId, result.Reason, StringComparison.Ordinal);
            Assert.Contains("circleci-frontend", result.Reason, StringComparison.Ordinal);
            Assert.Null(result.Rto);
            Assert.NotEmpty(result.Resources);
            Assert.All(result.Resources, r => Assert.True(r.Removed, r.Kind + " " + r.Id));
            Assert.Empty(await new DrillSweeper(sim.Ec2, RestoreSim.Region).FindAsync(plan.DrillId, CancellationToken.None));
            var snapshots = await sim.Ec2.DescribeSnapshotsAsync(new Amazon.EC2.Model.DescribeSnapshotsRequest { SnapshotIds = new List<string> { point.Snapshots[0].SnapshotId } });
            Assert.Equal("Failed", snapshots.Snapshots[0].Tags.Single(t => t.Key == RecoveryTags.DrillVerdict).Value);
        }
    }
}
