using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Failover
{
    public sealed partial class FailoverService
    {
        /// <summary>Carries out the plan from the first unfinished step; throws the plan's refusal, or a step's error (rerun resumes).</summary>
        public async Task<FailoverResult> ExecuteAsync(FailoverPlan plan, CancellationToken ct)
        {
            if (plan is null)
            {
                throw new ArgumentNullException(nameof(plan));
            }

            var timeline = new Timeline(Clock);
            (_hooks as IFailoverTimelineSink)?.Attach(timeline);
            if (plan.AlreadyDone)
            {
                return Result(plan, timeline, "Succeeded", FailoverEc2.TagOrNull(plan.Primary, FailoverTags.Fenced) ?? "unknown", null);
            }

            if (plan.Refusal is not null)
            {
                throw plan.Refusal;
            }

            FailoverRequest r = plan.Request;
            string primaryId = plan.Primary.InstanceId;
            string replicaId = plan.Replica.InstanceId;
            var primaryBox = new FailoverBox(primaryId, plan.Primary.PrivateIpAddress, FailoverBoxRole.Primary);
            int done = FailoverSteps.IndexOf(plan.DoneStep);
            string fencing = FailoverEc2.TagOrNull(plan.Primary, FailoverTags.Fenced) ?? string.Empty;
            bool assumedDead = FailoverEc2.TagOrNull(plan.Replica, FailoverTags.FailoverAssumedDead) is not null;
            using var progress = new ProgressActivity(_reporter, "Failover " + primaryId + " -> " + replicaId, "Deciding");

            // 1. Decide (the refusal was judged by the plan); a planned switchover stops the app first.
            if (done < FailoverSteps.IndexOf(FailoverSteps.Decided))
            {
                timeline.Complete(timeline.Begin("decide:health", primaryId), plan.PrimaryVerdict?.Healthy == true ? "Planned" : "Succeeded", primaryId, $"EC2 {plan.PrimaryHealth}{(plan.PrimaryVerdict is null ? string.Empty : "; " + plan.PrimaryVerdict)}");
                if (r.Planned && plan.PrimaryHealth.State == "running")
                {
                    await timeline.RunAsync("app:stop", primaryId, _ => _hooks.SetAppRunningAsync(primaryBox, false, r.AppTimeout, ct)).ConfigureAwait(false);
                    if (r.FinalSyncCommand is not null)
                    {
                        await timeline.RunAsync("remote:final-sync", primaryId, _ => RunCheckedAsync(primaryBox, r.FinalSyncCommand, "FinalSyncFailed", "the final sync", r.CommandTimeout, ct)).ConfigureAwait(false);
                    }
                }

                await MarkAsync(plan, FailoverSteps.Decided, new Dictionary<string, string>
                {
                    [FailoverTags.FailoverPrimary] = primaryId,
                    [FailoverTags.FailoverStarted] = FailoverEc2.Stamp(plan.Started),
                    [FailoverTags.FailoverMode] = plan.Mode.ToString(),
                    [FailoverTags.FailoverOldIp] = plan.BuildersIp,
                }, timeline, ct).ConfigureAwait(false);
            }

            // 2. Fence: EC2 must say stopped/terminated, or the operator assumes it dead (recorded).
            if (done < FailoverSteps.IndexOf(FailoverSteps.Fenced))
            {
                progress.Update("Fencing " + primaryId);
                (fencing, assumedDead) = await FenceAsync(plan, timeline, ct).ConfigureAwait(false);
                await FailoverEc2.TagAsync(_ec2, primaryId, new Dictionary<string, string> { [FailoverTags.Fenced] = fencing + " " + FailoverEc2.Stamp(Clock()) }, ct).ConfigureAwait(false);
                var marks = new Dictionary<string, string>();
                if (assumedDead)
                {
                    marks[FailoverTags.FailoverAssumedDead] = "true";
                }

                await MarkAsync(plan, FailoverSteps.Fenced, marks, timeline, ct).ConfigureAwait(false);
            }

            var replicaBox = new FailoverBox(replicaId, plan.Replica.PrivateIpAddress, FailoverBoxRole.Replica);

            // 3. Promote: start the replica, wait for its status checks, check and promote /data.
            if (done < FailoverSteps.IndexOf(FailoverSteps.Promoted))
            {
                progress.Update("Promoting " + replicaId);
                await PromoteAsync(plan, replicaBox, timeline, ct).ConfigureAwait(false);
                await MarkAsync(plan, FailoverSteps.Promoted, null, timeline, ct).ConfigureAwait(false);
            }

            // 4. Re-address.
            if (done < FailoverSteps.IndexOf(FailoverSteps.Readdressed))
            {
                progress.Update("Re-addressing");
                await ReaddressAsync(plan, replicaBox, timeline, ct).ConfigureAwait(false);
                await MarkAsync(plan, FailoverSteps.Readdressed, null, timeline, ct).ConfigureAwait(false);
            }
            else if (plan.Mode == ReplicaMode.NewIp)
            {
                plan.StepsLeft.AddRange(StoredStepsLeft(plan.Replica));
            }

            // 5. Start and verify.
            BoxVerdict? verdict = null;
            if (done < FailoverSteps.IndexOf(FailoverSteps.Started))
            {
                progress.Update("Starting the app on " + replicaId);
                await timeline.RunAsync("app:start", replicaId, _ => _hooks.SetAppRunningAsync(replicaBox, true, r.AppTimeout, ct)).ConfigureAwait(false);
                verdict = await timeline.RunAsync("verify:health", replicaId, async entry =>
                {
                    BoxVerdict v = await _hooks.CheckHealthAsync(replicaBox, ct).ConfigureAwait(false);
                    timeline.Complete(entry, v.Healthy ? "Succeeded" : "Failed", replicaId, v.ToString());
                    return v;
                }).ConfigureAwait(false);
                if (!verdict.Healthy)
                {
                    throw new CcieException("FailoverVerifyFailed", CcieErrorCategory.InvalidData, $"The app on {replicaId} started but the box is not healthy: {verdict.Reason}. The primary stays fenced and the builders' address points at {replicaId}; fix the box (Test-CcieServicesBox -InstanceId {replicaId}), then rerun Invoke-CcieFailover to finish (it resumes here).", replicaId);
                }

                await MarkAsync(plan, FailoverSteps.Started, null, timeline, ct).ConfigureAwait(false);
            }

            // 6. Identity: the old box first (so two boxes never carry the name), then the new one.
            progress.Update("Moving the identity tag");
            await timeline.RunAsync("ec2:CreateTags", primaryId, _ => FailoverEc2.TagAsync(_ec2, primaryId, new Dictionary<string, string>
            {
                [RecoveryTags.Name] = plan.PrimaryName + FailoverTags.FencedNameSuffix,
                [FailoverTags.Role] = "fenced",
            }, ct)).ConfigureAwait(false);
            await MarkAsync(plan, FailoverSteps.Done, new Dictionary<string, string>
            {
                [RecoveryTags.Name] = plan.PrimaryName,
                [FailoverTags.Role] = FailoverTags.RolePrimary,
            }, timeline, ct).ConfigureAwait(false);
            return Result(plan, timeline, plan.StepsLeft.Count > 0 ? "Incomplete" : "Succeeded", fencing, verdict);
        }

        private async Task MarkAsync(FailoverPlan plan, string step, IDictionary<string, string>? extra, Timeline timeline, CancellationToken ct)
        {
            var tags = new Dictionary<string, string>(StringComparer.Ordinal) { [FailoverTags.FailoverStep] = step };
            if (extra is not null)
            {
                foreach (KeyValuePair<string, string> t in extra)
                {
                    tags[t.Key] = t.Value;
                }
            }

            TimelineEntry entry = timeline.Begin("state:" + step, plan.Replica.InstanceId);
            await FailoverEc2.TagAsync(_ec2, plan.Replica.InstanceId, tags, ct).ConfigureAwait(false);
            timeline.Complete(entry, "Succeeded", plan.Replica.InstanceId, "ccie:failover-step=" + step);
            if (StepHook is not null)
            {
                await StepHook(step).ConfigureAwait(false);
            }
        }

        private async Task<(string How, bool AssumedDead)> FenceAsync(FailoverPlan plan, Timeline timeline, CancellationToken ct)
        {
            FailoverRequest r = plan.Request;
            string id = plan.Primary.InstanceId;
            InstanceHealth now = await FailoverEc2.HealthAsync(_ec2, id, ct).ConfigureAwait(false);
            if (now.Dead)
            {
                timeline.Complete(timeline.Begin("fence:already-stopped", id), "Succeeded", id, $"EC2 says {now.State}");
                return ("already-" + now.State, false);
            }

            Exception? failure = null;
            try
            {
                await timeline.RunAsync("ec2:StopInstances", id, async entry =>
                {
                    using var call = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    call.CancelAfter(r.FenceCallTimeout);
                    try
                    {
                        // One retry policy decides: the fence client does not retry on its own (see FenceEc2), and a
                        // primary whose AZ answers errors is given FenceAttempts tries, then the refusal path. A try
                        // whose answer was lost may have stopped it: EC2's state says so before the call is sent again.
                        bool sent = false;
                        await FenceRetry().RunAsync(
                            async token =>
                            {
                                if (sent && await StopTookEffectAsync(id, token).ConfigureAwait(false))
                                {
                                    return;
                                }

                                sent = true;
                                await AwsCall.RunAsync("ec2:StopInstances", id, t => FenceClient.StopInstancesAsync(new StopInstancesRequest { InstanceIds = new List<string> { id }, Force = true }, t), token).ConfigureAwait(false);
                            },
                            FenceRetryOn,
                            call.Token).ConfigureAwait(false);
                    }
                    catch (CcieException e) when (!AnsweredByAws(e))
                    {
                        // Every answer was lost; if the stop went through anyway, wait for it like an answered one.
                        if (!await StopTookEffectAsync(id, ct).ConfigureAwait(false))
                        {
                            throw;
                        }

                        _reporter.Verbose($"ec2:StopInstances of {id} got no answer ({e.Message.TrimEnd()}), but EC2 says it is stopping: fenced.");
                    }
                    catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
                    {
                        throw new CcieException("StopInstancesHung", CcieErrorCategory.OperationTimeout, $"ec2:StopInstances of {id} did not answer within {r.FenceCallTimeout.TotalSeconds:0} s.", id, e);
                    }

                    timeline.Complete(entry, "Succeeded", id, "Force=true");
                }).ConfigureAwait(false);
                await timeline.RunAsync("wait:primary-stopped", id, _ => FailoverEc2.WaitStateAsync(_ec2, id, "stopped", Wait(r.FenceTimeout), _reporter, "Fencing " + id, ct)).ConfigureAwait(false);
                return (now.State == "running" && now.InstanceStatus == "impaired" ? "force-stopped-impaired" : "force-stopped", false);
            }
            catch (CcieException e)
            {
                failure = e;
            }

            if (!r.AssumePrimaryDead)
            {
                throw new CcieException("PrimaryNotFenced", CcieErrorCategory.ResourceUnavailable, $"EC2 could not stop the primary {id} ({failure.Message.TrimEnd()}). It may still serve the builders, so nothing was moved and the replica was not touched: a failover now risks two Services boxes (split brain). Check the primary in the console; if you know it is dead (its AZ is down, it cannot serve), rerun with -AssumePrimaryDead.", id, failure);
            }

            TimelineEntry assumed = timeline.Begin("fence:assumed-dead", id);
            timeline.Complete(assumed, "AssumedDead", id, "-AssumePrimaryDead: EC2 could not stop it: " + failure.Message.TrimEnd());
            _reporter.Warning($"-AssumePrimaryDead: {id} could not be stopped ({failure.Message.TrimEnd()}); it is assumed dead and tagged {FailoverTags.Fenced}. If it comes back it must not serve: stop it at once.");
            return ("assumed-dead", true);
        }

        /// <summary>
        /// Retry a fence call when AWS answered with a transient error (throttling, a 500 of a failing AZ) or the
        /// connection broke without an answer (the next try first reads whether the stop went through); a call that hung
        /// until the request timeout is not sent again, each try would cost another full hang.
        /// </summary>
        private static bool FenceRetryOn(Exception e)
            => AwsRetry.IsTransient(e) && (AnsweredByAws(e) || e is CcieException { InnerException: not OperationCanceledException });

        /// <summary>AWS answered (an error with an HTTP status), as opposed to a call whose answer never came (dropped, reset, hung).</summary>
        private static bool AnsweredByAws(Exception e)
            => (e as CcieException)?.InnerException is Amazon.Runtime.AmazonServiceException { StatusCode: not 0 };

        /// <summary>EC2 says the primary is stopping or stopped (or going away): a StopInstances whose answer was lost went through.</summary>
        private async Task<bool> StopTookEffectAsync(string id, CancellationToken ct)
        {
            try
            {
                Instance i = await FailoverEc2.GetInstanceAsync(_ec2, id, ct).ConfigureAwait(false);
                return i.State?.Name?.Value is "stopping" or "stopped" or "shutting-down" or "terminated";
            }
            catch (CcieException) when (!ct.IsCancellationRequested)
            {
                return false; // EC2 cannot say: the stop is not proven
            }
        }

        private async Task PromoteAsync(FailoverPlan plan, FailoverBox replicaBox, Timeline timeline, CancellationToken ct)
        {
            FailoverRequest r = plan.Request;
            string id = plan.Replica.InstanceId;
            Instance replica = await FailoverEc2.GetInstanceAsync(_ec2, id, ct).ConfigureAwait(false);
            string state = replica.State?.Name?.Value ?? "unknown";
            if (state == "stopping")
            {
                replica = await timeline.RunAsync("wait:replica-stopped", id, _ => FailoverEc2.WaitStateAsync(_ec2, id, "stopped", Wait(r.StartTimeout), _reporter, "Replica " + id, ct)).ConfigureAwait(false);
                state = replica.State?.Name?.Value ?? "unknown";
            }

            if (state == "stopped" && FailoverEc2.TagOrNull(replica, FailoverTags.DataFrom) == nameof(ReplicaDataSource.RecoveryPoint))
            {
                var replicas = new ReplicaService(_ec2, _region, _reporter) { Polling = Polling, Clock = Clock };
                RecoveryPoint? newest = await replicas.NewestPointAsync(plan.Primary.InstanceId, ct).ConfigureAwait(false);
                DateTime? have = RecoveryTags.ParseCreatedAt(FailoverEc2.TagOrNull(replica, FailoverTags.DataCreatedAt));
                if (newest is not null && (have is null || (newest.CreatedAt ?? newest.Created) > have.Value.AddSeconds(1)))
                {
                    await replicas.RefreshDataVolumeAsync(id, replica.Placement.AvailabilityZone, newest, timeline, ct).ConfigureAwait(false);
                }
                else
                {
                    timeline.Complete(timeline.Begin("data:recovery-point", id), "Skipped", id, $"/data is from {FailoverEc2.TagOrNull(replica, FailoverTags.DataRecoveryPoint)}, the newest point");
                }
            }

            if (state == "stopped")
            {
                await timeline.RunAsync("ec2:StartInstances", id, _ => AwsCall.RunAsync("ec2:StartInstances", id, token => _ec2.StartInstancesAsync(new StartInstancesRequest { InstanceIds = new List<string> { id } }, token), ct)).ConfigureAwait(false);
            }

            await timeline.RunAsync("wait:replica-running", id, _ => FailoverEc2.WaitStateAsync(_ec2, id, "running", Wait(r.StartTimeout), _reporter, "Replica " + id, ct)).ConfigureAwait(false);
            InstanceHealth health = await timeline.RunAsync("wait:replica-status-ok", id, _ => FailoverEc2.WaitStatusOkAsync(_ec2, id, Wait(r.StartTimeout), _reporter, ct)).ConfigureAwait(false);
            if (!health.Healthy)
            {
                throw new CcieException("ReplicaNotHealthy", CcieErrorCategory.ResourceUnavailable, $"Replica {id} did not pass its status checks ({health}). The primary is fenced; fix or replace the replica (New-CcieReplica), then rerun.", id);
            }

            if (plan.ReplicationCheckCommand is { } check)
            {
                await timeline.RunAsync("remote:replication-check", id, _ => RunCheckedAsync(replicaBox, check, "ReplicationCheckFailed", "the replication check", r.CommandTimeout, ct)).ConfigureAwait(false);
            }

            if (r.PromoteCommand is { } promote)
            {
                await timeline.RunAsync("remote:promote", id, _ => RunCheckedAsync(replicaBox, promote, "PromoteCommandFailed", "the promote command", r.CommandTimeout, ct)).ConfigureAwait(false);
            }
        }

        private async Task RunCheckedAsync(FailoverBox box, string script, string errorId, string what, TimeSpan timeout, CancellationToken ct)
        {
            RemoteResult result = await _hooks.RunAsync(box, script, timeout, ct).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                string err = SecretMask.Apply(string.IsNullOrWhiteSpace(result.Stderr) ? result.Stdout : result.Stderr).Trim();
                throw new CcieException(errorId, CcieErrorCategory.InvalidData, $"{what} on {box.InstanceId} exited {result.ExitCode}: {(err.Length > 300 ? err.Substring(0, 300) + "…" : err)}. Fix it on the box, then rerun Invoke-CcieFailover (it resumes here).", box.InstanceId);
            }
        }

        private async Task ReaddressAsync(FailoverPlan plan, FailoverBox replicaBox, Timeline timeline, CancellationToken ct)
        {
            string primaryId = plan.Primary.InstanceId;
            string replicaId = plan.Replica.InstanceId;
            Instance replica = await FailoverEc2.GetInstanceAsync(_ec2, replicaId, ct).ConfigureAwait(false);
            switch (plan.Mode)
            {
                case ReplicaMode.FloatingIp:
                {
                    string ip = plan.BuildersIp;
                    string eni = FailoverEc2.PrimaryNic(replica)?.NetworkInterfaceId ?? throw new CcieException("NoNetworkInterface", CcieErrorCategory.InvalidData, $"{replicaId} has no network interface.", replicaId);
                    await timeline.RunAsync("ec2:AssignPrivateIpAddresses", ip, _ => AwsCall.RunAsync("ec2:AssignPrivateIpAddresses", ip, token => _ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = eni, PrivateIpAddresses = new List<string> { ip }, AllowReassignment = true }, token), ct)).ConfigureAwait(false);
                    await timeline.RunAsync("verify:ip-moved", ip, async entry =>
                    {
                        IReadOnlyList<NetworkInterface> holders = await AwsCall.RunAsync("ec2:DescribeNetworkInterfaces", ip, token => _ec2.DescribeAllNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest
                        {
                            Filters = new List<Filter> { Ec2Extensions.Filter("addresses.private-ip-address", ip), Ec2Extensions.Filter("subnet-id", replica.SubnetId) },
                        }, token), ct).ConfigureAwait(false);
                        if (holders.Count != 1 || holders[0].Attachment?.InstanceId != replicaId)
                        {
                            throw new CcieException("FloatingIpNotMoved", CcieErrorCategory.InvalidData, $"After the move, {ip} is held by {string.Join(", ", holders.Select(h => h.NetworkInterfaceId + " (" + h.Attachment?.InstanceId + ")"))}, not only by {replicaId}. Check the interfaces in the console, then rerun.", ip);
                        }

                        timeline.Complete(entry, "Succeeded", ip, $"on {eni} of {replicaId}, gone from {primaryId}");
                    }).ConfigureAwait(false);
                    await FailoverEc2.TagAsync(_ec2, replicaId, new Dictionary<string, string> { [FailoverTags.FloatingIp] = ip }, ct).ConfigureAwait(false);
                    break;
                }

                case ReplicaMode.MovableEni:
                {
                    string eni = plan.Facts.MovableEniId ?? FailoverEc2.TagOrNull(replica, FailoverTags.MovableEni) ?? string.Empty;
                    NetworkInterface current = (await AwsCall.RunAsync("ec2:DescribeNetworkInterfaces", eni, token => _ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest { NetworkInterfaceIds = new List<string> { eni } }, token), ct).ConfigureAwait(false)).NetworkInterfaces[0];
                    if (current.Attachment?.InstanceId != replicaId)
                    {
                        if (current.Attachment is { } att)
                        {
                            await timeline.RunAsync("ec2:DetachNetworkInterface", eni, _ => AwsCall.RunAsync("ec2:DetachNetworkInterface", eni, token => _ec2.DetachNetworkInterfaceAsync(new DetachNetworkInterfaceRequest { AttachmentId = att.AttachmentId, Force = true }, token), ct)).ConfigureAwait(false);
                        }

                        await timeline.RunAsync("ec2:AttachNetworkInterface", eni, _ => AwsCall.RunAsync("ec2:AttachNetworkInterface", eni, token => _ec2.AttachNetworkInterfaceAsync(new AttachNetworkInterfaceRequest { NetworkInterfaceId = eni, InstanceId = replicaId, DeviceIndex = 1 }, token), ct)).ConfigureAwait(false);
                    }

                    NetworkInterface moved = (await AwsCall.RunAsync("ec2:DescribeNetworkInterfaces", eni, token => _ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest { NetworkInterfaceIds = new List<string> { eni } }, token), ct).ConfigureAwait(false)).NetworkInterfaces[0];
                    if (moved.Attachment?.InstanceId != replicaId)
                    {
                        throw new CcieException("EniNotMoved", CcieErrorCategory.InvalidData, $"Interface {eni} is attached to {moved.Attachment?.InstanceId ?? "nothing"}, not {replicaId}. Check it in the console, then rerun.", eni);
                    }

                    timeline.Complete(timeline.Begin("verify:eni-moved", eni), "Succeeded", eni, $"on {replicaId}, gone from {primaryId}");
                    break;
                }

                default:
                {
                    string newIp = plan.NewIp;
                    var left = new List<string>();
                    string? fix = await timeline.RunAsync("remote:ip-fixups", replicaId, async entry =>
                    {
                        string? command = await _hooks.ApplyIpChangeFixupsAsync(replicaBox, plan.BuildersIp, newIp, ct).ConfigureAwait(false);
                        timeline.Complete(entry, command is null ? "Succeeded" : "LeftToOperator", replicaId, command ?? $"{plan.BuildersIp} -> {newIp}");
                        return command;
                    }).ConfigureAwait(false);
                    if (fix is not null)
                    {
                        left.Add(fix);
                    }

                    string? builders = await timeline.RunAsync("builders:reconfigure", newIp, async entry =>
                    {
                        string? command = await _hooks.ReconfigureBuildersAsync(plan.BuildersIp, newIp, ct).ConfigureAwait(false);
                        timeline.Complete(entry, command is null ? "Succeeded" : "LeftToOperator", newIp, command ?? "SERVICES_PRIVATE_IP=" + newIp);
                        return command;
                    }).ConfigureAwait(false);
                    if (builders is not null)
                    {
                        left.Add(builders);
                    }
                    else
                    {
                        // The configuration names the new IP; builders running now were launched with the old one.
                        left.Add(FailoverCommands.RotateBuilders((_hooks as EngineFailoverHooks)?.BuilderGroupName, plan.BuildersIp));
                    }

                    plan.StepsLeft.AddRange(left);
                    if (left.Count > 0)
                    {
                        string joined = string.Join(StepsLeftSeparator[0], left);
                        await FailoverEc2.TagAsync(_ec2, replicaId, new Dictionary<string, string> { [StepsLeftTag] = joined.Length > 256 ? joined.Substring(0, 256) : joined }, ct).ConfigureAwait(false);
                    }

                    break;
                }
            }
        }

        private const string StepsLeftTag = "ccie:failover-steps-left";

        private static readonly string[] StepsLeftSeparator = { " | " };

        /// <summary>Steps left to the operator by an earlier run (kept in a tag, cut at 256 characters: the full text is in that run's result).</summary>
        private static string[] StoredStepsLeft(Instance replica)
            => (FailoverEc2.TagOrNull(replica, StepsLeftTag) ?? string.Empty).Split(StepsLeftSeparator, StringSplitOptions.RemoveEmptyEntries);

        private FailoverResult Result(FailoverPlan plan, Timeline timeline, string status, string fencing, BoxVerdict? verdict)
        {
            DateTime end = Clock();
            return new FailoverResult
            {
                Region = _region,
                InstanceId = plan.Replica.InstanceId,
                OldPrimaryInstanceId = plan.Primary.InstanceId,
                PrivateIpAddress = plan.NewIp,
                Mode = plan.Mode.ToString(),
                ModeDescription = plan.ModeDescription,
                Status = status,
                Planned = plan.Request.Planned,
                Fencing = fencing.Split(' ')[0],
                AssumedPrimaryDead = fencing.StartsWith("assumed-dead", StringComparison.Ordinal) || FailoverEc2.TagOrNull(plan.Replica, FailoverTags.FailoverAssumedDead) is not null,
                Health = verdict?.ToString(),
                Rto = end - plan.Started,
                Resumed = plan.Resumed,
                StepsLeft = plan.StepsLeft.Count > 0 ? plan.StepsLeft.ToList() : (plan.AlreadyDone ? StoredStepsLeft(plan.Replica).ToList() : new List<string>()),
                Timeline = timeline.Entries,
            };
        }
    }
}
