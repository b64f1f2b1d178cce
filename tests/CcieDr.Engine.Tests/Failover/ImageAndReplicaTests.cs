using Amazon.EC2.Model;
using CcieDr.Engine.Failover;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Tests.Restore;
using Xunit;

namespace CcieDr.Engine.Tests.Failover;

/// <summary>New/Get/Remove-CcieServicesBoxImage, New/Get/Update-CcieReplica and Add-CcieFloatingIp engines on the simulator.</summary>
public sealed class ImageAndReplicaTests
{
    [Fact]
    public async Task Image_reboots_by_default_holds_every_volume_is_tagged_like_a_point_and_waits_until_available()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        var reporter = new RecordingReporter();
        ServicesBox box = await FailoverKit.BoxAsync(sim);
        ServicesBoxImage image = await FailoverKit.Images(sim, reporter).CreateAsync(new ServicesBoxImageRequest { Box = box, AppVersion = "2.19.0" }, CancellationToken.None);

        Assert.Equal("available", image.State);
        Assert.Equal(box.Volumes.Count, image.SnapshotIds.Count);
        Assert.False(image.NoReboot);
        Assert.Equal(box.InstanceId, image.SourceInstanceId);
        Assert.Equal("2.19.0", image.AppVersion);
        Assert.Equal(box.SubnetId, image.Identity.SubnetId);
        Assert.Equal(box.InstanceType, image.Identity.InstanceType);
        Assert.Equal(box.IamInstanceProfileArn, image.Identity.IamInstanceProfileArn);
        RequestLogEntryAssert.Single(sim, "CreateImage", p => !p.ContainsKey("NoReboot") || p["NoReboot"] == "false");
        Assert.Empty(reporter.Warnings);
        Assert.Contains(reporter.Progress, p => p.Activity.Contains(image.ImageId, StringComparison.Ordinal));
        Assert.Contains(reporter.Progress, p => p.Completed);
        Assert.Contains(image.Timeline, e => e.Action == "wait:image-available" && e.Outcome == "Succeeded");

