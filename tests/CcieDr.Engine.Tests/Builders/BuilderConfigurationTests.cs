using System.Security;
using System.Text;
using Amazon.EC2.Model;
using CcieDr.Engine.Builders;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Tests.Snapshots;
using Xunit;

namespace CcieDr.Engine.Tests.Builders
{
    /// <summary>The configurator end to end on the simulator's EC2 (real SDK, launch templates) with an in-memory Auto Scaling side.</summary>
    public class BuilderConfigurationTests
    {
        private const string Group = "circleci-builders";
        private const string NewPass = "token-after-restore-42";

        private static SecureString Secure(string s)
        {
            var x = new SecureString();
            foreach (char c in s)
            {
                x.AppendChar(c);
            }

            return x;
        }

        private static string Text(string? b64) => Encoding.UTF8.GetString(Convert.FromBase64String(b64!));

        private static FakeBuilderGroups GroupsFor(SnapshotSim sim, string version = "$Default") => new()
        {
            Groups = { new BuilderGroupState { Name = Group, LaunchTemplateId = sim.Seed.LaunchTemplateId, LaunchTemplateName = sim.Seed.LaunchTemplateName, LaunchTemplateVersion = version, MinSize = 0, MaxSize = 10, DesiredCapacity = 2 } },
        };

        private static async Task<LaunchTemplateVersion> VersionAsync(SnapshotSim sim, string version)
        {
            var r = await sim.Ec2().DescribeLaunchTemplateVersionsAsync(new DescribeLaunchTemplateVersionsRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId, Versions = [version] });
            return Assert.Single(r.LaunchTemplateVersions);
        }

        [Fact]
        public async Task Creates_a_version_that_differs_only_in_the_two_variables_and_points_the_group_at_it()
        {
            await using var sim = await SnapshotSim.StartAsync();
            var groups = GroupsFor(sim);
            var configurator = new BuilderConfigurator(sim.Ec2(), groups, SnapshotSim.Region, NullReporter.Instance);

            BuilderConfigurationPlan plan = await configurator.PlanAsync(new BuilderConfigurationRequest { ServicesPrivateIp = "10.0.2.77", SecretPassphrase = Secure(NewPass) }, CancellationToken.None);
            Assert.Equal(Group, plan.GroupName);   // discovered: the one group whose user data sets SERVICES_PRIVATE_IP
            Assert.Empty(sim.Control.RequestLog("CreateLaunchTemplateVersion"));   // planning writes nothing
            Assert.DoesNotContain(NewPass, plan.Render(), StringComparison.Ordinal);
            Assert.DoesNotContain("sim-passphrase-not-a-secret", plan.Render(), StringComparison.Ordinal);
            Assert.Contains("+SERVICES_PRIVATE_IP=10.0.2.77", plan.Render(), StringComparison.Ordinal);
            Assert.Contains("+CIRCLE_SECRET_PASSPHRASE=******", plan.Render(), StringComparison.Ordinal);

            CcieDr.BuilderConfiguration result = await configurator.ApplyAsync(plan, CancellationToken.None);
            Assert.Equal("Updated", result.Action);
            Assert.Equal("1", result.OldVersion);
            Assert.Equal("2", result.NewVersion);
            Assert.Equal("10.0.1.10", result.PreviousServicesPrivateIp);
            Assert.Equal("10.0.2.77", result.ServicesPrivateIp);
            Assert.True(result.SecretPassphraseSet);
            Assert.Equal(new[] { "ec2:CreateLaunchTemplateVersion", "autoscaling:UpdateAutoScalingGroup" }, result.Timeline.Select(t => t.Action));
            Assert.All(result.Timeline, t => Assert.Equal("Succeeded", t.Outcome));
            Assert.Contains($"UpdateAutoScalingGroup {Group} {sim.Seed.LaunchTemplateId} 2", groups.Calls);

            LaunchTemplateVersion old = await VersionAsync(sim, "1");
            LaunchTemplateVersion made = await VersionAsync(sim, "2");
            Assert.Equal(Text(old.LaunchTemplateData.UserData).Replace("10.0.1.10", "10.0.2.77").Replace("sim-passphrase-not-a-secret", NewPass), Text(made.LaunchTemplateData.UserData));
            Assert.Equal(old.LaunchTemplateData.ImageId, made.LaunchTemplateData.ImageId);   // SourceVersion carried the rest
            Assert.Equal(old.LaunchTemplateData.InstanceType, made.LaunchTemplateData.InstanceType);
            Assert.Equal(old.LaunchTemplateData.SecurityGroupIds, made.LaunchTemplateData.SecurityGroupIds);
            Assert.DoesNotContain(NewPass, made.VersionDescription, StringComparison.Ordinal);

            var request = Assert.Single(sim.Control.RequestLog("CreateLaunchTemplateVersion"));
            Assert.Equal("1", request.Parameters["SourceVersion"]);
            Assert.DoesNotContain(request.Parameters.Keys, k => k.StartsWith("LaunchTemplateData.", StringComparison.Ordinal) && k != "LaunchTemplateData.UserData");

            // Every string the result carries, the timeline included, is free of the passphrase.
            string everything = string.Join("\n", new[] { result.ToString(), result.Diff } .Concat(result.Changes).Concat(result.Warnings).Concat(result.Timeline.Select(t => t + " " + t.Detail)));
            Assert.DoesNotContain(NewPass, everything, StringComparison.Ordinal);
        }

