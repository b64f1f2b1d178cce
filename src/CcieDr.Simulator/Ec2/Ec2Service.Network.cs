using System.Xml.Linq;
using static CcieDr.Simulator.Ec2.Xml;

namespace CcieDr.Simulator.Ec2;

internal sealed partial class Ec2Service
{
    private IEnumerable<object?> DescribeRegions(Ctx ctx)
    {
        var names = ctx.P.List("RegionName");
        var regions = ctx.World.Regions.Values.AsEnumerable();
        if (names.Count > 0)
        {
            foreach (var n in names.Where(n => !ctx.World.Regions.ContainsKey(n)))
            {
                throw Ec2Error.InvalidValue($"Invalid region names: {n}");
            }

            regions = regions.Where(r => names.Contains(r.Name));
        }

        foreach (var f in ctx.P.Filters())
        {
            regions = f.Name switch
            {
                "region-name" => regions.Where(r => f.Matches([r.Name])),
                "endpoint" => regions.Where(r => f.Matches([$"ec2.{r.Name}.amazonaws.com"])),
                "opt-in-status" => regions.Where(r => f.Matches(["opt-in-not-required"])),
                _ => throw Ec2Error.InvalidValue($"The filter '{f.Name}' is invalid"),
            };
        }

        yield return Set("regionInfo", regions.Select(r => Item(
            V("regionName", r.Name),
            V("regionEndpoint", $"ec2.{r.Name}.amazonaws.com"),
            V("optInStatus", "opt-in-not-required"))));
    }

    private IEnumerable<object?> DescribeAvailabilityZones(Ctx ctx)
    {
        var names = ctx.P.List("ZoneName");
        var ids = ctx.P.List("ZoneId");
        var zones = ctx.Region.Zones.AsEnumerable();
        foreach (var n in names.Where(n => ctx.Region.FindZone(n) is null))
        {
            throw Ec2Error.InvalidValue($"The zone '{n}' does not exist.");
        }

        if (names.Count > 0 || ids.Count > 0)
        {
            zones = zones.Where(z => names.Contains(z.Name) || ids.Contains(z.ZoneId));
        }

        foreach (var f in ctx.P.Filters())
        {
            zones = f.Name switch
            {
                "zone-name" => zones.Where(z => f.Matches([z.Name])),
                "zone-id" => zones.Where(z => f.Matches([z.ZoneId])),
                "state" => zones.Where(z => f.Matches([ZoneState(z)])),
                "region-name" => zones.Where(z => f.Matches([ctx.Region.Name])),
                "zone-type" => zones.Where(z => f.Matches(["availability-zone"])),
                _ => throw Ec2Error.InvalidValue($"The filter '{f.Name}' is invalid"),
            };
        }

        yield return Set("availabilityZoneInfo", zones.Select(z => Item(
            V("zoneName", z.Name),
            V("zoneState", ZoneState(z)),
            V("regionName", ctx.Region.Name),
            V("zoneId", z.ZoneId),
            V("zoneType", "availability-zone"),
            V("groupName", ctx.Region.Name),
            V("networkBorderGroup", ctx.Region.Name),
            V("optInStatus", "opt-in-not-required"),
            Set("messageSet", z.Failed
                ? [Item(V("message", $"Increased API error rates and connectivity issues in {z.Name}"))]
                : []))));
    }

    private static string ZoneState(Zone z) => z.Failed ? "impaired" : "available";

