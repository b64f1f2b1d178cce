using System.Xml.Linq;
using static CcieDr.Simulator.Ec2.Xml;

namespace CcieDr.Simulator.Ec2;

internal sealed partial class Ec2Service
{
    private static readonly HashSet<string> VolumeTypes = ["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"];

    /// <summary>
    /// What one RunInstances call launches, resolved and validated before anything is created: either every
    /// check passes and the instances appear, or the call fails and nothing changed (as EC2 does).
    /// </summary>
    private sealed record LaunchPlan(
        string? Token,
        Image Image,
        string InstanceType,
        Subnet Subnet,
        QueryParams? Nic,
        NetworkInterface? ExistingEni,
        string? PrivateIp,
        int Count,
        List<string> GroupIds,
        string? KeyName,
        string? ProfileArn,
        string? ProfileId,
        string? UserData,
        List<DevicePlan> Devices,
        Dictionary<string, string> InstanceTags,
        Dictionary<string, string> VolumeTags,
        Dictionary<string, string> EniTags);

    private IEnumerable<object?> RunInstances(Ctx ctx)
    {
        var p = ctx.P;
        var r = ctx.Region;
        var token = p.Get("ClientToken");
        var fingerprint = p.Fingerprint("ClientToken", "Action", "Version");
        if (token is { Length: > 0 } && r.RunTokens.TryGetValue(token, out var prior))
        {
            if (prior.Fingerprint != fingerprint)
            {
                throw new Ec2Error("IdempotentParameterMismatch", $"Arguments on this idempotent request are inconsistent with arguments used in previous request(s) with client token '{token}'.");
            }

            var existing = r.Instances.Values.Where(i => i.ReservationId == prior.ReservationId).OrderBy(i => i.LaunchIndex).ToList();
            return ReservationContent(ctx, prior.ReservationId, existing);
        }

        LaunchPlan plan = PlanLaunch(ctx, token);
        var reservationId = ctx.World.NewId("r", false);
        var launched = new List<Instance>();
        for (var n = 0; n < plan.Count; n++)
        {
            launched.Add(LaunchOne(ctx, plan, reservationId, n));
        }

        if (token is { Length: > 0 })
        {
            r.RunTokens[token] = (fingerprint, reservationId);
        }

        return ReservationContent(ctx, reservationId, launched);
    }

    private LaunchPlan PlanLaunch(Ctx ctx, string? token)
    {
        var p = ctx.P;
        LaunchTemplateData? lt = LaunchTemplateDefaults(ctx);

        var imageId = p.Get("ImageId") ?? lt?.ImageId ?? throw Ec2Error.Missing("ImageId");
        var image = FindImage(ctx, imageId);
        if (image.State != "available")
        {
            throw new Ec2Error("InvalidAMIID.Unavailable", $"Image {image.Id} is not available (state {image.State})");
        }

        var instanceType = p.Get("InstanceType") ?? lt?.InstanceType ?? "m1.small";
        if (!System.Text.RegularExpressions.Regex.IsMatch(instanceType, "^[a-z][a-z0-9-]*\\.[a-z0-9]+$"))
        {
            throw Ec2Error.InvalidValue($"Invalid value '{instanceType}' for InstanceType.");
        }

        var min = p.Int("MinCount") ?? throw Ec2Error.Missing("MinCount");
        var max = p.Int("MaxCount") ?? throw Ec2Error.Missing("MaxCount");
        if (min < 1 || max < min)
        {
            throw Ec2Error.InvalidValue($"Invalid MinCount/MaxCount ({min}/{max}): MinCount must be at least 1 and no greater than MaxCount");
        }

        var nic = p.Members("NetworkInterface").FirstOrDefault();
        var (subnet, existingEni, privateIp, count) = PlanNetwork(ctx, nic, instanceType, min, max);
        var groupIds = PlanSecurityGroups(ctx, subnet, nic, existingEni, lt);

        var keyName = p.Get("KeyName") ?? lt?.KeyName;
        if (keyName is not null && !ctx.Region.KeyPairs.Values.Any(k => k.Name == keyName))
        {
            throw new Ec2Error("InvalidKeyPair.NotFound", $"The key pair '{keyName}' does not exist");
        }

        var (profileArn, profileId) = Profile(ctx, p.Get("IamInstanceProfile.Arn") ?? lt?.IamInstanceProfileArn, p.Get("IamInstanceProfile.Name") ?? lt?.IamInstanceProfileName);
        var userData = p.Get("UserData") ?? lt?.UserData;
        CheckUserData(userData);

        return new LaunchPlan(
            token,
            image,
            instanceType,
            subnet,
            nic,
            existingEni,
            privateIp,
            count,
            groupIds,
            keyName,
            profileArn,
            profileId,
            userData,
            PlanDevices(ctx, image, p.Members("BlockDeviceMapping")),
            TagsFor(ctx, "instance", "instance", "volume", "network-interface"),
            TagsFor(ctx, "volume"),
            TagsFor(ctx, "network-interface"));
    }

