using Amazon.EC2;
using Amazon.EC2.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

/// <summary>The DR flows the module automates, done by hand through the SDK: the simulator's rules must allow them and only them.</summary>
public sealed class ScenarioTests
{
    [Fact]
    public async Task Backup_outage_restore_with_the_same_private_ip()
    {
        await using var sim = await Sim.StartAsync();
        var box = await sim.Instance(sim.Seed.ServicesInstanceId);

        // Backup: crash-consistent snapshots of every volume, tagged with what a restore needs.
        var backup = await sim.Ec2.CreateSnapshotsAsync(new CreateSnapshotsRequest
        {
            InstanceSpecification = new InstanceSpecification { InstanceId = box.InstanceId },
            Description = "CircleCI Services backup",
            TagSpecifications = [new TagSpecification { ResourceType = ResourceType.Snapshot, Tags = [new Tag("ccie:private-ip", box.PrivateIpAddress), new Tag("ccie:subnet", box.SubnetId)] }],
        });
        sim.Advance(10);

        // Outage: the box dies.
        sim.Control.KillInstance("us-east-1", box.InstanceId, stopAfterSeconds: 5);
        sim.Advance(20);
        Assert.Equal(InstanceStateName.Stopped, (await sim.Instance(box.InstanceId)).State.Name);

        // The IP is still held by the dead box: a restore with it fails until the box is terminated.
        var held = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch(box.PrivateIpAddress));
        Assert.Equal("InvalidIPAddress.InUse", held.ErrorCode);

        // Restore: AMI from the snapshots, fence the old box, launch with the same IP, type, groups, key, profile.
        var byDevice = backup.Snapshots.ToDictionary(s => box.BlockDeviceMappings.Single(b => b.Ebs.VolumeId == s.VolumeId).DeviceName, s => s.SnapshotId);
        var image = await sim.Ec2.RegisterImageAsync(new RegisterImageRequest
        {
            Name = "circleci-services-restore-1",
            RootDeviceName = box.RootDeviceName,
            Architecture = box.Architecture,
            EnaSupport = box.EnaSupport,
            VirtualizationType = box.VirtualizationType.Value,
            BlockDeviceMappings = byDevice.Select(kv => new BlockDeviceMapping { DeviceName = kv.Key, Ebs = new EbsBlockDevice { SnapshotId = kv.Value, VolumeType = VolumeType.Gp3, DeleteOnTermination = kv.Key == box.RootDeviceName } }).ToList(),
        });
        await sim.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [box.InstanceId] });
        sim.Advance(10);
        var restored = (await sim.Ec2.RunInstancesAsync(new RunInstancesRequest
        {
            ImageId = image.ImageId,
            InstanceType = box.InstanceType,
            MinCount = 1,
            MaxCount = 1,
            SubnetId = box.SubnetId,
            PrivateIpAddress = box.PrivateIpAddress,
            SecurityGroupIds = box.SecurityGroups.Select(g => g.GroupId).ToList(),
            KeyName = box.KeyName,
            IamInstanceProfile = new IamInstanceProfileSpecification { Arn = box.IamInstanceProfile.Arn },
            ClientToken = "restore-" + image.ImageId,
            TagSpecifications = [new TagSpecification { ResourceType = ResourceType.Instance, Tags = [new Tag("Name", "circleci_services")] }],
        })).Reservation.Instances.Single();
        sim.Advance(10);
        sim.Advance(10);

        var now = await sim.Instance(restored.InstanceId);
        Assert.Equal(InstanceStateName.Running, now.State.Name);
        Assert.Equal("10.0.1.10", now.PrivateIpAddress);
        Assert.Equal(box.InstanceType, now.InstanceType);
        Assert.Equal(box.IamInstanceProfile.Arn, now.IamInstanceProfile.Arn);
        var data = (await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { Filters = [new Filter("attachment.instance-id", [now.InstanceId]), new Filter("attachment.device", ["/dev/xvdf"])] })).Volumes.Single();
        Assert.Equal(500, data.Size);
        Assert.True(data.Encrypted);
        var status = (await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [now.InstanceId] })).InstanceStatuses.Single();
        Assert.Equal(SummaryStatus.Ok, status.Status.Status);

        // The old data volume survived termination (DeleteOnTermination false) and is available.
        Assert.Equal(VolumeState.Available, (await sim.Volume(sim.Seed.ServicesDataVolumeId)).State);
        var oneBox = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("tag:Name", ["circleci_services"]), new Filter("instance-state-name", ["running"])] });
        Assert.Equal(now.InstanceId, oneBox.Reservations.Single().Instances.Single().InstanceId);
    }

    [Fact]
    public async Task Failover_to_a_replica_in_the_other_az_moving_a_floating_secondary_ip()
    {
        await using var sim = await Sim.StartAsync();
        // The box serves on a secondary (floating) IP as well as its primary.
        await sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = sim.Seed.ServicesNetworkInterfaceId, PrivateIpAddresses = ["10.0.1.250"] });
        var ami = await sim.Ec2.CreateImageAsync(new CreateImageRequest { InstanceId = sim.Seed.ServicesInstanceId, Name = "circleci-services-replica", NoReboot = true });
        sim.Advance(10);

        // AZ a goes down; the replica goes to AZ b. A floating IP cannot cross subnets (and so AZs).
        sim.Control.FailAvailabilityZone("us-east-1", "us-east-1a");
        var replica = await sim.Launch(subnetId: sim.Seed.SubnetBId, configure: r => r.ImageId = ami.ImageId);
        var eni = (await sim.Instance(replica.InstanceId)).NetworkInterfaces.Single().NetworkInterfaceId;
        var crossSubnet = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = eni, PrivateIpAddresses = ["10.0.1.250"], AllowReassignment = true }));
        Assert.Equal("InvalidParameterValue", crossSubnet.ErrorCode);

        // Back in AZ a, the replica takes the floating IP over from the (fenced) primary.
        sim.Control.RestoreAvailabilityZone("us-east-1", "us-east-1a");
        var sameAz = await sim.Launch(configure: r => r.ImageId = ami.ImageId);
        await sim.Ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [sim.Seed.ServicesInstanceId] });
        var sameAzEni = sameAz.NetworkInterfaces.Single().NetworkInterfaceId;
        await sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = sameAzEni, PrivateIpAddresses = ["10.0.1.250"], AllowReassignment = true });
        var holder = await sim.Ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest { Filters = [new Filter("addresses.private-ip-address", ["10.0.1.250"])] });
        Assert.Equal(sameAz.InstanceId, holder.NetworkInterfaces.Single().Attachment.InstanceId);
    }
}
