using System.Security;
using System.Threading.Tasks;
using System.Threading;
using System;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Remote
{
    /// <summary>Which Replicated the box runs.</summary>
    public sealed class ReplicatedInstall
    {
        public ReplicatedInstall(int majorVersion, string version)
        {
            MajorVersion = majorVersion;
            Version = version;
        }

        /// <summary>1: the replicated CLI only; 2: replicatedctl.</summary>
        public int MajorVersion { get; }

        public string Version { get; }
    }

    /// <summary>
    /// Replicated on the Services box, over any <see cref="IRemoteShell"/>: detects 1.x or 2.x, reads the app's
    /// state, starts and stops it, and reads the secret passphrase (as a SecureString, never logged).
    /// </summary>
    public sealed class ReplicatedClient
    {
        private const string DetectScript =
            "if command -v replicatedctl >/dev/null 2>&1 && v=$(replicatedctl version 2>&1); then echo 'ccie-replicated 2'; echo \"$v\"; "
            + "elif command -v replicated >/dev/null 2>&1 && v=$(replicated -version 2>&1); then echo 'ccie-replicated 1'; echo \"$v\"; "
            + "else echo 'ccie-replicated none'; fi";

        private readonly IRemoteShell _shell;
        private readonly bool _sudo;
        private readonly TimeSpan _timeout;
        private ReplicatedInstall? _install;

        public ReplicatedClient(IRemoteShell shell, bool sudo = true, TimeSpan? timeout = null)
        {
            _shell = shell ?? throw new ArgumentNullException(nameof(shell));
            _sudo = sudo;
            _timeout = timeout ?? TimeSpan.FromMinutes(2);
        }

        public async Task<ReplicatedInstall> DetectAsync(CancellationToken cancellationToken)
        {
            if (_install is not null)
            {
                return _install;
            }

            RemoteResult r = await RunAsync(DetectScript, false, cancellationToken).ConfigureAwait(false);
            string output = r.Stdout.Replace("\r", string.Empty);
            int newline = output.IndexOf('\n');
            string marker = (newline < 0 ? output : output.Substring(0, newline)).Trim();
            string rest = newline < 0 ? string.Empty : output.Substring(newline + 1);
            switch (marker)
            {
                case "ccie-replicated 2":
                    return _install = new ReplicatedInstall(2, ReplicatedParsers.ParseVersion(rest, "replicatedctl version"));
                case "ccie-replicated 1":
                    return _install = new ReplicatedInstall(1, ReplicatedParsers.ParseVersion(rest, "replicated -version"));
                case "ccie-replicated none":
                    throw new CcieException("ReplicatedNotInstalled", CcieErrorCategory.NotInstalled, $"Neither replicatedctl nor replicated is on the PATH on {_shell.Host}{(_sudo ? " (under sudo)" : string.Empty)}: is this the CircleCI Services box?", _shell.Host);
                default:
                    throw ReplicatedParsers.Unrecognised("replicated detection", r.Stdout + "\n" + r.Stderr, "the detection script did not run as expected");
            }
        }

        /// <summary>The CircleCI app's state.</summary>
        public async Task<ReplicatedApp> GetAppAsync(CancellationToken cancellationToken)
        {
            ReplicatedInstall install = await DetectAsync(cancellationToken).ConfigureAwait(false);
            var app = new ReplicatedApp
            {
                Host = _shell.Host,
                Transport = _shell.Transport.ToString(),
                ReplicatedVersion = install.Version,
                ReplicatedMajorVersion = install.MajorVersion,
            };
            if (install.MajorVersion == 2)
            {
                RemoteResult r = await RunAsync("replicatedctl app status", true, cancellationToken).ConfigureAwait(false);
                ReplicatedStatus s = ReplicatedParsers.ParseCtlStatus(r.Stdout);
                app.AppId = s.AppId;
                app.Sequence = s.Sequence;
                app.State = s.State;
                app.DesiredState = s.DesiredState;
                app.IsTransitioning = s.IsTransitioning;
                app.Error = s.Error;
                app.LastModifiedAt = s.LastModifiedAt;
                return app;
            }

            RemoteResult apps = await RunAsync("replicated apps", true, cancellationToken).ConfigureAwait(false);
            ReplicatedAppRow row = ReplicatedParsers.SelectCircleCiApp(ReplicatedParsers.ParseApps(apps.Stdout));
            RemoteResult status = await RunAsync("replicated app " + RemoteScript.Quote(row.AppId) + " status", true, cancellationToken).ConfigureAwait(false);
            app.AppId = row.AppId;
            app.Name = row.Name;
            app.Sequence = row.Sequence;
            app.State = ReplicatedParsers.ParseAppStatus(status.Stdout);
            app.IsTransitioning = app.State.EndsWith("ing", StringComparison.Ordinal);
            return app;
        }

        /// <summary>Asks Replicated to start (true) or stop (false) the app; returns at once (the state then moves).</summary>
        public async Task SetRunningAsync(bool start, CancellationToken cancellationToken)
        {
            ReplicatedInstall install = await DetectAsync(cancellationToken).ConfigureAwait(false);
            string verb = start ? "start" : "stop";
            if (install.MajorVersion == 2)
            {
                await RunAsync("replicatedctl app " + verb, true, cancellationToken).ConfigureAwait(false);
                return;
            }

            RemoteResult apps = await RunAsync("replicated apps", true, cancellationToken).ConfigureAwait(false);
            ReplicatedAppRow row = ReplicatedParsers.SelectCircleCiApp(ReplicatedParsers.ParseApps(apps.Stdout));
            await RunAsync("replicated app " + RemoteScript.Quote(row.AppId) + " " + verb, true, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Polls (on the shared waiter) until the app is started (or stopped) and no longer transitioning, reporting
        /// each state as progress. A start that Replicated gave up on (stopped again with an error) fails at once;
        /// the timeout error shows the last state. The app's ports are not checked here.
        /// </summary>
        public async Task<ReplicatedApp> WaitForStateAsync(bool started, TimeSpan timeout, IOperationReporter reporter, CancellationToken cancellationToken)
        {
            if (reporter is null)
            {
                throw new ArgumentNullException(nameof(reporter));
            }

            string target = started ? "started" : "stopped";
            string activity = $"Waiting for the CircleCI app on {_shell.Host} to be {target}";
            const int activityId = 1301;
            ReplicatedApp? last = null;
            try
            {
                return await Waiter.UntilAsync<ReplicatedApp>(
                    async ct =>
                    {
                        last = await GetAppAsync(ct).ConfigureAwait(false);
                        reporter.Progress(new ProgressUpdate(activityId, activity, $"{last.State} (desired: {last.DesiredState ?? "?"})"));
                        if (started && last.State == "stopped" && !last.IsTransitioning && last.DesiredState == "stopped" && last.Error is not null)
                        {
                            throw new CcieException("ReplicatedAppFailedToStart", CcieErrorCategory.InvalidOperation, $"Replicated could not start the app on {_shell.Host}: {SecretMask.Apply(last.Error)}. See /var/log/replicated and 'docker ps -a' on the box (Invoke-CcieServicesBoxCommand).", _shell.Host);
                        }

                        return last.State == target && !last.IsTransitioning ? last : null;
                    },
                    WaitOptions.Default(timeout),
                    "the CircleCI app to be " + target,
                    _shell.Host,
                    cancellationToken).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.ErrorId == "WaitTimedOut")
            {
                string seen = last is null ? "never read" : $"{last.State}, desired {last.DesiredState ?? "?"}, transitioning {last.IsTransitioning}{(last.Error is null ? string.Empty : ", error: " + SecretMask.Apply(last.Error))}";
                throw new CcieException("ReplicatedAppWaitTimedOut", CcieErrorCategory.OperationTimeout, $"The CircleCI app on {_shell.Host} was not {target} within {timeout.TotalSeconds:0} s; last state: {seen}. Check the Replicated console on port 8800, or raise -WaitTimeoutSec.", _shell.Host, e);
            }
            finally
            {
                reporter.Progress(new ProgressUpdate(activityId, activity, target, completed: true));
            }
        }

        /// <summary>CIRCLE_SECRET_PASSPHRASE from <c>replicated admin get-secret-token</c> (both 1.x and 2.x ship the replicated CLI's admin commands).</summary>
        public async Task<SecureString> GetSecretPassphraseAsync(CancellationToken cancellationToken)
        {
            await DetectAsync(cancellationToken).ConfigureAwait(false);
            var command = new RemoteCommand("replicated admin get-secret-token") { Sudo = _sudo, Timeout = _timeout, OutputIsSecret = true };
            RemoteResult r = await _shell.RunAsync(command, cancellationToken).ConfigureAwait(false);
            if (r.ExitCode != 0)
            {
                throw new CcieException("ReplicatedCommandFailed", CcieErrorCategory.InvalidOperation, $"'replicated admin get-secret-token' on {_shell.Host} exited with {r.ExitCode} (output withheld: it may hold the secret).", _shell.Host);
            }

            string token = ReplicatedParsers.ParseSecretToken(r.Stdout);
            var secure = new SecureString();
            foreach (char c in token)
            {
                secure.AppendChar(c);
            }

            secure.MakeReadOnly();
            return secure;
        }

        private async Task<RemoteResult> RunAsync(string script, bool mustSucceed, CancellationToken cancellationToken)
        {
            var command = new RemoteCommand(script) { Sudo = _sudo, Timeout = _timeout };
            RemoteResult r = await _shell.RunAsync(command, cancellationToken).ConfigureAwait(false);
            if (mustSucceed && r.ExitCode != 0)
            {
                string why = SecretMask.LastLine(r.Stderr.Length > 0 ? r.Stderr : r.Stdout);
                throw new CcieException("ReplicatedCommandFailed", CcieErrorCategory.InvalidOperation, $"'{RemoteScript.Describe(command)}' on {_shell.Host} exited with {r.ExitCode}: {why}", _shell.Host);
            }

            return r;
        }
    }
}
