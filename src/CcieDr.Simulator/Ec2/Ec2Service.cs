using System.Text;
using System.Xml.Linq;
using static CcieDr.Simulator.Ec2.Xml;

namespace CcieDr.Simulator.Ec2;

/// <summary>One EC2 call being served.</summary>
internal sealed class Ctx
{
    public required World World { get; init; }

    public required RegionState Region { get; init; }

    public required QueryParams P { get; init; }

    public required string Action { get; init; }

    public DateTime Now => World.Now;

    public string AccountId => World.AccountId;

    /// <summary>Ids hidden by eventual consistency that this call ran into (each counts once per call).</summary>
    public HashSet<string> TouchedInvisible { get; } = new(StringComparer.Ordinal);
}

/// <summary>The EC2 actions: each reads or changes the world's state.</summary>
internal sealed partial class Ec2Service
{
    private readonly Dictionary<string, Func<Ctx, IEnumerable<object?>>> actions;

    public Ec2Service()
    {
        actions = new(StringComparer.Ordinal)
        {
            ["DescribeRegions"] = DescribeRegions,
            ["DescribeAvailabilityZones"] = DescribeAvailabilityZones,
            ["DescribeVpcs"] = DescribeVpcs,
            ["DescribeSubnets"] = DescribeSubnets,
            ["CreateSubnet"] = CreateSubnet,
            ["DeleteSubnet"] = DeleteSubnet,
            ["DescribeSecurityGroups"] = DescribeSecurityGroups,
            ["CreateSecurityGroup"] = CreateSecurityGroup,
            ["DeleteSecurityGroup"] = DeleteSecurityGroup,
            ["AuthorizeSecurityGroupIngress"] = AuthorizeSecurityGroupIngress,
            ["AuthorizeSecurityGroupEgress"] = AuthorizeSecurityGroupEgress,
            ["RevokeSecurityGroupIngress"] = RevokeSecurityGroupIngress,
            ["RevokeSecurityGroupEgress"] = RevokeSecurityGroupEgress,
            ["DescribeKeyPairs"] = DescribeKeyPairs,
            ["DescribeNetworkInterfaces"] = DescribeNetworkInterfaces,
            ["AssignPrivateIpAddresses"] = AssignPrivateIpAddresses,
            ["UnassignPrivateIpAddresses"] = UnassignPrivateIpAddresses,
            ["CreateNetworkInterface"] = CreateNetworkInterface,
            ["DeleteNetworkInterface"] = DeleteNetworkInterface,
            ["AttachNetworkInterface"] = AttachNetworkInterface,
            ["DetachNetworkInterface"] = DetachNetworkInterface,
            ["RunInstances"] = RunInstances,
            ["DescribeInstances"] = DescribeInstances,
            ["DescribeInstanceStatus"] = DescribeInstanceStatus,
            ["DescribeInstanceAttribute"] = DescribeInstanceAttribute,
            ["ModifyInstanceAttribute"] = ModifyInstanceAttribute,
            ["StopInstances"] = StopInstances,
            ["StartInstances"] = StartInstances,
            ["RebootInstances"] = RebootInstances,
            ["TerminateInstances"] = TerminateInstances,
            ["DescribeVolumes"] = DescribeVolumes,
            ["CreateVolume"] = CreateVolume,
            ["AttachVolume"] = AttachVolume,
            ["DetachVolume"] = DetachVolume,
            ["DeleteVolume"] = DeleteVolume,
            ["CreateSnapshot"] = CreateSnapshot,
            ["CreateSnapshots"] = CreateSnapshots,
            ["DescribeSnapshots"] = DescribeSnapshots,
            ["DeleteSnapshot"] = DeleteSnapshot,
            ["CopySnapshot"] = CopySnapshot,
            ["RegisterImage"] = RegisterImage,
            ["CreateImage"] = CreateImage,
            ["DescribeImages"] = DescribeImages,
            ["DeregisterImage"] = DeregisterImage,
            ["CreateTags"] = CreateTags,
            ["DeleteTags"] = DeleteTags,
            ["DescribeTags"] = DescribeTags,
            ["DescribeLaunchTemplates"] = DescribeLaunchTemplates,
            ["DescribeLaunchTemplateVersions"] = DescribeLaunchTemplateVersions,
            ["CreateLaunchTemplate"] = CreateLaunchTemplate,
            ["CreateLaunchTemplateVersion"] = CreateLaunchTemplateVersion,
            ["ModifyLaunchTemplate"] = ModifyLaunchTemplate,
        };
    }

    public IReadOnlyCollection<string> Actions => actions.Keys;

    public bool Knows(string action) => actions.ContainsKey(action);

