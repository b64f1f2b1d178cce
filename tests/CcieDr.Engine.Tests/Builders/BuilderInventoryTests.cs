using System.IO.Compression;
using System.Text;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws.AutoScaling;
using CcieDr.Engine.Builders;
using Xunit;

namespace CcieDr.Engine.Tests.Builders;

public class BuilderInventoryTests
{
    [Theory]
    [InlineData("SERVICES_PRIVATE_IP=10.0.1.10\n", "10.0.1.10")]
    [InlineData("#!/bin/bash\nexport SERVICES_PRIVATE_IP=\"10.0.1.11\" # the box\n", "10.0.1.11")]
    [InlineData("  SERVICES_PRIVATE_IP='10.0.1.12'; echo\nexport SERVICES_PRIVATE_IP CIRCLE_SECRET_PASSPHRASE\n", "10.0.1.12")]
    [InlineData("SERVICES_PRIVATE_IP=10.0.1.2\nSERVICES_PRIVATE_IP=10.0.1.2\n", "10.0.1.2")]
    [InlineData("SERVICES_PRIVATE_IP=10.0.1.1\nSERVICES_PRIVATE_IP=10.0.1.2\n", null)]   // ambiguous: the editor refuses it too
    [InlineData("Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/x-shellscript\n\nSERVICES_PRIVATE_IP=10.0.1.13\n--b--\n", "10.0.1.13")]
    [InlineData("MY_SERVICES_PRIVATE_IP=10.0.1.15\n# SERVICES_PRIVATE_IP=10.0.1.16\n", null)]
    [InlineData("#!/bin/sh\ndocker run -e SERVICES_PRIVATE_IP=10.0.1.14 circleci/builder\n", "10.0.1.14")]   // an argument form: the editor rewrites it too
    public void The_services_ip_is_read_from_shell_user_data(string text, string? expected)
    {
        Assert.Equal(expected, UserDataReader.ServicesIpOf(Convert.ToBase64String(Encoding.UTF8.GetBytes(text)), "test"));
    }