    private IEnumerable<object?> DescribeVpcs(Ctx ctx)
    {
        var items = ctx.P.List("VpcId") is { Count: > 0 } ids
            ? Named(ctx, ids, id => Find(ctx, ctx.Region.Vpcs, id, "vpc", "VpcID", $"The vpc ID '{id}' does not exist"))
            : Visible(ctx, ctx.Region.Vpcs.Values);
        var filtered = ApplyFilters(ctx, items, (v, f) => f switch
        {
            "vpc-id" => [v.Id],
            "cidr" or "cidr-block-association.cidr-block" => [v.CidrBlock],
            "state" => ["available"],
            "is-default" => [v.IsDefault ? "true" : "false"],
            "owner-id" => [ctx.AccountId],
            _ => null,
        });
        var (page, next) = Paginate(ctx, filtered, v => v.Id, 5, 1000);
        yield return Set("vpcSet", page.Select(v => Item(
            V("vpcId", v.Id),
            V("ownerId", ctx.AccountId),
            V("state", "available"),
            V("cidrBlock", v.CidrBlock),
            V("dhcpOptionsId", "dopt-0" + v.Id[5..]),
            V("instanceTenancy", "default"),
            V("isDefault", v.IsDefault),
            TagSet(v.Tags))));
        yield return V("nextToken", next);
    }

    private static Vpc FindVpc(Ctx ctx, string id) =>
        Find(ctx, ctx.Region.Vpcs, id, "vpc", "VpcID", $"The vpc ID '{id}' does not exist");

    private IEnumerable<object?> CreateSubnet(Ctx ctx)
    {
        var vpc = FindVpc(ctx, ctx.P.Required("VpcId"));
        var text = ctx.P.Required("CidrBlock");
        if (!Cidr.TryParse(text, out var cidr) || cidr!.Text != text)
        {
            throw Ec2Error.InvalidValue($"Value ({text}) for parameter cidrBlock is invalid. This is not a valid CIDR block.");
        }

        var vpcCidr = Cidr.Parse(vpc.CidrBlock);
        if (cidr.Prefix < vpcCidr.Prefix || !vpcCidr.Contains(cidr.Network) || cidr.Prefix is < 16 or > 28)
        {
            throw new Ec2Error("InvalidSubnet.Range", $"The CIDR '{text}' is invalid.");
        }

        var clash = ctx.Region.Subnets.Values.FirstOrDefault(s => s.VpcId == vpc.Id && (s.Cidr.Contains(cidr.Network) || cidr.Contains(s.Cidr.Network)));
        if (clash is not null)
        {
            throw new Ec2Error("InvalidSubnet.Conflict", $"The CIDR '{text}' conflicts with another subnet");
        }

        var az = ctx.P.Get("AvailabilityZone")
            ?? (ctx.P.Get("AvailabilityZoneId") is { } zid ? ctx.Region.Zones.FirstOrDefault(z => z.ZoneId == zid)?.Name : null)
            ?? ctx.Region.Zones[0].Name;
        if (ctx.Region.FindZone(az) is null)
        {
            throw Ec2Error.InvalidValue($"Value ({az}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: {string.Join(", ", ctx.Region.Zones.Select(z => z.Name))}.");
        }

        var subnet = new Subnet { Id = ctx.World.NewId("subnet"), VpcId = vpc.Id, AvailabilityZone = az, Cidr = cidr };
        foreach (var (k, v) in TagsFor(ctx, "subnet", "subnet"))
        {
            subnet.Tags[k] = v;
        }

        ctx.Region.Subnets[subnet.Id] = subnet;
        yield return E("subnet",
            V("subnetId", subnet.Id),
            V("state", "available"),
            V("vpcId", vpc.Id),
            V("cidrBlock", cidr.Text),
            V("availableIpAddressCount", cidr.Usable),
            V("availabilityZone", az),
            V("availabilityZoneId", ctx.Region.FindZone(az)!.ZoneId),
            V("ownerId", ctx.AccountId),
            V("defaultForAz", false),
            V("mapPublicIpOnLaunch", false),
            TagSet(subnet.Tags));
    }

    private IEnumerable<object?> DeleteSubnet(Ctx ctx)
    {
        var subnet = FindSubnet(ctx, ctx.P.Required("SubnetId"));
        if (ctx.Region.NetworkInterfaces.Values.Any(n => n.SubnetId == subnet.Id))
        {
            throw new Ec2Error("DependencyViolation", $"The subnet '{subnet.Id}' has dependencies and cannot be deleted.");
        }

        ctx.Region.Subnets.Remove(subnet.Id);
        yield return ReturnTrue();
    }

