using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Detection;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Recovery.App
{
    /// <summary>What the post-restore (or post-failover) recovery of the app works on.</summary>
    public sealed class AppRecoveryRequest
    {
        /// <summary>The box (instance id) for messages, plan and timeline.</summary>
        public string Box { get; set; } = string.Empty;

        /// <summary>The box's private IP now. Replicated's files are rewritten when they name another address.</summary>
        public string? PrivateIpAddress { get; set; }

        /// <summary>Opens the remote shell (called again while the channel is not up yet).</summary>
        public Func<CancellationToken, Task<IRemoteShell>> OpenShell { get; set; } = _ => throw new InvalidOperationException("no shell");

        /// <summary>Run Replicated's commands and the file edits under sudo -n.</summary>
        public bool Sudo { get; set; } = true;

        /// <summary>How long the remote channel may take to come up (SSM agent online, sshd accepting).</summary>
        public TimeSpan ChannelTimeout { get; set; } = TimeSpan.FromMinutes(10);

        /// <summary>How long the app may take to be started and serving (state and ports together).</summary>
        public TimeSpan AppTimeout { get; set; } = TimeSpan.FromMinutes(15);

        /// <summary>Each command's own timeout on the box.</summary>
        public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMinutes(2);

        /// <summary>How the app's ports are probed once it is started.</summary>
        public AppProbeOptions Probe { get; set; } = new AppProbeOptions();

        /// <summary>For backup file names (test hook).</summary>
        public Func<DateTime> Clock { get; set; } = () => DateTime.UtcNow;
    }

    /// <summary>What the recovery found and did.</summary>
    public sealed class AppRecoveryResult
    {
        public AppRecoveryResult(ReplicatedApp app, IReadOnlyList<string> fixups, IReadOnlyList<string> backups, bool servicesRestarted, IReadOnlyList<PortProbeResult> ports)
        {
            App = app;
            Fixups = fixups;
            Backups = backups;
            ServicesRestarted = servicesRestarted;
            Ports = ports;
        }

        public ReplicatedApp App { get; }

        /// <summary>"/etc/default/replicated: PRIVATE_ADDRESS 10.0.1.10 -> 10.0.1.50", one per address rewritten.</summary>
        public IReadOnlyList<string> Fixups { get; }

        /// <summary>Backups made before a file was rewritten.</summary>
        public IReadOnlyList<string> Backups { get; }

        public bool ServicesRestarted { get; }

        public IReadOnlyList<PortProbeResult> Ports { get; }
    }

    /// <summary>
    /// The building block that finishes a restore or a failover on the box: wait until the remote channel is up,
    /// rewrite Replicated's addresses when the private IP changed (backing the files up first), restart the
    /// Replicated services, start the app and wait until it serves (state, then ports). Every step is a plan step
    /// (-WhatIf) and a timeline entry.
    /// </summary>
    public sealed class AppRecovery
    {
        /// <summary>Replicated's services, restarted after a fix-up (Replicated's guide restarts replicated and replicated-operator; replicated-ui reads /etc/default/replicated too).</summary>
        public const string RestartScript =
            "if command -v systemctl >/dev/null 2>&1 && systemctl cat replicated.service >/dev/null 2>&1; then systemctl restart replicated replicated-ui replicated-operator; "
            + "elif command -v service >/dev/null 2>&1; then for s in replicated replicated-ui replicated-operator; do service \"$s\" restart || exit $?; done; "
            + "else echo 'neither systemctl (with a replicated unit) nor service is on the box' >&2; exit 3; fi";

        private readonly IOperationReporter _reporter;

        public AppRecovery(IOperationReporter? reporter = null)
        {
            _reporter = reporter ?? NullReporter.Instance;
        }

        /// <summary>Adds the recovery's steps to a plan (what -WhatIf shows).</summary>
        public static void AddPlanSteps(OperationPlan plan, AppRecoveryRequest request)
        {
            if (plan is null || request is null)
            {
                throw new ArgumentNullException(plan is null ? nameof(plan) : nameof(request));
            }

            string ip = request.PrivateIpAddress ?? "the box's private IP";
            plan.Add("WaitRemoteChannel", $"wait up to {request.ChannelTimeout.TotalMinutes:0} min until the remote shell reaches {request.Box}", request.Box);
            plan.Add("FixReplicatedAddresses", $"if /etc/default/replicated and /etc/default/replicated-operator name another address than {ip}: back them up (<file>.ccie-backup-<time>) and set PRIVATE_ADDRESS, DAEMON_ENDPOINT, DAEMON_HOST and -e LOCAL_ADDRESS/PRIVATE_ADDRESS to {ip}; every other byte unchanged", request.Box);
            plan.Add("RestartReplicated", "only after a fix-up: systemctl restart replicated replicated-ui replicated-operator", request.Box);
            plan.Add("StartApp", "replicatedctl app start (Replicated 2.x) or replicated app <id> start (1.x)", request.Box);
            plan.Add("WaitAppStarted", $"wait until Replicated reports the app started (up to {request.AppTimeout.TotalMinutes:0} min with the ports)", request.Box);
            plan.Add("WaitAppPorts", $"wait until ports {string.Join(", ", AppPorts.All)} accept connections from {request.Probe.DescribeOrigin(request.PrivateIpAddress)}", request.Box);
        }

        /// <summary>Carries the steps out, recording each into <paramref name="timeline"/>.</summary>
        public async Task<AppRecoveryResult> RunAsync(AppRecoveryRequest request, Timeline timeline, CancellationToken ct)
        {
            if (request is null || timeline is null)
            {
                throw new ArgumentNullException(request is null ? nameof(request) : nameof(timeline));
            }

            IRemoteShell shell = await timeline.RunAsync("WaitRemoteChannel", request.Box, async entry =>
            {
                IRemoteShell s = await WaitForChannelAsync(request, ct).ConfigureAwait(false);
                timeline.Complete(entry, "Succeeded", request.Box, $"{s.Transport} {s.Host}");
                return s;
            }).ConfigureAwait(false);

            using (shell)
            {
                var fixups = new List<string>();
                var backups = new List<string>();
                bool changed = await timeline.RunAsync("FixReplicatedAddresses", request.Box, async entry =>
                {
                    if (string.IsNullOrEmpty(request.PrivateIpAddress))
                    {
                        timeline.Complete(entry, "Skipped", request.Box, "the box's private IP is not known");
                        return false;
                    }

                    await FixAddressesAsync(shell, request, fixups, backups, ct).ConfigureAwait(false);
                    timeline.Complete(entry, fixups.Count == 0 ? "Skipped" : "Succeeded", request.Box, fixups.Count == 0 ? $"already {request.PrivateIpAddress}" : string.Join("; ", fixups));
                    return fixups.Count > 0;
                }).ConfigureAwait(false);

                await timeline.RunAsync("RestartReplicated", request.Box, async entry =>
                {
                    if (!changed)
                    {
                        timeline.Complete(entry, "Skipped", request.Box, "no address changed");
                        return;
                    }

                    RemoteResult r = await shell.RunAsync(new RemoteCommand(RestartScript) { Sudo = request.Sudo, Timeout = request.CommandTimeout }, ct).ConfigureAwait(false);
                    if (r.ExitCode != 0)
                    {
                        throw new CcieException("ReplicatedRestartFailed", CcieErrorCategory.InvalidOperation, $"Restarting the Replicated services on {shell.Host} failed (exit {r.ExitCode}): {SecretMask.LastLine(r.Stderr.Length > 0 ? r.Stderr : r.Stdout)}. The addresses were rewritten (backups: {string.Join(", ", backups)}); restart replicated, replicated-ui and replicated-operator by hand, then Start-CcieApp -Wait.", request.Box);
                    }

                    timeline.Complete(entry, "Succeeded", request.Box, "replicated replicated-ui replicated-operator");
                }).ConfigureAwait(false);

                var client = new ReplicatedClient(shell, request.Sudo, request.CommandTimeout);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                await timeline.RunAsync("StartApp", request.Box, async entry =>
                {
                    // Right after a restart the daemon may not answer yet: retry the request on the shared waiter.
                    await Waiter.UntilAsync(
                        async c =>
                        {
                            await client.SetRunningAsync(true, c).ConfigureAwait(false);
                            return true;
                        },
                        ok => ok,
                        WaitOptions.Default(Remaining(request.AppTimeout, clock)),
                        "Replicated to accept the start request",
                        request.Box,
                        ct,
                        notYet: e => e is CcieException ce && ce.ErrorId == "ReplicatedCommandFailed").ConfigureAwait(false);
                    timeline.Complete(entry, "Succeeded", request.Box);
                }).ConfigureAwait(false);

                ReplicatedApp app = await timeline.RunAsync("WaitAppStarted", request.Box, async entry =>
                {
                    ReplicatedApp started = await client.WaitForStateAsync(true, Remaining(request.AppTimeout, clock), _reporter, ct).ConfigureAwait(false);
                    timeline.Complete(entry, "Succeeded", request.Box, started.State);
                    return started;
                }).ConfigureAwait(false);

                IReadOnlyList<PortProbeResult> ports = await timeline.RunAsync("WaitAppPorts", request.Box, async entry =>
                {
                    AppPortProbeSpec spec = request.Probe.Resolve(shell, shell.Transport == RemoteTransport.Local ? null : request.PrivateIpAddress ?? shell.Host, request.Box);
                    IReadOnlyList<PortProbeResult> open = await AppPortWaiter.WaitUntilOpenAsync(spec, Remaining(request.AppTimeout, clock), request.Box, app.State, _reporter, ct).ConfigureAwait(false);
                    timeline.Complete(entry, "Succeeded", request.Box, $"{string.Join(", ", open.Select(p => p.Port))} open {spec.Describe()}");
                    return open;
                }).ConfigureAwait(false);

                return new AppRecoveryResult(app, fixups, backups, changed, ports);
            }
        }

        /// <summary>
        /// Only the address fix-up, as the failover's re-address step does it before the app starts: wait until the remote
        /// shell reaches the box, rewrite Replicated's addresses to <see cref="AppRecoveryRequest.PrivateIpAddress"/> (backups
        /// first) and, when a file changed, restart the Replicated services. Returns the changes made (empty: the files already named that address).
        /// </summary>
        public async Task<IReadOnlyList<string>> FixAddressesAndRestartAsync(AppRecoveryRequest request, CancellationToken ct)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            using IRemoteShell shell = await WaitForChannelAsync(request, ct).ConfigureAwait(false);
            var fixups = new List<string>();
            var backups = new List<string>();
            await FixAddressesAsync(shell, request, fixups, backups, ct).ConfigureAwait(false);
            if (fixups.Count > 0)
            {
                RemoteResult r = await shell.RunAsync(new RemoteCommand(RestartScript) { Sudo = request.Sudo, Timeout = request.CommandTimeout }, ct).ConfigureAwait(false);
                if (r.ExitCode != 0)
                {
                    throw new CcieException("ReplicatedRestartFailed", CcieErrorCategory.InvalidOperation, $"Restarting the Replicated services on {shell.Host} failed (exit {r.ExitCode}): {SecretMask.LastLine(r.Stderr.Length > 0 ? r.Stderr : r.Stdout)}. The addresses were rewritten (backups: {string.Join(", ", backups)}); restart replicated, replicated-ui and replicated-operator by hand.", request.Box);
                }
            }

            return fixups;
        }

        /// <summary>Reads both files, rewrites them in memory (all or nothing), then backs up and writes those that change.</summary>
        public async Task FixAddressesAsync(IRemoteShell shell, AppRecoveryRequest request, IList<string> fixups, IList<string> backups, CancellationToken ct)
        {
            if (shell is null || request is null || fixups is null || backups is null)
            {
                throw new ArgumentNullException(nameof(shell));
            }

            string ip = request.PrivateIpAddress ?? throw new ArgumentException("PrivateIpAddress is required.", nameof(request));
            var rewrites = new List<(string Path, ReplicatedDefaultsRewrite Rewrite)>();
            foreach (ReplicatedDefaultsFile file in new[] { ReplicatedDefaultsFile.Replicated, ReplicatedDefaultsFile.ReplicatedOperator })
            {
                (string path, byte[] content) = await ReadAsync(shell, file, request, ct).ConfigureAwait(false);
                rewrites.Add((path, ReplicatedDefaults.Rewrite(content, file, ip, path)));
            }

            string stamp = request.Clock().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            foreach ((string path, ReplicatedDefaultsRewrite rewrite) in rewrites.Where(r => r.Rewrite.Changed))
            {
                string backup = path + ".ccie-backup-" + stamp;
                await WriteAsync(shell, path, backup, rewrite.Content, request, ct).ConfigureAwait(false);
                backups.Add(backup);
                foreach (string change in rewrite.Changes)
                {
                    fixups.Add(path + ": " + change);
                }

                _reporter.Verbose($"Rewrote {path} on {shell.Host} ({string.Join("; ", rewrite.Changes)}); the old file is {backup}.");
            }
        }

        private static async Task<(string Path, byte[] Content)> ReadAsync(IRemoteShell shell, ReplicatedDefaultsFile file, AppRecoveryRequest request, CancellationToken ct)
        {
            string name = ReplicatedDefaults.FileName(file);
            string script =
                "r=${CCIEDR_BOX_ROOT:-}; for d in /etc/default /etc/sysconfig; do "
                + "if [ -f \"$r$d/" + name + "\" ]; then echo \"ccie-path $d/" + name + "\"; base64 < \"$r$d/" + name + "\" | tr -d '\\n'; echo; exit 0; fi; done; echo ccie-missing";
            RemoteResult r = await shell.RunAsync(new RemoteCommand(script) { Sudo = request.Sudo, Timeout = request.CommandTimeout }, ct).ConfigureAwait(false);
            string[] lines = r.Stdout.Replace("\r", string.Empty).Split('\n');
            if (r.ExitCode == 0 && lines.Length > 0 && lines[0].Trim() == "ccie-missing")
            {
                throw new CcieException("ReplicatedDefaultsMissing", CcieErrorCategory.ObjectNotFound, $"Neither /etc/default/{name} nor /etc/sysconfig/{name} exists on {shell.Host}: is Replicated installed on this box? Nothing was changed.", request.Box);
            }

            if (r.ExitCode != 0 || lines.Length < 2 || !lines[0].StartsWith("ccie-path ", StringComparison.Ordinal))
            {
                throw new CcieException("ReplicatedDefaultsUnreadable", CcieErrorCategory.ReadError, $"Could not read /etc/default/{name} on {shell.Host} (exit {r.ExitCode}): {SecretMask.LastLine(r.Stderr.Length > 0 ? r.Stderr : r.Stdout)}. Nothing was changed.", request.Box);
            }

            try
            {
                return (lines[0].Substring("ccie-path ".Length).Trim(), Convert.FromBase64String(lines[1].Trim()));
            }
            catch (FormatException e)
            {
                throw new CcieException("ReplicatedDefaultsUnreadable", CcieErrorCategory.ReadError, $"Reading /etc/default/{name} on {shell.Host} returned no base64 ({e.Message}). Nothing was changed.", request.Box, e);
            }
        }

        private static async Task WriteAsync(IRemoteShell shell, string path, string backup, byte[] content, AppRecoveryRequest request, CancellationToken ct)
        {
            // Back up with mode and owner (cp -p), write the new bytes into a copy that keeps them, then rename over.
            string script =
                "set -e; r=${CCIEDR_BOX_ROOT:-}; f=\"$r\"" + RemoteScript.Quote(path) + "; b=\"$r\"" + RemoteScript.Quote(backup) + "; "
                + "cp -p \"$f\" \"$b\"; cp -p \"$f\" \"$f.ccie-new\"; printf '%s' " + RemoteScript.Quote(Convert.ToBase64String(content)) + " | base64 -d > \"$f.ccie-new\"; mv -f \"$f.ccie-new\" \"$f\"";
            RemoteResult r = await shell.RunAsync(new RemoteCommand(script) { Sudo = request.Sudo, Timeout = request.CommandTimeout }, ct).ConfigureAwait(false);
            if (r.ExitCode != 0)
            {
                throw new CcieException("ReplicatedDefaultsWriteFailed", CcieErrorCategory.WriteError, $"Could not rewrite {path} on {shell.Host} (exit {r.ExitCode}): {SecretMask.LastLine(r.Stderr.Length > 0 ? r.Stderr : r.Stdout)}. The file is either unchanged or complete (the new content is renamed over it); a backup may be at {backup}.", request.Box);
            }
        }

        private async Task<IRemoteShell> WaitForChannelAsync(AppRecoveryRequest request, CancellationToken ct)
        {
            const int activityId = 1303;
            string activity = $"Waiting for the remote shell to reach {request.Box}";
            int attempt = 0;
            try
            {
                return await Waiter.UntilAsync<IRemoteShell>(
                    async c =>
                    {
                        IRemoteShell? shell = null;
                        attempt++;
                        _reporter.Progress(new ProgressUpdate(activityId, activity, $"attempt {attempt}: opening the remote shell (SSM agent online, or sshd accepting)"));
                        try
                        {
                            shell = await request.OpenShell(c).ConfigureAwait(false);
                            RemoteResult r = await shell.RunAsync(new RemoteCommand("true") { Timeout = TimeSpan.FromSeconds(30) }, c).ConfigureAwait(false);
                            if (r.ExitCode == 0)
                            {
                                IRemoteShell up = shell;
                                shell = null;
                                return up;
                            }

                            _reporter.Progress(new ProgressUpdate(activityId, activity, $"not yet: 'true' on {shell.Host} exited with {r.ExitCode}"));
                            return null;
                        }
                        catch (CcieException e) when (!c.IsCancellationRequested && e.Category is CcieErrorCategory.ConnectionError or CcieErrorCategory.ResourceUnavailable or CcieErrorCategory.OperationTimeout)
                        {
                            _reporter.Progress(new ProgressUpdate(activityId, activity, "not yet: " + e.Message));
                            return null;
                        }
                        finally
                        {
                            shell?.Dispose();
                        }
                    },
                    WaitOptions.Default(request.ChannelTimeout),
                    "the remote shell to reach " + request.Box,
                    request.Box,
                    ct).ConfigureAwait(false);
            }
            finally
            {
                _reporter.Progress(new ProgressUpdate(activityId, activity, "done", completed: true));
            }
        }

        private static TimeSpan Remaining(TimeSpan total, System.Diagnostics.Stopwatch clock)
        {
            TimeSpan left = total - clock.Elapsed;
            return left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1);
        }
    }
}
