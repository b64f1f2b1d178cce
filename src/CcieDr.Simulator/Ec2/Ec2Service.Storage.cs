using System.Xml.Linq;
using static CcieDr.Simulator.Ec2.Xml;

namespace CcieDr.Simulator.Ec2;

internal sealed partial class Ec2Service
{
    internal static Volume NewVolume(Ctx ctx, int size, string type, int? iops, int? throughput, bool encrypted, string? kms, string az, string? snapshotId, string state, string? clientToken = null)
    {
        var v = new Volume
        {
            Id = ctx.World.NewId("vol"),
            Size = size,
            VolumeType = type,
            Iops = iops ?? type switch
            {
                "gp3" => 3000,
                "gp2" => Math.Clamp(size * 3, 100, 16000),
                _ => null,
            },
            Throughput = throughput ?? (type == "gp3" ? 125 : null),
            Encrypted = encrypted,
            KmsKeyId = encrypted ? KmsKeyArn(ctx, kms) ?? ctx.Region.DefaultKmsKeyArn : null,
            AvailabilityZone = az,
            SnapshotId = snapshotId,
            CreateTime = ctx.Now,
            State = state,
            StateDueAt = state == "creating" ? ctx.Now.AddSeconds(ctx.World.Durations.VolumeCreate) : null,
            ClientToken = clientToken,
        };
        ctx.Region.Volumes[v.Id] = v;
        return v;
    }

    /// <summary>
    /// The ARN of the KMS key <paramref name="given"/> names in this region (key id, key ARN, alias name or alias ARN), as
    /// EBS reports a volume's or snapshot's <c>kmsKeyId</c>; a key the region does not have is kept as given (EBS checks
    /// the key asynchronously, so the call itself succeeds).
    /// </summary>
    internal static string? KmsKeyArn(Ctx ctx, string? given)
    {
        if (string.IsNullOrEmpty(given))
        {
            return null;
        }

        try
        {
            return Kms.KmsService.Find(ctx.World, ctx.Region, given).Arn;
        }
        catch (Kms.KmsError)
        {
            return given;
        }
    }

    private static IEnumerable<object?> VolumeContent(Volume v, bool forDescribe)
    {
        yield return V("volumeId", v.Id);
        yield return V("size", v.Size);
        yield return V("snapshotId", v.SnapshotId ?? "");
        yield return V("availabilityZone", v.AvailabilityZone);
        yield return V("status", v.State);
        yield return V("createTime", v.CreateTime);
        if (forDescribe)
        {
            yield return Set("attachmentSet", v.Attachment is null ? [] : [Item(
                V("volumeId", v.Id),
                V("instanceId", v.Attachment.InstanceId),
                V("device", v.Attachment.Device),
                V("status", v.Attachment.State),
                V("attachTime", v.Attachment.AttachTime),
                V("deleteOnTermination", v.Attachment.DeleteOnTermination))]);
        }

        yield return V("volumeType", v.VolumeType);
        yield return V("iops", v.Iops);
        yield return V("throughput", v.Throughput);
        yield return V("encrypted", v.Encrypted);
        yield return V("kmsKeyId", v.KmsKeyId);
        yield return V("multiAttachEnabled", false);
        yield return TagSet(v.Tags);
    }

    private IEnumerable<object?> DescribeVolumes(Ctx ctx)
    {
        var ids = ctx.P.List("VolumeId");
        var items = ids.Count > 0 ? Named(ctx, ids, id => FindVolume(ctx, id)) : Visible(ctx, ctx.Region.Volumes.Values);
        var filtered = ApplyFilters(ctx, items, (v, f) => f switch
        {
            "volume-id" => [v.Id],
            "attachment.instance-id" => [v.Attachment?.InstanceId],
            "attachment.device" => [v.Attachment?.Device],
            "attachment.status" => [v.Attachment?.State],
            "attachment.delete-on-termination" => [v.Attachment is null ? null : v.Attachment.DeleteOnTermination ? "true" : "false"],
            "attachment.attach-time" => [v.Attachment is null ? null : Format(v.Attachment.AttachTime)],
            "availability-zone" => [v.AvailabilityZone],
            "status" => [v.State],
            "size" => [v.Size.ToString()],
            "snapshot-id" => [v.SnapshotId],
            "volume-type" => [v.VolumeType],
            "encrypted" => [v.Encrypted ? "true" : "false"],
            "create-time" => [Format(v.CreateTime)],
            "multi-attach-enabled" => ["false"],
            _ => null,
        });
        var (page, next) = Paginate(ctx, filtered, v => v.Id, 5, 500, ids.Count == 0);
        yield return Set("volumeSet", page.Select(v => Item(VolumeContent(v, true))));
        yield return V("nextToken", next);
    }