        [Fact]
        public async Task A_second_run_changes_nothing_and_a_rerun_after_a_failed_group_update_reuses_the_version()
        {
            await using var sim = await SnapshotSim.StartAsync();
            var groups = GroupsFor(sim);
            var configurator = new BuilderConfigurator(sim.Ec2(), groups, SnapshotSim.Region, NullReporter.Instance);
            var request = new BuilderConfigurationRequest { AutoScalingGroupName = Group, ServicesPrivateIp = "10.0.2.77", SecretPassphrase = Secure(NewPass) };

            // The group update fails after the version was made: the error says how to finish.
            var failing = new FailingGroups(groups);
            var first = new BuilderConfigurator(sim.Ec2(), failing, SnapshotSim.Region, NullReporter.Instance);
            var ex = await Assert.ThrowsAsync<CcieException>(async () => await first.ApplyAsync(await first.PlanAsync(request, CancellationToken.None), CancellationToken.None));
            Assert.Contains("-Version 2", ex.Message, StringComparison.Ordinal);

            CcieDr.BuilderConfiguration rerun = await configurator.ApplyAsync(await configurator.PlanAsync(request, CancellationToken.None), CancellationToken.None);
            Assert.Equal("2", rerun.NewVersion);
            Assert.Equal("Reused", rerun.Timeline[0].Outcome);
            Assert.Single(sim.Control.RequestLog("CreateLaunchTemplateVersion"));

            BuilderConfigurationPlan again = await configurator.PlanAsync(request, CancellationToken.None);
            Assert.False(again.HasWork);
            CcieDr.BuilderConfiguration same = await configurator.ApplyAsync(again, CancellationToken.None);
            Assert.Equal("Unchanged", same.Action);
            Assert.False(same.Changed);
            Assert.Single(sim.Control.RequestLog("CreateLaunchTemplateVersion"));
        }

        [Fact]
        public async Task Rollback_puts_a_previous_version_back()
        {
            await using var sim = await SnapshotSim.StartAsync();
            var groups = GroupsFor(sim);
            var configurator = new BuilderConfigurator(sim.Ec2(), groups, SnapshotSim.Region, NullReporter.Instance);
            await configurator.ApplyAsync(await configurator.PlanAsync(new BuilderConfigurationRequest { AutoScalingGroupName = Group, ServicesPrivateIp = "10.0.2.77" }, CancellationToken.None), CancellationToken.None);
            Assert.Equal("2", groups.Groups[0].LaunchTemplateVersion);

            BuilderConfigurationPlan back = await configurator.PlanAsync(new BuilderConfigurationRequest { AutoScalingGroupName = Group, Version = "1" }, CancellationToken.None);
            Assert.Contains("Version 1", back.Render(), StringComparison.Ordinal);
            CcieDr.BuilderConfiguration r = await configurator.ApplyAsync(back, CancellationToken.None);
            Assert.Equal("RolledBack", r.Action);
            Assert.Equal("2", r.OldVersion);
            Assert.Equal("1", r.NewVersion);
            Assert.Equal("10.0.1.10", r.ServicesPrivateIp);
            Assert.Equal("1", groups.Groups[0].LaunchTemplateVersion);
            Assert.Single(sim.Control.RequestLog("CreateLaunchTemplateVersion"));

            var missing = await Assert.ThrowsAsync<CcieException>(() => configurator.PlanAsync(new BuilderConfigurationRequest { AutoScalingGroupName = Group, Version = "9" }, CancellationToken.None));
            Assert.Equal(CcieErrorCategory.ObjectNotFound, missing.Category);
            var wrongKind = await Assert.ThrowsAsync<CcieException>(() => configurator.PlanAsync(new BuilderConfigurationRequest { AutoScalingGroupName = Group, LaunchConfigurationName = "x" }, CancellationToken.None));
            Assert.Equal("BuilderGroupNotLaunchConfiguration", wrongKind.ErrorId);
        }

