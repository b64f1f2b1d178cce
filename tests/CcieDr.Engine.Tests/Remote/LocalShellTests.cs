using System.Diagnostics;
using CcieDr.Engine.Remote;
using Xunit;

namespace CcieDr.Engine.Tests.Remote
{
    public sealed class LocalShellTests : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("ccie-local-").FullName;

        public void Dispose() => Directory.Delete(_dir, true);

        private static int RunQuiet(string script)
        {
            using var p = Process.Start(new ProcessStartInfo("/bin/sh", new[] { "-c", script + " 2>/dev/null" }))!;
            p.WaitForExit();
            return p.ExitCode;
        }

        private int ReadPid(string file)
        {
            string path = Path.Combine(_dir, file);
            for (int i = 0; i < 500 && (!File.Exists(path) || File.ReadAllText(path).Trim().Length == 0); i++)
            {
                Thread.Sleep(20);
            }

            return int.Parse(File.ReadAllText(path).Trim());
        }

        [Fact]
        public async Task Exit_code_stdout_and_stderr_come_back_as_a_result()
        {
            using var shell = new LocalShell();
            RemoteResult r = await shell.RunAsync(new RemoteCommand("echo out; echo 'it''s' ; echo err >&2; exit 7"), CancellationToken.None);
            Assert.Equal(7, r.ExitCode);
            Assert.Equal("out\nits\n", r.Stdout);
            Assert.Equal("err\n", r.Stderr);
            Assert.False(r.Truncated);
            Assert.Equal(RemoteTransport.Local, r.Transport);
        }

        [Fact]
        public async Task Quotes_and_dollars_reach_the_shell_intact()
        {
            using var shell = new LocalShell();
            RemoteResult r = await shell.RunAsync(new RemoteCommand("x='a \"b\" $c \\ d'; printf '%s' \"$x\""), CancellationToken.None);
            Assert.Equal("a \"b\" $c \\ d", r.Stdout);
        }

        [Fact]
        public async Task Sudo_as_root_runs_without_sudo_and_as_root()
        {
            using var shell = new LocalShell();
            RemoteResult r = await shell.RunAsync(new RemoteCommand("id -u") { Sudo = true }, CancellationToken.None);
            if (Environment.UserName == "root")
            {
                Assert.Equal("0\n", r.Stdout);
            }
            else
            {
                Assert.True(r.ExitCode != 0 || r.Stdout == "0\n", "sudo -n either runs it as root or refuses; it never prompts");
            }
        }

        [Fact]
        public async Task Timeout_kills_the_whole_process_group_and_says_so()
        {
            using var shell = new LocalShell();
            string pidFile = Path.Combine(_dir, "child.pid");
            var command = new RemoteCommand($"sleep 300 & echo $! > '{pidFile}'; wait") { Timeout = TimeSpan.FromSeconds(1) };
            CcieException e = await Assert.ThrowsAsync<CcieException>(() => shell.RunAsync(command, CancellationToken.None));
            Assert.Equal("RemoteCommandTimedOut", e.ErrorId);
            int child = ReadPid("child.pid");
            Assert.True(WaitGone(child), $"background child {child} still runs after the timeout");
        }

        [Fact]
        public async Task Cancellation_kills_the_command_and_its_children()
        {
            using var shell = new LocalShell();
            string pidFile = Path.Combine(_dir, "c.pid");
            using var cts = new CancellationTokenSource();
            Task<RemoteResult> run = shell.RunAsync(new RemoteCommand($"sleep 300 & echo $! > '{pidFile}'; wait"), cts.Token);
            int child = ReadPid("c.pid");
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
            Assert.True(WaitGone(child), $"child {child} still runs after cancellation");
        }

        [Fact]
        public async Task Output_beyond_the_limit_is_cut_and_flagged()
        {
            using var shell = new LocalShell();
            RemoteResult r = await shell.RunAsync(new RemoteCommand("i=0; while [ $i -lt 200 ]; do echo 0123456789; i=$((i+1)); done") { MaxOutputChars = 100 }, CancellationToken.None);
            Assert.Equal(0, r.ExitCode);
            Assert.Equal(100, r.Stdout.Length);
            Assert.True(r.Truncated);
        }

        [Fact]
        public async Task Each_command_is_logged_without_its_secrets()
        {
            var reporter = new RecordingReporter();
            using var shell = new LocalShell(reporter);
            await shell.RunAsync(new RemoteCommand("echo hunter2-xyz; export API_TOKEN=abc123") { Secrets = new[] { "hunter2-xyz" } }, CancellationToken.None);
            string line = Assert.Single(reporter.Lines);
            Assert.DoesNotContain("hunter2-xyz", line);
            Assert.DoesNotContain("abc123", line);
            Assert.Contains("Local localhost", line);
        }

        private static bool WaitGone(int pid)
        {
            for (int i = 0; i < 250; i++)
            {
                if (RunQuiet("kill -0 " + pid) != 0)
                {
                    return true;
                }

                Thread.Sleep(20);
            }

            return false;
        }

        internal sealed class RecordingReporter : CcieDr.Engine.Operations.IOperationReporter
        {
            public List<string> Lines { get; } = new();

            public void Progress(CcieDr.Engine.Operations.ProgressUpdate update)
            {
            }

            public void Verbose(string message) => Lines.Add(message);

            public void Warning(string message) => Lines.Add("WARNING: " + message);
        }
    }
}
