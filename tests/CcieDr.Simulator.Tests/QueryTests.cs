using Amazon.EC2;
using Amazon.EC2.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

public sealed class QueryTests
{
    [Fact]
    public async Task Paginators_collect_every_item_exactly_once_with_page_size_2()
    {
        await using var sim = await Sim.StartAsync(configure: o => o.PageSize = 2);
        for (var n = 0; n < 3; n++)
        {
            await sim.Launch();
        }

        await sim.Ec2.CreateSnapshotsAsync(new CreateSnapshotsRequest { InstanceSpecification = new InstanceSpecification { InstanceId = sim.Seed.ServicesInstanceId } });
        await sim.Ec2.CreateSnapshotsAsync(new CreateSnapshotsRequest { InstanceSpecification = new InstanceSpecification { InstanceId = sim.Seed.ServicesInstanceId } });

        var instances = new List<string>();
        await foreach (var r in sim.Ec2.Paginators.DescribeInstances(new DescribeInstancesRequest()).Reservations)
        {
            instances.AddRange(r.Instances.Select(i => i.InstanceId));
        }

        Assert.Equal(6, instances.Count);
        Assert.Equal(6, instances.Distinct().Count());
        var calls = sim.Control.RequestLog("DescribeInstances");
        Assert.Equal(3, calls.Count);
        Assert.False(calls[0].Parameters.ContainsKey("NextToken"));
        Assert.True(calls[1].Parameters.ContainsKey("NextToken"));

        var snapshots = new List<string>();
        await foreach (var s in sim.Ec2.Paginators.DescribeSnapshots(new DescribeSnapshotsRequest { OwnerIds = ["self"] }).Snapshots)
        {
            snapshots.Add(s.SnapshotId);
        }

        Assert.Equal(6, snapshots.Count); // 2 image snapshots + 4
        Assert.Equal(6, snapshots.Distinct().Count());

        var volumes = new List<string>();
        await foreach (var v in sim.Ec2.Paginators.DescribeVolumes(new DescribeVolumesRequest()).Volumes)
        {
            volumes.Add(v.VolumeId);
        }

        Assert.Equal(4 + 3, volumes.Distinct().Count());
        Assert.Equal(volumes.Count, volumes.Distinct().Count());

        var tags = new List<string>();
        await foreach (var t in sim.Ec2.Paginators.DescribeTags(new DescribeTagsRequest { Filters = [new Filter("resource-type", ["instance"])] }).Tags)
        {
            tags.Add(t.ResourceId + "/" + t.Key);
        }

        Assert.Equal(1 + 2 + 2, tags.Count);

        var images = new List<string>();
        await foreach (var i in sim.Ec2.Paginators.DescribeImages(new DescribeImagesRequest { Owners = ["self"] }).Images)
        {
            images.Add(i.ImageId);
        }

        Assert.Equal(2, images.Count);

        var statuses = new List<string>();
        await foreach (var st in sim.Ec2.Paginators.DescribeInstanceStatus(new DescribeInstanceStatusRequest { IncludeAllInstances = true }).InstanceStatuses)
        {
            statuses.Add(st.InstanceId);
        }

        Assert.Equal(6, statuses.Distinct().Count());

        var subnets = new List<string>();
        await foreach (var sn in sim.Ec2.Paginators.DescribeSubnets(new DescribeSubnetsRequest()).Subnets)
        {
            subnets.Add(sn.SubnetId);
        }

        Assert.Equal(2, subnets.Count);

        var enis = new List<string>();
        await foreach (var e in sim.Ec2.Paginators.DescribeNetworkInterfaces(new DescribeNetworkInterfacesRequest()).NetworkInterfaces)
        {
            enis.Add(e.NetworkInterfaceId);
        }

        Assert.Equal(6, enis.Distinct().Count());
    }

