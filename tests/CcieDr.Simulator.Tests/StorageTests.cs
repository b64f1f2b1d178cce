using Amazon.EC2;
using Amazon.EC2.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

public sealed class StorageTests
{
    [Fact]
    public async Task Volume_create_attach_detach_delete()
    {
        await using var sim = await Sim.StartAsync();
        var created = await sim.Ec2.CreateVolumeAsync(new CreateVolumeRequest
        {
            AvailabilityZone = "us-east-1a",
            Size = 20,
            VolumeType = VolumeType.Gp3,
            Throughput = 250,
            Encrypted = true,
            TagSpecifications = [new TagSpecification { ResourceType = ResourceType.Volume, Tags = [new Tag("Name", "scratch")] }],
        });
        var v = created.Volume;
        Assert.Equal(VolumeState.Creating, v.State);
        Assert.True(v.Encrypted);
        Assert.StartsWith("arn:aws:kms:us-east-1:123456789012:key/", v.KmsKeyId);
        Assert.Equal(250, v.Throughput);

        var notYet = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = v.VolumeId, InstanceId = sim.Seed.ServicesInstanceId, Device = "/dev/xvdg" }));
        Assert.Equal("IncorrectState", notYet.ErrorCode);
        sim.Advance(10);
        Assert.Equal(VolumeState.Available, (await sim.Volume(v.VolumeId)).State);

        var busyDevice = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = v.VolumeId, InstanceId = sim.Seed.ServicesInstanceId, Device = "/dev/xvdf" }));
        Assert.Equal("InvalidParameterValue", busyDevice.ErrorCode);
        var otherZone = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = v.VolumeId, InstanceId = sim.Seed.BuilderInstanceIds[1], Device = "/dev/xvdg" }));
        Assert.Equal("InvalidVolume.ZoneMismatch", otherZone.ErrorCode);

        var attach = await sim.Ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = v.VolumeId, InstanceId = sim.Seed.ServicesInstanceId, Device = "/dev/xvdg" });
        Assert.Equal(VolumeAttachmentState.Attaching, attach.Attachment.State);
        sim.Advance(10);
        var attached = await sim.Volume(v.VolumeId);
        Assert.Equal(VolumeState.InUse, attached.State);
        Assert.Equal(VolumeAttachmentState.Attached, attached.Attachments.Single().State);
        Assert.Contains((await sim.Instance(sim.Seed.ServicesInstanceId)).BlockDeviceMappings, b => b.DeviceName == "/dev/xvdg" && b.Ebs.VolumeId == v.VolumeId);

        var inUse = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = v.VolumeId }));
        Assert.Equal("VolumeInUse", inUse.ErrorCode);

        var detach = await sim.Ec2.DetachVolumeAsync(new DetachVolumeRequest { VolumeId = v.VolumeId });
        Assert.Equal(VolumeAttachmentState.Detaching, detach.Attachment.State);
        sim.Advance(10);
        Assert.Equal(VolumeState.Available, (await sim.Volume(v.VolumeId)).State);
        Assert.DoesNotContain((await sim.Instance(sim.Seed.ServicesInstanceId)).BlockDeviceMappings, b => b.DeviceName == "/dev/xvdg");

        await sim.Ec2.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = v.VolumeId });
        var gone = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Volume(v.VolumeId));
        Assert.Equal("InvalidVolume.NotFound", gone.ErrorCode);
    }

    [Fact]
    public async Task Root_volume_of_a_running_instance_cannot_be_detached()
    {
        await using var sim = await Sim.StartAsync();
        var e = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DetachVolumeAsync(new DetachVolumeRequest { VolumeId = sim.Seed.ServicesRootVolumeId }));
        Assert.Equal("OperationNotPermitted", e.ErrorCode);
    }

    [Fact]
    public async Task Snapshot_progresses_from_pending_to_completed_with_the_clock()
    {
        await using var sim = await Sim.StartAsync();
        var created = await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest
        {
            VolumeId = sim.Seed.ServicesDataVolumeId,
            Description = "CircleCI data backup",
            TagSpecifications = [new TagSpecification { ResourceType = ResourceType.Snapshot, Tags = [new Tag("ccie:private-ip", "10.0.1.10")] }],
        });
        var s = created.Snapshot;
        Assert.Equal(SnapshotState.Pending, s.State);
        Assert.Equal("0%", s.Progress);
        Assert.Equal(500, s.VolumeSize);
        Assert.True(s.Encrypted);
        Assert.Equal(sim.Seed.DataVolumeKmsKeyId, s.KmsKeyId);
        Assert.Equal("123456789012", s.OwnerId);
        Assert.Equal("10.0.1.10", s.Tags.Single().Value);

        sim.Advance(4);
        var mid = await sim.Snapshot(s.SnapshotId);
        Assert.Equal(SnapshotState.Pending, mid.State);
        Assert.Equal("40%", mid.Progress);
        sim.Advance(6);
        var done = await sim.Snapshot(s.SnapshotId);
        Assert.Equal(SnapshotState.Completed, done.State);
        Assert.Equal("100%", done.Progress);
        Assert.Equal(sim.Seed.ServicesDataVolumeId, done.VolumeId);
        Assert.Equal("CircleCI data backup", done.Description);
        Assert.Equal(s.StartTime, done.StartTime);
    }

    [Fact]
    public async Task CreateSnapshots_snapshots_every_volume_of_the_instance()
    {
        await using var sim = await Sim.StartAsync();
        await sim.Ec2.CreateTagsAsync(new CreateTagsRequest { Resources = [sim.Seed.ServicesDataVolumeId], Tags = [new Tag("role", "data")] });
        var r = await sim.Ec2.CreateSnapshotsAsync(new CreateSnapshotsRequest
        {
            InstanceSpecification = new InstanceSpecification { InstanceId = sim.Seed.ServicesInstanceId },
            Description = "CircleCI crash-consistent backup",
            CopyTagsFromSource = CopyTagsFromSource.Volume,
            TagSpecifications = [new TagSpecification { ResourceType = ResourceType.Snapshot, Tags = [new Tag("ccie:backup", "b1")] }],
        });
        Assert.Equal(2, r.Snapshots.Count);
        Assert.Equal(new[] { sim.Seed.ServicesRootVolumeId, sim.Seed.ServicesDataVolumeId }.Order(), r.Snapshots.Select(s => s.VolumeId).Order());
        Assert.All(r.Snapshots, s => Assert.Equal(SnapshotState.Pending, s.State));
        Assert.All(r.Snapshots, s => Assert.Contains(s.Tags, t => t.Key == "ccie:backup" && t.Value == "b1"));
        Assert.Contains(r.Snapshots.Single(s => s.VolumeId == sim.Seed.ServicesDataVolumeId).Tags, t => t.Key == "role");

        var noBoot = await sim.Ec2.CreateSnapshotsAsync(new CreateSnapshotsRequest
        {
            InstanceSpecification = new InstanceSpecification { InstanceId = sim.Seed.ServicesInstanceId, ExcludeBootVolume = true },
        });
        Assert.Equal(sim.Seed.ServicesDataVolumeId, noBoot.Snapshots.Single().VolumeId);

        sim.Advance(10);
        var all = await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest
        {
            OwnerIds = ["self"],
            Filters = [new Filter("description", ["CircleCI*"]), new Filter("status", ["completed"])],
        });
        Assert.Equal(2, all.Snapshots.Count);
    }

    [Fact]
    public async Task Image_register_from_snapshots_and_delete_refused_while_in_use()
    {
        await using var sim = await Sim.StartAsync();
        var snaps = await sim.Ec2.CreateSnapshotsAsync(new CreateSnapshotsRequest { InstanceSpecification = new InstanceSpecification { InstanceId = sim.Seed.ServicesInstanceId } });
        var root = snaps.Snapshots.Single(s => s.VolumeId == sim.Seed.ServicesRootVolumeId);
        var data = snaps.Snapshots.Single(s => s.VolumeId == sim.Seed.ServicesDataVolumeId);

        RegisterImageRequest Register(string name) => new()
        {
            Name = name,
            RootDeviceName = "/dev/sda1",
            Architecture = ArchitectureValues.X86_64,
            EnaSupport = true,
            VirtualizationType = "hvm",
            BlockDeviceMappings =
            [
                new BlockDeviceMapping { DeviceName = "/dev/sda1", Ebs = new EbsBlockDevice { SnapshotId = root.SnapshotId, VolumeType = VolumeType.Gp3, DeleteOnTermination = true } },
                new BlockDeviceMapping { DeviceName = "/dev/xvdf", Ebs = new EbsBlockDevice { SnapshotId = data.SnapshotId, VolumeSize = 600, VolumeType = VolumeType.Gp3, DeleteOnTermination = false } },
            ],
        };

        var pending = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.RegisterImageAsync(Register("circleci-restore-1")));
        Assert.Equal("IncorrectState", pending.ErrorCode);
        sim.Advance(10);

        var reg = await sim.Ec2.RegisterImageAsync(Register("circleci-restore-1"));
        var img = await sim.Image(reg.ImageId);
        Assert.Equal(ImageState.Pending, img.State);
        Assert.Equal("/dev/sda1", img.RootDeviceName);
        Assert.Equal(VirtualizationType.Hvm, img.VirtualizationType);
        Assert.True(img.EnaSupport);
        Assert.Equal(ArchitectureValues.X86_64, img.Architecture);
        Assert.Equal("123456789012", img.OwnerId);
        var dataMapping = img.BlockDeviceMappings.Single(b => b.DeviceName == "/dev/xvdf");
        Assert.Equal(600, dataMapping.Ebs.VolumeSize);
        Assert.True(dataMapping.Ebs.Encrypted);
        Assert.False(dataMapping.Ebs.DeleteOnTermination);
        Assert.Equal(50, img.BlockDeviceMappings.Single(b => b.DeviceName == "/dev/sda1").Ebs.VolumeSize);

        sim.Advance(10);
        Assert.Equal(ImageState.Available, (await sim.Image(reg.ImageId)).State);

        var dup = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.RegisterImageAsync(Register("circleci-restore-1")));
        Assert.Equal("InvalidAMIName.Duplicate", dup.ErrorCode);

        var inUse = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DeleteSnapshotAsync(new DeleteSnapshotRequest { SnapshotId = root.SnapshotId }));
        Assert.Equal("InvalidSnapshot.InUse", inUse.ErrorCode);
        Assert.Contains(reg.ImageId, inUse.Message);

        // A launch from the image gets volumes from its snapshots, encrypted where the snapshot is.
        var restored = await sim.Launch("10.0.1.77", configure: r => r.ImageId = reg.ImageId);
        var vols = (await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { Filters = [new Filter("attachment.instance-id", [restored.InstanceId])] })).Volumes;
        var dataVol = vols.Single(v => v.SnapshotId == data.SnapshotId);
        Assert.Equal(600, dataVol.Size);
        Assert.True(dataVol.Encrypted);
        Assert.Equal(sim.Seed.DataVolumeKmsKeyId, dataVol.KmsKeyId);

        await sim.Ec2.DeregisterImageAsync(new DeregisterImageRequest { ImageId = reg.ImageId });
        await sim.Ec2.DeleteSnapshotAsync(new DeleteSnapshotRequest { SnapshotId = root.SnapshotId });
        var gone = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Snapshot(root.SnapshotId));
        Assert.Equal("InvalidSnapshot.NotFound", gone.ErrorCode);
    }

    [Fact]
    public async Task RegisterImage_defaults_to_paravirtual_and_checks_the_root_device()
    {
        await using var sim = await Sim.StartAsync();
        var snap = sim.Seed.ImageSnapshotIds[0];
        var badRoot = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.RegisterImageAsync(new RegisterImageRequest
        {
            Name = "bad-root",
            RootDeviceName = "/dev/xvda",
            BlockDeviceMappings = [new BlockDeviceMapping { DeviceName = "/dev/sda1", Ebs = new EbsBlockDevice { SnapshotId = snap } }],
        }));
        Assert.Equal("InvalidParameterValue", badRoot.ErrorCode);
        var malformed = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.RegisterImageAsync(new RegisterImageRequest
        {
            Name = "bad name!",
            RootDeviceName = "/dev/sda1",
            BlockDeviceMappings = [new BlockDeviceMapping { DeviceName = "/dev/sda1", Ebs = new EbsBlockDevice { SnapshotId = snap } }],
        }));
        Assert.Equal("InvalidAMIName.Malformed", malformed.ErrorCode);
        var ok = await sim.Ec2.RegisterImageAsync(new RegisterImageRequest
        {
            Name = "default-virt",
            RootDeviceName = "/dev/sda1",
            BlockDeviceMappings = [new BlockDeviceMapping { DeviceName = "/dev/sda1", Ebs = new EbsBlockDevice { SnapshotId = snap } }],
        });
        var img = await sim.Image(ok.ImageId);
        Assert.Equal(VirtualizationType.Paravirtual, img.VirtualizationType);
        Assert.False(img.EnaSupport ?? false);
    }

    [Fact]
    public async Task CreateImage_snapshots_the_instance_and_becomes_available()
    {
        await using var sim = await Sim.StartAsync();
        var r = await sim.Ec2.CreateImageAsync(new CreateImageRequest
        {
            InstanceId = sim.Seed.ServicesInstanceId,
            Name = "circleci-services-replica-source",
            NoReboot = true,
            TagSpecifications = [new TagSpecification { ResourceType = ResourceType.Image, Tags = [new Tag("ccie:role", "replica")] }],
        });
        var img = await sim.Image(r.ImageId);
        Assert.Equal(ImageState.Pending, img.State);
        Assert.Equal(2, img.BlockDeviceMappings.Count);
        Assert.True(img.EnaSupport);
        Assert.Equal(VirtualizationType.Hvm, img.VirtualizationType);
        Assert.Equal("replica", img.Tags.Single().Value);
        var snapIds = img.BlockDeviceMappings.Select(b => b.Ebs.SnapshotId).ToList();
        var snaps = (await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = snapIds })).Snapshots;
        Assert.All(snaps, s => Assert.Equal(SnapshotState.Pending, s.State));
        Assert.All(snaps, s => Assert.Contains(r.ImageId, s.Description));

        sim.Advance(10);
        Assert.Equal(ImageState.Available, (await sim.Image(r.ImageId)).State);
        var byName = await sim.Ec2.DescribeImagesAsync(new DescribeImagesRequest { Owners = ["self"], Filters = [new Filter("name", ["circleci-services-replica-*"])] });
        Assert.Equal(r.ImageId, byName.Images.Single().ImageId);
        var byTag = await sim.Ec2.DescribeImagesAsync(new DescribeImagesRequest { Owners = ["self"], Filters = [new Filter("tag:ccie:role", ["replica"])] });
        Assert.Equal(r.ImageId, byTag.Images.Single().ImageId);
    }

    [Fact]
    public async Task CopySnapshot_across_regions_keeps_encryption()
    {
        await using var sim = await Sim.StartAsync();
        var west = sim.Client("us-west-2");
        var source = (await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesDataVolumeId, Description = "CircleCI data" })).Snapshot;
        var plain = (await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesRootVolumeId, Description = "CircleCI root" })).Snapshot;

        var notReady = await Assert.ThrowsAsync<AmazonEC2Exception>(() => west.CopySnapshotAsync(new CopySnapshotRequest { SourceRegion = "us-east-1", SourceSnapshotId = source.SnapshotId }));
        Assert.Equal("IncorrectState", notReady.ErrorCode);
        sim.Advance(10);

        var copy = await west.CopySnapshotAsync(new CopySnapshotRequest
        {
            SourceRegion = "us-east-1",
            SourceSnapshotId = source.SnapshotId,
            Description = "CircleCI data (DR copy)",
            TagSpecifications = [new TagSpecification { ResourceType = ResourceType.Snapshot, Tags = [new Tag("ccie:source", source.SnapshotId)] }],
        });
        Assert.StartsWith("snap-", copy.SnapshotId);
        var c = await sim.Snapshot(copy.SnapshotId, west);
        Assert.Equal(SnapshotState.Pending, c.State);
        Assert.True(c.Encrypted);
        Assert.StartsWith("arn:aws:kms:us-west-2:", c.KmsKeyId);
        Assert.Equal(500, c.VolumeSize);
        Assert.Equal(source.SnapshotId, c.Tags.Single().Value);
        sim.Advance(10);
        Assert.Equal(SnapshotState.Completed, (await sim.Snapshot(copy.SnapshotId, west)).State);

        // Not visible in the source region; the source still is.
        var notThere = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Snapshot(copy.SnapshotId));
        Assert.Equal("InvalidSnapshot.NotFound", notThere.ErrorCode);

        var encrypted = await west.CopySnapshotAsync(new CopySnapshotRequest { SourceRegion = "us-east-1", SourceSnapshotId = plain.SnapshotId, Encrypted = true, KmsKeyId = "arn:aws:kms:us-west-2:123456789012:key/dr" });
        var e = await sim.Snapshot(encrypted.SnapshotId, west);
        Assert.True(e.Encrypted);
        Assert.Equal("arn:aws:kms:us-west-2:123456789012:key/dr", e.KmsKeyId);

        var plainCopy = await west.CopySnapshotAsync(new CopySnapshotRequest { SourceRegion = "us-east-1", SourceSnapshotId = plain.SnapshotId });
        Assert.False((await sim.Snapshot(plainCopy.SnapshotId, west)).Encrypted);

        var kmsWithoutEncrypted = await Assert.ThrowsAsync<AmazonEC2Exception>(() => west.CopySnapshotAsync(new CopySnapshotRequest { SourceRegion = "us-east-1", SourceSnapshotId = plain.SnapshotId, KmsKeyId = "arn:aws:kms:us-west-2:123456789012:key/dr" }));
        Assert.Equal("InvalidParameterDependency", kmsWithoutEncrypted.ErrorCode);
        var missing = await Assert.ThrowsAsync<AmazonEC2Exception>(() => west.CopySnapshotAsync(new CopySnapshotRequest { SourceRegion = "us-east-1", SourceSnapshotId = "snap-0123456789abcdef0" }));
        Assert.Equal("InvalidSnapshot.NotFound", missing.ErrorCode);
    }

    [Fact]
    public async Task Volume_from_a_snapshot_inherits_encryption_and_ClientToken_is_idempotent()
    {
        await using var sim = await Sim.StartAsync();
        var snap = (await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesDataVolumeId })).Snapshot;
        var pending = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.CreateVolumeAsync(new CreateVolumeRequest { AvailabilityZone = "us-east-1b", SnapshotId = snap.SnapshotId }));
        Assert.Equal("IncorrectState", pending.ErrorCode);
        sim.Advance(10);
        var small = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.CreateVolumeAsync(new CreateVolumeRequest { AvailabilityZone = "us-east-1b", SnapshotId = snap.SnapshotId, Size = 100 }));
        Assert.Equal("InvalidParameterValue", small.ErrorCode);

        var request = new CreateVolumeRequest { AvailabilityZone = "us-east-1b", SnapshotId = snap.SnapshotId, VolumeType = VolumeType.Gp3, ClientToken = "restore-data-1" };
        var first = (await sim.Ec2.CreateVolumeAsync(request)).Volume;
        var again = (await sim.Ec2.CreateVolumeAsync(request)).Volume;
        Assert.Equal(first.VolumeId, again.VolumeId);
        Assert.Equal(500, first.Size);
        Assert.True(first.Encrypted);
        Assert.Equal(sim.Seed.DataVolumeKmsKeyId, first.KmsKeyId);
        Assert.Equal(snap.SnapshotId, first.SnapshotId);
        Assert.Equal("us-east-1b", first.AvailabilityZone);
        var bySnapshot = await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { Filters = [new Filter("snapshot-id", [snap.SnapshotId])] });
        Assert.Single(bySnapshot.Volumes);

        var badZone = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.CreateVolumeAsync(new CreateVolumeRequest { AvailabilityZone = "us-east-1z", Size = 10 }));
        Assert.Equal("InvalidParameterValue", badZone.ErrorCode);
        var io1 = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.CreateVolumeAsync(new CreateVolumeRequest { AvailabilityZone = "us-east-1a", Size = 10, VolumeType = VolumeType.Io1 }));
        Assert.Equal("MissingParameter", io1.ErrorCode);
    }
}
