using CcieDr.Simulator.Ec2;

namespace CcieDr.Simulator;

/// <summary>
/// A simulated Auto Scaling group (served by the Auto Scaling Query API in <c>AutoScaling/</c>, acting on EC2 state).
/// While its processes are not suspended it keeps <see cref="DesiredCapacity"/> healthy members (tag
/// <c>aws:autoscaling:groupName</c>): stopped or impaired members are terminated, missing ones are launched from the
/// launch template (or launch configuration) after a delay, extra ones terminated (oldest first); scheduled actions
/// fire on the simulated clock and an instance refresh replaces members batch by batch. The seeded group starts with
/// every process suspended so nothing changes behind a test's back until it is resumed.
/// </summary>
internal sealed class AutoScalingGroup
{
    public required string Name { get; init; }

    /// <summary>The launch template (null when the group uses a launch configuration).</summary>
    public string? LaunchTemplateId { get; set; }

    public string LaunchTemplateVersion { get; set; } = "$Default";

    /// <summary>The launch configuration (null when the group uses a launch template).</summary>
    public string? LaunchConfigurationName { get; set; }

    public int MinSize { get; set; }

    public int MaxSize { get; set; } = 10;

    public int DesiredCapacity { get; set; }

    public int DefaultCooldown { get; set; } = 300;

    public int HealthCheckGracePeriod { get; set; }

    public string HealthCheckType { get; set; } = "EC2";

    public DateTime CreatedTime { get; set; }

    public List<string> SubnetIds { get; set; } = new();

    /// <summary>Tags put on launched instances besides aws:autoscaling:groupName.</summary>
    public Dictionary<string, string> PropagatedTags { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Suspended processes (<see cref="AutoScaling.ScalingProcesses"/>) → when.</summary>
    public Dictionary<string, DateTime> SuspendedProcesses { get; } = new(StringComparer.Ordinal);

    /// <summary>True when every process is suspended (the simulator's control switch; the API suspends one by one).</summary>
    public bool Suspended
    {
        get => AutoScaling.ScalingProcesses.All.All(SuspendedProcesses.ContainsKey);
        set
        {
            if (value)
            {
                foreach (var p in AutoScaling.ScalingProcesses.All)
                {
                    SuspendedProcesses.TryAdd(p, CreatedTime);
                }
            }
            else
            {
                SuspendedProcesses.Clear();
            }
        }
    }

    public bool Runs(string process) => !SuspendedProcesses.ContainsKey(process);

    public DateTime? DeficitSince { get; set; }

    public int Launched { get; set; }

    public int Terminated { get; set; }

    /// <summary>Instance → the configuration it was launched with (template id + resolved version, or configuration name).</summary>
    public Dictionary<string, MemberLaunch> MemberLaunches { get; } = new(StringComparer.Ordinal);

    public List<AutoScaling.ScheduledAction> ScheduledActions { get; } = new();

    public List<AutoScaling.InstanceRefresh> InstanceRefreshes { get; } = new();

    public List<AutoScaling.ScalingActivity> Activities { get; } = new();

    /// <summary>When the last scaling activity ended (for HonorCooldown).</summary>
    public DateTime? LastActivityEnd { get; set; }

    /// <summary>How many more mutating API calls on this group answer ResourceContention (a control-API fault).</summary>
    public int ContentionCalls { get; set; }

    /// <summary>The group's capacity over simulated time: a point whenever it changed (see <see cref="AutoScaler.Observe"/>).</summary>
    public List<CapacityPoint> History { get; } = new();
}

/// <summary>
/// The group at one moment: desired size, members by lifecycle state (InService as the API reports it), the InService
/// members the simulated app counts as connected, and the InService instance ids.
/// </summary>
public sealed record CapacityPoint(DateTime Time, int DesiredCapacity, int MinSize, int MaxSize, int InService, int Pending, int Terminating, int Connected, IReadOnlyList<string> InServiceIds);

/// <summary>The configuration one member was launched with.</summary>
internal sealed record MemberLaunch(string? LaunchTemplateId, string? LaunchTemplateName, string? Version, string? LaunchConfigurationName);

/// <summary>Auto Scaling state and the reconciling loop (runs inside <see cref="World.Tick"/>).</summary>
internal static class AutoScaler
{
    public const string GroupTag = "aws:autoscaling:groupName";

