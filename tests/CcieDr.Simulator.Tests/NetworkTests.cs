using Amazon.EC2;
using Amazon.EC2.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

public sealed class NetworkTests
{
    [Fact]
    public async Task A_private_ip_is_unique_in_its_subnet()
    {
        await using var sim = await Sim.StartAsync();
        var dup = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch("10.0.1.10"));
        Assert.Equal("InvalidIPAddress.InUse", dup.ErrorCode);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, dup.StatusCode);

        var outside = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch("10.0.2.10"));
        Assert.Equal("InvalidParameterValue", outside.ErrorCode);
        var reserved = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch("10.0.1.1"));
        Assert.Equal("InvalidParameterValue", reserved.ErrorCode);

        // The same address in the other subnet's range is another address; 10.0.2.10 is fine there.
        var b = await sim.Launch("10.0.2.10", subnetId: sim.Seed.SubnetBId);
        Assert.Equal("us-east-1b", b.Placement.AvailabilityZone);
    }

    [Fact]
    public async Task The_ip_is_released_only_when_the_interface_goes_at_termination()
    {
        await using var sim = await Sim.StartAsync();
        var box = sim.Seed.ServicesInstanceId;
        await sim.Ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [box] });
        sim.Advance(10);
        Assert.Equal("10.0.1.10", (await sim.Instance(box)).PrivateIpAddress);
        var stillHeld = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch("10.0.1.10"));
        Assert.Equal("InvalidIPAddress.InUse", stillHeld.ErrorCode);

        await sim.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [box] });
        var shuttingDown = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Launch("10.0.1.10"));
        Assert.Equal("InvalidIPAddress.InUse", shuttingDown.ErrorCode);
        sim.Advance(10);
        var eniGone = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Eni(sim.Seed.ServicesNetworkInterfaceId));
        Assert.Equal("InvalidNetworkInterfaceID.NotFound", eniGone.ErrorCode);
        var replacement = await sim.Launch("10.0.1.10");
        Assert.Equal("10.0.1.10", replacement.PrivateIpAddress);
    }

    [Fact]
    public async Task AssignPrivateIpAddresses_without_reassignment_refuses_an_ip_in_use_and_with_it_moves_the_ip()
    {
        await using var sim = await Sim.StartAsync();
        var replica = await sim.Launch("10.0.1.60");
        var replicaEni = replica.NetworkInterfaces.Single().NetworkInterfaceId;
        var primaryEni = sim.Seed.ServicesNetworkInterfaceId;

        // A secondary (floating) IP on the primary box.
        var assigned = await sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = primaryEni, PrivateIpAddresses = ["10.0.1.100"] });
        Assert.Equal("10.0.1.100", assigned.AssignedPrivateIpAddresses.Single().PrivateIpAddress);
        var primary = await sim.Eni(primaryEni);
        Assert.Equal(["10.0.1.10", "10.0.1.100"], primary.PrivateIpAddresses.Select(p => p.PrivateIpAddress).ToArray());
        Assert.False(primary.PrivateIpAddresses[1].Primary);

        var refused = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = replicaEni, PrivateIpAddresses = ["10.0.1.100"] }));
        Assert.Equal("InvalidParameterValue", refused.ErrorCode);
        Assert.Contains("10.0.1.100", (await sim.Eni(primaryEni)).PrivateIpAddresses.Select(p => p.PrivateIpAddress));

        await sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = replicaEni, PrivateIpAddresses = ["10.0.1.100"], AllowReassignment = true });
        Assert.DoesNotContain("10.0.1.100", (await sim.Eni(primaryEni)).PrivateIpAddresses.Select(p => p.PrivateIpAddress));
        Assert.Contains("10.0.1.100", (await sim.Eni(replicaEni)).PrivateIpAddresses.Select(p => p.PrivateIpAddress));
        var byIp = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("network-interface.addresses.private-ip-address", ["10.0.1.100"])] });
        Assert.Equal(replica.InstanceId, byIp.Reservations.Single().Instances.Single().InstanceId);
        Assert.Contains((await sim.Instance(replica.InstanceId)).NetworkInterfaces.Single().PrivateIpAddresses, p => p.PrivateIpAddress == "10.0.1.100" && p.Primary == false);

        // A primary address never moves, even with AllowReassignment.
        var primaryMove = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = replicaEni, PrivateIpAddresses = ["10.0.1.10"], AllowReassignment = true }));
        Assert.Equal("InvalidParameterValue", primaryMove.ErrorCode);

        // Outside the subnet.
        var outside = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = replicaEni, PrivateIpAddresses = ["10.0.2.100"] }));
        Assert.Equal("InvalidParameterValue", outside.ErrorCode);

        await sim.Ec2.UnassignPrivateIpAddressesAsync(new UnassignPrivateIpAddressesRequest { NetworkInterfaceId = replicaEni, PrivateIpAddresses = ["10.0.1.100"] });
        Assert.Single((await sim.Eni(replicaEni)).PrivateIpAddresses);
        var notThere = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.UnassignPrivateIpAddressesAsync(new UnassignPrivateIpAddressesRequest { NetworkInterfaceId = replicaEni, PrivateIpAddresses = ["10.0.1.100"] }));
        Assert.Equal("InvalidParameterValue", notThere.ErrorCode);
    }

    [Fact]
    public async Task Secondary_ip_count_and_subnet_free_address_count()
    {
        await using var sim = await Sim.StartAsync();
        async Task<int> Free() => (await sim.Ec2.DescribeSubnetsAsync(new DescribeSubnetsRequest { SubnetIds = [sim.Seed.SubnetAId] })).Subnets.Single().AvailableIpAddressCount ?? -1;
        var before = await Free();
        var r = await sim.Ec2.AssignPrivateIpAddressesAsync(new AssignPrivateIpAddressesRequest { NetworkInterfaceId = sim.Seed.ServicesNetworkInterfaceId, SecondaryPrivateIpAddressCount = 2 });
        Assert.Equal(2, r.AssignedPrivateIpAddresses.Count);
        Assert.All(r.AssignedPrivateIpAddresses, a => Assert.StartsWith("10.0.1.", a.PrivateIpAddress));
        Assert.Equal(before - 2, await Free());
        var eni = await sim.Eni(sim.Seed.ServicesNetworkInterfaceId);
        Assert.Equal(NetworkInterfaceStatus.InUse, eni.Status);
        Assert.Equal(sim.Seed.ServicesInstanceId, eni.Attachment.InstanceId);
        Assert.Equal("us-east-1a", eni.AvailabilityZone);
        Assert.Equal(3, eni.PrivateIpAddresses.Count);
    }

    [Fact]
    public async Task A_secondary_interface_moves_between_instances_and_survives_termination()
    {
        await using var sim = await Sim.StartAsync();
        var created = await sim.Ec2.CreateNetworkInterfaceAsync(new CreateNetworkInterfaceRequest
        {
            SubnetId = sim.Seed.SubnetAId,
            PrivateIpAddress = "10.0.1.200",
            Description = "circleci services floating",
            Groups = [sim.Seed.ServicesSecurityGroupId],
            TagSpecifications = [new TagSpecification { ResourceType = ResourceType.NetworkInterface, Tags = [new Tag("Name", "circleci-floating")] }],
        });
        var eniId = created.NetworkInterface.NetworkInterfaceId;
        Assert.Equal(NetworkInterfaceStatus.Available, created.NetworkInterface.Status);
        Assert.Equal("10.0.1.200", created.NetworkInterface.PrivateIpAddress);
        var dup = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.CreateNetworkInterfaceAsync(new CreateNetworkInterfaceRequest { SubnetId = sim.Seed.SubnetAId, PrivateIpAddress = "10.0.1.200" }));
        Assert.Equal("InvalidIPAddress.InUse", dup.ErrorCode);

        var attach = await sim.Ec2.AttachNetworkInterfaceAsync(new AttachNetworkInterfaceRequest { NetworkInterfaceId = eniId, InstanceId = sim.Seed.ServicesInstanceId, DeviceIndex = 1 });
        var box = await sim.Instance(sim.Seed.ServicesInstanceId);
        Assert.Equal([0, 1], box.NetworkInterfaces.Select(n => n.Attachment.DeviceIndex ?? -1).ToArray());
        var byIp = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("network-interface.addresses.private-ip-address", ["10.0.1.200"])] });
        Assert.Equal(sim.Seed.ServicesInstanceId, byIp.Reservations.Single().Instances.Single().InstanceId);

        var inUse = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DeleteNetworkInterfaceAsync(new DeleteNetworkInterfaceRequest { NetworkInterfaceId = eniId }));
        Assert.Equal("InvalidNetworkInterface.InUse", inUse.ErrorCode);
        var primary = (await sim.Eni(sim.Seed.ServicesNetworkInterfaceId)).Attachment.AttachmentId;
        var primaryDetach = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DetachNetworkInterfaceAsync(new DetachNetworkInterfaceRequest { AttachmentId = primary }));
        Assert.Equal("OperationNotPermitted", primaryDetach.ErrorCode);

        // Failover by moving the interface: detach from the box, attach to a replica in the same AZ.
        await sim.Ec2.DetachNetworkInterfaceAsync(new DetachNetworkInterfaceRequest { AttachmentId = attach.AttachmentId });
        var replica = await sim.Launch();
        sim.Advance(10);
        var otherAz = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.AttachNetworkInterfaceAsync(new AttachNetworkInterfaceRequest { NetworkInterfaceId = eniId, InstanceId = sim.Seed.BuilderInstanceIds[1], DeviceIndex = 1 }));
        Assert.Equal("InvalidParameterCombination", otherAz.ErrorCode);
        await sim.Ec2.AttachNetworkInterfaceAsync(new AttachNetworkInterfaceRequest { NetworkInterfaceId = eniId, InstanceId = replica.InstanceId, DeviceIndex = 1 });
        Assert.Equal(replica.InstanceId, (await sim.Eni(eniId)).Attachment.InstanceId);

        // Created separately, it is not deleted with the instance: it comes back available with its IP.
        await sim.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [replica.InstanceId] });
        sim.Advance(10);
        var after = await sim.Eni(eniId);
        Assert.Equal(NetworkInterfaceStatus.Available, after.Status);
        Assert.Equal("10.0.1.200", after.PrivateIpAddress);

        // A launch can take it as its primary interface.
        var launched = await sim.Ec2.RunInstancesAsync(new RunInstancesRequest
        {
            ImageId = sim.Seed.ServicesImageId,
            InstanceType = InstanceType.M52xlarge,
            MinCount = 1,
            MaxCount = 1,
            NetworkInterfaces = [new InstanceNetworkInterfaceSpecification { NetworkInterfaceId = eniId, DeviceIndex = 0 }],
        });
        Assert.Equal("10.0.1.200", launched.Reservation.Instances.Single().PrivateIpAddress);
        Assert.Equal(sim.Seed.ServicesSecurityGroupId, launched.Reservation.Instances.Single().SecurityGroups.Single().GroupId);

        await sim.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [launched.Reservation.Instances[0].InstanceId] });
        sim.Advance(10);
        await sim.Ec2.DeleteNetworkInterfaceAsync(new DeleteNetworkInterfaceRequest { NetworkInterfaceId = eniId });
        var gone = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Eni(eniId));
        Assert.Equal("InvalidNetworkInterfaceID.NotFound", gone.ErrorCode);
    }

    [Fact]
    public async Task An_isolated_drill_subnet_and_group_can_be_created_used_and_torn_down()
    {
        await using var sim = await Sim.StartAsync();
        var subnet = (await sim.Ec2.CreateSubnetAsync(new CreateSubnetRequest
        {
            VpcId = sim.Seed.VpcId,
            CidrBlock = "10.0.3.0/24",
            AvailabilityZone = "us-east-1b",
            TagSpecifications = [new TagSpecification { ResourceType = ResourceType.Subnet, Tags = [new Tag("Name", "circleci-drill")] }],
        })).Subnet;
        Assert.Equal("us-east-1b", subnet.AvailabilityZone);
        Assert.Equal(251, subnet.AvailableIpAddressCount);
        var conflict = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.CreateSubnetAsync(new CreateSubnetRequest { VpcId = sim.Seed.VpcId, CidrBlock = "10.0.1.128/25" }));
        Assert.Equal("InvalidSubnet.Conflict", conflict.ErrorCode);
        var range = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.CreateSubnetAsync(new CreateSubnetRequest { VpcId = sim.Seed.VpcId, CidrBlock = "192.168.0.0/24" }));
        Assert.Equal("InvalidSubnet.Range", range.ErrorCode);

        var group = await sim.Ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "circleci-drill", Description = "no ingress", VpcId = sim.Seed.VpcId });
        var dupGroup = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest { GroupName = "circleci-drill", Description = "again", VpcId = sim.Seed.VpcId }));
        Assert.Equal("InvalidGroup.Duplicate", dupGroup.ErrorCode);

        var drill = await sim.Launch("10.0.3.10", subnetId: subnet.SubnetId, configure: r => r.SecurityGroupIds = [group.GroupId]);
        Assert.Equal("us-east-1b", drill.Placement.AvailabilityZone);
        Assert.Equal("circleci-drill", drill.SecurityGroups.Single().GroupName);

        var busySubnet = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DeleteSubnetAsync(new DeleteSubnetRequest { SubnetId = subnet.SubnetId }));
        Assert.Equal("DependencyViolation", busySubnet.ErrorCode);
        var busyGroup = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DeleteSecurityGroupAsync(new DeleteSecurityGroupRequest { GroupId = group.GroupId }));
        Assert.Equal("DependencyViolation", busyGroup.ErrorCode);

        await sim.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [drill.InstanceId] });
        sim.Advance(10);
        await sim.Ec2.DeleteSecurityGroupAsync(new DeleteSecurityGroupRequest { GroupId = group.GroupId });
        await sim.Ec2.DeleteSubnetAsync(new DeleteSubnetRequest { SubnetId = subnet.SubnetId });
        var gone = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeSubnetsAsync(new DescribeSubnetsRequest { SubnetIds = [subnet.SubnetId] }));
        Assert.Equal("InvalidSubnetID.NotFound", gone.ErrorCode);
    }
}