    private LaunchTemplateData? LaunchTemplateDefaults(Ctx ctx)
    {
        var ltp = ctx.P.Sub("LaunchTemplate");
        if (ltp.IsEmpty)
        {
            return null;
        }

        var template = FindTemplate(ctx, ltp.Get("LaunchTemplateId"), ltp.Get("LaunchTemplateName"));
        return ResolveVersion(template, ltp.Get("Version") ?? "$Default").Data;
    }

    /// <summary>Subnet, interface and address of the launch, and how many instances the subnet has room for.</summary>
    private (Subnet Subnet, NetworkInterface? ExistingEni, string? PrivateIp, int Count) PlanNetwork(Ctx ctx, QueryParams? nic, string instanceType, int min, int max)
    {
        var p = ctx.P;
        var r = ctx.Region;
        NetworkInterface? existingEni = null;
        if (nic?.Get("NetworkInterfaceId") is { } existingId)
        {
            existingEni = FindEni(ctx, existingId);
            if (existingEni.InstanceId is not null)
            {
                throw new Ec2Error("InvalidNetworkInterface.InUse", $"Interface: [{existingEni.Id}] in use.");
            }

            if (max > 1)
            {
                throw Ec2Error.Combination("Cannot launch more than one instance with an existing network interface.");
            }

            if (p.Get("SubnetId") is { } sid && sid != existingEni.SubnetId || p.Has("PrivateIpAddress"))
            {
                throw Ec2Error.Combination("Network interfaces and an instance-level subnet ID or private IP address may not be specified on the same request");
            }
        }

        var subnetId = existingEni?.SubnetId ?? p.Get("SubnetId") ?? nic?.Get("SubnetId")
            ?? throw new Ec2Error("VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.");
        var subnet = FindSubnet(ctx, subnetId);
        var az = p.Get("Placement.AvailabilityZone");
        if (az is not null && az != subnet.AvailabilityZone)
        {
            throw Ec2Error.InvalidValue($"Value ({az}) for parameter availabilityZone is invalid. Subnet '{subnet.Id}' is in Availability Zone {subnet.AvailabilityZone}.");
        }

        var zone = r.FindZone(subnet.AvailabilityZone)!;
        if (zone.Failed)
        {
            throw ZoneError(r, zone, instanceType);
        }

        var privateIp = p.Get("PrivateIpAddress") ?? nic?.Get("PrivateIpAddress");
        if (privateIp is not null)
        {
            if (max > 1)
            {
                throw Ec2Error.Combination("Cannot specify a private IP address when launching more than one instance (MaxCount > 1).");
            }

            CheckAddress(subnet, privateIp);
            if (Holder(r, subnet.Id, privateIp) is not null)
            {
                throw new Ec2Error("InvalidIPAddress.InUse", $"Address {privateIp} is in use.");
            }
        }

        var free = subnet.Cidr.Usable - UsedIps(r, subnet);
        if (free < min)
        {
            throw new Ec2Error("InsufficientFreeAddressesInSubnet", $"There are not enough free addresses in subnet '{subnet.Id}' to satisfy the requested number of instances.");
        }

        return (subnet, existingEni, privateIp, Math.Min(max, free));
    }

    /// <summary>The security groups: given by id or name, else the interface's, the template's, or the VPC default.</summary>
    private List<string> PlanSecurityGroups(Ctx ctx, Subnet subnet, QueryParams? nic, NetworkInterface? existingEni, LaunchTemplateData? lt)
    {
        var p = ctx.P;
        var r = ctx.Region;
        var groupIds = p.List("SecurityGroupId").Concat(nic?.List("SecurityGroupId") ?? []).ToList();
        foreach (var name in p.List("SecurityGroup"))
        {
            groupIds.Add(r.SecurityGroups.Values.FirstOrDefault(g => g.Name == name && g.VpcId == subnet.VpcId)?.Id
                ?? throw new Ec2Error("InvalidGroup.NotFound", $"The security group '{name}' does not exist in VPC '{subnet.VpcId}'"));
        }

        if (groupIds.Count == 0 && existingEni is not null)
        {
            groupIds.AddRange(existingEni.GroupIds);
        }

        if (groupIds.Count == 0 && lt is not null)
        {
            groupIds.AddRange(lt.SecurityGroupIds);
        }

        foreach (var g in groupIds.Select(id => FindGroup(ctx, id)))
        {
            if (g.VpcId != subnet.VpcId)
            {
                throw new Ec2Error("InvalidParameter", $"Security group {g.Id} and subnet {subnet.Id} belong to different networks.");
            }
        }

        if (groupIds.Count == 0)
        {
            groupIds.Add(r.SecurityGroups.Values.First(g => g.VpcId == subnet.VpcId && g.Name == "default").Id);
        }

        return groupIds.Distinct().ToList();
    }