    /// <summary>Members that count towards capacity (not shutting down or terminated).</summary>
    public static IEnumerable<Instance> Members(RegionState r, AutoScalingGroup g) =>
        r.Instances.Values.Where(i => i.Tag(GroupTag) == g.Name && i.State is not (InstanceStates.Terminated or InstanceStates.ShuttingDown));

    /// <summary>Members as the API lists them: also those terminating (shutting down).</summary>
    public static IEnumerable<Instance> Listed(RegionState r, AutoScalingGroup g) =>
        r.Instances.Values.Where(i => i.Tag(GroupTag) == g.Name && i.State != InstanceStates.Terminated)
            .OrderBy(i => i.LaunchTime).ThenBy(i => i.Id, StringComparer.Ordinal);

    public static bool Healthy(RegionState r, Instance i) =>
        i.State is InstanceStates.Pending or InstanceStates.Running && !i.Impaired && r.FindZone(i.AvailabilityZone)?.Failed != true;

    /// <summary>The Auto Scaling lifecycle state of a member: Pending, InService, Terminating (or Terminated).</summary>
    public static string LifecycleState(Instance i) => i.State switch
    {
        InstanceStates.Pending => "Pending",
        InstanceStates.ShuttingDown => "Terminating",
        InstanceStates.Terminated => "Terminated",
        _ => "InService",
    };

    /// <summary>The configuration the member was launched with; members the group never launched (seeded) count as launched from its current one.</summary>
    public static MemberLaunch LaunchOf(RegionState r, AutoScalingGroup g, Instance i)
    {
        if (!g.MemberLaunches.TryGetValue(i.Id, out var m))
        {
            m = Current(r, g);
            g.MemberLaunches[i.Id] = m;
        }

        return m;
    }

    /// <summary>The group's current configuration, a template version resolved to its number.</summary>
    public static MemberLaunch Current(RegionState r, AutoScalingGroup g)
    {
        if (g.LaunchConfigurationName is { } lc)
        {
            return new MemberLaunch(null, null, null, lc);
        }

        if (g.LaunchTemplateId is { } id && r.LaunchTemplates.TryGetValue(id, out var t))
        {
            var version = g.LaunchTemplateVersion;
            try
            {
                version = Ec2Service.ResolveVersion(t, g.LaunchTemplateVersion).Number.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Ec2Error)
            {
            }

            return new MemberLaunch(t.Id, t.Name, version, null);
        }

        return new MemberLaunch(g.LaunchTemplateId, null, g.LaunchTemplateVersion, null);
    }

    public static void Reconcile(World w, RegionState r, DateTime now)
    {
        foreach (var g in r.AutoScalingGroups.Values)
        {
            foreach (var i in Listed(r, g))
            {
                LaunchOf(r, g, i);
            }

            CompleteActivities(r, g, now);
            if (g.Suspended)
            {
                continue;
            }

            FireScheduledActions(w, r, g, now);
            AutoScaling.InstanceRefresher.Step(w, r, g, now);
            var members = Members(r, g).ToList();
            if (g.Runs(AutoScaling.ScalingProcesses.HealthCheck) && g.Runs(AutoScaling.ScalingProcesses.ReplaceUnhealthy) && g.Runs(AutoScaling.ScalingProcesses.Terminate))
            {
                foreach (var sick in members.Where(i => !Healthy(r, i)))
                {
                    Terminate(w, r, g, sick, now, "Server.ScheduledStop", "an Auto Scaling health check replaced the instance",
                        $"At {Stamp(now)} an instance was taken out of service in response to an EC2 instance status check failure.");
                }
            }

            var healthy = members.Where(i => Healthy(r, i)).OrderBy(i => i.LaunchTime).ThenBy(i => i.Id, StringComparer.Ordinal).ToList();
            if (g.Runs(AutoScaling.ScalingProcesses.Terminate))
            {
                var count = healthy.Count;
                foreach (var extra in healthy.Take(Math.Max(0, healthy.Count - g.DesiredCapacity)).ToList())
                {
                    Terminate(w, r, g, extra, now, "Client.UserInitiatedShutdown", "scaled in by the Auto Scaling group",
                        $"At {Stamp(now)} a user request update of AutoScalingGroup constraints to min: {g.MinSize}, max: {g.MaxSize}, desired: {g.DesiredCapacity} changing the desired capacity from {count} to {g.DesiredCapacity}. At {Stamp(now)} an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from {count} to {g.DesiredCapacity}.");
                    healthy.Remove(extra);
                }
            }

            var missing = g.DesiredCapacity - healthy.Count;
            if (missing <= 0 || !g.Runs(AutoScaling.ScalingProcesses.Launch))
            {
                g.DeficitSince = null;
                continue;
            }

            g.DeficitSince ??= now;
            if (g.DeficitSince.Value.AddSeconds(w.Durations.AutoScalingReplace) > now)
            {
                continue;
            }

            g.DeficitSince = null;
            for (var n = 0; n < missing; n++)
            {
                var before = healthy.Count + n;
                var launched = TryLaunch(w, r, g, now);
                if (launched is null)
                {
                    break;
                }

                g.Launched++;
                Record(w, g, now, $"Launching a new EC2 instance: {launched.Id}",
                    $"At {Stamp(now)} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from {before} to {g.DesiredCapacity}.",
                    launched.Id, launch: true);
            }
        }
    }

