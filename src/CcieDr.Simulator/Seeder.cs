using System.Text;

namespace CcieDr.Simulator;

/// <summary>Ids of the seeded CircleCI topology.</summary>
public sealed class SeedResult
{
    public required string Region { get; init; }

    public required string VpcId { get; init; }

    public required string SubnetAId { get; init; }

    public required string SubnetBId { get; init; }

    public required string AvailabilityZoneA { get; init; }

    public required string AvailabilityZoneB { get; init; }

    public required string DefaultSecurityGroupId { get; init; }

    public required string ServicesSecurityGroupId { get; init; }

    public required string BuildersSecurityGroupId { get; init; }

    public required string KeyName { get; init; }

    public required string KeyPairId { get; init; }

    public required string ServicesImageId { get; init; }

    public required string BuilderImageId { get; init; }

    public required IReadOnlyList<string> ImageSnapshotIds { get; init; }

    public required string ServicesInstanceId { get; init; }

    public required string ServicesPrivateIp { get; init; }

    public required string ServicesNetworkInterfaceId { get; init; }

    public required string ServicesRootVolumeId { get; init; }

    public required string ServicesDataVolumeId { get; init; }

    public required string DataVolumeKmsKeyId { get; init; }

    public required string ServicesIamInstanceProfileArn { get; init; }

    public required IReadOnlyList<string> BuilderInstanceIds { get; init; }

    public required string BuilderAutoScalingGroupName { get; init; }

    public required string LaunchTemplateId { get; init; }

    public required string LaunchTemplateName { get; init; }

    public required string BuilderUserData { get; init; }
}

/// <summary>Builds the CircleCI Enterprise topology directly in a region's state (steady state: running, ok, available).</summary>
internal static class Seeder
{
    public const string ServicesIp = "10.0.1.10";
    public const string Passphrase = "sim-passphrase-not-a-secret";

    public static string BuilderUserDataText(string servicesIp) =>
        "#!/bin/bash\n" +
        "# CircleCI Enterprise builder bootstrap\n" +
        $"SERVICES_PRIVATE_IP={servicesIp}\n" +
        $"CIRCLE_SECRET_PASSPHRASE={Passphrase}\n" +
        "export SERVICES_PRIVATE_IP CIRCLE_SECRET_PASSPHRASE\n" +
        "curl -sSL https://s3.amazonaws.com/circleci-enterprise/init-builder-0.2.sh | bash\n";

    public static SeedResult Seed(World w, string regionName)
    {
        var r = w.Region(regionName);
        if (r.Instances.Values.Any(i => i.Tag("Name") == "circleci_services" && i.State != InstanceStates.Terminated))
        {
            throw new InvalidOperationException($"region {regionName} is already seeded (reset first)");
        }

        var hidden = w.NewIdInvisibleCalls;
        w.NewIdInvisibleCalls = 0;
        try
        {
            return SeedCore(w, r);
        }
        finally
        {
            w.NewIdInvisibleCalls = hidden;
        }
    }