    private IEnumerable<object?> CreateSecurityGroup(Ctx ctx)
    {
        var name = ctx.P.Required("GroupName");
        var description = ctx.P.Required("GroupDescription");
        var vpcId = ctx.P.Get("VpcId") ?? throw new Ec2Error("VPCIdNotSpecified", "No default VPC for this user");
        var vpc = FindVpc(ctx, vpcId);
        if (name.StartsWith("sg-", StringComparison.OrdinalIgnoreCase) || name.Equals("default", StringComparison.OrdinalIgnoreCase))
        {
            throw Ec2Error.InvalidValue($"Value ({name}) for parameter GroupName is invalid. Group names may not be in the format sg-* or be 'default'.");
        }

        if (ctx.Region.SecurityGroups.Values.Any(g => g.VpcId == vpc.Id && g.Name == name))
        {
            throw new Ec2Error("InvalidGroup.Duplicate", $"The security group '{name}' already exists for VPC '{vpc.Id}'");
        }

        var group = new SecurityGroup { Id = ctx.World.NewId("sg"), Name = name, Description = description, VpcId = vpc.Id };
        foreach (var (k, v) in TagsFor(ctx, "security-group", "security-group"))
        {
            group.Tags[k] = v;
        }

        ctx.Region.SecurityGroups[group.Id] = group;
        yield return V("groupId", group.Id);
        yield return V("securityGroupArn", $"arn:aws:ec2:{ctx.Region.Name}:{ctx.AccountId}:security-group/{group.Id}");
        yield return TagSet(group.Tags);
        yield return ReturnTrue();
    }

    private IEnumerable<object?> DeleteSecurityGroup(Ctx ctx)
    {
        var group = ctx.P.Get("GroupId") is { } id
            ? FindGroup(ctx, id)
            : ctx.Region.SecurityGroups.Values.FirstOrDefault(g => g.Name == ctx.P.Required("GroupName"))
                ?? throw new Ec2Error("InvalidGroup.NotFound", $"The security group '{ctx.P.Get("GroupName")}' does not exist");
        if (group.Name == "default")
        {
            throw new Ec2Error("CannotDelete", $"the specified group: \"{group.Id}\" name: \"default\" cannot be deleted by a user");
        }

        if (ctx.Region.NetworkInterfaces.Values.Any(n => n.GroupIds.Contains(group.Id)))
        {
            throw new Ec2Error("DependencyViolation", $"resource {group.Id} has a dependent object");
        }

        ctx.Region.SecurityGroups.Remove(group.Id);
        yield return V("groupId", group.Id);
        yield return ReturnTrue();
    }

    private int UsedIps(RegionState r, Subnet s) =>
        r.NetworkInterfaces.Values.Where(n => n.SubnetId == s.Id).Sum(n => n.PrivateIps.Count);

