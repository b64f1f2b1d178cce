namespace CcieDr.Simulator;

/// <summary>Anything that carries tags.</summary>
internal abstract class Resource
{
    public required string Id { get; init; }

    public Dictionary<string, string> Tags { get; } = new(StringComparer.Ordinal);

    /// <summary>DescribeTags resource-type.</summary>
    public abstract string ResourceType { get; }

    public string? Tag(string key) => Tags.TryGetValue(key, out var v) ? v : null;
}

internal sealed class Vpc : Resource
{
    public override string ResourceType => "vpc";

    public required string CidrBlock { get; init; }

    public bool IsDefault { get; init; }
}

internal sealed class Subnet : Resource
{
    public override string ResourceType => "subnet";

    public required string VpcId { get; init; }

    public required string AvailabilityZone { get; init; }

    public required Cidr Cidr { get; init; }
}

internal sealed class SecurityGroup : Resource
{
    public override string ResourceType => "security-group";

    public required string Name { get; init; }

    public required string Description { get; init; }

    public required string VpcId { get; init; }

    /// <summary>Inbound rules (none on a new group).</summary>
    public List<SecurityGroupRule> Ingress { get; } = new();

    /// <summary>Outbound rules: a new group allows all traffic out, as in AWS.</summary>
    public List<SecurityGroupRule> Egress { get; } = new() { SecurityGroupRule.AllTraffic() };
}

/// <summary>One permission of a security group: protocol, port range and one source or destination.</summary>
internal sealed record SecurityGroupRule(string Protocol, int? FromPort, int? ToPort, string? CidrIp, string? GroupId)
{
    public static SecurityGroupRule AllTraffic() => new("-1", null, null, "0.0.0.0/0", null);
}

internal sealed class KeyPair : Resource
{
    public override string ResourceType => "key-pair";

    public required string Name { get; init; }

    public required string Fingerprint { get; init; }

    public DateTime CreateTime { get; init; }
}

internal sealed class PrivateIp
{
    public required string Address { get; init; }

    public bool Primary { get; init; }
}

internal sealed class NetworkInterface : Resource
{
    public override string ResourceType => "network-interface";

    public required string SubnetId { get; init; }

    public required string VpcId { get; init; }

    public required string AvailabilityZone { get; init; }

    public required string MacAddress { get; init; }

    public string Description { get; set; } = "";

    public List<PrivateIp> PrivateIps { get; } = new();

    public List<string> GroupIds { get; set; } = new();

    public string? AttachmentId { get; set; }

    public string? InstanceId { get; set; }

    public DateTime? AttachTime { get; set; }

    public int DeviceIndex { get; set; }

    public bool DeleteOnTermination { get; set; } = true;

    public string PrimaryIp => PrivateIps.First(p => p.Primary).Address;

    public string Status => InstanceId is null ? "available" : "in-use";
}

internal static class InstanceStates
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string ShuttingDown = "shutting-down";
    public const string Terminated = "terminated";
    public const string Stopping = "stopping";
    public const string Stopped = "stopped";

    public static int Code(string state) => state switch
    {
        Pending => 0,
        Running => 16,
        ShuttingDown => 32,
        Terminated => 48,
        Stopping => 64,
        Stopped => 80,
        _ => 0,
    };
}

internal sealed class InstanceBlockDevice
{
    public required string DeviceName { get; init; }

    public required string VolumeId { get; init; }

    public DateTime AttachTime { get; set; }

    public bool DeleteOnTermination { get; set; }
}

internal sealed class Instance : Resource
{
    public override string ResourceType => "instance";

    public required string ReservationId { get; init; }

    public required string ImageId { get; init; }

    public required string InstanceType { get; set; }

    public required string SubnetId { get; init; }

    public required string VpcId { get; init; }

    public required string AvailabilityZone { get; init; }

    public required string NetworkInterfaceId { get; init; }

    public required string PrivateIpAddress { get; init; }

    public List<string> GroupIds { get; init; } = new();

    public string? KeyName { get; init; }

    public string? IamProfileArn { get; init; }

    public string? IamProfileId { get; init; }

    public string? UserData { get; set; }

    public required string RootDeviceName { get; init; }

    public string Architecture { get; init; } = "x86_64";

    public bool EnaSupport { get; init; } = true;

    public string VirtualizationType { get; init; } = "hvm";

    public List<InstanceBlockDevice> BlockDevices { get; } = new();

    public string? ClientToken { get; init; }

    public int LaunchIndex { get; init; }

    public DateTime LaunchTime { get; set; }

    public string State { get; set; } = InstanceStates.Pending;

    /// <summary>When the current timed state ends (pending, stopping, shutting-down).</summary>
    public DateTime? StateDueAt { get; set; }

    public DateTime? RunningSince { get; set; }

    public DateTime? TerminatedAt { get; set; }

    public string? StateReasonCode { get; set; }

    public string? StateReasonMessage { get; set; }

    public string? StateTransitionReason { get; set; }

