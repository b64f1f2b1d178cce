using CcieDr.Engine.Builders;

namespace CcieDr.Engine.Tests.Builders
{
    /// <summary>An in-memory Auto Scaling side for the builder engine: one group, its launch configurations, and a call log.</summary>
    internal sealed class FakeBuilderGroups : IBuilderGroupApi
    {
        public List<BuilderGroupState> Groups { get; } = new();

        public Dictionary<string, (string? UserData, string ImageId)> LaunchConfigurations { get; } = new();

        public List<string> Calls { get; } = new();

        /// <summary>Called on every describe, before the copy is taken (a scripted group moves on here).</summary>
        public Action? Described { get; set; }

        public Task<IReadOnlyList<BuilderGroupState>> DescribeGroupsAsync(IReadOnlyList<string> names, CancellationToken ct)
        {
            Calls.Add("DescribeAutoScalingGroups");
            Described?.Invoke();
            IReadOnlyList<BuilderGroupState> r = Groups.Where(g => names.Count == 0 || names.Contains(g.Name)).Select(Copy).ToList();
            return Task.FromResult(r);
        }

        public Task UseLaunchTemplateAsync(string groupName, string launchTemplateId, string version, CancellationToken ct)
        {
            Calls.Add($"UpdateAutoScalingGroup {groupName} {launchTemplateId} {version}");
            BuilderGroupState g = Groups.Single(x => x.Name == groupName);
            g.LaunchTemplateId = launchTemplateId;
            g.LaunchTemplateVersion = version;
            return Task.CompletedTask;
        }

        public Task UseLaunchConfigurationAsync(string groupName, string launchConfigurationName, CancellationToken ct)
        {
            Calls.Add($"UpdateAutoScalingGroup {groupName} {launchConfigurationName}");
            if (!LaunchConfigurations.ContainsKey(launchConfigurationName))
            {
                throw new CcieException("ValidationError", CcieErrorCategory.InvalidArgument, "Launch configuration name not found - " + launchConfigurationName);
            }

            Groups.Single(x => x.Name == groupName).LaunchConfigurationName = launchConfigurationName;
            return Task.CompletedTask;
        }

        public Task<string?> LaunchConfigurationUserDataAsync(string launchConfigurationName, CancellationToken ct)
        {
            Calls.Add("DescribeLaunchConfigurations " + launchConfigurationName);
            return LaunchConfigurations.TryGetValue(launchConfigurationName, out var lc)
                ? Task.FromResult(lc.UserData)
                : throw new CcieException("LaunchConfigurationNotFound", CcieErrorCategory.ObjectNotFound, "no " + launchConfigurationName, launchConfigurationName);
        }

        public Task CopyLaunchConfigurationAsync(string sourceName, string newName, string userData, CancellationToken ct)
        {
            Calls.Add($"CreateLaunchConfiguration {newName} from {sourceName}");
            if (LaunchConfigurations.ContainsKey(newName))
            {
                throw new CcieException("AlreadyExists", CcieErrorCategory.ResourceExists, "exists " + newName);
            }

            LaunchConfigurations[newName] = (userData, LaunchConfigurations[sourceName].ImageId);
            return Task.CompletedTask;
        }

        public Task<string?> FindLaunchConfigurationCopyAsync(string sourceName, string userData, Func<string, bool> isCopyName, CancellationToken ct) =>
            Task.FromResult(LaunchConfigurations.Where(kv => kv.Key != sourceName && isCopyName(kv.Key) && kv.Value.UserData == userData && kv.Value.ImageId == LaunchConfigurations[sourceName].ImageId).Select(kv => kv.Key).FirstOrDefault());

        public Func<string, int, Task>? OnSetDesired { get; set; }

        public Task SetDesiredCapacityAsync(string groupName, int desiredCapacity, CancellationToken ct)
        {
            Calls.Add($"SetDesiredCapacity {groupName} {desiredCapacity}");
            Groups.Single(x => x.Name == groupName).DesiredCapacity = desiredCapacity;
            return OnSetDesired?.Invoke(groupName, desiredCapacity) ?? Task.CompletedTask;
        }

        public Task SetMaxSizeAsync(string groupName, int maxSize, CancellationToken ct)
        {
            Calls.Add($"UpdateAutoScalingGroup {groupName} MaxSize {maxSize}");
            Groups.Single(x => x.Name == groupName).MaxSize = maxSize;
            return Task.CompletedTask;
        }

        public Func<string, bool, Task>? OnTerminate { get; set; }

        public Task TerminateInstanceAsync(string instanceId, bool decrementDesiredCapacity, CancellationToken ct)
        {
            Calls.Add($"TerminateInstanceInAutoScalingGroup {instanceId} {decrementDesiredCapacity}");
            return OnTerminate?.Invoke(instanceId, decrementDesiredCapacity) ?? Task.CompletedTask;
        }

        public Task<string> StartInstanceRefreshAsync(string groupName, int minHealthyPercentage, bool skipMatching, CancellationToken ct) =>
            throw new NotSupportedException("instance refresh is not faked");

        public Task<BuilderRefreshState?> DescribeInstanceRefreshAsync(string groupName, string instanceRefreshId, CancellationToken ct) =>
            throw new NotSupportedException("instance refresh is not faked");

        public Task<BuilderRefreshState?> DescribeActiveInstanceRefreshAsync(string groupName, CancellationToken ct) =>
            throw new NotSupportedException("instance refresh is not faked");

        public Task CancelInstanceRefreshAsync(string groupName, CancellationToken ct) => Task.CompletedTask;

        private static BuilderGroupState Copy(BuilderGroupState g) => new()
        {
            Name = g.Name,
            LaunchTemplateId = g.LaunchTemplateId,
            LaunchTemplateName = g.LaunchTemplateName,
            LaunchTemplateVersion = g.LaunchTemplateVersion,
            LaunchConfigurationName = g.LaunchConfigurationName,
            MixedInstancesPolicy = g.MixedInstancesPolicy,
            MinSize = g.MinSize,
            MaxSize = g.MaxSize,
            DesiredCapacity = g.DesiredCapacity,
            SuspendedProcesses = g.SuspendedProcesses.ToList(),
            Members = g.Members.Select(m => new BuilderGroupMember
            {
                InstanceId = m.InstanceId,
                LifecycleState = m.LifecycleState,
                HealthStatus = m.HealthStatus,
                AvailabilityZone = m.AvailabilityZone,
                LaunchTemplateId = m.LaunchTemplateId,
                LaunchTemplateVersion = m.LaunchTemplateVersion,
                LaunchConfigurationName = m.LaunchConfigurationName,
            }).ToList(),
        };
    }
}
