using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>
    /// Carries out a <see cref="RestorePlan"/>: registers (or reuses) the AMI, launches (or reuses) the
    /// instance with an idempotent client token, waits with progress until it runs and passes its status
    /// checks, and records every step in the timeline. Nothing it created is deleted on failure; the error
    /// says what exists and how to resume (rerun) or clean up.
    /// </summary>
    public sealed class RestoreExecutor
    {
        private static readonly char[] AddressSeparators = { ',', ' ' };
        private readonly IAmazonEC2 _ec2;
        private readonly IOperationReporter _reporter;

        public RestoreExecutor(IAmazonEC2 ec2, IOperationReporter? reporter = null)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _reporter = reporter ?? NullReporter.Instance;
        }

        /// <summary>Test hook: called before (false) and after (true) each step, by step name.</summary>
        internal Func<string, bool, Task>? StepHook { get; set; }

        /// <summary>Polling schedule of the waits (null: <see cref="WaitOptions.Default"/>); the timeout is the restore's.</summary>
        internal WaitOptions? Polling { get; set; }

        public async Task<RestoreResult> ExecuteAsync(RestorePlan plan, CancellationToken ct)
        {
            if (plan is null)
            {
                throw new ArgumentNullException(nameof(plan));
            }

            if (!plan.CanProceed)
            {
                throw plan.Blockers.First().ToException();
            }

            var run = new Run(plan, DateTime.UtcNow + plan.Request.Timeout) { Cancellation = ct };
            int total = plan.Operation.Steps.Count;
            using var progress = new ProgressActivity(_reporter, $"Restoring the Services box from {plan.Target.RecoveryPointId}", "Starting");
            run.Progress = progress;
            run.TotalSteps = Math.Max(1, total);
            try
            {
                // The AMI is registered and available before anything destructive: a registration that
                // fails (or an image that goes to 'failed') leaves the old box untouched and running.
                await EnsureImageAsync(run, ct).ConfigureAwait(false);
                await ReplaceOldAsync(run, ct).ConfigureAwait(false);
                await EnsureInstanceAsync(run, ct).ConfigureAwait(false);
                Instance instance = await WaitRunningAsync(run, ct).ConfigureAwait(false);
                await AssignSecondaryAsync(run, instance, ct).ConfigureAwait(false);
                await WaitStatusOkAsync(run, ct).ConfigureAwait(false);
                await DeregisterAsync(run, ct).ConfigureAwait(false);
                return Result(run, "Succeeded");
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                _reporter.Warning($"Restore of {plan.Target.RecoveryPointId} stopped. {WhatExists(run)} Rerun the same command to resume.");
                throw;
            }
            catch (CcieException inner)
            {
                // Every step runs through AwsCall (StepAsync): its failure is already mapped, naming the step.
                RestoreResult failed = Result(run, "Failed");
                string message = $"Restore of {plan.Target.RecoveryPointId} failed at step '{run.CurrentStep}': {inner.Message.TrimEnd()} {WhatExists(run)} {HowToGoOn(run, inner)}";
                throw new CcieException(inner.ErrorId, inner.Category, message, failed, inner);
            }
        }

        // ------------------------------------------------------------------ steps

        private async Task ReplaceOldAsync(Run run, CancellationToken ct)
        {
            IpHolder? old = run.Plan.InstanceToReplace;
            if (old is null)
            {
                return;
            }

            if (old.InstanceId is not null && old.InstanceState is not ("shutting-down" or "terminated"))
            {
                await StepAsync(run, RestoreSteps.TerminateOld, old.InstanceId, async entry =>
                {
                    run.Progress!.Update($"Terminating {old.InstanceId}, which holds {old.IpAddress}", run.Percent);
                    try
                    {
                        await _ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = new List<string> { old.InstanceId } }, ct).ConfigureAwait(false);
                    }
                    catch (AmazonEC2Exception e) when (e.ErrorCode == "InvalidInstanceID.NotFound")
                    {
                        // Already gone.
                    }

                    run.Replaced = old.InstanceId;
                    entry.Detail = $"held {old.IpAddress}";
                }).ConfigureAwait(false);
            }
            else
            {
                run.Replaced = old.InstanceId;
            }

            await StepAsync(run, RestoreSteps.WaitIpReleased, old.IpAddress, async entry =>
            {
                List<string> addresses = old.IpAddress.Split(AddressSeparators, StringSplitOptions.RemoveEmptyEntries).ToList();
                await WaitAsync<IReadOnlyList<IpHolding>?>(
                    run,
                    $"{old.IpAddress} to be released by {old.InstanceId}",
                    old.IpAddress,
                    async token => await RestorePlanner.FindHoldersAsync(_ec2, run.Plan.Target.SubnetId, addresses, token).ConfigureAwait(false),
                    held => held is { Count: 0 },
                    held => held is null ? "not looked at yet" : held.Count == 0 ? "released" : "held by " + string.Join(", ", held.Select(h => h.InstanceId ?? h.NetworkInterfaceId)),
                    p => run.Progress!.Update($"Waiting for {old.IpAddress} to be released by {old.InstanceId} ({Seconds(p.Elapsed)} s)", run.Percent),
                    ct).ConfigureAwait(false);
                entry.Detail = $"released by {old.InstanceId}";
            }).ConfigureAwait(false);
        }

        private async Task EnsureImageAsync(Run run, CancellationToken ct)
        {
            RestorePlan plan = run.Plan;
            RestoreTarget t = plan.Target;
            if (plan.ExistingInstance is not null)
            {
                return; // the earlier run's instance is reused; no AMI needed
            }

            if (plan.ExistingImage is { State: "available" or "pending" } reuse)
            {
                run.ImageId = reuse.Id;
                await StepAsync(run, RestoreSteps.RegisterImage, reuse.Id, entry =>
                {
                    plan.Timeline.Complete(entry, "Reused", reuse.Id, $"{t.ImageName} from an earlier run ({reuse.State})");
                    return Task.CompletedTask;
                }).ConfigureAwait(false);
            }
            else
            {
                if (plan.ExistingImage is { } failed)
                {
                    await StepAsync(run, RestoreSteps.DeregisterFailedImage, failed.Id, async entry =>
                    {
                        await DeregisterImageAsync(failed.Id, ct).ConfigureAwait(false);
                        entry.Detail = $"{t.ImageName} was {failed.State}";
                    }).ConfigureAwait(false);
                }

                await StepAsync(run, RestoreSteps.RegisterImage, t.ImageName, async entry =>
                {
                    run.Progress!.Update($"Registering AMI {t.ImageName} from {t.Devices.Count} snapshot(s)", run.Percent);
                    (string id, bool reused) = await RegisterImageAsync(run, ct).ConfigureAwait(false);
                    run.ImageId = id;
                    plan.Timeline.Complete(entry, reused ? "Reused" : "Succeeded", id, reused ? $"{t.ImageName} already registered (a retried call or a concurrent run)" : t.ImageName);
                }).ConfigureAwait(false);
            }

            await StepAsync(run, RestoreSteps.WaitImageAvailable, run.ImageId, async entry =>
            {
                Image? image = await WaitAsync(
                    run,
                    $"AMI {run.ImageId} to become available",
                    run.ImageId,
                    async token =>
                    {
                        DescribeImagesResponse r = await _ec2.DescribeImagesAsync(new DescribeImagesRequest { ImageIds = new List<string> { run.ImageId! } }, token).ConfigureAwait(false);
                        Image? found = r.Images?.FirstOrDefault();
                        if (found?.State?.Value is "failed" or "error" or "invalid" or "deregistered" or "disabled")
                        {
                            // A failed AMI can never be used: deregister it now (the snapshots stay), so nothing is
                            // left behind and a rerun registers a fresh one. The old box has not been touched.
                            string cleanup = await DeregisterUnusableImageAsync(run, found.State.Value, token).ConfigureAwait(false);
                            throw new CcieException("ImageRegistrationFailed", CcieErrorCategory.InvalidOperation, $"AMI {run.ImageId} ({t.ImageName}) became {found.State.Value}: {found.StateReason?.Message ?? "no reason given"}. {cleanup} Check the snapshots (encryption, KMS key access), then rerun.", run.ImageId);
                        }

                        return found;
                    },
                    found => found?.State?.Value == "available",
                    ImageState,
                    p => run.Progress!.Update($"AMI {run.ImageId} is {ImageState(p.Last)} ({Seconds(p.Elapsed)} s)", run.Percent),
                    ct).ConfigureAwait(false);
                entry.Detail = image!.Name;
            }).ConfigureAwait(false);
        }

        private async Task<(string Id, bool Reused)> RegisterImageAsync(Run run, CancellationToken ct)
        {
            RestoreTarget t = run.Plan.Target;
            var request = new RegisterImageRequest
            {
                Name = t.ImageName,
                Description = t.ImageDescription,
                RootDeviceName = t.RootDeviceName,
                Architecture = ArchitectureValues.FindValue(t.Architecture),
                EnaSupport = t.EnaSupport,
                VirtualizationType = t.VirtualizationType,
                BlockDeviceMappings = t.Devices.Select(d => new BlockDeviceMapping
                {
                    DeviceName = d.DeviceName,
                    Ebs = new EbsBlockDevice
                    {
                        SnapshotId = d.SnapshotId,
                        VolumeSize = d.SizeGiB > 0 ? d.SizeGiB : null,
                        VolumeType = d.VolumeType is null ? null : VolumeType.FindValue(d.VolumeType),
                        Iops = d.Iops,
                        Throughput = d.Throughput,
                        DeleteOnTermination = d.DeleteOnTermination,
                    },
                }).ToList(),
                TagSpecifications = new List<TagSpecification>
                {
                    new TagSpecification { ResourceType = ResourceType.Image, Tags = ImageTags(t) },
                },
            };
            try
            {
                RegisterImageResponse response = await _ec2.RegisterImageAsync(request, ct).ConfigureAwait(false);
                return (response.ImageId, false);
            }
            catch (AmazonEC2Exception e) when (e.ErrorCode == "InvalidAMIName.Duplicate")
            {
                // A retried call whose first attempt went through, or a concurrent run: find it and reuse it.
                Image? found = await WaitAsync(
                    run,
                    $"the AMI named {t.ImageName} to become visible",
                    t.ImageName,
                    async token =>
                    {
                        IReadOnlyList<Image> images = await _ec2.DescribeAllImagesAsync(new DescribeImagesRequest { Owners = new List<string> { "self" }, Filters = new List<Filter> { Ec2Extensions.Filter("name", t.ImageName) } }, token).ConfigureAwait(false);
                        return images.FirstOrDefault(i => i.Name == t.ImageName);
                    },
                    i => i is not null,
                    ImageState,
                    null,
                    ct).ConfigureAwait(false);
                return (found!.ImageId, true);
            }
        }

        private async Task EnsureInstanceAsync(Run run, CancellationToken ct)
        {
            RestorePlan plan = run.Plan;
            RestoreTarget t = plan.Target;
            if (plan.ExistingInstance is { } existing)
            {
                run.InstanceId = existing.Id;
                await StepAsync(run, RestoreSteps.RunInstances, existing.Id, entry =>
                {
                    plan.Timeline.Complete(entry, "Reused", existing.Id, $"launched by an earlier run ({existing.State}, {existing.Detail})");
                    return Task.CompletedTask;
                }).ConfigureAwait(false);
                return;
            }

            await StepAsync(run, RestoreSteps.RunInstances, t.PrivateIpAddress ?? t.SubnetId, async entry =>
            {
                run.Progress!.Update($"Launching {t.InstanceType} in {t.SubnetId} with {t.PrivateIpAddress ?? "a new private IP"}", run.Percent);
                for (int generation = 1; generation <= RestoreNaming.MaxTokenGenerations; generation++)
                {
                    string token = RestoreNaming.ClientToken(t.TokenKey, t.SubnetId, t.PrivateIpAddress, generation);
                    Instance launched;
                    bool reused = false;
                    try
                    {
                        RunInstancesResponse response = await _ec2.RunInstancesAsync(LaunchRequest(t, run.ImageId!, token), ct).ConfigureAwait(false);
                        launched = response.Reservation?.Instances?.FirstOrDefault() ?? throw new CcieException("RunInstancesEmpty", CcieErrorCategory.InvalidData, "RunInstances returned no instance.", t.SubnetId);
                    }
                    catch (AmazonEC2Exception e) when (e.ErrorCode == "IdempotentParameterMismatch")
                    {
                        // This token was spent on a launch with other parameters (an override changed, or the AMI was
                        // re-registered). If that launch's instance lives, it is this restore's box: reuse it.
                        Instance? earlier = await LiveInstanceWithTokenAsync(token, ct).ConfigureAwait(false);
                        if (earlier is null)
                        {
                            continue;
                        }

                        _reporter.Warning($"Instance {earlier.InstanceId} was launched by an earlier run of this restore with other parameters (client token {token}); it is reused. To launch with the new parameters, terminate it and rerun.");
                        launched = earlier;
                        reused = true;
                    }

                    string state = launched.State?.Name?.Value ?? "pending";
                    if (state is "shutting-down" or "terminated")
                    {
                        // The token replays an earlier launch whose instance is gone: take the next generation.
                        _reporter.Verbose($"Client token {token} replays terminated instance {launched.InstanceId}; using the next generation.");
                        continue;
                    }

                    run.InstanceId = launched.InstanceId;
                    run.ReusedEarlierLaunch = reused;
                    entry.Detail = $"{launched.PrivateIpAddress} ClientToken={token}" + (reused ? " (launched by an earlier run with other parameters)" : string.Empty);
                    plan.Timeline.Complete(entry, reused ? "Reused" : "Succeeded", launched.InstanceId);
                    return;
                }

                throw new CcieException("ClientTokensExhausted", CcieErrorCategory.InvalidOperation, $"Every client token generation of this restore ({RestoreNaming.MaxTokenGenerations}) was spent on instances that are now terminated. Restore with another -PrivateIpAddress, or wait 24 hours.", t.BaseClientToken);
            }).ConfigureAwait(false);
        }

        private async Task<Instance?> LiveInstanceWithTokenAsync(string token, CancellationToken ct)
        {
            IReadOnlyList<Instance> found = await _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest
            {
                Filters = new List<Filter>
                {
                    Ec2Extensions.Filter("client-token", token),
                    Ec2Extensions.Filter("instance-state-name", "pending", "running"),
                },
            }, ct).ConfigureAwait(false);
            return found.Count > 0 ? found[0] : null;
        }

        private static RunInstancesRequest LaunchRequest(RestoreTarget t, string imageId, string token)
        {
            var request = new RunInstancesRequest
            {
                ImageId = imageId,
                InstanceType = InstanceType.FindValue(t.InstanceType),
                MinCount = 1,
                MaxCount = 1,
                SubnetId = t.SubnetId,
                SecurityGroupIds = t.SecurityGroupIds.ToList(),
                ClientToken = token,
                TagSpecifications = new List<TagSpecification>
                {
                    new TagSpecification { ResourceType = ResourceType.Instance, Tags = t.Tags.Select(kv => new Tag(kv.Key, kv.Value)).ToList() },
                    new TagSpecification { ResourceType = ResourceType.Volume, Tags = t.Tags.Select(kv => new Tag(kv.Key, kv.Value)).ToList() },
                },
            };
            if (t.PrivateIpAddress is not null)
            {
                request.PrivateIpAddress = t.PrivateIpAddress;
            }

            if (!string.IsNullOrEmpty(t.KeyName))
            {
                request.KeyName = t.KeyName;
            }

            if (!string.IsNullOrEmpty(t.IamInstanceProfile))
            {
                request.IamInstanceProfile = t.IamInstanceProfile!.StartsWith("arn:", StringComparison.Ordinal)
                    ? new IamInstanceProfileSpecification { Arn = t.IamInstanceProfile }
                    : new IamInstanceProfileSpecification { Name = t.IamInstanceProfile };
            }

            return request;
        }

        private async Task<Instance> WaitRunningAsync(Run run, CancellationToken ct)
        {
            Instance? running = null;
            await StepAsync(run, RestoreSteps.WaitRunning, run.InstanceId, async entry =>
            {
                running = await WaitAsync(
                    run,
                    $"instance {run.InstanceId} to be running",
                    run.InstanceId,
                    async token =>
                    {
                        // Right after RunInstances the id may be unknown for a moment (eventual consistency): "not yet".
                        DescribeInstancesResponse r = await _ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = new List<string> { run.InstanceId! } }, token).ConfigureAwait(false);
                        Instance? i = r.Reservations?.SelectMany(x => x.Instances ?? new List<Instance>()).FirstOrDefault();
                        string state = InstanceState(i);
                        run.InstanceState = i is null ? run.InstanceState : state;
                        if (state is "shutting-down" or "terminated" or "stopping" or "stopped")
                        {
                            string reason = i!.StateReason?.Message ?? i.StateTransitionReason ?? "no reason given";
                            throw new CcieException("InstanceLaunchFailed", CcieErrorCategory.InvalidOperation, $"Instance {run.InstanceId} went {state} instead of running: {reason}.", run.InstanceId);
                        }

                        return i;
                    },
                    i => InstanceState(i) == "running",
                    InstanceState,
                    p => run.Progress!.Update($"Instance {run.InstanceId} is {InstanceState(p.Last)} ({Seconds(p.Elapsed)} s)", run.Percent),
                    ct).ConfigureAwait(false);
                entry.Detail = $"{running!.PrivateIpAddress} in {running.Placement?.AvailabilityZone}";
            }).ConfigureAwait(false);
            run.PrivateIpAddress = running!.PrivateIpAddress;
            run.SubnetId = running.SubnetId;
            run.AvailabilityZone = running.Placement?.AvailabilityZone;
            run.ImageId ??= running.ImageId;
            return running;
        }

        private async Task AssignSecondaryAsync(Run run, Instance instance, CancellationToken ct)
        {
            RestoreTarget t = run.Plan.Target;
            if (t.SecondaryPrivateIpAddresses.Count == 0)
            {
                return;
            }

            InstanceNetworkInterface? nic = (instance.NetworkInterfaces ?? new List<InstanceNetworkInterface>()).FirstOrDefault(n => n.Attachment?.DeviceIndex == 0)
                ?? instance.NetworkInterfaces?.FirstOrDefault();
            await StepAsync(run, RestoreSteps.AssignSecondaryIps, nic?.NetworkInterfaceId, async entry =>
            {
                if (nic is null)
                {
                    throw new CcieException("NetworkInterfaceMissing", CcieErrorCategory.InvalidData, $"Instance {run.InstanceId} reports no network interface to put the secondary IPs on.", run.InstanceId);
                }

                var present = new HashSet<string>((nic.PrivateIpAddresses ?? new List<InstancePrivateIpAddress>()).Select(a => a.PrivateIpAddress), StringComparer.Ordinal);
                List<string> missing = t.SecondaryPrivateIpAddresses.Where(a => !present.Contains(a)).ToList();
                if (missing.Count == 0)
                {
                    run.Plan.Timeline.Complete(entry, "Reused", nic.NetworkInterfaceId, "secondary IPs already assigned");
                    return;
                }

                await _ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = nic.NetworkInterfaceId, PrivateIpAddresses = missing }, ct).ConfigureAwait(false);
                entry.Detail = string.Join(",", missing);
            }).ConfigureAwait(false);
        }

        private async Task WaitStatusOkAsync(Run run, CancellationToken ct)
        {
            await StepAsync(run, RestoreSteps.WaitStatusOk, run.InstanceId, async entry =>
            {
                await WaitAsync(
                    run,
                    $"the status checks of instance {run.InstanceId} to pass",
                    run.InstanceId,
                    async token =>
                    {
                        DescribeInstanceStatusResponse r = await _ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = new List<string> { run.InstanceId! }, IncludeAllInstances = true }, token).ConfigureAwait(false);
                        InstanceStatus? s = r.InstanceStatuses?.FirstOrDefault();
                        string system = s?.SystemStatus?.Status?.Value ?? "unknown";
                        string inst = s?.Status?.Status?.Value ?? "unknown";
                        string state = s?.InstanceState?.Name?.Value ?? "unknown";
                        if (s is not null && state is "shutting-down" or "terminated" or "stopping" or "stopped")
                        {
                            throw new CcieException("InstanceLaunchFailed", CcieErrorCategory.InvalidOperation, $"Instance {run.InstanceId} went {state} while its status checks ran.", run.InstanceId);
                        }

                        if (system == "impaired" || inst == "impaired")
                        {
                            throw new CcieException(
                                "InstanceStatusCheckFailed",
                                CcieErrorCategory.ResourceUnavailable,
                                $"Instance {run.InstanceId} is running but failed its status checks (system {system}, instance {inst}): the host or the OS is not healthy. Look at its console output (aws ec2 get-console-output --instance-id {run.InstanceId}) and its system log.",
                                run.InstanceId);
                        }

                        return s;
                    },
                    s => s?.SystemStatus?.Status?.Value == "ok" && s.Status?.Status?.Value == "ok",
                    StatusChecks,
                    p => run.Progress!.Update($"Status checks of {run.InstanceId}: {StatusChecks(p.Last)} ({Seconds(p.Elapsed)} s)", run.Percent),
                    ct).ConfigureAwait(false);
                entry.Detail = "system ok, instance ok";
            }).ConfigureAwait(false);
        }

        private async Task DeregisterAsync(Run run, CancellationToken ct)
        {
            if (!run.Plan.Request.DeregisterImage)
            {
                return;
            }

            string? imageId = run.ImageId;
            if (imageId is null)
            {
                // The instance was reused: find the AMI by its name.
                run.CurrentStep = RestoreSteps.DeregisterImage;
                IReadOnlyList<Image> images = await AwsCall.RunAsync(
                    "ec2:DescribeImages",
                    run.Plan.Target.ImageName,
                    token => _ec2.DescribeAllImagesAsync(new DescribeImagesRequest { Owners = new List<string> { "self" }, Filters = new List<Filter> { Ec2Extensions.Filter("name", run.Plan.Target.ImageName) } }, token),
                    ct).ConfigureAwait(false);
                imageId = images.Count > 0 ? images[0].ImageId : null;
            }

            await StepAsync(run, RestoreSteps.DeregisterImage, imageId ?? run.Plan.Target.ImageName, async entry =>
            {
                if (imageId is null)
                {
                    run.Plan.Timeline.Complete(entry, "Skipped", run.Plan.Target.ImageName, "already deregistered");
                    return;
                }

                await DeregisterImageAsync(imageId, ct).ConfigureAwait(false);
                run.ImageDeregistered = true;
                entry.Detail = "snapshots kept";
            }).ConfigureAwait(false);
        }

        private async Task<string> DeregisterUnusableImageAsync(Run run, string state, CancellationToken ct)
        {
            if (state == "deregistered")
            {
                run.ImageDeregistered = true;
                return "It is already deregistered.";
            }

            try
            {
                await DeregisterImageAsync(run.ImageId!, ct).ConfigureAwait(false);
                run.ImageDeregistered = true;
                return "The unusable AMI was deregistered (its snapshots are kept).";
            }
            catch (Exception e) when (e is AmazonServiceException or HttpRequestException)
            {
                return $"Deregistering the unusable AMI failed too ({e.Message.TrimEnd('.')}).";
            }
        }

        private async Task DeregisterImageAsync(string imageId, CancellationToken ct)
        {
            try
            {
                await _ec2.DeregisterImageAsync(new DeregisterImageRequest { ImageId = imageId }, ct).ConfigureAwait(false);
            }
            catch (AmazonEC2Exception e) when (e.ErrorCode is "InvalidAMIID.NotFound" or "InvalidAMIID.Unavailable")
            {
                // Already deregistered (a retried call).
            }
        }

        // ------------------------------------------------------------------ helpers

        /// <summary>Runs one step through <see cref="AwsCall"/>: any failure in it becomes the step's mapped error.</summary>
        private Task StepAsync(Run run, string action, string? target, Func<TimelineEntry, Task> body)
        {
            run.CurrentStep = action;
            run.CurrentTarget = target;
            run.StepIndex++;
            return AwsCall.RunAsync(
                action,
                target ?? run.Plan.Target.RecoveryPointId,
                async _ =>
                {
                    if (StepHook is not null)
                    {
                        await StepHook(action, false).ConfigureAwait(false);
                    }

                    await run.Plan.Timeline.RunAsync(action, target, body).ConfigureAwait(false);
                    if (StepHook is not null)
                    {
                        await StepHook(action, true).ConfigureAwait(false);
                    }
                },
                run.Cancellation);
        }

        /// <summary>
        /// One of the restore's waits: the engine's <see cref="Waiter"/>, bounded by what is left of the restore's
        /// overall deadline. "Not found" (eventual consistency) and transient errors the SDK already retried
        /// (throttling, 5xx, a dropped connection) count as "not yet": the deadline bounds them.
        /// </summary>
        private Task<T> WaitAsync<T>(Run run, string what, object? target, Func<CancellationToken, Task<T>> probe, Func<T, bool> done, Func<T, string> describe, Action<WaitProgress<T>>? progress, CancellationToken ct)
        {
            TimeSpan left = run.Deadline - DateTime.UtcNow;
            WaitOptions options = (Polling ?? WaitOptions.Default()).WithTimeout(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            string described = string.Format(CultureInfo.InvariantCulture, "{0} (the restore's waits together may take {1:0.#} s, -TimeoutSeconds)", what, run.Plan.Request.Timeout.TotalSeconds);
            return Waiter.UntilAsync(
                probe,
                done,
                options,
                described,
                target,
                ct,
                describe,
                p =>
                {
                    if (p.Error is { } e)
                    {
                        Exception cause = e is CcieException { InnerException: { } inner } ? inner : e;
                        _reporter.Verbose($"Poll: {(cause is AmazonServiceException s ? s.ErrorCode ?? ((int)s.StatusCode).ToString(CultureInfo.InvariantCulture) : cause.GetType().Name)} ({cause.Message}); polling again.");
                    }

                    progress?.Invoke(p);
                },
                AwsRetry.IsNotFound);
        }

        private static string ImageState(Image? i) => i?.State?.Value ?? "not visible yet";

        private static string InstanceState(Instance? i) => i?.State?.Name?.Value ?? "not visible yet";

        private static string StatusChecks(InstanceStatus? s) => s is null ? "not reported yet" : $"system {s.SystemStatus?.Status?.Value ?? "unknown"}, instance {s.Status?.Status?.Value ?? "unknown"}";

        private static string Seconds(TimeSpan waited) => ((int)waited.TotalSeconds).ToString(CultureInfo.InvariantCulture);

        private static List<Tag> ImageTags(RestoreTarget t)
            => t.Tags.Where(kv => kv.Key != "Name").Select(kv => new Tag(kv.Key, kv.Value)).Append(new Tag("Name", t.ImageName)).ToList();

        private static string WhatExists(Run run)
        {
            var parts = new List<string>();
            if (run.Replaced is not null)
            {
                parts.Add($"terminated the old box {run.Replaced}");
            }

            if (run.ImageId is not null)
            {
                parts.Add($"AMI {run.ImageId} ({run.Plan.Target.ImageName}){(run.ImageDeregistered ? ", since deregistered" : string.Empty)}");
            }

            if (run.InstanceId is not null)
            {
                parts.Add($"instance {run.InstanceId}{(run.InstanceState is null ? string.Empty : " (" + run.InstanceState + ")")}");
            }

            if (parts.Count == 0)
            {
                return "Nothing was created or changed.";
            }

            return "Done so far: " + string.Join(", ", parts) + ". Nothing this restore created was deleted.";
        }

        private static string HowToGoOn(Run run, CcieException error)
        {
            var cleanup = new List<string>();
            if (run.InstanceId is not null)
            {
                cleanup.Add($"aws ec2 terminate-instances --instance-ids {run.InstanceId}");
            }

            if (run.ImageId is not null && !run.ImageDeregistered)
            {
                cleanup.Add($"aws ec2 deregister-image --image-id {run.ImageId} (the snapshots stay)");
            }

            string resume = error.ErrorId == "InstanceStatusCheckFailed"
                ? "A rerun reuses this instance and checks it again; to launch a fresh one, terminate it first and rerun."
                : "To resume, rerun the same command: it reuses what exists.";
            return cleanup.Count == 0 ? resume : $"{resume} To clean up instead: {string.Join("; ", cleanup)}.";
        }

        private static RestoreResult Result(Run run, string status)
        {
            RestoreTarget t = run.Plan.Target;
            return new RestoreResult
            {
                Region = t.Region,
                InstanceId = run.InstanceId ?? string.Empty,
                PrivateIpAddress = run.PrivateIpAddress ?? (run.InstanceId is null ? null : t.PrivateIpAddress),
                SubnetId = run.SubnetId ?? t.SubnetId,
                AvailabilityZone = run.AvailabilityZone ?? t.AvailabilityZone,
                ImageId = run.ImageId,
                ImageDeregistered = run.ImageDeregistered,
                RecoveryPointId = t.RecoveryPointId,
                SourceInstanceId = t.SourceInstanceId,
                ReplacedInstanceId = run.Replaced,
                InstanceType = t.InstanceType,
                SecurityGroupIds = t.SecurityGroupIds,
                PrivateIpPreserved = t.SavedPrivateIpAddress is not null && string.Equals(run.PrivateIpAddress ?? t.PrivateIpAddress, t.SavedPrivateIpAddress, StringComparison.Ordinal),
                Resumed = run.Plan.ExistingInstance is not null || run.Plan.ExistingImage is { State: "available" or "pending" } || run.ReusedEarlierLaunch,
                Status = status,
                Started = run.Plan.Timeline.Started,
                Completed = DateTime.UtcNow,
                Timeline = run.Plan.Timeline.Entries,
                Warnings = run.Plan.Warnings.ToList(),
            };
        }

        private sealed class Run
        {
            public Run(RestorePlan plan, DateTime deadline)
            {
                Plan = plan;
                Deadline = deadline;
            }

            public RestorePlan Plan { get; }

            public DateTime Deadline { get; }

            public CancellationToken Cancellation { get; set; }

            public ProgressActivity? Progress { get; set; }

            public int TotalSteps { get; set; }

            public int StepIndex { get; set; }

            public int Percent => Math.Min(99, (StepIndex - 1) * 100 / TotalSteps);

            public string? CurrentStep { get; set; }

            public string? CurrentTarget { get; set; }

            public string? Replaced { get; set; }

            public string? ImageId { get; set; }

            public bool ImageDeregistered { get; set; }

            public string? InstanceId { get; set; }

            public string? InstanceState { get; set; }

            public bool ReusedEarlierLaunch { get; set; }

            public string? PrivateIpAddress { get; set; }

            public string? SubnetId { get; set; }

            public string? AvailabilityZone { get; set; }
        }
    }
}