    /// <summary>Injected fault: status checks fail.</summary>
    public bool Impaired { get; set; }

    /// <summary>Injected fault: the instance dies (goes stopping) at this time.</summary>
    public DateTime? DiesAt { get; set; }

    /// <summary>Injected fault: the CircleCI app on this box is down while the instance runs (CloudWatch num-masters 0). Control: KillApp/ReviveApp.</summary>
    public bool AppKilled { get; set; }

    /// <summary>Injected fault (a zombie): the OS is hung, so a stop without Force leaves it in stopping until a forced stop.</summary>
    public bool IgnoresGracefulStop { get; set; }
}

internal sealed class VolumeAttachment
{
    public required string InstanceId { get; init; }

    public required string Device { get; init; }

    public string State { get; set; } = "attaching";

    public DateTime AttachTime { get; set; }

    public DateTime? DueAt { get; set; }

    public bool DeleteOnTermination { get; set; }
}

internal sealed class Volume : Resource
{
    public override string ResourceType => "volume";

    public required int Size { get; init; }

    public required string VolumeType { get; init; }

    public int? Iops { get; init; }

    public int? Throughput { get; init; }

    public bool Encrypted { get; init; }

    public string? KmsKeyId { get; init; }

    public required string AvailabilityZone { get; init; }

    public string? SnapshotId { get; init; }

    public DateTime CreateTime { get; init; }

    public string State { get; set; } = "creating";

    public DateTime? StateDueAt { get; set; }

    public VolumeAttachment? Attachment { get; set; }

    public string? ClientToken { get; init; }
}

internal sealed class Snapshot : Resource
{
    public override string ResourceType => "snapshot";

    public required string VolumeId { get; init; }

    public required int VolumeSize { get; init; }

    public bool Encrypted { get; init; }

    public string? KmsKeyId { get; init; }

    public DateTime StartTime { get; init; }

    public double DurationSeconds { get; init; }

    public string State { get; set; } = "pending";

    public string? StateMessage { get; set; }

    public required string OwnerId { get; init; }

    public string Description { get; init; } = "";

    /// <summary>Injected fault: fails (state error) when it would complete, or now if already due.</summary>
    public bool WillFail { get; set; }

    /// <summary>The data in it is broken (the snapshot reports completed): an instance booted with a volume from it fails its instance status check.</summary>
    public bool Corrupt { get; set; }

    /// <summary>For copies: where it came from.</summary>
    public string? SourceSnapshotId { get; init; }

    public string? SourceRegion { get; init; }

    public int Progress(DateTime now)
    {
        if (State == "completed")
        {
            return 100;
        }

        if (DurationSeconds <= 0)
        {
            return State == "error" ? 0 : 100;
        }

        var pct = (int)Math.Floor((now - StartTime).TotalSeconds / DurationSeconds * 100);
        return Math.Clamp(pct, 0, 99);
    }
}

internal sealed class ImageBlockDevice
{
    public required string DeviceName { get; init; }

    public string? SnapshotId { get; init; }

    public int VolumeSize { get; init; }

    public string VolumeType { get; init; } = "gp2";

    public int? Iops { get; init; }

    public int? Throughput { get; init; }

    public bool DeleteOnTermination { get; init; } = true;

    public bool Encrypted { get; init; }

    public string? KmsKeyId { get; init; }
}

internal sealed class Image : Resource
{
    public override string ResourceType => "image";

    public required string Name { get; init; }

    public string? Description { get; init; }

    public required string OwnerId { get; init; }

    public bool IsPublic { get; init; }

    public string State { get; set; } = "pending";

    public DateTime CreationDate { get; init; }

    public DateTime? AvailableAt { get; set; }

    public string Architecture { get; init; } = "x86_64";

    public bool EnaSupport { get; init; }

    public string VirtualizationType { get; init; } = "hvm";

    public required string RootDeviceName { get; init; }

    public List<ImageBlockDevice> BlockDevices { get; init; } = new();

    public string? SourceInstanceId { get; init; }

    public string? StateReason { get; set; }

    /// <summary>Set by the image-failure fault: goes to <c>failed</c> instead of <c>available</c> when its time comes.</summary>
    public bool WillFail { get; set; }
}

internal sealed class LaunchTemplateData
{
    public string? ImageId { get; set; }

    public string? InstanceType { get; set; }

    public string? KeyName { get; set; }

    public string? UserData { get; set; }

    public List<string> SecurityGroupIds { get; set; } = new();

    public string? IamInstanceProfileArn { get; set; }

    public string? IamInstanceProfileName { get; set; }

    public LaunchTemplateData Clone()
    {
        var c = (LaunchTemplateData)MemberwiseClone();
        c.SecurityGroupIds = new List<string>(SecurityGroupIds);
        return c;
    }
}

internal sealed class LaunchTemplateVersion
{
    public required long Number { get; init; }

    public string? Description { get; init; }

    public DateTime CreateTime { get; init; }