    [Fact]
    public void Gzip_user_data_is_read_and_bad_base64_is_none()
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes("#!/bin/sh\nSERVICES_PRIVATE_IP=10.0.2.20\n"));
        }

        Assert.Equal("10.0.2.20", UserDataReader.ServicesIpOf(Convert.ToBase64String(buffer.ToArray()), "test"));
        Assert.Null(UserDataReader.ServicesIpOf("not base64 !", "test"));
        Assert.Null(UserDataReader.ServicesIpOf(null, "test"));
    }

    [Fact]
    public async Task The_seeded_group_is_discovered_and_its_builders_point_at_the_box()
    {
        await using var sim = await BuilderSim.StartAsync();
        var result = await sim.Inventory.GetAsync(new BuilderQuery(), CancellationToken.None);
        Assert.Empty(result.Warnings);
        var g = Assert.Single(result.Groups);
        Assert.Equal(("circleci-builders", 2, 0, 10, 2, 0), (g.AutoScalingGroupName, g.DesiredCapacity, g.MinSize, g.MaxSize, g.InService, g.Stale));
        Assert.Equal((sim.Seed.LaunchTemplateId, "$Default", 1L), (g.LaunchTemplateId, g.LaunchTemplateVersion, g.LaunchTemplateVersionNumber));
        Assert.Equal((sim.Seed.ServicesPrivateIp, sim.Seed.ServicesPrivateIp, sim.Seed.ServicesInstanceId, true), (g.ConfiguredServicesPrivateIp, g.ServicesPrivateIp, g.ServicesInstanceId, g.PointsAtServicesBox));
        Assert.Null(g.RecoveredAt);
        Assert.Equal(9, g.SuspendedProcesses.Count);
        Assert.Equal(sim.Seed.BuilderInstanceIds.Order(), g.Builders.Select(b => b.InstanceId).Order());
        Assert.All(g.Builders, b =>
        {
            Assert.Equal(("InService", "running", "Healthy", "1", sim.Seed.ServicesPrivateIp, false), (b.LifecycleState, b.State, b.HealthStatus, b.LaunchTemplateVersion, b.ServicesPrivateIp, b.Stale));
            Assert.Empty(b.StaleReasons);
            Assert.NotNull(b.LaunchTime);
            Assert.StartsWith("10.0.", b.PrivateIpAddress);
        });
        Assert.Equal(new[] { sim.Seed.AvailabilityZoneA, sim.Seed.AvailabilityZoneB }, g.Builders.Select(b => b.AvailabilityZone).Order());

        var named = await sim.Inventory.GetAsync(new BuilderQuery { AutoScalingGroupName = "nope" }, CancellationToken.None).ContinueWith(t => t.Exception?.InnerException);
        Assert.Equal("BuilderGroupNotFound", Assert.IsType<CcieException>(named).ErrorId);
    }

    [Fact]
    public async Task After_a_restore_onto_a_new_ip_every_builder_is_stale_until_replaced_from_a_version_with_the_new_ip()
    {
        await using var sim = await BuilderSim.StartAsync();
        sim.Advance(60);
        var boxId = await sim.RestoreBoxOntoAsync("10.0.1.50");
        sim.Advance(20);

        var g = Assert.Single((await sim.Inventory.GetAsync(new BuilderQuery(), CancellationToken.None)).Groups);
        Assert.Equal((boxId, "10.0.1.50", false, 2), (g.ServicesInstanceId, g.ServicesPrivateIp, g.PointsAtServicesBox, g.Stale));
        Assert.NotNull(g.RecoveredAt);
        Assert.All(g.Builders, b =>
        {
            Assert.True(b.Stale);
            Assert.Equal([BuilderInventory.WrongServicesIp, BuilderInventory.LaunchedBeforeRecovery], b.StaleReasons);
            Assert.Contains("launched with SERVICES_PRIVATE_IP=10.0.1.10; the Services box " + boxId + " is at 10.0.1.50", b.StaleReason);
        });

        // The new configuration: the group points at the box again; a replacement launched from it is not stale.
        var version = await sim.NewVersionAsync("10.0.1.50");
        await sim.Asg.ResumeProcessesAsync("circleci-builders", null, CancellationToken.None);
        await sim.Asg.TerminateInstanceInAutoScalingGroupAsync(sim.Seed.BuilderInstanceIds[0], false, CancellationToken.None);
        sim.Advance(10);
        sim.Advance(10);
        g = Assert.Single((await sim.Inventory.GetAsync(new BuilderQuery { AutoScalingGroupName = "circleci-builders" }, CancellationToken.None)).Groups);
        Assert.Equal((true, "10.0.1.50", version), (g.PointsAtServicesBox, g.ConfiguredServicesPrivateIp, g.LaunchTemplateVersionNumber));
        var fresh = Assert.Single(g.Builders, b => !b.Stale);
        Assert.Equal((version.ToString(), "10.0.1.50", "InService"), (fresh.LaunchTemplateVersion, fresh.ServicesPrivateIp, fresh.LifecycleState));
        Assert.Equal(1, g.Stale);
        Assert.Contains(g.Builders, b => b.InstanceId == sim.Seed.BuilderInstanceIds[1] && b.Stale);
    }

    [Fact]
    public async Task Max_age_is_measured_on_the_service_clock_and_a_missing_box_is_a_warning()
    {
        await using var sim = await BuilderSim.StartAsync();
        var young = Assert.Single((await sim.Inventory.GetAsync(new BuilderQuery { MaxAge = TimeSpan.FromDays(30) }, CancellationToken.None)).Groups);
        Assert.Equal(0, young.Stale);
        var old = Assert.Single((await sim.Inventory.GetAsync(new BuilderQuery { MaxAge = TimeSpan.FromDays(1) }, CancellationToken.None)).Groups);
        Assert.All(old.Builders, b => Assert.Equal([BuilderInventory.OlderThanMaxAge], b.StaleReasons));
        Assert.All(old.Builders, b => Assert.InRange(b.Age!.Value, TimeSpan.FromDays(5), TimeSpan.FromDays(8)));

        var noBox = await sim.Inventory.GetAsync(new BuilderQuery { ServicesBox = new CcieDr.Engine.Recovery.ServicesBoxQuery { Name = "no-such-box" } }, CancellationToken.None);
        Assert.Contains("No Services box found", Assert.Single(noBox.Warnings));
        Assert.Null(noBox.Groups[0].PointsAtServicesBox);
        Assert.Equal(0, noBox.Groups[0].Stale);

        var moved = Assert.Single((await sim.Inventory.GetAsync(new BuilderQuery { ServicesPrivateIp = "10.0.1.77", RecoveredAt = sim.Control.Now }, CancellationToken.None)).Groups);
        Assert.Equal((false, 2), (moved.PointsAtServicesBox, moved.Stale));
    }

    [Fact]
    public async Task A_group_on_a_launch_configuration_reports_it_and_its_services_ip()
    {
        await using var sim = await BuilderSim.StartAsync();
        await sim.Asg.CreateLaunchConfigurationAsync(new LaunchConfiguration { LaunchConfigurationName = "builders-lc", ImageId = sim.Seed.BuilderImageId, InstanceType = "m5.xlarge", UserData = BuilderSim.UserData("10.0.1.10") }, CancellationToken.None);
        await sim.Asg.UpdateAutoScalingGroupAsync(new AutoScalingGroupUpdate("circleci-builders") { LaunchConfigurationName = "builders-lc", DesiredCapacity = 3 }, CancellationToken.None);
        await sim.Asg.ResumeProcessesAsync("circleci-builders", ["Launch"], CancellationToken.None);
        sim.Advance(10);
        var g = Assert.Single((await sim.Inventory.GetAsync(new BuilderQuery(), CancellationToken.None)).Groups);
        Assert.Equal(("builders-lc", (string?)null, "10.0.1.10", true), (g.LaunchConfigurationName, g.LaunchTemplateId, g.ConfiguredServicesPrivateIp, g.PointsAtServicesBox));
        var launched = Assert.Single(g.Builders, b => b.LaunchConfigurationName == "builders-lc");
        Assert.Equal(("Pending", "10.0.1.10", (string?)null), (launched.LifecycleState, launched.ServicesPrivateIp, launched.LaunchTemplateId));
        Assert.Equal(2, g.InService);
    }

    [Fact]
    public async Task Discovery_ignores_groups_without_the_variable_and_names_the_ones_it_looked_at()
    {
        await using var sim = await BuilderSim.StartAsync();
        await sim.Ec2.CreateLaunchTemplateVersionAsync(new CreateLaunchTemplateVersionRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId, SourceVersion = "1", LaunchTemplateData = new RequestLaunchTemplateData { UserData = Convert.ToBase64String(Encoding.UTF8.GetBytes("#!/bin/bash\necho hi\n")) } });
        await sim.Asg.UpdateAutoScalingGroupAsync(new AutoScalingGroupUpdate("circleci-builders") { LaunchTemplate = new LaunchTemplateReference(sim.Seed.LaunchTemplateId, null, "$Latest") }, CancellationToken.None);
        var e = await Assert.ThrowsAsync<CcieException>(() => sim.Inventory.GetAsync(new BuilderQuery(), CancellationToken.None));
        Assert.Equal("BuilderGroupNotFound", e.ErrorId);
        Assert.Contains("looked at circleci-builders", e.Message);
        Assert.Contains("-AutoScalingGroupName", e.Message);

        // Named, it is listed: the builders still carry the IP of the version they were launched from.
        var g = Assert.Single((await sim.Inventory.GetAsync(new BuilderQuery { AutoScalingGroupName = "circleci-builders" }, CancellationToken.None)).Groups);
        Assert.Equal(("$Latest", 2L, (string?)null, (bool?)null), (g.LaunchTemplateVersion, g.LaunchTemplateVersionNumber, g.ConfiguredServicesPrivateIp, g.PointsAtServicesBox));
        Assert.All(g.Builders, b => Assert.Equal(("1", "10.0.1.10"), (b.LaunchTemplateVersion, b.ServicesPrivateIp)));
    }
}