    private static SeedResult SeedCore(World w, RegionState r)
    {
        var now = w.Now;
        var past = now.AddDays(-7);
        var vpc = new Vpc { Id = w.NewId("vpc"), CidrBlock = "10.0.0.0/16" };
        vpc.Tags["Name"] = "circleci-vpc";
        r.Vpcs[vpc.Id] = vpc;
        var defaultSg = Group(w, r, vpc, "default", "default VPC security group");
        var servicesSg = Group(w, r, vpc, "circleci-services", "CircleCI Services box: 80, 443, 4434, 8800, 22");
        var buildersSg = Group(w, r, vpc, "circleci-builders", "CircleCI builders: 22, 64535-65535");

        var azA = r.Zones[0].Name;
        var azB = r.Zones[1].Name;
        var subnetA = new Subnet { Id = w.NewId("subnet"), VpcId = vpc.Id, AvailabilityZone = azA, Cidr = Cidr.Parse("10.0.1.0/24") };
        subnetA.Tags["Name"] = "circleci-a";
        var subnetB = new Subnet { Id = w.NewId("subnet"), VpcId = vpc.Id, AvailabilityZone = azB, Cidr = Cidr.Parse("10.0.2.0/24") };
        subnetB.Tags["Name"] = "circleci-b";
        r.Subnets[subnetA.Id] = subnetA;
        r.Subnets[subnetB.Id] = subnetB;

        var key = new KeyPair
        {
            Id = w.NewId("key"),
            Name = "circleci",
            Fingerprint = "1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca:9f:f5:f1:6f",
            CreateTime = past,
        };
        r.KeyPairs[key.Id] = key;

        // AMIs: the Services box and the builders, each from a completed root snapshot.
        var servicesRootSnap = Snap(w, r, 50, false, null, "Created by CreateImage for circleci-services-2.19.0", past);
        var servicesAmi = new Image
        {
            Id = w.NewId("ami"),
            Name = "circleci-services-2.19.0",
            Description = "CircleCI Enterprise Services box",
            OwnerId = w.AccountId,
            State = "available",
            CreationDate = past,
            Architecture = "x86_64",
            EnaSupport = true,
            VirtualizationType = "hvm",
            RootDeviceName = "/dev/sda1",
            BlockDevices = { new ImageBlockDevice { DeviceName = "/dev/sda1", SnapshotId = servicesRootSnap.Id, VolumeSize = 50, VolumeType = "gp3", DeleteOnTermination = true } },
        };
        r.Images[servicesAmi.Id] = servicesAmi;
        var builderRootSnap = Snap(w, r, 100, false, null, "Created by CreateImage for circleci-builder-2.19.0", past);
        var builderAmi = new Image
        {
            Id = w.NewId("ami"),
            Name = "circleci-builder-2.19.0",
            Description = "CircleCI Enterprise builder",
            OwnerId = w.AccountId,
            State = "available",
            CreationDate = past,
            Architecture = "x86_64",
            EnaSupport = true,
            VirtualizationType = "hvm",
            RootDeviceName = "/dev/sda1",
            BlockDevices = { new ImageBlockDevice { DeviceName = "/dev/sda1", SnapshotId = builderRootSnap.Id, VolumeSize = 100, VolumeType = "gp3", DeleteOnTermination = true } },
        };
        r.Images[builderAmi.Id] = builderAmi;

        var kmsKey = Kms.KmsService.AddKey(w, r, World.DeterministicGuid("circleci-data-" + r.Name), "CUSTOMER", "CircleCI Services box data volume", "alias/circleci-data").Arn;
        var profileArn = $"arn:aws:iam::{w.AccountId}:instance-profile/circleci-services";

        var services = Launch(w, r, subnetA, servicesAmi, "m5.2xlarge", ServicesIp, [servicesSg.Id], key.Name, profileArn, null, past, new() { ["Name"] = "circleci_services" });
        var rootVolume = AddVolume(w, r, services, "/dev/sda1", 50, "gp3", false, null, servicesRootSnap.Id, true, past);
        var dataVolume = AddVolume(w, r, services, "/dev/xvdf", 500, "gp3", true, kmsKey, null, false, past);
        rootVolume.Tags["Name"] = "circleci_services-root";
        dataVolume.Tags["Name"] = "circleci_services-data";

        var userData = Convert.ToBase64String(Encoding.UTF8.GetBytes(BuilderUserDataText(ServicesIp)));
        var builderProfile = $"arn:aws:iam::{w.AccountId}:instance-profile/circleci-builders";
        var builders = new List<Instance>();
        foreach (var subnet in new[] { subnetA, subnetB })
        {
            var b = Launch(w, r, subnet, builderAmi, "m5.xlarge", null, [buildersSg.Id], key.Name, builderProfile, userData, past.AddHours(1), new()
            {
                ["Name"] = "circleci_builders",
                ["aws:autoscaling:groupName"] = "circleci-builders",
            });
            var v = AddVolume(w, r, b, "/dev/sda1", 100, "gp3", false, null, builderRootSnap.Id, true, past.AddHours(1));
            v.Tags["aws:autoscaling:groupName"] = "circleci-builders";
            builders.Add(b);
        }

        var lt = new LaunchTemplate { Id = w.NewId("lt"), Name = "circleci-builders", CreateTime = past, DefaultVersion = 1 };
        lt.Versions.Add(new LaunchTemplateVersion
        {
            Number = 1,
            Description = "CircleCI builders",
            CreateTime = past,
            Data = new LaunchTemplateData
            {
                ImageId = builderAmi.Id,
                InstanceType = "m5.xlarge",
                KeyName = key.Name,
                UserData = userData,
                SecurityGroupIds = [buildersSg.Id],
                IamInstanceProfileArn = builderProfile,
            },
        });
        r.LaunchTemplates[lt.Id] = lt;
        r.AutoScalingGroups["circleci-builders"] = new AutoScalingGroup
        {
            Name = "circleci-builders",
            CreatedTime = past,
            LaunchTemplateId = lt.Id,
            LaunchTemplateVersion = "$Default",
            MinSize = 0,
            MaxSize = 10,
            DesiredCapacity = builders.Count,
            SubnetIds = [subnetA.Id, subnetB.Id],
            PropagatedTags = { ["Name"] = "circleci_builders" },
            Suspended = true,
        };

        return new SeedResult
        {
            Region = r.Name,
            VpcId = vpc.Id,
            SubnetAId = subnetA.Id,
            SubnetBId = subnetB.Id,
            AvailabilityZoneA = azA,
            AvailabilityZoneB = azB,
            DefaultSecurityGroupId = defaultSg.Id,
            ServicesSecurityGroupId = servicesSg.Id,
            BuildersSecurityGroupId = buildersSg.Id,
            KeyName = key.Name,
            KeyPairId = key.Id,
            ServicesImageId = servicesAmi.Id,
            BuilderImageId = builderAmi.Id,
            ImageSnapshotIds = [servicesRootSnap.Id, builderRootSnap.Id],
            ServicesInstanceId = services.Id,
            ServicesPrivateIp = ServicesIp,
            ServicesNetworkInterfaceId = services.NetworkInterfaceId,
            ServicesRootVolumeId = rootVolume.Id,
            ServicesDataVolumeId = dataVolume.Id,
            DataVolumeKmsKeyId = kmsKey,
            ServicesIamInstanceProfileArn = profileArn,
            BuilderInstanceIds = builders.Select(b => b.Id).ToList(),
            BuilderAutoScalingGroupName = "circleci-builders",
            LaunchTemplateId = lt.Id,
            LaunchTemplateName = lt.Name,
            BuilderUserData = userData,
        };
    }

