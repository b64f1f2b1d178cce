using System.Text.Json;
using System.Text.Json.Nodes;
using CcieDr.Simulator.Ec2;

namespace CcieDr.Simulator;

/// <summary>
/// In-process control of a running simulator: the same operations as the HTTP control API under <c>/_sim/</c>.
/// Thread-safe.
/// </summary>
public sealed partial class SimulatorControl
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private readonly World world;

    internal SimulatorControl(World world)
    {
        this.world = world;
    }

    /// <summary>Simulated now (UTC).</summary>
    public DateTime Now
    {
        get
        {
            lock (world.Sync)
            {
                return world.Now;
            }
        }
    }

    /// <summary>Regions the simulator knows.</summary>
    public IReadOnlyList<string> Regions => World.KnownRegions.Keys.ToList();

    /// <summary>Wipes every region back to empty (only the public base image), clears faults, counters and the request log. Keeps clock and config.</summary>
    public void Reset() => Locked(() => world.Reset());

    /// <summary>Seeds the CircleCI topology into <paramref name="region"/> and returns its ids.</summary>
    public SeedResult SeedCircleCi(string region = "us-east-1") => Locked(() =>
    {
        var seed = Seeder.Seed(world, region);

        // The Services box's disk exists from the start (a snapshot of it, restored, carries its files).
        world.Sandbox?.BoxRoot(world.Region(region).Instances[seed.ServicesInstanceId], world.Region(region), world.Now);
        return seed;
    });

    /// <summary>Moves simulated time forward.</summary>
    public void AdvanceClock(TimeSpan by) => Locked(() =>
    {
        world.Clock.Advance(by);
        world.Tick();
    });

    /// <summary>Moves simulated time forward by <paramref name="seconds"/>.</summary>
    public void AdvanceClock(double seconds) => AdvanceClock(TimeSpan.FromSeconds(seconds));

    /// <summary>Current clock mode.</summary>
    public ClockMode ClockMode => Locked(() => world.Clock.Mode);

    /// <summary>Switches between manual and real-time clock (time stays continuous).</summary>
    public void SetClockMode(ClockMode mode) => Locked(() => world.Clock.SetMode(mode));

    /// <summary>A copy of the current transition durations.</summary>
    public TransitionDurations Durations => Locked(() => world.Durations.Clone());

    /// <summary>Replaces the transition durations (affects transitions started from now on).</summary>
    public void SetDurations(TransitionDurations durations) => Locked(() => world.Durations = durations.Clone());

    /// <summary>Sets every transition to <paramref name="seconds"/> (volume attach to half of it).</summary>
    public void SetTransitionSeconds(double seconds) => Locked(() => world.Durations.SetAll(seconds));

    /// <summary>Default page size of paginated Describe* calls without MaxResults (null = all in one page).</summary>
    public int? PageSize
    {
        get => Locked(() => world.PageSize);
        set => Locked(() => world.PageSize = value is > 0 ? value : null);
    }

    /// <summary>Injects a request-level fault (throttle, internal-error, unavailable, drop, drop-after, timeout).</summary>
    public void InjectFault(FaultSpec fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        if (fault.Region is not null && !World.KnownRegions.ContainsKey(fault.Region))
        {
            throw new ArgumentException($"unknown region '{fault.Region}'", nameof(fault));
        }

        Locked(() => world.Faults.Add(fault));
    }

    /// <summary>Shorthand: <paramref name="count"/> calls of <paramref name="action"/> (null = any) get fault <paramref name="kind"/>.</summary>
    public void InjectFault(string kind, string? action, int count) => InjectFault(new FaultSpec { Kind = kind, Action = action, Count = count });

    /// <summary>Drops all pending (not yet served) faults: request faults and pending snapshot failures. Counters stay.</summary>
    public void ClearFaults() => Locked(() => world.Faults.ClearPending());

    /// <summary>Faults served so far, per kind and action.</summary>
    public IReadOnlyList<FaultCount> FaultCounters() => Locked(() => world.Faults.Served());

    /// <summary>How many faults of <paramref name="kind"/> were served (for <paramref name="action"/>, or all actions).</summary>
    public int FaultCount(string kind, string? action = null) =>
        FaultCounters().Where(c => c.Kind == kind && (action is null || c.Action == action)).Sum(c => c.Count);

    /// <summary>Faults injected and not yet served.</summary>
    public IReadOnlyList<FaultSpec> PendingFaults() => Locked(() => world.Faults.Pending());

    /// <summary>Eventual consistency: every resource id created from now on answers NotFound (and is missing from lists) for the next <paramref name="calls"/> calls that touch it. 0 turns it off.</summary>
    public void SetEventualConsistency(int calls) => Locked(() => world.NewIdInvisibleCalls = Math.Max(0, calls));

    /// <summary>Eventual consistency for one existing id: NotFound for the next <paramref name="calls"/> calls that touch it.</summary>
    public void HideResource(string resourceId, int calls) => Locked(() =>
    {
        if (calls <= 0)
        {
            world.Invisible.Remove(resourceId);
        }
        else
        {
            world.Invisible[resourceId] = calls;
        }
    });

    /// <summary>An instance that dies: status checks impaired now, then it stops (stopping → stopped) after <paramref name="stopAfterSeconds"/> simulated seconds.</summary>
    public void KillInstance(string region, string instanceId, double stopAfterSeconds = 10) => Locked(() =>
    {
        world.Tick();
        var r = world.Region(region);
        if (!r.Instances.TryGetValue(instanceId, out var i))
        {
            throw new ArgumentException($"no instance {instanceId} in {region}", nameof(instanceId));
        }

        i.Impaired = true;
        i.DiesAt = world.Now.AddSeconds(Math.Max(0, stopAfterSeconds));
        world.Faults.Count("instance-death", instanceId);
        world.Tick();
    });

    /// <summary>Sets or clears failing status checks (impaired) on an instance without killing it.</summary>
    public void SetInstanceImpaired(string region, string instanceId, bool impaired) => Locked(() =>
    {
        var r = world.Region(region);
        if (!r.Instances.TryGetValue(instanceId, out var i))
        {
            throw new ArgumentException($"no instance {instanceId} in {region}", nameof(instanceId));
        }

        i.Impaired = impaired;
        if (impaired)
        {
            world.Faults.Count("instance-impaired", instanceId);
        }
    });

    /// <summary>A snapshot that fails: it goes to state <c>error</c> now.</summary>
    public void FailSnapshot(string region, string snapshotId) => Locked(() =>
    {
        var r = world.Region(region);
        if (!r.Snapshots.TryGetValue(snapshotId, out var s))
        {
            throw new ArgumentException($"no snapshot {snapshotId} in {region}", nameof(snapshotId));
        }

        s.WillFail = true;
        s.State = "error";
        s.StateMessage = "Snapshot creation failed: an internal error occurred";
        world.Faults.Count("snapshot-failure", snapshotId);
        world.Tick();
    });

    /// <summary>A snapshot whose data is broken though it reports completed: a box restored from it fails its instance status check.</summary>
    public void CorruptSnapshot(string region, string snapshotId) => Locked(() =>
    {
        var r = world.Region(region);
        if (!r.Snapshots.TryGetValue(snapshotId, out var s))
        {
            throw new ArgumentException($"no snapshot {snapshotId} in {region}", nameof(snapshotId));
        }

        s.Corrupt = true;
        world.Tick();
    });

    /// <summary>An image that fails: a pending AMI goes to state <c>failed</c> now.</summary>
    public void FailImage(string region, string imageId) => Locked(() =>
    {
        var r = world.Region(region);
        if (!r.Images.TryGetValue(imageId, out var img))
        {
            throw new ArgumentException($"no image {imageId} in {region}", nameof(imageId));
        }

        img.WillFail = true;
        img.State = "failed";
        img.StateReason = "Client.InternalError: An internal error has occurred during image registration";
        world.Faults.Count("image-failure", imageId);
        world.Tick();
    });

    /// <summary>The next <paramref name="count"/> images registered (RegisterImage, CreateImage) go to <c>failed</c> instead of <c>available</c> when their time comes.</summary>
    public void FailNextImages(int count) => Locked(() => world.Faults.PendingImageFailures = Math.Max(0, count));

    /// <summary>The next <paramref name="count"/> snapshots created (CreateSnapshot(s), CreateImage, CopySnapshot) fail: pending, then <c>error</c> instead of completed.</summary>
    public void FailNextSnapshots(int count) => Locked(() => world.Faults.PendingSnapshotFailures = Math.Max(0, count));

    /// <summary>A failed AZ: shows impaired, its instances' status checks fail, launches into it fail with <paramref name="error"/> (InsufficientInstanceCapacity or Unsupported).</summary>
    public void FailAvailabilityZone(string region, string zone, string error = "InsufficientInstanceCapacity") => Locked(() =>
    {
        if (error is not ("InsufficientInstanceCapacity" or "Unsupported"))
        {
            throw new ArgumentException("error must be InsufficientInstanceCapacity or Unsupported", nameof(error));
        }

        var z = world.Region(region).FindZone(zone) ?? throw new ArgumentException($"no zone {zone} in {region}", nameof(zone));
        z.Failed = true;
        z.FailureError = error;
        z.OutageMode = AzOutageMode.Impaired;
        world.Faults.Count("az-outage", zone);
    });

    /// <summary>Ends an AZ outage.</summary>
    public void RestoreAvailabilityZone(string region, string zone) => Locked(() =>
    {
        var z = world.Region(region).FindZone(zone) ?? throw new ArgumentException($"no zone {zone} in {region}", nameof(zone));
        z.Failed = false;
        z.OutageMode = AzOutageMode.Impaired;
    });

    /// <summary>SSM: scripts matching <paramref name="rule"/>.Match (regex) answer with its exit code and output (newest rule wins).</summary>
    public void AddSsmResponse(SsmResponseRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        _ = new System.Text.RegularExpressions.Regex(rule.Match);
        Locked(() => world.SsmRules.Add(rule));
    }

    /// <summary>SSM: shorthand for <see cref="AddSsmResponse(SsmResponseRule)"/>.</summary>
    public void AddSsmResponse(string match, string stdout, int exitCode = 0, string stderr = "", string? instanceId = null, double? durationSeconds = null) =>
        AddSsmResponse(new SsmResponseRule { Match = match, Stdout = stdout, ExitCode = exitCode, Stderr = stderr, InstanceId = instanceId, DurationSeconds = durationSeconds });

    /// <summary>SSM: removes every response rule.</summary>
    public void ClearSsmResponses() => Locked(() => world.SsmRules.Clear());

    /// <summary>SSM: an in-proc handler consulted before the rules (return null to fall through). Called under the simulator lock: keep it quick.</summary>
    public void SetSsmHandler(Func<SsmCommandRequest, SsmCommandResult?>? handler) => Locked(() => world.SsmHandler = handler);

    /// <summary>KMS: the keys of <paramref name="region"/> (the aws/ebs key and, once seeded, the data volume's key).</summary>
    public IReadOnlyList<KmsKeyInfo> KmsKeys(string region = "us-east-1") => Locked(() =>
    {
        world.Tick();
        var r = world.Region(region);
        return r.KmsKeys.Values.OrderBy(k => k.KeyId, StringComparer.Ordinal).Select(k => KmsInfo(r, k)).ToList();
    });

    /// <summary>
    /// KMS: sets the state of key <paramref name="keyId"/> (key id, ARN or alias) to one of <see cref="KmsKeyStates"/>.
    /// PendingDeletion schedules the deletion <paramref name="pendingWindowInDays"/> simulated days from now; the key is
    /// deleted when the clock passes that date.
    /// </summary>
    public KmsKeyInfo SetKmsKeyState(string region, string keyId, string state, int pendingWindowInDays = 7) => Locked(() =>
    {
        if (!KmsKeyStates.All.Contains(state))
        {
            throw new ArgumentException($"unknown KMS key state '{state}' (known: {string.Join(", ", KmsKeyStates.All)})", nameof(state));
        }

        if (state == KmsKeyStates.PendingDeletion && pendingWindowInDays is < 7 or > 30)
        {
            throw new ArgumentException("pendingWindowInDays must be between 7 and 30", nameof(pendingWindowInDays));
        }

        var r = world.Region(region);
        var key = FindKmsKey(r, keyId);
        key.State = state;
        key.DeletionDate = state == KmsKeyStates.PendingDeletion ? world.Now.AddDays(pendingWindowInDays) : null;
        key.PendingWindowInDays = state == KmsKeyStates.PendingDeletion ? pendingWindowInDays : null;
        world.Faults.Count("kms-key-" + state, key.KeyId);
        return KmsInfo(r, key);
    });

    /// <summary>KMS: deletes key <paramref name="keyId"/> (key id, ARN or alias) and its aliases at once; DescribeKey then answers NotFoundException.</summary>
    public void DeleteKmsKey(string region, string keyId) => Locked(() =>
    {
        var r = world.Region(region);
        var key = FindKmsKey(r, keyId);
        Kms.KmsService.Delete(r, key);
        world.Faults.Count("kms-key-deleted", key.KeyId);
    });

    /// <summary>KMS: kms:DescribeKey on key <paramref name="keyId"/> answers AccessDeniedException (<paramref name="denied"/> true) or works again.</summary>
    public void SetKmsDescribeDenied(string region, string keyId, bool denied = true) => Locked(() =>
    {
        var key = FindKmsKey(world.Region(region), keyId);
        key.DescribeDenied = denied;
    });

    private KmsKey FindKmsKey(RegionState r, string keyId)
    {
        try
        {
            return Kms.KmsService.Find(world, r, keyId);
        }
        catch (Kms.KmsError e)
        {
            throw new ArgumentException($"no KMS key {keyId} in {r.Name}: {e.Message}", nameof(keyId));
        }
    }

    private static KmsKeyInfo KmsInfo(RegionState r, KmsKey k) =>
        new(r.Name, k.KeyId, k.Arn, k.State, k.KeyManager, k.Description, Kms.KmsService.AliasesOf(r, k), k.DeletionDate, k.DescribeDenied);

    /// <summary>
    /// Auto Scaling (simulated, no API): changes a group's desired capacity, launch template version and/or
    /// suspends/resumes it. A resumed group replaces stopped/impaired/terminated members from its launch template.
    /// </summary>
    public AutoScalingGroupInfo SetAutoScalingGroup(string region, string name, int? desiredCapacity = null, bool? suspended = null, string? launchTemplateVersion = null) => Locked(() =>
    {
        var r = world.Region(region);
        if (!r.AutoScalingGroups.TryGetValue(name, out var g))
        {
            throw new ArgumentException($"no Auto Scaling group {name} in {region}", nameof(name));
        }

        if (desiredCapacity is { } d)
        {
            if (d < g.MinSize || d > g.MaxSize)
            {
                throw new ArgumentException($"desired capacity {d} is outside {g.MinSize}..{g.MaxSize}", nameof(desiredCapacity));
            }

            g.DesiredCapacity = d;
        }

        if (suspended is { } s)
        {
            g.Suspended = s;
        }

        if (launchTemplateVersion is not null)
        {
            g.LaunchTemplateVersion = launchTemplateVersion;
        }

        world.Tick();
        return Info(r, g);
    });

    /// <summary>The next <paramref name="calls"/> changing Auto Scaling API calls on the group answer ResourceContention (HTTP 500).</summary>
    public void SetAutoScalingContention(string region, string name, int calls) => Locked(() =>
    {
        var r = world.Region(region);
        if (!r.AutoScalingGroups.TryGetValue(name, out var g))
        {
            throw new ArgumentException($"no Auto Scaling group {name} in {region}", nameof(name));
        }

        g.ContentionCalls = Math.Max(0, calls);
    });

    /// <summary>Auto Scaling groups of a region with their current members.</summary>
    public IReadOnlyList<AutoScalingGroupInfo> AutoScalingGroups(string region) => Locked(() =>
    {
        world.Tick();
        var r = world.Region(region);
        return r.AutoScalingGroups.Values.Select(g => Info(r, g)).ToList();
    });

    /// <summary>
    /// A group's capacity history, oldest first: a point whenever its desired size, members' lifecycle states or connected
    /// builders changed (<see cref="AutoScaler.Observe"/>), optionally only from <paramref name="since"/>.
    /// </summary>
    public IReadOnlyList<CapacityPoint> AutoScalingHistory(string region, string name, DateTime? since = null) => Locked(() =>
    {
        world.Tick();
        var r = world.Region(region);
        if (!r.AutoScalingGroups.TryGetValue(name, out var g))
        {
            throw new KeyNotFoundException($"no Auto Scaling group {name} in {region}");
        }

        return g.History.Where(p => since is null || p.Time >= since.Value.ToUniversalTime()).ToList();
    });

    private static AutoScalingGroupInfo Info(RegionState r, AutoScalingGroup g) =>
        new(r.Name, g.Name, g.LaunchTemplateId ?? "", g.LaunchTemplateVersion, g.MinSize, g.MaxSize, g.DesiredCapacity, g.Suspended,
            AutoScaler.Members(r, g).Select(i => i.Id).OrderBy(x => x, StringComparer.Ordinal).ToList(), g.Launched, g.Terminated, g.LaunchConfigurationName);

    /// <summary>EC2 requests served so far (optionally only one action), oldest first.</summary>
    public IReadOnlyList<RequestLogEntry> RequestLog(string? action = null) =>
        Locked(() => world.RequestLog.Where(e => action is null || e.Action == action).ToList());

    /// <summary>Empties the request log.</summary>
    public void ClearRequestLog() => Locked(() => world.RequestLog.Clear());

    /// <summary>A JSON dump of the whole state (clock, config, every region's resources).</summary>
    public JsonObject State() => Locked(() =>
    {
        world.Tick();
        return StateDump.Build(world);
    });

    private T Locked<T>(Func<T> f)
    {
        lock (world.Sync)
        {
            return f();
        }
    }

    private void Locked(Action a)
    {
        lock (world.Sync)
        {
            a();
        }
    }
}

