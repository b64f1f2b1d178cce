using Amazon.EC2;
using Amazon.EC2.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

/// <summary>The simulator's failover realism: forced stops, zombies, AZ outages of the control plane, IP and ENI moves, images of a running box.</summary>
public sealed class FailoverSimTests
{
    private const string Region = "us-east-1";

    [Fact]
    public async Task Zombie_stays_running_impaired_ignores_a_graceful_stop_and_stops_when_forced()
    {
        await using var sim = await Sim.StartAsync();
        var id = sim.Seed.ServicesInstanceId;
        sim.Advance(30);
        sim.Control.SetInstanceZombie(Region, id);
        sim.Advance(600);
        Assert.Equal(InstanceStateName.Running, (await sim.Instance(id)).State.Name);
        var status = (await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [id] })).InstanceStatuses.Single();
        Assert.Equal(SummaryStatus.Impaired, status.Status.Status);

        await sim.Ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [id] });
        sim.Advance(600);
        Assert.Equal(InstanceStateName.Stopping, (await sim.Instance(id)).State.Name);

        await sim.Ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [id], Force = true });
        sim.Advance(5);
        Assert.Equal(InstanceStateName.Stopping, (await sim.Instance(id)).State.Name);
        sim.Advance(6);
        Assert.Equal(InstanceStateName.Stopped, (await sim.Instance(id)).State.Name);
    }

    [Fact]
    public async Task Forced_stop_of_a_healthy_instance_stops_it()
    {
        await using var sim = await Sim.StartAsync();
        var id = sim.Seed.ServicesInstanceId;
        var r = await sim.Ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [id], Force = true });
        Assert.Equal(InstanceStateName.Stopping, r.StoppingInstances.Single().CurrentState.Name);
        sim.Advance(11);
        Assert.Equal(InstanceStateName.Stopped, (await sim.Instance(id)).State.Name);
        Assert.Contains(sim.Control.RequestLog("StopInstances"), e => e.Parameters.GetValueOrDefault("Force") == "true");
    }

    [Fact]
    public async Task Az_outage_with_api_errors_fails_calls_on_the_zone_and_freezes_its_instances()
    {
        await using var sim = await Sim.StartAsync();
        var id = sim.Seed.ServicesInstanceId;
        sim.Advance(30);
        var replica = await sim.Launch(subnetId: sim.Seed.SubnetBId);
        sim.Control.FailAvailabilityZone(Region, sim.Seed.AvailabilityZoneA, AzOutageMode.ApiErrors);

        var client = sim.Client(maxErrorRetry: 0);
        var stop = await Assert.ThrowsAsync<AmazonEC2Exception>(() => client.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [id], Force = true }));
        Assert.Equal("InternalError", stop.ErrorCode);
        var move = await Assert.ThrowsAsync<AmazonEC2Exception>(() => client.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = sim.Seed.ServicesNetworkInterfaceId, SecondaryPrivateIpAddressCount = 1 }));
        Assert.Equal("InternalError", move.ErrorCode);

        // The region still answers: describe shows the last state, tags can be written, the other AZ works.
        sim.Advance(600);
        Assert.Equal(InstanceStateName.Running, (await sim.Instance(id)).State.Name);
        await sim.Ec2.CreateTagsAsync(new CreateTagsRequest { Resources = [id], Tags = [new Tag("ccie:fenced", "assumed")] });
        Assert.Contains((await sim.Instance(id)).Tags, t => t.Key == "ccie:fenced");
        await sim.Ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [replica.InstanceId] });
        sim.Advance(11);
        Assert.Equal(InstanceStateName.Stopped, (await sim.Instance(replica.InstanceId)).State.Name);
        Assert.True(sim.Control.FaultCount("az-outage-error") >= 2);

        // A kill during the outage takes effect only when the zone is back.
        sim.Control.KillInstance(Region, id, 1);
        sim.Advance(60);
        Assert.Equal(InstanceStateName.Running, (await sim.Instance(id)).State.Name);
        sim.Control.RestoreAvailabilityZone(Region, sim.Seed.AvailabilityZoneA);
        sim.Advance(1);
        Assert.Equal(InstanceStateName.Stopped, (await sim.Instance(id)).State.Name);
    }

    [Fact]
    public async Task Az_outage_with_api_hangs_holds_the_call_until_the_client_gives_up()
    {
        await using var sim = await Sim.StartAsync();
        var id = sim.Seed.ServicesInstanceId;
        sim.Control.FailAvailabilityZone(Region, sim.Seed.AvailabilityZoneA, AzOutageMode.ApiHangs, hangMilliseconds: 200);
        var client = sim.Client(maxErrorRetry: 0);
        await Assert.ThrowsAnyAsync<Exception>(() => client.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [id] }));
        Assert.True(sim.Control.FaultCount("az-outage-hang", "StopInstances") >= 1);
        Assert.Equal(InstanceStateName.Running, (await sim.Instance(id)).State.Name);

        // The original outage mode (no mode given) still lets calls through.
        sim.Control.RestoreAvailabilityZone(Region, sim.Seed.AvailabilityZoneA);
        sim.Control.FailAvailabilityZone(Region, sim.Seed.AvailabilityZoneA);
        await sim.Ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [id] });
        Assert.Equal(InstanceStateName.Stopping, (await sim.Instance(id)).State.Name);
    }

    [Fact]
    public async Task Secondary_ip_moves_only_with_reassignment_within_the_subnet_and_never_a_primary()
    {
        await using var sim = await Sim.StartAsync();
        const string floating = "10.0.1.200";
        await sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = sim.Seed.ServicesNetworkInterfaceId, PrivateIpAddresses = [floating] });
        var replica = await sim.Launch();
        var replicaEni = replica.NetworkInterfaces.Single().NetworkInterfaceId;

        var inUse = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = replicaEni, PrivateIpAddresses = [floating] }));
        Assert.Equal("InvalidParameterValue", inUse.ErrorCode);
        var primary = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = replicaEni, PrivateIpAddresses = [sim.Seed.ServicesPrivateIp], AllowReassignment = true }));
        Assert.Equal("InvalidParameterValue", primary.ErrorCode);
        Assert.Contains("primary", primary.Message);

        var other = await sim.Launch(subnetId: sim.Seed.SubnetBId);
        var cross = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = other.NetworkInterfaces.Single().NetworkInterfaceId, PrivateIpAddresses = [floating], AllowReassignment = true }));
        Assert.Equal("InvalidParameterValue", cross.ErrorCode);

        await sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = replicaEni, PrivateIpAddresses = [floating], AllowReassignment = true });
        Assert.Contains((await sim.Eni(replicaEni)).PrivateIpAddresses, p => p.PrivateIpAddress == floating && p.Primary == false);
        Assert.DoesNotContain((await sim.Eni(sim.Seed.ServicesNetworkInterfaceId)).PrivateIpAddresses, p => p.PrivateIpAddress == floating);

        await sim.Ec2.UnassignPrivateIpAddressesAsync(new UnassignPrivateIpAddressesRequest { NetworkInterfaceId = replicaEni, PrivateIpAddresses = [floating] });
        Assert.DoesNotContain((await sim.Eni(replicaEni)).PrivateIpAddresses, p => p.PrivateIpAddress == floating);
    }

    [Fact]
    public async Task Secondary_eni_moves_between_instances_of_one_az_only()
    {
        await using var sim = await Sim.StartAsync();
        var eni = (await sim.Ec2.CreateNetworkInterfaceAsync(new CreateNetworkInterfaceRequest { SubnetId = sim.Seed.SubnetAId, Groups = [sim.Seed.ServicesSecurityGroupId] })).NetworkInterface;
        var attach = await sim.Ec2.AttachNetworkInterfaceAsync(new AttachNetworkInterfaceRequest { NetworkInterfaceId = eni.NetworkInterfaceId, InstanceId = sim.Seed.ServicesInstanceId, DeviceIndex = 1 });
        var replica = await sim.Launch();
        var busy = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AttachNetworkInterfaceAsync(new AttachNetworkInterfaceRequest { NetworkInterfaceId = eni.NetworkInterfaceId, InstanceId = replica.InstanceId, DeviceIndex = 1 }));
        Assert.Equal("InvalidNetworkInterface.InUse", busy.ErrorCode);

        var primaryAttachment = (await sim.Eni(sim.Seed.ServicesNetworkInterfaceId)).Attachment.AttachmentId;
        var first = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DetachNetworkInterfaceAsync(new DetachNetworkInterfaceRequest { AttachmentId = primaryAttachment }));
        Assert.Equal("OperationNotPermitted", first.ErrorCode);

        await sim.Ec2.DetachNetworkInterfaceAsync(new DetachNetworkInterfaceRequest { AttachmentId = attach.AttachmentId, Force = true });
        var other = await sim.Launch(subnetId: sim.Seed.SubnetBId);
        sim.Advance(11);
        var cross = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AttachNetworkInterfaceAsync(new AttachNetworkInterfaceRequest { NetworkInterfaceId = eni.NetworkInterfaceId, InstanceId = other.InstanceId, DeviceIndex = 1 }));
        Assert.Equal("InvalidParameterCombination", cross.ErrorCode);

        await sim.Ec2.AttachNetworkInterfaceAsync(new AttachNetworkInterfaceRequest { NetworkInterfaceId = eni.NetworkInterfaceId, InstanceId = replica.InstanceId, DeviceIndex = 1 });
        Assert.Equal(replica.InstanceId, (await sim.Eni(eni.NetworkInterfaceId)).Attachment.InstanceId);
    }

    [Fact]
    public async Task CreateImage_of_a_running_box_reboots_it_unless_no_reboot()
    {
        await using var sim = await Sim.StartAsync();
        var id = sim.Seed.ServicesInstanceId;
        sim.Advance(60);
        async Task<SummaryStatus> Status() =>
            (await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [id] })).InstanceStatuses.Single().Status.Status;
        Assert.Equal(SummaryStatus.Ok, await Status());

        var quiet = await sim.Ec2.CreateImageAsync(new CreateImageRequest { InstanceId = id, Name = "box-noreboot", NoReboot = true });
        Assert.Equal(SummaryStatus.Ok, await Status());
        var rebooted = await sim.Ec2.CreateImageAsync(new CreateImageRequest { InstanceId = id, Name = "box-reboot" });
        Assert.Equal(SummaryStatus.Initializing, await Status());

        sim.Advance(60);
        var image = await sim.Image(rebooted.ImageId);
        Assert.Equal(ImageState.Available, image.State);
        Assert.Equal(2, image.BlockDeviceMappings.Count(b => b.Ebs?.SnapshotId is not null));
        Assert.Equal(ImageState.Available, (await sim.Image(quiet.ImageId)).State);
    }
}