    private static SecurityGroup Group(World w, RegionState r, Vpc vpc, string name, string description)
    {
        var g = new SecurityGroup { Id = w.NewId("sg"), Name = name, Description = description, VpcId = vpc.Id };
        if (name != "default")
        {
            g.Tags["Name"] = name;
        }

        r.SecurityGroups[g.Id] = g;
        return g;
    }

    private static Snapshot Snap(World w, RegionState r, int size, bool encrypted, string? kms, string description, DateTime at)
    {
        var s = new Snapshot
        {
            Id = w.NewId("snap"),
            VolumeId = "vol-ffffffff",
            VolumeSize = size,
            Encrypted = encrypted,
            KmsKeyId = kms,
            StartTime = at,
            State = "completed",
            OwnerId = w.AccountId,
            Description = description,
        };
        r.Snapshots[s.Id] = s;
        return s;
    }

    private static Instance Launch(World w, RegionState r, Subnet subnet, Image image, string type, string? ip, List<string> groups, string key, string profileArn, string? userData, DateTime at, Dictionary<string, string> tags)
    {
        var id = w.NewId("i");
        ip ??= Ec2.Ec2Service.NextFreeAddress(r, subnet);
        var eni = new NetworkInterface
        {
            Id = w.NewId("eni"),
            SubnetId = subnet.Id,
            VpcId = subnet.VpcId,
            AvailabilityZone = subnet.AvailabilityZone,
            MacAddress = w.NewMac(),
            GroupIds = new List<string>(groups),
            InstanceId = id,
            AttachmentId = w.NewId("eni-attach", false),
            AttachTime = at,
            Description = "",
        };
        eni.PrivateIps.Add(new PrivateIp { Address = ip, Primary = true });
        r.NetworkInterfaces[eni.Id] = eni;
        var inst = new Instance
        {
            Id = id,
            ReservationId = w.NewId("r", false),
            ImageId = image.Id,
            InstanceType = type,
            SubnetId = subnet.Id,
            VpcId = subnet.VpcId,
            AvailabilityZone = subnet.AvailabilityZone,
            NetworkInterfaceId = eni.Id,
            PrivateIpAddress = ip,
            GroupIds = new List<string>(groups),
            KeyName = key,
            IamProfileArn = profileArn,
            IamProfileId = "AIPA" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(profileArn)))[..17],
            UserData = userData,
            RootDeviceName = image.RootDeviceName,
            Architecture = image.Architecture,
            EnaSupport = image.EnaSupport,
            VirtualizationType = image.VirtualizationType,
            LaunchTime = at,
            State = InstanceStates.Running,
            RunningSince = at,
        };
        foreach (var (k, v) in tags)
        {
            inst.Tags[k] = v;
        }

        r.Instances[inst.Id] = inst;
        return inst;
    }

    private static Volume AddVolume(World w, RegionState r, Instance inst, string device, int size, string type, bool encrypted, string? kms, string? snapshotId, bool deleteOnTermination, DateTime at)
    {
        var v = new Volume
        {
            Id = w.NewId("vol"),
            Size = size,
            VolumeType = type,
            Iops = type == "gp3" ? 3000 : Math.Clamp(size * 3, 100, 16000),
            Throughput = type == "gp3" ? 125 : null,
            Encrypted = encrypted,
            KmsKeyId = kms,
            AvailabilityZone = inst.AvailabilityZone,
            SnapshotId = snapshotId,
            CreateTime = at,
            State = "in-use",
            Attachment = new VolumeAttachment { InstanceId = inst.Id, Device = device, State = "attached", AttachTime = at, DeleteOnTermination = deleteOnTermination },
        };
        r.Volumes[v.Id] = v;
        inst.BlockDevices.Add(new InstanceBlockDevice { DeviceName = device, VolumeId = v.Id, AttachTime = at, DeleteOnTermination = deleteOnTermination });
        return v;
    }
}