    private IEnumerable<object?> CreateVolume(Ctx ctx)
    {
        var p = ctx.P;
        var token = p.Get("ClientToken");
        if (token is { Length: > 0 } && ctx.Region.Volumes.Values.FirstOrDefault(v => v.ClientToken == token) is { } again)
        {
            return VolumeContent(again, false);
        }

        var az = p.Required("AvailabilityZone");
        var zone = ctx.Region.FindZone(az) ?? throw Ec2Error.InvalidValue($"Invalid availability zone: [{az}]");
        if (zone.Failed)
        {
            throw new Ec2Error("InsufficientVolumeCapacity", $"There is not enough capacity to fulfill your EBS volume provision request in {az}.", System.Net.HttpStatusCode.InternalServerError);
        }

        var snapId = p.Get("SnapshotId");
        var snap = snapId is null ? null : FindSnapshot(ctx, snapId);
        if (snap is not null && snap.State != "completed")
        {
            throw new Ec2Error("IncorrectState", $"Snapshot '{snap.Id}' is not in the completed state");
        }

        var size = p.Int("Size") ?? snap?.VolumeSize ?? throw Ec2Error.Missing("Size");
        if (snap is not null && size < snap.VolumeSize)
        {
            throw Ec2Error.InvalidValue($"Volume of size {size}GB is smaller than snapshot '{snap.Id}', expect size >= {snap.VolumeSize}GB");
        }

        var type = p.Get("VolumeType") ?? "gp2";
        CheckVolumeSpec(type, size, p.Int("Iops"), p.Int("Throughput"));
        var encrypted = (p.Bool("Encrypted") ?? false) || snap?.Encrypted == true;
        var kms = p.Get("KmsKeyId");
        if (kms is not null && !encrypted)
        {
            throw new Ec2Error("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.");
        }

        var tags = TagsFor(ctx, "volume", "volume");
        var v = NewVolume(ctx, size, type, p.Int("Iops"), p.Int("Throughput"), encrypted, kms ?? snap?.KmsKeyId, az, snap?.Id, "creating", token);
        foreach (var (k, val) in tags)
        {
            v.Tags[k] = val;
        }

        return VolumeContent(v, false);
    }

    private IEnumerable<object?> AttachVolume(Ctx ctx)
    {
        var v = FindVolume(ctx, ctx.P.Required("VolumeId"));
        var i = FindInstance(ctx, ctx.P.Required("InstanceId"));
        var device = ctx.P.Required("Device");
        if (v.Attachment is not null)
        {
            throw new Ec2Error("VolumeInUse", $"{v.Id} is already attached to an instance");
        }

        if (v.State != "available")
        {
            throw new Ec2Error("IncorrectState", $"The volume '{v.Id}' is not 'available'.");
        }

        if (i.State is not (InstanceStates.Running or InstanceStates.Stopped))
        {
            throw new Ec2Error("IncorrectInstanceState", $"Instance '{i.Id}' is not 'running' or 'stopped'.");
        }

        if (v.AvailabilityZone != i.AvailabilityZone)
        {
            throw new Ec2Error("InvalidVolume.ZoneMismatch", $"The volume '{v.Id}' is not in the same availability zone as instance '{i.Id}'");
        }

        if (i.BlockDevices.Any(b => b.DeviceName == device))
        {
            throw Ec2Error.InvalidValue($"Invalid value '{device}' for unixDevice. Attachment point {device} is already in use");
        }

        v.Attachment = new VolumeAttachment
        {
            InstanceId = i.Id,
            Device = device,
            State = "attaching",
            AttachTime = ctx.Now,
            DueAt = ctx.Now.AddSeconds(ctx.World.Durations.VolumeAttach),
        };
        v.State = "in-use";
        i.BlockDevices.Add(new InstanceBlockDevice { DeviceName = device, VolumeId = v.Id, AttachTime = ctx.Now, DeleteOnTermination = false });
        yield return V("volumeId", v.Id);
        yield return V("instanceId", i.Id);
        yield return V("device", device);
        yield return V("status", "attaching");
        yield return V("attachTime", ctx.Now);
    }

