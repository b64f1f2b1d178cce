using System;
using System.Collections.Generic;
using System.Linq;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Builders;
using CcieDr.Engine.Detection;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery.App;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Failover
{
    /// <summary>What the real hooks need: AWS, how to reach a box, how to probe its ports, and whether to touch the builders.</summary>
    public sealed class EngineFailoverHookOptions
    {
        /// <summary>A new EC2 client (the health check disposes each one it makes).</summary>
        public Func<IAmazonEC2> Ec2 { get; set; } = () => throw new InvalidOperationException("no EC2 client");

        public string Region { get; set; } = string.Empty;

        /// <summary>Opens the remote shell to a box (SSM by default when its agent is Online).</summary>
        public Func<FailoverBox, CancellationToken, Task<IRemoteShell>> OpenShell { get; set; } = (_, _) => throw new InvalidOperationException("no shell");

        public bool Sudo { get; set; } = true;

        /// <summary>How the new box's (the replica's) app ports are probed: after the start and in the verdict.</summary>
        public AppProbeOptions Probe { get; set; } = new AppProbeOptions();

        /// <summary>How the old primary's ports are probed for the decision (default: from here at its own IP, no override).</summary>
        public AppProbeOptions? PrimaryProbe { get; set; }

        /// <summary>Each health check's own limit (an EC2 call, reaching the box, a command on it).</summary>
        public TimeSpan CheckTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>Each command's own limit on the box.</summary>
        public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMinutes(2);

        /// <summary>Mode 3: point the builders' launch template (or configuration) at the new IP (false: return the command).</summary>
        public bool ReconfigureBuilders { get; set; } = true;

        /// <summary>The builder group; null: the one group whose user data sets SERVICES_PRIVATE_IP.</summary>
        public string? AutoScalingGroupName { get; set; }

        /// <summary>The builder groups' API (Auto Scaling); null leaves the builders to the operator.</summary>
        public Func<IBuilderGroupApi>? BuilderGroups { get; set; }
    }

    /// <summary>
    /// The failover's hooks wired to the engines: the decision and the final verdict are Test-CcieServicesBox's
    /// (<see cref="ServicesBoxHealthCheck"/>); the app starts through the post-restore building block
    /// (<see cref="AppRecovery"/>, as Restore-CcieServicesBox -StartApp: channel, address fix-up, start, ports);
    /// mode 3 rewrites /etc/default/replicated* to the replica's IP and points the builders at it through the
    /// builder engine (<see cref="BuilderConfigurator"/>: a new launch template version with SERVICES_PRIVATE_IP).
    /// </summary>
    public sealed class EngineFailoverHooks : IFailoverHooks, IFailoverTimelineSink
    {
        private readonly EngineFailoverHookOptions _options;
        private readonly IOperationReporter _reporter;
        private Timeline? _timeline;
        private FailoverBox? _replica;

        public EngineFailoverHooks(EngineFailoverHookOptions options, IOperationReporter? reporter = null)
        {
            _options = options ?? throw new ArgumentNullException(nameof(options));
            _reporter = reporter ?? NullReporter.Instance;
        }

        /// <summary>The builder group changed by the last reconfiguration (for the rotation left to the operator).</summary>
        public string? BuilderGroupName { get; private set; }

        public void Attach(Timeline timeline) => _timeline = timeline;

        public async Task<BoxVerdict> CheckHealthAsync(FailoverBox box, CancellationToken ct)
        {
            if (box is null)
            {
                throw new ArgumentNullException(nameof(box));
            }

            Remember(box);
            var request = new ServicesBoxHealthRequest
            {
                InstanceId = box.InstanceId,
                Ec2 = _options.Ec2,
                Region = _options.Region,
                OpenShell = c => _options.OpenShell(box, c),
                Sudo = _options.Sudo,
                Probe = box.Role == FailoverBoxRole.Primary ? _options.PrimaryProbe ?? new AppProbeOptions { From = _options.Probe.From, Timeout = _options.Probe.Timeout, Endpoint = _options.Probe.Endpoint } : _options.Probe,
                BoxAddress = box.PrivateIpAddress,
                CheckTimeout = _options.CheckTimeout,
            };
            ServicesBoxHealth health = await new ServicesBoxHealthCheck(_reporter).RunAsync(request, ct).ConfigureAwait(false);
            return Verdict(health);
        }

        /// <summary>
        /// The failover's reading of a health verdict. Healthy (it serves) when EC2 runs the box with both status checks
        /// passing and the app was seen serving (Replicated says started, or every port open) with nothing Down, even
        /// when a capacity check warns or fails: such a box serves the builders and is no case for a failover (and a
        /// new box in that state has taken over). Unknown when nothing failed but the app or EC2 could not be
        /// confirmed; otherwise the verdict as Test-CcieServicesBox gives it (Down, Degraded).
        /// </summary>
        public static BoxVerdict Verdict(ServicesBoxHealth health)
        {
            if (health is null)
            {
                throw new ArgumentNullException(nameof(health));
            }

            IReadOnlyList<ServicesBoxCheck> c = health.Checks;
            bool Passed(string name) => c.Any(x => x.Name == name && x.Status == ServicesBoxHealthCheck.Pass);
            bool ec2 = Passed("Ec2State") && Passed("SystemStatus") && Passed("InstanceStatus");
            List<ServicesBoxCheck> ports = c.Where(x => x.Name.StartsWith("Port", StringComparison.Ordinal)).ToList();
            bool portsOpen = ports.Count > 0 && ports.All(x => x.Status is ServicesBoxHealthCheck.Pass or ServicesBoxHealthCheck.Warn);
            bool serving = Passed("AppState") || portsOpen;
            string reason = health.Reasons.Count == 0 ? "every check passed" : string.Join("; ", health.Reasons);
            if (health.Verdict == "Healthy")
            {
                return new BoxVerdict(true, "Healthy", reason);
            }

            if (health.Verdict != "Down" && ec2 && serving)
            {
                return new BoxVerdict(true, health.Verdict, "it serves (EC2 ok, app seen serving); " + reason);
            }

            if (health.Verdict != "Down" && !c.Any(x => x.Status == ServicesBoxHealthCheck.Fail))
            {
                return new BoxVerdict(false, "Unknown", reason);
            }

            return new BoxVerdict(false, health.Verdict, reason);
        }

        public async Task<RemoteResult> RunAsync(FailoverBox box, string script, TimeSpan timeout, CancellationToken ct)
        {
            Remember(box);
            using IRemoteShell shell = await _options.OpenShell(box, ct).ConfigureAwait(false);
            return await shell.RunAsync(new RemoteCommand(script) { Sudo = _options.Sudo, Timeout = timeout }, ct).ConfigureAwait(false);
        }

        public async Task SetAppRunningAsync(FailoverBox box, bool running, TimeSpan timeout, CancellationToken ct)
        {
            if (box is null)
            {
                throw new ArgumentNullException(nameof(box));
            }

            Remember(box);
            if (!running)
            {
                // A planned switchover's stop on the primary.
                using IRemoteShell shell = await _options.OpenShell(box, ct).ConfigureAwait(false);
                var client = new ReplicatedClient(shell, _options.Sudo, _options.CommandTimeout);
                await client.SetRunningAsync(false, ct).ConfigureAwait(false);
                await client.WaitForStateAsync(false, timeout, _reporter, ct).ConfigureAwait(false);
                return;
            }

            // The new box: the building block of Restore-CcieServicesBox -StartApp, its sub-steps in the failover's timeline.
            AppRecoveryResult result = await new AppRecovery(_reporter).RunAsync(AppRequest(box, timeout), _timeline ?? new Timeline(), ct).ConfigureAwait(false);
            _reporter.Verbose($"{box.InstanceId}: app {result.App.State}, ports {string.Join(", ", result.Ports.Select(p => p.Port))} open{(result.Fixups.Count == 0 ? string.Empty : "; " + string.Join("; ", result.Fixups))}.");
        }

        public async Task<string?> ApplyIpChangeFixupsAsync(FailoverBox box, string oldIp, string newIp, CancellationToken ct)
        {
            if (box is null)
            {
                throw new ArgumentNullException(nameof(box));
            }

            Remember(box);
            AppRecoveryRequest request = AppRequest(box, TimeSpan.FromMinutes(10));
            request.PrivateIpAddress = newIp;
            IReadOnlyList<string> changed = await new AppRecovery(_reporter).FixAddressesAndRestartAsync(request, ct).ConfigureAwait(false);
            _reporter.Verbose(changed.Count == 0 ? $"{box.InstanceId}: /etc/default/replicated* already name {newIp}." : $"{box.InstanceId}: {string.Join("; ", changed)}; Replicated restarted.");
            return null;
        }

        public async Task<string?> ReconfigureBuildersAsync(string oldIp, string newIp, CancellationToken ct)
        {
            if (!_options.ReconfigureBuilders || _options.BuilderGroups is null)
            {
                return FailoverCommands.Builders(newIp);
            }

            // The passphrase the builders need is the new box's (a replica made from the primary's image has the same).
            SecureString? passphrase = null;
            if (_replica is { } replica)
            {
                using IRemoteShell shell = await _options.OpenShell(replica, ct).ConfigureAwait(false);
                passphrase = await new ReplicatedClient(shell, _options.Sudo, _options.CommandTimeout).GetSecretPassphraseAsync(ct).ConfigureAwait(false);
            }

            using (passphrase)
            using (IAmazonEC2 ec2 = _options.Ec2())
            {
                IBuilderGroupApi groups = _options.BuilderGroups();
                try
                {
                    var configurator = new BuilderConfigurator(ec2, groups, _options.Region, _reporter);
                    BuilderConfigurationPlan plan = await configurator.PlanAsync(new BuilderConfigurationRequest { AutoScalingGroupName = _options.AutoScalingGroupName, ServicesPrivateIp = newIp, SecretPassphrase = passphrase }, ct).ConfigureAwait(false);
                    BuilderConfiguration done = await configurator.ApplyAsync(plan, ct).ConfigureAwait(false);
                    BuilderGroupName = done.AutoScalingGroupName;
                    string version = done.LaunchTemplateId is null ? "launch configuration " + done.NewLaunchConfigurationName : $"launch template {done.LaunchTemplateId} version {done.NewVersion}";
                    _reporter.Verbose($"Builders: {done.AutoScalingGroupName} {done.Action}: {version} sets SERVICES_PRIVATE_IP={done.ServicesPrivateIp}.");
                    if (_timeline is not null)
                    {
                        _timeline.Complete(_timeline.Begin("builders:" + done.Action.ToLowerInvariant(), done.AutoScalingGroupName), "Succeeded", done.AutoScalingGroupName, $"{version}: SERVICES_PRIVATE_IP={done.ServicesPrivateIp}");
                    }
                }
                finally
                {
                    (groups as IDisposable)?.Dispose();
                }
            }

            return null;
        }

        private AppRecoveryRequest AppRequest(FailoverBox box, TimeSpan timeout) => new AppRecoveryRequest
        {
            Box = box.InstanceId,
            PrivateIpAddress = box.PrivateIpAddress,
            OpenShell = c => _options.OpenShell(box, c),
            Sudo = _options.Sudo,
            ChannelTimeout = timeout,
            AppTimeout = timeout,
            CommandTimeout = _options.CommandTimeout,
            Probe = _options.Probe,
        };

        private void Remember(FailoverBox? box)
        {
            if (box is { Role: FailoverBoxRole.Replica })
            {
                _replica = box;
            }
        }
    }
}
