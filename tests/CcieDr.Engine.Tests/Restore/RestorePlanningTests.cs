using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery.Restore;
using Xunit;

namespace CcieDr.Engine.Tests.Restore;

/// <summary>The pure parts of the restore: names, tokens, address checks, resolving a point's identity.</summary>
public sealed class RestorePlanningTests
{
    [Fact]
    public void The_ami_name_is_deterministic_and_valid()
    {
        Assert.Equal("ccie-restore-rp-20261128T140000Z-1a2b3c4d", RestoreNaming.ImageName("rp-20261128T140000Z-1a2b3c4d"));
        Assert.Equal("ccie-restore-snap-0123456789abcdef0", RestoreNaming.ImageName("snap-0123456789abcdef0"));
        Assert.Equal("ccie-restore-a_b", RestoreNaming.ImageName("a:b"));
        Assert.True(RestoreNaming.ImageName(new string('x', 200)).Length <= 128);
    }

    [Fact]
    public void The_client_token_depends_on_point_subnet_and_ip_and_has_generations()
    {
        string a = RestoreNaming.ClientToken("rp-1", "subnet-1", "10.0.1.10");
        Assert.Equal(a, RestoreNaming.ClientToken("rp-1", "subnet-1", "10.0.1.10"));
        Assert.NotEqual(a, RestoreNaming.ClientToken("rp-2", "subnet-1", "10.0.1.10"));
        Assert.NotEqual(a, RestoreNaming.ClientToken("rp-1", "subnet-2", "10.0.1.10"));
        Assert.NotEqual(a, RestoreNaming.ClientToken("rp-1", "subnet-1", "10.0.1.11"));
        Assert.NotEqual(a, RestoreNaming.ClientToken("rp-1", "subnet-1", null));
        string g3 = RestoreNaming.ClientToken("rp-1", "subnet-1", "10.0.1.10", 3);
        Assert.Equal(a + "-g3", g3);
        Assert.True(g3.Length <= 64);
        Assert.True(RestoreNaming.IsGenerationOf(a, a));
        Assert.True(RestoreNaming.IsGenerationOf(g3, a));
        Assert.False(RestoreNaming.IsGenerationOf(RestoreNaming.ClientToken("rp-2", "subnet-1", "10.0.1.10"), a));
        Assert.False(RestoreNaming.IsGenerationOf(null, a));
    }