    private IEnumerable<object?> DescribeSubnets(Ctx ctx)
    {
        var items = ctx.P.List("SubnetId") is { Count: > 0 } ids
            ? Named(ctx, ids, id => FindSubnet(ctx, id))
            : Visible(ctx, ctx.Region.Subnets.Values);
        var filtered = ApplyFilters(ctx, items, (s, f) => f switch
        {
            "subnet-id" => [s.Id],
            "vpc-id" => [s.VpcId],
            "availability-zone" or "availabilityZone" => [s.AvailabilityZone],
            "availability-zone-id" => [ctx.Region.FindZone(s.AvailabilityZone)?.ZoneId],
            "cidr-block" or "cidr" or "cidrBlock" => [s.Cidr.Text],
            "state" => ["available"],
            "owner-id" => [ctx.AccountId],
            "default-for-az" or "defaultForAz" => ["false"],
            _ => null,
        });
        var (page, next) = Paginate(ctx, filtered, s => s.Id, 5, 1000);
        yield return Set("subnetSet", page.Select(s => Item(
            V("subnetId", s.Id),
            V("subnetArn", $"arn:aws:ec2:{ctx.Region.Name}:{ctx.AccountId}:subnet/{s.Id}"),
            V("state", "available"),
            V("ownerId", ctx.AccountId),
            V("vpcId", s.VpcId),
            V("cidrBlock", s.Cidr.Text),
            V("availableIpAddressCount", s.Cidr.Usable - UsedIps(ctx.Region, s)),
            V("availabilityZone", s.AvailabilityZone),
            V("availabilityZoneId", ctx.Region.FindZone(s.AvailabilityZone)?.ZoneId),
            V("defaultForAz", false),
            V("mapPublicIpOnLaunch", false),
            V("assignIpv6AddressOnCreation", false),
            TagSet(s.Tags))));
        yield return V("nextToken", next);
    }

    private IEnumerable<object?> DescribeSecurityGroups(Ctx ctx)
    {
        var ids = ctx.P.List("GroupId");
        var names = ctx.P.List("GroupName");
        IEnumerable<SecurityGroup> items;
        if (ids.Count > 0 || names.Count > 0)
        {
            var found = Named(ctx, ids, id => FindGroup(ctx, id));
            foreach (var n in names)
            {
                found.Add(ctx.Region.SecurityGroups.Values.FirstOrDefault(g => g.Name == n)
                    ?? throw new Ec2Error("InvalidGroup.NotFound", $"The security group '{n}' does not exist in default VPC"));
            }

            items = found.Distinct();
        }
        else
        {
            items = Visible(ctx, ctx.Region.SecurityGroups.Values);
        }

        var filtered = ApplyFilters(ctx, items, (g, f) => f switch
        {
            "group-id" => [g.Id],
            "group-name" => [g.Name],
            "vpc-id" => [g.VpcId],
            "description" => [g.Description],
            "owner-id" => [ctx.AccountId],
            _ => null,
        });
        var (page, next) = Paginate(ctx, filtered, g => g.Id, 5, 1000, ids.Count == 0 && names.Count == 0);
        yield return Set("securityGroupInfo", page.Select(g => Item(
            V("ownerId", ctx.AccountId),
            V("groupId", g.Id),
            V("groupName", g.Name),
            V("groupDescription", g.Description),
            V("vpcId", g.VpcId),
            V("securityGroupArn", $"arn:aws:ec2:{ctx.Region.Name}:{ctx.AccountId}:security-group/{g.Id}"),
            Set("ipPermissions", RuleItems(g.Ingress)),
            Set("ipPermissionsEgress", RuleItems(g.Egress)),
            TagSet(g.Tags))));
        yield return V("nextToken", next);
    }

    private IEnumerable<object?> DescribeKeyPairs(Ctx ctx)
    {
        var names = ctx.P.List("KeyName");
        var ids = ctx.P.List("KeyPairId");
        var items = ctx.Region.KeyPairs.Values.AsEnumerable();
        foreach (var n in names.Where(n => !ctx.Region.KeyPairs.Values.Any(k => k.Name == n)))
        {
            throw new Ec2Error("InvalidKeyPair.NotFound", $"The key pair '{n}' does not exist");
        }

        foreach (var id in ids.Where(id => !ctx.Region.KeyPairs.ContainsKey(id)))
        {
            throw new Ec2Error("InvalidKeyPair.NotFound", $"The key pair '{id}' does not exist");
        }

        if (names.Count > 0 || ids.Count > 0)
        {
            items = items.Where(k => names.Contains(k.Name) || ids.Contains(k.Id));
        }

        var filtered = ApplyFilters(ctx, items, (k, f) => f switch
        {
            "key-name" => [k.Name],
            "key-pair-id" => [k.Id],
            "fingerprint" => [k.Fingerprint],
            "key-type" => ["rsa"],
            _ => null,
        });
        yield return Set("keySet", filtered.OrderBy(k => k.Name, StringComparer.Ordinal).Select(k => Item(
            V("keyPairId", k.Id),
            V("keyName", k.Name),
            V("keyFingerprint", k.Fingerprint),
            V("keyType", "rsa"),
            TagSet(k.Tags),
            V("createTime", k.CreateTime))));
    }

