using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Aws.CloudWatch;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Detection
{
    /// <summary>What Test-CcieServicesBox checks and with which limits.</summary>
    public sealed class ServicesBoxHealthRequest
    {
        /// <summary>The box; null: the one tagged Name=circleci_services.</summary>
        public string? InstanceId { get; set; }

        /// <summary>EC2 (null: the EC2 checks are Unknown).</summary>
        public Func<IAmazonEC2>? Ec2 { get; set; }

        public string Region { get; set; } = string.Empty;

        /// <summary>CloudWatch, the first source of CPU, memory and disks (null: the box's remote shell only).</summary>
        public Func<CloudWatchClient>? CloudWatch { get; set; }

        /// <summary>The namespace the CloudWatch agent publishes into (its configuration's "namespace"; default CWAgent).</summary>
        public string AgentNamespace { get; set; } = CloudWatchCapacityReader.DefaultAgentNamespace;

        /// <summary>A CloudWatch capacity metric whose newest point is older than this falls back to the remote shell.</summary>
        public TimeSpan MetricStaleAfter { get; set; } = CapacitySource.DefaultStaleAfter;

        /// <summary>Opens the remote shell for the on-box checks (null: they are Unknown with <see cref="NoShellReason"/>).</summary>
        public Func<CancellationToken, Task<IRemoteShell>>? OpenShell { get; set; }

        public string? NoShellReason { get; set; }

        public bool Sudo { get; set; } = true;

        /// <summary>The window the capacity checks look at (CloudWatch: the points in it; the box: the matching load average).</summary>
        public TimeSpan Since { get; set; } = TimeSpan.FromMinutes(15);

        public double CpuThreshold { get; set; } = 90;

        public double MemoryThreshold { get; set; } = 90;

        public double DiskThreshold { get; set; } = 90;

        public AppProbeOptions Probe { get; set; } = new AppProbeOptions();

        /// <summary>The box's address for "here" probes when EC2 cannot tell it (e.g. -SshHost).</summary>
        public string? BoxAddress { get; set; }

        /// <summary>Each check's own limit (EC2 calls, opening the shell, each command on the box).</summary>
        public TimeSpan CheckTimeout { get; set; } = TimeSpan.FromSeconds(10);
    }

    /// <summary>
    /// Test-CcieServicesBox's engine: EC2 state, status checks and scheduled events; CPU, memory and disks from the
    /// box over the remote shell; the app's ports; Replicated's app state; then a verdict with a suggested action
    /// following the CircleCI failover-and-backup guide (stage 1: a box that is down or out of capacity; the answer a
    /// reboot, a larger instance, or a restore / cold failover). Every check has its own timeout; a check that cannot
    /// be made is Unknown with the reason, never a guess.
    /// </summary>
    public sealed class ServicesBoxHealthCheck
    {
        public const string Pass = "Pass";
        public const string Warn = "Warn";
        public const string Fail = "Fail";
        public const string Unknown = "Unknown";

        private static readonly string[] DownChecks = { "Ec2State", "SystemStatus", "InstanceStatus", "AppState" };
        private static readonly string[] Ec2Basics = { "Ec2State", "SystemStatus", "InstanceStatus" };

        private readonly IOperationReporter _reporter;

        public ServicesBoxHealthCheck(IOperationReporter? reporter = null)
        {
            _reporter = reporter ?? NullReporter.Instance;
        }

        public async Task<ServicesBoxHealth> RunAsync(ServicesBoxHealthRequest request, CancellationToken ct)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            var clock = Stopwatch.StartNew();
            DateTime at = DateTime.UtcNow;
            var checks = new List<ServicesBoxCheck>();

            // 1. The box as EC2 sees it.
            ServicesBox? box = null;
            string? ec2Error = null;
            var locate = Stopwatch.StartNew();
            if (request.Ec2 is null)
            {
                ec2Error = "no AWS access";
            }
            else
            {
                try
                {
                    box = await Bounded(request.CheckTimeout, async c =>
                    {
                        using IAmazonEC2 ec2 = request.Ec2();
                        var query = new ServicesBoxQuery { InstanceIds = request.InstanceId is null ? Array.Empty<string>() : new[] { request.InstanceId }, IncludeTerminated = true };
                        IReadOnlyList<ServicesBox> found = await new ServicesBoxLocator(ec2, request.Region).FindAsync(query, c).ConfigureAwait(false);
                        return found.FirstOrDefault(b => b.State != "terminated") ?? (found.Count > 0 ? found[0] : null);
                    }, ct).ConfigureAwait(false);
                }
                catch (CcieException e) when (!ct.IsCancellationRequested)
                {
                    ec2Error = e.Message;
                }
            }

            string boxName = box?.InstanceId ?? request.InstanceId ?? "the Services box";
            if (request.OpenShell is not null)
            {
                // -From left at its default and the box's address simulated: its ports are probed from the box (its sandbox).
                request.Probe = request.Probe.ForBox(box?.PrivateIpAddress ?? request.BoxAddress);
            }

            checks.Add(StateCheck(box, ec2Error, request, locate.Elapsed));
            bool running = box?.State == "running";
            string? notRunning = box is null ? null : running ? null : $"not checked: the instance is {box.State}";

            // 2. Status checks, the box itself and the ports, side by side, each bounded.
            Task<IReadOnlyList<ServicesBoxCheck>> status = StatusChecksAsync(box, ec2Error, request, ct);
            Task<IReadOnlyDictionary<string, CapacityReading>?> capacity = notRunning is not null || box is null
                ? Task.FromResult<IReadOnlyDictionary<string, CapacityReading>?>(null)
                : CloudWatchCapacityAsync(box.InstanceId, request, ct);
            Task<IReadOnlyList<ServicesBoxCheck>> onBox = notRunning is not null
                ? Task.FromResult<IReadOnlyList<ServicesBoxCheck>>(OnBoxUnknown(notRunning, request))
                : OnBoxChecksAsync(box, boxName, request, capacity, ct);
            // With -From Box the on-box rows carry the ports (also when they are not checked); only -From Here adds its own.
            Task<IReadOnlyList<ServicesBoxCheck>> ports = request.Probe.From != ProbeFrom.Here
                ? Task.FromResult<IReadOnlyList<ServicesBoxCheck>>(Array.Empty<ServicesBoxCheck>())
                : notRunning is not null
                    ? Task.FromResult<IReadOnlyList<ServicesBoxCheck>>(AppPorts.All.Select(p => Row("Port" + p, Unknown, null, "accepts connections", notRunning, null, TimeSpan.Zero)).ToList())
                    : PortChecksHereAsync(box, boxName, request, ct);

            checks.AddRange(await status.ConfigureAwait(false));
            IReadOnlyList<ServicesBoxCheck> boxRows = await onBox.ConfigureAwait(false);
            checks.AddRange(boxRows.Where(r => !r.Name.StartsWith("Port", StringComparison.Ordinal)));
            checks.AddRange(await ports.ConfigureAwait(false));
            checks.AddRange(boxRows.Where(r => r.Name.StartsWith("Port", StringComparison.Ordinal)));

            var health = new ServicesBoxHealth
            {
                InstanceId = box?.InstanceId ?? request.InstanceId ?? string.Empty,
                Region = box?.Region ?? request.Region,
                PrivateIpAddress = box?.PrivateIpAddress ?? request.BoxAddress,
                Checks = checks,
                CheckedAt = at,
            };
            Judge(health, box);
            health.Duration = clock.Elapsed;
            return health;
        }

        /// <summary>The verdict, the reasons (worst first) and the suggested action with its why.</summary>
        public static void Judge(ServicesBoxHealth health, ServicesBox? box)
        {
            if (health is null)
            {
                throw new ArgumentNullException(nameof(health));
            }

            IReadOnlyList<ServicesBoxCheck> c = health.Checks;
            bool Failed(string name) => c.Any(x => x.Name == name && x.Status == Fail);
            List<ServicesBoxCheck> failed = c.Where(x => x.Status == Fail).ToList();
            List<ServicesBoxCheck> warned = c.Where(x => x.Status == Warn).ToList();
            List<ServicesBoxCheck> closedPorts = c.Where(x => x.Name.StartsWith("Port", StringComparison.Ordinal) && x.Status == Fail).ToList();
            bool down = DownChecks.Any(Failed) || closedPorts.Count > 0;

            // Healthy needs proof, not the absence of bad news: EC2's state and both status checks passed, and the
            // app was seen serving (every port open, or Replicated reporting it started).
            List<string> unconfirmed = Ec2Basics.Where(n => c.Any(x => x.Name == n && x.Status == Unknown)).ToList();
            List<ServicesBoxCheck> portRows = c.Where(x => x.Name.StartsWith("Port", StringComparison.Ordinal)).ToList();
            bool serving = (portRows.Count > 0 && portRows.All(x => x.Status is Pass or Warn)) || c.Any(x => x.Name == "AppState" && x.Status == Pass);
            if (!serving)
            {
                unconfirmed.Add("the app serving (ports, AppState)");
            }

            health.Verdict = down ? "Down" : failed.Count + warned.Count > 0 || unconfirmed.Count > 0 ? "Degraded" : "Healthy";

            var reasons = new List<string>();
            foreach (ServicesBoxCheck x in failed.OrderBy(x => Array.IndexOf(DownChecks, x.Name) is int i && i >= 0 ? i : 100))
            {
                reasons.Add($"{x.Name}: {x.Reason ?? x.Observed}");
            }

            if (closedPorts.Count > 1)
            {
                reasons.RemoveAll(r => r.StartsWith("Port", StringComparison.Ordinal));
                reasons.Add($"ports {string.Join(", ", closedPorts.Select(p => p.Name.Substring(4)))} closed ({closedPorts[0].Reason})");
            }

            reasons.AddRange(warned.Select(x => $"{x.Name}: {x.Reason ?? x.Observed}"));
            List<ServicesBoxCheck> unknown = c.Where(x => x.Status == Unknown).ToList();
            if (unknown.Count > 0)
            {
                reasons.Add($"not checked: {string.Join(", ", unknown.Select(u => u.Name))} ({unknown[0].Reason})");
            }

            if (!down && unconfirmed.Count > 0)
            {
                reasons.Insert(warned.Count + failed.Count == 0 ? 0 : reasons.Count, $"could not confirm {string.Join(", ", unconfirmed)}");
            }

            health.Reasons = reasons;
            (health.SuggestedAction, health.Why) = Suggest(c, box, closedPorts);
            if (health.SuggestedAction is null && unconfirmed.Count > 0)
            {
                health.SuggestedAction = "Check the box another way (the EC2 console, the Replicated console on port 8800), and give Test-CcieServicesBox what it lacked (AWS access, the transport parameters, -From Box).";
                health.Why = $"Test-CcieServicesBox could not confirm {string.Join(", ", unconfirmed)}: it does not call a box healthy on a guess.";
            }
        }

        private static (string? Action, string? Why) Suggest(IReadOnlyList<ServicesBoxCheck> c, ServicesBox? box, List<ServicesBoxCheck> closedPorts)
        {
            const string Restore = "restore from the latest recovery point (Get-CcieSnapshot -Latest | Restore-CcieServicesBox -StartApp) or fail over to the replica (Invoke-CcieFailover)";
            ServicesBoxCheck? Get(string name) => c.FirstOrDefault(x => x.Name == name);
            string? Status(string name) => Get(name)?.Status;

            if (Status("Ec2State") == Fail)
            {
                string state = box?.State ?? "missing";
                if (state is "stopped" or "stopping")
                {
                    return ($"Start the instance (aws ec2 start-instances --instance-ids {box!.InstanceId}); if it does not come back healthy, {Restore}.",
                        "A stopped box serves nothing. Starting it is the cheapest fix; the CircleCI guide's answer for a box that stays down is a restore from backup or a cold failover.");
                }

                return ($"{char.ToUpperInvariant(Restore[0])}{Restore.Substring(1)}.",
                    $"The instance is {state}: nothing is left to reboot. The CircleCI guide: when the Services box is down (AWS killed the instance, its AZ or region is down) recover from backups or rely on cold failover.");
            }

            if (Status("SystemStatus") == Fail || Status("InstanceStatus") == Fail)
            {
                bool system = Status("SystemStatus") == Fail;
                return ($"{(system ? "Stop and start the instance (it moves to healthy hardware)" : "Reboot the instance")}; if the status checks stay impaired, {Restore}.",
                    $"EC2's {(system ? "system" : "instance")} status check fails: {(system ? "AWS's hardware or network under the box" : "the box's operating system")} is not answering, so the app cannot serve. The CircleCI guide: a box that is down may need a reboot, or a restore from backup or a cold failover.");
            }

            if (closedPorts.Count > 0 || Status("AppState") == Fail)
            {
                string ports = closedPorts.Count == 0 ? string.Empty : $" (ports {string.Join(", ", closedPorts.Select(p => p.Name.Substring(4)))} closed)";
                return ("Start the app: Start-CcieApp -Wait. If it does not start, open the Replicated console on port 8800 and look at 'docker ps -a' on the box (Invoke-CcieServicesBoxCommand).",
                    $"EC2 runs the box and its status checks pass, so the machine is fine; the app is not serving{ports}. The CircleCI guide: if CircleCI does not launch, start the app from the administrative console on port 8800.");
            }

            ServicesBoxCheck? data = Get("Disk:/data");
            if (data?.Status is Fail or Warn)
            {
                return ("Free or grow /data: remove /data/circleci-restore-* directories left by earlier tarball restores, then grow the data volume (aws ec2 modify-volume, then resize2fs / xfs_growfs).",
                    $"/data holds every CircleCI datastore; {data.Observed}. A full /data stops them, so act before it fills.");
            }

            ServicesBoxCheck? root = Get("Disk:/");
            if (root?.Status is Fail or Warn)
            {
                return ("Free space on /: old Docker images (docker image prune), logs under /var/log; or grow the root volume.",
                    $"The root filesystem is {root.Observed}; Docker and Replicated fail when / fills.");
            }

            if (Status("Cpu") is Fail or Warn || Status("Memory") is Fail or Warn)
            {
                string what = Status("Cpu") is Fail or Warn ? "CPU" : "memory";
                return ("Move the box to a larger instance type (stop, change the instance type, start), or reboot it if one process runs away.",
                    $"The box is short of {what}. The CircleCI guide: a box out of capacity signals a problem; the answer may be a reboot or scaling the machine up.");
            }

            ServicesBoxCheck? events = Get("ScheduledEvents");
            if (events?.Status == Warn)
            {
                return ("Before the event: take a recovery point (New-CcieSnapshot -Wait), then stop and start the box in a maintenance window so it moves to healthy hardware.",
                    $"AWS scheduled {events.Observed}; doing it on your own terms keeps the outage short and planned.");
            }

            if (c.Any(x => x.Status == Warn))
            {
                ServicesBoxCheck w = c.First(x => x.Status == Warn);
                return ("Check again in a few minutes.", $"{w.Name}: {w.Reason}");
            }

            return (null, null);
        }

        private static ServicesBoxCheck StateCheck(ServicesBox? box, string? error, ServicesBoxHealthRequest request, TimeSpan took)
        {
            if (box is null)
            {
                return error is null
                    ? Row("Ec2State", Fail, "not found", "running", $"no instance {(request.InstanceId ?? "tagged Name=" + ServicesBoxQuery.DefaultName)} in {request.Region}", "ec2", took)
                    : Row("Ec2State", Unknown, null, "running", "EC2 could not be asked: " + error, "ec2", took);
            }

            return box.State switch
            {
                "running" => Row("Ec2State", Pass, "running", "running", null, "ec2", took),
                "pending" => Row("Ec2State", Warn, "pending", "running", "the instance is starting", "ec2", took),
                _ => Row("Ec2State", Fail, box.State, "running", $"the instance is {box.State}{(string.IsNullOrEmpty(box.StateReason) ? string.Empty : " (" + box.StateReason + ")")}", "ec2", took),
            };
        }

        private static async Task<IReadOnlyList<ServicesBoxCheck>> StatusChecksAsync(ServicesBox? box, string? ec2Error, ServicesBoxHealthRequest request, CancellationToken ct)
        {
            var took = Stopwatch.StartNew();
            var names = new[] { "SystemStatus", "InstanceStatus", "ScheduledEvents" };
            if (box is null || request.Ec2 is null)
            {
                string why = ec2Error is null ? "no instance to check" : "EC2 could not be asked: " + ec2Error;
                return names.Select(n => Row(n, Unknown, null, Threshold(n), why, "ec2", TimeSpan.Zero)).ToList();
            }

            if (box.State != "running")
            {
                return names.Select(n => Row(n, Unknown, null, Threshold(n), $"not checked: the instance is {box.State}", "ec2", TimeSpan.Zero)).ToList();
            }

            InstanceStatus? s;
            try
            {
                s = await Bounded(request.CheckTimeout, async c =>
                {
                    using IAmazonEC2 ec2 = request.Ec2();
                    DescribeInstanceStatusResponse r = await AwsCall.RunAsync("ec2:DescribeInstanceStatus", box.InstanceId, t => ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = new List<string> { box.InstanceId }, IncludeAllInstances = true }, t), c).ConfigureAwait(false);
                    return r.InstanceStatuses?.FirstOrDefault();
                }, ct).ConfigureAwait(false);
            }
            catch (CcieException e) when (!ct.IsCancellationRequested)
            {
                return names.Select(n => Row(n, Unknown, null, Threshold(n), "EC2 could not be asked: " + e.Message, "ec2", took.Elapsed)).ToList();
            }

            var rows = new List<ServicesBoxCheck>
            {
                StatusRow("SystemStatus", s?.SystemStatus, "AWS's hardware and network under the box", took.Elapsed),
                StatusRow("InstanceStatus", s?.Status, "the box's operating system", took.Elapsed),
            };
            List<InstanceStatusEvent> events = (s?.Events ?? new List<InstanceStatusEvent>())
                .Where(e => e.Description is null || !e.Description.StartsWith("[Completed]", StringComparison.Ordinal) && !e.Description.StartsWith("[Canceled]", StringComparison.Ordinal))
                .ToList();
            rows.Add(events.Count == 0
                ? Row("ScheduledEvents", Pass, "none", "none scheduled", null, "ec2", took.Elapsed)
                : Row("ScheduledEvents", Warn, string.Join("; ", events.Select(e => $"{e.Code?.Value} not before {e.NotBefore?.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture)}")), "none scheduled", string.Join("; ", events.Select(e => $"{e.Code?.Value}: {e.Description}")), "ec2", took.Elapsed));
            return rows;
        }

        private static ServicesBoxCheck StatusRow(string name, InstanceStatusSummary? summary, string what, TimeSpan took)
        {
            string status = summary?.Status?.Value ?? "unknown";
            string? since = summary?.Details?.FirstOrDefault(d => d.ImpairedSince is not null)?.ImpairedSince?.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture);
            return status switch
            {
                "ok" => Row(name, Pass, "ok", "ok", null, "ec2", took),
                "impaired" => Row(name, Fail, "impaired", "ok", $"the {(name == "SystemStatus" ? "system" : "instance")} status check fails ({what}){(since is null ? string.Empty : " since " + since)}", "ec2", took),
                "initializing" => Row(name, Warn, "initializing", "ok", "the status checks are initializing (the box started moments ago)", "ec2", took),
                _ => Row(name, Unknown, status, "ok", $"EC2 reports {status} for the {(name == "SystemStatus" ? "system" : "instance")} status check", "ec2", took),
            };
        }

        private static List<ServicesBoxCheck> OnBoxUnknown(string why, ServicesBoxHealthRequest request)
        {
            var rows = new List<ServicesBoxCheck>
            {
                Row("Cpu", Unknown, null, $"< {request.CpuThreshold:0} %", why, null, TimeSpan.Zero),
                Row("Memory", Unknown, null, $"< {request.MemoryThreshold:0} %", why, null, TimeSpan.Zero),
                Row("Disk:/data", Unknown, null, $"< {request.DiskThreshold:0} %", why, null, TimeSpan.Zero),
                Row("Disk:/", Unknown, null, $"< {request.DiskThreshold:0} %", why, null, TimeSpan.Zero),
                Row("AppState", Unknown, null, "started", why, null, TimeSpan.Zero),
            };
            if (request.Probe.From == ProbeFrom.Box)
            {
                rows.AddRange(AppPorts.All.Select(p => Row("Port" + p, Unknown, null, "accepts connections", why, "box", TimeSpan.Zero)));
            }

            return rows;
        }

        /// <summary>CPU, memory and disks from CloudWatch (null when not asked); a failure becomes readings that say why.</summary>
        private async Task<IReadOnlyDictionary<string, CapacityReading>?> CloudWatchCapacityAsync(string instanceId, ServicesBoxHealthRequest request, CancellationToken ct)
        {
            if (request.CloudWatch is null)
            {
                return null;
            }

            try
            {
                return await Bounded(request.CheckTimeout, async c =>
                {
                    using CloudWatchClient cw = request.CloudWatch();
                    return await new CloudWatchCapacityReader(cw).ReadAsync(instanceId, request.Since, c, request.AgentNamespace).ConfigureAwait(false);
                }, ct).ConfigureAwait(false);
            }
            catch (CcieException e) when (!ct.IsCancellationRequested)
            {
                _reporter.Verbose("CloudWatch capacity metrics not read: " + e.Message);
                return CloudWatchCapacityReader.Failed(e.Message, request.Since, request.AgentNamespace);
            }
        }

        /// <summary>
        /// The capacity rows: each from CloudWatch when it has recent data (<see cref="CapacitySource.WhyNotCloudWatch"/>),
        /// otherwise the box's row, which then says why CloudWatch was not used. <paramref name="boxRows"/> null: the
        /// box was not asked (every metric came from CloudWatch).
        /// </summary>
        public static List<ServicesBoxCheck> ChooseCapacityRows(IReadOnlyDictionary<string, CapacityReading>? cloudWatch, IReadOnlyList<ServicesBoxCheck>? boxRows, ServicesBoxHealthRequest request, TimeSpan took)
        {
            var rows = new List<ServicesBoxCheck>();
            foreach (string name in CapacityChecks)
            {
                CapacityReading? reading = cloudWatch is null ? null : cloudWatch.TryGetValue(name, out CapacityReading? r) ? r : null;
                string? whyNot = CapacitySource.WhyNotCloudWatch(reading, request.MetricStaleAfter);
                if (whyNot is null)
                {
                    rows.Add(CloudWatchRow(reading!, request, took));
                    continue;
                }

                ServicesBoxCheck row = boxRows?.FirstOrDefault(x => x.Name == name)
                    ?? Row(name, Unknown, null, ThresholdOf(name, request), "the box was not asked", null, took);
                if (cloudWatch is not null)
                {
                    row.SourceNote = whyNot + (row.Status == Unknown ? string.Empty : "; read from the box over the remote shell");
                    if (row.Status == Unknown)
                    {
                        row.Reason = $"{row.Reason}; and {whyNot}";
                    }
                }

                rows.Add(row);
            }

            return rows;
        }

        private static readonly string[] CapacityChecks = { "Cpu", "Memory", "Disk:/data", "Disk:/" };

        private static string ThresholdOf(string name, ServicesBoxHealthRequest request) =>
            string.Format(CultureInfo.InvariantCulture, "< {0:0} %", name == "Cpu" ? request.CpuThreshold : name == "Memory" ? request.MemoryThreshold : request.DiskThreshold);

        private static ServicesBoxCheck CloudWatchRow(CapacityReading reading, ServicesBoxHealthRequest request, TimeSpan took)
        {
            double value = reading.Value ?? 0;
            string name = reading.Check;
            string window = CapacitySource.Minutes(reading.Window);
            ServicesBoxCheck row = name switch
            {
                "Cpu" => Level("Cpu", value, request.CpuThreshold, string.Format(CultureInfo.InvariantCulture, "{0:0} % ({1} average, CloudWatch)", value, window),
                    $"CPUUtilization averaged {value:0} % over the last {window}", took, CapacitySource.CloudWatch),
                "Memory" => Level("Memory", value, request.MemoryThreshold, string.Format(CultureInfo.InvariantCulture, "{0:0} % ({1} average, CloudWatch)", value, window),
                    $"{value:0} % of memory was in use on average over the last {window} (mem_used_percent)", took, CapacitySource.CloudWatch),
                _ => Level(name, value, request.DiskThreshold, string.Format(CultureInfo.InvariantCulture, "{0:0} % (CloudWatch)", value),
                    $"{name.Substring(5)} is {value:0} % full (disk_used_percent)", took, CapacitySource.CloudWatch),
            };
            row.SourceNote = CapacitySource.Describe(reading);
            return row;
        }

        private static async Task<IReadOnlyList<ServicesBoxCheck>> OnBoxChecksAsync(ServicesBox? box, string boxName, ServicesBoxHealthRequest request, Task<IReadOnlyDictionary<string, CapacityReading>?> capacity, CancellationToken ct)
        {
            var took = Stopwatch.StartNew();
            if (request.OpenShell is null)
            {
                List<ServicesBoxCheck> unknown = OnBoxUnknown(request.NoShellReason ?? "no remote shell", request);
                return Merge(unknown, ChooseCapacityRows(await capacity.ConfigureAwait(false), unknown, request, took.Elapsed));
            }

            IRemoteShell shell;
            try
            {
                shell = await Bounded(request.CheckTimeout, c => request.OpenShell(c), ct).ConfigureAwait(false);
            }
            catch (CcieException e) when (!ct.IsCancellationRequested)
            {
                List<ServicesBoxCheck> unknown = OnBoxUnknown("the remote shell could not reach the box: " + e.Message, request);
                return Merge(unknown, ChooseCapacityRows(await capacity.ConfigureAwait(false), unknown, request, took.Elapsed));
            }

            using (shell)
            {
                var rows = new List<ServicesBoxCheck>();
                IReadOnlyDictionary<string, CapacityReading>? cloudWatch = await capacity.ConfigureAwait(false);
                bool allFromCloudWatch = cloudWatch is not null && CapacityChecks.All(n => cloudWatch.TryGetValue(n, out CapacityReading? x) && CapacitySource.WhyNotCloudWatch(x, request.MetricStaleAfter) is null);
                if (allFromCloudWatch)
                {
                    rows.AddRange(ChooseCapacityRows(cloudWatch, null, request, took.Elapsed));
                }
                else
                {
                    var shellRows = new List<ServicesBoxCheck>();
                    try
                    {
                        RemoteResult r = await Bounded(request.CheckTimeout, c => shell.RunAsync(new RemoteCommand(BoxMetrics.Script) { Timeout = request.CheckTimeout, MaxOutputChars = 64 * 1024 }, c), ct).ConfigureAwait(false);
                        shellRows.AddRange(CapacityRows(BoxMetrics.Parse(r.Stdout), request, took.Elapsed));
                    }
                    catch (CcieException e) when (!ct.IsCancellationRequested)
                    {
                        shellRows.AddRange(OnBoxUnknown("the box did not answer: " + e.Message, request).Where(x => CapacityChecks.Contains(x.Name)));
                    }

                    rows.AddRange(ChooseCapacityRows(cloudWatch, shellRows, request, took.Elapsed));
                }

                var appTook = Stopwatch.StartNew();
                try
                {
                    ReplicatedApp app = await Bounded(request.CheckTimeout, c => new ReplicatedClient(shell, request.Sudo, request.CheckTimeout).GetAppAsync(c), ct).ConfigureAwait(false);
                    string observed = app.State + (app.IsTransitioning ? " (transitioning)" : string.Empty) + (app.DesiredState is null || app.DesiredState == app.State ? string.Empty : ", desired " + app.DesiredState);
                    rows.Add(app.State switch
                    {
                        "started" => Row("AppState", Pass, observed, "started", null, "box", appTook.Elapsed),
                        "starting" => Row("AppState", Warn, observed, "started", "the app is starting", "box", appTook.Elapsed),
                        _ => Row("AppState", Fail, observed, "started", $"Replicated reports the app {app.State}{(app.Error is null ? string.Empty : ": " + SecretMask.Apply(app.Error))}", "box", appTook.Elapsed),
                    });
                }
                catch (CcieException e) when (!ct.IsCancellationRequested)
                {
                    rows.Add(Row("AppState", Unknown, null, "started", "Replicated could not be asked: " + e.Message, "box", appTook.Elapsed));
                }

                if (request.Probe.From == ProbeFrom.Box)
                {
                    var portTook = Stopwatch.StartNew();
                    try
                    {
                        AppPortProbeSpec spec = request.Probe.Resolve(shell, null, boxName);
                        IReadOnlyList<PortProbeResult> results = await spec.ProbeAsync(ct).ConfigureAwait(false);
                        rows.AddRange(results.Select(p => PortRow(p, spec, portTook.Elapsed)));
                    }
                    catch (CcieException e) when (!ct.IsCancellationRequested)
                    {
                        rows.AddRange(AppPorts.All.Select(p => Row("Port" + p, Unknown, null, "accepts connections", "the probe on the box failed: " + e.Message, "box", portTook.Elapsed)));
                    }
                }

                return rows;
            }
        }

        private async Task<IReadOnlyList<ServicesBoxCheck>> PortChecksHereAsync(ServicesBox? box, string boxName, ServicesBoxHealthRequest request, CancellationToken ct)
        {
            var took = Stopwatch.StartNew();
            try
            {
                AppPortProbeSpec spec = request.Probe.Resolve(null, box?.PrivateIpAddress ?? request.BoxAddress, boxName);
                IReadOnlyList<PortProbeResult> results = await spec.ProbeAsync(ct).ConfigureAwait(false);
                return results.Select(p => PortRow(p, spec, took.Elapsed)).ToList();
            }
            catch (CcieException e) when (!ct.IsCancellationRequested)
            {
                _reporter.Verbose("Port probe not made: " + e.Message);
                return AppPorts.All.Select(p => Row("Port" + p, Unknown, null, "accepts connections", e.Message, "here", took.Elapsed)).ToList();
            }
        }

        private static ServicesBoxCheck PortRow(PortProbeResult p, AppPortProbeSpec spec, TimeSpan took)
        {
            string source = spec.From == ProbeFrom.Here ? "here" : "box";
            string at = $"{p.Address}:{p.ProbedPort}";
            if (p.Open == true)
            {
                string tls = !p.Tls ? string.Empty
                    : p.TlsHandshake == true ? (p.CertificateAccepted == true ? ", TLS ok" : $", TLS ok, certificate not accepted ({p.CertificateProblem})")
                    : p.TlsHandshake == false ? $", TLS handshake failed ({p.CertificateProblem})" : string.Empty;
                return p.TlsHandshake == false
                    ? Row("Port" + p.Port, Warn, "open" + tls, "accepts connections", $"port {p.Port} accepts connections but completes no TLS handshake ({p.CertificateProblem})", source, took, at)
                    : Row("Port" + p.Port, Pass, "open" + tls, "accepts connections", null, source, took, at);
            }

            if (p.Open == false)
            {
                return Row("Port" + p.Port, Fail, "closed", "accepts connections", $"{p.Error} {spec.Describe()}", source, took, at);
            }

            return Row("Port" + p.Port, Unknown, null, "accepts connections", p.Error, source, took, at);
        }

        private static IEnumerable<ServicesBoxCheck> CapacityRows(BoxMetrics m, ServicesBoxHealthRequest request, TimeSpan took)
        {
            // CPU: the box keeps no history beyond its load averages; take the one that matches -Since.
            int window = request.Since <= TimeSpan.FromMinutes(1) ? 1 : request.Since <= TimeSpan.FromMinutes(5) ? 5 : 15;
            if (m.LoadAverages is null || m.Cpus <= 0)
            {
                yield return Row("Cpu", Unknown, null, $"< {request.CpuThreshold:0} %", "the box printed no load average or CPU count (/proc/loadavg, getconf)", "box", took);
            }
            else
            {
                double load = m.LoadAverages[window == 1 ? 0 : window == 5 ? 1 : 2];
                double pct = load / m.Cpus * 100;
                string observed = string.Format(CultureInfo.InvariantCulture, "{0:0} % (load {1:0.00} over {2} min on {3} CPUs)", pct, load, window, m.Cpus);
                yield return Level("Cpu", pct, request.CpuThreshold, observed, $"the {window}-minute load average is {pct:0} % of the box's {m.Cpus} CPUs", took);
            }

            if (m.MemTotalKiB is not long total || m.MemAvailableKiB is not long available || total <= 0)
            {
                yield return Row("Memory", Unknown, null, $"< {request.MemoryThreshold:0} %", "the box printed no MemTotal/MemAvailable (/proc/meminfo)", "box", took);
            }
            else
            {
                double pct = (total - available) * 100.0 / total;
                string observed = string.Format(CultureInfo.InvariantCulture, "{0:0} % ({1:0.0} of {2:0.0} GiB in use, now)", pct, (total - available) / 1048576.0, total / 1048576.0);
                yield return Level("Memory", pct, request.MemoryThreshold, observed, $"{pct:0} % of memory is in use (MemAvailable now; the box keeps no history)", took);
            }

            foreach (string path in new[] { "/data", "/" })
            {
                string name = "Disk:" + path;
                if (!m.Disks.TryGetValue(path, out DiskUse? d) || d is null)
                {
                    yield return path == "/data"
                        ? Row(name, Warn, "missing", $"< {request.DiskThreshold:0} %", "df found no /data on the box: CircleCI keeps its datastores there", "box", took)
                        : Row(name, Unknown, null, $"< {request.DiskThreshold:0} %", "df printed nothing for /", "box", took);
                    continue;
                }

                string on = d.MountedOn == path ? string.Empty : $" (on {d.MountedOn})";
                string observed = string.Format(CultureInfo.InvariantCulture, "{0:0} % of {1:0.0} GiB{2}", d.UsedPercent, d.SizeKiB / 1048576.0, on);
                yield return Level(name, d.UsedPercent, request.DiskThreshold, observed, $"{path} is {d.UsedPercent:0} % full{on}", took);
            }
        }

        private static ServicesBoxCheck Level(string name, double value, double threshold, string observed, string reason, TimeSpan took, string source = CapacitySource.Box)
        {
            string limit = string.Format(CultureInfo.InvariantCulture, "< {0:0} %", threshold);
            if (value >= threshold)
            {
                return Row(name, Fail, observed, limit, $"{reason} (threshold {threshold:0} %)", source, took);
            }

            if (value >= threshold - 10)
            {
                return Row(name, Warn, observed, limit, $"{reason}, within 10 points of the {threshold:0} % threshold", source, took);
            }

            return Row(name, Pass, observed, limit, null, source, took);
        }

        /// <summary>The on-box rows with the capacity rows replaced by <paramref name="capacity"/> (same order).</summary>
        private static List<ServicesBoxCheck> Merge(List<ServicesBoxCheck> rows, List<ServicesBoxCheck> capacity) =>
            rows.Select(r => capacity.FirstOrDefault(c => c.Name == r.Name) ?? r).ToList();

        private static string Threshold(string name) => name == "ScheduledEvents" ? "none scheduled" : "ok";

        private static ServicesBoxCheck Row(string name, string status, string? observed, string? threshold, string? reason, string? source, TimeSpan took, string? at = null) => new ServicesBoxCheck
        {
            Name = name,
            Status = status,
            Observed = observed is null || at is null ? observed : observed + " at " + at,
            Threshold = threshold,
            Reason = reason,
            Source = source,
            Duration = took,
        };

        /// <summary>Runs one check under its own timeout; a timeout becomes a CcieException (OperationTimeout), not a hang.</summary>
        private static async Task<T> Bounded<T>(TimeSpan timeout, Func<CancellationToken, Task<T>> work, CancellationToken ct)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(timeout);
            Task<T> task = work(cts.Token);
            Task done = await Task.WhenAny(task, Task.Delay(timeout + TimeSpan.FromSeconds(1), ct)).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            if (done != task)
            {
                _ = task.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
                throw new CcieException("CheckTimedOut", CcieErrorCategory.OperationTimeout, $"no answer within {timeout.TotalSeconds:0} s");
            }

            try
            {
                return await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new CcieException("CheckTimedOut", CcieErrorCategory.OperationTimeout, $"no answer within {timeout.TotalSeconds:0} s");
            }
            catch (Exception e) when (e is not CcieException && !ct.IsCancellationRequested && e is not OutOfMemoryException)
            {
                throw new CcieException("CheckFailed", CcieErrorCategory.NotSpecified, e.Message, null, e);
            }
        }
    }
}
