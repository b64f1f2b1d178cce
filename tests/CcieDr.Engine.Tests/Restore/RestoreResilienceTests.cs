using Amazon.EC2.Model;
using CcieDr.Engine.Recovery.Restore;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Restore;

/// <summary>Faults and reruns: a restore resumes instead of duplicating, whatever step it died at.</summary>
public sealed class RestoreResilienceTests
{
    public static TheoryData<string, bool> EveryStep()
    {
        var data = new TheoryData<string, bool>();
        foreach (string step in new[]
        {
            RestoreSteps.TerminateOld, RestoreSteps.WaitIpReleased, RestoreSteps.RegisterImage, RestoreSteps.WaitImageAvailable,
            RestoreSteps.RunInstances, RestoreSteps.WaitRunning, RestoreSteps.WaitStatusOk, RestoreSteps.DeregisterImage,
        })
        {
            data.Add(step, false);
            data.Add(step, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EveryStep))]
    public async Task A_rerun_after_a_failure_at_any_step_resumes_without_a_duplicate_ami_or_instance(string failingStep, bool afterTheStep)
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        var request = new RestoreRequest { RecoveryPoint = point, ReplaceExisting = true, DeregisterImage = true };
        bool failed = false;
        Task Hook(string step, bool after)
        {
            if (!failed && step == failingStep && after == afterTheStep)
            {
                failed = true;
                throw new InvalidOperationException($"injected crash {(after ? "after" : "before")} {step}");
            }

            return Task.CompletedTask;
        }

        RestoreService first = sim.Service(hook: Hook);
        RestorePlan plan = await first.PrepareAsync(request, CancellationToken.None);
        CcieException error = await Assert.ThrowsAsync<CcieException>(() => first.ExecuteAsync(plan, CancellationToken.None));
        Assert.True(failed);
        Assert.Contains($"failed at step '{failingStep}'", error.Message, StringComparison.Ordinal);
        RestoreResult partial = Assert.IsType<RestoreResult>(error.Target);
        Assert.Equal("Failed", partial.Status);
        Assert.All(partial.Timeline, e => Assert.NotNull(e.Ended));
        Assert.Contains(afterTheStep || failingStep != RestoreSteps.RegisterImage ? "Done so far" : "Nothing was created", error.Message, StringComparison.Ordinal);

        // Rerun: a fresh plan, as the cmdlet would make.
        (RestorePlan again, RestoreResult? result) = await RestoreSim.RestoreAsync(sim.Service(), request);

