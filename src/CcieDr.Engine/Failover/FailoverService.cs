using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;

namespace CcieDr.Engine.Failover
{
    /// <summary>
    /// The fenced failover: decide (health), fence (prove the primary dead or stop it), promote (start the replica,
    /// check /data), re-address (move the floating IP or ENI, or apply the IP-change fix-ups and reconfigure the
    /// builders), start and verify, then move the box's identity tag. The step reached is kept in the replica's
    /// tags, so a rerun continues from the first unfinished step and never repeats a destructive one.
    /// The IP never moves and the app never starts on the replica before the primary is fenced.
    /// </summary>
    public sealed partial class FailoverService
    {
        private readonly IAmazonEC2 _ec2;
        private readonly string _region;
        private readonly IFailoverHooks _hooks;
        private readonly IOperationReporter _reporter;

        public FailoverService(IAmazonEC2 ec2, string region, IFailoverHooks hooks, IOperationReporter? reporter = null)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
            _hooks = hooks ?? throw new ArgumentNullException(nameof(hooks));
            _reporter = reporter ?? NullReporter.Instance;
            StepHook = HoldAtStepFromEnvironment();
        }

        /// <summary>
        /// The client the fence's StopInstances goes through: one whose SDK does not retry (MaxErrorRetry 0), so the
        /// engine's own policy (<see cref="FenceAttempts"/>) is the only retry and a primary whose AZ fails is refused
        /// (or assumed dead) in well under a second instead of after the SDK's backoff. Null: the service's client.
        /// </summary>
        public IAmazonEC2? FenceEc2 { get; set; }

        /// <summary>Attempts of the fence's StopInstances on a transient failure (an AZ outage answers 500s): one retry. Default 2.</summary>
        public int FenceAttempts { get; set; } = 2;

        private IAmazonEC2 FenceClient => FenceEc2 ?? _ec2;

        private AwsRetryPolicy FenceRetry() => AwsRetryPolicy.Default(Math.Max(1, FenceAttempts));

        /// <summary>Test hook: called right after each step is durable (its tag written).</summary>
        internal Func<string, Task>? StepHook { get; set; }

        internal WaitOptions? Polling { get; set; }

        internal Func<DateTime> Clock { get; set; } = () => DateTime.UtcNow;

        private WaitOptions Wait(TimeSpan timeout) => (Polling ?? WaitOptions.Default()).WithTimeout(timeout);

        /// <summary>
        /// For process-level kill tests only: with CCIEDR_TEST_HOLD_AT_STEP=&lt;failover step&gt; (decided, fenced,
        /// promoted, readdressed, started) the failover stops for up to 120 s right after that step is durable.
        /// Unset (always, outside those tests) it does nothing.
        /// </summary>
        private static Func<string, Task>? HoldAtStepFromEnvironment()
        {
            string? hold = Environment.GetEnvironmentVariable("CCIEDR_TEST_HOLD_AT_STEP");
            if (string.IsNullOrEmpty(hold))
            {
                return null;
            }

            return step => string.Equals(step, hold, StringComparison.Ordinal) ? Task.Delay(TimeSpan.FromSeconds(120)) : Task.CompletedTask;
        }

        /// <summary>Finds the primary and the replica, reads what an earlier run did and judges the primary: read-only.</summary>
        public async Task<FailoverPlan> PlanAsync(FailoverRequest request, CancellationToken ct)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            (Instance primary, Instance? finishedBox) = await FindPrimaryAsync(request, ct).ConfigureAwait(false);
            Instance replica = finishedBox ?? await FindReplicaAsync(request, primary, ct).ConfigureAwait(false);
            var plan = new FailoverPlan { Request = request, Primary = primary, Replica = replica, Started = Clock() };
            plan.PrimaryName = FailoverEc2.TagOrNull(primary, RecoveryTags.Name) is { } n && !n.EndsWith(FailoverTags.FencedNameSuffix, StringComparison.Ordinal) ? n : request.Name;
            if (FailoverEc2.TagOrNull(replica, FailoverTags.FailoverPrimary) == primary.InstanceId)
            {
                plan.DoneStep = FailoverEc2.TagOrNull(replica, FailoverTags.FailoverStep);
                plan.Started = FailoverEc2.ParseStamp(FailoverEc2.TagOrNull(replica, FailoverTags.FailoverStarted)) ?? plan.Started;
            }