    /// <summary>Runs the action (caller holds the world lock) and returns the response document.</summary>
    public XDocument Execute(Ctx ctx, string requestId)
    {
        if (!actions.TryGetValue(ctx.Action, out var handler))
        {
            throw new Ec2Error("InvalidAction", $"The action {ctx.Action} is not valid for this web service.");
        }

        if (ctx.P.Bool("DryRun") == true)
        {
            // The caller is always authorized here; AWS answers 412 DryRunOperation without doing anything.
            throw new Ec2Error("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", System.Net.HttpStatusCode.PreconditionFailed);
        }

        try
        {
            var content = handler(ctx).ToList();
            return new XDocument(new XDeclaration("1.0", "UTF-8", null), E(ctx.Action + "Response", V("requestId", requestId), content));
        }
        finally
        {
            foreach (var id in ctx.TouchedInvisible)
            {
                if (ctx.World.Invisible.TryGetValue(id, out var left))
                {
                    if (left <= 1)
                    {
                        ctx.World.Invisible.Remove(id);
                    }
                    else
                    {
                        ctx.World.Invisible[id] = left - 1;
                    }
                }
            }
        }
    }

    public static XDocument ErrorDocument(string code, string message, string requestId) =>
        new(new XDeclaration("1.0", "UTF-8", null),
            new XElement("Response",
                new XElement("Errors", new XElement("Error", new XElement("Code", code), new XElement("Message", message))),
                new XElement("RequestID", requestId)));

    // ---------- shared helpers ----------

    /// <summary>True if the id is hidden (eventual consistency) for this call; records the hit.</summary>
    private static bool Hidden(Ctx ctx, string id)
    {
        if (ctx.World.Invisible.ContainsKey(id))
        {
            ctx.TouchedInvisible.Add(id);
            return true;
        }

        return false;
    }

    /// <summary>Looks up an id the caller named: malformed → .Malformed, missing or not yet visible → .NotFound.</summary>
    private static T Find<T>(Ctx ctx, Dictionary<string, T> table, string id, string prefix, string thing, string notFoundMessage)
        where T : Resource
    {
        CheckFormat(id, prefix, thing);
        if (!table.TryGetValue(id, out var r) || Hidden(ctx, id))
        {
            throw new Ec2Error($"Invalid{thing}.NotFound", notFoundMessage);
        }

        return r;
    }

    private static void CheckFormat(string id, string prefix, string thing)
    {
        var p = prefix + "-";
        if (!id.StartsWith(p, StringComparison.Ordinal) || id.Length < p.Length + 8 || !id[p.Length..].All(char.IsAsciiHexDigitLower))
        {
            throw new Ec2Error($"Invalid{thing}.Malformed", $"Invalid id: \"{id}\" (expecting \"{prefix}-...\")");
        }
    }

    private static Instance FindInstance(Ctx ctx, string id) =>
        Find(ctx, ctx.Region.Instances, id, "i", "InstanceID", $"The instance ID '{id}' does not exist");

    private static Volume FindVolume(Ctx ctx, string id) =>
        Find(ctx, ctx.Region.Volumes, id, "vol", "Volume", $"The volume '{id}' does not exist.");

    private static Snapshot FindSnapshot(Ctx ctx, string id) =>
        Find(ctx, ctx.Region.Snapshots, id, "snap", "Snapshot", $"The snapshot '{id}' does not exist.");

    private static Image FindImage(Ctx ctx, string id) =>
        Find(ctx, ctx.Region.Images, id, "ami", "AMIID", $"The image id '[{id}]' does not exist");

    private static Subnet FindSubnet(Ctx ctx, string id) =>
        Find(ctx, ctx.Region.Subnets, id, "subnet", "SubnetID", $"The subnet ID '{id}' does not exist");

    private static NetworkInterface FindEni(Ctx ctx, string id) =>
        Find(ctx, ctx.Region.NetworkInterfaces, id, "eni", "NetworkInterfaceID", $"The networkInterface ID '{id}' does not exist");

    private static SecurityGroup FindGroup(Ctx ctx, string id)
    {
        if (!id.StartsWith("sg-", StringComparison.Ordinal))
        {
            throw new Ec2Error("InvalidGroupId.Malformed", $"Invalid id: \"{id}\" (expecting \"sg-...\")");
        }

        return ctx.Region.SecurityGroups.TryGetValue(id, out var g) && !Hidden(ctx, id)
            ? g
            : throw new Ec2Error("InvalidGroup.NotFound", $"The security group '{id}' does not exist");
    }

    /// <summary>Ids explicitly named, each checked and returned (NotFound if any is missing).</summary>
    private static List<T> Named<T>(Ctx ctx, List<string> ids, Func<string, T> find) => ids.Distinct(StringComparer.Ordinal).Select(find).ToList();

