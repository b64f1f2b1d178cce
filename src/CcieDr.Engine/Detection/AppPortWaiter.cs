using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Detection
{
    /// <summary>How the app's ports are probed: from here (an address and an optional port map) or from the box (a shell).</summary>
    public sealed class AppPortProbeSpec
    {
        public AppPortProbeSpec(ProbeFrom from, PortProbeTarget target, IRemoteShell? shell = null)
        {
            if (from == ProbeFrom.Box && shell is null)
            {
                throw new ArgumentNullException(nameof(shell), "-From Box needs the remote shell.");
            }

            From = from;
            Target = target ?? throw new ArgumentNullException(nameof(target));
            Shell = shell;
        }

        public ProbeFrom From { get; }

        public PortProbeTarget Target { get; }

        public IRemoteShell? Shell { get; }

        public IReadOnlyList<int> Ports { get; set; } = AppPorts.All;

        /// <summary>"from here (10.0.1.10)" / "from the box (127.0.0.1 there)", for messages.</summary>
        public string Describe() => From == ProbeFrom.Here ? $"from here ({Target.Address})" : $"from the box ({Target.Address} there)";

        public Task<IReadOnlyList<PortProbeResult>> ProbeAsync(CancellationToken cancellationToken) =>
            From == ProbeFrom.Here
                ? PortProbe.ProbeHereAsync(Target, Ports, cancellationToken)
                : PortProbe.ProbeFromBoxAsync(Shell!, Target, Ports, cancellationToken);
    }

    /// <summary>Waits (on the shared waiter) until every app port accepts connections.</summary>
    public static class AppPortWaiter
    {
        /// <summary>
        /// Polls the ports until all are open. The timeout error names the closed ports, where they were probed
        /// from and <paramref name="lastState"/> (the app state last seen), and says what to check.
        /// </summary>
        public static async Task<IReadOnlyList<PortProbeResult>> WaitUntilOpenAsync(AppPortProbeSpec spec, TimeSpan timeout, string box, string? lastState, IOperationReporter reporter, CancellationToken cancellationToken)
        {
            if (spec is null || reporter is null)
            {
                throw new ArgumentNullException(spec is null ? nameof(spec) : nameof(reporter));
            }

            const int activityId = 1302;
            string activity = $"Waiting for the CircleCI app's ports on {box} to accept connections {spec.Describe()}";
            IReadOnlyList<PortProbeResult>? last = null;
            var options = WaitOptions.Default(timeout);
            try
            {
                return await Waiter.UntilAsync(
                    async ct =>
                    {
                        last = await spec.ProbeAsync(ct).ConfigureAwait(false);
                        string closed = PortProbe.ClosedList(last);
                        reporter.Progress(new ProgressUpdate(activityId, activity, closed.Length == 0 ? "all open" : "closed: " + closed));
                        return last;
                    },
                    r => r.All(p => p.Open == true),
                    options,
                    "the CircleCI app's ports to open",
                    box,
                    cancellationToken).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.ErrorId == "WaitTimedOut")
            {
                string closed = last is null ? string.Join(", ", spec.Ports) : PortProbe.ClosedList(last);
                string details = last is null ? "never probed" : string.Join("; ", last.Where(p => p.Open != true).Select(p => p.ToString()));
                throw new CcieException(
                    "AppPortsWaitTimedOut",
                    CcieErrorCategory.OperationTimeout,
                    $"The CircleCI app on {box} is {lastState ?? "in an unknown state"}, but ports {closed} did not accept connections {spec.Describe()} within {timeout.TotalSeconds:0} s ({details}). Check the containers on the box (Invoke-CcieServicesBoxCommand -Command 'docker ps -a'), the security group and the host firewall, or raise -WaitTimeoutSec.",
                    box,
                    e);
            }
            finally
            {
                reporter.Progress(new ProgressUpdate(activityId, activity, "done", completed: true));
            }
        }
    }
}
