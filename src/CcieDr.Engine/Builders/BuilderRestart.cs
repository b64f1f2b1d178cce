using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Builders
{
    /// <summary>Which builders Restart-CcieBuilder replaces.</summary>
    public enum BuilderSelection
    {
        All,
        Stale,
        Instances,
    }

    /// <summary>What Restart-CcieBuilder was asked to do.</summary>
    public sealed class BuilderRestartRequest
    {
        public string? AutoScalingGroupName { get; set; }

        public BuilderSelection Selection { get; set; } = BuilderSelection.All;

        public IReadOnlyList<string> InstanceIds { get; set; } = Array.Empty<string>();

        /// <summary>Builders replaced at a time; null: from <see cref="MinHealthyPercent"/>.</summary>
        public int? BatchSize { get; set; }

        /// <summary>The share of desired capacity kept in service (default 90, as Auto Scaling's instance refresh).</summary>
        public int? MinHealthyPercent { get; set; }

        /// <summary>Never use an Auto Scaling instance refresh; always CcieDr's own loop.</summary>
        public bool NoInstanceRefresh { get; set; }

        /// <summary>A command run on each old builder before it is terminated (over the remote shell).</summary>
        public string? DrainCommand { get; set; }

        public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromMinutes(10);

        /// <summary>How long one batch may take to get its new builders in service.</summary>
        public TimeSpan BatchTimeout { get; set; } = TimeSpan.FromMinutes(20);

        /// <summary>How long the Services box may take to see a batch's new builders once they are in service.</summary>
        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromMinutes(10);
    }

    /// <summary>
    /// What the Services box says about its builders at one moment (CloudWatch circle.state.num-masters − 1), on the
    /// service's clock: how many it sees, when that data point was taken, and the service's now.
    /// </summary>
    public sealed class BuilderConnectionReading
    {
        public BuilderConnectionReading(int? connected, DateTime? timestamp, DateTime now)
        {
            Connected = connected;
            Timestamp = timestamp;
            Now = now;
        }

        /// <summary>Builders the app sees, or null when the metric has no data (the CloudWatch integration is off).</summary>
        public int? Connected { get; }

        /// <summary>When the newest data point was taken (null without data).</summary>
        public DateTime? Timestamp { get; }

        /// <summary>The service's clock when it answered (a later data point reflects what happened before this).</summary>
        public DateTime Now { get; }
    }

    /// <summary>The computed rotation (shown by -WhatIf): targets, batches, method.</summary>
    public sealed class BuilderRestartPlan
    {
        internal BuilderRestartPlan(BuilderGroupState group, OperationPlan steps)
        {
            Group = group;
            Steps = steps;
        }

        public BuilderGroupState Group { get; }

        public OperationPlan Steps { get; }

        public IReadOnlyList<string> Targets { get; internal set; } = Array.Empty<string>();

        public int BatchSize { get; internal set; }

        /// <summary>InstanceRefresh or Rolling.</summary>
        public string Method { get; internal set; } = "Rolling";

        internal BuilderRestartRequest Request { get; set; } = new BuilderRestartRequest();

        internal string Configuration { get; set; } = string.Empty;

        internal string? CurrentTemplateId { get; set; }

        internal string? CurrentVersion { get; set; }

        internal int MinHealthyPercentage { get; set; }

        internal bool Resumed { get; set; }

        /// <summary>Why the batch size differs from -BatchSize (it was clamped below desired capacity), or null.</summary>
        public string? BatchSizeNote { get; internal set; }

        public int BatchesPlanned => Targets.Count == 0 ? 0 : (Targets.Count + BatchSize - 1) / BatchSize;

        public string Render() => Steps.Render();
    }

    /// <summary>
    /// Rotates a builder group in batches: an Auto Scaling instance refresh where the group allows it, otherwise its
    /// own loop (raise desired capacity by a batch, wait until the new builders are in service, optionally drain, then
    /// terminate old ones with a decrement), never below desired capacity in its own loop and never below
    /// desired − batch with a refresh. Ctrl+C stops after the current batch with the group back at its size; a rerun
    /// continues (stale builders by configuration; the rest by the ccie:restart-pending tag on the old builders).
    /// </summary>
    public sealed class BuilderRestarter
    {
        /// <summary>The EC2 tag put on builders a rotation will replace (a rerun of -All continues with them).</summary>
        public const string PendingTag = "ccie:restart-pending";

        private const int ActivityId = 1501;
        private static readonly string[] BlockingProcesses = { "Launch", "Terminate" };

        private readonly IAmazonEC2 _ec2;
        private readonly IBuilderGroupApi _groups;
        private readonly string _region;
        private readonly IOperationReporter _reporter;
        private readonly Func<DateTime> _clock;

        public BuilderRestarter(IAmazonEC2 ec2, IBuilderGroupApi groups, string region, IOperationReporter reporter, Func<DateTime>? clock = null)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _groups = groups ?? throw new ArgumentNullException(nameof(groups));
            _region = region;
            _reporter = reporter ?? throw new ArgumentNullException(nameof(reporter));
            _clock = clock ?? (() => DateTime.UtcNow);
        }

        /// <summary>The default polling: 2 s, growing to 15 s (CCIEDR_POLL_SCALE shortens both for simulators).</summary>
        public static WaitOptions DefaultPolling()
        {
            double scale = AwsRetryPolicy.PollScale() ?? 1.0;
            return new WaitOptions { InitialDelay = TimeSpan.FromSeconds(2 * scale), MaxDelay = TimeSpan.FromSeconds(15 * scale) };
        }

        /// <summary>Polling schedule (tests shorten it; a simulated clock plugs in here).</summary>
        public WaitOptions Polling { get; set; } = DefaultPolling();

        /// <summary>Opens a shell on a builder for -DrainCommand (null: draining is not available).</summary>
        public Func<string, CancellationToken, Task<IRemoteShell>>? OpenBuilderShell { get; set; }

        /// <summary>
        /// What the Services box sees (CloudWatch circle.state.num-masters − 1, <see cref="BuilderConnections"/>); null:
        /// not checked (a batch is done once its new builders are InService). With it, a batch is done only once a data
        /// point taken after its new builders were in service counts them, and no old builder is terminated before.
        /// </summary>
        public Func<CancellationToken, Task<BuilderConnectionReading>>? ConnectedBuilders { get; set; }

        /// <summary>
        /// The group's builders that Get-CcieBuilder calls stale (<see cref="BuilderInventory"/>: launched with another
        /// Services IP, or before the box's last restore or failover, or older than MaxAge). -Stale replaces these as
        /// well as those not on the group's current configuration; null: only the latter.
        /// </summary>
        public Func<string, CancellationToken, Task<IReadOnlyCollection<string>>>? InventoryStale { get; set; }

        public async Task<BuilderRestartPlan> PlanAsync(BuilderRestartRequest request, CancellationToken ct)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            BuilderGroupState group = await new BuilderConfigurator(_ec2, _groups, _region, _reporter, _clock).FindGroupAsync(request.AutoScalingGroupName, ct).ConfigureAwait(false);
            var steps = new OperationPlan("Rotate the builders", group.Name);
            var plan = new BuilderRestartPlan(group, steps) { Request = request };
            bool isTemplate = group.LaunchTemplateId is not null || group.LaunchTemplateName is not null;
            if (isTemplate)
            {
                (string id, string version) = await BuilderLaunchTemplates.ResolveAsync(_ec2, group, ct).ConfigureAwait(false);
                plan.CurrentTemplateId = id;
                plan.CurrentVersion = version;
                plan.Configuration = $"{id} version {version}";
            }
            else
            {
                plan.Configuration = group.LaunchConfigurationName ?? "(none)";
            }

            List<BuilderGroupMember> live = Live(group).ToList();
            List<string> targets = await SelectAsync(plan, live, request, ct).ConfigureAwait(false);
            plan.Targets = targets;
            int desired = group.DesiredCapacity;
            plan.BatchSize = BatchSizeFor(desired, request.BatchSize, request.MinHealthyPercent);
            if (request.BatchSize is int asked && asked != plan.BatchSize)
            {
                plan.BatchSizeNote = $"-BatchSize {asked} is not below the desired capacity of {group.Name} ({desired}): batches of {plan.BatchSize} instead, so at least {desired - plan.BatchSize} builder(s) stay in service even if a batch fails. Raise the capacity first (Set-CcieBuilderCapacity) for bigger batches.";
                steps.Notes.Add(plan.BatchSizeNote);
                _reporter.Warning(plan.BatchSizeNote);
            }
            if (targets.Count == 0)
            {
                steps.Notes.Add(request.Selection == BuilderSelection.Stale
                    ? $"Every builder of {group.Name} already runs {plan.Configuration}: nothing to rotate."
                    : $"{group.Name} has no builders to rotate.");
                return plan;
            }

            List<string> suspended = group.SuspendedProcesses.Intersect(BlockingProcesses, StringComparer.Ordinal).ToList();
            if (suspended.Count > 0)
            {
                throw new CcieException("BuilderGroupProcessesSuspended", CcieErrorCategory.InvalidOperation, $"The group {group.Name} has {string.Join(" and ", suspended)} suspended, so it can neither launch nor remove builders. Resume them first (aws autoscaling resume-processes --auto-scaling-group-name {group.Name} --scaling-processes {string.Join(" ", suspended)}), then rerun.", group.Name);
            }

            bool refresh = !request.NoInstanceRefresh
                && request.DrainCommand is null
                && ConnectedBuilders is null
                && !group.SuspendedProcesses.Contains("InstanceRefresh", StringComparer.Ordinal)
                && (request.Selection == BuilderSelection.All || (request.Selection == BuilderSelection.Stale && isTemplate))
                && !plan.Resumed
                && targets.Count == live.Count(m => request.Selection == BuilderSelection.All || IsStale(plan, m));
            plan.Method = refresh ? "InstanceRefresh" : "Rolling";
            plan.MinHealthyPercentage = request.MinHealthyPercent ?? (desired == 0 ? 100 : (int)Math.Ceiling(100.0 * Math.Max(0, desired - plan.BatchSize) / desired));
            string list = string.Join(", ", targets);
            if (refresh)
            {
                steps.Add("autoscaling:StartInstanceRefresh", $"{group.Name} Rolling, MinHealthyPercentage {plan.MinHealthyPercentage}{(request.Selection == BuilderSelection.Stale ? ", SkipMatching (only builders not on " + plan.Configuration + ")" : string.Empty)}: replaces {targets.Count} builder(s) ({list})", group.Name);
                steps.Add("wait:instance-refresh", $"until the refresh is Successful (Ctrl+C cancels it after the batch in flight)", group.Name);
            }
            else
            {
                int raised = desired + plan.BatchSize;
                steps.Add("ec2:CreateTags", $"{PendingTag} on the {targets.Count} builder(s) to replace ({list}), so a rerun continues with them", list);
                if (raised > group.MaxSize)
                {
                    steps.Add("autoscaling:UpdateAutoScalingGroup", $"{group.Name} MaxSize {group.MaxSize} -> {raised} for the batches (put back at the end)", group.Name);
                }

                for (int b = 0; b < plan.BatchesPlanned; b++)
                {
                    List<string> batch = targets.Skip(b * plan.BatchSize).Take(plan.BatchSize).ToList();
                    steps.Add("autoscaling:SetDesiredCapacity", $"batch {b + 1}/{plan.BatchesPlanned}: {group.Name} {desired} -> {desired + batch.Count}, wait until {batch.Count} new builder(s) are InService{(ConnectedBuilders is null ? string.Empty : " and connected")}", group.Name);
                    if (request.DrainCommand is not null)
                    {
                        steps.Add("remote:drain", $"run the drain command on {string.Join(", ", batch)} (up to {request.DrainTimeout.TotalSeconds:0} s each)", string.Join(",", batch));
                    }

                    steps.Add("autoscaling:TerminateInstanceInAutoScalingGroup", $"{string.Join(", ", batch)} with ShouldDecrementDesiredCapacity (back to {desired})", string.Join(",", batch));
                }
            }

            if (ConnectedBuilders is null)
            {
                steps.Notes.Add("New builders are waited for until InService; their connection to the Services box is not checked (no CloudWatch metrics).");
            }

            return plan;
        }

        public async Task<BuilderRestartResult> ApplyAsync(BuilderRestartPlan plan, CancellationToken ct)
        {
            if (plan is null)
            {
                throw new ArgumentNullException(nameof(plan));
            }

            var timeline = new Timeline(_clock);
            var run = new Run(plan, timeline, Live(plan.Group).Count(m => m.InService));
            DateTime started = _clock();
            BuilderRestartResult Finish(string status)
            {
                return new BuilderRestartResult
                {
                    Region = _region,
                    AutoScalingGroupName = plan.Group.Name,
                    Method = plan.Method,
                    Selection = plan.Request.Selection.ToString(),
                    Configuration = plan.Configuration,
                    DesiredCapacity = plan.Group.DesiredCapacity,
                    BatchSize = plan.BatchSize,
                    Batches = run.BatchesDone,
                    BatchesPlanned = plan.BatchesPlanned,
                    Replaced = run.Replaced.ToList(),
                    Launched = run.Launched.ToList(),
                    MinInService = run.MinInService,
                    InstanceRefreshId = run.RefreshId,
                    Status = status,
                    ConnectionCheck = run.ConnectionCheck ?? (ConnectedBuilders is null ? "NotChecked: no CloudWatch metrics client" : "NotChecked"),
                    Warnings = (plan.BatchSizeNote is null ? run.Warnings : run.Warnings.Prepend(plan.BatchSizeNote)).ToList(),
                    Timeline = timeline.Entries,
                    Duration = _clock() - started,
                };
            }

            if (plan.Targets.Count == 0)
            {
                return Finish("NothingToDo");
            }

            try
            {
                if (plan.Method == "InstanceRefresh")
                {
                    await RefreshAsync(plan, run, ct).ConfigureAwait(false);
                }
                else
                {
                    await RollAsync(plan, run, ct).ConfigureAwait(false);
                }
            }
            finally
            {
                _reporter.Progress(new ProgressUpdate(ActivityId, "Rotating builders of " + plan.Group.Name, "done", completed: true));
            }

            return Finish("Completed");
        }

        private async Task RefreshAsync(BuilderRestartPlan plan, Run run, CancellationToken ct)
        {
            string group = plan.Group.Name;
            string id = await run.Timeline.RunAsync("autoscaling:StartInstanceRefresh", group, async e =>
            {
                string started;
                try
                {
                    started = await _groups.StartInstanceRefreshAsync(group, plan.MinHealthyPercentage, plan.Request.Selection == BuilderSelection.Stale, ct).ConfigureAwait(false);
                }
                catch (CcieException failure)
                {
                    // No client token in Auto Scaling: the call may have started the refresh and lost the answer (its retry
                    // then meets InstanceRefreshInProgress). A refresh running on the group is waited for, not started again.
                    BuilderRefreshState? running = await ActiveRefreshAsync(group, ct).ConfigureAwait(false);
                    if (running is null)
                    {
                        throw;
                    }

                    string warning = $"StartInstanceRefresh on {group} failed ({failure.Message}), but instance refresh {running.InstanceRefreshId} is running on it (this call's, whose answer was lost, or an earlier one's): waiting for it instead of starting another.";
                    run.Warnings.Add(warning);
                    _reporter.Warning(warning);
                    e.Detail = $"{running.InstanceRefreshId} (already running)";
                    return running.InstanceRefreshId;
                }

                e.Detail = $"{started}, MinHealthyPercentage {plan.MinHealthyPercentage}";
                return started;
            }).ConfigureAwait(false);
            run.RefreshId = id;
            _reporter.Verbose($"Instance refresh {id} started on {group}.");
            TimelineEntry wait = run.Timeline.Begin("wait:instance-refresh", id);
            try
            {
                BuilderRefreshState final = await Waiter.UntilAsync(
                    async token =>
                    {
                        BuilderRefreshState? s = await _groups.DescribeInstanceRefreshAsync(group, id, token).ConfigureAwait(false);
                        await SampleAsync(plan, run, token).ConfigureAwait(false);
                        return s ?? new BuilderRefreshState { InstanceRefreshId = id, Status = "Pending" };
                    },
                    s => !s.IsActive,
                    Polling.WithTimeout(TimeSpan.FromTicks(Math.Max(plan.Request.BatchTimeout.Ticks, 1) * Math.Max(1, plan.BatchesPlanned))),
                    $"instance refresh {id} of {group} to finish",
                    group,
                    ct,
                    s => $"{s.Status} {s.PercentageComplete}% {s.StatusReason}",
                    p => _reporter.Progress(new ProgressUpdate(ActivityId, "Rotating builders of " + group, $"instance refresh {p.Last?.Status ?? "starting"}", p.Last?.PercentageComplete))).ConfigureAwait(false);
                if (final.Status != "Successful")
                {
                    throw new CcieException("InstanceRefreshFailed", CcieErrorCategory.InvalidOperation, $"Instance refresh {id} of {group} ended {final.Status}: {final.StatusReason}. See aws autoscaling describe-instance-refreshes --auto-scaling-group-name {group}; rerun Restart-CcieBuilder -Stale to continue.", group);
                }

                run.Timeline.Complete(wait, detail: "Successful");
            }
            catch (OperationCanceledException)
            {
                run.Timeline.Complete(wait, "Cancelled");
                await CleanupAsync("autoscaling:CancelInstanceRefresh", group, token => _groups.CancelInstanceRefreshAsync(group, token), run).ConfigureAwait(false);
                _reporter.Warning($"Stopped: instance refresh {id} was cancelled; Auto Scaling finishes the batch in flight and keeps the group at its size. Rerun Restart-CcieBuilder -Stale to continue.");
                throw;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (wait.Ended is null)
                {
                    run.Timeline.Fail(wait, e);
                }

                throw;
            }

            BuilderGroupState after = await GroupAsync(group, ct).ConfigureAwait(false);
            run.Replaced.AddRange(plan.Targets);
            run.Launched.AddRange(Live(after).Where(m => !plan.Targets.Contains(m.InstanceId, StringComparer.Ordinal) && !IsStale(plan, m)).Select(m => m.InstanceId));
            run.BatchesDone = plan.BatchesPlanned;
        }

        private async Task RollAsync(BuilderRestartPlan plan, Run run, CancellationToken ct)
        {
            string group = plan.Group.Name;
            int desired = plan.Group.DesiredCapacity;
            int originalMax = plan.Group.MaxSize;
            await run.Timeline.RunAsync("ec2:CreateTags", string.Join(",", plan.Targets), async e =>
            {
                var tag = new CreateTagsRequest { Resources = plan.Targets.ToList(), Tags = new List<Tag> { new Tag(PendingTag, _clock().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)) } };
                await AwsCall.RunAsync("ec2:CreateTags", e.Target, token => _ec2.CreateTagsAsync(tag, token), ct).ConfigureAwait(false);
                return true;
            }).ConfigureAwait(false);

            if (ConnectedBuilders is not null)
            {
                BuilderConnectionReading start;
                try
                {
                    start = await ConnectedBuilders(ct).ConfigureAwait(false);
                }
                catch (CcieException e) when (e.Category == CcieErrorCategory.PermissionDenied)
                {
                    // No cloudwatch:ListMetrics/GetMetricData: the rotation still runs, unchecked (and says so).
                    _reporter.Verbose($"CloudWatch cannot be read ({e.Message}).");
                    start = new BuilderConnectionReading(null, null, _clock());
                }

                if (start.Connected is not null)
                {
                    start = await FreshReadingAsync(plan, start, ct).ConfigureAwait(false);
                }

                run.ConnectedAtStart = start.Connected;
                if (start.Connected is null)
                {
                    run.ConnectionCheck = "NotChecked: no circle.state.num-masters data";
                    run.Warnings.Add($"circle.state.num-masters has no (recent) data, so the new builders are only waited for until InService, not until the Services box sees them. Turn on CircleCI's CloudWatch integration to have them checked.");
                    _reporter.Warning(run.Warnings[run.Warnings.Count - 1]);
                }
                else
                {
                    _reporter.Verbose($"The Services box sees {start.Connected} builder(s) before the rotation (circle.state.num-masters at {start.Timestamp:HH:mm:ss}).");
                }
            }

            bool raisedMax = false;
            try
            {
                for (int b = 0; b < plan.BatchesPlanned; b++)
                {
                    ct.ThrowIfCancellationRequested();
                    List<string> batch = plan.Targets.Skip(b * plan.BatchSize).Take(plan.BatchSize).ToList();
                    BuilderGroupState now = await GroupAsync(group, ct).ConfigureAwait(false);
                    batch = batch.Where(id => Live(now).Any(m => m.InstanceId == id)).ToList();   // gone already (replaced by Auto Scaling): nothing to do
                    if (batch.Count == 0)
                    {
                        run.BatchesDone++;
                        continue;
                    }

                    int before = now.DesiredCapacity;
                    int raised = before + batch.Count;
                    if (raised > now.MaxSize)
                    {
                        // Put back at the end even if this call fails: it may have landed with its answer lost.
                        raisedMax = true;
                        try
                        {
                            await run.Timeline.RunAsync("autoscaling:UpdateAutoScalingGroup", group, async e =>
                            {
                                await _groups.SetMaxSizeAsync(group, raised, ct).ConfigureAwait(false);
                                e.Detail = $"MaxSize {now.MaxSize} -> {raised}";
                                return true;
                            }).ConfigureAwait(false);
                        }
                        catch (CcieException failure)
                        {
                            // No client token in Auto Scaling: a look-up decides whether the raise landed.
                            BuilderGroupState? raisedNow = await LookUpAsync(group).ConfigureAwait(false);
                            if (raisedNow is null || raisedNow.MaxSize < raised)
                            {
                                throw;
                            }

                            _reporter.Verbose($"UpdateAutoScalingGroup MaxSize {raised} failed ({failure.Message}), but {group} has MaxSize {raisedNow.MaxSize} already: going on.");
                        }
                    }

                    var known = new HashSet<string>(Live(now).Select(m => m.InstanceId), StringComparer.Ordinal);
                    await RunBatchAsync(plan, run, b, batch, before, raised, known, ct).ConfigureAwait(false);
                }
            }
            finally
            {
                if (raisedMax)
                {
                    await CleanupAsync("autoscaling:UpdateAutoScalingGroup", group, token => SetMaxSizeVerifiedAsync(group, originalMax, token), run, $"MaxSize back to {originalMax}").ConfigureAwait(false);
                }
            }
        }

        private async Task RunBatchAsync(BuilderRestartPlan plan, Run run, int index, List<string> batch, int before, int raised, HashSet<string> known, CancellationToken ct)
        {
            string group = plan.Group.Name;
            string label = $"batch {index + 1}/{plan.BatchesPlanned}";
            try
            {
                await run.Timeline.RunAsync("autoscaling:SetDesiredCapacity", group, async e =>
                {
                    await _groups.SetDesiredCapacityAsync(group, raised, ct).ConfigureAwait(false);
                    e.Detail = $"{label}: {before} -> {raised}";
                    return true;
                }).ConfigureAwait(false);
            }
            catch (Exception failure) when (failure is CcieException || failure is OperationCanceledException)
            {
                // No client token in Auto Scaling: the raise may have happened with its answer lost. A look-up decides
                // whether the batch goes on (raised) or the group is put back (anything it launched taken back).
                BuilderGroupState? now = await LookUpAsync(group).ConfigureAwait(false);
                if (failure is CcieException && now is not null && now.DesiredCapacity == raised)
                {
                    _reporter.Verbose($"{label}: SetDesiredCapacity failed ({failure.Message}), but {group} is at {raised} already: going on.");
                }
                else
                {
                    List<string> launched = now is null ? new List<string>() : Live(now).Where(m => !known.Contains(m.InstanceId)).Select(m => m.InstanceId).ToList();
                    if (now is null || launched.Count > 0 || now.DesiredCapacity != before)
                    {
                        await TakeBackAsync(plan, run, launched, before, failure is OperationCanceledException ? "stopped" : "batch failed").ConfigureAwait(false);
                    }

                    throw;
                }
            }

            List<string> fresh = new List<string>();
            TimelineEntry wait = run.Timeline.Begin("wait:builders-in-service", group);
            TimelineEntry? connect = null;
            try
            {
                fresh = await Waiter.UntilAsync(
                    async token =>
                    {
                        BuilderGroupState g = await SampleAsync(plan, run, token).ConfigureAwait(false);
                        fresh = Live(g).Where(m => !known.Contains(m.InstanceId)).Select(m => m.InstanceId).ToList();   // taken back if the batch fails or is stopped
                        return Live(g).Where(m => !known.Contains(m.InstanceId) && m.InService).Select(m => m.InstanceId).ToList();
                    },
                    ready => ready.Count >= batch.Count,
                    Polling.WithTimeout(plan.Request.BatchTimeout),
                    $"{batch.Count} new builder(s) of {group} to be InService",
                    group,
                    ct,
                    ready => $"{ready.Count} of {batch.Count} new builder(s) InService",
                    p => _reporter.Progress(new ProgressUpdate(ActivityId, "Rotating builders of " + group, $"{label}: {p.Last?.Count ?? 0} of {batch.Count} new builder(s) in service", Percent(plan, index, p.Last?.Count ?? 0)))).ConfigureAwait(false);
                fresh = fresh.Take(batch.Count).ToList();
                run.Timeline.Complete(wait, detail: $"{label}: {string.Join(", ", fresh)}");

                if (run.ConnectedAtStart is int atStart)
                {
                    connect = run.Timeline.Begin("wait:builders-connected", group);
                    await WaitConnectedAsync(plan, run, label, index, fresh, atStart, ct).ConfigureAwait(false);
                    run.Timeline.Complete(connect, detail: $"{label}: the Services box sees {string.Join(", ", fresh)}");
                }
            }
            catch (OperationCanceledException)
            {
                run.Timeline.Complete(connect ?? wait, "Cancelled");

                // Stopped before the new builders were ready: take them back, the old builders stay as they are.
                await TakeBackAsync(plan, run, fresh, before, "stopped").ConfigureAwait(false);
                _reporter.Warning($"Stopped during {label}: {group} is back at {before} with its old builders; {run.Replaced.Count} builder(s) were replaced. Rerun Restart-CcieBuilder to continue.");
                throw;
            }
            catch (Exception e)
            {
                run.Timeline.Fail(connect ?? wait, e);
                await TakeBackAsync(plan, run, fresh, before, "batch failed").ConfigureAwait(false);
                throw;
            }

            run.Launched.AddRange(fresh);

            // The batch's new builders are in service: finish it even if Ctrl+C comes now (a few API calls, each with its
            // own time limit once stopped), so the group is not left above its size with both the old and the new builders.
            bool stopping = ct.IsCancellationRequested;
            foreach (string old in batch)
            {
                if (plan.Request.DrainCommand is not null && !stopping)
                {
                    try
                    {
                        await DrainAsync(plan, run, old, ct).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (ct.IsCancellationRequested)
                    {
                        stopping = true;
                    }
                }

                if (!stopping)
                {
                    try
                    {
                        await run.Timeline.RunAsync("autoscaling:TerminateInstanceInAutoScalingGroup", old, async e =>
                        {
                            await TerminateOldAsync(group, old, ct).ConfigureAwait(false);
                            e.Detail = "ShouldDecrementDesiredCapacity";
                            return true;
                        }).ConfigureAwait(false);
                        run.Replaced.Add(old);
                        continue;
                    }
                    catch (OperationCanceledException) when (ct.IsCancellationRequested)
                    {
                        stopping = true;
                    }
                    catch (CcieException e)
                    {
                        // The old builder cannot be terminated: back to the size before the batch (Auto Scaling picks the surplus).
                        await CleanupAsync("autoscaling:SetDesiredCapacity", group, token => _groups.SetDesiredCapacityAsync(group, before, token), run, $"back to {before} ({old} could not be terminated: {e.Message})").ConfigureAwait(false);
                        throw;
                    }
                }

                if (await CleanupAsync("autoscaling:TerminateInstanceInAutoScalingGroup", old, token => TerminateOldAsync(group, old, token), run, "ShouldDecrementDesiredCapacity (finishing the batch after Ctrl+C)").ConfigureAwait(false))
                {
                    run.Replaced.Add(old);
                }
                else
                {
                    await CleanupAsync("autoscaling:SetDesiredCapacity", group, token => _groups.SetDesiredCapacityAsync(group, before, token), run, $"back to {before} ({old} could not be terminated while stopping)").ConfigureAwait(false);
                    break;
                }
            }

            run.BatchesDone++;
            if (stopping)
            {
                string drained = plan.Request.DrainCommand is null ? string.Empty : " (those not drained yet without draining)";
                _reporter.Warning($"Stopped after {label}: its old builders were terminated{drained} to keep {group} at its size; {run.Replaced.Count} builder(s) were replaced. Rerun Restart-CcieBuilder to continue.");
                ct.ThrowIfCancellationRequested();
            }

            _reporter.Verbose($"{label}: replaced {string.Join(", ", batch)} with {string.Join(", ", fresh)}.");
        }

        /// <summary>
        /// Waits until a data point taken after the batch's new builders were in service counts them: at least the old
        /// builders seen at the start less those replaced since (had they all been the connected ones), plus every
        /// builder launched so far. Times out with BuildersNotConnected.
        /// </summary>
        private async Task WaitConnectedAsync(BuilderRestartPlan plan, Run run, string label, int index, List<string> fresh, int atStart, CancellationToken ct)
        {
            string group = plan.Group.Name;
            int expected = Math.Max(0, atStart - run.Replaced.Count) + run.Launched.Count + fresh.Count;
            BuilderConnectionReading mark = await ConnectedBuilders!(ct).ConfigureAwait(false);
            DateTime after = mark.Now;
            BuilderConnectionReading last = mark;
            try
            {
                await Waiter.UntilAsync(
                    async token =>
                    {
                        last = await ConnectedBuilders!(token).ConfigureAwait(false);
                        return last;
                    },
                    r => r.Timestamp is DateTime t && t >= after && r.Connected >= expected,
                    Polling.WithTimeout(plan.Request.ConnectTimeout),
                    $"the Services box to see the {fresh.Count} new builder(s) of {group}",
                    group,
                    ct,
                    r => Seen(r, after),
                    p => _reporter.Progress(new ProgressUpdate(ActivityId, "Rotating builders of " + group, $"{label}: waiting for the Services box to see {fresh.Count} new builder(s) ({Seen(p.Last ?? mark, after)}, {expected} expected)", Percent(plan, index, fresh.Count)))).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.ErrorId == "WaitTimedOut")
            {
                throw new CcieException(
                    "BuildersNotConnected",
                    CcieErrorCategory.OperationTimeout,
                    $"The {fresh.Count} new builder(s) of {group} ({string.Join(", ", fresh)}) are InService, but after {plan.Request.ConnectTimeout.TotalSeconds:0} s the Services box still does not see them ({Seen(last, after)}; {expected} expected). They were taken back and the remaining old builders left as they are. Check the group's SERVICES_PRIVATE_IP and CIRCLE_SECRET_PASSPHRASE (Get-CcieBuilder -Summary; Set-CcieBuilderConfiguration), then rerun Restart-CcieBuilder.",
                    group,
                    e);
            }

            run.ConnectionCheck = "Connected (circle.state.num-masters)";
        }

        /// <summary>
        /// The baseline: a data point taken after the rotation started (an older one may be from before a restore or of
        /// builders gone since). Not checked (Connected null) when none comes within the connect timeout.
        /// </summary>
        private async Task<BuilderConnectionReading> FreshReadingAsync(BuilderRestartPlan plan, BuilderConnectionReading first, CancellationToken ct)
        {
            DateTime after = first.Now;
            string group = plan.Group.Name;
            try
            {
                return await Waiter.UntilAsync(
                    token => ConnectedBuilders!(token),
                    r => r.Timestamp is DateTime t && t >= after && r.Connected is not null,
                    Polling.WithTimeout(plan.Request.ConnectTimeout),
                    $"a circle.state.num-masters data point after {after:HH:mm:ss}",
                    group,
                    ct,
                    r => Seen(r, after),
                    p => _reporter.Progress(new ProgressUpdate(ActivityId, "Rotating builders of " + group, $"waiting for a fresh circle.state.num-masters data point (how many builders the Services box sees now)", 0))).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.ErrorId == "WaitTimedOut")
            {
                return new BuilderConnectionReading(null, null, after);
            }
        }

        private static string Seen(BuilderConnectionReading r, DateTime after) =>
            r.Connected is null ? "no circle.state.num-masters data"
            : r.Timestamp < after ? $"no circle.state.num-masters data point since {after:HH:mm:ss} yet (the last said {r.Connected} builder(s))"
            : $"circle.state.num-masters says {r.Connected} builder(s)";

        private static int Percent(BuilderRestartPlan plan, int index, int done) =>
            (int)Math.Min(100, 100.0 * ((index * plan.BatchSize) + done) / Math.Max(1, plan.Targets.Count));

        /// <summary>
        /// A batch that did not finish: its new builders are terminated with a decrement (Auto Scaling's own scale-in
        /// might pick an old builder instead), and desired capacity put back if none had appeared yet.
        /// </summary>
        private async Task TakeBackAsync(BuilderRestartPlan plan, Run run, List<string> fresh, int before, string why)
        {
            string group = plan.Group.Name;
            foreach (string id in fresh)
            {
                await CleanupAsync("autoscaling:TerminateInstanceInAutoScalingGroup", id, token => _groups.TerminateInstanceAsync(id, true, token), run, $"new builder taken back ({why})").ConfigureAwait(false);
            }

            await CleanupAsync("autoscaling:SetDesiredCapacity", group, token => _groups.SetDesiredCapacityAsync(group, before, token), run, $"back to {before} ({why})").ConfigureAwait(false);
        }

        private async Task DrainAsync(BuilderRestartPlan plan, Run run, string instanceId, CancellationToken ct)
        {
            TimelineEntry e = run.Timeline.Begin("remote:drain", instanceId);
            if (OpenBuilderShell is null)
            {
                run.Timeline.Complete(e, "Skipped", detail: "no remote shell to the builders");
                run.Warnings.Add($"{instanceId} was not drained: no remote shell to the builders.");
                return;
            }

            try
            {
                using IRemoteShell shell = await OpenBuilderShell(instanceId, ct).ConfigureAwait(false);
                RemoteResult r = await shell.RunAsync(new RemoteCommand(plan.Request.DrainCommand!) { Timeout = plan.Request.DrainTimeout, Sudo = false }, ct).ConfigureAwait(false);
                if (r.ExitCode == 0)
                {
                    run.Timeline.Complete(e, detail: $"exit 0 after {r.Duration.TotalSeconds:0.0} s");
                }
                else
                {
                    string why = SecretMask.LastLine(r.Stderr.Length > 0 ? r.Stderr : r.Stdout);
                    run.Timeline.Complete(e, "Failed", detail: $"exit {r.ExitCode}: {why}");
                    run.Warnings.Add($"The drain command on {instanceId} exited with {r.ExitCode} ({why}); the builder was terminated anyway.");
                    _reporter.Warning(run.Warnings[run.Warnings.Count - 1]);
                }
            }
            catch (CcieException ex)
            {
                run.Timeline.Complete(e, "Failed", detail: ex.Message);
                run.Warnings.Add($"{instanceId} could not be drained ({ex.Message}); the builder was terminated anyway.");
                _reporter.Warning(run.Warnings[run.Warnings.Count - 1]);
            }
        }

        /// <summary>
        /// A call that must happen even when the run was stopped: its own short time limit instead of the stop token.
        /// False (with a warning) when it failed.
        /// </summary>
        private async Task<bool> CleanupAsync(string action, string target, Func<CancellationToken, Task> call, Run run, string? detail = null)
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await run.Timeline.RunAsync(action, target, async e =>
                {
                    await call(limit.Token).ConfigureAwait(false);
                    e.Detail = detail;
                    return true;
                }).ConfigureAwait(false);
                return true;
            }
            catch (Exception e) when (e is CcieException || e is OperationCanceledException)
            {
                string warning = $"Could not {action} on {target} while stopping ({e.Message}): check the group's size (Get-CcieBuilder).";
                run.Warnings.Add(warning);
                _reporter.Warning(warning);
                return false;
            }
        }

        /// <summary>
        /// Terminates an old builder with a decrement. Auto Scaling has no client token: when the call fails, a look-up
        /// decides; a builder already terminating or gone (the first attempt landed, its answer was lost) counts as done,
        /// so its desired capacity is never decremented twice.
        /// </summary>
        private async Task TerminateOldAsync(string group, string instanceId, CancellationToken ct)
        {
            try
            {
                await _groups.TerminateInstanceAsync(instanceId, true, ct).ConfigureAwait(false);
            }
            catch (CcieException failure)
            {
                BuilderGroupState? now = await LookUpAsync(group).ConfigureAwait(false);
                if (now is null || Live(now).Any(m => m.InstanceId == instanceId))
                {
                    throw;
                }

                _reporter.Verbose($"TerminateInstanceInAutoScalingGroup {instanceId} failed ({failure.Message}), but it is leaving {group} already.");
            }
        }

        /// <summary>Sets MaxSize; a failed call whose change is found made (its answer lost) counts as done.</summary>
        private async Task SetMaxSizeVerifiedAsync(string group, int maxSize, CancellationToken ct)
        {
            try
            {
                await _groups.SetMaxSizeAsync(group, maxSize, ct).ConfigureAwait(false);
            }
            catch (CcieException)
            {
                BuilderGroupState? now = await LookUpAsync(group).ConfigureAwait(false);
                if (now is null || now.MaxSize != maxSize)
                {
                    throw;
                }
            }
        }

        /// <summary>The group after a failed call, read with its own time limit (null when that fails too).</summary>
        private async Task<BuilderGroupState?> LookUpAsync(string group)
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                return await GroupAsync(group, limit.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is CcieException || e is OperationCanceledException)
            {
                return null;
            }
        }

        /// <summary>The group's running instance refresh (null when none, or when the look-up fails).</summary>
        private async Task<BuilderRefreshState?> ActiveRefreshAsync(string group, CancellationToken ct)
        {
            try
            {
                return await _groups.DescribeActiveInstanceRefreshAsync(group, ct).ConfigureAwait(false);
            }
            catch (CcieException)
            {
                return null;
            }
        }

        private async Task<BuilderGroupState> SampleAsync(BuilderRestartPlan plan, Run run, CancellationToken ct)
        {
            BuilderGroupState g = await GroupAsync(plan.Group.Name, ct).ConfigureAwait(false);
            run.MinInService = Math.Min(run.MinInService, Live(g).Count(m => m.InService));
            return g;
        }

        private async Task<BuilderGroupState> GroupAsync(string name, CancellationToken ct)
        {
            IReadOnlyList<BuilderGroupState> groups = await _groups.DescribeGroupsAsync(new[] { name }, ct).ConfigureAwait(false);
            return groups.FirstOrDefault(g => g.Name == name) ?? throw new CcieException("AutoScalingGroupNotFound", CcieErrorCategory.ObjectNotFound, $"The Auto Scaling group {name} is gone.", name);
        }

        private async Task<List<string>> SelectAsync(BuilderRestartPlan plan, List<BuilderGroupMember> live, BuilderRestartRequest request, CancellationToken ct)
        {
            switch (request.Selection)
            {
                case BuilderSelection.Instances:
                    List<string> unknown = request.InstanceIds.Where(id => live.All(m => m.InstanceId != id)).ToList();
                    if (unknown.Count > 0)
                    {
                        throw new CcieException("BuilderNotInGroup", CcieErrorCategory.ObjectNotFound, $"{string.Join(", ", unknown)} {(unknown.Count == 1 ? "is" : "are")} not a running member of {plan.Group.Name}. Get-CcieBuilder lists the members.", string.Join(",", unknown));
                    }

                    return request.InstanceIds.Distinct(StringComparer.Ordinal).ToList();
                case BuilderSelection.Stale:
                    IReadOnlyCollection<string> judged = InventoryStale is null
                        ? Array.Empty<string>()
                        : await InventoryStale(plan.Group.Name, ct).ConfigureAwait(false);
                    var stale = new HashSet<string>(judged, StringComparer.Ordinal);
                    return live.Where(m => IsStale(plan, m) || stale.Contains(m.InstanceId)).Select(m => m.InstanceId).ToList();
                default:
                    // A rerun continues where the stopped one was: the builders it had tagged and not yet replaced.
                    List<string> pending = await PendingAsync(live, ct).ConfigureAwait(false);
                    if (pending.Count > 0)
                    {
                        plan.Resumed = true;
                        plan.Steps.Notes.Add($"Continuing an earlier rotation: {pending.Count} builder(s) still carry {PendingTag}.");
                        return pending;
                    }

                    return live.Select(m => m.InstanceId).ToList();
            }
        }

        private async Task<List<string>> PendingAsync(List<BuilderGroupMember> live, CancellationToken ct)
        {
            if (live.Count == 0)
            {
                return new List<string>();
            }

            var request = new DescribeInstancesRequest
            {
                Filters = new List<Filter> { Ec2Extensions.Filter("instance-id", live.Select(m => m.InstanceId).ToArray()), Ec2Extensions.Filter("tag-key", PendingTag) },
            };
            IReadOnlyList<Instance> tagged = await AwsCall.RunAsync("ec2:DescribeInstances", "tag-key " + PendingTag, token => _ec2.DescribeAllInstancesAsync(request, token), ct).ConfigureAwait(false);
            var ids = new HashSet<string>(tagged.Select(i => i.InstanceId), StringComparer.Ordinal);
            return live.Where(m => ids.Contains(m.InstanceId)).Select(m => m.InstanceId).ToList();
        }

        internal static bool IsStale(BuilderRestartPlan plan, BuilderGroupMember m)
        {
            if (plan.CurrentTemplateId is not null)
            {
                return !string.Equals(m.LaunchTemplateId, plan.CurrentTemplateId, StringComparison.Ordinal) || !string.Equals(m.LaunchTemplateVersion, plan.CurrentVersion, StringComparison.Ordinal);
            }

            return !string.Equals(m.LaunchConfigurationName, plan.Group.LaunchConfigurationName, StringComparison.Ordinal);
        }

        /// <summary>The batch: given, else desired − ceil(desired × MinHealthyPercent / 100), at least 1.</summary>
        /// <remarks>
        /// A given batch size at or above desired capacity is clamped to desired − 1 (at least 1): a batch that replaced
        /// every builder at once would leave none in service if it failed, and an instance refresh would be allowed to
        /// take them all out together.
        /// </remarks>
        public static int BatchSizeFor(int desired, int? batchSize, int? minHealthyPercent)
        {
            if (batchSize is not null)
            {
                int b = Math.Max(1, batchSize.Value);
                return desired > 1 && b >= desired ? desired - 1 : b;
            }

            int keep = (int)Math.Ceiling(desired * (minHealthyPercent ?? 90) / 100.0);
            return Math.Max(1, desired - keep);
        }

        private static IEnumerable<BuilderGroupMember> Live(BuilderGroupState g) =>
            g.Members.Where(m => !m.LifecycleState.StartsWith("Terminat", StringComparison.Ordinal) && !m.LifecycleState.StartsWith("Detach", StringComparison.Ordinal));

        private sealed class Run
        {
            public Run(BuilderRestartPlan plan, Timeline timeline, int inService)
            {
                Plan = plan;
                Timeline = timeline;
                MinInService = inService;
            }

            public BuilderRestartPlan Plan { get; }

            public Timeline Timeline { get; }

            public int MinInService { get; set; }

            public int BatchesDone { get; set; }

            public List<string> Replaced { get; } = new List<string>();

            public List<string> Launched { get; } = new List<string>();

            public List<string> Warnings { get; } = new List<string>();

            public string? RefreshId { get; set; }

            public string? ConnectionCheck { get; set; }

            /// <summary>Builders the Services box saw at the start (null: not checked).</summary>
            public int? ConnectedAtStart { get; set; }
        }
    }
}
