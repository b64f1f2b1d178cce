using System.Text.Json.Nodes;
using CcieDr.Engine.Detection;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery.App;
using CcieDr.Engine.Remote;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Remote
{
    /// <summary>
    /// The post-restore recovery over a LocalShell whose "box" is a temp root (CCIEDR_BOX_ROOT) with the Replicated
    /// stand-in on its PATH; the ports are the simulator's loopback stand-ins, which follow the stand-in's app state.
    /// </summary>
    public sealed class AppRecoveryTests : IDisposable
    {
        private readonly string _box = Directory.CreateTempSubdirectory("ccie-box-").FullName;
        private readonly Dictionary<string, string> _env;

        public AppRecoveryTests()
        {
            string dir = AppContext.BaseDirectory;
            while (!Directory.Exists(Path.Combine(dir, "tests", "tools", "replicated-standin")))
            {
                dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("repository root not found");
            }

            _env = new Dictionary<string, string>
            {
                ["PATH"] = Path.Combine(dir, "tests", "tools", "replicated-standin") + ":" + Environment.GetEnvironmentVariable("PATH"),
                ["REPLICATED_STANDIN_ROOT"] = StandinRoot,
                ["CCIEDR_BOX_ROOT"] = _box,
            };
            Directory.CreateDirectory(Path.Combine(_box, "etc", "default"));
            File.Copy(Data("etc-default-replicated.txt"), DefaultsPath("replicated"));
            File.Copy(Data("etc-default-replicated-operator.txt"), DefaultsPath("replicated-operator"));
        }

        private string StandinRoot => Path.Combine(_box, "var", "lib", "replicated-standin");

        public void Dispose() => Directory.Delete(_box, true);

        private static string Data(string name) => Path.Combine(AppContext.BaseDirectory, "Remote", "Data", name);

        private string DefaultsPath(string name) => Path.Combine(_box, "etc", "default", name);

        private async Task Run(string script)
        {
            using var shell = new LocalShell(null, _env);
            RemoteResult r = await shell.RunAsync(new RemoteCommand(script), CancellationToken.None);
            Assert.True(r.ExitCode == 0, r.Stderr);
        }

        private AppRecoveryRequest Request(string ip, Dictionary<int, int>? ports = null) => new AppRecoveryRequest
        {
            Box = "i-0123456789abcdef0",
            PrivateIpAddress = ip,
            OpenShell = _ => Task.FromResult<IRemoteShell>(new LocalShell(null, _env)),
            Sudo = false,
            AppTimeout = TimeSpan.FromSeconds(60),
            Probe = new AppProbeOptions { ProbeAddress = "127.0.0.1", PortMap = ports ?? new Dictionary<int, int>(), Timeout = TimeSpan.FromSeconds(3) },
            Clock = () => new DateTime(2026, 12, 7, 3, 0, 0, DateTimeKind.Utc),
        };

        [Fact]
        public async Task Fixups_rewrite_both_files_after_a_backup_and_are_idempotent()
        {
            byte[] daemonBefore = File.ReadAllBytes(DefaultsPath("replicated"));
            byte[] operatorBefore = File.ReadAllBytes(DefaultsPath("replicated-operator"));
            var recovery = new AppRecovery();
            var fixups = new List<string>();
            var backups = new List<string>();
            using (var shell = new LocalShell(null, _env))
            {
                await recovery.FixAddressesAsync(shell, Request("10.128.0.50"), fixups, backups, CancellationToken.None);
            }

            Assert.Equal(4, fixups.Count);
            Assert.Contains("/etc/default/replicated-operator: DAEMON_ENDPOINT 10.128.0.11 -> 10.128.0.50", fixups);
            Assert.Equal(new[] { "/etc/default/replicated.ccie-backup-20261207T030000Z", "/etc/default/replicated-operator.ccie-backup-20261207T030000Z" }, backups);
            Assert.Equal(daemonBefore, File.ReadAllBytes(_box + backups[0]));
            Assert.Equal(operatorBefore, File.ReadAllBytes(_box + backups[1]));
            Assert.Equal(ReplicatedDefaults.Rewrite(daemonBefore, ReplicatedDefaultsFile.Replicated, "10.128.0.50", "x").Content, File.ReadAllBytes(DefaultsPath("replicated")));
            Assert.Equal(ReplicatedDefaults.Rewrite(operatorBefore, ReplicatedDefaultsFile.ReplicatedOperator, "10.128.0.50", "x").Content, File.ReadAllBytes(DefaultsPath("replicated-operator")));
            Assert.False(File.Exists(DefaultsPath("replicated") + ".ccie-new"));

            var again = new List<string>();
            var againBackups = new List<string>();
            using (var shell = new LocalShell(null, _env))
            {
                await recovery.FixAddressesAsync(shell, Request("10.128.0.50"), again, againBackups, CancellationToken.None);
            }

            Assert.Empty(again);
            Assert.Empty(againBackups);
            Assert.Equal(4, Directory.GetFiles(Path.Combine(_box, "etc", "default")).Length);
        }

        [Fact]
        public async Task An_unknown_operator_file_changes_neither_file()
        {
            File.WriteAllText(DefaultsPath("replicated-operator"), "PRIVATE_ADDRESS=$(hostname -i)\n");
            byte[] daemonBefore = File.ReadAllBytes(DefaultsPath("replicated"));
            using var shell = new LocalShell(null, _env);
            var e = await Assert.ThrowsAsync<CcieException>(() => new AppRecovery().FixAddressesAsync(shell, Request("10.128.0.50"), new List<string>(), new List<string>(), CancellationToken.None));
            Assert.Equal("ReplicatedDefaultsUnrecognised", e.ErrorId);
            Assert.Equal(daemonBefore, File.ReadAllBytes(DefaultsPath("replicated")));
            Assert.Equal(2, Directory.GetFiles(Path.Combine(_box, "etc", "default")).Length);
        }

        [Fact]
        public async Task Missing_files_are_named_in_the_error()
        {
            File.Delete(DefaultsPath("replicated"));
            using var shell = new LocalShell(null, _env);
            var e = await Assert.ThrowsAsync<CcieException>(() => new AppRecovery().FixAddressesAsync(shell, Request("10.128.0.50"), new List<string>(), new List<string>(), CancellationToken.None));
            Assert.Equal("ReplicatedDefaultsMissing", e.ErrorId);
            Assert.Contains("/etc/sysconfig/replicated", e.Message);
        }

        [Fact]
        public async Task Recovery_fixes_restarts_starts_and_waits_for_the_ports_recording_every_step()
        {
            await using var sim = await SimulatorServer.StartAsync(new SimulatorOptions { ClockMode = ClockMode.Manual });
            string box = sim.Control.SeedCircleCi("us-east-1").ServicesInstanceId;
            await Run("replicated-standin init --major 2 --state stopped --start-seconds 1");
            sim.Control.SetAppStandinRoot(box, StandinRoot);
            JsonObject ports = sim.Control.AppPorts(box);
            Assert.False(ports["open"]!.GetValue<bool>());
            var map = ports["ports"]!.AsObject().ToDictionary(p => int.Parse(p.Key), p => p.Value!.GetValue<int>());

            var timeline = new Timeline();
            AppRecoveryResult result = await new AppRecovery().RunAsync(Request("10.128.0.50", map), timeline, CancellationToken.None);

            Assert.Equal("started", result.App.State);
            Assert.True(result.ServicesRestarted);
            Assert.All(result.Ports, p => Assert.True(p.Open));
            Assert.Equal(
                new[] { "WaitRemoteChannel", "FixReplicatedAddresses", "RestartReplicated", "StartApp", "WaitAppStarted", "WaitAppPorts" },
                timeline.Entries.Select(e => e.Action));
            Assert.All(timeline.Entries, e => Assert.Equal("Succeeded", e.Outcome));
            string restarts = File.ReadAllText(Path.Combine(StandinRoot, "restarts"));
            Assert.Equal(new[] { "replicated", "replicated-ui", "replicated-operator" }, restarts.Trim().Split('\n').Select(l => l.Split(' ')[0]));
            Assert.Contains("PRIVATE_ADDRESS=10.128.0.50", File.ReadAllText(DefaultsPath("replicated")));

            // Same IP again: nothing rewritten, no restart.
            var second = new Timeline();
            AppRecoveryResult again = await new AppRecovery().RunAsync(Request("10.128.0.50", map), second, CancellationToken.None);
            Assert.False(again.ServicesRestarted);
            Assert.Equal("Skipped", second.Entries.Single(e => e.Action == "FixReplicatedAddresses").Outcome);
            Assert.Equal("Skipped", second.Entries.Single(e => e.Action == "RestartReplicated").Outcome);
            Assert.Equal(3, File.ReadAllText(Path.Combine(StandinRoot, "restarts")).Trim().Split('\n').Length);
        }

        [Fact]
        public async Task The_channel_wait_retries_an_agent_not_online_yet_with_progress_and_stops_on_cancel()
        {
            var reporter = new CcieDr.Engine.Tests.Restore.RecordingReporter();
            int calls = 0;
            AppRecoveryRequest request = Request("10.0.1.50");
            request.ChannelTimeout = TimeSpan.FromSeconds(60);
            request.AppTimeout = TimeSpan.FromSeconds(1);   // the steps after the channel end quickly (not what this test is about)
            request.OpenShell = _ => ++calls < 3
                ? throw new CcieException("SsmAgentOffline", CcieErrorCategory.ResourceUnavailable, "the agent of i-0123456789abcdef0 is ConnectionLost")
                : Task.FromResult<IRemoteShell>(new LocalShell(null, _env));
            await Run("replicated-standin init --major 2 --state stopped --start-seconds 1");
            var timeline = new Timeline();

            // Fails later (the app cannot serve within 1 s), but the channel step is what this test is about.
            await Assert.ThrowsAnyAsync<CcieException>(() => new AppRecovery(reporter).RunAsync(request, timeline, CancellationToken.None));

            Assert.Equal(3, calls);
            TimelineEntry channel = timeline.Entries[0];
            Assert.Equal(("WaitRemoteChannel", "Succeeded", "Local localhost"), (channel.Action, channel.Outcome, channel.Detail));
            List<ProgressUpdate> progress = reporter.Progress.Where(p => p.ActivityId == 1303).ToList();
            Assert.Equal(2, progress.Count(p => p.Status.StartsWith("not yet: the agent", StringComparison.Ordinal)));
            Assert.Equal(3, progress.Count(p => p.Status.StartsWith("attempt ", StringComparison.Ordinal)));
            Assert.True(progress[^1].Completed);

            // Never online: Ctrl+C ends the wait at once, and the progress still completes.
            var cancelled = new CcieDr.Engine.Tests.Restore.RecordingReporter();
            request.OpenShell = _ => throw new CcieException("SsmAgentOffline", CcieErrorCategory.ResourceUnavailable, "offline");
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new AppRecovery(cancelled).RunAsync(request, new Timeline(), cts.Token));
            Assert.True(cancelled.Progress.Last(p => p.ActivityId == 1303).Completed);
        }

        [Fact]
        public void The_plan_lists_every_step()
        {
            var plan = new OperationPlan("Restore", "i-0123456789abcdef0");
            AppRecovery.AddPlanSteps(plan, Request("10.0.1.50"));
            Assert.Equal(new[] { "WaitRemoteChannel", "FixReplicatedAddresses", "RestartReplicated", "StartApp", "WaitAppStarted", "WaitAppPorts" }, plan.Steps.Select(s => s.Action));
            Assert.Contains("10.0.1.50", plan.Render());
        }
    }
}