        [Fact]
        public async Task Launch_configuration_groups_get_a_full_copy_and_can_go_back()
        {
            await using var sim = await SnapshotSim.StartAsync();
            var groups = new FakeBuilderGroups();
            groups.Groups.Add(new BuilderGroupState { Name = "lc-builders", LaunchConfigurationName = "builders-v1", DesiredCapacity = 2, MaxSize = 4 });
            groups.LaunchConfigurations["builders-v1"] = (Convert.ToBase64String(Encoding.UTF8.GetBytes("#!/bin/bash\nSERVICES_PRIVATE_IP=10.0.1.10\nbash init.sh\n")), "ami-1");
            var now = new DateTime(2026, 12, 7, 3, 4, 5, DateTimeKind.Utc);
            var configurator = new BuilderConfigurator(sim.Ec2(), groups, SnapshotSim.Region, NullReporter.Instance, () => now);

            CcieDr.BuilderConfiguration r = await configurator.ApplyAsync(await configurator.PlanAsync(new BuilderConfigurationRequest { ServicesPrivateIp = "10.0.2.5", SecretPassphrase = Secure(NewPass) }, CancellationToken.None), CancellationToken.None);
            Assert.Equal("Created", r.Action);
            Assert.Equal("builders-v1", r.OldLaunchConfigurationName);
            Assert.Equal("builders-v1-ccie-20261207030405", r.NewLaunchConfigurationName);
            Assert.Equal("#!/bin/bash\nSERVICES_PRIVATE_IP=10.0.2.5\nexport CIRCLE_SECRET_PASSPHRASE=" + NewPass + "\nbash init.sh\n", Text(groups.LaunchConfigurations[r.NewLaunchConfigurationName!].UserData));
            Assert.Equal("ami-1", groups.LaunchConfigurations[r.NewLaunchConfigurationName!].ImageId);
            Assert.Equal("builders-v1-ccie-20261207030405", groups.Groups[0].LaunchConfigurationName);
            Assert.Equal("builders-v1-ccie-20261207040000", BuilderConfigurator.NewConfigurationName("builders-v1-ccie-20261207030405", now.AddSeconds(3355)));

            CcieDr.BuilderConfiguration back = await configurator.ApplyAsync(await configurator.PlanAsync(new BuilderConfigurationRequest { LaunchConfigurationName = "builders-v1" }, CancellationToken.None), CancellationToken.None);
            Assert.Equal("RolledBack", back.Action);
            Assert.Equal("builders-v1", groups.Groups[0].LaunchConfigurationName);
            Assert.Equal("10.0.1.10", back.ServicesPrivateIp);
            Assert.Empty(sim.Control.RequestLog("CreateLaunchTemplateVersion"));
        }

        [Fact]
        public async Task Unparseable_user_data_is_an_error_and_nothing_is_written()
        {
            await using var sim = await SnapshotSim.StartAsync();
            var ec2 = sim.Ec2();
            await ec2.CreateLaunchTemplateVersionAsync(new CreateLaunchTemplateVersionRequest
            {
                LaunchTemplateId = sim.Seed.LaunchTemplateId,
                SourceVersion = "1",
                LaunchTemplateData = new RequestLaunchTemplateData { UserData = Convert.ToBase64String(Encoding.UTF8.GetBytes("#!/bin/bash\nSERVICES_PRIVATE_IP=$(cat /etc/ip)\n")) },
            });
            sim.Control.ClearRequestLog();
            var groups = GroupsFor(sim, "2");
            var configurator = new BuilderConfigurator(ec2, groups, SnapshotSim.Region, NullReporter.Instance);
            var ex = await Assert.ThrowsAsync<CcieException>(() => configurator.PlanAsync(new BuilderConfigurationRequest { AutoScalingGroupName = Group, ServicesPrivateIp = "10.0.2.77" }, CancellationToken.None));
            Assert.Equal("UserDataAmbiguous", ex.ErrorId);
            Assert.Contains("version 2", ex.Message, StringComparison.Ordinal);
            Assert.Empty(sim.Control.RequestLog("CreateLaunchTemplateVersion"));
            Assert.DoesNotContain(groups.Calls, c => c.StartsWith("UpdateAutoScalingGroup", StringComparison.Ordinal));
        }

        [Fact]
        public void The_ip_comes_from_the_box_and_a_floating_ip_it_still_holds_is_kept()
        {
            var box = new CcieDr.ServicesBox { PrivateIpAddress = "10.0.1.50", SecondaryPrivateIpAddresses = new[] { "10.0.1.10" } };
            Assert.Equal("10.0.1.10", BuilderConfigurator.ChooseServicesIp(null, box, "10.0.1.10"));
            Assert.Equal("10.0.1.50", BuilderConfigurator.ChooseServicesIp(null, box, "10.0.9.9"));
            Assert.Equal("10.0.3.3", BuilderConfigurator.ChooseServicesIp("10.0.3.3", box, "10.0.1.10"));
            Assert.Equal("ServicesPrivateIpMissing", Assert.Throws<CcieException>(() => BuilderConfigurator.ChooseServicesIp(null, null, "10.0.1.10")).ErrorId);
        }

