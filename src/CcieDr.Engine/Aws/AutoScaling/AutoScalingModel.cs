using System;
using System.Collections.Generic;

namespace CcieDr.Engine.Aws.AutoScaling
{
    /// <summary>A launch template reference: id or name, and version ("1", "$Default", "$Latest").</summary>
    public sealed class LaunchTemplateReference
    {
        public LaunchTemplateReference(string? launchTemplateId, string? launchTemplateName, string? version)
        {
            if (string.IsNullOrEmpty(launchTemplateId) && string.IsNullOrEmpty(launchTemplateName))
            {
                throw new ArgumentException("A launch template reference needs an id or a name.", nameof(launchTemplateId));
            }

            LaunchTemplateId = launchTemplateId;
            LaunchTemplateName = launchTemplateName;
            Version = version;
        }

        public string? LaunchTemplateId { get; }

        public string? LaunchTemplateName { get; }

        public string? Version { get; }

        public override string ToString() => (LaunchTemplateId ?? LaunchTemplateName) + (Version is null ? string.Empty : " version " + Version);
    }

    /// <summary>An Auto Scaling group as DescribeAutoScalingGroups returns it (the members CcieDr uses).</summary>
    public sealed class AutoScalingGroup
    {
        public string Name { get; internal set; } = string.Empty;

        public string? Arn { get; internal set; }

        /// <summary>The launch template the group launches from (null when it uses a launch configuration or a mixed-instances policy).</summary>
        public LaunchTemplateReference? LaunchTemplate { get; internal set; }

        /// <summary>The launch template of a mixed-instances policy, when the group has one.</summary>
        public LaunchTemplateReference? MixedInstancesLaunchTemplate { get; internal set; }

        public string? LaunchConfigurationName { get; internal set; }

        /// <summary>The launch template new instances come from: the group's own, or its mixed-instances policy's.</summary>
        public LaunchTemplateReference? EffectiveLaunchTemplate => LaunchTemplate ?? MixedInstancesLaunchTemplate;

        public int MinSize { get; internal set; }

        public int MaxSize { get; internal set; }

        public int DesiredCapacity { get; internal set; }

        public int DefaultCooldown { get; internal set; }

        public IReadOnlyList<string> AvailabilityZones { get; internal set; } = Array.Empty<string>();

        /// <summary>Subnet ids (VPCZoneIdentifier split on commas).</summary>
        public IReadOnlyList<string> SubnetIds { get; internal set; } = Array.Empty<string>();

        public string? HealthCheckType { get; internal set; }

        public int? HealthCheckGracePeriod { get; internal set; }

        public DateTime? CreatedTime { get; internal set; }

        public string? Status { get; internal set; }

        public IReadOnlyList<AutoScalingInstance> Instances { get; internal set; } = Array.Empty<AutoScalingInstance>();

        public IReadOnlyList<SuspendedProcess> SuspendedProcesses { get; internal set; } = Array.Empty<SuspendedProcess>();

        public IReadOnlyDictionary<string, string> Tags { get; internal set; } = new Dictionary<string, string>();