    private static IEnumerable<string?>? EniField(Ctx ctx, NetworkInterface n, string f) => f switch
    {
        "network-interface-id" => [n.Id],
        "subnet-id" => [n.SubnetId],
        "vpc-id" => [n.VpcId],
        "availability-zone" => [n.AvailabilityZone],
        "attachment.instance-id" => [n.InstanceId],
        "attachment.attachment-id" => [n.AttachmentId],
        "attachment.status" => [n.InstanceId is null ? null : "attached"],
        "addresses.private-ip-address" or "private-ip-address" => n.PrivateIps.Select(p => p.Address),
        "addresses.primary" => n.PrivateIps.Select(p => p.Primary ? "true" : "false"),
        "status" => [n.Status],
        "description" => [n.Description],
        "group-id" => n.GroupIds,
        "group-name" => n.GroupIds.Select(g => ctx.Region.SecurityGroups.GetValueOrDefault(g)?.Name),
        "mac-address" => [n.MacAddress],
        "owner-id" => [ctx.AccountId],
        "interface-type" => ["interface"],
        _ => null,
    };

    private IEnumerable<object?> DescribeNetworkInterfaces(Ctx ctx)
    {
        var ids = ctx.P.List("NetworkInterfaceId");
        var items = ids.Count > 0 ? Named(ctx, ids, id => FindEni(ctx, id)) : Visible(ctx, ctx.Region.NetworkInterfaces.Values);
        var filtered = ApplyFilters(ctx, items, (n, f) => EniField(ctx, n, f));
        var (page, next) = Paginate(ctx, filtered, n => n.Id, 5, 1000, ids.Count == 0);
        yield return Set("networkInterfaceSet", page.Select(n => Item(EniContent(ctx, n))));
        yield return V("nextToken", next);
    }

    private static IEnumerable<object?> EniContent(Ctx ctx, NetworkInterface n)
    {
        yield return V("networkInterfaceId", n.Id);
        yield return V("subnetId", n.SubnetId);
        yield return V("vpcId", n.VpcId);
        yield return V("availabilityZone", n.AvailabilityZone);
        yield return V("description", n.Description);
        yield return V("ownerId", ctx.AccountId);
        yield return V("requesterManaged", false);
        yield return V("status", n.Status);
        yield return V("macAddress", n.MacAddress);
        yield return V("privateIpAddress", n.PrimaryIp);
        yield return V("privateDnsName", PrivateDns(ctx.Region, n.PrimaryIp));
        yield return V("sourceDestCheck", true);
        yield return V("interfaceType", "interface");
        yield return GroupSet(ctx, n.GroupIds);
        yield return n.InstanceId is null ? null : E("attachment",
            V("attachmentId", n.AttachmentId),
            V("instanceId", n.InstanceId),
            V("instanceOwnerId", ctx.AccountId),
            V("deviceIndex", n.DeviceIndex),
            V("networkCardIndex", 0),
            V("status", "attached"),
            V("attachTime", n.AttachTime),
            V("deleteOnTermination", n.DeleteOnTermination));
        yield return TagSet(n.Tags);
        yield return PrivateIpSet(ctx, n);
    }