    public required LaunchTemplateData Data { get; init; }
}

internal sealed class LaunchTemplate : Resource
{
    public override string ResourceType => "launch-template";

    public required string Name { get; init; }

    public DateTime CreateTime { get; init; }

    public long DefaultVersion { get; set; } = 1;

    public List<LaunchTemplateVersion> Versions { get; } = new();

    /// <summary>CreateLaunchTemplateVersion client tokens → the request's fingerprint and the version it made (a retry gets that version again).</summary>
    public Dictionary<string, (string Fingerprint, long Number)> VersionTokens { get; } = new(StringComparer.Ordinal);

    public long LatestVersion => Versions.Max(v => v.Number);
}

/// <summary>Everything in one region.</summary>
internal sealed class RegionState
{
    private static readonly string[] ZoneSuffixes = ["a", "b", "c"];

    public RegionState(string name, string shortCode)
    {
        Name = name;
        ShortCode = shortCode;
        Zones = ZoneSuffixes
            .Select((s, i) => new Zone(name + s, $"{shortCode}-az{i + 1}"))
            .ToList();
    }

    public string Name { get; }

    public string ShortCode { get; }

    public List<Zone> Zones { get; }

    public Dictionary<string, Vpc> Vpcs { get; } = new();

    public Dictionary<string, Subnet> Subnets { get; } = new();

    public Dictionary<string, SecurityGroup> SecurityGroups { get; } = new();

    public Dictionary<string, KeyPair> KeyPairs { get; } = new();

    public Dictionary<string, NetworkInterface> NetworkInterfaces { get; } = new();

    public Dictionary<string, Instance> Instances { get; } = new();

    public Dictionary<string, Volume> Volumes { get; } = new();

    public Dictionary<string, Snapshot> Snapshots { get; } = new();

    public Dictionary<string, Image> Images { get; } = new();

    public Dictionary<string, LaunchTemplate> LaunchTemplates { get; } = new();

    /// <summary>Simulated Auto Scaling groups by name.</summary>
    public Dictionary<string, AutoScalingGroup> AutoScalingGroups { get; } = new(StringComparer.Ordinal);

    /// <summary>Auto Scaling launch configurations by name (immutable once created).</summary>
    public Dictionary<string, AutoScaling.LaunchConfiguration> LaunchConfigurations { get; } = new(StringComparer.Ordinal);

    /// <summary>SSM Run Command commands by id.</summary>
    public Dictionary<string, SsmCommand> SsmCommands { get; } = new();

    /// <summary>RunInstances ClientToken → (request fingerprint, reservation id).</summary>
    public Dictionary<string, (string Fingerprint, string ReservationId)> RunTokens { get; } = new();

    /// <summary>Default EBS KMS key of the region (aws/ebs).</summary>
    public string DefaultKmsKeyArn { get; set; } = "";

    /// <summary>KMS keys by key id.</summary>
    public Dictionary<string, KmsKey> KmsKeys { get; } = new(StringComparer.Ordinal);

    /// <summary>KMS aliases ("alias/…") → key id.</summary>
    public Dictionary<string, string> KmsAliases { get; } = new(StringComparer.Ordinal);

    /// <summary>CloudWatch metrics, publishers and the simulated fleet counters.</summary>
    public CloudWatch.CloudWatchState CloudWatch { get; } = new();

    public Zone? FindZone(string name) => Zones.FirstOrDefault(z => z.Name == name);

    public IEnumerable<Resource> AllResources() =>
        Vpcs.Values.Cast<Resource>()
            .Concat(Subnets.Values)
            .Concat(SecurityGroups.Values)
            .Concat(KeyPairs.Values)
            .Concat(NetworkInterfaces.Values)
            .Concat(Instances.Values)
            .Concat(Volumes.Values)
            .Concat(Snapshots.Values)
            .Concat(Images.Values)
            .Concat(LaunchTemplates.Values);
}

internal sealed class Zone
{
    public Zone(string name, string id)
    {
        Name = name;
        ZoneId = id;
    }

    public string Name { get; }

    public string ZoneId { get; }

    /// <summary>Injected fault: the zone is out (impaired).</summary>
    public bool Failed { get; set; }

    /// <summary>The error RunInstances into a failed zone returns.</summary>
    public string FailureError { get; set; } = "InsufficientInstanceCapacity";

    /// <summary>How calls on the failed zone's resources behave (Impaired: they work; ApiErrors/ApiHangs: they fail or hang and the zone's instances keep their state).</summary>
    public AzOutageMode OutageMode { get; set; } = AzOutageMode.Impaired;

    /// <summary>For <see cref="AzOutageMode.ApiHangs"/>: how long a call is held before the connection is aborted (real milliseconds).</summary>
    public int HangMilliseconds { get; set; } = 2000;

    /// <summary>True when the zone's control plane is out: its instances are frozen in their last state.</summary>
    public bool Frozen => Failed && OutageMode != AzOutageMode.Impaired;
}
