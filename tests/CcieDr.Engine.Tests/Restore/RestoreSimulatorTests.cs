using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Recovery.Restore;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Restore;

/// <summary>Restores on the simulator through the real AWS SDK: the acceptance path and pre-flight.</summary>
public sealed class RestoreSimulatorTests
{
    [Fact]
    public async Task Restores_a_terminated_box_with_the_same_identity_and_every_volume()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        ServicesBox before = (await new ServicesBoxLocator(sim.Ec2, RestoreSim.Region).FindAsync(new ServicesBoxQuery(), CancellationToken.None))[0];
        await sim.TerminateBoxAsync();

        var reporter = new RecordingReporter();
        (RestorePlan plan, RestoreResult? result) = await RestoreSim.RestoreAsync(sim.Service(reporter: reporter), new RestoreRequest { RecoveryPoint = point });

        Assert.True(plan.CanProceed, string.Join(" | ", plan.Blockers));
        Assert.NotNull(result);
        Assert.Equal("Succeeded", result.Status);
        Assert.Equal(sim.Seed.ServicesPrivateIp, result.PrivateIpAddress);
        Assert.True(result.PrivateIpPreserved);
        Assert.Equal(point.RecoveryPointId, result.RecoveryPointId);
        Assert.Equal(sim.Seed.ServicesInstanceId, result.SourceInstanceId);
        Assert.False(result.Resumed);
        Assert.StartsWith("ami-", result.ImageId);

        // Get-CcieServicesBox finds it, with the old identity and every volume.
        IReadOnlyList<ServicesBox> found = await new ServicesBoxLocator(sim.Ec2, RestoreSim.Region).FindAsync(new ServicesBoxQuery(), CancellationToken.None);
        ServicesBox box = Assert.Single(found);
        Assert.Equal(result.InstanceId, box.InstanceId);
        Assert.Equal("running", box.State);
        Assert.Equal(before.PrivateIpAddress, box.PrivateIpAddress);
        Assert.Equal(before.SubnetId, box.SubnetId);
        Assert.Equal(before.SecurityGroupIds, box.SecurityGroupIds);
        Assert.Equal(before.InstanceType, box.InstanceType);
        Assert.Equal(before.KeyName, box.KeyName);
        Assert.Equal(before.IamInstanceProfileArn, box.IamInstanceProfileArn);
        Assert.Equal(before.RootDeviceName, box.RootDeviceName);
        Assert.Equal(before.Architecture, box.Architecture);
        Assert.Equal(before.Volumes.Select(v => (v.DeviceName, v.SizeGiB, v.VolumeType, v.Encrypted)), box.Volumes.Select(v => (v.DeviceName, v.SizeGiB, v.VolumeType, v.Encrypted)));
        Assert.Equal(point.Snapshots.OrderBy(s => s.DeviceName).Select(s => s.SnapshotId), box.Volumes.OrderBy(v => v.DeviceName).Select(v => v.SnapshotId));
        Assert.Equal(point.RecoveryPointId, box.Tags[RestoreNaming.RestoredFromTag]);
        Assert.Equal(sim.Seed.ServicesInstanceId, box.Tags[RestoreNaming.RestoreOfTag]);
        Assert.True(box.Volumes.Single(v => v.IsRootDevice).DeleteOnTermination);
        Assert.False(box.Volumes.Single(v => !v.IsRootDevice).DeleteOnTermination);

        // The AMI carries the saved root device, architecture, ENA and virtualization type.
        Image image = Assert.Single(await sim.RestoreImagesAsync(point.RecoveryPointId));
        Assert.Equal(before.RootDeviceName, image.RootDeviceName);
        Assert.Equal("x86_64", image.Architecture?.Value);
        Assert.True(image.EnaSupport);
        Assert.Equal("hvm", image.VirtualizationType?.Value);
        Assert.Equal(point.RecoveryPointId, image.Tags.ToDictionary()[RestoreNaming.RestoredFromTag]);