    private IEnumerable<object?> DetachVolume(Ctx ctx)
    {
        var v = FindVolume(ctx, ctx.P.Required("VolumeId"));
        var a = v.Attachment;
        if (a is null)
        {
            throw new Ec2Error("IncorrectState", $"Volume '{v.Id}' is in the '{v.State}' state.");
        }

        if (ctx.P.Get("InstanceId") is { } iid && iid != a.InstanceId)
        {
            throw new Ec2Error("InvalidAttachment.NotFound", $"Volume '{v.Id}' is not attached to instance '{iid}'.");
        }

        if (ctx.Region.Instances.TryGetValue(a.InstanceId, out var inst) && inst.RootDeviceName == a.Device && inst.State != InstanceStates.Stopped)
        {
            throw new Ec2Error("OperationNotPermitted", $"Unable to detach root volume '{v.Id}' from instance '{inst.Id}'");
        }

        if (a.State != "detaching")
        {
            a.State = "detaching";
            a.DueAt = ctx.Now.AddSeconds(ctx.World.Durations.VolumeAttach);
        }

        yield return V("volumeId", v.Id);
        yield return V("instanceId", a.InstanceId);
        yield return V("device", a.Device);
        yield return V("status", "detaching");
        yield return V("attachTime", a.AttachTime);
    }

    private IEnumerable<object?> DeleteVolume(Ctx ctx)
    {
        var v = FindVolume(ctx, ctx.P.Required("VolumeId"));
        if (v.Attachment is not null)
        {
            throw new Ec2Error("VolumeInUse", $"Volume {v.Id} is currently attached to {v.Attachment.InstanceId}");
        }

        ctx.Region.Volumes.Remove(v.Id);
        yield return ReturnTrue();
    }

    // ---------- snapshots ----------

    private static Snapshot NewSnapshot(Ctx ctx, Volume v, string description, double duration, Dictionary<string, string> tags)
    {
        var s = new Snapshot
        {
            Id = ctx.World.NewId("snap"),
            VolumeId = v.Id,
            VolumeSize = v.Size,
            Encrypted = v.Encrypted,
            KmsKeyId = v.KmsKeyId,
            StartTime = ctx.Now,
            DurationSeconds = duration,
            OwnerId = ctx.AccountId,
            Description = description,
            WillFail = TakeSnapshotFailure(ctx),
        };
        foreach (var (k, val) in tags)
        {
            s.Tags[k] = val;
        }

        ctx.Region.Snapshots[s.Id] = s;
        return s;
    }

    private static bool TakeSnapshotFailure(Ctx ctx)
    {
        if (ctx.World.Faults.PendingSnapshotFailures <= 0)
        {
            return false;
        }

        ctx.World.Faults.PendingSnapshotFailures--;
        ctx.World.Faults.Count("snapshot-failure", ctx.Action);
        return true;
    }

    private static IEnumerable<object?> SnapshotContent(Ctx ctx, Snapshot s)
    {
        yield return V("snapshotId", s.Id);
        yield return V("volumeId", s.VolumeId);
        yield return V("status", s.State);
        yield return V("statusMessage", s.StateMessage);
        yield return V("startTime", s.StartTime);
        yield return V("progress", $"{s.Progress(ctx.Now)}%");
        yield return V("ownerId", s.OwnerId);
        yield return V("volumeSize", s.VolumeSize);
        yield return V("description", s.Description);
        yield return V("encrypted", s.Encrypted);
        yield return V("kmsKeyId", s.KmsKeyId);
        yield return V("storageTier", "standard");
        yield return TagSet(s.Tags);
    }