            var facts = new AddressingFacts
            {
                ReplicaSubnetId = replica.SubnetId,
                ReplicaAvailabilityZone = replica.Placement?.AvailabilityZone,
                ReplicaIp = replica.PrivateIpAddress,
            };
            ReplicaModes.ReadPrimary(facts, primary);
            plan.Facts = facts;
            if (plan.Resumed && FailoverEc2.TagOrNull(replica, FailoverTags.FailoverMode) is { } recorded && Enum.TryParse(recorded, out ReplicaMode mode))
            {
                plan.Mode = mode;
                plan.BuildersIp = FailoverEc2.TagOrNull(replica, FailoverTags.FailoverOldIp) ?? ReplicaModes.BuildersIp(facts, mode) ?? string.Empty;
                if (mode == ReplicaMode.FloatingIp)
                {
                    facts.FloatingIp = plan.BuildersIp;
                }
            }
            else
            {
                plan.Mode = ReplicaModes.Determine(facts);
                plan.BuildersIp = ReplicaModes.BuildersIp(facts, plan.Mode) ?? string.Empty;
            }

            plan.NewIp = plan.Mode == ReplicaMode.NewIp ? replica.PrivateIpAddress : plan.BuildersIp;
            plan.ModeDescription = ReplicaModes.Describe(facts, plan.Mode);
            plan.ReplicationCheckCommand = request.ReplicationCheckCommand ?? FailoverEc2.TagOrNull(replica, ReplicaService.ReplicationCheckTag);
            plan.PrimaryHealth = await FailoverEc2.HealthAsync(_ec2, primary.InstanceId, ct).ConfigureAwait(false);
            if (!plan.AlreadyDone && FailoverSteps.IndexOf(plan.DoneStep) < FailoverSteps.IndexOf(FailoverSteps.Fenced) && plan.PrimaryHealth.State == "running")
            {
                try
                {
                    plan.PrimaryVerdict = await _hooks.CheckHealthAsync(new FailoverBox(primary.InstanceId, primary.PrivateIpAddress, FailoverBoxRole.Primary), ct).ConfigureAwait(false);
                }
                catch (CcieException e)
                {
                    plan.PrimaryVerdict = new BoxVerdict(false, "Unknown", e.Message);
                }
            }