    private IEnumerable<object?> CreateNetworkInterface(Ctx ctx)
    {
        var subnet = FindSubnet(ctx, ctx.P.Required("SubnetId"));
        var requested = new List<(string Ip, bool Primary)>();
        if (ctx.P.Get("PrivateIpAddress") is { } primaryIp)
        {
            requested.Add((primaryIp, true));
        }

        foreach (var m in ctx.P.Members("PrivateIpAddresses"))
        {
            var ip = m.Required("PrivateIpAddress");
            if (requested.All(r => r.Ip != ip))
            {
                requested.Add((ip, (m.Bool("Primary") ?? false) && requested.All(r => !r.Primary)));
            }
        }

        foreach (var (ip, _) in requested)
        {
            CheckAddress(subnet, ip);
            if (Holder(ctx.Region, subnet.Id, ip) is not null)
            {
                throw new Ec2Error("InvalidIPAddress.InUse", $"Address {ip} is in use.");
            }
        }

        var groups = ctx.P.List("SecurityGroupId");
        foreach (var g in groups.Select(id => FindGroup(ctx, id)).Where(g => g.VpcId != subnet.VpcId))
        {
            throw new Ec2Error("InvalidParameter", $"Security group {g.Id} and subnet {subnet.Id} belong to different networks.");
        }

        if (groups.Count == 0)
        {
            groups.Add(ctx.Region.SecurityGroups.Values.First(g => g.VpcId == subnet.VpcId && g.Name == "default").Id);
        }

        var eni = new NetworkInterface
        {
            Id = ctx.World.NewId("eni"),
            SubnetId = subnet.Id,
            VpcId = subnet.VpcId,
            AvailabilityZone = subnet.AvailabilityZone,
            MacAddress = ctx.World.NewMac(),
            GroupIds = groups,
            Description = ctx.P.Get("Description") ?? "",
            DeleteOnTermination = false,
        };
        if (requested.Count == 0 || requested.All(r => !r.Primary))
        {
            var first = requested.Count > 0 ? requested[0].Ip : NextFreeAddress(ctx.Region, subnet);
            requested.RemoveAll(r => r.Ip == first);
            requested.Insert(0, (first, true));
        }

        foreach (var (ip, primary) in requested.OrderByDescending(r => r.Primary))
        {
            eni.PrivateIps.Add(new PrivateIp { Address = ip, Primary = primary });
        }

        ctx.Region.NetworkInterfaces[eni.Id] = eni;
        for (var n = 0; n < (ctx.P.Int("SecondaryPrivateIpAddressCount") ?? 0); n++)
        {
            eni.PrivateIps.Add(new PrivateIp { Address = NextFreeAddress(ctx.Region, subnet), Primary = false });
        }

        foreach (var (k, v) in TagsFor(ctx, "network-interface", "network-interface"))
        {
            eni.Tags[k] = v;
        }

        yield return E("networkInterface", EniContent(ctx, eni));
    }

    private IEnumerable<object?> DeleteNetworkInterface(Ctx ctx)
    {
        var eni = FindEni(ctx, ctx.P.Required("NetworkInterfaceId"));
        if (eni.InstanceId is not null)
        {
            throw new Ec2Error("InvalidNetworkInterface.InUse", $"The network interface '{eni.Id}' is currently in use.");
        }

        ctx.Region.NetworkInterfaces.Remove(eni.Id);
        yield return ReturnTrue();
    }