        [Fact]
        public async Task Discovery_refuses_when_no_group_or_several_groups_launch_builders()
        {
            await using var sim = await SnapshotSim.StartAsync();
            var none = new FakeBuilderGroups();
            var c1 = new BuilderConfigurator(sim.Ec2(), none, SnapshotSim.Region, NullReporter.Instance);
            Assert.Equal("BuilderGroupNotFound", (await Assert.ThrowsAsync<CcieException>(() => c1.FindGroupAsync(null, CancellationToken.None))).ErrorId);
            Assert.Equal("AutoScalingGroupNotFound", (await Assert.ThrowsAsync<CcieException>(() => c1.FindGroupAsync("nope", CancellationToken.None))).ErrorId);

            var two = GroupsFor(sim);
            two.Groups.Add(new BuilderGroupState { Name = "second", LaunchTemplateId = sim.Seed.LaunchTemplateId, LaunchTemplateVersion = "1" });
            var c2 = new BuilderConfigurator(sim.Ec2(), two, SnapshotSim.Region, NullReporter.Instance);
            var ex = await Assert.ThrowsAsync<CcieException>(() => c2.FindGroupAsync(null, CancellationToken.None));
            Assert.Equal("BuilderGroupAmbiguous", ex.ErrorId);
            Assert.Contains("circleci-builders, second", ex.Message, StringComparison.Ordinal);
        }

        private sealed class FailingGroups : IBuilderGroupApi
        {
            private readonly IBuilderGroupApi _inner;

            public FailingGroups(IBuilderGroupApi inner) => _inner = inner;

            public Task<IReadOnlyList<BuilderGroupState>> DescribeGroupsAsync(IReadOnlyList<string> names, CancellationToken ct) => _inner.DescribeGroupsAsync(names, ct);

            public Task UseLaunchTemplateAsync(string groupName, string launchTemplateId, string version, CancellationToken ct) =>
                throw new CcieException("ResourceContention", CcieErrorCategory.ResourceBusy, "You already have a pending update to an Auto Scaling resource.");

            public Task UseLaunchConfigurationAsync(string groupName, string launchConfigurationName, CancellationToken ct) => _inner.UseLaunchConfigurationAsync(groupName, launchConfigurationName, ct);

            public Task<string?> LaunchConfigurationUserDataAsync(string launchConfigurationName, CancellationToken ct) => _inner.LaunchConfigurationUserDataAsync(launchConfigurationName, ct);

            public Task CopyLaunchConfigurationAsync(string sourceName, string newName, string userData, CancellationToken ct) => _inner.CopyLaunchConfigurationAsync(sourceName, newName, userData, ct);

            public Task<string?> FindLaunchConfigurationCopyAsync(string sourceName, string userData, Func<string, bool> isCopyName, CancellationToken ct) => _inner.FindLaunchConfigurationCopyAsync(sourceName, userData, isCopyName, ct);

            public Task SetDesiredCapacityAsync(string groupName, int desiredCapacity, CancellationToken ct) => _inner.SetDesiredCapacityAsync(groupName, desiredCapacity, ct);

            public Task SetMaxSizeAsync(string groupName, int maxSize, CancellationToken ct) => _inner.SetMaxSizeAsync(groupName, maxSize, ct);

            public Task TerminateInstanceAsync(string instanceId, bool decrementDesiredCapacity, CancellationToken ct) => _inner.TerminateInstanceAsync(instanceId, decrementDesiredCapacity, ct);

            public Task<string> StartInstanceRefreshAsync(string groupName, int minHealthyPercentage, bool skipMatching, CancellationToken ct) => _inner.StartInstanceRefreshAsync(groupName, minHealthyPercentage, skipMatching, ct);

            public Task<BuilderRefreshState?> DescribeInstanceRefreshAsync(string groupName, string instanceRefreshId, CancellationToken ct) => _inner.DescribeInstanceRefreshAsync(groupName, instanceRefreshId, ct);

            public Task<BuilderRefreshState?> DescribeActiveInstanceRefreshAsync(string groupName, CancellationToken ct) => _inner.DescribeActiveInstanceRefreshAsync(groupName, ct);

            public Task CancelInstanceRefreshAsync(string groupName, CancellationToken ct) => _inner.CancelInstanceRefreshAsync(groupName, ct);
        }
    }
}