            plan.Refusal = Judge(plan);
            plan.Operation = Render(plan);
            return plan;
        }

        private static CcieException? Judge(FailoverPlan plan)
        {
            if (plan.AlreadyDone)
            {
                return null;
            }

            FailoverRequest r = plan.Request;
            string p = plan.Primary.InstanceId;
            string replicaState = plan.Replica.State?.Name?.Value ?? "unknown";
            if (replicaState is "terminated" or "shutting-down")
            {
                return new CcieException("ReplicaGone", CcieErrorCategory.ResourceUnavailable, $"Replica {plan.Replica.InstanceId} is {replicaState}. Launch another: New-CcieReplica -InstanceId {p}", plan.Replica.InstanceId);
            }

            int done = FailoverSteps.IndexOf(plan.DoneStep);
            if (done < FailoverSteps.IndexOf(FailoverSteps.Fenced) && plan.PrimaryVerdict is { Healthy: true } v && !r.Planned)
            {
                return new CcieException("PrimaryHealthy", CcieErrorCategory.InvalidOperation, $"The primary {p} is healthy ({v.Reason}): a failover is not warranted and would stop a box that serves the builders. For a planned switchover (stop the app here, then promote the replica) rerun with -Planned.", p);
            }

            if (done < FailoverSteps.IndexOf(FailoverSteps.Fenced) && plan.PrimaryHealth.Healthy && plan.PrimaryVerdict is { Verdict: "Unknown" } u && !r.Planned)
            {
                // EC2 says healthy and the app could not be asked: nothing proves the primary down.
                return new CcieException("PrimaryNotProvenDown", CcieErrorCategory.InvalidOperation, $"EC2 says the primary {p} is healthy (running, status checks ok) and its app could not be checked ({u.Reason}). Nothing proves it down, so it is not stopped. Check it (Test-CcieServicesBox -InstanceId {p}); if it must go, stop it yourself (aws ec2 stop-instances --instance-ids {p}) and rerun, or switch over deliberately with -Planned.", p);
            }

            if (done >= FailoverSteps.IndexOf(FailoverSteps.Fenced) && plan.PrimaryHealth.State is "running" or "pending"
                && FailoverEc2.TagOrNull(plan.Replica, FailoverTags.FailoverAssumedDead) is null)
            {
                return new CcieException("FencedPrimaryRunning", CcieErrorCategory.InvalidOperation, $"The primary {p} was fenced by this failover ({FailoverEc2.TagOrNull(plan.Primary, FailoverTags.Fenced)}) but is {plan.PrimaryHealth.State} again: someone started it, and it may serve the builders. Stop it (aws ec2 stop-instances --force --instance-ids {p}), then rerun.", p);
            }

            return null;
        }

        private static OperationPlan Render(FailoverPlan plan)
        {
            FailoverRequest r = plan.Request;
            string p = plan.Primary.InstanceId;
            string rep = plan.Replica.InstanceId;
            int done = FailoverSteps.IndexOf(plan.DoneStep);
            string Mark(string step) => FailoverSteps.IndexOf(step) <= done ? " (done by an earlier run)" : string.Empty;
            var op = new OperationPlan("Invoke-CcieFailover", $"{p} -> {rep}");
            if (plan.AlreadyDone)
            {
                op.Notes.Add($"The failover from {p} to {rep} is finished: nothing to do.");
                return op;
            }

            op.Add("decide:health", $"primary {p}: EC2 {plan.PrimaryHealth}{(plan.PrimaryVerdict is null ? string.Empty : "; verdict " + plan.PrimaryVerdict)}{Mark(FailoverSteps.Decided)}");
            if (r.Planned)
            {
                op.Add("app:stop", $"stop the CircleCI app on {p} (planned switchover){Mark(FailoverSteps.Decided)}");
                if (r.FinalSyncCommand is not null)
                {
                    op.Add("remote:final-sync", r.FinalSyncCommand + Mark(FailoverSteps.Decided));
                }
            }

            op.Add("ec2:CreateTags", $"{rep} ccie:failover-primary={p} ccie:failover-mode={plan.Mode} (the failover's state){Mark(FailoverSteps.Decided)}");
            op.Add(plan.PrimaryHealth.Dead ? "fence:already-stopped" : "ec2:StopInstances", (plan.PrimaryHealth.Dead ? $"{p} is {plan.PrimaryHealth.State}: EC2 proves it dead" : $"InstanceIds={p} Force=true, then wait until stopped (timeout {r.FenceTimeout.TotalSeconds:0}s){(r.AssumePrimaryDead ? "; if EC2 cannot stop it, -AssumePrimaryDead is recorded" : "; if EC2 cannot stop it the failover refuses")}") + Mark(FailoverSteps.Fenced));
            op.Add("ec2:CreateTags", $"{p} ccie:fenced=<how> <time>{Mark(FailoverSteps.Fenced)}");
            string data = FailoverEc2.TagOrNull(plan.Replica, FailoverTags.DataFrom) == nameof(ReplicaDataSource.RecoveryPoint) ? "; refresh /data from the newest recovery point if newer than the replica's" : string.Empty;
            op.Add("ec2:StartInstances", $"{rep} ({plan.Replica.State?.Name?.Value}), wait for status checks{data}{Mark(FailoverSteps.Promoted)}");
            if (plan.ReplicationCheckCommand is not null)
            {
                op.Add("remote:replication-check", plan.ReplicationCheckCommand + Mark(FailoverSteps.Promoted));
            }

            if (r.PromoteCommand is not null)
            {
                op.Add("remote:promote", r.PromoteCommand + Mark(FailoverSteps.Promoted));
            }

            switch (plan.Mode)
            {
                case ReplicaMode.FloatingIp:
                    op.Add("ec2:AssignPrivateIpAddresses", $"PrivateIpAddress={plan.BuildersIp} to {rep}'s interface AllowReassignment=true; verify it is on {rep} and gone from {p}{Mark(FailoverSteps.Readdressed)}");
                    break;
                case ReplicaMode.MovableEni:
                    op.Add("ec2:DetachNetworkInterface", $"{plan.Facts.MovableEniId} ({plan.BuildersIp}) from {p} Force=true{Mark(FailoverSteps.Readdressed)}");
                    op.Add("ec2:AttachNetworkInterface", $"{plan.Facts.MovableEniId} to {rep} DeviceIndex=1; verify{Mark(FailoverSteps.Readdressed)}");
                    break;
                default:
                    op.Add("remote:ip-fixups", $"/etc/default/replicated, /etc/default/replicated-operator on {rep}: {plan.BuildersIp} -> {plan.NewIp}{Mark(FailoverSteps.Readdressed)}");
                    op.Add("builders:reconfigure", $"SERVICES_PRIVATE_IP={plan.NewIp}, CIRCLE_SECRET_PASSPHRASE, rotate the builders{Mark(FailoverSteps.Readdressed)}");
                    break;
            }

            op.Add("app:start", $"start the CircleCI app on {rep}, wait until it serves, health verdict{Mark(FailoverSteps.Started)}");
            op.Add("ec2:CreateTags", $"{rep} Name={plan.PrimaryName} ccie:role=primary; {p} Name={plan.PrimaryName}{FailoverTags.FencedNameSuffix}");
            op.Notes.Add(plan.ModeDescription);
            if (plan.Refusal is not null)
            {
                op.Notes.Add("REFUSED: " + plan.Refusal.Message);
            }

            return op;
        }

        private async Task<(Instance Primary, Instance? FinishedBox)> FindPrimaryAsync(FailoverRequest request, CancellationToken ct)
        {
            Instance box;
            if (request.InstanceId is { } id)
            {
                box = await FailoverEc2.GetInstanceAsync(_ec2, id, ct).ConfigureAwait(false);
            }
            else
            {
                IReadOnlyList<Instance> named = await AwsCall.RunAsync("ec2:DescribeInstances", "tag Name=" + request.Name, token => _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest
                {
                    Filters = new List<Filter> { Ec2Extensions.Filter("tag:Name", request.Name), Ec2Extensions.Filter("instance-state-name", "pending", "running", "stopping", "stopped") },
                }, token), ct).ConfigureAwait(false);
                if (named.Count > 1)
                {
                    throw new CcieException("ServicesBoxAmbiguous", CcieErrorCategory.InvalidArgument, $"{named.Count} instances in {_region} are tagged Name={request.Name} ({string.Join(", ", named.Select(i => i.InstanceId + " " + i.State?.Name?.Value))}). Name the primary with -InstanceId.", request.Name);
                }

                if (named.Count == 0)
                {
                    // A run interrupted between renaming the old box and naming the new one: find it by its state tag.
                    IReadOnlyList<Instance> inProgress = await AwsCall.RunAsync("ec2:DescribeInstances", "tag-key " + FailoverTags.FailoverStep, token => _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest
                    {
                        Filters = new List<Filter> { Ec2Extensions.Filter("tag-key", FailoverTags.FailoverStep), Ec2Extensions.Filter("instance-state-name", "pending", "running", "stopping", "stopped") },
                    }, token), ct).ConfigureAwait(false);
                    Instance? resumable = inProgress.FirstOrDefault(i => FailoverEc2.Tag(i, FailoverTags.FailoverStep) != FailoverSteps.Done);
                    if (resumable is null)
                    {
                        throw new CcieException("ServicesBoxNotFound", CcieErrorCategory.ObjectNotFound, $"No Services box found in {_region} with tag Name={request.Name}. Check -Region, or name the primary with -InstanceId.", request.Name);
                    }

                    return (await FailoverEc2.GetInstanceAsync(_ec2, FailoverEc2.Tag(resumable, FailoverTags.FailoverPrimary), ct).ConfigureAwait(false), null);
                }

                box = named[0];
            }

            if (FailoverEc2.Tag(box, FailoverTags.FailoverStep) == FailoverSteps.Done && FailoverEc2.TagOrNull(box, FailoverTags.FailoverPrimary) is { } old)
            {
                // The box found is the new box of a finished failover: report it, change nothing.
                Instance? oldPrimary = await FailoverEc2.FindInstanceAsync(_ec2, old, ct).ConfigureAwait(false);
                if (request.ReplicaId is null || request.ReplicaId == box.InstanceId)
                {
                    return (oldPrimary ?? box, box);
                }
            }

            return (box, null);
        }

        private async Task<Instance> FindReplicaAsync(FailoverRequest request, Instance primary, CancellationToken ct)
        {
            if (request.ReplicaId is { } id)
            {
                Instance r = await FailoverEc2.GetInstanceAsync(_ec2, id, ct).ConfigureAwait(false);
                if (FailoverEc2.Tag(r, FailoverTags.PrimaryInstanceId) != primary.InstanceId && FailoverEc2.Tag(r, FailoverTags.FailoverPrimary) != primary.InstanceId)
                {
                    throw new CcieException("NotAReplicaOfPrimary", CcieErrorCategory.InvalidArgument, $"{id} is not a replica of {primary.InstanceId} (tag ccie:primary-instance-id is '{FailoverEc2.Tag(r, FailoverTags.PrimaryInstanceId)}'). List the replicas with Get-CcieReplica -InstanceId {primary.InstanceId}.", id);
                }

                return r;
            }

            IReadOnlyList<Instance> candidates = await AwsCall.RunAsync("ec2:DescribeInstances", "replicas of " + primary.InstanceId, token => _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest
            {
                Filters = new List<Filter> { Ec2Extensions.Filter("tag:" + FailoverTags.PrimaryInstanceId, primary.InstanceId), Ec2Extensions.Filter("instance-state-name", "pending", "running", "stopping", "stopped") },
            }, token), ct).ConfigureAwait(false);
            Instance? inProgress = candidates.FirstOrDefault(i => FailoverEc2.Tag(i, FailoverTags.FailoverPrimary) == primary.InstanceId);
            if (inProgress is not null)
            {
                return inProgress;
            }

            List<Instance> replicas = candidates.Where(i => FailoverEc2.Tag(i, FailoverTags.Role) == FailoverTags.RoleReplica).ToList();
            if (replicas.Count == 1)
            {
                return replicas[0];
            }

            throw replicas.Count == 0
                ? new CcieException("NoReplica", CcieErrorCategory.ObjectNotFound, $"{primary.InstanceId} has no replica in {_region}. Launch one first: New-CcieReplica -InstanceId {primary.InstanceId}", primary.InstanceId)
                : new CcieException("ReplicaAmbiguous", CcieErrorCategory.InvalidArgument, $"{primary.InstanceId} has {replicas.Count} replicas ({string.Join(", ", replicas.Select(i => $"{i.InstanceId} in {i.Placement?.AvailabilityZone}"))}). Choose one with -ReplicaId.", primary.InstanceId);
        }
    }
}