        Assert.True(again.CanProceed, string.Join(" | ", again.Blockers));
        Assert.NotNull(result);
        Assert.Equal("Succeeded", result.Status);
        Assert.Equal(sim.Seed.ServicesPrivateIp, result.PrivateIpAddress);
        Assert.Equal(1, sim.RegisterImageSuccesses());
        Assert.Equal(1, await sim.InstancesLaunchedSinceSeedAsync());
        Instance restored = Assert.Single(await sim.RestoredInstancesAsync(point.RecoveryPointId));
        Assert.Equal(result.InstanceId, restored.InstanceId);
        Assert.Empty(await sim.RestoreImagesAsync(point.RecoveryPointId)); // -DeregisterImage finished the job
        bool instanceExistedBefore = failingStep == RestoreSteps.RunInstances ? afterTheStep : failingStep is RestoreSteps.WaitRunning or RestoreSteps.WaitStatusOk or RestoreSteps.DeregisterImage;
        Assert.Equal(instanceExistedBefore, again.ExistingInstance is not null);
        if (instanceExistedBefore)
        {
            Assert.True(result.Resumed);
            Assert.Contains(result.Timeline, e => e.Action == RestoreSteps.RunInstances && e.Outcome == "Reused");
        }
    }

    [Fact]
    public async Task Throttling_mid_run_is_retried_and_the_restore_succeeds()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        foreach ((string action, int count) in new[] { ("DescribeNetworkInterfaces", 2), ("RegisterImage", 2), ("DescribeImages", 3), ("RunInstances", 2), ("DescribeInstances", 3), ("DescribeInstanceStatus", 2) })
        {
            sim.Control.InjectFault(FaultKinds.Throttle, action, count);
        }

        (_, RestoreResult? result) = await RestoreSim.RestoreAsync(sim.Service(), new RestoreRequest { RecoveryPoint = point });

        Assert.NotNull(result);
        Assert.Equal(14, sim.Control.FaultCount(FaultKinds.Throttle));
        Assert.Equal(1, sim.RegisterImageSuccesses());
        Assert.Equal(1, await sim.InstancesLaunchedSinceSeedAsync());
    }

    [Fact]
    public async Task Throttling_beyond_the_sdk_retries_while_polling_is_polled_through()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        RestoreService service = sim.Service(ec2: sim.Client(maxErrorRetry: 0));
        RestorePlan plan = await service.PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);
        sim.Control.InjectFault(FaultKinds.Throttle, "DescribeInstanceStatus", 4);
        sim.Control.InjectFault(FaultKinds.Unavailable, "DescribeImages", 2);

        RestoreResult result = await service.ExecuteAsync(plan, CancellationToken.None);

        Assert.Equal("Succeeded", result.Status);
        Assert.Equal(4, sim.Control.FaultCount(FaultKinds.Throttle, "DescribeInstanceStatus"));
    }

    [Fact]
    public async Task Eventual_consistency_right_after_RunInstances_is_retried_not_fatal()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        RestoreService service = sim.Service();
        RestorePlan plan = await service.PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);
        sim.Control.SetEventualConsistency(3);

        RestoreResult result = await service.ExecuteAsync(plan, CancellationToken.None);

        Assert.Equal("Succeeded", result.Status);
        Assert.Contains(sim.Control.RequestLog("DescribeInstances"), e => e.ErrorCode == "InvalidInstanceID.NotFound");
        Assert.Contains(sim.Control.RequestLog("DescribeImages"), e => e.ErrorCode == "InvalidAMIID.NotFound");
        Assert.Equal(1, await sim.InstancesLaunchedSinceSeedAsync());
    }

    [Fact]
    public async Task Lost_responses_to_RegisterImage_and_RunInstances_create_no_duplicates()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        sim.Control.InjectFault(FaultKinds.DropAfter, "RegisterImage", 1);
        sim.Control.InjectFault(FaultKinds.DropAfter, "RunInstances", 1);

        (_, RestoreResult? result) = await RestoreSim.RestoreAsync(sim.Service(), new RestoreRequest { RecoveryPoint = point });

        Assert.NotNull(result);
        Assert.Equal(2, sim.Control.FaultCount(FaultKinds.DropAfter));
        Assert.Single(await sim.RestoreImagesAsync(point.RecoveryPointId));
        Assert.Equal(1, await sim.InstancesLaunchedSinceSeedAsync());
        Assert.Contains(result.Timeline, e => e.Action == RestoreSteps.RegisterImage && e.Outcome == "Reused");
    }

    [Fact]
    public async Task RegisterImage_failing_for_good_leaves_the_old_box_running_and_untouched()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        RestoreService service = sim.Service();
        RestorePlan plan = await service.PrepareAsync(new RestoreRequest { RecoveryPoint = point, ReplaceExisting = true }, CancellationToken.None);
        Assert.True(plan.CanProceed, string.Join(" | ", plan.Blockers));
        Assert.Equal(sim.Seed.ServicesInstanceId, plan.InstanceToReplace?.InstanceId);
        sim.Control.ClearRequestLog();
        sim.Control.InjectFault(FaultKinds.InternalError, "RegisterImage", 50); // more than the SDK retries away

        CcieException error = await Assert.ThrowsAsync<CcieException>(() => service.ExecuteAsync(plan, CancellationToken.None));

        Assert.Contains($"failed at step '{RestoreSteps.RegisterImage}'", error.Message, StringComparison.Ordinal);
        Assert.NotEmpty(sim.Control.RequestLog("RegisterImage"));
        Assert.Empty(sim.Control.RequestLog("TerminateInstances"));
        Assert.Equal("running", (await sim.InstanceAsync(sim.Seed.ServicesInstanceId))!.State.Name.Value);
        RestoreResult partial = Assert.IsType<RestoreResult>(error.Target);
        Assert.Null(partial.ReplacedInstanceId);
        Assert.DoesNotContain(partial.Timeline, e => e.Action == RestoreSteps.TerminateOld);
    }

    [Fact]
    public async Task An_image_going_to_failed_leaves_the_old_box_untouched_deregisters_the_ami_and_a_rerun_succeeds()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        RestoreService service = sim.Service();
        var request = new RestoreRequest { RecoveryPoint = point, ReplaceExisting = true };
        RestorePlan plan = await service.PrepareAsync(request, CancellationToken.None);
        Assert.True(plan.CanProceed, string.Join(" | ", plan.Blockers));
        Assert.Equal(sim.Seed.ServicesInstanceId, plan.InstanceToReplace?.InstanceId);
        sim.Control.ClearRequestLog();
        sim.Control.FailNextImages(1); // RegisterImage succeeds; the AMI then goes pending -> failed

        CcieException error = await Assert.ThrowsAsync<CcieException>(() => service.ExecuteAsync(plan, CancellationToken.None));

        Assert.Equal("ImageRegistrationFailed", error.ErrorId);
        Assert.Contains($"failed at step '{RestoreSteps.WaitImageAvailable}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("became failed", error.Message, StringComparison.Ordinal);
        Assert.Contains("deregistered", error.Message, StringComparison.Ordinal);
        Assert.Single(sim.Control.RequestLog("RegisterImage"), r => r.Status == 200);
        Assert.Empty(sim.Control.RequestLog("TerminateInstances"));
        Assert.Empty(sim.Control.RequestLog("RunInstances"));
        Assert.Equal("running", (await sim.InstanceAsync(sim.Seed.ServicesInstanceId))!.State.Name.Value);
        Assert.Empty(await sim.RestoreImagesAsync(point.RecoveryPointId)); // no orphaned failed AMI
        RestoreResult partial = Assert.IsType<RestoreResult>(error.Target);
        Assert.Null(partial.ReplacedInstanceId);
        Assert.True(partial.ImageDeregistered);

        // The fault is spent: the same request now goes through and replaces the box exactly once.
        RestorePlan again = await service.PrepareAsync(request, CancellationToken.None);
        Assert.True(again.CanProceed, string.Join(" | ", again.Blockers));
        RestoreResult result = await service.ExecuteAsync(again, CancellationToken.None);
        Assert.Equal(sim.Seed.ServicesInstanceId, result.ReplacedInstanceId);
        Assert.Single(await sim.RestoredInstancesAsync(point.RecoveryPointId));
        Assert.Equal("available", Assert.Single(await sim.RestoreImagesAsync(point.RecoveryPointId)).State.Value);
    }

    [Fact]
    public async Task The_plan_registers_and_waits_for_the_ami_before_terminating_the_old_box()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        RestorePlan plan = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point, ReplaceExisting = true }, CancellationToken.None);

        List<string> steps = plan.Operation.Steps.Select(s => s.Action).ToList();
        int terminate = steps.IndexOf(RestoreSteps.TerminateOld);
        Assert.True(terminate >= 0, string.Join(" | ", steps));
        Assert.True(steps.IndexOf(RestoreSteps.RegisterImage) is >= 0 and var r && r < terminate, string.Join(" | ", steps));
        Assert.True(steps.IndexOf(RestoreSteps.WaitImageAvailable) is >= 0 and var w && w < terminate, string.Join(" | ", steps));
        Assert.True(steps.IndexOf(RestoreSteps.WaitIpReleased) < steps.IndexOf(RestoreSteps.RunInstances), string.Join(" | ", steps));
    }

    [Fact]
    public async Task An_instance_failing_its_status_checks_is_a_clear_error_and_nothing_is_deleted()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        string? launched = null;
        RestoreService service = sim.Service(hook: async (step, after) =>
        {
            if (step == RestoreSteps.RunInstances && after)
            {
                Instance i = Assert.Single(await sim.RestoredInstancesAsync(point.RecoveryPointId));
                launched = i.InstanceId;
                sim.Control.KillInstance(RestoreSim.Region, launched, stopAfterSeconds: 600);
            }
        });
        RestorePlan plan = await service.PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);
        sim.Control.ClearRequestLog();

        CcieException error = await Assert.ThrowsAsync<CcieException>(() => service.ExecuteAsync(plan, CancellationToken.None));

        Assert.Equal("InstanceStatusCheckFailed", error.ErrorId);
        Assert.Equal(CcieErrorCategory.ResourceUnavailable, error.Category);
        Assert.Contains(launched!, error.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing this restore created was deleted", error.Message, StringComparison.Ordinal);
        RestoreResult partial = Assert.IsType<RestoreResult>(error.Target);
        Assert.Equal(launched, partial.InstanceId);
        Assert.Equal(RestoreSteps.WaitStatusOk, partial.Timeline[^1].Action);
        Assert.Equal("Failed", partial.Timeline[^1].Outcome);
        Assert.Equal("running", (await sim.InstanceAsync(launched!))!.State.Name.Value);
        Assert.Single(await sim.RestoreImagesAsync(point.RecoveryPointId));
        Assert.DoesNotContain(sim.Control.RequestLog(), e => e.Action is "TerminateInstances" or "DeregisterImage");
    }

    [Fact]
    public async Task A_timeout_reports_what_exists_and_a_rerun_resumes_with_the_same_ami()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync(transitionSeconds: 2);
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();

        RestoreService service = sim.Service();
        RestorePlan plan = await service.PrepareAsync(new RestoreRequest { RecoveryPoint = point, Timeout = TimeSpan.FromSeconds(0.5) }, CancellationToken.None);
        CcieException error = await Assert.ThrowsAsync<CcieException>(() => service.ExecuteAsync(plan, CancellationToken.None));
        Assert.Equal("WaitTimedOut", error.ErrorId);
        Assert.Contains("wait:image-available", error.Message, StringComparison.Ordinal);
        Image ami = Assert.Single(await sim.RestoreImagesAsync(point.RecoveryPointId));
        Assert.Contains(ami.ImageId, error.Message, StringComparison.Ordinal);

        (RestorePlan again, RestoreResult? result) = await RestoreSim.RestoreAsync(sim.Service(), new RestoreRequest { RecoveryPoint = point });
        Assert.Equal(ami.ImageId, again.ExistingImage?.Id);
        Assert.NotNull(result);
        Assert.True(result.Resumed);
        Assert.Equal(ami.ImageId, result.ImageId);
        Assert.Equal(1, sim.RegisterImageSuccesses());
    }

    [Fact]
    public async Task After_the_restored_box_is_terminated_a_new_restore_uses_the_next_client_token()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        (_, RestoreResult? first) = await RestoreSim.RestoreAsync(sim.Service(), new RestoreRequest { RecoveryPoint = point });
        Assert.NotNull(first);
        await sim.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [first.InstanceId] });
        await RestoreSim.UntilAsync(async () => (await sim.InstanceAsync(first.InstanceId))?.State?.Name?.Value == "terminated" ? "ok" : null);

        (_, RestoreResult? second) = await RestoreSim.RestoreAsync(sim.Service(), new RestoreRequest { RecoveryPoint = point });

        Assert.NotNull(second);
        Assert.NotEqual(first.InstanceId, second.InstanceId);
        Assert.Equal("running", (await sim.InstanceAsync(second.InstanceId))!.State.Name.Value);
        Assert.EndsWith("-g2", (await sim.InstanceAsync(second.InstanceId))!.ClientToken, StringComparison.Ordinal);
        Assert.Equal(1, sim.RegisterImageSuccesses()); // the AMI was reused
    }

    [Fact]
    public async Task Cancelling_stops_the_waits_and_says_what_exists()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync(transitionSeconds: 5);
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        var reporter = new RecordingReporter();
        using var cts = new CancellationTokenSource();
        RestoreService service = sim.Service(reporter: reporter, hook: (step, after) =>
        {
            if (step == RestoreSteps.RegisterImage && after)
            {
                cts.CancelAfter(200);
            }

            return Task.CompletedTask;
        });
        RestorePlan plan = await service.PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => service.ExecuteAsync(plan, cts.Token));

        Assert.Contains(reporter.Warnings, w => w.Contains("stopped", StringComparison.Ordinal) && w.Contains("ami-", StringComparison.Ordinal));
        Assert.All(reporter.Progress.GroupBy(p => p.ActivityId), g => Assert.True(g.Last().Completed));
    }

    [Fact]
    public async Task An_az_failing_between_preflight_and_launch_reports_the_ami_and_a_rerun_elsewhere_reuses_it()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        RestoreService service = sim.Service(hook: (step, after) =>
        {
            if (step == RestoreSteps.RunInstances && !after)
            {
                sim.Control.FailAvailabilityZone(RestoreSim.Region, sim.Seed.AvailabilityZoneA);
            }

            return Task.CompletedTask;
        });
        RestorePlan plan = await service.PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);

        CcieException error = await Assert.ThrowsAsync<CcieException>(() => service.ExecuteAsync(plan, CancellationToken.None));

        Assert.Equal("Aws.InsufficientInstanceCapacity", error.ErrorId);
        Assert.Equal(CcieErrorCategory.ResourceUnavailable, error.Category);
        RestoreResult partial = Assert.IsType<RestoreResult>(error.Target);
        Assert.Equal(RestoreSteps.RunInstances, partial.Timeline[^1].Action);
        Assert.Equal("Failed", partial.Timeline[^1].Outcome);
        Assert.Contains(partial.ImageId!, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await sim.InstancesLaunchedSinceSeedAsync());

        (RestorePlan again, RestoreResult? result) = await RestoreSim.RestoreAsync(sim.Service(), new RestoreRequest { RecoveryPoint = point, SubnetId = sim.Seed.SubnetBId });
        Assert.NotNull(result);
        Assert.Equal(partial.ImageId, again.ExistingImage?.Id);
        Assert.Equal(sim.Seed.AvailabilityZoneB, result.AvailabilityZone);
        Assert.Equal(1, sim.RegisterImageSuccesses());
    }

    [Fact]
    public async Task A_rerun_whose_tag_query_misses_the_earlier_instance_finds_it_holding_the_ip_and_resumes()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        RestoreService first = sim.Service(hook: (step, after) => step == RestoreSteps.WaitRunning && !after ? throw new InvalidOperationException("crash") : Task.CompletedTask);
        RestorePlan plan = await first.PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);
        CcieException error = await Assert.ThrowsAsync<CcieException>(() => first.ExecuteAsync(plan, CancellationToken.None));
        string launched = Assert.IsType<RestoreResult>(error.Target).InstanceId;

        sim.Control.HideResource(launched, 1); // the tag query of the rerun does not see it yet
        (RestorePlan again, RestoreResult? result) = await RestoreSim.RestoreAsync(sim.Service(), new RestoreRequest { RecoveryPoint = point });

        Assert.Equal(launched, again.ExistingInstance?.Id);
        Assert.NotNull(result);
        Assert.Equal(launched, result.InstanceId);
        Assert.Equal(1, await sim.InstancesLaunchedSinceSeedAsync());
    }

    [Fact]
    public async Task Two_racing_restores_of_the_same_point_with_different_parameters_launch_one_box()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        RestoreService one = sim.Service(hook: (step, after) => step == RestoreSteps.WaitRunning && !after ? throw new InvalidOperationException("crash") : Task.CompletedTask);
        RestorePlan planOne = await one.PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);
        var reporter = new RecordingReporter();
        RestoreService two = sim.Service(reporter: reporter);
        RestorePlan planTwo = await two.PrepareAsync(new RestoreRequest { RecoveryPoint = point, InstanceType = "m5.4xlarge" }, CancellationToken.None);

        CcieException error = await Assert.ThrowsAsync<CcieException>(() => one.ExecuteAsync(planOne, CancellationToken.None));
        string launched = Assert.IsType<RestoreResult>(error.Target).InstanceId;
        RestoreResult result = await two.ExecuteAsync(planTwo, CancellationToken.None);

        Assert.Equal(launched, result.InstanceId);
        Assert.True(result.Resumed);
        Assert.Contains(result.Timeline, e => e.Action == RestoreSteps.RunInstances && e.Outcome == "Reused");
        Assert.Contains(sim.Control.RequestLog("RunInstances"), e => e.ErrorCode == "IdempotentParameterMismatch");
        Assert.Contains(reporter.Warnings, w => w.Contains(launched, StringComparison.Ordinal) && w.Contains("other parameters", StringComparison.Ordinal));
        Assert.Equal(1, await sim.InstancesLaunchedSinceSeedAsync());
        Assert.Equal(1, sim.RegisterImageSuccesses());
    }
}
