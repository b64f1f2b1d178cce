using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>
    /// One builder (a member of the builders' Auto Scaling group) and whether it still points at the Services box.
    /// Emitted by Get-CcieBuilder.
    /// </summary>
    public sealed class Builder
    {
        internal Builder()
        {
        }

        public string Region { get; internal set; } = string.Empty;

        public string AutoScalingGroupName { get; internal set; } = string.Empty;

        public string InstanceId { get; internal set; } = string.Empty;

        /// <summary>Auto Scaling lifecycle state: Pending, InService, Terminating, Standby, …</summary>
        public string LifecycleState { get; internal set; } = string.Empty;

        /// <summary>EC2 instance state: pending, running, stopping, stopped, shutting-down, terminated (null if EC2 no longer knows it).</summary>
        public string? State { get; internal set; }

        /// <summary>Auto Scaling health: Healthy or Unhealthy.</summary>
        public string HealthStatus { get; internal set; } = string.Empty;

        public string? AvailabilityZone { get; internal set; }

        public string? PrivateIpAddress { get; internal set; }

        public string? InstanceType { get; internal set; }

        /// <summary>Launch time in UTC.</summary>
        public DateTime? LaunchTime { get; internal set; }

        /// <summary>How long it has run (on the service's clock).</summary>
        public TimeSpan? Age { get; internal set; }

        /// <summary>The launch template it was launched from (null for a launch configuration).</summary>
        public string? LaunchTemplateId { get; internal set; }

        /// <summary>The launch template version it was launched from (a number when known; $Default/$Latest as Auto Scaling reports it otherwise).</summary>
        public string? LaunchTemplateVersion { get; internal set; }

        /// <summary>The launch configuration it was launched from (null for a launch template).</summary>
        public string? LaunchConfigurationName { get; internal set; }

        /// <summary>The SERVICES_PRIVATE_IP in the user data it was launched with (null when there is none or it cannot be read).</summary>
        public string? ServicesPrivateIp { get; internal set; }

        /// <summary>True when the builder should be replaced: see <see cref="StaleReasons"/>.</summary>
        public bool Stale { get; internal set; }

        /// <summary>Why it is stale: WrongServicesIp, LaunchedBeforeRecovery, OlderThanMaxAge (empty when not stale).</summary>
        public IReadOnlyList<string> StaleReasons { get; internal set; } = Array.Empty<string>();

        /// <summary>The reasons in words (empty when not stale).</summary>
        public string StaleReason { get; internal set; } = string.Empty;

        public override string ToString() => InstanceId;
    }

    /// <summary>The builders' Auto Scaling group: its size, how many builders are in service and stale, and whether its current configuration points at the Services box.</summary>
    public sealed class BuilderGroup
    {
        internal BuilderGroup()
        {
        }

        public string Region { get; internal set; } = string.Empty;

        public string AutoScalingGroupName { get; internal set; } = string.Empty;

        public int DesiredCapacity { get; internal set; }

        public int MinSize { get; internal set; }

        public int MaxSize { get; internal set; }

        /// <summary>Members in the InService lifecycle state and healthy.</summary>
        public int InService { get; internal set; }

        public int Stale { get; internal set; }

        /// <summary>Every member listed (any lifecycle state).</summary>
        public int Count { get; internal set; }

        /// <summary>The launch template the group launches from now (null for a launch configuration).</summary>
        public string? LaunchTemplateId { get; internal set; }

        /// <summary>The version as the group names it ($Default, $Latest or a number).</summary>
        public string? LaunchTemplateVersion { get; internal set; }

        /// <summary>The number that version resolves to now.</summary>
        public long? LaunchTemplateVersionNumber { get; internal set; }

        public string? LaunchConfigurationName { get; internal set; }

        /// <summary>The SERVICES_PRIVATE_IP new builders get from the current configuration.</summary>
        public string? ConfiguredServicesPrivateIp { get; internal set; }

        /// <summary>The Services box's private IP now (what builders must have); null when no box was found.</summary>
        public string? ServicesPrivateIp { get; internal set; }

        public string? ServicesInstanceId { get; internal set; }

        /// <summary>True when the current configuration carries the box's IP (null when either is unknown).</summary>
        public bool? PointsAtServicesBox { get; internal set; }

        /// <summary>When the Services box was last restored or failed over (its launch time or recovery tags), UTC.</summary>
        public DateTime? RecoveredAt { get; internal set; }

        public IReadOnlyList<string> SuspendedProcesses { get; internal set; } = Array.Empty<string>();

        public IReadOnlyList<Builder> Builders { get; internal set; } = Array.Empty<Builder>();

        public override string ToString() => AutoScalingGroupName;
    }

    /// <summary>The result of Set-CcieBuilderCapacity: the group's size before and after, and the scheduled return.</summary>
    public sealed class BuilderCapacityResult
    {
        internal BuilderCapacityResult()
        {
        }

        public string Region { get; internal set; } = string.Empty;

        public string AutoScalingGroupName { get; internal set; } = string.Empty;

        public int PreviousDesiredCapacity { get; internal set; }

        public int DesiredCapacity { get; internal set; }

        public int PreviousMaxSize { get; internal set; }

        public int MaxSize { get; internal set; }

        public int MinSize { get; internal set; }

        /// <summary>When the group returns to its previous size (UTC); null when no return is scheduled.</summary>
        public DateTime? Until { get; internal set; }

        /// <summary>The scheduled action that returns it (null without -Until).</summary>
        public string? ScheduledActionName { get; internal set; }

        /// <summary>False under -WhatIf (nothing changed).</summary>
        public bool Applied { get; internal set; }

        /// <summary>Things the operator should know (a suspended process that holds the change, …).</summary>
        public IReadOnlyList<string> Warnings { get; internal set; } = Array.Empty<string>();

        /// <summary>The AWS calls made (or, under -WhatIf, that would be made), in order.</summary>
        public IReadOnlyList<string> Steps { get; internal set; } = Array.Empty<string>();

        public IReadOnlyList<TimelineEntry> Timeline { get; internal set; } = Array.Empty<TimelineEntry>();

        public override string ToString() => $"{AutoScalingGroupName}: {PreviousDesiredCapacity} -> {DesiredCapacity}";
    }
}