    [Theory]
    [InlineData("10.0.1.10", "10.0.1.0/24", null)]
    [InlineData("10.0.1.4", "10.0.1.0/24", null)]
    [InlineData("10.0.1.3", "10.0.1.0/24", "reserves")]
    [InlineData("10.0.1.0", "10.0.1.0/24", "reserves")]
    [InlineData("10.0.1.255", "10.0.1.0/24", "reserves")]
    [InlineData("10.0.2.10", "10.0.1.0/24", "outside")]
    [InlineData("10.0.1", "10.0.1.0/24", "not an IPv4")]
    [InlineData("fe80::1", "10.0.1.0/24", "not an IPv4")]
    [InlineData("10.0.200.7", "10.0.0.0/16", null)]
    public void Usable_addresses_are_inside_the_subnet_and_not_reserved(string ip, string cidr, string? why)
    {
        string? reason = Ipv4.WhyNotUsable(ip, cidr);
        if (why is null)
        {
            Assert.Null(reason);
        }
        else
        {
            Assert.Contains(why, reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Resolve_takes_the_root_device_and_every_mapping_from_the_tags()
    {
        RecoveryPoint point = Point("/dev/xvda", ("/dev/xvda", "snap-00000001", 8, true), ("/dev/xvdf", "snap-00000002", 100, false));

        RestoreTarget t = RestorePlanner.Resolve(new RestoreRequest { RecoveryPoint = point }, "us-east-1");

        Assert.Equal("/dev/xvda", t.RootDeviceName);
        Assert.Equal(new[] { "/dev/xvda", "/dev/xvdf" }, t.Devices.Select(d => d.DeviceName));
        Assert.Equal(new[] { 8, 100 }, t.Devices.Select(d => d.SizeGiB));
        Assert.True(t.Devices[0].DeleteOnTermination);
        Assert.False(t.Devices[1].DeleteOnTermination);
        Assert.Equal("arm64", t.Architecture);
        Assert.False(t.EnaSupport);
        Assert.Equal("10.0.1.10", t.PrivateIpAddress);
        Assert.True(t.PrivateIpPreserved);
        Assert.Equal("ccie-restore-rp-20261128T140000Z-1a2b3c4d", t.ImageName);
        Assert.Equal("rp-20261128T140000Z-1a2b3c4d", t.Tags[RestoreNaming.RestoredFromTag]);
        Assert.Equal("i-00000000000000001", t.Tags[RestoreNaming.RestoreOfTag]);
        Assert.Equal("circleci_services", t.Tags["Name"]);
    }

    [Fact]
    public void Resolve_applies_overrides()
    {
        RecoveryPoint point = Point("/dev/sda1", ("/dev/sda1", "snap-00000001", 50, true));

        RestoreTarget t = RestorePlanner.Resolve(new RestoreRequest { RecoveryPoint = point, InstanceType = "m5.4xlarge", SecurityGroupIds = ["sg-0000000000000000b"], Name = "drill", PrivateIpAddress = "10.0.1.20" }, "us-east-1");

        Assert.Equal("m5.4xlarge", t.InstanceType);
        Assert.Equal(new[] { "sg-0000000000000000b" }, t.SecurityGroupIds);
        Assert.Equal("drill", t.Tags["Name"]);
        Assert.Equal("10.0.1.20", t.PrivateIpAddress);
        Assert.False(t.PrivateIpPreserved);
    }

    [Fact]
    public void Resolve_never_guesses_a_root_device()
    {
        RecoveryPoint point = Point(null, ("/dev/xvdf", "snap-00000002", 100, false));

        CcieException e = Assert.Throws<CcieException>(() => RestorePlanner.Resolve(new RestoreRequest { RecoveryPoint = point }, "us-east-1"));

        Assert.Equal("RootDeviceNameUnknown", e.ErrorId);
    }

    [Fact]
    public void Resolve_refuses_a_point_without_a_snapshot_of_the_root_device()
    {
        RecoveryPoint point = Point("/dev/xvda", ("/dev/xvdf", "snap-00000002", 100, false));

        CcieException e = Assert.Throws<CcieException>(() => RestorePlanner.Resolve(new RestoreRequest { RecoveryPoint = point }, "us-east-1"));

        Assert.Equal("RootSnapshotMissing", e.ErrorId);
    }

    [Fact]
    public void Resolve_refuses_a_point_of_another_region_and_says_how_to_copy_it()
    {
        RecoveryPoint point = Point("/dev/sda1", ("/dev/sda1", "snap-00000001", 50, true));

        CcieException e = Assert.Throws<CcieException>(() => RestorePlanner.Resolve(new RestoreRequest { RecoveryPoint = point }, "us-west-2"));

        Assert.Equal("RecoveryPointInOtherRegion", e.ErrorId);
        Assert.Contains("Copy-CcieSnapshot -DestinationRegion us-west-2", e.Message, StringComparison.Ordinal);
    }

    private static RecoveryPoint Point(string? rootDevice, params (string Device, string Snapshot, int Size, bool Root)[] devices) => new()
    {
        RecoveryPointId = "rp-20261128T140000Z-1a2b3c4d",
        Region = "us-east-1",
        State = "completed",
        IsComplete = true,
        Snapshots = devices.Select(d => new RecoveryPointSnapshot { SnapshotId = d.Snapshot, DeviceName = d.Device, SizeGiB = d.Size, IsRootDevice = d.Root, VolumeType = "gp3", State = "completed" }).ToList(),
        Identity = new RecoveryIdentity
        {
            SourceInstanceId = "i-00000000000000001",
            Name = "circleci_services",
            PrivateIpAddress = "10.0.1.10",
            SubnetId = "subnet-00000000000000001",
            VpcId = "vpc-00000000000000001",
            SecurityGroupIds = ["sg-0000000000000000a"],
            InstanceType = "m6g.2xlarge",
            KeyName = "circleci",
            RootDeviceName = rootDevice,
            Architecture = "arm64",
            EnaSupport = false,
            VirtualizationType = "hvm",
            VolumeCount = devices.Length,
        },
    };
}

public sealed class RestorePollScheduleTests
{
    [Theory]
    [InlineData(0, 100)]
    [InlineData(500, 100)]
    [InlineData(2000, 200)]
    [InlineData(30000, 3000)]
    [InlineData(600000, 5000)]
    public void Polls_after_a_tenth_of_the_time_waited_between_100_ms_and_5_s(int elapsedMs, int expectedDelayMs)
        => Assert.Equal(TimeSpan.FromMilliseconds(expectedDelayMs), new WaitOptions().DelayAfter(TimeSpan.FromMilliseconds(elapsedMs)));
}