    private static void CheckUserData(string? userData)
    {
        if (userData is null)
        {
            return;
        }

        try
        {
            _ = Convert.FromBase64String(userData);
        }
        catch (FormatException)
        {
            throw Ec2Error.InvalidValue("Invalid BASE64 encoding of user data.");
        }

        if (userData.Length > 21848)
        {
            throw Ec2Error.InvalidValue("User data is limited to 16384 bytes");
        }
    }

    /// <summary>Creates instance number <paramref name="n"/> of the reservation: its interface, the instance and its volumes.</summary>
    private Instance LaunchOne(Ctx ctx, LaunchPlan plan, string reservationId, int n)
    {
        var r = ctx.Region;
        var subnet = plan.Subnet;
        var instanceId = ctx.World.NewId("i");
        NetworkInterface eni;
        if (plan.ExistingEni is not null)
        {
            eni = plan.ExistingEni;
            eni.InstanceId = instanceId;
            eni.DeviceIndex = 0;
            eni.AttachmentId = ctx.World.NewId("eni-attach", false);
            eni.AttachTime = ctx.Now;
            eni.DeleteOnTermination = plan.Nic!.Bool("DeleteOnTermination") ?? false;
        }
        else
        {
            var newIp = n == 0 && plan.PrivateIp is not null ? plan.PrivateIp : NextFreeAddress(r, subnet);
            eni = new NetworkInterface
            {
                Id = ctx.World.NewId("eni"),
                SubnetId = subnet.Id,
                VpcId = subnet.VpcId,
                AvailabilityZone = subnet.AvailabilityZone,
                MacAddress = ctx.World.NewMac(),
                GroupIds = new List<string>(plan.GroupIds),
                InstanceId = instanceId,
                AttachmentId = ctx.World.NewId("eni-attach", false),
                AttachTime = ctx.Now,
                DeleteOnTermination = true,
            };
            eni.PrivateIps.Add(new PrivateIp { Address = newIp, Primary = true });
        }

        foreach (var (k, v) in plan.EniTags)
        {
            eni.Tags[k] = v;
        }

        r.NetworkInterfaces[eni.Id] = eni;

        var image = plan.Image;
        var inst = new Instance
        {
            Id = instanceId,
            ReservationId = reservationId,
            ImageId = image.Id,
            InstanceType = plan.InstanceType,
            SubnetId = subnet.Id,
            VpcId = subnet.VpcId,
            AvailabilityZone = subnet.AvailabilityZone,
            NetworkInterfaceId = eni.Id,
            PrivateIpAddress = eni.PrimaryIp,
            GroupIds = new List<string>(plan.GroupIds),
            KeyName = plan.KeyName,
            IamProfileArn = plan.ProfileArn,
            IamProfileId = plan.ProfileId,
            UserData = plan.UserData,
            RootDeviceName = image.RootDeviceName,
            Architecture = image.Architecture,
            EnaSupport = image.EnaSupport,
            VirtualizationType = image.VirtualizationType,
            ClientToken = plan.Token,
            LaunchIndex = n,
            LaunchTime = ctx.Now,
            State = InstanceStates.Pending,
            StateDueAt = ctx.Now.AddSeconds(ctx.World.Durations.InstancePending),
        };
        foreach (var (k, v) in plan.InstanceTags)
        {
            inst.Tags[k] = v;
        }

        foreach (var d in plan.Devices)
        {
            var vol = NewVolume(ctx, d.Size, d.Type, d.Iops, d.Throughput, d.Encrypted, d.KmsKeyId, subnet.AvailabilityZone, d.SnapshotId, "in-use");
            vol.Attachment = new VolumeAttachment { InstanceId = instanceId, Device = d.Device, State = "attached", AttachTime = ctx.Now, DeleteOnTermination = d.DeleteOnTermination };
            foreach (var (k, v) in plan.VolumeTags)
            {
                vol.Tags[k] = v;
            }

            inst.BlockDevices.Add(new InstanceBlockDevice { DeviceName = d.Device, VolumeId = vol.Id, AttachTime = ctx.Now, DeleteOnTermination = d.DeleteOnTermination });
        }

        r.Instances[inst.Id] = inst;
        return inst;
    }

