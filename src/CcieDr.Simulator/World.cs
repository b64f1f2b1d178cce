using CcieDr.Simulator.Ec2;

namespace CcieDr.Simulator;

/// <summary>The whole simulated cloud: regions, clock, faults, log. Every access holds <see cref="Sync"/>.</summary>
internal sealed class World
{
    public static readonly IReadOnlyDictionary<string, string> KnownRegions = new Dictionary<string, string>
    {
        ["us-east-1"] = "use1",
        ["us-east-2"] = "use2",
        ["us-west-1"] = "usw1",
        ["us-west-2"] = "usw2",
        ["eu-west-1"] = "euw1",
        ["eu-central-1"] = "euc1",
    };

    private readonly HashSet<string> usedIds = new(StringComparer.Ordinal);
    private Random random = new(20261128);

    public World(SimulatorOptions options)
    {
        Options = options;
        AccountId = options.AccountId;
        Durations = options.Durations.Clone();
        PageSize = options.PageSize;
        Clock = new SimClock(options.StartTime ?? TruncateToSeconds(DateTime.UtcNow), options.ClockMode);
        Regions = new Dictionary<string, RegionState>(StringComparer.Ordinal);
        Reset();
    }

    public object Sync { get; } = new();

    public SimulatorOptions Options { get; }

    public string AccountId { get; }

    public SimClock Clock { get; }

    public TransitionDurations Durations { get; set; }

    public int? PageSize { get; set; }

    public Dictionary<string, RegionState> Regions { get; }

    public Faults Faults { get; } = new();

    public List<RequestLogEntry> RequestLog { get; } = new();

    /// <summary>Eventual consistency: id → how many more calls naming it answer NotFound.</summary>
    public Dictionary<string, int> Invisible { get; } = new(StringComparer.Ordinal);

    /// <summary>Eventual consistency for new ids: each newly created resource id answers NotFound this many times.</summary>
    public int NewIdInvisibleCalls { get; set; }

    public DateTime Now => Clock.Now;

    /// <summary>SSM canned responses (newest wins).</summary>
    public List<SsmResponseRule> SsmRules { get; } = new();

    /// <summary>In-proc SSM handler, consulted before the rules; null result = fall through to the rules.</summary>
    public Func<SsmCommandRequest, SsmCommandResult?>? SsmHandler { get; set; }

    /// <summary>Runs SSM commands for real, per instance, inside bubblewrap (null: the sandbox is off).</summary>
    public Ssm.SsmSandbox? Sandbox { get; set; }

    /// <summary>The in-proc handler's or a response rule's answer to an SSM command, or null when none answers.</summary>
    public SsmCommandResult? AnswerSsm(SsmCommandRequest request) =>
        SsmHandler?.Invoke(request) ?? Ssm.SsmService.FromRules(SsmRules, request);

    /// <summary>What an SSM command prints and returns (without the sandbox).</summary>
    public SsmCommandResult RunSsm(SsmCommandRequest request)
    {
        return AnswerSsm(request)
            ?? new SsmCommandResult
            {
                ExitCode = 127,
                StandardError = "simulator: no SSM response matches this script; add one with Control.AddSsmResponse or POST /_sim/ssm/responses\n",
            };
    }