    /// <summary>Applies Filter.N; each filter name resolves to candidate values via <paramref name="fields"/>.</summary>
    private static IEnumerable<T> ApplyFilters<T>(Ctx ctx, IEnumerable<T> items, Func<T, string, IEnumerable<string?>?> fields)
        where T : Resource
    {
        var filters = ctx.P.Filters();
        var list = items.ToList();
        foreach (var f in filters)
        {
            var snapshot = list;
            list = new List<T>();
            foreach (var item in snapshot)
            {
                var values = TagField(item, f.Name) ?? fields(item, f.Name)
                    ?? throw Ec2Error.InvalidValue($"The filter '{f.Name}' is invalid");
                if (f.Matches(values))
                {
                    list.Add(item);
                }
            }

        }

        return list;
    }

    private static IEnumerable<string?>? TagField(Resource r, string filter)
    {
        if (filter.StartsWith("tag:", StringComparison.Ordinal))
        {
            var key = filter[4..];
            return r.Tags.TryGetValue(key, out var v) ? [v] : [];
        }

        return filter switch
        {
            "tag-key" => r.Tags.Keys,
            "tag-value" => r.Tags.Values,
            _ => null,
        };
    }

    /// <summary>Visible items (eventual consistency hides new ids from lists too).</summary>
    private static IEnumerable<T> Visible<T>(Ctx ctx, IEnumerable<T> items)
        where T : Resource => items.Where(i => !Hidden(ctx, i.Id));

    /// <summary>One page: sorted by key, token = last key of the page.</summary>
    private static (List<T> Page, string? NextToken) Paginate<T>(Ctx ctx, IEnumerable<T> items, Func<T, string> key, int min, int max, bool pageable = true)
    {
        var sorted = items.OrderBy(key, StringComparer.Ordinal).ToList();
        var maxResults = ctx.P.Int("MaxResults");
        var token = ctx.P.Get("NextToken");
        if (maxResults is { } m && m < min)
        {
            throw Ec2Error.InvalidValue($"Value ( {m} ) for parameter maxResults is invalid. Expecting a value greater than {min - 1}.");
        }

        // Like EC2, a MaxResults above the action's maximum is capped, not refused (the AWS CLI sends 1000).
        if (maxResults is { } big && big > max)
        {
            maxResults = max;
        }

        if (!pageable)
        {
            return (sorted, null);
        }

        if (!string.IsNullOrEmpty(token))
        {
            var after = DecodeToken(token, ctx.Action);
            sorted = sorted.Where(i => string.CompareOrdinal(key(i), after) > 0).ToList();
        }

        var size = maxResults ?? ctx.World.PageSize;
        if (size is not { } s || sorted.Count <= s)
        {
            return (sorted, null);
        }

        var page = sorted.Take(s).ToList();
        return (page, EncodeToken(key(page[^1]), ctx.Action));
    }

    private static string EncodeToken(string lastKey, string action) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"sim1|{action}|{lastKey}"));

    private static string DecodeToken(string token, string action)
    {
        try
        {
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(token)).Split('|', 3);
            if (parts.Length == 3 && parts[0] == "sim1" && parts[1] == action)
            {
                return parts[2];
            }
        }
        catch (FormatException)
        {
        }

        throw new Ec2Error("InvalidPaginationToken", $"The pagination token '{token}' is not valid or is expired.");
    }

    /// <summary>Tags from TagSpecification.N for <paramref name="resourceType"/>.</summary>
    private static Dictionary<string, string> TagsFor(Ctx ctx, string resourceType, params string[] allowedTypes)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var spec in ctx.P.Members("TagSpecification"))
        {
            var type = spec.Get("ResourceType");
            if (type is null)
            {
                throw Ec2Error.Missing("TagSpecification.N.ResourceType");
            }

            if (allowedTypes.Length > 0 && !allowedTypes.Contains(type))
            {
                throw Ec2Error.InvalidValue($"'{type}' is not a valid taggable resource type for this operation.");
            }

            if (type != resourceType)
            {
                continue;
            }

            foreach (var (k, v) in spec.Tags())
            {
                ValidateTag(k, v);
                result[k] = v ?? "";
            }
        }

        return result;
    }

    private static void ValidateTag(string key, string? value)
    {
        if (key.Length is 0 or > 128)
        {
            throw Ec2Error.InvalidValue($"Tag key exceeds the maximum length of 128 characters or is empty: '{key}'");
        }

        if (key.StartsWith("aws:", StringComparison.OrdinalIgnoreCase) && key != "aws:autoscaling:groupName")
        {
            throw Ec2Error.InvalidValue($"Tag keys starting with 'aws:' are reserved for internal use: '{key}'");
        }

        if (value is { Length: > 256 })
        {
            throw Ec2Error.InvalidValue($"Tag value exceeds the maximum length of 256 characters for key '{key}'");
        }
    }

    private static XElement StateElement(string name, string state) =>
        E(name, V("code", InstanceStates.Code(state)), V("name", state));

    private static XElement ReturnTrue() => V("return", true)!;
}