        /// <summary>True when <paramref name="process"/> (e.g. "Launch", "ScheduledActions") is suspended.</summary>
        public bool IsSuspended(string process)
        {
            foreach (SuspendedProcess p in SuspendedProcesses)
            {
                if (string.Equals(p.ProcessName, process, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>A suspended scaling process and why.</summary>
    public sealed class SuspendedProcess
    {
        public SuspendedProcess(string processName, string? suspensionReason)
        {
            ProcessName = processName;
            SuspensionReason = suspensionReason;
        }

        public string ProcessName { get; }

        public string? SuspensionReason { get; }
    }

    /// <summary>A member of a group (DescribeAutoScalingGroups Instances or DescribeAutoScalingInstances).</summary>
    public sealed class AutoScalingInstance
    {
        public string InstanceId { get; internal set; } = string.Empty;

        /// <summary>Set by DescribeAutoScalingInstances (and filled in for group members).</summary>
        public string? AutoScalingGroupName { get; internal set; }

        public string? InstanceType { get; internal set; }

        public string? AvailabilityZone { get; internal set; }

        /// <summary>Pending, InService, Terminating, Terminated, Standby, … (Auto Scaling's, not EC2's).</summary>
        public string LifecycleState { get; internal set; } = string.Empty;

        /// <summary>Healthy or Unhealthy.</summary>
        public string HealthStatus { get; internal set; } = string.Empty;

        public string? LaunchConfigurationName { get; internal set; }

        public LaunchTemplateReference? LaunchTemplate { get; internal set; }

        public bool ProtectedFromScaleIn { get; internal set; }
    }

    /// <summary>What UpdateAutoScalingGroup changes: every null member is left as it is.</summary>
    public sealed class AutoScalingGroupUpdate
    {
        public AutoScalingGroupUpdate(string autoScalingGroupName)
        {
            AutoScalingGroupName = string.IsNullOrEmpty(autoScalingGroupName) ? throw new ArgumentException("A group name is required.", nameof(autoScalingGroupName)) : autoScalingGroupName;
        }

        public string AutoScalingGroupName { get; }

        public int? MinSize { get; set; }

        public int? MaxSize { get; set; }

        public int? DesiredCapacity { get; set; }

        /// <summary>Points the group at a launch template version (exclusive with <see cref="LaunchConfigurationName"/>).</summary>
        public LaunchTemplateReference? LaunchTemplate { get; set; }

        /// <summary>Points the group at a launch configuration (exclusive with <see cref="LaunchTemplate"/>).</summary>
        public string? LaunchConfigurationName { get; set; }

        public int? DefaultCooldown { get; set; }

        public int? HealthCheckGracePeriod { get; set; }
    }

    /// <summary>StartInstanceRefresh preferences (null: the service's default).</summary>
    public sealed class InstanceRefreshPreferences
    {
        /// <summary>Percent of the desired capacity that stays in service (0–100, AWS default 90).</summary>
        public int? MinHealthyPercentage { get; set; }

        /// <summary>Seconds a new instance warms up before it counts.</summary>
        public int? InstanceWarmup { get; set; }

        /// <summary>Skip instances already on the group's configuration.</summary>
        public bool? SkipMatching { get; set; }
    }

    /// <summary>One instance refresh (DescribeInstanceRefreshes).</summary>
    public sealed class InstanceRefresh
    {
        public string InstanceRefreshId { get; internal set; } = string.Empty;

        public string? AutoScalingGroupName { get; internal set; }

        /// <summary>Pending, InProgress, Successful, Failed, Cancelling, Cancelled, RollbackInProgress, …</summary>
        public string Status { get; internal set; } = string.Empty;

        public string? StatusReason { get; internal set; }

        public DateTime? StartTime { get; internal set; }

        public DateTime? EndTime { get; internal set; }

        public int? PercentageComplete { get; internal set; }

        public int? InstancesToUpdate { get; internal set; }

        public int? MinHealthyPercentage { get; internal set; }

        /// <summary>True while the refresh still runs (Pending, InProgress, Cancelling, Baking, rollback).</summary>
        public bool IsActive => Status is "Pending" or "InProgress" or "Cancelling" or "Baking" or "RollbackInProgress";
    }

    /// <summary>One EBS (or ephemeral / suppressed) device of a launch configuration.</summary>
    public sealed class LaunchConfigurationBlockDevice
    {
        public string DeviceName { get; set; } = string.Empty;

        public string? VirtualName { get; set; }

        public bool? NoDevice { get; set; }

        /// <summary>True when any Ebs member is set.</summary>
        public bool HasEbs => SnapshotId is not null || VolumeSize is not null || VolumeType is not null || DeleteOnTermination is not null || Iops is not null || Encrypted is not null || Throughput is not null;

        public string? SnapshotId { get; set; }

        public int? VolumeSize { get; set; }

        public string? VolumeType { get; set; }

        public bool? DeleteOnTermination { get; set; }

        public int? Iops { get; set; }

        public bool? Encrypted { get; set; }

        public int? Throughput { get; set; }
    }

    /// <summary>
    /// A launch configuration: read by DescribeLaunchConfigurations, written by CreateLaunchConfiguration. Launch
    /// configurations are immutable; a change is a copy under a new name (<see cref="CopyAs"/>).
    /// </summary>
    public sealed class LaunchConfiguration
    {
        public string LaunchConfigurationName { get; set; } = string.Empty;

        public string? LaunchConfigurationArn { get; internal set; }

        public string ImageId { get; set; } = string.Empty;

        public string InstanceType { get; set; } = string.Empty;

        public string? KeyName { get; set; }

        public IList<string> SecurityGroups { get; set; } = new List<string>();

        public string? ClassicLinkVpcId { get; set; }

        public IList<string> ClassicLinkVpcSecurityGroups { get; set; } = new List<string>();

        /// <summary>User data as AWS stores it: base64 (of plain text, or of gzip).</summary>
        public string? UserData { get; set; }

        public string? KernelId { get; set; }

        public string? RamdiskId { get; set; }

        public IList<LaunchConfigurationBlockDevice> BlockDeviceMappings { get; set; } = new List<LaunchConfigurationBlockDevice>();

        public bool? InstanceMonitoring { get; set; }

        public string? SpotPrice { get; set; }

        public string? IamInstanceProfile { get; set; }

        public DateTime? CreatedTime { get; internal set; }

        public bool? EbsOptimized { get; set; }

        public bool? AssociatePublicIpAddress { get; set; }

        public string? PlacementTenancy { get; set; }

        public string? MetadataHttpTokens { get; set; }

        public int? MetadataHttpPutResponseHopLimit { get; set; }

        public string? MetadataHttpEndpoint { get; set; }

        /// <summary>A full copy under <paramref name="newName"/> (every member, user data optionally replaced).</summary>
        public LaunchConfiguration CopyAs(string newName, string? userData = null)
        {
            var c = (LaunchConfiguration)MemberwiseClone();
            c.LaunchConfigurationName = string.IsNullOrEmpty(newName) ? throw new ArgumentException("A name is required.", nameof(newName)) : newName;
            c.LaunchConfigurationArn = null;
            c.CreatedTime = null;
            c.SecurityGroups = new List<string>(SecurityGroups);
            c.ClassicLinkVpcSecurityGroups = new List<string>(ClassicLinkVpcSecurityGroups);
            var devices = new List<LaunchConfigurationBlockDevice>();
            foreach (LaunchConfigurationBlockDevice d in BlockDeviceMappings)
            {
                devices.Add(new LaunchConfigurationBlockDevice
                {
                    DeviceName = d.DeviceName, VirtualName = d.VirtualName, NoDevice = d.NoDevice, SnapshotId = d.SnapshotId, VolumeSize = d.VolumeSize,
                    VolumeType = d.VolumeType, DeleteOnTermination = d.DeleteOnTermination, Iops = d.Iops, Encrypted = d.Encrypted, Throughput = d.Throughput,
                });
            }

            c.BlockDeviceMappings = devices;
            if (userData is not null)
            {
                c.UserData = userData;
            }

            return c;
        }
    }

    /// <summary>A scheduled action (one-time with <see cref="Time"/>, or recurring with <see cref="Recurrence"/>).</summary>
    public sealed class ScheduledAction
    {
        public string AutoScalingGroupName { get; set; } = string.Empty;

        public string ScheduledActionName { get; set; } = string.Empty;

        public string? ScheduledActionArn { get; internal set; }

        /// <summary>When a one-time action runs (UTC).</summary>
        public DateTime? Time { get; set; }

        public DateTime? StartTime { get; set; }

        public DateTime? EndTime { get; set; }

        /// <summary>Cron expression of a recurring action.</summary>
        public string? Recurrence { get; set; }

        public int? MinSize { get; set; }

        public int? MaxSize { get; set; }

        public int? DesiredCapacity { get; set; }

        public string? TimeZone { get; set; }
    }

    /// <summary>A scaling activity (DescribeScalingActivities, TerminateInstanceInAutoScalingGroup).</summary>
    public sealed class ScalingActivity
    {
        public string ActivityId { get; internal set; } = string.Empty;

        public string? AutoScalingGroupName { get; internal set; }

        public string? Description { get; internal set; }

        public string? Cause { get; internal set; }

        public DateTime? StartTime { get; internal set; }

        public DateTime? EndTime { get; internal set; }

        /// <summary>InProgress, Successful, Failed, Cancelled, …</summary>
        public string StatusCode { get; internal set; } = string.Empty;

        public string? StatusMessage { get; internal set; }

        public int? Progress { get; internal set; }
    }
}