    /// <summary>The most points a group's history keeps (the oldest go first).</summary>
    public const int HistoryLimit = 20000;

    /// <summary>
    /// Appends a point to each group's history when its capacity changed since the last one. Called at the end of every
    /// tick and right after every Auto Scaling API call, so a dip between two ticks is seen (nothing changes in between).
    /// </summary>
    public static void Observe(World w, RegionState r, DateTime now)
    {
        if (r.AutoScalingGroups.Count == 0)
        {
            return;
        }

        var box = CloudWatch.CloudWatchPublisher.ServicesBox(r);
        var token = box is null ? null : CloudWatch.CloudWatchPublisher.BoxSecretToken(w, r, box);
        foreach (var g in r.AutoScalingGroups.Values)
        {
            var listed = Listed(r, g).ToList();
            var inService = listed.Where(i => LifecycleState(i) == "InService").Select(i => i.Id).OrderBy(x => x, StringComparer.Ordinal).ToList();
            var connected = box is null || !CloudWatch.CloudWatchPublisher.AppRuns(r, box) ? 0 : listed.Count(i => LifecycleState(i) == "InService" && CloudWatch.CloudWatchPublisher.IsConnected(r, i, box, token!));
            var point = new CapacityPoint(now, g.DesiredCapacity, g.MinSize, g.MaxSize, inService.Count, listed.Count(i => LifecycleState(i) == "Pending"), listed.Count(i => LifecycleState(i) == "Terminating"), connected, inService);
            var last = g.History.Count == 0 ? null : g.History[^1];
            if (last is not null && last.DesiredCapacity == point.DesiredCapacity && last.MinSize == point.MinSize && last.MaxSize == point.MaxSize && last.Pending == point.Pending
                && last.Terminating == point.Terminating && last.Connected == point.Connected && last.InServiceIds.SequenceEqual(point.InServiceIds, StringComparer.Ordinal))
            {
                continue;
            }

            if (g.History.Count >= HistoryLimit)
            {
                g.History.RemoveAt(0);
            }

            g.History.Add(point);
        }
    }

