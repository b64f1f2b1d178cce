namespace CcieDr.Simulator.AutoScaling;

/// <summary>Auto Scaling process names (SuspendProcesses / ResumeProcesses).</summary>
internal static class ScalingProcesses
{
    public const string Launch = "Launch";
    public const string Terminate = "Terminate";
    public const string HealthCheck = "HealthCheck";
    public const string ReplaceUnhealthy = "ReplaceUnhealthy";
    public const string AZRebalance = "AZRebalance";
    public const string AlarmNotification = "AlarmNotification";
    public const string ScheduledActions = "ScheduledActions";
    public const string AddToLoadBalancer = "AddToLoadBalancer";
    public const string InstanceRefresh = "InstanceRefresh";

    public static readonly IReadOnlyList<string> All =
        [Launch, Terminate, HealthCheck, ReplaceUnhealthy, AZRebalance, AlarmNotification, ScheduledActions, AddToLoadBalancer, InstanceRefresh];
}

/// <summary>One EBS block device mapping of a launch configuration.</summary>
internal sealed record LaunchConfigurationBlockDevice(
    string DeviceName,
    string? VirtualName,
    bool? NoDevice,
    string? SnapshotId,
    int? VolumeSize,
    string? VolumeType,
    bool? DeleteOnTermination,
    int? Iops,
    bool? Encrypted,
    int? Throughput);

/// <summary>A launch configuration: immutable, as in AWS (a change is a new configuration).</summary>
internal sealed class LaunchConfiguration
{
    public required string Name { get; init; }

    public required string Arn { get; init; }

    public required string ImageId { get; init; }

    public required string InstanceType { get; init; }

    public string? KeyName { get; init; }

    public IReadOnlyList<string> SecurityGroups { get; init; } = [];

    /// <summary>As AWS returns it: base64.</summary>
    public string? UserData { get; init; }

    public string? IamInstanceProfile { get; init; }

    public IReadOnlyList<LaunchConfigurationBlockDevice> BlockDeviceMappings { get; init; } = [];

    public bool? InstanceMonitoring { get; init; }

    public bool? EbsOptimized { get; init; }

    public bool? AssociatePublicIpAddress { get; init; }

    public string? SpotPrice { get; init; }

    public string? KernelId { get; init; }

    public string? RamdiskId { get; init; }

    public string? PlacementTenancy { get; init; }

    public string? MetadataHttpTokens { get; init; }

    public int? MetadataHttpPutResponseHopLimit { get; init; }

    public string? MetadataHttpEndpoint { get; init; }

    public DateTime CreatedTime { get; init; }
}

/// <summary>A one-time scheduled action (recurrences are not simulated).</summary>
internal sealed class ScheduledAction
{
    public required string Name { get; init; }

    public required string GroupName { get; init; }

    public required string Arn { get; init; }

    public required DateTime Time { get; init; }

    public DateTime? EndTime { get; init; }

    public int? MinSize { get; init; }

    public int? MaxSize { get; init; }

    public int? DesiredCapacity { get; init; }
}

/// <summary>Instance refresh statuses.</summary>
internal static class RefreshStatus
{
    public const string Pending = "Pending";
    public const string InProgress = "InProgress";
    public const string Successful = "Successful";
    public const string Failed = "Failed";
    public const string Cancelling = "Cancelling";
    public const string Cancelled = "Cancelled";

    public static bool Active(string s) => s is Pending or InProgress or Cancelling;
}

/// <summary>A rolling instance refresh: replaces the members it started with, batch by batch (terminate, then launch).</summary>
internal sealed class InstanceRefresh
{
    public required string Id { get; init; }

    public required string GroupName { get; init; }

    public string Status { get; set; } = RefreshStatus.Pending;

    public string? StatusReason { get; set; }

    public DateTime StartTime { get; init; }

    public DateTime? EndTime { get; set; }

    public int MinHealthyPercentage { get; init; } = 90;

    public int? InstanceWarmup { get; init; }

    public bool SkipMatching { get; init; }

    /// <summary>Members still to replace, oldest first.</summary>
    public List<string> ToReplace { get; init; } = new();

    /// <summary>The current batch: members terminated and not yet replaced by healthy, warmed-up ones.</summary>
    public List<string> InFlight { get; } = new();

    public int Total { get; init; }

    public int Replaced { get; set; }

    public int PercentageComplete => Total == 0 ? 100 : Replaced * 100 / Total;
}

/// <summary>Scaling activity status codes.</summary>
internal static class ActivityStatus
{
    public const string InProgress = "InProgress";
    public const string Successful = "Successful";
    public const string Failed = "Failed";
    public const string Cancelled = "Cancelled";
}

/// <summary>One scaling activity (a launch, a termination, a scheduled action's change).</summary>
internal sealed class ScalingActivity
{
    public required string Id { get; init; }

    public required string GroupName { get; init; }

    public required string Description { get; init; }

    public required string Cause { get; init; }

    public DateTime StartTime { get; init; }

    public DateTime? EndTime { get; set; }

    public string StatusCode { get; set; } = ActivityStatus.InProgress;

    public string? StatusMessage { get; set; }

    public int Progress { get; set; }

    /// <summary>The instance being launched or terminated (the activity completes with it).</summary>
    public string? InstanceId { get; init; }

    public bool Launch { get; init; }
}