        // The image's snapshots are not recovery points (a restore never picks them), but say whose they are.
        IReadOnlyList<RecoveryPoint> points = await RecoveryPointCatalog.ListAsync(sim.Ec2, RestoreSim.Region, null, CancellationToken.None);
        Assert.DoesNotContain(points, p => p.Snapshots.Any(s => image.SnapshotIds.Contains(s.SnapshotId)));
        var snaps = await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = image.SnapshotIds.ToList() });
        Assert.All(snaps.Snapshots, s => Assert.Contains(s.Tags, t => t.Key == FailoverTags.ImageOf && t.Value == image.ImageId));

        IReadOnlyList<ServicesBoxImage> listed = await FailoverKit.Images(sim).ListAsync(box.InstanceId, CancellationToken.None);
        Assert.True(Assert.Single(listed).IsNewest);
    }

    [Fact]
    public async Task NoReboot_image_warns_that_it_is_crash_consistent()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        var reporter = new RecordingReporter();
        ServicesBox box = await FailoverKit.BoxAsync(sim);
        ServicesBoxImage image = await FailoverKit.Images(sim, reporter).CreateAsync(new ServicesBoxImageRequest { Box = box, NoReboot = true }, CancellationToken.None);
        Assert.True(image.NoReboot);
        Assert.Contains(reporter.Warnings, w => w.Contains("crash-consistent", StringComparison.Ordinal));
        RequestLogEntryAssert.Single(sim, "CreateImage", p => p.TryGetValue("NoReboot", out string? v) && v == "true");
    }

    [Fact]
    public async Task Remove_refuses_the_newest_and_an_image_in_use_unless_forced_and_deletes_the_snapshots()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        ServicesBoxImage older = await FailoverKit.ImageAsync(sim, noReboot: true);
        await Task.Delay(1100); // image names carry the second
        Replica replica = await FailoverKit.ReplicaAsync(sim);
        Assert.Equal(older.ImageId, replica.ImageId);
        ServicesBoxImage newer = await FailoverKit.ImageAsync(sim, noReboot: true);
        var images = FailoverKit.Images(sim);
        IReadOnlyList<ServicesBoxImage> listed = await images.ListAsync(null, CancellationToken.None);
        ServicesBoxImage newest = listed.Single(i => i.ImageId == newer.ImageId);
        ServicesBoxImage used = listed.Single(i => i.ImageId == older.ImageId);
        Assert.True(newest.IsNewest);
        Assert.Equal([replica.InstanceId], used.ReplicaInstanceIds);

        Assert.Equal("ImageIsNewest", (await Assert.ThrowsAsync<CcieException>(() => images.RemoveAsync(newest, false, CancellationToken.None))).ErrorId);
        Assert.Equal("ImageInUse", (await Assert.ThrowsAsync<CcieException>(() => images.RemoveAsync(used, false, CancellationToken.None))).ErrorId);
        Assert.Empty(sim.Control.RequestLog("DeregisterImage"));

        ServicesBoxImage removed = await images.RemoveAsync(used, true, CancellationToken.None);
        Assert.True(removed.Removed);
        var left = await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { OwnerIds = ["self"], Filters = [new Filter("snapshot-id", used.SnapshotIds.ToList())] });
        Assert.Empty(left.Snapshots ?? []);
        Assert.DoesNotContain(await images.ListAsync(null, CancellationToken.None), i => i.ImageId == used.ImageId);
    }

    [Fact]
    public async Task Replica_defaults_to_another_az_stopped_with_the_box_settings_and_reports_mode_3()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        await FailoverKit.ImageAsync(sim, noReboot: true);
        ServicesBox box = await FailoverKit.BoxAsync(sim);
        Replica replica = await FailoverKit.ReplicaAsync(sim, check: "drbdadm status r0 | grep -q UpToDate");

        Assert.Equal("stopped", replica.State);
        Assert.Equal(sim.Seed.AvailabilityZoneB, replica.AvailabilityZone);
        Assert.Equal(sim.Seed.SubnetBId, replica.SubnetId);
        Assert.Equal(nameof(ReplicaMode.NewIp), replica.Mode);
        Assert.Contains("Survives the loss of the primary's AZ", replica.ModeDescription, StringComparison.Ordinal);
        Assert.True(replica.Ready);
        Instance i = await FailoverKit.InstanceAsync(sim, replica.InstanceId);
        Assert.Equal(box.InstanceType, i.InstanceType.Value);
        Assert.Equal(box.KeyName, i.KeyName);
        Assert.Equal(box.IamInstanceProfileArn, i.IamInstanceProfile?.Arn);
        Assert.Equal(box.SecurityGroupIds.OrderBy(x => x), i.SecurityGroups.Select(g => g.GroupId).OrderBy(x => x));
        Assert.Equal("replica", FailoverKit.Tag(i, FailoverTags.Role));
        Assert.Equal(box.InstanceId, FailoverKit.Tag(i, FailoverTags.PrimaryInstanceId));
        Assert.Equal(replica.PrimaryInstanceId, box.InstanceId);
        Assert.Single(await FailoverKit.Replicas(sim).ListAsync(box.InstanceId, CancellationToken.None));
    }

    [Fact]
    public async Task Floating_ip_then_same_subnet_replica_is_mode_1_and_an_ip_in_use_is_refused()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        ServicesBox box = await FailoverKit.BoxAsync(sim);
        var ips = new FloatingIpService(sim.Ec2);
        FloatingIp floating = await ips.AddAsync(box, "10.0.1.200", CancellationToken.None);
        Assert.Equal("10.0.1.200", floating.PrivateIpAddress);
        Assert.False(floating.AlreadyAssigned);
        Assert.Contains(floating.NextSteps, s => s.Contains("Set-CcieBuilderConfiguration -ServicesPrivateIp 10.0.1.200", StringComparison.Ordinal));
        Assert.True((await ips.AddAsync(await FailoverKit.BoxAsync(sim), null, CancellationToken.None)).AlreadyAssigned);

        CcieException primary = await Assert.ThrowsAsync<CcieException>(() => ips.AddAsync(box, box.PrivateIpAddress, CancellationToken.None));
        Assert.Equal("FloatingIpIsPrimary", primary.ErrorId);
        CcieException taken = await Assert.ThrowsAsync<CcieException>(() => ips.AddAsync(box, "10.0.2.200", CancellationToken.None));
        Assert.Equal("FloatingIpUnavailable", taken.ErrorId);

        await FailoverKit.ImageAsync(sim, noReboot: true);
        Replica replica = await FailoverKit.ReplicaAsync(sim, subnetId: sim.Seed.SubnetAId);
        Assert.Equal(nameof(ReplicaMode.FloatingIp), replica.Mode);
        Assert.Contains("10.0.1.200", replica.ModeDescription, StringComparison.Ordinal);
        Assert.Contains("not of its AZ", replica.ModeDescription, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Recovery_point_data_comes_from_the_newest_point_in_the_replica_az_and_update_refreshes_it()
    {
        await using RestoreSim sim = await RestoreSim.StartAsync();
        await FailoverKit.ImageAsync(sim, noReboot: true);
        RecoveryPoint first = await sim.TakeRecoveryPointAsync();
        Replica replica = await FailoverKit.ReplicaAsync(sim, data: ReplicaDataSource.RecoveryPoint);
        Assert.Equal(first.RecoveryPointId, replica.DataRecoveryPointId);
        Assert.NotNull(replica.DataAge);
        string dataSnap = first.Snapshots.Single(s => !s.IsRootDevice).SnapshotId;
        Volume data = (await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { VolumeIds = [replica.DataVolumeId!] })).Volumes.Single();
        Assert.Equal(dataSnap, data.SnapshotId);
        Assert.Equal(sim.Seed.AvailabilityZoneB, data.AvailabilityZone);

        await Task.Delay(1100);
        RecoveryPoint second = await sim.TakeRecoveryPointAsync();
        Replica stale = await FailoverKit.Replicas(sim).GetOneAsync(replica.InstanceId, CancellationToken.None);
        Assert.Contains(stale.Readiness, r => r.Contains(second.RecoveryPointId, StringComparison.Ordinal));

        Replica updated = await FailoverKit.Replicas(sim).UpdateAsync(new UpdateReplicaRequest { InstanceId = replica.InstanceId }, CancellationToken.None);
        Assert.Equal(second.RecoveryPointId, updated.DataRecoveryPointId);
        Volume fresh = (await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { VolumeIds = [updated.DataVolumeId!] })).Volumes.Single();
        Assert.Equal(second.Snapshots.Single(s => !s.IsRootDevice).SnapshotId, fresh.SnapshotId);
        Assert.Equal(sim.Seed.AvailabilityZoneB, fresh.AvailabilityZone);
        var old = await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { Filters = [new Filter("volume-id", [data.VolumeId])] });
        Assert.Empty(old.Volumes ?? []);
    }
}

internal static class RequestLogEntryAssert
{
    public static void Single(RestoreSim sim, string action, Func<IReadOnlyDictionary<string, string>, bool> parameters)
        => Assert.Single(sim.Control.RequestLog(action), e => e.Status == 200 && parameters(e.Parameters));
}
