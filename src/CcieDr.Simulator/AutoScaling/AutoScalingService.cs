using System.Globalization;
using System.Text;
using System.Xml.Linq;
using CcieDr.Simulator.Ec2;
using static CcieDr.Simulator.AutoScaling.AsgXml;

namespace CcieDr.Simulator.AutoScaling;

/// <summary>
/// The Auto Scaling Query API (version 2011-01-01, SigV4 service <c>autoscaling</c>) over the simulated groups:
/// groups and their members' lifecycle, capacity, launch configurations, launch-template versions, instance refresh,
/// scheduled actions, suspended processes and scaling activities. Errors carry the real codes and HTTP statuses.
/// </summary>
internal sealed class AutoScalingService
{
    private readonly Dictionary<string, Func<Ctx, IReadOnlyList<object?>?>> actions;

    public AutoScalingService()
    {
        actions = new(StringComparer.Ordinal)
        {
            ["DescribeAutoScalingGroups"] = DescribeAutoScalingGroups,
            ["DescribeAutoScalingInstances"] = DescribeAutoScalingInstances,
            ["UpdateAutoScalingGroup"] = UpdateAutoScalingGroup,
            ["SetDesiredCapacity"] = SetDesiredCapacity,
            ["TerminateInstanceInAutoScalingGroup"] = TerminateInstanceInAutoScalingGroup,
            ["StartInstanceRefresh"] = StartInstanceRefresh,
            ["DescribeInstanceRefreshes"] = DescribeInstanceRefreshes,
            ["CancelInstanceRefresh"] = CancelInstanceRefresh,
            ["DescribeLaunchConfigurations"] = DescribeLaunchConfigurations,
            ["CreateLaunchConfiguration"] = CreateLaunchConfiguration,
            ["PutScheduledUpdateGroupAction"] = PutScheduledUpdateGroupAction,
            ["DescribeScheduledActions"] = DescribeScheduledActions,
            ["SuspendProcesses"] = SuspendProcesses,
            ["ResumeProcesses"] = ResumeProcesses,
            ["DescribeScalingActivities"] = DescribeScalingActivities,
        };
    }

    public IReadOnlyCollection<string> Actions => actions.Keys;

    public XDocument Execute(Ctx ctx, string requestId)
    {
        if (!actions.TryGetValue(ctx.Action, out var handler))
        {
            throw new AsgError("InvalidAction", $"The action {ctx.Action} is not valid for this web service.");
        }

        return Response(ctx.Action, requestId, handler(ctx));
    }

    // ---------- groups ----------

    private static AutoScalingGroup Group(Ctx ctx, string? name = null)
    {
        name ??= Required(ctx.P, "AutoScalingGroupName");
        return ctx.Region.AutoScalingGroups.TryGetValue(name, out var g)
            ? g
            : throw AsgError.Validation($"AutoScalingGroup name not found - AutoScalingGroup {name} not found");
    }

    /// <summary>A group about to change: a pending ResourceContention fault answers first.</summary>
    private static AutoScalingGroup Changing(Ctx ctx)
    {
        var g = Group(ctx);
        if (g.ContentionCalls > 0)
        {
            g.ContentionCalls--;
            throw AsgError.Contention();
        }

        return g;
    }

    private static string Required(QueryParams p, string name) => p.Get(name) is { Length: > 0 } v ? v : throw AsgError.Missing(name);

    private static int? Int(QueryParams p, string name)
    {
        var v = p.Get(name);
        return v is null ? null
            : int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i
            : throw AsgError.Validation($"Value '{v}' at '{name}' failed to satisfy constraint: Member must be an integer");
    }

    private static bool? Bool(QueryParams p, string name)
    {
        var v = p.Get(name);
        return v is null ? null
            : bool.TryParse(v, out var b) ? b
            : throw AsgError.Validation($"Value '{v}' at '{name}' failed to satisfy constraint: Member must be a boolean");
    }

