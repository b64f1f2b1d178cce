using Amazon.EC2;
using Amazon.EC2.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

public sealed class InstanceTests
{
    [Fact]
    public async Task Lifecycle_moves_with_the_clock()
    {
        await using var sim = await Sim.StartAsync();
        var launched = await sim.Launch();
        Assert.Equal(InstanceStateName.Pending, launched.State.Name);
        Assert.Equal("us-east-1a", launched.Placement.AvailabilityZone);

        sim.Advance(5);
        Assert.Equal(InstanceStateName.Pending, (await sim.Instance(launched.InstanceId)).State.Name);
        sim.Advance(5);
        Assert.Equal(InstanceStateName.Running, (await sim.Instance(launched.InstanceId)).State.Name);

        var status = await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [launched.InstanceId] });
        Assert.Equal(SummaryStatus.Initializing, status.InstanceStatuses.Single().Status.Status);
        sim.Advance(10);
        status = await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [launched.InstanceId] });
        Assert.Equal(SummaryStatus.Ok, status.InstanceStatuses.Single().Status.Status);
        Assert.Equal(StatusType.Passed, status.InstanceStatuses.Single().Status.Details.Single().Status);

        var stop = await sim.Ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [launched.InstanceId] });
        Assert.Equal(InstanceStateName.Stopping, stop.StoppingInstances.Single().CurrentState.Name);
        Assert.Equal(InstanceStateName.Running, stop.StoppingInstances.Single().PreviousState.Name);
        sim.Advance(10);
        var stopped = await sim.Instance(launched.InstanceId);
        Assert.Equal(InstanceStateName.Stopped, stopped.State.Name);
        Assert.Equal("Client.UserInitiatedShutdown", stopped.StateReason.Code);

        // Running-only by default; IncludeAllInstances shows the stopped one.
        status = await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [launched.InstanceId] });
        Assert.Empty(status.InstanceStatuses ?? []);
        status = await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [launched.InstanceId], IncludeAllInstances = true });
        Assert.Equal(InstanceStateName.Stopped, status.InstanceStatuses.Single().InstanceState.Name);

        var start = await sim.Ec2.StartInstancesAsync(new StartInstancesRequest { InstanceIds = [launched.InstanceId] });
        Assert.Equal(InstanceStateName.Pending, start.StartingInstances.Single().CurrentState.Name);
        sim.Advance(10);
        Assert.Equal(InstanceStateName.Running, (await sim.Instance(launched.InstanceId)).State.Name);

        var terminate = await sim.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [launched.InstanceId] });
        Assert.Equal(InstanceStateName.ShuttingDown, terminate.TerminatingInstances.Single().CurrentState.Name);
        sim.Advance(10);
        Assert.Equal(InstanceStateName.Terminated, (await sim.Instance(launched.InstanceId)).State.Name);

        // Terminated instances stay visible for a while, then vanish.
        sim.Advance(sim.Control.Durations.TerminatedRetention + 1);
        var gone = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Instance(launched.InstanceId));
        Assert.Equal("InvalidInstanceID.NotFound", gone.ErrorCode);
    }

    [Fact]
    public async Task Stop_of_a_terminated_instance_is_refused()
    {
        await using var sim = await Sim.StartAsync();
        var id = sim.Seed.BuilderInstanceIds[0];
        await sim.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [id] });
        var e = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [id] }));
        Assert.Equal("IncorrectInstanceState", e.ErrorCode);
    }

    [Fact]
    public async Task RunInstances_honours_every_launch_parameter()
    {
        await using var sim = await Sim.StartAsync();
        var userData = Convert.ToBase64String("#!/bin/bash\necho hi\n"u8.ToArray());
        var i = await sim.Launch("10.0.1.50", configure: r =>
        {
            r.IamInstanceProfile = new IamInstanceProfileSpecification { Name = "circleci-services" };
            r.UserData = userData;
            r.BlockDeviceMappings =
            [
                new BlockDeviceMapping { DeviceName = "/dev/sda1", Ebs = new EbsBlockDevice { VolumeSize = 80, VolumeType = VolumeType.Gp3 } },
                new BlockDeviceMapping { DeviceName = "/dev/xvdf", Ebs = new EbsBlockDevice { VolumeSize = 200, VolumeType = VolumeType.Io1, Iops = 4000, Encrypted = true, KmsKeyId = "arn:aws:kms:us-east-1:123456789012:key/abc", DeleteOnTermination = false } },
            ];
            r.TagSpecifications =
            [
                new TagSpecification { ResourceType = ResourceType.Instance, Tags = [new Tag("Name", "restored")] },
                new TagSpecification { ResourceType = ResourceType.Volume, Tags = [new Tag("backup", "yes")] },
            ];
        });
        Assert.Equal("10.0.1.50", i.PrivateIpAddress);
        Assert.Equal("arn:aws:iam::123456789012:instance-profile/circleci-services", i.IamInstanceProfile.Arn);
        Assert.Equal("restored", i.Tags.Single(t => t.Key == "Name").Value);
        Assert.Equal(2, i.BlockDeviceMappings.Count);

        var vols = (await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { Filters = [new Filter("attachment.instance-id", [i.InstanceId])] })).Volumes;
        var root = vols.Single(v => v.Attachments[0].Device == "/dev/sda1");
        Assert.Equal(80, root.Size);
        Assert.Equal(sim.Seed.ImageSnapshotIds[0], root.SnapshotId);
        var data = vols.Single(v => v.Attachments[0].Device == "/dev/xvdf");
        Assert.Equal(VolumeType.Io1, data.VolumeType);
        Assert.Equal(4000, data.Iops);
        Assert.True(data.Encrypted);
        Assert.Equal("arn:aws:kms:us-east-1:123456789012:key/abc", data.KmsKeyId);
        Assert.All(vols, v => Assert.Equal("yes", v.Tags.Single(t => t.Key == "backup").Value));
        Assert.All(vols, v => Assert.Equal("us-east-1a", v.AvailabilityZone));

        var attr = await sim.Ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = i.InstanceId, Attribute = InstanceAttributeName.UserData });
        Assert.Equal(userData, attr.InstanceAttribute.UserData);

        // Termination deletes DeleteOnTermination volumes, keeps the others, and frees the IP.
        await sim.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [i.InstanceId] });
        sim.Advance(10);
        var left = (await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { Filters = [new Filter("volume-id", vols.Select(v => v.VolumeId).ToList())] })).Volumes;
        Assert.Equal(data.VolumeId, left.Single().VolumeId);
        Assert.Equal(VolumeState.Available, left.Single().State);
        Assert.Empty(left.Single().Attachments ?? []);
        var again = await sim.Launch("10.0.1.50");
        Assert.Equal("10.0.1.50", again.PrivateIpAddress);
    }

    [Fact]
    public async Task RunInstances_validates_image_subnet_groups_and_key()
    {
        await using var sim = await Sim.StartAsync();
        var noImage = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch(configure: r => r.ImageId = "ami-0123456789abcdef0"));
        Assert.Equal("InvalidAMIID.NotFound", noImage.ErrorCode);
        var noSubnet = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch(subnetId: "subnet-0123456789abcdef0"));
        Assert.Equal("InvalidSubnetID.NotFound", noSubnet.ErrorCode);
        var noKey = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch(configure: r => r.KeyName = "other"));
        Assert.Equal("InvalidKeyPair.NotFound", noKey.ErrorCode);
        var noGroup = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch(configure: r => r.SecurityGroupIds = ["sg-0123456789abcdef0"]));
        Assert.Equal("InvalidGroup.NotFound", noGroup.ErrorCode);
        var wrongAz = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch(configure: r => r.Placement = new Placement("us-east-1b")));
        Assert.Equal("InvalidParameterValue", wrongAz.ErrorCode);
        var small = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch(configure: r => r.BlockDeviceMappings = [new BlockDeviceMapping { DeviceName = "/dev/sda1", Ebs = new EbsBlockDevice { VolumeSize = 10 } }]));
        Assert.Equal("InvalidBlockDeviceMapping", small.ErrorCode);

        // An image still pending cannot be launched.
        var img = await sim.Ec2.CreateImageAsync(new CreateImageRequest { InstanceId = sim.Seed.ServicesInstanceId, Name = "pending-one", NoReboot = true });
        var pending = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch(configure: r => r.ImageId = img.ImageId));
        Assert.Equal("InvalidAMIID.Unavailable", pending.ErrorCode);
        Assert.DoesNotContain(sim.Control.RequestLog("RunInstances"), e => e.Status == 200);
    }

    [Fact]
    public async Task ClientToken_returns_the_same_reservation()
    {
        await using var sim = await Sim.StartAsync();
        var first = await sim.Ec2.RunInstancesAsync(Request(sim, "token-1"));
        sim.Advance(10);
        var second = await sim.Ec2.RunInstancesAsync(Request(sim, "token-1"));
        Assert.Equal(first.Reservation.ReservationId, second.Reservation.ReservationId);
        Assert.Equal(first.Reservation.Instances.Single().InstanceId, second.Reservation.Instances.Single().InstanceId);
        Assert.Equal(InstanceStateName.Running, second.Reservation.Instances.Single().State.Name);
        Assert.Equal("token-1", second.Reservation.Instances.Single().ClientToken);

        var all = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("client-token", ["token-1"])] });
        Assert.Single(all.Reservations.SelectMany(r => r.Instances));

        var mismatch = Request(sim, "token-1");
        mismatch.InstanceType = InstanceType.M5Large;
        var e = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.RunInstancesAsync(mismatch));
        Assert.Equal("IdempotentParameterMismatch", e.ErrorCode);

        var other = await sim.Ec2.RunInstancesAsync(Request(sim, "token-2"));
        Assert.NotEqual(first.Reservation.ReservationId, other.Reservation.ReservationId);
    }

    private static RunInstancesRequest Request(Sim sim, string token) => new()
    {
        ImageId = sim.Seed.BuilderImageId,
        InstanceType = InstanceType.M5Xlarge,
        MinCount = 1,
        MaxCount = 1,
        SubnetId = sim.Seed.SubnetBId,
        ClientToken = token,
    };

    [Fact]
    public async Task MinCount_MaxCount_launch_several_with_distinct_addresses()
    {
        await using var sim = await Sim.StartAsync();
        var r = await sim.Ec2.RunInstancesAsync(new RunInstancesRequest
        {
            ImageId = sim.Seed.BuilderImageId,
            InstanceType = InstanceType.M5Xlarge,
            MinCount = 2,
            MaxCount = 3,
            SubnetId = sim.Seed.SubnetBId,
            SecurityGroupIds = [sim.Seed.BuildersSecurityGroupId],
        });
        Assert.Equal(3, r.Reservation.Instances.Count);
        Assert.Equal(3, r.Reservation.Instances.Select(i => i.PrivateIpAddress).Distinct().Count());
        Assert.All(r.Reservation.Instances, i => Assert.StartsWith("10.0.2.", i.PrivateIpAddress));
        Assert.Equal([0, 1, 2], r.Reservation.Instances.Select(i => i.AmiLaunchIndex ?? -1).ToArray());
    }

    [Fact]
    public async Task ModifyInstanceAttribute_changes_user_data_only_when_stopped()
    {
        await using var sim = await Sim.StartAsync();
        var id = sim.Seed.BuilderInstanceIds[0];
        var raw = "SERVICES_PRIVATE_IP=10.0.1.99\n"u8.ToArray();
        var newData = Convert.ToBase64String(raw);
        var running = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = id, UserData = new SecureBlobAttributeValue { Value = new MemoryStream(raw) } }));
        Assert.Equal("IncorrectInstanceState", running.ErrorCode);
        await sim.Ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [id] });
        sim.Advance(10);
        await sim.Ec2.ModifyInstanceAttributeAsync(new ModifyInstanceAttributeRequest { InstanceId = id, UserData = new SecureBlobAttributeValue { Value = new MemoryStream(raw) } });
        var attr = await sim.Ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = id, Attribute = InstanceAttributeName.UserData });
        Assert.Equal(newData, attr.InstanceAttribute.UserData);
    }

    [Fact]
    public async Task DryRun_answers_DryRunOperation_and_changes_nothing()
    {
        await using var sim = await Sim.StartAsync();
        var e = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [sim.Seed.ServicesInstanceId], DryRun = true }));
        Assert.Equal("DryRunOperation", e.ErrorCode);
        Assert.Equal(System.Net.HttpStatusCode.PreconditionFailed, e.StatusCode);
        Assert.Equal(InstanceStateName.Running, (await sim.Instance(sim.Seed.ServicesInstanceId)).State.Name);
    }

    [Fact]
    public async Task Impaired_status_can_be_set_and_cleared_without_a_state_change()
    {
        await using var sim = await Sim.StartAsync();
        var id = sim.Seed.ServicesInstanceId;
        sim.Control.SetInstanceImpaired("us-east-1", id, true);
        var s = (await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [id] })).InstanceStatuses.Single();
        Assert.Equal(SummaryStatus.Impaired, s.Status.Status);
        sim.Advance(3600);
        Assert.Equal(InstanceStateName.Running, (await sim.Instance(id)).State.Name);
        sim.Control.SetInstanceImpaired("us-east-1", id, false);
        s = (await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [id] })).InstanceStatuses.Single();
        Assert.Equal(SummaryStatus.Ok, s.Status.Status);
    }

    [Fact]
    public async Task Reboot_keeps_running_and_restarts_the_status_checks()
    {
        await using var sim = await Sim.StartAsync();
        var id = sim.Seed.ServicesInstanceId;
        await sim.Ec2.RebootInstancesAsync(new RebootInstancesRequest { InstanceIds = [id] });
        var s = (await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [id] })).InstanceStatuses.Single();
        Assert.Equal(InstanceStateName.Running, s.InstanceState.Name);
        Assert.Equal(SummaryStatus.Initializing, s.Status.Status);
        sim.Advance(10);
        s = (await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [id] })).InstanceStatuses.Single();
        Assert.Equal(SummaryStatus.Ok, s.Status.Status);
    }
}
