using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Detection;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery.App;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Recovery.Drill
{
    /// <summary>How the drill reaches its box and brings the app up (Test-CcieRecovery's transport parameters).</summary>
    public sealed class AppDrillOptions
    {
        /// <summary>Opens the remote shell to the drill box (called again while the channel is not up yet).</summary>
        public Func<DrillBox, CancellationToken, Task<IRemoteShell>> OpenShell { get; set; } = (_, _) => throw new InvalidOperationException("no shell");

        /// <summary>EC2 for the health verdict's EC2 checks (null: they are Unknown).</summary>
        public Func<IAmazonEC2>? Ec2 { get; set; }

        public bool Sudo { get; set; } = true;

        /// <summary>How long the remote channel may take to come up on the new box (SSM agent Online, sshd).</summary>
        public TimeSpan ChannelTimeout { get; set; } = TimeSpan.FromMinutes(10);

        /// <summary>How long the app may take to be started and serving.</summary>
        public TimeSpan AppTimeout { get; set; } = TimeSpan.FromMinutes(15);

        public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMinutes(2);

        /// <summary>The port probe. Default: from the box itself (an isolated drill box admits nothing from outside).</summary>
        public AppProbeOptions Probe { get; set; } = new AppProbeOptions { From = ProbeFrom.Box };

        /// <summary>Each health check's own limit.</summary>
        public TimeSpan CheckTimeout { get; set; } = TimeSpan.FromSeconds(15);
    }

    /// <summary>
    /// Brings CircleCI up on a drill box and judges it: the post-restore recovery of Recovery/App (remote channel,
    /// Replicated's addresses rewritten to the drill box's new IP, restart, app start, ports served, probed from the
    /// box), then the health verdict of Detection on the drill box. Each step is a timeline entry and a check; a
    /// failed start is a failed check that names what stopped the app (the drill then fails with that reason).
    /// </summary>
    public sealed class AppDrillVerifier : IDrillVerifier
    {
        private readonly AppDrillOptions _options;
        private readonly IOperationReporter _reporter;
        private readonly Func<AppRecoveryRequest, Timeline, CancellationToken, Task<AppRecoveryResult>> _startApp;
        private readonly Func<ServicesBoxHealthRequest, CancellationToken, Task<ServicesBoxHealth>> _health;

        /// <param name="options">Transport and limits.</param>
        /// <param name="reporter">Progress and verbose text.</param>
        /// <param name="startApp">Test seam: the app recovery (default <see cref="AppRecovery.RunAsync"/>).</param>
        /// <param name="health">Test seam: the health verdict (default <see cref="ServicesBoxHealthCheck.RunAsync"/>).</param>
        public AppDrillVerifier(
            AppDrillOptions options,
            IOperationReporter? reporter = null,
            Func<AppRecoveryRequest, Timeline, CancellationToken, Task<AppRecoveryResult>>? startApp = null,
            Func<ServicesBoxHealthRequest, CancellationToken, Task<ServicesBoxHealth>>? health = null)
        {
            _options = options ?? throw new ArgumentNullException(nameof(options));
            _reporter = reporter ?? NullReporter.Instance;
            _startApp = startApp ?? ((r, t, c) => new AppRecovery(_reporter).RunAsync(r, t, c));
            _health = health ?? ((r, c) => new ServicesBoxHealthCheck(_reporter).RunAsync(r, c));
        }

        /// <summary>The steps as the drill's plan (-WhatIf) lists them.</summary>
        public string Description =>
            "wait for its status checks; over the remote shell: rewrite Replicated's addresses to the drill box's IP, restart Replicated, start the app, wait until ports "
            + string.Join(", ", AppPorts.All) + " serve (probed from " + (_options.Probe.From == ProbeFrom.Box ? "the box" : "here") + "); then the health verdict (Test-CcieServicesBox's checks) on the drill box";

        public async Task<IReadOnlyList<RecoveryDrillCheck>> VerifyAsync(DrillBox box, Timeline timeline, CancellationToken ct)
        {
            if (box is null || timeline is null)
            {
                throw new ArgumentNullException(box is null ? nameof(box) : nameof(timeline));
            }

            var checks = new List<RecoveryDrillCheck>();
            var app = new AppRecoveryRequest
            {
                Box = box.InstanceId,
                PrivateIpAddress = box.PrivateIpAddress,
                OpenShell = c => _options.OpenShell(box, c),
                Sudo = _options.Sudo,
                ChannelTimeout = _options.ChannelTimeout,
                AppTimeout = _options.AppTimeout,
                CommandTimeout = _options.CommandTimeout,
                Probe = _options.Probe,
            };

            AppRecoveryResult started;
            try
            {
                started = await _startApp(app, timeline, ct).ConfigureAwait(false);
            }
            catch (CcieException e)
            {
                checks.Add(new RecoveryDrillCheck("app", "Fail", $"CircleCI did not start on the drill box {box.InstanceId}: {e.Message}"));
                return checks;
            }

            string fixups = started.Fixups.Count == 0 ? string.Empty : $"; Replicated's addresses rewritten to {box.PrivateIpAddress} ({started.Fixups.Count} changes)";
            string ports = started.Ports.Count == 0 ? string.Empty : $"; ports {string.Join(", ", started.Ports.Select(p => p.Port))} open from {(_options.Probe.From == ProbeFrom.Box ? "the box" : "here")}";
            checks.Add(new RecoveryDrillCheck("app", "Pass", $"CircleCI {started.App.State} on {box.InstanceId}{ports}{fixups}"));

            var request = new ServicesBoxHealthRequest
            {
                InstanceId = box.InstanceId,
                Ec2 = _options.Ec2,
                Region = box.Region,
                OpenShell = c => _options.OpenShell(box, c),
                Sudo = _options.Sudo,
                Probe = _options.Probe,
                BoxAddress = box.PrivateIpAddress,
                CheckTimeout = _options.CheckTimeout,
            };
            ServicesBoxHealth health = await timeline.RunAsync("HealthVerdict", box.InstanceId, async entry =>
            {
                ServicesBoxHealth h = await _health(request, ct).ConfigureAwait(false);
                timeline.Complete(entry, h.Verdict == "Down" ? "Failed" : "Succeeded", box.InstanceId, h.Verdict + (h.Reasons.Count == 0 ? string.Empty : ": " + string.Join("; ", h.Reasons)));
                return h;
            }).ConfigureAwait(false);
            string status = health.Verdict switch
            {
                "Healthy" => "Pass",
                "Down" => "Fail",
                _ => "Warn",
            };
            checks.Add(new RecoveryDrillCheck("health", status, health.Verdict + (health.Reasons.Count == 0 ? string.Empty : ": " + string.Join("; ", health.Reasons))));
            return checks;
        }
    }
}
