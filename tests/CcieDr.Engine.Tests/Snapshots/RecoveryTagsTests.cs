using Xunit;
using Amazon.EC2.Model;
using CcieDr.Engine.Recovery;

namespace CcieDr.Engine.Tests.Snapshots;

public class RecoveryTagsTests
{
    internal static ServicesBox Box(string name = "circleci_services", string instanceId = "i-0123456789abcdef0") => new()
    {
        Region = "us-east-1",
        Name = name,
        InstanceId = instanceId,
        State = "running",
        PrivateIpAddress = "10.0.1.10",
        SecondaryPrivateIpAddresses = ["10.0.1.11", "10.0.1.12"],
        SubnetId = "subnet-0aaa",
        VpcId = "vpc-0bbb",
        AvailabilityZone = "us-east-1a",
        SecurityGroupIds = ["sg-01", "sg-02"],
        InstanceType = "m5.2xlarge",
        KeyName = "circleci",
        IamInstanceProfileArn = "arn:aws:iam::123456789012:instance-profile/circleci-services",
        ImageId = "ami-0ccc",
        RootDeviceName = "/dev/sda1",
        Architecture = "x86_64",
        EnaSupport = true,
        VirtualizationType = "hvm",
        Tags = new Dictionary<string, string> { ["Name"] = name, ["user-data-secret"] = "CIRCLE_SECRET_PASSPHRASE=hunter2" },
        Volumes =
        [
            new ServicesBoxVolume { DeviceName = "/dev/sda1", VolumeId = "vol-root", IsRootDevice = true, SizeGiB = 50, VolumeType = "gp3", Iops = 3000, Throughput = 125 },
            new ServicesBoxVolume { DeviceName = "/dev/xvdf", VolumeId = "vol-data", SizeGiB = 500, VolumeType = "io2", Iops = 16000, Encrypted = true, KmsKeyId = "arn:aws:kms:us-east-1:123456789012:key/abc" },
        ],
    };

    internal static Snapshot SnapshotOf(ServicesBox box, ServicesBoxVolume v, string rpId, string state = "completed", string? label = null, string? id = null) => new()
    {
        SnapshotId = id ?? "snap-" + v.VolumeId.Replace("vol-", string.Empty, StringComparison.Ordinal) + "0001",
        VolumeId = v.VolumeId,
        VolumeSize = v.SizeGiB,
        Encrypted = v.Encrypted,
        KmsKeyId = v.KmsKeyId,
        State = state,
        Progress = state == "completed" ? "100%" : "40%",
        StartTime = RecoveryTags.TryParseRecoveryPointId(rpId, out DateTime at) ? at : new DateTime(2026, 11, 28, 14, 0, 0, DateTimeKind.Utc),
        Description = RecoveryTags.Description(new DateTime(2026, 11, 28, 14, 0, 0, DateTimeKind.Utc)),
        Tags = RecoveryTags.ToTagList(RecoveryTags.ForSnapshot(box, v, rpId, label)),
    };

    [Fact]
    public void Identity_round_trips_through_the_tags()
    {
        ServicesBox box = Box();
        string rp = RecoveryTags.NewRecoveryPointId(new DateTime(2026, 11, 28, 14, 0, 0, DateTimeKind.Utc));
        Snapshot snap = SnapshotOf(box, box.Volumes[1], rp, label: "before upgrade 1.48");

        RecoveryIdentity id = RecoveryTags.ReadIdentity(snap.Tags.ToDictionary(t => t.Key, t => t.Value));

        Assert.Equal(box.InstanceId, id.SourceInstanceId);
        Assert.Equal(box.Name, id.Name);
        Assert.Equal(box.PrivateIpAddress, id.PrivateIpAddress);
        Assert.Equal(box.SecondaryPrivateIpAddresses, id.SecondaryPrivateIpAddresses);
        Assert.Equal(box.SubnetId, id.SubnetId);
        Assert.Equal(box.VpcId, id.VpcId);
        Assert.Equal(box.AvailabilityZone, id.AvailabilityZone);
        Assert.Equal(box.SecurityGroupIds, id.SecurityGroupIds);
        Assert.Equal(box.InstanceType, id.InstanceType);
        Assert.Equal(box.KeyName, id.KeyName);
        Assert.Equal(box.IamInstanceProfileArn, id.IamInstanceProfileArn);
        Assert.Equal(box.ImageId, id.ImageId);
        Assert.Equal(box.RootDeviceName, id.RootDeviceName);
        Assert.Equal(box.Architecture, id.Architecture);
        Assert.True(id.EnaSupport);
        Assert.Equal(box.VirtualizationType, id.VirtualizationType);
        Assert.Equal(2, id.VolumeCount);
    }

    [Fact]
    public void Volume_round_trips_through_the_tags_and_snapshot_attributes()
    {
        ServicesBox box = Box();
        const string rp = "rp-20261128T140000Z-0a1b2c3d";
        RecoveryPointSnapshot data = RecoveryTags.ReadSnapshot(SnapshotOf(box, box.Volumes[1], rp));
        RecoveryPointSnapshot root = RecoveryTags.ReadSnapshot(SnapshotOf(box, box.Volumes[0], rp));

        Assert.Equal("/dev/xvdf", data.DeviceName);
        Assert.False(data.IsRootDevice);
        Assert.Equal("vol-data", data.VolumeId);
        Assert.Equal(500, data.SizeGiB);
        Assert.Equal("io2", data.VolumeType);
        Assert.Equal(16000, data.Iops);
        Assert.Null(data.Throughput);
        Assert.True(data.Encrypted);
        Assert.Equal("arn:aws:kms:us-east-1:123456789012:key/abc", data.KmsKeyId);
        Assert.Equal("completed", data.State);
        Assert.Equal(100, data.Progress);

        Assert.True(root.IsRootDevice);
        Assert.Equal(125, root.Throughput);
        Assert.Equal(3000, root.Iops);
        Assert.False(root.Encrypted);
    }