        // Timeline: every step with start and end, in order.
        Assert.Equal(
            new[] { RestoreSteps.Preflight, RestoreSteps.RegisterImage, RestoreSteps.WaitImageAvailable, RestoreSteps.RunInstances, RestoreSteps.WaitRunning, RestoreSteps.WaitStatusOk },
            result.Timeline.Select(e => e.Action));
        Assert.All(result.Timeline, e => Assert.NotNull(e.Ended));
        Assert.All(result.Timeline, e => Assert.Equal("Succeeded", e.Outcome));
        Assert.True(result.Timeline.Zip(result.Timeline.Skip(1)).All(p => p.First.Ended <= p.Second.Started));
        Assert.True(result.Duration > TimeSpan.Zero);

        // Progress always completes.
        Assert.All(reporter.Progress.GroupBy(p => p.ActivityId), g => Assert.True(g.Last().Completed));
        Assert.Contains(reporter.Progress, p => p.Status.Contains("Status checks", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refuses_when_the_old_box_still_holds_the_ip_and_changes_nothing()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        sim.Control.ClearRequestLog();

        RestorePlan plan = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);

        PreflightFinding blocker = Assert.Single(plan.Blockers);
        Assert.Equal("PrivateIpInUse", blocker.ErrorId);
        Assert.Equal(sim.Seed.ServicesInstanceId, blocker.Target);
        Assert.Contains(sim.Seed.ServicesInstanceId, blocker.Message, StringComparison.Ordinal);
        Assert.Contains("-ReplaceExisting", blocker.Message, StringComparison.Ordinal);
        Assert.Contains("pre-flight BLOCKED", plan.Operation.Render(), StringComparison.Ordinal);
        CcieException error = await Assert.ThrowsAsync<CcieException>(() => sim.Service().ExecuteAsync(plan, CancellationToken.None));
        Assert.Equal("PrivateIpInUse", error.ErrorId);

        // Read-only: no mutating call was made.
        Assert.DoesNotContain(sim.Control.RequestLog(), e => !e.Action.StartsWith("Describe", StringComparison.Ordinal));
        Assert.Equal("running", (await sim.InstanceAsync(sim.Seed.ServicesInstanceId))!.State.Name.Value);
    }

    [Fact]
    public async Task ReplaceExisting_terminates_the_old_box_waits_for_the_ip_and_keeps_it()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();

        (RestorePlan plan, RestoreResult? result) = await RestoreSim.RestoreAsync(sim.Service(), new RestoreRequest { RecoveryPoint = point, ReplaceExisting = true });

