using System.Runtime.InteropServices;
using CcieDr.Engine.Remote;
using Xunit;

namespace CcieDr.Engine.Tests.Remote
{
    /// <summary>The Replicated client against the stand-in (tests/tools/replicated-standin), over the Local transport.</summary>
    public sealed class ReplicatedClientTests : IDisposable
    {
        private readonly string _root = Directory.CreateTempSubdirectory("ccie-standin-").FullName;
        private readonly Dictionary<string, string> _env;

        public ReplicatedClientTests()
        {
            string dir = AppContext.BaseDirectory;
            while (!Directory.Exists(Path.Combine(dir, "tests", "tools", "replicated-standin")))
            {
                dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("repository root not found");
            }

            string standin = Path.Combine(dir, "tests", "tools", "replicated-standin");
            _env = new Dictionary<string, string>
            {
                ["PATH"] = standin + ":" + Environment.GetEnvironmentVariable("PATH"),
                ["REPLICATED_STANDIN_ROOT"] = _root,
            };
        }

        public void Dispose() => Directory.Delete(_root, true);

        private async Task<string> Standin(string args)
        {
            using var shell = new LocalShell(null, _env);
            RemoteResult r = await shell.RunAsync(new RemoteCommand("replicated-standin " + args), CancellationToken.None);
            Assert.True(r.ExitCode == 0, r.Stderr);
            return r.Stdout;
        }

        private ReplicatedClient Client(out LocalShell shell)
        {
            shell = new LocalShell(null, _env);
            return new ReplicatedClient(shell, sudo: false);
        }

        [Fact]
        public async Task Replicated_2_start_moves_stopped_to_started()
        {
            await Standin("init --major 2 --state stopped --start-seconds 0");
            ReplicatedClient client = Client(out LocalShell shell);
            using (shell)
            {
                ReplicatedApp before = await client.GetAppAsync(CancellationToken.None);
                Assert.Equal("stopped", before.State);
                Assert.Equal(2, before.ReplicatedMajorVersion);
                Assert.Equal("2.53.2", before.ReplicatedVersion);
                Assert.Equal("edd9471be0bc4ea04dfca94718ddf621", before.AppId);
                await client.SetRunningAsync(true, CancellationToken.None);
                ReplicatedApp after = await client.GetAppAsync(CancellationToken.None);
                Assert.Equal("started", after.State);
                Assert.Equal("started", after.DesiredState);
                Assert.False(after.IsTransitioning);
            }
        }

        [Fact]
        public async Task Replicated_2_a_slow_start_is_reported_as_transitioning()
        {
            await Standin("init --major 2 --state stopped --start-seconds 3600");
            ReplicatedClient client = Client(out LocalShell shell);
            using (shell)
            {
                await client.SetRunningAsync(true, CancellationToken.None);
                ReplicatedApp app = await client.GetAppAsync(CancellationToken.None);
                Assert.Equal("starting", app.State);
                Assert.Equal("started", app.DesiredState);
                Assert.True(app.IsTransitioning);
            }
        }

        [Fact]
        public async Task A_failing_start_ends_stopped_with_replicateds_error()
        {
            await Standin("init --major 2 --state stopped --start-seconds 0");
            await Standin("fail-start on");
            ReplicatedClient client = Client(out LocalShell shell);
            using (shell)
            {
                await client.SetRunningAsync(true, CancellationToken.None);
                ReplicatedApp app = await client.GetAppAsync(CancellationToken.None);
                Assert.Equal("stopped", app.State);
                Assert.Contains("failed to start", app.Error);
            }
        }

        [Fact]
        public async Task Replicated_1_is_detected_and_stop_works()
        {
            await Standin("init --major 1 --state started");
            ReplicatedClient client = Client(out LocalShell shell);
            using (shell)
            {
                ReplicatedApp app = await client.GetAppAsync(CancellationToken.None);
                Assert.Equal(1, app.ReplicatedMajorVersion);
                Assert.Equal("1.2.97", app.ReplicatedVersion);
                Assert.Equal("CircleCI Enterprise", app.Name);
                Assert.Equal("started", app.State);
                await client.SetRunningAsync(false, CancellationToken.None);
                string state = await Standin("show");
                Assert.Contains("desired=stopped", state);
            }
        }

        [Fact]
        public async Task Secret_passphrase_is_a_secure_string_with_the_standins_token()
        {
            await Standin("init --token tok-9f8e7d6c5b4a");
            ReplicatedClient client = Client(out LocalShell shell);
            using (shell)
            {
                using var secure = await client.GetSecretPassphraseAsync(CancellationToken.None);
                IntPtr p = Marshal.SecureStringToGlobalAllocUnicode(secure);
                try
                {
                    Assert.Equal("tok-9f8e7d6c5b4a", Marshal.PtrToStringUni(p));
                }
                finally
                {
                    Marshal.ZeroFreeGlobalAllocUnicode(p);
                }
            }
        }

        [Fact]
        public async Task Wait_that_runs_out_shows_the_last_state()
        {
            await Standin("init --major 2 --state stopped --start-seconds 3600");
            ReplicatedClient client = Client(out LocalShell shell);
            using (shell)
            {
                await client.SetRunningAsync(true, CancellationToken.None);
                var reporter = new LocalShellTests.RecordingReporter();
                CcieException e = await Assert.ThrowsAsync<CcieException>(() => client.WaitForStateAsync(true, TimeSpan.FromSeconds(1), reporter, CancellationToken.None));
                Assert.Equal("ReplicatedAppWaitTimedOut", e.ErrorId);
                Assert.Contains("last state: starting, desired started", e.Message);
            }
        }

        [Fact]
        public async Task No_replicated_on_the_box_is_a_clear_error()
        {
            using var shell = new LocalShell(null, new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" });
            var client = new ReplicatedClient(shell, sudo: false);
            CcieException e = await Assert.ThrowsAsync<CcieException>(() => client.GetAppAsync(CancellationToken.None));
            Assert.Equal("ReplicatedNotInstalled", e.ErrorId);
        }
    }
}