internal static class StateDump
{
    public static JsonObject Build(World w)
    {
        var now = w.Now;
        var regions = new JsonObject();
        foreach (var r in w.Regions.Values)
        {
            var ctx = new Ctx { World = w, Region = r, P = new QueryParams([]), Action = "_state" };
            regions[r.Name] = JsonSerializer.SerializeToNode(new
            {
                zones = r.Zones.Select(z => new { name = z.Name, zoneId = z.ZoneId, state = z.Failed ? "impaired" : "available" }),
                vpcs = r.Vpcs.Values.Select(v => new { id = v.Id, cidr = v.CidrBlock, tags = v.Tags }),
                subnets = r.Subnets.Values.Select(s => new { id = s.Id, vpcId = s.VpcId, availabilityZone = s.AvailabilityZone, cidr = s.Cidr.Text, tags = s.Tags }),
                securityGroups = r.SecurityGroups.Values.Select(g => new { id = g.Id, name = g.Name, vpcId = g.VpcId }),
                keyPairs = r.KeyPairs.Values.Select(k => new { id = k.Id, name = k.Name }),
                networkInterfaces = r.NetworkInterfaces.Values.Select(n => new
                {
                    id = n.Id,
                    subnetId = n.SubnetId,
                    instanceId = n.InstanceId,
                    privateIps = n.PrivateIps.Select(p => new { address = p.Address, primary = p.Primary }),
                }),
                instances = r.Instances.Values.Select(i =>
                {
                    var (inst, sys) = Ec2Service.Status(ctx, i);
                    return new
                    {
                        id = i.Id,
                        state = i.State,
                        instanceStatus = inst,
                        systemStatus = sys,
                        instanceType = i.InstanceType,
                        imageId = i.ImageId,
                        availabilityZone = i.AvailabilityZone,
                        subnetId = i.SubnetId,
                        privateIpAddress = i.PrivateIpAddress,
                        networkInterfaceId = i.NetworkInterfaceId,
                        launchTime = i.LaunchTime,
                        stateReason = i.StateReasonCode,
                        blockDevices = i.BlockDevices.Select(b => new { device = b.DeviceName, volumeId = b.VolumeId, deleteOnTermination = b.DeleteOnTermination }),
                        tags = i.Tags,
                    };
                }),
                volumes = r.Volumes.Values.Select(v => new
                {
                    id = v.Id,
                    state = v.State,
                    size = v.Size,
                    type = v.VolumeType,
                    encrypted = v.Encrypted,
                    kmsKeyId = v.KmsKeyId,
                    availabilityZone = v.AvailabilityZone,
                    snapshotId = v.SnapshotId,
                    attachment = v.Attachment is null ? null : new { instanceId = v.Attachment.InstanceId, device = v.Attachment.Device, state = v.Attachment.State },
                    tags = v.Tags,
                }),
                snapshots = r.Snapshots.Values.Where(s => s.OwnerId == w.AccountId).Select(s => new
                {
                    id = s.Id,
                    state = s.State,
                    progress = s.Progress(now),
                    volumeId = s.VolumeId,
                    volumeSize = s.VolumeSize,
                    encrypted = s.Encrypted,
                    kmsKeyId = s.KmsKeyId,
                    description = s.Description,
                    startTime = s.StartTime,
                    sourceSnapshotId = s.SourceSnapshotId,
                    sourceRegion = s.SourceRegion,
                    tags = s.Tags,
                }),
                images = r.Images.Values.Where(i => i.OwnerId == w.AccountId).Select(i => new
                {
                    id = i.Id,
                    name = i.Name,
                    state = i.State,
                    rootDeviceName = i.RootDeviceName,
                    blockDevices = i.BlockDevices.Select(b => new { device = b.DeviceName, snapshotId = b.SnapshotId, size = b.VolumeSize, type = b.VolumeType }),
                    tags = i.Tags,
                }),
                autoScalingGroups = r.AutoScalingGroups.Values.Select(g => new
                {
                    name = g.Name,
                    desiredCapacity = g.DesiredCapacity,
                    suspended = g.Suspended,
                    launchTemplateId = g.LaunchTemplateId,
                    launchTemplateVersion = g.LaunchTemplateVersion,
                    instanceIds = AutoScaler.Members(r, g).Select(i => i.Id),
                }),
                kmsKeys = r.KmsKeys.Values.Select(k => new
                {
                    keyId = k.KeyId,
                    arn = k.Arn,
                    state = k.State,
                    keyManager = k.KeyManager,
                    aliases = Kms.KmsService.AliasesOf(r, k),
                    deletionDate = k.DeletionDate,
                }),
                launchTemplates = r.LaunchTemplates.Values.Select(t => new
                {
                    id = t.Id,
                    name = t.Name,
                    defaultVersion = t.DefaultVersion,
                    latestVersion = t.LatestVersion,
                }),
            }, SimulatorControl.Json);
        }

        return new JsonObject
        {
            ["now"] = now,
            ["clockMode"] = w.Clock.Mode.ToString().ToLowerInvariant(),
            ["pageSize"] = w.PageSize,
            ["durations"] = JsonSerializer.SerializeToNode(w.Durations, SimulatorControl.Json),
            ["eventualConsistencyCalls"] = w.NewIdInvisibleCalls,
            ["regions"] = regions,
        };
    }
}