        Assert.NotNull(result);
        Assert.Equal(sim.Seed.ServicesInstanceId, plan.InstanceToReplace?.InstanceId);
        Assert.Contains(plan.Operation.Steps, s => s.Action == RestoreSteps.TerminateOld && s.Description.Contains(sim.Seed.ServicesInstanceId, StringComparison.Ordinal));
        Assert.Equal(sim.Seed.ServicesInstanceId, result.ReplacedInstanceId);
        Assert.Equal(sim.Seed.ServicesPrivateIp, result.PrivateIpAddress);
        Assert.Equal(new[] { RestoreSteps.Preflight, RestoreSteps.RegisterImage, RestoreSteps.WaitImageAvailable, RestoreSteps.TerminateOld, RestoreSteps.WaitIpReleased, RestoreSteps.RunInstances }, result.Timeline.Take(6).Select(e => e.Action));
        Assert.Equal("terminated", (await sim.InstanceAsync(sim.Seed.ServicesInstanceId))!.State.Name.Value);
        Assert.Single(await sim.RestoredInstancesAsync(point.RecoveryPointId));
    }

    [Fact]
    public async Task ReplaceExisting_never_terminates_an_instance_that_is_not_a_services_box()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        Instance builder = (await sim.InstanceAsync(sim.Seed.BuilderInstanceIds[0]))!;

        RestorePlan plan = await sim.Service().PrepareAsync(
            new RestoreRequest { RecoveryPoint = point, ReplaceExisting = true, SubnetId = builder.SubnetId, PrivateIpAddress = builder.PrivateIpAddress },
            CancellationToken.None);

        PreflightFinding blocker = Assert.Single(plan.Blockers);
        Assert.Equal("PrivateIpHeldByOtherInstance", blocker.ErrorId);
        Assert.Equal(builder.InstanceId, blocker.Target);
        Assert.Null(plan.InstanceToReplace);
    }

    [Fact]
    public async Task An_az_outage_during_preflight_blocks_and_names_a_healthy_subnet_then_another_subnet_restores_with_a_warning()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        sim.Control.FailAvailabilityZone(RestoreSim.Region, sim.Seed.AvailabilityZoneA);

        RestorePlan blocked = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);
        PreflightFinding az = Assert.Single(blocked.Blockers);
        Assert.Equal("AvailabilityZoneUnavailable", az.ErrorId);
        Assert.Contains(sim.Seed.SubnetBId, az.Message, StringComparison.Ordinal);
        Assert.Equal(0, sim.RegisterImageSuccesses());

        (RestorePlan plan, RestoreResult? result) = await RestoreSim.RestoreAsync(sim.Service(), new RestoreRequest { RecoveryPoint = point, SubnetId = sim.Seed.SubnetBId });
        Assert.NotNull(result);
        Assert.Equal(sim.Seed.SubnetBId, result.SubnetId);
        Assert.Equal(sim.Seed.AvailabilityZoneB, result.AvailabilityZone);
        Assert.False(result.PrivateIpPreserved);
        Assert.StartsWith("10.0.2.", result.PrivateIpAddress, StringComparison.Ordinal);
        Assert.Contains(plan.Warnings, w => w.Contains("re-associate", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.Contains("Set-CcieBuilderConfiguration", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Preflight_reports_missing_groups_key_pair_and_unusable_ip_before_any_change()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        sim.Control.ClearRequestLog();

        RestorePlan plan = await sim.Service().PrepareAsync(
            new RestoreRequest { RecoveryPoint = point, SecurityGroupIds = ["sg-0000000000000dead"], KeyName = "no-such-key", PrivateIpAddress = "10.0.1.3" },
            CancellationToken.None);

        Assert.Equal(new[] { "PrivateIpNotInSubnet", "SecurityGroupNotFound", "KeyPairNotFound" }, plan.Blockers.Select(b => b.ErrorId));
        Assert.Contains(plan.Findings, f => f.Status == PreflightStatus.Ok && f.Check == "kms-key" && f.Message.Contains(sim.Seed.DataVolumeKmsKeyId, StringComparison.Ordinal));
        Assert.Contains(plan.Findings, f => f.Status == PreflightStatus.Unchecked && f.Check == "iam-instance-profile");
        Assert.Single(sim.Control.RequestLog("DescribeKey"));
        Assert.DoesNotContain(sim.Control.RequestLog(), e => !e.Action.StartsWith("Describe", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pending_snapshot_blocks_with_advice_to_wait()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync(transitionSeconds: 30);
        ServicesBox box = (await new ServicesBoxLocator(sim.Ec2, RestoreSim.Region).FindAsync(new ServicesBoxQuery(), CancellationToken.None))[0];
        string id = RecoveryTags.NewRecoveryPointId(DateTime.UtcNow);
        foreach (ServicesBoxVolume v in box.Volumes)
        {
            await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest
            {
                VolumeId = v.VolumeId,
                TagSpecifications = [new TagSpecification { ResourceType = Amazon.EC2.ResourceType.Snapshot, Tags = RecoveryTags.ToTagList(RecoveryTags.ForSnapshot(box, v, id, null)) }],
            });
        }

        RecoveryPoint point = (await RecoveryPointCatalog.GetAsync(sim.Ec2, RestoreSim.Region, id, CancellationToken.None))!;
        RestorePlan plan = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point, ReplaceExisting = true }, CancellationToken.None);

        Assert.Contains(plan.Blockers, b => b.ErrorId == "SnapshotNotCompleted" && b.Message.Contains("Wait-CcieSnapshot", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_seed_snapshot_restores_as_the_root_volume_with_the_identity_given()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        var created = await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesRootVolumeId, Description = "CircleCI Services box Backup taken at 2026-11-28T13:00:00Z" });
        string snapshotId = created.Snapshot.SnapshotId;
        await RestoreSim.UntilAsync(async () => (await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = [snapshotId] })).Snapshots[0].State?.Value == "completed" ? "ok" : null);
        await sim.TerminateBoxAsync();

        RestoreService service = sim.Service();
        var assumptions = new List<string>();
        RecoveryPoint point = await service.ResolvePointAsync(
            new RestoreSource
            {
                SnapshotId = snapshotId,
                Seed = new SeedIdentity
                {
                    RootDeviceName = "/dev/sda1",
                    SubnetId = sim.Seed.SubnetAId,
                    PrivateIpAddress = sim.Seed.ServicesPrivateIp,
                    SecurityGroupIds = [sim.Seed.ServicesSecurityGroupId],
                    InstanceType = "m5.2xlarge",
                    KeyName = sim.Seed.KeyName,
                },
            },
            assumptions,
            CancellationToken.None);
        var request = new RestoreRequest { RecoveryPoint = point };
        foreach (string a in assumptions)
        {
            request.Assumptions.Add(a);
        }

        (RestorePlan plan, RestoreResult? result) = await RestoreSim.RestoreAsync(service, request);

        Assert.True(plan.CanProceed, string.Join(" | ", plan.Blockers));
        Assert.NotNull(result);
        Assert.True(result.PrivateIpPreserved);
        Assert.Equal(snapshotId, result.RecoveryPointId);
        Assert.Contains(plan.Warnings, w => w.Contains("x86_64", StringComparison.Ordinal));
        Instance restored = (await sim.InstanceAsync(result.InstanceId))!;
        Assert.Equal("/dev/sda1", restored.RootDeviceName);
        Assert.Single(restored.BlockDeviceMappings);
    }

    [Fact]
    public async Task A_seed_snapshot_without_a_root_device_name_is_refused_with_what_to_give()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        var created = await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesRootVolumeId, Description = "CircleCI Services box Backup taken at 2026-11-28T13:00:00Z" });

        CcieException e = await Assert.ThrowsAsync<CcieException>(() => sim.Service().ResolvePointAsync(new RestoreSource { SnapshotId = created.Snapshot.SnapshotId }, new List<string>(), CancellationToken.None));

        Assert.Equal("RootDeviceNameRequired", e.ErrorId);
        Assert.Contains("-RootDeviceName", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeregisterImage_removes_the_ami_and_keeps_the_snapshots()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();

        (_, RestoreResult? result) = await RestoreSim.RestoreAsync(sim.Service(), new RestoreRequest { RecoveryPoint = point, DeregisterImage = true });

        Assert.NotNull(result);
        Assert.True(result.ImageDeregistered);
        Assert.Equal(RestoreSteps.DeregisterImage, result.Timeline[^1].Action);
        Assert.Empty(await sim.RestoreImagesAsync(point.RecoveryPointId));
        var snaps = await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = point.SnapshotIds.ToList() });
        Assert.Equal(point.Snapshots.Count, snaps.Snapshots.Count);
    }

    [Fact]
    public async Task Secondary_private_ips_come_back_on_the_primary_interface()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        await sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = sim.Seed.ServicesNetworkInterfaceId, PrivateIpAddresses = ["10.0.1.11"] });
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        Assert.Equal(new[] { "10.0.1.11" }, point.Identity.SecondaryPrivateIpAddresses);
        await sim.TerminateBoxAsync();

        (RestorePlan plan, RestoreResult? result) = await RestoreSim.RestoreAsync(sim.Service(), new RestoreRequest { RecoveryPoint = point });

        Assert.NotNull(result);
        Assert.Contains(plan.Operation.Steps, s => s.Action == RestoreSteps.AssignSecondaryIps);
        Assert.Contains(result.Timeline, e => e.Action == RestoreSteps.AssignSecondaryIps && e.Outcome == "Succeeded");
        ServicesBox box = (await new ServicesBoxLocator(sim.Ec2, RestoreSim.Region).FindAsync(new ServicesBoxQuery(), CancellationToken.None))[0];
        Assert.Equal(sim.Seed.ServicesPrivateIp, box.PrivateIpAddress);
        Assert.Equal(new[] { "10.0.1.11" }, box.SecondaryPrivateIpAddresses);
    }
}
