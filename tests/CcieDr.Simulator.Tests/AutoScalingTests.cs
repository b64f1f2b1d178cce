using System.Text;
using Amazon.EC2;
using Amazon.EC2.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

public sealed class AutoScalingTests
{
    private static async Task<List<Instance>> Builders(Sim sim)
    {
        var r = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest
        {
            Filters = [new Filter("tag:aws:autoscaling:groupName", ["circleci-builders"]), new Filter("instance-state-name", ["pending", "running"])],
        });
        return (r.Reservations ?? []).SelectMany(x => x.Instances).ToList();
    }

    [Fact]
    public async Task Seeded_group_is_suspended_so_nothing_changes_behind_a_test()
    {
        await using var sim = await Sim.StartAsync();
        var group = sim.Control.AutoScalingGroups("us-east-1").Single();
        Assert.True(group.Suspended);
        Assert.Equal(2, group.DesiredCapacity);
        await sim.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [sim.Seed.BuilderInstanceIds[0]] });
        sim.Advance(120);
        Assert.Single(await Builders(sim));
    }

    [Fact]
    public async Task Resumed_group_replaces_lost_builders_from_the_launch_template_default_version()
    {
        await using var sim = await Sim.StartAsync();
        var newUserData = Convert.ToBase64String(Encoding.UTF8.GetBytes("SERVICES_PRIVATE_IP=10.0.1.20\nCIRCLE_SECRET_PASSPHRASE=rotated\n"));
        await sim.Ec2.CreateLaunchTemplateVersionAsync(new CreateLaunchTemplateVersionRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId, SourceVersion = "1", LaunchTemplateData = new RequestLaunchTemplateData { UserData = newUserData } });
        await sim.Ec2.ModifyLaunchTemplateAsync(new ModifyLaunchTemplateRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId, DefaultVersion = "2" });
        sim.Control.SetAutoScalingGroup("us-east-1", "circleci-builders", suspended: false);

        // Rotation: terminate one builder; the group notices, waits, launches a replacement with the new user data.
        await sim.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [sim.Seed.BuilderInstanceIds[0]] });
        sim.Advance(10);
        sim.Advance(10);
        var builders = await Builders(sim);
        Assert.Equal(2, builders.Count);
        var fresh = builders.Single(b => b.InstanceId != sim.Seed.BuilderInstanceIds[1]);
        Assert.Equal("circleci_builders", fresh.Tags.Single(t => t.Key == "Name").Value);
        Assert.Equal(sim.Seed.BuildersSecurityGroupId, fresh.SecurityGroups.Single().GroupId);
        Assert.Equal("us-east-1a", fresh.Placement.AvailabilityZone); // the AZ that lost its builder
        var attr = await sim.Ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = fresh.InstanceId, Attribute = InstanceAttributeName.UserData });
        Assert.Equal(newUserData, attr.InstanceAttribute.UserData);

        // A stopped member is unhealthy: terminated and replaced.
        await sim.Ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = [sim.Seed.BuilderInstanceIds[1]] });
        sim.Advance(10);
        sim.Advance(10);
        sim.Advance(10);
        Assert.Equal(InstanceStateName.Terminated, (await sim.Instance(sim.Seed.BuilderInstanceIds[1])).State.Name);
        Assert.Equal(2, (await Builders(sim)).Count);

        // Capacity up and down.
        sim.Control.SetAutoScalingGroup("us-east-1", "circleci-builders", desiredCapacity: 4);
        sim.Advance(10);
        sim.Advance(10);
        Assert.Equal(4, (await Builders(sim)).Count);
        var info = sim.Control.SetAutoScalingGroup("us-east-1", "circleci-builders", desiredCapacity: 1);
        Assert.Single(info.InstanceIds);
        sim.Advance(10);
        Assert.Single(await Builders(sim));
        Assert.Throws<ArgumentException>(() => sim.Control.SetAutoScalingGroup("us-east-1", "circleci-builders", desiredCapacity: 11));
    }
}