    private IEnumerable<object?> AttachNetworkInterface(Ctx ctx)
    {
        var eni = FindEni(ctx, ctx.P.Required("NetworkInterfaceId"));
        var inst = FindInstance(ctx, ctx.P.Required("InstanceId"));
        var index = ctx.P.Int("DeviceIndex") ?? throw Ec2Error.Missing("DeviceIndex");
        if (eni.InstanceId is not null)
        {
            throw new Ec2Error("InvalidNetworkInterface.InUse", $"Interface: [{eni.Id}] in use.");
        }

        if (inst.State is not (InstanceStates.Running or InstanceStates.Stopped))
        {
            throw new Ec2Error("IncorrectInstanceState", $"The instance '{inst.Id}' is not in a state from which an interface can be attached.");
        }

        if (eni.AvailabilityZone != inst.AvailabilityZone)
        {
            throw Ec2Error.Combination($"You may not attach a network interface to an instance if they are not in the same availability zone");
        }

        if (eni.VpcId != inst.VpcId)
        {
            throw Ec2Error.Combination("The network interface and the instance must be in the same VPC");
        }

        if (index < 1 || ctx.Region.NetworkInterfaces.Values.Any(n => n.InstanceId == inst.Id && n.DeviceIndex == index))
        {
            throw Ec2Error.InvalidValue($"Instance '{inst.Id}' already has an interface attached at device index '{index}'.");
        }

        eni.InstanceId = inst.Id;
        eni.DeviceIndex = index;
        eni.AttachmentId = ctx.World.NewId("eni-attach", false);
        eni.AttachTime = ctx.Now;
        yield return V("attachmentId", eni.AttachmentId);
        yield return V("networkCardIndex", 0);
    }

    private IEnumerable<object?> DetachNetworkInterface(Ctx ctx)
    {
        var attachment = ctx.P.Required("AttachmentId");
        var eni = ctx.Region.NetworkInterfaces.Values.FirstOrDefault(n => n.AttachmentId == attachment)
            ?? throw new Ec2Error("InvalidAttachmentID.NotFound", $"Interface attachment '{attachment}' was not found");
        if (eni.DeviceIndex == 0)
        {
            throw new Ec2Error("OperationNotPermitted", $"The network interface at device index 0 cannot be detached.");
        }

        eni.InstanceId = null;
        eni.AttachmentId = null;
        eni.AttachTime = null;
        eni.DeviceIndex = 0;
        yield return ReturnTrue();
    }

    private static XElement GroupSet(Ctx ctx, IEnumerable<string> groupIds, string name = "groupSet") =>
        Set(name, groupIds.Select(g => Item(V("groupId", g), V("groupName", ctx.Region.SecurityGroups.GetValueOrDefault(g)?.Name))));

    private static XElement PrivateIpSet(Ctx ctx, NetworkInterface n) =>
        Set("privateIpAddressesSet", n.PrivateIps.Select(p => Item(
            V("privateIpAddress", p.Address),
            V("privateDnsName", PrivateDns(ctx.Region, p.Address)),
            V("primary", p.Primary))));

    internal static string PrivateDns(RegionState r, string ip) =>
        r.Name == "us-east-1" ? $"ip-{ip.Replace('.', '-')}.ec2.internal" : $"ip-{ip.Replace('.', '-')}.{r.Name}.compute.internal";

    /// <summary>Which interface holds the address in the subnet (null if free).</summary>
    internal static NetworkInterface? Holder(RegionState r, string subnetId, string ip) =>
        r.NetworkInterfaces.Values.FirstOrDefault(n => n.SubnetId == subnetId && n.PrivateIps.Any(p => p.Address == ip));

    /// <summary>Validates a requested address for a subnet: well-formed, inside the CIDR, not reserved.</summary>
    internal static uint CheckAddress(Subnet s, string ip)
    {
        if (!Cidr.TryIp(ip, out var value))
        {
            throw Ec2Error.InvalidValue($"Invalid value '{ip}' for PrivateIpAddress");
        }

        if (!s.Cidr.Contains(value))
        {
            throw Ec2Error.InvalidValue($"Address {ip} does not fall within the subnet's address range");
        }

        if (!s.Cidr.IsAssignable(value))
        {
            throw Ec2Error.InvalidValue($"Address {ip} is reserved by AWS in subnet {s.Id}");
        }

        return value;
    }

