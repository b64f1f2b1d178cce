using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Aws.AutoScaling;

namespace CcieDr.Engine.Builders
{
    /// <summary><see cref="IBuilderGroupApi"/> over the hand-written Auto Scaling client (Aws room).</summary>
    public sealed class AutoScalingBuilderGroups : IBuilderGroupApi, IDisposable
    {
        private readonly AutoScalingClient _client;
        private readonly bool _owns;

        public AutoScalingBuilderGroups(AutoScalingClient client, bool ownsClient = false)
        {
            _client = client ?? throw new ArgumentNullException(nameof(client));
            _owns = ownsClient;
        }

        public async Task<IReadOnlyList<BuilderGroupState>> DescribeGroupsAsync(IReadOnlyList<string> names, CancellationToken ct)
        {
            IReadOnlyList<AutoScalingGroup> groups = await _client.DescribeAutoScalingGroupsAsync(names.Count == 0 ? null : names, ct).ConfigureAwait(false);
            return groups.Select(g => new BuilderGroupState
            {
                Name = g.Name,
                LaunchTemplateId = g.LaunchTemplate?.LaunchTemplateId,
                LaunchTemplateName = g.LaunchTemplate?.LaunchTemplateName,
                LaunchTemplateVersion = g.LaunchTemplate is null ? null : g.LaunchTemplate.Version ?? "$Default",
                LaunchConfigurationName = g.LaunchConfigurationName,
                MixedInstancesPolicy = g.LaunchTemplate is null && g.MixedInstancesLaunchTemplate is not null,
                MinSize = g.MinSize,
                MaxSize = g.MaxSize,
                DesiredCapacity = g.DesiredCapacity,
                SuspendedProcesses = g.SuspendedProcesses.Select(p => p.ProcessName).ToList(),
                Members = g.Instances.Select(i => new BuilderGroupMember
                {
                    InstanceId = i.InstanceId,
                    LifecycleState = i.LifecycleState,
                    HealthStatus = i.HealthStatus,
                    AvailabilityZone = i.AvailabilityZone,
                    LaunchTemplateId = i.LaunchTemplate?.LaunchTemplateId,
                    LaunchTemplateVersion = i.LaunchTemplate?.Version,
                    LaunchConfigurationName = i.LaunchConfigurationName,
                }).ToList(),
            }).ToList();
        }

        public Task UseLaunchTemplateAsync(string groupName, string launchTemplateId, string version, CancellationToken ct) =>
            _client.UpdateAutoScalingGroupAsync(new AutoScalingGroupUpdate(groupName) { LaunchTemplate = new LaunchTemplateReference(launchTemplateId, null, version) }, ct);

        public Task UseLaunchConfigurationAsync(string groupName, string launchConfigurationName, CancellationToken ct) =>
            _client.UpdateAutoScalingGroupAsync(new AutoScalingGroupUpdate(groupName) { LaunchConfigurationName = launchConfigurationName }, ct);

        public async Task<string?> LaunchConfigurationUserDataAsync(string launchConfigurationName, CancellationToken ct) =>
            (await FindConfigurationAsync(launchConfigurationName, ct).ConfigureAwait(false)).UserData;

        public async Task CopyLaunchConfigurationAsync(string sourceName, string newName, string userData, CancellationToken ct)
        {
            LaunchConfiguration source = await FindConfigurationAsync(sourceName, ct).ConfigureAwait(false);
            LaunchConfiguration copy = source.CopyAs(newName, userData);
            try
            {
                await _client.CreateLaunchConfigurationAsync(copy, ct).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.ErrorId == "Aws.AlreadyExists")
            {
                // No client token in Auto Scaling: a retry after a lost answer meets the configuration its first attempt made.
                IReadOnlyList<LaunchConfiguration> found = await _client.DescribeLaunchConfigurationsAsync(new[] { newName }, ct).ConfigureAwait(false);
                if (!found.Any(c => c.LaunchConfigurationName == newName && SameContent(c, copy)))
                {
                    throw;
                }
            }
        }

        public async Task<string?> FindLaunchConfigurationCopyAsync(string sourceName, string userData, Func<string, bool> isCopyName, CancellationToken ct)
        {
            LaunchConfiguration source = await FindConfigurationAsync(sourceName, ct).ConfigureAwait(false);
            LaunchConfiguration wanted = source.CopyAs(sourceName, userData);
            IReadOnlyList<LaunchConfiguration> all = await _client.DescribeLaunchConfigurationsAsync(null, ct).ConfigureAwait(false);
            return all.Where(c => c.LaunchConfigurationName != sourceName && isCopyName(c.LaunchConfigurationName) && SameContent(c, wanted))
                .OrderByDescending(c => c.CreatedTime ?? DateTime.MinValue)
                .Select(c => c.LaunchConfigurationName)
                .FirstOrDefault();
        }

        public Task SetDesiredCapacityAsync(string groupName, int desiredCapacity, CancellationToken ct) =>
            _client.SetDesiredCapacityAsync(groupName, desiredCapacity, ct);