    internal static Ec2Error ZoneError(RegionState r, Zone zone, string instanceType)
    {
        var others = string.Join(", ", r.Zones.Where(z => !z.Failed).Select(z => z.Name));
        return zone.FailureError switch
        {
            "Unsupported" => new Ec2Error("Unsupported", $"Your requested instance type ({instanceType}) is not supported in your requested Availability Zone ({zone.Name}). Please retry your request by not specifying an Availability Zone or choosing {others}."),
            _ => new Ec2Error("InsufficientInstanceCapacity", $"We currently do not have sufficient {instanceType} capacity in the Availability Zone you requested ({zone.Name}). Our system will be working on provisioning additional capacity. You can currently get {instanceType} capacity by not specifying an Availability Zone in your request or choosing {others}.", System.Net.HttpStatusCode.InternalServerError),
        };
    }

    internal static (string? Arn, string? Id) Profile(Ctx ctx, string? arn, string? name)
    {
        if (arn is null && name is null)
        {
            return (null, null);
        }

        if (arn is not null && !System.Text.RegularExpressions.Regex.IsMatch(arn, "^arn:aws:iam::\\d{12}:instance-profile/.+$"))
        {
            throw Ec2Error.InvalidValue($"Value ({arn}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN");
        }

        arn ??= $"arn:aws:iam::{ctx.AccountId}:instance-profile/{name}";
        var id = "AIPA" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(arn)))[..17];
        return (arn, id);
    }

    internal sealed record DevicePlan(string Device, int Size, string Type, int? Iops, int? Throughput, bool Encrypted, string? KmsKeyId, string? SnapshotId, bool DeleteOnTermination);

    /// <summary>The image's block devices, overridden/extended by BlockDeviceMapping.N.</summary>
    internal static List<DevicePlan> PlanDevices(Ctx ctx, Image image, List<QueryParams> overrides)
    {
        var plans = image.BlockDevices.ToDictionary(b => b.DeviceName, b =>
        {
            var snap = b.SnapshotId is null ? null : ctx.Region.Snapshots.GetValueOrDefault(b.SnapshotId);
            var enc = b.Encrypted || snap?.Encrypted == true;
            return new DevicePlan(b.DeviceName, b.VolumeSize, b.VolumeType, b.Iops, b.Throughput, enc, enc ? b.KmsKeyId ?? snap?.KmsKeyId ?? ctx.Region.DefaultKmsKeyArn : null, b.SnapshotId, b.DeleteOnTermination);
        });

        foreach (var o in overrides)
        {
            var device = o.Required("DeviceName");
            if (o.Has("NoDevice"))
            {
                plans.Remove(device);
                continue;
            }

            var ebs = o.Sub("Ebs");
            if (ebs.IsEmpty)
            {
                continue;
            }

            plans.TryGetValue(device, out var basePlan);
            var snapId = ebs.Get("SnapshotId") ?? basePlan?.SnapshotId;
            var snap = snapId is null ? null : FindSnapshot(ctx, snapId);
            var size = ebs.Int("VolumeSize") ?? basePlan?.Size ?? snap?.VolumeSize ?? throw new Ec2Error("InvalidBlockDeviceMapping", $"The device '{device}' needs a VolumeSize or a SnapshotId");
            if (snap is not null && size < snap.VolumeSize)
            {
                throw new Ec2Error("InvalidBlockDeviceMapping", $"Volume of size {size}GB is smaller than snapshot '{snap.Id}', expect size >= {snap.VolumeSize}GB");
            }

            var type = ebs.Get("VolumeType") ?? basePlan?.Type ?? "gp2";
            var enc = (ebs.Bool("Encrypted") ?? basePlan?.Encrypted ?? false) || snap?.Encrypted == true;
            var kms = ebs.Get("KmsKeyId") ?? basePlan?.KmsKeyId ?? snap?.KmsKeyId;
            if (ebs.Get("KmsKeyId") is not null && ebs.Bool("Encrypted") != true && snap?.Encrypted != true)
            {
                throw new Ec2Error("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.");
            }

            plans[device] = new DevicePlan(device, size, type, ebs.Int("Iops") ?? basePlan?.Iops, ebs.Int("Throughput") ?? basePlan?.Throughput, enc, enc ? kms ?? ctx.Region.DefaultKmsKeyArn : null, snapId, ebs.Bool("DeleteOnTermination") ?? basePlan?.DeleteOnTermination ?? true);
        }

        foreach (var plan in plans.Values)
        {
            CheckVolumeSpec(plan.Type, plan.Size, plan.Iops, plan.Throughput);
        }

        return plans.Values.OrderBy(d => d.Device == image.RootDeviceName ? 0 : 1).ThenBy(d => d.Device, StringComparer.Ordinal).ToList();
    }

    internal static void CheckVolumeSpec(string type, int size, int? iops, int? throughput)
    {
        if (!VolumeTypes.Contains(type))
        {
            throw Ec2Error.InvalidValue($"Value ({type}) for parameter volumeType is invalid. Valid types: {string.Join(", ", VolumeTypes)}");
        }

        if (size is < 1 or > 65536)
        {
            throw Ec2Error.InvalidValue($"Volume size {size} is out of range (1-65536 GiB)");
        }

        if (type is "io1" or "io2" && iops is null)
        {
            throw Ec2Error.Missing("iops (required for io1/io2 volumes)");
        }

        if (throughput is not null && type != "gp3")
        {
            throw Ec2Error.InvalidValue($"The parameter throughput is not supported for {type} volumes.");
        }
    }

    private static IEnumerable<object?> ReservationContent(Ctx ctx, string reservationId, List<Instance> instances)
    {
        yield return V("reservationId", reservationId);
        yield return V("ownerId", ctx.AccountId);
        yield return Set("groupSet", []);
        yield return Set("instancesSet", instances.Select(i => InstanceItem(ctx, i)));
    }

    private static XElement InstanceItem(Ctx ctx, Instance i)
    {
        var r = ctx.Region;
        var live = i.State != InstanceStates.Terminated;
        return Item(
            V("instanceId", i.Id),
            V("imageId", i.ImageId),
            StateElement("instanceState", i.State),
            V("privateDnsName", live ? PrivateDns(r, i.PrivateIpAddress) : ""),
            V("dnsName", ""),
            V("reason", i.StateTransitionReason ?? ""),
            V("keyName", i.KeyName),
            V("amiLaunchIndex", i.LaunchIndex),
            Set("productCodes", []),
            V("instanceType", i.InstanceType),
            V("launchTime", i.LaunchTime),
            E("placement", V("availabilityZone", i.AvailabilityZone), V("groupName", ""), V("tenancy", "default")),
            E("monitoring", V("state", "disabled")),
            V("subnetId", live ? i.SubnetId : null),
            V("vpcId", live ? i.VpcId : null),
            V("privateIpAddress", live ? i.PrivateIpAddress : null),
            V("sourceDestCheck", true),
            GroupSet(ctx, live ? i.GroupIds : []),
            i.StateReasonCode is null ? null : E("stateReason", V("code", i.StateReasonCode), V("message", i.StateReasonMessage)),
            V("architecture", i.Architecture),
            V("rootDeviceType", "ebs"),
            V("rootDeviceName", i.RootDeviceName),
            Set("blockDeviceMapping", i.BlockDevices.Select(b =>
            {
                var v = r.Volumes.GetValueOrDefault(b.VolumeId);
                return Item(
                    V("deviceName", b.DeviceName),
                    E("ebs",
                        V("volumeId", b.VolumeId),
                        V("status", v?.Attachment?.State ?? "detached"),
                        V("attachTime", b.AttachTime),
                        V("deleteOnTermination", b.DeleteOnTermination)));
            })),
            V("virtualizationType", i.VirtualizationType),
            V("clientToken", i.ClientToken ?? ""),
            TagSet(i.Tags),
            V("hypervisor", "xen"),
            Set("networkInterfaceSet", !live ? [] : r.NetworkInterfaces.Values.Where(n => n.InstanceId == i.Id).OrderBy(n => n.DeviceIndex).Select(n => Item(
                V("networkInterfaceId", n.Id),
                V("subnetId", n.SubnetId),
                V("vpcId", n.VpcId),
                V("description", n.Description),
                V("ownerId", ctx.AccountId),
                V("status", n.Status),
                V("macAddress", n.MacAddress),
                V("privateIpAddress", n.PrimaryIp),
                V("privateDnsName", PrivateDns(r, n.PrimaryIp)),
                V("sourceDestCheck", true),
                GroupSet(ctx, n.GroupIds),
                E("attachment",
                    V("attachmentId", n.AttachmentId),
                    V("deviceIndex", n.DeviceIndex),
                    V("status", "attached"),
                    V("attachTime", n.AttachTime),
                    V("deleteOnTermination", n.DeleteOnTermination),
                    V("networkCardIndex", 0)),
                PrivateIpSet(ctx, n),
                V("interfaceType", "interface")))),
            i.IamProfileArn is null ? null : E("iamInstanceProfile", V("arn", i.IamProfileArn), V("id", i.IamProfileId)),
            V("ebsOptimized", false),
            V("enaSupport", i.EnaSupport),
            E("cpuOptions", V("coreCount", 4), V("threadsPerCore", 2)),
            E("metadataOptions", V("state", "applied"), V("httpTokens", "required"), V("httpPutResponseHopLimit", 2), V("httpEndpoint", "enabled")),
            V("platformDetails", "Linux/UNIX"),
            V("usageOperation", "RunInstances"),
            V("bootMode", "uefi-preferred"),
            V("currentInstanceBootMode", "legacy-bios"));
    }

    private static IEnumerable<string?>? InstanceField(Ctx ctx, Instance i, string f)
    {
        var enis = ctx.Region.NetworkInterfaces.Values.Where(n => n.InstanceId == i.Id).ToList();
        return f switch
        {
            "instance-id" => [i.Id],
            "instance-state-name" => [i.State],
            "instance-state-code" => [InstanceStates.Code(i.State).ToString()],
            "instance-type" => [i.InstanceType],
            "image-id" => [i.ImageId],
            "subnet-id" or "network-interface.subnet-id" => [i.SubnetId],
            "vpc-id" or "network-interface.vpc-id" => [i.VpcId],
            "availability-zone" => [i.AvailabilityZone],
            "private-ip-address" => [i.State == InstanceStates.Terminated ? null : i.PrivateIpAddress],
            "network-interface.addresses.private-ip-address" or "network-interface.private-ip-address" => enis.SelectMany(n => n.PrivateIps).Select(p => p.Address),
            "network-interface.network-interface-id" => enis.Select(n => n.Id),
            "private-dns-name" => [PrivateDns(ctx.Region, i.PrivateIpAddress)],
            "key-name" => [i.KeyName],
            "iam-instance-profile.arn" => [i.IamProfileArn],
            "reservation-id" => [i.ReservationId],
            "instance.group-id" or "group-id" => i.GroupIds,
            "instance.group-name" or "group-name" => i.GroupIds.Select(g => ctx.Region.SecurityGroups.GetValueOrDefault(g)?.Name),
            "architecture" => [i.Architecture],
            "root-device-name" => [i.RootDeviceName],
            "root-device-type" => ["ebs"],
            "virtualization-type" => [i.VirtualizationType],
            "block-device-mapping.volume-id" => i.BlockDevices.Select(b => b.VolumeId),
            "block-device-mapping.device-name" => i.BlockDevices.Select(b => b.DeviceName),
            "client-token" => [i.ClientToken],
            "launch-time" => [Format(i.LaunchTime)],
            "owner-id" => [ctx.AccountId],
            "state-reason-code" => [i.StateReasonCode],
            _ => null,
        };
    }

    private IEnumerable<object?> DescribeInstances(Ctx ctx)
    {
        var ids = ctx.P.List("InstanceId");
        if (ids.Count > 0 && ctx.P.Has("MaxResults"))
        {
            throw Ec2Error.Combination("The parameter instancesSet cannot be used with the parameter maxResults");
        }

        var items = ids.Count > 0 ? Named(ctx, ids, id => FindInstance(ctx, id)) : Visible(ctx, ctx.Region.Instances.Values);
        var filtered = ApplyFilters(ctx, items, (i, f) => InstanceField(ctx, i, f));
        var (page, next) = Paginate(ctx, filtered, i => i.Id, 5, 1000, ids.Count == 0);
        var reservations = page.GroupBy(i => i.ReservationId).ToList();
        yield return Set("reservationSet", reservations.Select(g => Item(ReservationContent(ctx, g.Key, g.OrderBy(i => i.LaunchIndex).ToList()))));
        yield return V("nextToken", next);
    }

    /// <summary>(instanceStatus, systemStatus) of an instance now.</summary>
    internal static (string Instance, string System) Status(Ctx ctx, Instance i)
    {
        if (i.State != InstanceStates.Running)
        {
            return ("not-applicable", "not-applicable");
        }

        var zone = ctx.Region.FindZone(i.AvailabilityZone);
        if (zone?.Failed == true)
        {
            return ("impaired", "impaired");
        }

        if (i.Impaired)
        {
            return ("impaired", "impaired");
        }

        return i.RunningSince is { } since && since.AddSeconds(ctx.World.Durations.StatusInitializing) <= ctx.Now
            ? ("ok", "ok")
            : ("initializing", "initializing");
    }

    private static string Reachability(string status) => status switch
    {
        "ok" => "passed",
        "impaired" => "failed",
        "initializing" => "initializing",
        _ => "insufficient-data",
    };

    private IEnumerable<object?> DescribeInstanceStatus(Ctx ctx)
    {
        var ids = ctx.P.List("InstanceId");
        var all = ctx.P.Bool("IncludeAllInstances") ?? false;
        var items = ids.Count > 0 ? Named(ctx, ids, id => FindInstance(ctx, id)) : Visible(ctx, ctx.Region.Instances.Values);
        if (!all)
        {
            items = items.Where(i => i.State == InstanceStates.Running).ToList();
        }

        var filtered = ApplyFilters(ctx, items, (i, f) =>
        {
            var (inst, sys) = Status(ctx, i);
            return f switch
            {
                "availability-zone" => [i.AvailabilityZone],
                "instance-state-name" => [i.State],
                "instance-state-code" => [InstanceStates.Code(i.State).ToString()],
                "instance-status.status" => [inst],
                "system-status.status" => [sys],
                "instance-status.reachability" => [Reachability(inst)],
                "system-status.reachability" => [Reachability(sys)],
                _ => null,
            };
        });
        var (page, next) = Paginate(ctx, filtered, i => i.Id, 5, 1000, ids.Count == 0);
        yield return Set("instanceStatusSet", page.Select(i =>
        {
            var (inst, sys) = Status(ctx, i);
            var since = inst == "impaired" ? (DateTime?)(i.RunningSince ?? ctx.Now) : null;
            return Item(
                V("instanceId", i.Id),
                V("availabilityZone", i.AvailabilityZone),
                StateElement("instanceState", i.State),
                E("systemStatus", V("status", sys), Set("details", sys == "not-applicable" ? [] : [Item(V("name", "reachability"), V("status", Reachability(sys)), V("impairedSince", since))])),
                E("instanceStatus", V("status", inst), Set("details", inst == "not-applicable" ? [] : [Item(V("name", "reachability"), V("status", Reachability(inst)), V("impairedSince", since))])),
                E("attachedEbsStatus", V("status", inst == "not-applicable" ? "not-applicable" : inst == "impaired" ? "impaired" : inst)),
                Set("eventsSet", i.DiesAt is { } d ? [Item(V("code", "instance-stop"), V("description", "The instance is running on degraded hardware"), V("notBefore", d))] : []));
        }));
        yield return V("nextToken", next);
    }

    private IEnumerable<object?> DescribeInstanceAttribute(Ctx ctx)
    {
        var i = FindInstance(ctx, ctx.P.Required("InstanceId"));
        var attribute = ctx.P.Required("Attribute");
        yield return V("instanceId", i.Id);
        yield return attribute switch
        {
            "userData" => i.UserData is null ? E("userData") : E("userData", V("value", i.UserData)),
            "instanceType" => E("instanceType", V("value", i.InstanceType)),
            "rootDeviceName" => E("rootDeviceName", V("value", i.RootDeviceName)),
            "disableApiTermination" => E("disableApiTermination", V("value", false)),
            "disableApiStop" => E("disableApiStop", V("value", false)),
            "instanceInitiatedShutdownBehavior" => E("instanceInitiatedShutdownBehavior", V("value", "stop")),
            "ebsOptimized" => E("ebsOptimized", V("value", false)),
            "enaSupport" => E("enaSupport", V("value", i.EnaSupport)),
            "sourceDestCheck" => E("sourceDestCheck", V("value", true)),
            "groupSet" => GroupSet(ctx, i.GroupIds),
            "blockDeviceMapping" => Set("blockDeviceMapping", i.BlockDevices.Select(b => Item(
                V("deviceName", b.DeviceName),
                E("ebs", V("volumeId", b.VolumeId), V("status", "attached"), V("attachTime", b.AttachTime), V("deleteOnTermination", b.DeleteOnTermination))))),
            _ => throw Ec2Error.InvalidValue($"Value ({attribute}) for parameter attribute is invalid. Unknown attribute."),
        };
    }

    private IEnumerable<object?> ModifyInstanceAttribute(Ctx ctx)
    {
        var i = FindInstance(ctx, ctx.P.Required("InstanceId"));
        var userData = ctx.P.Get("UserData.Value");
        var type = ctx.P.Get("InstanceType.Value");
        if (userData is null && type is null)
        {
            throw Ec2Error.Missing("UserData or InstanceType");
        }

        if (i.State != InstanceStates.Stopped)
        {
            throw new Ec2Error("IncorrectInstanceState", $"The instance '{i.Id}' is not in the 'stopped' state.");
        }

        if (userData is not null)
        {
            i.UserData = userData.Length == 0 ? null : userData;
        }

        if (type is not null)
        {
            i.InstanceType = type;
        }

        yield return ReturnTrue();
    }

    private static XElement StateChange(Instance i, string previous) =>
        Item(V("instanceId", i.Id), StateElement("currentState", i.State), StateElement("previousState", previous));

    private IEnumerable<object?> StopInstances(Ctx ctx)
    {
        var instances = Named(ctx, RequireIds(ctx, "InstanceId"), id => FindInstance(ctx, id));
        foreach (var i in instances.Where(i => i.State is InstanceStates.Pending or InstanceStates.ShuttingDown or InstanceStates.Terminated))
        {
            throw new Ec2Error("IncorrectInstanceState", $"The instance '{i.Id}' is not in a state from which it can be stopped.");
        }

        var force = ctx.P.Bool("Force") ?? false;
        var changes = new List<XElement>();
        foreach (var i in instances)
        {
            var prev = i.State;
            if (i.State == InstanceStates.Running)
            {
                i.State = InstanceStates.Stopping;
                i.StateDueAt = ctx.Now.AddSeconds(ctx.World.Durations.InstanceStopping);
                i.StateReasonCode = "Client.UserInitiatedShutdown";
                i.StateReasonMessage = "Client.UserInitiatedShutdown: User initiated shutdown";
                i.StateTransitionReason = $"User initiated ({ctx.Now:yyyy-MM-dd HH:mm:ss} GMT)";
                i.DiesAt = null;
            }

            ApplyStopForce(ctx, i, force);
            changes.Add(StateChange(i, prev));
        }

        yield return Set("instancesSet", changes);
    }

    private IEnumerable<object?> StartInstances(Ctx ctx)
    {
        var instances = Named(ctx, RequireIds(ctx, "InstanceId"), id => FindInstance(ctx, id));
        foreach (var i in instances.Where(i => i.State is InstanceStates.Stopping or InstanceStates.ShuttingDown or InstanceStates.Terminated))
        {
            throw new Ec2Error("IncorrectInstanceState", $"The instance '{i.Id}' is not in a state from which it can be started.");
        }

        foreach (var i in instances.Where(i => i.State == InstanceStates.Stopped))
        {
            var zone = ctx.Region.FindZone(i.AvailabilityZone)!;
            if (zone.Failed)
            {
                throw ZoneError(ctx.Region, zone, i.InstanceType);
            }
        }

        var changes = new List<XElement>();
        foreach (var i in instances)
        {
            var prev = i.State;
            if (i.State == InstanceStates.Stopped)
            {
                i.State = InstanceStates.Pending;
                i.StateDueAt = ctx.Now.AddSeconds(ctx.World.Durations.InstancePending);
                i.StateReasonCode = null;
                i.StateReasonMessage = null;
                i.StateTransitionReason = null;
                i.Impaired = false;
                i.LaunchTime = ctx.Now;
            }

            changes.Add(StateChange(i, prev));
        }

        yield return Set("instancesSet", changes);
    }

    private IEnumerable<object?> RebootInstances(Ctx ctx)
    {
        var instances = Named(ctx, RequireIds(ctx, "InstanceId"), id => FindInstance(ctx, id));
        foreach (var i in instances.Where(i => i.State == InstanceStates.Running))
        {
            i.RunningSince = ctx.Now;
        }

        yield return ReturnTrue();
    }

    private IEnumerable<object?> TerminateInstances(Ctx ctx)
    {
        var instances = Named(ctx, RequireIds(ctx, "InstanceId"), id => FindInstance(ctx, id));
        var changes = new List<XElement>();
        foreach (var i in instances)
        {
            var prev = i.State;
            if (i.State is not (InstanceStates.Terminated or InstanceStates.ShuttingDown))
            {
                i.State = InstanceStates.ShuttingDown;
                i.StateDueAt = ctx.Now.AddSeconds(ctx.World.Durations.InstanceShuttingDown);
                i.StateReasonCode = "Client.UserInitiatedShutdown";
                i.StateReasonMessage = "Client.UserInitiatedShutdown: User initiated shutdown";
                i.StateTransitionReason = $"User initiated ({ctx.Now:yyyy-MM-dd HH:mm:ss} GMT)";
                i.DiesAt = null;
            }

            changes.Add(StateChange(i, prev));
        }

        yield return Set("instancesSet", changes);
    }

    private static List<string> RequireIds(Ctx ctx, string name)
    {
        var ids = ctx.P.List(name);
        return ids.Count > 0 ? ids : throw Ec2Error.Missing($"{name}.1");
    }
}