    /// <summary>The lowest free assignable address of the subnet.</summary>
    internal static string NextFreeAddress(RegionState r, Subnet s)
    {
        var used = r.NetworkInterfaces.Values.Where(n => n.SubnetId == s.Id).SelectMany(n => n.PrivateIps).Select(p => p.Address).ToHashSet();
        foreach (var ip in s.Cidr.Assignable())
        {
            var text = Cidr.ToIp(ip);
            if (!used.Contains(text))
            {
                return text;
            }
        }

        throw new Ec2Error("InsufficientFreeAddressesInSubnet", $"There are not enough free addresses in subnet '{s.Id}' to satisfy the requested number of instances.");
    }

    private IEnumerable<object?> AssignPrivateIpAddresses(Ctx ctx)
    {
        var eni = FindEni(ctx, ctx.P.Required("NetworkInterfaceId"));
        var subnet = ctx.Region.Subnets[eni.SubnetId];
        var requested = ctx.P.List("PrivateIpAddress");
        var count = ctx.P.Int("SecondaryPrivateIpAddressCount");
        var allow = ctx.P.Bool("AllowReassignment") ?? false;
        if (requested.Count > 0 && count is not null)
        {
            throw Ec2Error.Combination("The parameters 'privateIpAddress' and 'secondaryPrivateIpAddressCount' cannot be specified together.");
        }

        if (requested.Count == 0 && count is null)
        {
            throw Ec2Error.Missing("PrivateIpAddress or SecondaryPrivateIpAddressCount");
        }

        if (eni.PrivateIps.Count + requested.Count + (count ?? 0) > 30)
        {
            throw new Ec2Error("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit.");
        }

        // Validate everything before changing anything.
        var moves = new List<(string Ip, NetworkInterface? From)>();
        foreach (var ip in requested.Distinct())
        {
            CheckAddress(subnet, ip);
            var holder = Holder(ctx.Region, subnet.Id, ip);
            if (holder == eni)
            {
                continue;
            }

            if (holder is not null)
            {
                if (!allow)
                {
                    throw Ec2Error.InvalidValue($"Address {ip} is in use by network interface {holder.Id}; use AllowReassignment to move it.");
                }

                if (holder.PrivateIps.Any(p => p.Address == ip && p.Primary))
                {
                    throw Ec2Error.InvalidValue($"Address {ip} is the primary private IP address of network interface {holder.Id} and cannot be reassigned.");
                }
            }

            moves.Add((ip, holder));
        }

        var assigned = new List<string>();
        foreach (var (ip, from) in moves)
        {
            from?.PrivateIps.RemoveAll(p => p.Address == ip);
            eni.PrivateIps.Add(new PrivateIp { Address = ip, Primary = false });
            assigned.Add(ip);
        }

        for (var i = 0; i < (count ?? 0); i++)
        {
            var ip = NextFreeAddress(ctx.Region, subnet);
            eni.PrivateIps.Add(new PrivateIp { Address = ip, Primary = false });
            assigned.Add(ip);
        }

        yield return V("networkInterfaceId", eni.Id);
        yield return Set("assignedPrivateIpAddressesSet", assigned.Select(ip => Item(V("privateIpAddress", ip))));
        yield return ReturnTrue();
    }

    private IEnumerable<object?> UnassignPrivateIpAddresses(Ctx ctx)
    {
        var eni = FindEni(ctx, ctx.P.Required("NetworkInterfaceId"));
        var ips = ctx.P.List("PrivateIpAddress");
        if (ips.Count == 0)
        {
            throw Ec2Error.Missing("PrivateIpAddress");
        }

        foreach (var ip in ips)
        {
            var held = eni.PrivateIps.FirstOrDefault(p => p.Address == ip)
                ?? throw new Ec2Error("InvalidParameterValue", $"Some of the specified addresses are not assigned to interface {eni.Id}");
            if (held.Primary)
            {
                throw new Ec2Error("InvalidParameterValue", $"The primary private IP address {ip} of interface {eni.Id} cannot be unassigned");
            }
        }

        eni.PrivateIps.RemoveAll(p => ips.Contains(p.Address));
        yield return ReturnTrue();
    }
}
