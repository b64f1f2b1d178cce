using System.Net;
using System.Text;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Xunit;

namespace CcieDr.Simulator.Tests;

public sealed class ProtocolTests
{
    [Fact]
    public async Task Region_is_read_from_the_signature_and_each_region_has_its_own_state()
    {
        await using var sim = await Sim.StartAsync();
        var east = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest());
        Assert.Equal(3, east.Reservations.SelectMany(r => r.Instances).Count());

        var west = await sim.Client("us-west-2").DescribeInstancesAsync(new DescribeInstancesRequest());
        Assert.Empty(west.Reservations ?? []);

        var zones = await sim.Client("eu-west-1").DescribeAvailabilityZonesAsync(new DescribeAvailabilityZonesRequest());
        Assert.All(zones.AvailabilityZones, z => Assert.Equal("eu-west-1", z.RegionName));
        Assert.Contains(zones.AvailabilityZones, z => z.ZoneName == "eu-west-1a" && z.State == AvailabilityZoneState.Available);

        Assert.All(sim.Control.RequestLog("DescribeInstances").Take(2).Zip(["us-east-1", "us-west-2"]), x => Assert.Equal(x.Second, x.First.Region));
    }

    [Fact]
    public async Task DescribeRegions_lists_several_regions()
    {
        await using var sim = await Sim.StartAsync(seed: false);
        var r = await sim.Ec2.DescribeRegionsAsync(new DescribeRegionsRequest());
        var names = r.Regions.Select(x => x.RegionName).ToList();
        Assert.Contains("us-east-1", names);
        Assert.Contains("us-west-2", names);
        Assert.Contains("eu-west-1", names);
        Assert.Equal("ec2.eu-west-1.amazonaws.com", r.Regions.Single(x => x.RegionName == "eu-west-1").Endpoint);
    }

    [Fact]
    public async Task Unknown_action_gets_InvalidAction_400()
    {
        await using var sim = await Sim.StartAsync(seed: false);
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, sim.Server.Url)
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["Action"] = "DescribeUnicorns", ["Version"] = "2016-11-15" }),
        };
        request.Headers.TryAddWithoutValidation("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDSIM/20261128/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00");
        var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("<Code>InvalidAction</Code>", body);
        Assert.Contains("<RequestID>", body);
    }

    [Fact]
    public async Task Unsigned_request_and_unknown_region_are_refused()
    {
        await using var sim = await Sim.StartAsync(seed: false);
        using var http = new HttpClient();
        var form = new Dictionary<string, string> { ["Action"] = "DescribeInstances", ["Version"] = "2016-11-15" };
        var unsigned = await http.PostAsync(sim.Server.Url, new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        Assert.Contains("MissingAuthenticationToken", await unsigned.Content.ReadAsStringAsync());

        var e = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Client("xx-nowhere-1").DescribeInstancesAsync(new DescribeInstancesRequest()));
        Assert.Equal("AuthFailure", e.ErrorCode);
    }

    [Fact]
    public async Task Missing_and_malformed_ids_get_the_real_codes()
    {
        await using var sim = await Sim.StartAsync();
        var notFound = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = ["i-0123456789abcdef0"] }));
        Assert.Equal("InvalidInstanceID.NotFound", notFound.ErrorCode);
        Assert.Equal(HttpStatusCode.BadRequest, notFound.StatusCode);

        var malformed = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = ["bogus"] }));
        Assert.Equal("InvalidInstanceID.Malformed", malformed.ErrorCode);

        var vol = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { VolumeIds = ["vol-0123456789abcdef0"] }));
        Assert.Equal("InvalidVolume.NotFound", vol.ErrorCode);
        var snap = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = ["snap-0123456789abcdef0"] }));
        Assert.Equal("InvalidSnapshot.NotFound", snap.ErrorCode);
        var ami = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeImagesAsync(new DescribeImagesRequest { ImageIds = ["ami-0123456789abcdef0"] }));
        Assert.Equal("InvalidAMIID.NotFound", ami.ErrorCode);
        var subnet = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeSubnetsAsync(new DescribeSubnetsRequest { SubnetIds = ["subnet-0123456789abcdef0"] }));
        Assert.Equal("InvalidSubnetID.NotFound", subnet.ErrorCode);
        var eni = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest { NetworkInterfaceIds = ["eni-0123456789abcdef0"] }));
        Assert.Equal("InvalidNetworkInterfaceID.NotFound", eni.ErrorCode);
        var badFilter = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("no-such-filter", ["x"])] }));
        Assert.Equal("InvalidParameterValue", badFilter.ErrorCode);
    }

    [Fact]
    public async Task Seeded_services_box_has_the_full_shape()
    {
        await using var sim = await Sim.StartAsync();
        var r = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("tag:Name", ["circleci_services"])] });
        var box = r.Reservations.SelectMany(x => x.Instances).Single();
        Assert.Equal(sim.Seed.ServicesInstanceId, box.InstanceId);
        Assert.Equal(InstanceStateName.Running, box.State.Name);
        Assert.Equal(16, box.State.Code);
        Assert.Equal("10.0.1.10", box.PrivateIpAddress);
        Assert.Equal(InstanceType.M52xlarge, box.InstanceType);
        Assert.Equal("circleci", box.KeyName);
        Assert.Equal("arn:aws:iam::123456789012:instance-profile/circleci-services", box.IamInstanceProfile.Arn);
        Assert.StartsWith("AIPA", box.IamInstanceProfile.Id);
        Assert.Equal(sim.Seed.SubnetAId, box.SubnetId);
        Assert.Equal(sim.Seed.VpcId, box.VpcId);
        Assert.Equal("us-east-1a", box.Placement.AvailabilityZone);
        Assert.Equal("/dev/sda1", box.RootDeviceName);
        Assert.Equal(DeviceType.Ebs, box.RootDeviceType);
        Assert.Equal(ArchitectureValues.X86_64, box.Architecture);
        Assert.True(box.EnaSupport);
        Assert.Equal(VirtualizationType.Hvm, box.VirtualizationType);
        Assert.Equal(sim.Seed.ServicesImageId, box.ImageId);
        Assert.Equal("circleci-services", box.SecurityGroups.Single().GroupName);
        Assert.Equal(sim.Seed.ServicesSecurityGroupId, box.SecurityGroups.Single().GroupId);
        Assert.True(box.LaunchTime < DateTime.UtcNow);
        Assert.Equal(["/dev/sda1", "/dev/xvdf"], box.BlockDeviceMappings.Select(b => b.DeviceName).ToArray());
        Assert.All(box.BlockDeviceMappings, b => Assert.Equal(AttachmentStatus.Attached, b.Ebs.Status));
        Assert.True(box.BlockDeviceMappings[0].Ebs.DeleteOnTermination);
        var nic = box.NetworkInterfaces.Single();
        Assert.Equal(sim.Seed.ServicesNetworkInterfaceId, nic.NetworkInterfaceId);
        Assert.Equal("10.0.1.10", nic.PrivateIpAddresses.Single(p => p.Primary == true).PrivateIpAddress);

        var vols = await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { Filters = [new Filter("attachment.instance-id", [box.InstanceId])] });
        var data = vols.Volumes.Single(v => v.Attachments[0].Device == "/dev/xvdf");
        Assert.Equal(500, data.Size);
        Assert.Equal(VolumeType.Gp3, data.VolumeType);
        Assert.True(data.Encrypted);
        Assert.Equal(sim.Seed.DataVolumeKmsKeyId, data.KmsKeyId);
        Assert.Equal(3000, data.Iops);
        Assert.Equal(125, data.Throughput);
        var root = vols.Volumes.Single(v => v.Attachments[0].Device == "/dev/sda1");
        Assert.Equal(50, root.Size);

        var status = await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [box.InstanceId] });
        Assert.Equal(SummaryStatus.Ok, status.InstanceStatuses.Single().Status.Status);
        Assert.Equal(SummaryStatus.Ok, status.InstanceStatuses.Single().SystemStatus.Status);
    }

    [Fact]
    public async Task Seeded_network_builders_and_launch_template()
    {
        await using var sim = await Sim.StartAsync();
        var vpcs = await sim.Ec2.DescribeVpcsAsync(new DescribeVpcsRequest());
        Assert.Equal("10.0.0.0/16", vpcs.Vpcs.Single().CidrBlock);

        var subnets = (await sim.Ec2.DescribeSubnetsAsync(new DescribeSubnetsRequest { Filters = [new Filter("vpc-id", [sim.Seed.VpcId])] })).Subnets;
        Assert.Equal(["10.0.1.0/24", "10.0.2.0/24"], subnets.Select(s => s.CidrBlock).Order().ToArray());
        var a = subnets.Single(s => s.CidrBlock == "10.0.1.0/24");
        Assert.Equal("us-east-1a", a.AvailabilityZone);
        Assert.Equal(251 - 2, a.AvailableIpAddressCount); // services box + one builder
        Assert.Equal("us-east-1b", subnets.Single(s => s.CidrBlock == "10.0.2.0/24").AvailabilityZone);

        var groups = await sim.Ec2.DescribeSecurityGroupsAsync(new DescribeSecurityGroupsRequest { GroupNames = ["circleci-services", "circleci-builders"] });
        Assert.Equal(2, groups.SecurityGroups.Count);
        var keys = await sim.Ec2.DescribeKeyPairsAsync(new DescribeKeyPairsRequest { KeyNames = ["circleci"] });
        Assert.Equal("circleci", keys.KeyPairs.Single().KeyName);
        var noKey = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeKeyPairsAsync(new DescribeKeyPairsRequest { KeyNames = ["nope"] }));
        Assert.Equal("InvalidKeyPair.NotFound", noKey.ErrorCode);

        var builders = (await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest
        {
            Filters = [new Filter("tag:aws:autoscaling:groupName", ["circleci-builders"]), new Filter("instance-state-name", ["running"])],
        })).Reservations.SelectMany(r => r.Instances).ToList();
        Assert.Equal(2, builders.Count);
        Assert.All(builders, b => Assert.Equal("circleci_builders", b.Tags.Single(t => t.Key == "Name").Value));
        var attr = await sim.Ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = builders[0].InstanceId, Attribute = InstanceAttributeName.UserData });
        var userData = Encoding.UTF8.GetString(Convert.FromBase64String(attr.InstanceAttribute.UserData));
        Assert.Contains("\nSERVICES_PRIVATE_IP=10.0.1.10\n", userData);
        Assert.Contains("\nCIRCLE_SECRET_PASSPHRASE=sim-passphrase-not-a-secret\n", userData);

        var lt = await sim.Ec2.DescribeLaunchTemplatesAsync(new DescribeLaunchTemplatesRequest { LaunchTemplateNames = ["circleci-builders"] });
        Assert.Equal(sim.Seed.LaunchTemplateId, lt.LaunchTemplates.Single().LaunchTemplateId);
        var versions = await sim.Ec2.DescribeLaunchTemplateVersionsAsync(new DescribeLaunchTemplateVersionsRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId, Versions = ["$Default"] });
        var ltUserData = Encoding.UTF8.GetString(Convert.FromBase64String(versions.LaunchTemplateVersions.Single().LaunchTemplateData.UserData));
        Assert.Contains("SERVICES_PRIVATE_IP=10.0.1.10", ltUserData);
    }

    [Fact]
    public async Task Request_log_records_actions_and_parameters()
    {
        await using var sim = await Sim.StartAsync();
        await sim.Ec2.CreateTagsAsync(new CreateTagsRequest { Resources = [sim.Seed.ServicesInstanceId], Tags = [new Tag("env", "prod")] });
        var entry = sim.Control.RequestLog("CreateTags").Single();
        Assert.Equal(sim.Seed.ServicesInstanceId, entry.Parameters["ResourceId.1"]);
        Assert.Equal("env", entry.Parameters["Tag.1.Key"]);
        Assert.Equal(200, entry.Status);
    }

    [Fact]
    public async Task Ids_are_never_handed_out_twice_even_after_reset()
    {
        await using var sim = await Sim.StartAsync(seed: false);
        sim.Control.Reset();
        var baseSnapshots = new List<string>();
        foreach (var region in sim.Control.Regions)
        {
            var r = await sim.Client(region).DescribeSnapshotsAsync(new DescribeSnapshotsRequest { OwnerIds = ["099720109477"] });
            baseSnapshots.Add(r.Snapshots.Single().SnapshotId);
        }

        var volume = (await sim.Ec2.CreateVolumeAsync(new CreateVolumeRequest { AvailabilityZone = "us-east-1a", Size = 1 })).Volume.VolumeId;
        sim.Advance(10);
        var created = new List<string>();
        for (var n = 0; n < 12; n++)
        {
            created.Add((await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = volume })).Snapshot.SnapshotId);
        }

        Assert.Equal(created.Count, created.Distinct().Count());
        Assert.Empty(created.Intersect(baseSnapshots));
        var seed = sim.Control.SeedCircleCi("eu-west-1");
        Assert.DoesNotContain(seed.ImageSnapshotIds[0], baseSnapshots.Concat(created));
    }
}