    [Fact]
    public void Every_schema_key_is_written_and_nothing_else_of_the_instance()
    {
        ServicesBox box = Box();
        IDictionary<string, string> tags = RecoveryTags.ForSnapshot(box, box.Volumes[0], "rp-20261128T140000Z-0a1b2c3d", null);

        string[] expected =
        [
            "ccie:recovery-point", "ccie:source-instance-id", "ccie:box-name", "ccie:private-ip", "ccie:secondary-ips", "ccie:subnet-id",
            "ccie:vpc-id", "ccie:availability-zone", "ccie:security-group-ids", "ccie:instance-type", "ccie:key-name",
            "ccie:iam-instance-profile", "ccie:image-id", "ccie:root-device-name", "ccie:device-name", "ccie:architecture",
            "ccie:ena-support", "ccie:virtualization-type", "ccie:volume-type", "ccie:volume-size", "ccie:iops", "ccie:throughput",
            "ccie:encrypted", "ccie:kms-key-id", "ccie:volume-count", "ccie:created-by", "Name",
        ];
        Assert.Equal(expected.OrderBy(k => k, StringComparer.Ordinal), tags.Keys.OrderBy(k => k, StringComparer.Ordinal));
        Assert.DoesNotContain(tags.Values, v => v.Contains("hunter2", StringComparison.Ordinal));
        Assert.Equal("circleci_services /dev/sda1 rp-20261128T140000Z-0a1b2c3d", tags["Name"]);
        Assert.Equal("10.0.1.11,10.0.1.12", tags["ccie:secondary-ips"]);
        Assert.Equal("sg-01,sg-02", tags["ccie:security-group-ids"]);
        Assert.Equal("true", tags["ccie:ena-support"]);
        Assert.StartsWith("CcieDr ", tags["ccie:created-by"], StringComparison.Ordinal);
        Assert.True(tags.Count <= 50, "EC2 allows 50 tags per resource");
        Assert.All(tags, t => Assert.True(t.Value.Length <= 256, t.Key));
    }

    [Fact]
    public void Label_is_written_only_when_given()
    {
        ServicesBox box = Box();
        Assert.False(RecoveryTags.ForPoint(box, "rp-20261128T140000Z-0a1b2c3d", null).ContainsKey(RecoveryTags.Label));
        Assert.Equal("before upgrade 1.48", RecoveryTags.ForPoint(box, "rp-20261128T140000Z-0a1b2c3d", "before upgrade 1.48")[RecoveryTags.Label]);
    }

    [Fact]
    public void Empty_lists_and_missing_values_read_back_as_empty()
    {
        ServicesBox box = Box();
        box.SecondaryPrivateIpAddresses = [];
        box.KeyName = null;
        box.IamInstanceProfileArn = null;
        IDictionary<string, string> tags = RecoveryTags.ForPoint(box, "rp-20261128T140000Z-0a1b2c3d", null);
        Assert.Equal(string.Empty, tags[RecoveryTags.SecondaryIps]);

        RecoveryIdentity id = RecoveryTags.ReadIdentity(tags.ToDictionary(t => t.Key, t => t.Value));
        Assert.Empty(id.SecondaryPrivateIpAddresses);
        Assert.Null(id.KeyName);
        Assert.Null(id.IamInstanceProfileArn);
    }

    [Fact]
    public void Recovery_point_ids_have_the_contract_format_and_parse_back()
    {
        var at = new DateTime(2026, 11, 28, 14, 5, 9, DateTimeKind.Utc);
        string id = RecoveryTags.NewRecoveryPointId(at);
        Assert.Matches("^rp-20261128T140509Z-[0-9a-f]{8}$", id);
        Assert.True(RecoveryTags.TryParseRecoveryPointId(id, out DateTime parsed));
        Assert.Equal(at, parsed);
        Assert.Equal(DateTimeKind.Utc, parsed.Kind);
        Assert.NotEqual(id, RecoveryTags.NewRecoveryPointId(at));

        Assert.False(RecoveryTags.TryParseRecoveryPointId("rp-20261328T140509Z-0a1b2c3d", out _));
        Assert.False(RecoveryTags.TryParseRecoveryPointId("rp-20261128T140509Z-0A1B2C3D", out _));
        Assert.False(RecoveryTags.TryParseRecoveryPointId("snap-0123", out _));
        Assert.False(RecoveryTags.TryParseRecoveryPointId(null, out _));
    }

    [Fact]
    public void Description_keeps_the_seed_form()
    {
        string d = RecoveryTags.Description(new DateTime(2026, 11, 28, 14, 0, 0, DateTimeKind.Utc));
        Assert.Equal("CircleCI Services box Backup taken at 2026-11-28T14:00:00Z", d);
        Assert.StartsWith("CircleCI", d, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("45%", 45)]
    [InlineData("100%", 100)]
    [InlineData("", 0)]
    [InlineData(null, 0)]
    [InlineData("garbage", 0)]
    public void Progress_parses(string? text, int expected) => Assert.Equal(expected, RecoveryTags.ParseProgress(text));
}