    public static DateTime TruncateToSeconds(DateTime t) =>
        new(t.Ticks - (t.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);

    public void Reset()
    {
        // Restart the id generator before anything draws ids: clearing it afterwards handed out the ids of the
        // regions' base image and snapshot again (a new snapshot then replaced the base image's snapshot).
        usedIds.Clear();
        random = new Random(20261128);
        Regions.Clear();
        foreach (var (name, code) in KnownRegions)
        {
            var r = new RegionState(name, code);
            r.DefaultKmsKeyArn = Kms.KmsService.AddKey(this, r, DeterministicGuid("kms-default-" + name), "AWS", "Default key that protects my EBS volumes when no other key is defined", "alias/aws/ebs").Arn;
            Regions[name] = r;
            SeedRegionBasics(r);
        }

        Faults.Clear();
        RequestLog.Clear();
        SsmRules.Clear();
        Sandbox?.Clear();
        Invisible.Clear();
        NewIdInvisibleCalls = 0;
    }

    public RegionState Region(string name) =>
        Regions.TryGetValue(name, out var r)
            ? r
            : throw new ArgumentException($"unknown region '{name}' (known: {string.Join(", ", Regions.Keys)})", nameof(name));

    /// <summary>A new AWS-style id: prefix + '-' + 17 hex digits.</summary>
    public string NewId(string prefix, bool trackConsistency = true)
    {
        string id;
        Span<byte> b = stackalloc byte[9];
        do
        {
            random.NextBytes(b);
            id = prefix + "-0" + Convert.ToHexString(b).ToLowerInvariant()[..16];
        }
        while (!usedIds.Add(id));

        if (trackConsistency && NewIdInvisibleCalls > 0)
        {
            Invisible[id] = NewIdInvisibleCalls;
        }

        return id;
    }

    public string NewMac()
    {
        Span<byte> b = stackalloc byte[5];
        random.NextBytes(b);
        return "0e:" + string.Join(":", b.ToArray().Select(x => x.ToString("x2")));
    }

    public static Guid DeterministicGuid(string seed)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(seed));
        return new Guid(hash.AsSpan(0, 16));
    }

    private void SeedRegionBasics(RegionState r)
    {
        // A public base image (Canonical's Ubuntu) exists in every region, as in real AWS.
        var snap = new Snapshot
        {
            Id = NewId("snap", false),
            VolumeId = "vol-ffffffff",
            VolumeSize = 8,
            OwnerId = "099720109477",
            StartTime = Now.AddDays(-30),
            State = "completed",
            Description = "Ubuntu 24.04 LTS base snapshot",
        };
        r.Snapshots[snap.Id] = snap;
        var img = new Image
        {
            Id = NewId("ami", false),
            Name = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261101",
            Description = "Canonical, Ubuntu, 24.04, amd64 noble image",
            OwnerId = "099720109477",
            IsPublic = true,
            State = "available",
            CreationDate = Now.AddDays(-30),
            Architecture = "x86_64",
            EnaSupport = true,
            RootDeviceName = "/dev/sda1",
            BlockDevices = { new ImageBlockDevice { DeviceName = "/dev/sda1", SnapshotId = snap.Id, VolumeSize = 8, VolumeType = "gp3" } },
        };
        r.Images[img.Id] = img;
    }

    /// <summary>Moves every timed state machine up to now.</summary>
    public void Tick()
    {
        var now = Now;
        foreach (var region in Regions.Values)
        {
            TickRegion(region, now);
        }
    }

    // A running instance with a volume restored from a corrupt snapshot cannot mount it: its OS stops in emergency
    // mode and the instance status check fails (the snapshot itself looks completed).
    private void MarkCorruptBoots(RegionState r)
    {
        foreach (var i in r.Instances.Values)
        {
            if (i.Impaired || i.State != InstanceStates.Running)
            {
                continue;
            }

            foreach (var d in i.BlockDevices)
            {
                if (r.Volumes.TryGetValue(d.VolumeId, out var v) && v.SnapshotId is { } sid && r.Snapshots.TryGetValue(sid, out var snap) && snap.Corrupt)
                {
                    i.Impaired = true;
                    Faults.Count("corrupt-snapshot", sid);
                    break;
                }
            }
        }
    }

    private void TickRegion(RegionState r, DateTime now)
    {
        MarkCorruptBoots(r);

        // Instances: loop because one tick may cover several transitions (dies → stopping → stopped).
        bool changed;
        do
        {
            changed = false;
            foreach (var i in r.Instances.Values.ToList())
            {
                if (r.FindZone(i.AvailabilityZone)?.Frozen == true)
                {
                    // The zone's control plane is out: the instance stays in its last state until the zone comes back.
                    continue;
                }

                if (i.DiesAt is { } dies && dies <= now && i.State is InstanceStates.Running or InstanceStates.Pending)
                {
                    i.DiesAt = null;
                    i.State = InstanceStates.Stopping;
                    i.StateDueAt = dies.AddSeconds(Durations.InstanceStopping);
                    i.StateReasonCode = "Server.InternalError";
                    i.StateReasonMessage = "Server.InternalError: Internal error on the underlying host";
                    i.StateTransitionReason = $"Server initiated shutdown ({dies:yyyy-MM-dd HH:mm:ss} GMT)";
                    changed = true;
                }

                if (i.StateDueAt is not { } due || due > now)
                {
                    if (i.State == InstanceStates.Terminated && i.TerminatedAt is { } t && t.AddSeconds(Durations.TerminatedRetention) <= now)
                    {
                        r.Instances.Remove(i.Id);
                        changed = true;
                    }

                    continue;
                }

                i.StateDueAt = null;
                changed = true;
                switch (i.State)
                {
                    case InstanceStates.Pending:
                        i.State = InstanceStates.Running;
                        i.RunningSince = due;
                        break;
                    case InstanceStates.Stopping:
                        i.State = InstanceStates.Stopped;
                        i.RunningSince = null;
                        i.StateReasonCode ??= "Client.UserInitiatedShutdown";
                        i.StateReasonMessage ??= "Client.UserInitiatedShutdown: User initiated shutdown";
                        break;
                    case InstanceStates.ShuttingDown:
                        i.State = InstanceStates.Terminated;
                        i.RunningSince = null;
                        i.TerminatedAt = due;
                        ReleaseInstanceResources(r, i, due);
                        break;
                }
            }
        }
        while (changed);

        AutoScaler.Reconcile(this, r, now);
        AutoScaler.Observe(this, r, now);
        Kms.KmsService.Expire(r, now);
        CloudWatch.CloudWatchPublisher.Tick(this, r, now);

        foreach (var v in r.Volumes.Values)
        {
            if (v.State == "creating" && v.StateDueAt is { } vd && vd <= now)
            {
                v.State = v.Attachment is null ? "available" : "in-use";
                v.StateDueAt = null;
            }

            if (v.Attachment is { DueAt: { } ad } a && ad <= now)
            {
                a.DueAt = null;
                if (a.State == "attaching")
                {
                    a.State = "attached";
                }
                else if (a.State == "detaching")
                {
                    v.Attachment = null;
                    v.State = "available";
                    if (r.Instances.TryGetValue(a.InstanceId, out var inst))
                    {
                        inst.BlockDevices.RemoveAll(b => b.VolumeId == v.Id);
                    }
                }
            }
        }

        foreach (var s in r.Snapshots.Values)
        {
            if (s.State == "pending" && s.StartTime.AddSeconds(s.DurationSeconds) <= now)
            {
                if (s.WillFail)
                {
                    s.State = "error";
                    s.StateMessage = "Snapshot creation failed: an internal error occurred";
                }
                else
                {
                    s.State = "completed";
                }
            }
        }

        foreach (var img in r.Images.Values)
        {
            if (img.State != "pending")
            {
                continue;
            }

            var snaps = img.BlockDevices.Where(b => b.SnapshotId is not null)
                .Select(b => r.Snapshots.GetValueOrDefault(b.SnapshotId!))
                .ToList();
            if (snaps.Any(s => s is null || s.State == "error"))
            {
                img.State = "failed";
                img.StateReason = "Client.InternalError: A snapshot of the image failed";
            }
            else if (img.WillFail && img.AvailableAt is { } failAt && failAt <= now)
            {
                img.State = "failed";
                img.StateReason = "Client.InternalError: An internal error has occurred during image registration";
            }
            else if (img.AvailableAt is { } at && at <= now && snaps.All(s => s!.State == "completed"))
            {
                img.State = "available";
            }
        }
    }

    /// <summary>At termination: delete DeleteOnTermination volumes, detach the others, delete the interface (its IPs go free).</summary>
    public void ReleaseInstanceResources(RegionState r, Instance i, DateTime at)
    {
        foreach (var bd in i.BlockDevices)
        {
            if (!r.Volumes.TryGetValue(bd.VolumeId, out var v))
            {
                continue;
            }

            if (bd.DeleteOnTermination)
            {
                r.Volumes.Remove(v.Id);
            }
            else
            {
                v.Attachment = null;
                v.State = "available";
            }
        }

        i.BlockDevices.Clear();
        foreach (var eni in r.NetworkInterfaces.Values.Where(n => n.InstanceId == i.Id).ToList())
        {
            if (eni.DeleteOnTermination)
            {
                r.NetworkInterfaces.Remove(eni.Id);
            }
            else
            {
                eni.InstanceId = null;
                eni.AttachmentId = null;
                eni.AttachTime = null;
            }
        }

        _ = at;
    }

    public void Log(RequestLogEntry entry)
    {
        RequestLog.Add(entry);
        if (RequestLog.Count > 20000)
        {
            RequestLog.RemoveRange(0, 5000);
        }
    }
}

/// <summary>One EC2 request the simulator served.</summary>
public sealed class RequestLogEntry
{
    public required DateTime Time { get; init; }

    /// <summary>"ec2", "ssm" or "kms".</summary>
    public string Service { get; init; } = "ec2";

    public required string Region { get; init; }

    public required string Action { get; init; }

    public required IReadOnlyDictionary<string, string> Parameters { get; init; }

    public int Status { get; set; }

    public string? ErrorCode { get; set; }

    /// <summary>The injected fault that answered this request, if any.</summary>
    public string? Fault { get; set; }
}