    [Fact]
    public async Task MaxResults_pages_and_validates_its_range()
    {
        await using var sim = await Sim.StartAsync();
        for (var n = 0; n < 4; n++)
        {
            await sim.Launch();
        }

        var first = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { MaxResults = 5 });
        Assert.Equal(5, first.Reservations.SelectMany(r => r.Instances).Count());
        Assert.NotNull(first.NextToken);
        var second = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { MaxResults = 5, NextToken = first.NextToken });
        Assert.Equal(2, second.Reservations.SelectMany(r => r.Instances).Count());
        Assert.Null(second.NextToken);

        var tooSmall = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { MaxResults = 2 }));
        Assert.Equal("InvalidParameterValue", tooSmall.ErrorCode);
        var withIds = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { MaxResults = 5, InstanceIds = [sim.Seed.ServicesInstanceId] }));
        Assert.Equal("InvalidParameterCombination", withIds.ErrorCode);
        var clamped = await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { MaxResults = 1000 });
        Assert.Equal(4 + 4, clamped.Volumes.Count);
        var badToken = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { NextToken = "garbage" }));
        Assert.Equal("InvalidPaginationToken", badToken.ErrorCode);
    }

    [Fact]
    public async Task Filters_with_wildcards()
    {
        await using var sim = await Sim.StartAsync();
        var byWildcardTag = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("tag:Name", ["circleci_*"])] });
        Assert.Equal(3, byWildcardTag.Reservations.SelectMany(r => r.Instances).Count());
        var byQuestion = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("tag:Name", ["circleci_s?rvices"])] });
        Assert.Single(byQuestion.Reservations.SelectMany(r => r.Instances));
        var byKey = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("tag-key", ["aws:autoscaling:*"])] });
        Assert.Equal(2, byKey.Reservations.SelectMany(r => r.Instances).Count());
        var byIp = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("private-ip-address", ["10.0.1.10"])] });
        Assert.Equal(sim.Seed.ServicesInstanceId, byIp.Reservations.Single().Instances.Single().InstanceId);
        var byEniIp = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("network-interface.addresses.private-ip-address", ["10.0.1.1?"])] });
        Assert.Equal(sim.Seed.ServicesInstanceId, byEniIp.Reservations.Single().Instances.Single().InstanceId);
        var byAzAndState = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest
        {
            Filters = [new Filter("availability-zone", ["us-east-1b"]), new Filter("instance-state-name", ["running", "pending"])],
        });
        Assert.Equal(sim.Seed.BuilderInstanceIds[1], byAzAndState.Reservations.Single().Instances.Single().InstanceId);
        var bySubnetVpc = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest
        {
            Filters = [new Filter("subnet-id", [sim.Seed.SubnetAId]), new Filter("vpc-id", [sim.Seed.VpcId]), new Filter("instance-id", [sim.Seed.ServicesInstanceId, sim.Seed.BuilderInstanceIds[0]])],
        });
        Assert.Equal(2, bySubnetVpc.Reservations.SelectMany(r => r.Instances).Count());

        var vols = await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { Filters = [new Filter("volume-id", [sim.Seed.ServicesDataVolumeId]), new Filter("availability-zone", ["us-east-1*"])] });
        Assert.Single(vols.Volumes);

        await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesDataVolumeId, Description = "CircleCI backup 1" });
        await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesDataVolumeId, Description = "nightly CircleCI" });
        var snaps = await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest
        {
            Filters = [new Filter("description", ["CircleCI*"]), new Filter("owner-id", ["123456789012"]), new Filter("volume-id", [sim.Seed.ServicesDataVolumeId]), new Filter("status", ["pending"])],
        });
        Assert.Equal("CircleCI backup 1", snaps.Snapshots.Single().Description);
        var bySnapId = await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { Filters = [new Filter("snapshot-id", [snaps.Snapshots[0].SnapshotId])] });
        Assert.Single(bySnapId.Snapshots);

        var imgs = await sim.Ec2.DescribeImagesAsync(new DescribeImagesRequest { Filters = [new Filter("image-id", [sim.Seed.ServicesImageId])] });
        Assert.Equal("circleci-services-2.19.0", imgs.Images.Single().Name);
        var enis = await sim.Ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest
        {
            Filters = [new Filter("addresses.private-ip-address", ["10.0.1.10"]), new Filter("attachment.instance-id", [sim.Seed.ServicesInstanceId])],
        });
        Assert.Equal(sim.Seed.ServicesNetworkInterfaceId, enis.NetworkInterfaces.Single().NetworkInterfaceId);
        var subnets = await sim.Ec2.DescribeSubnetsAsync(new DescribeSubnetsRequest { Filters = [new Filter("availability-zone", ["us-east-1b"])] });
        Assert.Equal(sim.Seed.SubnetBId, subnets.Subnets.Single().SubnetId);
        var groups = await sim.Ec2.DescribeSecurityGroupsAsync(new DescribeSecurityGroupsRequest { Filters = [new Filter("group-name", ["circleci-*"]), new Filter("vpc-id", [sim.Seed.VpcId])] });
        Assert.Equal(2, groups.SecurityGroups.Count);
    }

    [Fact]
    public async Task Tags_create_delete_describe()
    {
        await using var sim = await Sim.StartAsync();
        var id = sim.Seed.ServicesInstanceId;
        await sim.Ec2.CreateTagsAsync(new CreateTagsRequest { Resources = [id, sim.Seed.ServicesDataVolumeId], Tags = [new Tag("ccie:backup", "daily"), new Tag("owner", "ops")] });
        var described = await sim.Ec2.DescribeTagsAsync(new DescribeTagsRequest { Filters = [new Filter("resource-id", [id])] });
        Assert.Equal(["Name", "ccie:backup", "owner"], described.Tags.Select(t => t.Key).Order(StringComparer.Ordinal).ToArray());
        Assert.All(described.Tags, t => Assert.Equal(ResourceType.Instance, t.ResourceType));
        var byKey = await sim.Ec2.DescribeTagsAsync(new DescribeTagsRequest { Filters = [new Filter("key", ["ccie:*"])] });
        Assert.Equal(2, byKey.Tags.Count);
        Assert.Contains(byKey.Tags, t => t.ResourceType == ResourceType.Volume);

        await sim.Ec2.DeleteTagsAsync(new DeleteTagsRequest { Resources = [id], Tags = [new Tag { Key = "owner", Value = "someone-else" }] });
        Assert.Contains((await sim.Instance(id)).Tags, t => t.Key == "owner");
        await sim.Ec2.DeleteTagsAsync(new DeleteTagsRequest { Resources = [id], Tags = [new Tag { Key = "owner" }] });
        Assert.DoesNotContain((await sim.Instance(id)).Tags, t => t.Key == "owner");

        var missing = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.CreateTagsAsync(new CreateTagsRequest { Resources = ["snap-0123456789abcdef0"], Tags = [new Tag("a", "b")] }));
        Assert.Equal("InvalidSnapshot.NotFound", missing.ErrorCode);
        var reserved = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.CreateTagsAsync(new CreateTagsRequest { Resources = [id], Tags = [new Tag("aws:mine", "b")] }));
        Assert.Equal("InvalidParameterValue", reserved.ErrorCode);
    }

    [Fact]
    public async Task Launch_templates_versions_and_default()
    {
        await using var sim = await Sim.StartAsync();
        var newUserData = Convert.ToBase64String("SERVICES_PRIVATE_IP=10.0.1.20\nCIRCLE_SECRET_PASSPHRASE=rotated\n"u8.ToArray());
        var v2 = await sim.Ec2.CreateLaunchTemplateVersionAsync(new CreateLaunchTemplateVersionRequest
        {
            LaunchTemplateId = sim.Seed.LaunchTemplateId,
            SourceVersion = "1",
            VersionDescription = "new services IP",
            LaunchTemplateData = new RequestLaunchTemplateData { UserData = newUserData },
        });
        Assert.Equal(2, v2.LaunchTemplateVersion.VersionNumber);
        Assert.False(v2.LaunchTemplateVersion.DefaultVersion);
        Assert.Equal(sim.Seed.BuilderImageId, v2.LaunchTemplateVersion.LaunchTemplateData.ImageId); // copied from the source version
        Assert.Equal(newUserData, v2.LaunchTemplateVersion.LaunchTemplateData.UserData);

        var modified = await sim.Ec2.ModifyLaunchTemplateAsync(new ModifyLaunchTemplateRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId, DefaultVersion = "2" });
        Assert.Equal(2, modified.LaunchTemplate.DefaultVersionNumber);
        Assert.Equal(2, modified.LaunchTemplate.LatestVersionNumber);

        var def = await sim.Ec2.DescribeLaunchTemplateVersionsAsync(new DescribeLaunchTemplateVersionsRequest { LaunchTemplateName = "circleci-builders", Versions = ["$Default"] });
        Assert.Equal(newUserData, def.LaunchTemplateVersions.Single().LaunchTemplateData.UserData);
        Assert.Equal([sim.Seed.BuildersSecurityGroupId], def.LaunchTemplateVersions.Single().LaunchTemplateData.SecurityGroupIds);
        var all = await sim.Ec2.DescribeLaunchTemplateVersionsAsync(new DescribeLaunchTemplateVersionsRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId });
        Assert.Equal([1L, 2L], all.LaunchTemplateVersions.Select(v => v.VersionNumber ?? 0).ToArray());

        var missing = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeLaunchTemplatesAsync(new DescribeLaunchTemplatesRequest { LaunchTemplateNames = ["nope"] }));
        Assert.Equal("InvalidLaunchTemplateName.NotFoundException", missing.ErrorCode);
        var badVersion = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.ModifyLaunchTemplateAsync(new ModifyLaunchTemplateRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId, DefaultVersion = "9" }));
        Assert.Equal("InvalidLaunchTemplateId.VersionNotFound", badVersion.ErrorCode);

        // A launch from the template uses the default version's data.
        var run = await sim.Ec2.RunInstancesAsync(new RunInstancesRequest
        {
            LaunchTemplate = new LaunchTemplateSpecification { LaunchTemplateName = "circleci-builders" },
            MinCount = 1,
            MaxCount = 1,
            SubnetId = sim.Seed.SubnetBId,
        });
        var attr = await sim.Ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = run.Reservation.Instances[0].InstanceId, Attribute = InstanceAttributeName.UserData });
        Assert.Equal(newUserData, attr.InstanceAttribute.UserData);
        Assert.Equal(sim.Seed.BuildersSecurityGroupId, run.Reservation.Instances[0].SecurityGroups.Single().GroupId);

        var created = await sim.Ec2.CreateLaunchTemplateAsync(new CreateLaunchTemplateRequest { LaunchTemplateName = "replica", LaunchTemplateData = new RequestLaunchTemplateData { InstanceType = InstanceType.M52xlarge } });
        Assert.Equal(1, created.LaunchTemplate.LatestVersionNumber);
        var dup = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.CreateLaunchTemplateAsync(new CreateLaunchTemplateRequest { LaunchTemplateName = "replica", LaunchTemplateData = new RequestLaunchTemplateData() }));
        Assert.Equal("InvalidLaunchTemplateName.AlreadyExistsException", dup.ErrorCode);
    }
}
