using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace CcieDr.Engine.Builders
{
    /// <summary>One member of a builder group as Auto Scaling reports it.</summary>
    public sealed class BuilderGroupMember
    {
        public string InstanceId { get; set; } = string.Empty;

        /// <summary>Pending, InService, Terminating, … (Auto Scaling's lifecycle state).</summary>
        public string LifecycleState { get; set; } = string.Empty;

        /// <summary>Healthy or Unhealthy.</summary>
        public string HealthStatus { get; set; } = string.Empty;

        public string? AvailabilityZone { get; set; }

        public string? LaunchTemplateId { get; set; }

        /// <summary>The version it was launched from (a number; AWS may echo $Default/$Latest).</summary>
        public string? LaunchTemplateVersion { get; set; }

        public string? LaunchConfigurationName { get; set; }

        public bool InService => string.Equals(LifecycleState, "InService", StringComparison.Ordinal) && !string.Equals(HealthStatus, "Unhealthy", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A builder Auto Scaling group: its configuration, size and members.</summary>
    public sealed class BuilderGroupState
    {
        public string Name { get; set; } = string.Empty;

        public string? LaunchTemplateId { get; set; }

        public string? LaunchTemplateName { get; set; }

        /// <summary>As the group names it: a number, $Default or $Latest.</summary>
        public string? LaunchTemplateVersion { get; set; }

        public string? LaunchConfigurationName { get; set; }

        /// <summary>True when the template comes through a mixed instances policy (not changed by CcieDr).</summary>
        public bool MixedInstancesPolicy { get; set; }

        public int MinSize { get; set; }

        public int MaxSize { get; set; }

        public int DesiredCapacity { get; set; }

        public IReadOnlyList<string> SuspendedProcesses { get; set; } = Array.Empty<string>();

        public IReadOnlyList<BuilderGroupMember> Members { get; set; } = Array.Empty<BuilderGroupMember>();
    }

    /// <summary>An instance refresh as Auto Scaling reports it.</summary>
    public sealed class BuilderRefreshState
    {
        public string InstanceRefreshId { get; set; } = string.Empty;

        public string Status { get; set; } = string.Empty;

        public string? StatusReason { get; set; }

        public int? PercentageComplete { get; set; }

        public bool IsActive => Status is "Pending" or "InProgress" or "Cancelling" or "Baking" or "RollbackInProgress";
    }

    /// <summary>
    /// The Auto Scaling calls the builder operations make: a small seam over the Auto Scaling client (Aws room) so
    /// the EC2 side, the plans and the rotation loop are testable on their own.
    /// </summary>
    public interface IBuilderGroupApi
    {
        /// <summary>The named groups (all groups when <paramref name="names"/> is empty), with their members.</summary>
        Task<IReadOnlyList<BuilderGroupState>> DescribeGroupsAsync(IReadOnlyList<string> names, CancellationToken ct);

        /// <summary>Points the group at a launch template version (UpdateAutoScalingGroup LaunchTemplate).</summary>
        Task UseLaunchTemplateAsync(string groupName, string launchTemplateId, string version, CancellationToken ct);

        /// <summary>Points the group at a launch configuration (UpdateAutoScalingGroup LaunchConfigurationName).</summary>
        Task UseLaunchConfigurationAsync(string groupName, string launchConfigurationName, CancellationToken ct);

        /// <summary>The launch configuration's user data (base64), or throws ObjectNotFound.</summary>
        Task<string?> LaunchConfigurationUserDataAsync(string launchConfigurationName, CancellationToken ct);

        /// <summary>
        /// A new launch configuration copied in full from <paramref name="sourceName"/>, with only the user data replaced.
        /// Auto Scaling has no client token: when the name exists already (a retried call whose first answer was lost),
        /// an identical copy counts as made; any other configuration of that name is an error.
        /// </summary>
        Task CopyLaunchConfigurationAsync(string sourceName, string newName, string userData, CancellationToken ct);

        /// <summary>
        /// The name of a launch configuration, among those <paramref name="isCopyName"/> accepts, that is a full copy of
        /// <paramref name="sourceName"/> with exactly <paramref name="userData"/> (made by an earlier run), or null.
        /// </summary>
        Task<string?> FindLaunchConfigurationCopyAsync(string sourceName, string userData, Func<string, bool> isCopyName, CancellationToken ct);

        Task SetDesiredCapacityAsync(string groupName, int desiredCapacity, CancellationToken ct);

        /// <summary>Raises MaxSize (UpdateAutoScalingGroup) when a batch needs room.</summary>
        Task SetMaxSizeAsync(string groupName, int maxSize, CancellationToken ct);

        Task TerminateInstanceAsync(string instanceId, bool decrementDesiredCapacity, CancellationToken ct);

        Task<string> StartInstanceRefreshAsync(string groupName, int minHealthyPercentage, bool skipMatching, CancellationToken ct);

        Task<BuilderRefreshState?> DescribeInstanceRefreshAsync(string groupName, string instanceRefreshId, CancellationToken ct);

        /// <summary>The group's instance refresh that is still running (Pending, InProgress, …), or null.</summary>
        Task<BuilderRefreshState?> DescribeActiveInstanceRefreshAsync(string groupName, CancellationToken ct);

        Task CancelInstanceRefreshAsync(string groupName, CancellationToken ct);
    }
}