    private static DateTime? Time(QueryParams p, string name)
    {
        var v = p.Get(name);
        return v is null ? null
            : DateTime.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t) ? DateTime.SpecifyKind(t, DateTimeKind.Utc)
            : throw AsgError.Validation($"Value '{v}' at '{name}' failed to satisfy constraint: Member must be an ISO 8601 timestamp");
    }

    private static string GroupArn(Ctx ctx, AutoScalingGroup g) =>
        $"arn:aws:autoscaling:{ctx.Region.Name}:{ctx.AccountId}:autoScalingGroup:{World.DeterministicGuid("asg/" + g.Name)}:autoScalingGroupName/{g.Name}";

    private static XElement? TemplateSpec(string? id, string? name, string? version) =>
        id is null ? null : E("LaunchTemplate", V("LaunchTemplateId", id), V("LaunchTemplateName", name), V("Version", version));

    private static XElement MemberXml(Ctx ctx, AutoScalingGroup g, Instance i, bool withGroup)
    {
        var m = AutoScaler.LaunchOf(ctx.Region, g, i);
        var zone = ctx.Region.FindZone(i.AvailabilityZone);
        return E("member",
            V("InstanceId", i.Id),
            V("InstanceType", i.InstanceType),
            withGroup ? V("AutoScalingGroupName", g.Name) : null,
            V("AvailabilityZone", i.AvailabilityZone),
            V("AvailabilityZoneId", zone?.ZoneId),
            V("LifecycleState", AutoScaler.LifecycleState(i)),
            V("HealthStatus", AutoScaler.Healthy(ctx.Region, i) ? "Healthy" : "Unhealthy"),
            V("LaunchConfigurationName", m.LaunchConfigurationName),
            TemplateSpec(m.LaunchTemplateId, m.LaunchTemplateName, m.Version),
            V("ImageId", i.ImageId),
            V("ProtectedFromScaleIn", false));
    }

    private static XElement GroupXml(Ctx ctx, AutoScalingGroup g, bool includeInstances)
    {
        var r = ctx.Region;
        var template = g.LaunchTemplateId is { } id ? r.LaunchTemplates.GetValueOrDefault(id) : null;
        var zones = g.SubnetIds.Select(s => r.Subnets.GetValueOrDefault(s)?.AvailabilityZone).Where(z => z is not null).Distinct().Order(StringComparer.Ordinal).Cast<object>().ToList();
        return E("member",
            V("AutoScalingGroupName", g.Name),
            V("AutoScalingGroupARN", GroupArn(ctx, g)),
            V("LaunchConfigurationName", g.LaunchConfigurationName),
            g.LaunchConfigurationName is null ? TemplateSpec(g.LaunchTemplateId, template?.Name, g.LaunchTemplateVersion) : null,
            V("MinSize", g.MinSize),
            V("MaxSize", g.MaxSize),
            V("DesiredCapacity", g.DesiredCapacity),
            V("DefaultCooldown", g.DefaultCooldown),
            List("AvailabilityZones", zones),
            List("LoadBalancerNames", []),
            List("TargetGroupARNs", []),
            V("HealthCheckType", g.HealthCheckType),
            V("HealthCheckGracePeriod", g.HealthCheckGracePeriod),
            includeInstances ? new XElement(Ns + "Instances", AutoScaler.Listed(r, g).Select(i => MemberXml(ctx, g, i, false))) : null,
            V("CreatedTime", g.CreatedTime),
            new XElement(Ns + "SuspendedProcesses", g.SuspendedProcesses.OrderBy(p => p.Key, StringComparer.Ordinal)
                .Select(p => E("member", V("ProcessName", p.Key), V("SuspensionReason", $"User suspended at {AutoScaler.Stamp(p.Value)}")))),
            V("VPCZoneIdentifier", string.Join(",", g.SubnetIds)),
            List("EnabledMetrics", []),
            new XElement(Ns + "Tags", g.PropagatedTags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => E("member",
                V("ResourceId", g.Name), V("ResourceType", "auto-scaling-group"), V("Key", t.Key), V("Value", t.Value), V("PropagateAtLaunch", true)))),
            List("TerminationPolicies", ["Default"]),
            V("NewInstancesProtectedFromScaleIn", false),
            V("ServiceLinkedRoleARN", $"arn:aws:iam::{ctx.AccountId}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"),
            V("CapacityRebalance", false));
    }

    /// <summary>One page of <paramref name="items"/> and the NextToken element (an opaque offset).</summary>
    private static (List<T> Page, XElement? NextToken) Paged<T>(Ctx ctx, IReadOnlyList<T> items, int defaultMax, int limit)
    {
        var max = Int(ctx.P, "MaxRecords") ?? defaultMax;
        if (max < 1 || max > limit)
        {
            throw AsgError.Validation($"Value '{max}' at 'maxRecords' failed to satisfy constraint: Member must have value between 1 and {limit}");
        }

        if (ctx.World.PageSize is { } small)
        {
            max = Math.Min(max, small);
        }

        var offset = 0;
        if (ctx.P.Get("NextToken") is { Length: > 0 } token)
        {
            string text;
            try
            {
                text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            }
            catch (FormatException)
            {
                text = "";
            }

            if (!text.StartsWith(ctx.Action + ":", StringComparison.Ordinal)
                || !int.TryParse(text.AsSpan(ctx.Action.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out offset) || offset > items.Count)
            {
                throw new AsgError("InvalidNextToken", "The token is invalid or has expired.");
            }
        }

        var page = items.Skip(offset).Take(max).ToList();
        var next = offset + page.Count < items.Count ? Convert.ToBase64String(Encoding.UTF8.GetBytes($"{ctx.Action}:{offset + page.Count}")) : null;
        return (page, V("NextToken", next));
    }

    private static IReadOnlyList<object?> DescribeAutoScalingGroups(Ctx ctx)
    {
        var names = ctx.P.List("AutoScalingGroupNames.member");
        var groups = ctx.Region.AutoScalingGroups.Values
            .Where(g => names.Count == 0 || names.Contains(g.Name, StringComparer.Ordinal))
            .OrderBy(g => g.Name, StringComparer.Ordinal)
            .ToList();
        foreach (var f in ctx.P.Members("Filters.member"))
        {
            var name = f.Get("Name") ?? throw AsgError.Missing("Name");
            var values = f.List("Values.member");
            groups = groups.Where(g => name switch
            {
                "tag-key" => g.PropagatedTags.Keys.Any(values.Contains),
                "tag-value" => g.PropagatedTags.Values.Any(values.Contains),
                _ when name.StartsWith("tag:", StringComparison.Ordinal) => g.PropagatedTags.TryGetValue(name[4..], out var v) && values.Contains(v),
                _ => throw AsgError.Validation($"Filter name '{name}' is not valid: use tag-key, tag-value or tag:<key>"),
            }).ToList();
        }

        var include = Bool(ctx.P, "IncludeInstances") ?? true;
        var (page, next) = Paged(ctx, groups, 50, 100);
        return [new XElement(Ns + "AutoScalingGroups", page.Select(g => GroupXml(ctx, g, include))), next];
    }

    private static IReadOnlyList<object?> DescribeAutoScalingInstances(Ctx ctx)
    {
        var ids = ctx.P.List("InstanceIds.member");
        var all = ctx.Region.AutoScalingGroups.Values
            .SelectMany(g => AutoScaler.Listed(ctx.Region, g).Select(i => (Group: g, Instance: i)))
            .Where(x => ids.Count == 0 || ids.Contains(x.Instance.Id, StringComparer.Ordinal))
            .OrderBy(x => x.Instance.Id, StringComparer.Ordinal)
            .ToList();
        var (page, next) = Paged(ctx, all, 50, 50);
        return [new XElement(Ns + "AutoScalingInstances", page.Select(x => MemberXml(ctx, x.Group, x.Instance, true))), next];
    }

    private static IReadOnlyList<object?>? UpdateAutoScalingGroup(Ctx ctx)
    {
        var g = Changing(ctx);
        var p = ctx.P;
        var r = ctx.Region;
        var min = Int(p, "MinSize");
        var max = Int(p, "MaxSize");
        var desired = Int(p, "DesiredCapacity");
        var newMin = min ?? g.MinSize;
        var newMax = max ?? g.MaxSize;
        if (newMin < 0 || newMax < 0 || desired < 0)
        {
            throw AsgError.Validation("MinSize, MaxSize and DesiredCapacity must not be negative.");
        }

        if (newMin > newMax)
        {
            throw AsgError.Validation($"Max bound, {newMax}, must be greater than or equal to min bound, {newMin}");
        }

        if (desired is { } d && (d < newMin || d > newMax))
        {
            throw AsgError.Validation($"Desired capacity:{d} must be between the specified min size:{newMin} and max size:{newMax}");
        }

        // Resolve the configuration before changing anything: a bad one changes nothing.
        string? templateId = null;
        string? templateVersion = null;
        if (p.Get("LaunchTemplate.LaunchTemplateId") is { Length: > 0 } || p.Get("LaunchTemplate.LaunchTemplateName") is { Length: > 0 })
        {
            var byId = p.Get("LaunchTemplate.LaunchTemplateId");
            var byName = p.Get("LaunchTemplate.LaunchTemplateName");
            if (byId is not null && byName is not null)
            {
                throw AsgError.Validation("Valid requests must contain either launchTemplateId or launchTemplateName, not both.");
            }

            var t = byId is not null ? r.LaunchTemplates.GetValueOrDefault(byId) : r.LaunchTemplates.Values.FirstOrDefault(x => x.Name == byName);
            if (t is null)
            {
                throw AsgError.Validation($"You must use a valid fully-formed launch template. The specified launch template, with template {(byId is not null ? "ID " + byId : "name " + byName)}, does not exist.");
            }

            templateVersion = p.Get("LaunchTemplate.Version") ?? "$Default";
            try
            {
                Ec2Service.ResolveVersion(t, templateVersion);
            }
            catch (Ec2Error)
            {
                throw AsgError.Validation($"You must use a valid fully-formed launch template. The specified launch template version, {templateVersion}, does not exist for launch template {t.Id}.");
            }

            templateId = t.Id;
        }
        else if (p.Has("LaunchTemplate.Version"))
        {
            throw AsgError.Validation("Valid requests must contain either launchTemplateId or launchTemplateName.");
        }

        var lc = p.Get("LaunchConfigurationName");
        if (lc is not null && templateId is not null)
        {
            throw AsgError.Validation("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.");
        }

        if (lc is not null && !r.LaunchConfigurations.ContainsKey(lc))
        {
            throw AsgError.Validation($"Launch configuration name not found - Launch configuration {lc} not found");
        }

        List<string>? subnets = null;
        if (p.Get("VPCZoneIdentifier") is { } vpcZones)
        {
            subnets = vpcZones.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
            if (subnets.FirstOrDefault(s => !r.Subnets.ContainsKey(s)) is { } bad)
            {
                throw AsgError.Validation($"The subnet ID '{bad}' does not exist");
            }
        }

        var healthType = p.Get("HealthCheckType");
        if (healthType is not (null or "EC2" or "ELB"))
        {
            throw AsgError.Validation($"Invalid health check type '{healthType}': use EC2 or ELB");
        }

        g.MinSize = newMin;
        g.MaxSize = newMax;
        g.DesiredCapacity = desired ?? Math.Clamp(g.DesiredCapacity, newMin, newMax);
        if (templateId is not null)
        {
            g.LaunchTemplateId = templateId;
            g.LaunchTemplateVersion = templateVersion!;
            g.LaunchConfigurationName = null;
        }

        if (lc is not null)
        {
            g.LaunchConfigurationName = lc;
            g.LaunchTemplateId = null;
            g.LaunchTemplateVersion = "$Default";
        }

        g.SubnetIds = subnets ?? g.SubnetIds;
        g.DefaultCooldown = Int(p, "DefaultCooldown") ?? g.DefaultCooldown;
        g.HealthCheckGracePeriod = Int(p, "HealthCheckGracePeriod") ?? g.HealthCheckGracePeriod;
        g.HealthCheckType = healthType ?? g.HealthCheckType;
        return null;
    }

    private static IReadOnlyList<object?>? SetDesiredCapacity(Ctx ctx)
    {
        var g = Changing(ctx);
        var d = Int(ctx.P, "DesiredCapacity") ?? throw AsgError.Missing("DesiredCapacity");
        if (d > g.MaxSize)
        {
            throw AsgError.Validation($"New SetDesiredCapacity value {d} is above max value {g.MaxSize} for the AutoScalingGroup.");
        }

        if (d < g.MinSize)
        {
            throw AsgError.Validation($"New SetDesiredCapacity value {d} is below min value {g.MinSize} for the AutoScalingGroup.");
        }

        if (Bool(ctx.P, "HonorCooldown") == true && InCooldown(ctx, g))
        {
            throw new AsgError("ScalingActivityInProgress", "Scaling activity is in progress or the group is in its cooldown period: the desired capacity was not changed.");
        }

        g.DesiredCapacity = d;
        return null;
    }

    private static bool InCooldown(Ctx ctx, AutoScalingGroup g) =>
        g.Activities.Any(a => a.StatusCode == ActivityStatus.InProgress)
        || (g.LastActivityEnd is { } end && end.AddSeconds(g.DefaultCooldown) > ctx.Now);

    private static IReadOnlyList<object?> TerminateInstanceInAutoScalingGroup(Ctx ctx)
    {
        var id = Required(ctx.P, "InstanceId");
        var decrement = Bool(ctx.P, "ShouldDecrementDesiredCapacity") ?? throw AsgError.Missing("ShouldDecrementDesiredCapacity");
        var r = ctx.Region;
        var inst = r.Instances.GetValueOrDefault(id);
        var g = inst?.Tag(AutoScaler.GroupTag) is { } name ? r.AutoScalingGroups.GetValueOrDefault(name) : null;
        if (inst is null || g is null || inst.State == InstanceStates.Terminated)
        {
            throw AsgError.Validation($"Instance Id not found - No managed instance found for instance ID: {id}");
        }

        if (g.ContentionCalls > 0)
        {
            g.ContentionCalls--;
            throw AsgError.Contention();
        }

        if (inst.State == InstanceStates.ShuttingDown)
        {
            throw new AsgError("ScalingActivityInProgress", $"Instance {id} is already being terminated: a scaling activity is in progress for it.");
        }

        if (decrement && g.DesiredCapacity <= g.MinSize)
        {
            throw AsgError.Validation($"Currently, desiredSize equals minSize ({g.MinSize}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.");
        }

        var before = g.DesiredCapacity;
        if (decrement)
        {
            g.DesiredCapacity--;
        }

        var now = ctx.Now;
        var cause = $"At {AutoScaler.Stamp(now)} instance {id} was taken out of service in response to a user request" +
            (decrement ? $", shrinking the capacity from {before} to {g.DesiredCapacity}." : ".");
        AutoScaler.Terminate(ctx.World, r, g, inst, now, "Client.UserInitiatedShutdown", "User initiated shutdown", cause);
        return [ActivityXml(ctx, g, g.Activities[^1], "Activity")];
    }

    // ---------- instance refresh ----------

    private static IReadOnlyList<object?> StartInstanceRefresh(Ctx ctx)
    {
        var g = Changing(ctx);
        var p = ctx.P;
        if (p.Get("Strategy") is { } strategy && strategy != "Rolling")
        {
            throw AsgError.Validation($"The simulator only simulates the Rolling strategy, not {strategy}.");
        }

        if (p.All.Keys.Any(k => k.StartsWith("DesiredConfiguration.", StringComparison.OrdinalIgnoreCase)))
        {
            throw AsgError.Validation("The simulator does not simulate DesiredConfiguration: point the group at the new configuration with UpdateAutoScalingGroup, then start the refresh.");
        }

        var min = Int(p, "Preferences.MinHealthyPercentage") ?? 90;
        if (min is < 0 or > 100)
        {
            throw AsgError.Validation($"Value '{min}' at 'preferences.minHealthyPercentage' failed to satisfy constraint: Member must have value between 0 and 100");
        }

        var maxHealthy = Int(p, "Preferences.MaxHealthyPercentage");
        if (maxHealthy is { } mh && mh != 100)
        {
            throw AsgError.Validation("The simulator does not simulate MaxHealthyPercentage above 100 (launch before terminate).");
        }

        if (min == 100)
        {
            throw AsgError.Validation("MinHealthyPercentage of 100 requires a MaxHealthyPercentage greater than 100.");
        }

        var warmup = Int(p, "Preferences.InstanceWarmup");
        if (warmup < 0)
        {
            throw AsgError.Validation("InstanceWarmup must not be negative.");
        }

        if (InstanceRefresher.Active(g) is not null)
        {
            throw new AsgError("InstanceRefreshInProgress", "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.");
        }

        var skip = Bool(p, "Preferences.SkipMatching") ?? false;
        var current = AutoScaler.Current(ctx.Region, g);
        var members = AutoScaler.Members(ctx.Region, g)
            .OrderBy(i => i.LaunchTime).ThenBy(i => i.Id, StringComparer.Ordinal)
            .Where(i => !skip || AutoScaler.LaunchOf(ctx.Region, g, i) != current)
            .Select(i => i.Id)
            .ToList();
        var rf = new InstanceRefresh
        {
            Id = World.DeterministicGuid($"refresh/{g.Name}/{g.InstanceRefreshes.Count}/{ctx.Now.Ticks}").ToString(),
            GroupName = g.Name,
            StartTime = ctx.Now,
            MinHealthyPercentage = min,
            InstanceWarmup = warmup,
            SkipMatching = skip,
            ToReplace = members,
            Total = members.Count,
        };
        g.InstanceRefreshes.Add(rf);
        return [V("InstanceRefreshId", rf.Id)];
    }

    private static IReadOnlyList<object?> DescribeInstanceRefreshes(Ctx ctx)
    {
        var g = Group(ctx);
        var ids = ctx.P.List("InstanceRefreshIds.member");
        var items = g.InstanceRefreshes.AsEnumerable().Reverse().Where(x => ids.Count == 0 || ids.Contains(x.Id, StringComparer.Ordinal)).ToList();
        var (page, next) = Paged(ctx, items, 50, 100);
        return
        [
            new XElement(Ns + "InstanceRefreshes", page.Select(x => E("member",
                V("InstanceRefreshId", x.Id),
                V("AutoScalingGroupName", x.GroupName),
                V("Status", x.Status),
                V("StatusReason", x.StatusReason),
                V("StartTime", x.StartTime),
                V("EndTime", x.EndTime),
                V("PercentageComplete", x.PercentageComplete),
                V("InstancesToUpdate", x.Total - x.Replaced),
                E("ProgressDetails", E("LivePoolProgress", V("PercentageComplete", x.PercentageComplete), V("InstancesToUpdate", x.Total - x.Replaced))),
                E("Preferences",
                    V("MinHealthyPercentage", x.MinHealthyPercentage),
                    V("InstanceWarmup", x.InstanceWarmup),
                    V("SkipMatching", x.SkipMatching),
                    V("AutoRollback", false),
                    V("ScaleInProtectedInstances", "Ignore"),
                    V("StandbyInstances", "Ignore"),
                    V("MaxHealthyPercentage", 100)),
                V("Strategy", "Rolling")))),
            next,
        ];
    }

    private static IReadOnlyList<object?> CancelInstanceRefresh(Ctx ctx)
    {
        var g = Changing(ctx);
        var rf = InstanceRefresher.Active(g);
        if (rf is null || rf.Status == RefreshStatus.Cancelling)
        {
            throw new AsgError("ActiveInstanceRefreshNotFound", $"No in progress or pending Instance Refresh found for Auto Scaling group {g.Name}");
        }

        rf.Status = RefreshStatus.Cancelling;
        return [V("InstanceRefreshId", rf.Id)];
    }

    // ---------- launch configurations ----------

    private static XElement LaunchConfigurationXml(LaunchConfiguration lc) =>
        E("member",
            V("LaunchConfigurationName", lc.Name),
            V("LaunchConfigurationARN", lc.Arn),
            V("ImageId", lc.ImageId),
            V("KeyName", lc.KeyName ?? ""),
            List("SecurityGroups", lc.SecurityGroups),
            List("ClassicLinkVPCSecurityGroups", []),
            V("UserData", lc.UserData ?? ""),
            V("InstanceType", lc.InstanceType),
            V("KernelId", lc.KernelId ?? ""),
            V("RamdiskId", lc.RamdiskId ?? ""),
            new XElement(Ns + "BlockDeviceMappings", lc.BlockDeviceMappings.Select(b => E("member",
                V("VirtualName", b.VirtualName),
                V("DeviceName", b.DeviceName),
                b.SnapshotId is null && b.VolumeSize is null && b.VolumeType is null && b.DeleteOnTermination is null && b.Iops is null && b.Encrypted is null && b.Throughput is null
                    ? null
                    : E("Ebs", V("SnapshotId", b.SnapshotId), V("VolumeSize", b.VolumeSize), V("VolumeType", b.VolumeType), V("DeleteOnTermination", b.DeleteOnTermination), V("Iops", b.Iops), V("Encrypted", b.Encrypted), V("Throughput", b.Throughput)),
                V("NoDevice", b.NoDevice)))),
            E("InstanceMonitoring", V("Enabled", lc.InstanceMonitoring ?? true)),
            V("SpotPrice", lc.SpotPrice),
            V("IamInstanceProfile", lc.IamInstanceProfile),
            V("CreatedTime", lc.CreatedTime),
            V("EbsOptimized", lc.EbsOptimized ?? false),
            V("AssociatePublicIpAddress", lc.AssociatePublicIpAddress),
            V("PlacementTenancy", lc.PlacementTenancy),
            lc.MetadataHttpTokens is null && lc.MetadataHttpPutResponseHopLimit is null && lc.MetadataHttpEndpoint is null
                ? null
                : E("MetadataOptions", V("HttpTokens", lc.MetadataHttpTokens), V("HttpPutResponseHopLimit", lc.MetadataHttpPutResponseHopLimit), V("HttpEndpoint", lc.MetadataHttpEndpoint)));

    private static IReadOnlyList<object?> DescribeLaunchConfigurations(Ctx ctx)
    {
        var names = ctx.P.List("LaunchConfigurationNames.member");
        var items = ctx.Region.LaunchConfigurations.Values
            .Where(lc => names.Count == 0 || names.Contains(lc.Name, StringComparer.Ordinal))
            .OrderBy(lc => lc.Name, StringComparer.Ordinal)
            .ToList();
        var (page, next) = Paged(ctx, items, 50, 100);
        return [new XElement(Ns + "LaunchConfigurations", page.Select(LaunchConfigurationXml)), next];
    }

    private static IReadOnlyList<object?>? CreateLaunchConfiguration(Ctx ctx)
    {
        var p = ctx.P;
        var r = ctx.Region;
        var name = Required(p, "LaunchConfigurationName");
        if (name.Length > 255)
        {
            throw AsgError.Validation("Value at 'launchConfigurationName' failed to satisfy constraint: Member must have length less than or equal to 255");
        }

        if (r.LaunchConfigurations.ContainsKey(name))
        {
            throw new AsgError("AlreadyExists", $"Launch Configuration by this name already exists - A launch configuration already exists with the name {name}");
        }

        Instance? from = null;
        if (p.Get("InstanceId") is { Length: > 0 } instanceId)
        {
            from = r.Instances.GetValueOrDefault(instanceId);
            if (from is null || from.State == InstanceStates.Terminated)
            {
                throw AsgError.Validation($"Invalid instance id '{instanceId}': the instance does not exist or is terminated");
            }
        }

        var imageId = p.Get("ImageId") ?? from?.ImageId ?? throw AsgError.Validation("Valid requests must contain either the InstanceID parameter or both the ImageId and InstanceType parameters.");
        var instanceType = p.Get("InstanceType") ?? from?.InstanceType ?? throw AsgError.Validation("Valid requests must contain either the InstanceID parameter or both the ImageId and InstanceType parameters.");
        if (!r.Images.TryGetValue(imageId, out var image) || image.State == "deregistered")
        {
            throw AsgError.Validation($"AMI {imageId} is invalid: The image id '[{imageId}]' does not exist");
        }

        var groups = p.List("SecurityGroups.member");
        if (groups.Count == 0 && from is not null)
        {
            groups = new List<string>(from.GroupIds);
        }

        if (groups.FirstOrDefault(s => !r.SecurityGroups.ContainsKey(s) && !r.SecurityGroups.Values.Any(x => x.Name == s)) is { } badGroup)
        {
            throw AsgError.Validation($"The security group '{badGroup}' does not exist");
        }

        var keyName = p.Get("KeyName") ?? from?.KeyName;
        if (keyName is { Length: > 0 } && !r.KeyPairs.Values.Any(k => k.Name == keyName))
        {
            throw AsgError.Validation($"The key pair '{keyName}' does not exist");
        }

        var devices = p.Members("BlockDeviceMappings.member").Select(b => new LaunchConfigurationBlockDevice(
            b.Get("DeviceName") ?? throw AsgError.Missing("DeviceName"),
            b.Get("VirtualName"),
            Bool(b, "NoDevice"),
            b.Get("Ebs.SnapshotId"),
            Int(b, "Ebs.VolumeSize"),
            b.Get("Ebs.VolumeType"),
            Bool(b, "Ebs.DeleteOnTermination"),
            Int(b, "Ebs.Iops"),
            Bool(b, "Ebs.Encrypted"),
            Int(b, "Ebs.Throughput"))).ToList();
        var userData = p.Get("UserData") ?? from?.UserData;
        r.LaunchConfigurations[name] = new LaunchConfiguration
        {
            Name = name,
            Arn = $"arn:aws:autoscaling:{r.Name}:{ctx.AccountId}:launchConfiguration:{World.DeterministicGuid("lc/" + name + "/" + ctx.Now.Ticks)}:launchConfigurationName/{name}",
            ImageId = imageId,
            InstanceType = instanceType,
            KeyName = keyName,
            SecurityGroups = groups,
            UserData = userData,
            IamInstanceProfile = p.Get("IamInstanceProfile") ?? from?.IamProfileArn,
            BlockDeviceMappings = devices,
            InstanceMonitoring = Bool(p, "InstanceMonitoring.Enabled"),
            EbsOptimized = Bool(p, "EbsOptimized"),
            AssociatePublicIpAddress = Bool(p, "AssociatePublicIpAddress"),
            SpotPrice = p.Get("SpotPrice"),
            KernelId = p.Get("KernelId"),
            RamdiskId = p.Get("RamdiskId"),
            PlacementTenancy = p.Get("PlacementTenancy"),
            MetadataHttpTokens = p.Get("MetadataOptions.HttpTokens"),
            MetadataHttpPutResponseHopLimit = Int(p, "MetadataOptions.HttpPutResponseHopLimit"),
            MetadataHttpEndpoint = p.Get("MetadataOptions.HttpEndpoint"),
            CreatedTime = ctx.Now,
        };
        return null;
    }

    // ---------- scheduled actions ----------

    private static IReadOnlyList<object?>? PutScheduledUpdateGroupAction(Ctx ctx)
    {
        var g = Changing(ctx);
        var p = ctx.P;
        var name = Required(p, "ScheduledActionName");
        if (p.Get("Recurrence") is { Length: > 0 })
        {
            throw AsgError.Validation("The simulator does not simulate recurring scheduled actions (Recurrence): give a one-time Time or StartTime.");
        }

        var time = Time(p, "Time") ?? Time(p, "StartTime") ?? throw AsgError.Validation("Either Time, StartTime or Recurrence must be specified.");
        if (time < ctx.Now)
        {
            throw AsgError.Validation("Given start time is in the past");
        }

        var min = Int(p, "MinSize");
        var max = Int(p, "MaxSize");
        var desired = Int(p, "DesiredCapacity");
        if (min is null && max is null && desired is null)
        {
            throw AsgError.Validation("At least one of MinSize, MaxSize or DesiredCapacity must be specified.");
        }

        if (min is { } a && max is { } b && a > b)
        {
            throw AsgError.Validation($"Max bound, {b}, must be greater than or equal to min bound, {a}");
        }

        g.ScheduledActions.RemoveAll(x => x.Name == name);
        g.ScheduledActions.Add(new ScheduledAction
        {
            Name = name,
            GroupName = g.Name,
            Arn = $"arn:aws:autoscaling:{ctx.Region.Name}:{ctx.AccountId}:scheduledUpdateGroupAction:{World.DeterministicGuid("sa/" + g.Name + "/" + name + "/" + ctx.Now.Ticks)}:autoScalingGroupName/{g.Name}:scheduledActionName/{name}",
            Time = time,
            EndTime = Time(p, "EndTime"),
            MinSize = min,
            MaxSize = max,
            DesiredCapacity = desired,
        });
        return null;
    }

    private static IReadOnlyList<object?> DescribeScheduledActions(Ctx ctx)
    {
        var p = ctx.P;
        var groups = p.Get("AutoScalingGroupName") is { Length: > 0 } gn
            ? ctx.Region.AutoScalingGroups.TryGetValue(gn, out var one) ? [one] : []
            : ctx.Region.AutoScalingGroups.Values.ToList();
        var names = p.List("ScheduledActionNames.member");
        var start = Time(p, "StartTime");
        var end = Time(p, "EndTime");
        var items = groups.SelectMany(g => g.ScheduledActions)
            .Where(a => names.Count == 0 || names.Contains(a.Name, StringComparer.Ordinal))
            .Where(a => (start is null || a.Time >= start) && (end is null || a.Time <= end))
            .OrderBy(a => a.Time).ThenBy(a => a.Name, StringComparer.Ordinal)
            .ToList();
        var (page, next) = Paged(ctx, items, 50, 100);
        return
        [
            new XElement(Ns + "ScheduledUpdateGroupActions", page.Select(a => E("member",
                V("AutoScalingGroupName", a.GroupName),
                V("ScheduledActionName", a.Name),
                V("ScheduledActionARN", a.Arn),
                V("Time", a.Time),
                V("StartTime", a.Time),
                V("EndTime", a.EndTime),
                V("MinSize", a.MinSize),
                V("MaxSize", a.MaxSize),
                V("DesiredCapacity", a.DesiredCapacity)))),
            next,
        ];
    }

    // ---------- processes ----------

    private static List<string> ProcessNames(Ctx ctx)
    {
        var names = ctx.P.List("ScalingProcesses.member");
        if (names.FirstOrDefault(n => !ScalingProcesses.All.Contains(n, StringComparer.Ordinal)) is { } bad)
        {
            throw AsgError.Validation($"Process name not found - Process name {bad} not found");
        }

        return names.Count == 0 ? ScalingProcesses.All.ToList() : names;
    }

    private static IReadOnlyList<object?>? SuspendProcesses(Ctx ctx)
    {
        var g = Changing(ctx);
        foreach (var n in ProcessNames(ctx))
        {
            g.SuspendedProcesses.TryAdd(n, ctx.Now);
        }

        return null;
    }

    private static IReadOnlyList<object?>? ResumeProcesses(Ctx ctx)
    {
        var g = Changing(ctx);
        foreach (var n in ProcessNames(ctx))
        {
            g.SuspendedProcesses.Remove(n);
        }

        return null;
    }

    // ---------- activities ----------

    private static XElement ActivityXml(Ctx ctx, AutoScalingGroup g, ScalingActivity a, string element = "member") =>
        new(Ns + element,
            V("ActivityId", a.Id),
            V("AutoScalingGroupName", a.GroupName),
            V("Description", a.Description),
            V("Cause", a.Cause),
            V("StartTime", a.StartTime),
            V("EndTime", a.EndTime),
            V("StatusCode", a.StatusCode),
            V("StatusMessage", a.StatusMessage),
            V("Progress", a.Progress),
            V("Details", a.InstanceId is null ? "{}" : $"{{\"Subnet ID\":\"{ctx.Region.Instances.GetValueOrDefault(a.InstanceId)?.SubnetId}\",\"Availability Zone\":\"{ctx.Region.Instances.GetValueOrDefault(a.InstanceId)?.AvailabilityZone}\"}}"),
            V("AutoScalingGroupARN", GroupArn(ctx, g)));

    private static IReadOnlyList<object?> DescribeScalingActivities(Ctx ctx)
    {
        var p = ctx.P;
        var groups = p.Get("AutoScalingGroupName") is { Length: > 0 } gn
            ? ctx.Region.AutoScalingGroups.TryGetValue(gn, out var one) ? [one] : []
            : ctx.Region.AutoScalingGroups.Values.ToList();
        var ids = p.List("ActivityIds.member");
        var items = groups.SelectMany(g => g.Activities.Select((a, n) => (Group: g, Activity: a, Index: n)))
            .Where(x => ids.Count == 0 || ids.Contains(x.Activity.Id, StringComparer.Ordinal))
            .OrderByDescending(x => x.Activity.StartTime).ThenByDescending(x => x.Index)
            .ToList();
        var (page, next) = Paged(ctx, items, 100, 100);
        return [new XElement(Ns + "Activities", page.Select(x => ActivityXml(ctx, x.Group, x.Activity))), next];
    }
}