    private IEnumerable<object?> CreateSnapshot(Ctx ctx)
    {
        var v = FindVolume(ctx, ctx.P.Required("VolumeId"));
        if (v.State is not ("available" or "in-use"))
        {
            throw new Ec2Error("IncorrectState", $"The volume '{v.Id}' is in the '{v.State}' state.");
        }

        var tags = TagsFor(ctx, "snapshot", "snapshot");
        var s = NewSnapshot(ctx, v, ctx.P.Get("Description") ?? "", ctx.World.Durations.Snapshot, tags);
        return SnapshotContent(ctx, s).ToList();
    }

    private IEnumerable<object?> CreateSnapshots(Ctx ctx)
    {
        var spec = ctx.P.Sub("InstanceSpecification");
        var i = FindInstance(ctx, spec.Required("InstanceId"));
        if (i.State is InstanceStates.Terminated or InstanceStates.ShuttingDown)
        {
            throw new Ec2Error("IncorrectInstanceState", $"The instance '{i.Id}' is not in a state from which snapshots can be created.");
        }

        var excludeBoot = spec.Bool("ExcludeBootVolume") ?? false;
        var excluded = spec.List("ExcludeDataVolumeId");
        var copyTags = ctx.P.Get("CopyTagsFromSource");
        if (copyTags is not null && copyTags != "volume")
        {
            throw Ec2Error.InvalidValue($"Value ({copyTags}) for parameter copyTagsFromSource is invalid. Expected: 'volume'.");
        }

        var tags = TagsFor(ctx, "snapshot", "snapshot");
        var devices = i.BlockDevices
            .Where(b => !(excludeBoot && b.DeviceName == i.RootDeviceName))
            .Where(b => !excluded.Contains(b.VolumeId))
            .Select(b => ctx.Region.Volumes.GetValueOrDefault(b.VolumeId))
            .Where(v => v is not null)
            .ToList();
        var created = new List<Snapshot>();
        foreach (var v in devices)
        {
            var t = new Dictionary<string, string>(StringComparer.Ordinal);
            if (copyTags == "volume")
            {
                foreach (var (k, val) in v!.Tags)
                {
                    t[k] = val;
                }
            }

            foreach (var (k, val) in tags)
            {
                t[k] = val;
            }

            created.Add(NewSnapshot(ctx, v!, ctx.P.Get("Description") ?? "", ctx.World.Durations.Snapshot, t));
        }

        yield return Set("snapshotSet", created.Select(s => Item(
            V("snapshotId", s.Id),
            V("volumeId", s.VolumeId),
            V("state", s.State),
            V("startTime", s.StartTime),
            V("progress", $"{s.Progress(ctx.Now)}%"),
            V("ownerId", s.OwnerId),
            V("volumeSize", s.VolumeSize),
            V("description", s.Description),
            V("encrypted", s.Encrypted),
            TagSet(s.Tags))));
    }

    private IEnumerable<object?> DescribeSnapshots(Ctx ctx)
    {
        var ids = ctx.P.List("SnapshotId");
        var owners = ctx.P.List("Owner");
        IEnumerable<Snapshot> items = ids.Count > 0
            ? Named(ctx, ids, id => FindSnapshot(ctx, id))
            : Visible(ctx, ctx.Region.Snapshots.Values).Where(s => owners.Count > 0 || s.OwnerId == ctx.AccountId);
        if (owners.Count > 0)
        {
            var ownerIds = owners.Select(o => o switch
            {
                "self" => ctx.AccountId,
                "amazon" => "amazon",
                _ => o,
            }).ToHashSet();
            items = items.Where(s => ownerIds.Contains(s.OwnerId));
        }

        var filtered = ApplyFilters(ctx, items, (s, f) => f switch
        {
            "snapshot-id" => [s.Id],
            "volume-id" => [s.VolumeId],
            "status" => [s.State],
            "description" => [s.Description],
            "owner-id" => [s.OwnerId],
            "owner-alias" => [s.OwnerId == ctx.AccountId ? "self" : null],
            "progress" => [$"{s.Progress(ctx.Now)}%"],
            "start-time" => [Format(s.StartTime)],
            "volume-size" => [s.VolumeSize.ToString()],
            "encrypted" => [s.Encrypted ? "true" : "false"],
            "kms-key-id" => [s.KmsKeyId],
            "storage-tier" => ["standard"],
            _ => null,
        });
        var (page, next) = Paginate(ctx, filtered, s => s.Id, 5, 1000, ids.Count == 0);
        yield return Set("snapshotSet", page.Select(s => Item(SnapshotContent(ctx, s))));
        yield return V("nextToken", next);
    }