        public Task SetMaxSizeAsync(string groupName, int maxSize, CancellationToken ct) =>
            _client.UpdateAutoScalingGroupAsync(new AutoScalingGroupUpdate(groupName) { MaxSize = maxSize }, ct);

        public Task TerminateInstanceAsync(string instanceId, bool decrementDesiredCapacity, CancellationToken ct) =>
            _client.TerminateInstanceInAutoScalingGroupAsync(instanceId, decrementDesiredCapacity, ct);

        public Task<string> StartInstanceRefreshAsync(string groupName, int minHealthyPercentage, bool skipMatching, CancellationToken ct) =>
            _client.StartInstanceRefreshAsync(groupName, new InstanceRefreshPreferences { MinHealthyPercentage = minHealthyPercentage, SkipMatching = skipMatching ? true : (bool?)null }, ct);

        public async Task<BuilderRefreshState?> DescribeInstanceRefreshAsync(string groupName, string instanceRefreshId, CancellationToken ct)
        {
            IReadOnlyList<InstanceRefresh> refreshes = await _client.DescribeInstanceRefreshesAsync(groupName, new[] { instanceRefreshId }, ct).ConfigureAwait(false);
            InstanceRefresh? r = refreshes.FirstOrDefault(x => x.InstanceRefreshId == instanceRefreshId);
            return r is null ? null : new BuilderRefreshState { InstanceRefreshId = r.InstanceRefreshId, Status = r.Status, StatusReason = r.StatusReason, PercentageComplete = r.PercentageComplete };
        }

        public async Task<BuilderRefreshState?> DescribeActiveInstanceRefreshAsync(string groupName, CancellationToken ct)
        {
            IReadOnlyList<InstanceRefresh> refreshes = await _client.DescribeInstanceRefreshesAsync(groupName, null, ct).ConfigureAwait(false);
            return refreshes.Select(r => new BuilderRefreshState { InstanceRefreshId = r.InstanceRefreshId, Status = r.Status, StatusReason = r.StatusReason, PercentageComplete = r.PercentageComplete })
                .FirstOrDefault(r => r.IsActive);
        }

        public Task CancelInstanceRefreshAsync(string groupName, CancellationToken ct) => _client.CancelInstanceRefreshAsync(groupName, ct);

        public void Dispose()
        {
            if (_owns)
            {
                _client.Dispose();
            }
        }

        /// <summary>Every member but the name, ARN and creation time equal (what <see cref="LaunchConfiguration.CopyAs"/> keeps).</summary>
        private static bool SameContent(LaunchConfiguration a, LaunchConfiguration b) =>
            a.ImageId == b.ImageId && a.InstanceType == b.InstanceType && Blank(a.KeyName) == Blank(b.KeyName)
            && a.SecurityGroups.SequenceEqual(b.SecurityGroups) && a.ClassicLinkVpcId == b.ClassicLinkVpcId && a.ClassicLinkVpcSecurityGroups.SequenceEqual(b.ClassicLinkVpcSecurityGroups)
            && Blank(a.UserData) == Blank(b.UserData) && Blank(a.KernelId) == Blank(b.KernelId) && Blank(a.RamdiskId) == Blank(b.RamdiskId)
            && a.BlockDeviceMappings.Count == b.BlockDeviceMappings.Count
            && a.BlockDeviceMappings.Zip(b.BlockDeviceMappings, (x, y) => x.DeviceName == y.DeviceName && x.VirtualName == y.VirtualName && x.NoDevice == y.NoDevice && x.SnapshotId == y.SnapshotId
                && x.VolumeSize == y.VolumeSize && x.VolumeType == y.VolumeType && x.DeleteOnTermination == y.DeleteOnTermination && x.Iops == y.Iops && x.Encrypted == y.Encrypted && x.Throughput == y.Throughput).All(same => same)
            && a.InstanceMonitoring == b.InstanceMonitoring && a.SpotPrice == b.SpotPrice && a.IamInstanceProfile == b.IamInstanceProfile && a.EbsOptimized == b.EbsOptimized
            && a.AssociatePublicIpAddress == b.AssociatePublicIpAddress && a.PlacementTenancy == b.PlacementTenancy && a.MetadataHttpTokens == b.MetadataHttpTokens
            && a.MetadataHttpPutResponseHopLimit == b.MetadataHttpPutResponseHopLimit && a.MetadataHttpEndpoint == b.MetadataHttpEndpoint;

        private static string Blank(string? s) => s ?? string.Empty;

        private async Task<LaunchConfiguration> FindConfigurationAsync(string name, CancellationToken ct)
        {
            IReadOnlyList<LaunchConfiguration> found = await _client.DescribeLaunchConfigurationsAsync(new[] { name }, ct).ConfigureAwait(false);
            return found.FirstOrDefault(c => c.LaunchConfigurationName == name)
                ?? throw new CcieException("LaunchConfigurationNotFound", CcieErrorCategory.ObjectNotFound, $"No launch configuration '{name}'. List them with: aws autoscaling describe-launch-configurations", name);
        }
    }
}