    internal static string Stamp(DateTime t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    internal static AutoScaling.ScalingActivity Record(World w, AutoScalingGroup g, DateTime now, string description, string cause, string? instanceId, bool launch, bool done = false)
    {
        var a = new AutoScaling.ScalingActivity
        {
            Id = World.DeterministicGuid($"{g.Name}/{g.Activities.Count}/{description}/{now.Ticks}").ToString(),
            GroupName = g.Name,
            Description = description,
            Cause = cause,
            StartTime = now,
            InstanceId = instanceId,
            Launch = launch,
        };
        if (done)
        {
            a.StatusCode = AutoScaling.ActivityStatus.Successful;
            a.EndTime = now;
            a.Progress = 100;
            g.LastActivityEnd = now;
        }

        g.Activities.Add(a);
        return a;
    }

    private static void CompleteActivities(RegionState r, AutoScalingGroup g, DateTime now)
    {
        foreach (var a in g.Activities.Where(a => a.StatusCode == AutoScaling.ActivityStatus.InProgress && a.InstanceId is not null))
        {
            var i = r.Instances.GetValueOrDefault(a.InstanceId!);
            var done = a.Launch ? i is null || i.State != InstanceStates.Pending : i is null || i.State == InstanceStates.Terminated;
            if (!done)
            {
                continue;
            }

            a.StatusCode = AutoScaling.ActivityStatus.Successful;
            a.EndTime = a.Launch ? i?.RunningSince ?? now : i?.TerminatedAt ?? now;
            a.Progress = 100;
            g.LastActivityEnd = a.EndTime;
        }
    }

    /// <summary>Applies the one-time scheduled actions whose time has come (then deletes them, as AWS does).</summary>
    private static void FireScheduledActions(World w, RegionState r, AutoScalingGroup g, DateTime now)
    {
        if (!g.Runs(AutoScaling.ScalingProcesses.ScheduledActions))
        {
            return;
        }

        foreach (var a in g.ScheduledActions.Where(a => a.Time <= now).OrderBy(a => a.Time).ToList())
        {
            g.ScheduledActions.Remove(a);
            var min = a.MinSize ?? g.MinSize;
            var max = a.MaxSize ?? g.MaxSize;
            var desired = a.DesiredCapacity ?? Math.Clamp(g.DesiredCapacity, min, Math.Max(min, max));
            var description = $"Executing scheduled action {a.Name}";
            var cause = $"At {Stamp(a.Time)} a scheduled action update of AutoScalingGroup constraints to min: {min}, max: {max}, desired: {desired} changing the desired capacity from {g.DesiredCapacity} to {desired}.";
            if (min > max || desired < min || desired > max)
            {
                var failed = Record(w, g, now, description, cause, null, launch: false, done: true);
                failed.StatusCode = AutoScaling.ActivityStatus.Failed;
                failed.StatusMessage = $"Desired capacity:{desired} must be between the specified min size:{min} and max size:{max}";
                continue;
            }

            g.MinSize = min;
            g.MaxSize = max;
            g.DesiredCapacity = desired;
            Record(w, g, now, description, cause, null, launch: false, done: true);
        }
    }

    /// <summary>Terminates a member (shutting-down), with its scaling activity.</summary>
    internal static void Terminate(World w, RegionState r, AutoScalingGroup g, Instance i, DateTime now, string code, string message, string cause)
    {
        _ = r;
        i.State = InstanceStates.ShuttingDown;
        i.StateDueAt = now.AddSeconds(w.Durations.InstanceShuttingDown);
        i.StateReasonCode = code;
        i.StateReasonMessage = $"{code}: {message}";
        i.StateTransitionReason = $"Service initiated ({now:yyyy-MM-dd HH:mm:ss} GMT)";
        i.DiesAt = null;
        g.Terminated++;
        Record(w, g, now, $"Terminating EC2 instance: {i.Id}", cause, i.Id, launch: false);
    }

    /// <summary>What a launch uses, from the group's launch template version or launch configuration.</summary>
    private sealed record LaunchSpec(string? ImageId, string? InstanceType, string? KeyName, string? UserData, List<string> SecurityGroupIds, string? ProfileArn, string? ProfileName, MemberLaunch From);

    private static LaunchSpec? Spec(RegionState r, AutoScalingGroup g)
    {
        if (g.LaunchConfigurationName is { } lcName)
        {
            if (!r.LaunchConfigurations.TryGetValue(lcName, out var lc))
            {
                return null;
            }

            var arn = lc.IamInstanceProfile is { } p && p.StartsWith("arn:", StringComparison.Ordinal) ? p : null;
            var name = arn is null ? lc.IamInstanceProfile : null;
            return new LaunchSpec(lc.ImageId, lc.InstanceType, lc.KeyName, lc.UserData, lc.SecurityGroups.ToList(), arn, name, new MemberLaunch(null, null, null, lc.Name));
        }

        if (g.LaunchTemplateId is null || !r.LaunchTemplates.TryGetValue(g.LaunchTemplateId, out var template))
        {
            return null;
        }

        LaunchTemplateVersion v;
        try
        {
            v = Ec2Service.ResolveVersion(template, g.LaunchTemplateVersion);
        }
        catch (Ec2Error)
        {
            return null;
        }

        var data = v.Data;
        return new LaunchSpec(data.ImageId, data.InstanceType, data.KeyName, data.UserData, new List<string>(data.SecurityGroupIds), data.IamInstanceProfileArn, data.IamInstanceProfileName,
            new MemberLaunch(template.Id, template.Name, v.Number.ToString(System.Globalization.CultureInfo.InvariantCulture), null));
    }

    /// <summary>Launches one member into the least used healthy subnet; null if none can take it.</summary>
    private static Instance? TryLaunch(World w, RegionState r, AutoScalingGroup g, DateTime now)
    {
        var data = Spec(r, g);
        if (data is null || data.ImageId is null || !r.Images.TryGetValue(data.ImageId, out var image) || image.State != "available")
        {
            return null;
        }

        var counts = Members(r, g).GroupBy(i => i.SubnetId).ToDictionary(x => x.Key, x => x.Count());
        var subnet = g.SubnetIds
            .Select(id => r.Subnets.GetValueOrDefault(id))
            .Where(s => s is not null && r.FindZone(s.AvailabilityZone)?.Failed != true)
            .OrderBy(s => counts.GetValueOrDefault(s!.Id))
            .FirstOrDefault();
        if (subnet is null || subnet.Cidr.Usable - r.NetworkInterfaces.Values.Where(n => n.SubnetId == subnet.Id).Sum(n => n.PrivateIps.Count) < 1)
        {
            return null;
        }

        var ctx = new Ctx { World = w, Region = r, P = new QueryParams([]), Action = "AutoScaling" };
        var groups = data.SecurityGroupIds.Count > 0 ? new List<string>(data.SecurityGroupIds) : [r.SecurityGroups.Values.First(s => s.VpcId == subnet.VpcId && s.Name == "default").Id];
        var (arn, profileId) = Ec2Service.Profile(ctx, data.ProfileArn, data.ProfileName);
        var instanceId = w.NewId("i");
        var eni = new NetworkInterface
        {
            Id = w.NewId("eni"),
            SubnetId = subnet.Id,
            VpcId = subnet.VpcId,
            AvailabilityZone = subnet.AvailabilityZone,
            MacAddress = w.NewMac(),
            GroupIds = groups,
            InstanceId = instanceId,
            AttachmentId = w.NewId("eni-attach", false),
            AttachTime = now,
        };
        eni.PrivateIps.Add(new PrivateIp { Address = Ec2Service.NextFreeAddress(r, subnet), Primary = true });
        r.NetworkInterfaces[eni.Id] = eni;
        var inst = new Instance
        {
            Id = instanceId,
            ReservationId = w.NewId("r", false),
            ImageId = image.Id,
            InstanceType = data.InstanceType ?? "m5.xlarge",
            SubnetId = subnet.Id,
            VpcId = subnet.VpcId,
            AvailabilityZone = subnet.AvailabilityZone,
            NetworkInterfaceId = eni.Id,
            PrivateIpAddress = eni.PrimaryIp,
            GroupIds = new List<string>(groups),
            KeyName = data.KeyName,
            IamProfileArn = arn,
            IamProfileId = profileId,
            UserData = data.UserData,
            RootDeviceName = image.RootDeviceName,
            Architecture = image.Architecture,
            EnaSupport = image.EnaSupport,
            VirtualizationType = image.VirtualizationType,
            LaunchTime = now,
            State = InstanceStates.Pending,
            StateDueAt = now.AddSeconds(w.Durations.InstancePending),
        };
        foreach (var (k, v) in g.PropagatedTags)
        {
            inst.Tags[k] = v;
        }

        inst.Tags[GroupTag] = g.Name;
        foreach (var d in Ec2Service.PlanDevices(ctx, image, []))
        {
            var vol = Ec2Service.NewVolume(ctx, d.Size, d.Type, d.Iops, d.Throughput, d.Encrypted, d.KmsKeyId, subnet.AvailabilityZone, d.SnapshotId, "in-use");
            vol.Attachment = new VolumeAttachment { InstanceId = instanceId, Device = d.Device, State = "attached", AttachTime = now, DeleteOnTermination = d.DeleteOnTermination };
            vol.Tags[GroupTag] = g.Name;
            inst.BlockDevices.Add(new InstanceBlockDevice { DeviceName = d.Device, VolumeId = vol.Id, AttachTime = now, DeleteOnTermination = d.DeleteOnTermination });
        }

        r.Instances[inst.Id] = inst;
        g.MemberLaunches[inst.Id] = data.From;
        return inst;
    }
}

/// <summary>A view of a simulated Auto Scaling group.</summary>
public sealed record AutoScalingGroupInfo(
    string Region,
    string Name,
    string LaunchTemplateId,
    string LaunchTemplateVersion,
    int MinSize,
    int MaxSize,
    int DesiredCapacity,
    bool Suspended,
    IReadOnlyList<string> InstanceIds,
    int Launched,
    int Terminated,
    string? LaunchConfigurationName = null);