    private IEnumerable<object?> DeleteSnapshot(Ctx ctx)
    {
        var s = FindSnapshot(ctx, ctx.P.Required("SnapshotId"));
        if (s.OwnerId != ctx.AccountId)
        {
            throw new Ec2Error("AuthFailure", $"Not authorized for snapshot '{s.Id}' owned by another account");
        }

        var user = ctx.Region.Images.Values.FirstOrDefault(img => img.BlockDevices.Any(b => b.SnapshotId == s.Id));
        if (user is not null)
        {
            throw new Ec2Error("InvalidSnapshot.InUse", $"The snapshot {s.Id} is currently in use by {user.Id}");
        }

        ctx.Region.Snapshots.Remove(s.Id);
        yield return ReturnTrue();
    }

    private IEnumerable<object?> CopySnapshot(Ctx ctx)
    {
        var p = ctx.P;
        var sourceRegionName = p.Required("SourceRegion");
        var sourceId = p.Required("SourceSnapshotId");
        if (!ctx.World.Regions.TryGetValue(sourceRegionName, out var sourceRegion))
        {
            throw Ec2Error.InvalidValue($"Value ({sourceRegionName}) for parameter sourceRegion is invalid. The region does not exist.");
        }

        CheckFormat(sourceId, "snap", "Snapshot");
        if (!sourceRegion.Snapshots.TryGetValue(sourceId, out var source) || Hidden(ctx, sourceId))
        {
            throw new Ec2Error("InvalidSnapshot.NotFound", $"The snapshot '{sourceId}' does not exist.");
        }

        if (source.State != "completed")
        {
            throw new Ec2Error("IncorrectState", $"Snapshot is in invalid state - {source.State}");
        }

        var encrypt = p.Bool("Encrypted") ?? false;
        var kms = p.Get("KmsKeyId");
        if (kms is not null && !encrypt)
        {
            throw new Ec2Error("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.");
        }

        var encrypted = source.Encrypted || encrypt;
        string? keyId = null;
        if (encrypted)
        {
            // KMS keys are regional: a key of the source region cannot encrypt here.
            keyId = KmsKeyArn(ctx, kms) ?? (sourceRegion == ctx.Region ? source.KmsKeyId : null) ?? ctx.Region.DefaultKmsKeyArn;
            if (keyId.StartsWith("arn:aws:kms:", StringComparison.Ordinal) && !keyId.StartsWith($"arn:aws:kms:{ctx.Region.Name}:", StringComparison.Ordinal))
            {
                throw new Ec2Error("InvalidParameterValue", $"The KMS key '{keyId}' is not in the destination region {ctx.Region.Name}.");
            }
        }

        var tags = TagsFor(ctx, "snapshot", "snapshot");
        var copy = new Snapshot
        {
            Id = ctx.World.NewId("snap"),
            VolumeId = "vol-ffffffff",
            VolumeSize = source.VolumeSize,
            Encrypted = encrypted,
            KmsKeyId = keyId,
            StartTime = ctx.Now,
            DurationSeconds = ctx.World.Durations.SnapshotCopy,
            OwnerId = ctx.AccountId,
            Description = p.Get("Description") ?? $"[Copied {source.Id} from {sourceRegionName}] {source.Description}".TrimEnd(),
            SourceSnapshotId = source.Id,
            SourceRegion = sourceRegionName,
            WillFail = TakeSnapshotFailure(ctx),
        };
        foreach (var (k, v) in tags)
        {
            copy.Tags[k] = v;
        }

        ctx.Region.Snapshots[copy.Id] = copy;
        yield return V("snapshotId", copy.Id);
        yield return TagSet(copy.Tags);
    }
}
