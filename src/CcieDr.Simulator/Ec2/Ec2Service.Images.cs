using System.Text.RegularExpressions;
using System.Xml.Linq;
using static CcieDr.Simulator.Ec2.Xml;

namespace CcieDr.Simulator.Ec2;

internal sealed partial class Ec2Service
{
    private static void CheckImageName(Ctx ctx, string name)
    {
        if (name.Length is < 3 or > 128 || !Regex.IsMatch(name, @"^[A-Za-z0-9()\[\] ./\-'@_]+$"))
        {
            throw new Ec2Error("InvalidAMIName.Malformed", $"AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_': '{name}'");
        }

        var dup = ctx.Region.Images.Values.FirstOrDefault(i => i.OwnerId == ctx.AccountId && i.Name == name);
        if (dup is not null)
        {
            throw new Ec2Error("InvalidAMIName.Duplicate", $"AMI name {name} is already in use by AMI {dup.Id}");
        }
    }

    private IEnumerable<object?> RegisterImage(Ctx ctx)
    {
        var p = ctx.P;
        var name = p.Required("Name");
        CheckImageName(ctx, name);
        var root = p.Required("RootDeviceName");
        var arch = p.Get("Architecture") ?? "x86_64";
        if (arch is not ("i386" or "x86_64" or "arm64" or "x86_64_mac" or "arm64_mac"))
        {
            throw Ec2Error.InvalidValue($"Value ({arch}) for parameter architecture is invalid.");
        }

        var virt = p.Get("VirtualizationType") ?? "paravirtual";
        if (virt is not ("hvm" or "paravirtual"))
        {
            throw Ec2Error.InvalidValue($"Value ({virt}) for parameter virtualizationType is invalid.");
        }

        if (p.Has("ImageLocation"))
        {
            throw new Ec2Error("InvalidParameterCombination", "S3-backed (instance store) images are not supported by this simulator; register from EBS snapshots.");
        }

        var devices = new List<ImageBlockDevice>();
        foreach (var m in p.Members("BlockDeviceMapping"))
        {
            var device = m.Required("DeviceName");
            if (m.Has("NoDevice") || m.Has("VirtualName"))
            {
                continue;
            }

            var ebs = m.Sub("Ebs");
            var snapId = ebs.Get("SnapshotId");
            var snap = snapId is null ? null : FindSnapshot(ctx, snapId);
            if (snap is not null && snap.State != "completed")
            {
                throw new Ec2Error("IncorrectState", $"Snapshot '{snap.Id}' is not in the completed state (it is {snap.State}).");
            }

            var size = ebs.Int("VolumeSize") ?? snap?.VolumeSize ?? throw new Ec2Error("InvalidBlockDeviceMapping", $"The device '{device}' needs a snapshot or a volume size");
            if (snap is not null && size < snap.VolumeSize)
            {
                throw new Ec2Error("InvalidBlockDeviceMapping", $"Volume of size {size}GB is smaller than snapshot '{snap.Id}', expect size >= {snap.VolumeSize}GB");
            }

            var type = ebs.Get("VolumeType") ?? "gp2";
            CheckVolumeSpec(type, size, ebs.Int("Iops"), ebs.Int("Throughput"));
            var encrypted = (ebs.Bool("Encrypted") ?? false) || snap?.Encrypted == true;
            if (snap is { Encrypted: true } && ebs.Bool("Encrypted") == false)
            {
                throw Ec2Error.InvalidValue($"The snapshot '{snap.Id}' is encrypted; the block device mapping for {device} cannot be unencrypted.");
            }

            devices.Add(new ImageBlockDevice
            {
                DeviceName = device,
                SnapshotId = snap?.Id,
                VolumeSize = size,
                VolumeType = type,
                Iops = ebs.Int("Iops"),
                Throughput = ebs.Int("Throughput"),
                DeleteOnTermination = ebs.Bool("DeleteOnTermination") ?? true,
                Encrypted = encrypted,
                KmsKeyId = encrypted ? KmsKeyArn(ctx, ebs.Get("KmsKeyId")) ?? snap?.KmsKeyId : null,
            });
        }

        if (devices.Count == 0)
        {
            throw Ec2Error.Missing("BlockDeviceMapping (an EBS-backed image needs at least its root device)");
        }

        if (devices.All(d => d.DeviceName != root) || devices.First(d => d.DeviceName == root).SnapshotId is null)
        {
            throw Ec2Error.InvalidValue($"Invalid root device name {root}: it must be a block device mapping with an EBS snapshot");
        }

        var img = new Image
        {
            Id = ctx.World.NewId("ami"),
            Name = name,
            Description = p.Get("Description"),
            OwnerId = ctx.AccountId,
            CreationDate = ctx.Now,
            AvailableAt = ctx.Now.AddSeconds(ctx.World.Durations.Image),
            WillFail = TakeImageFailure(ctx),
            Architecture = arch,
            EnaSupport = p.Bool("EnaSupport") ?? false,
            VirtualizationType = virt,
            RootDeviceName = root,
            BlockDevices = devices,
        };
        foreach (var (k, v) in TagsFor(ctx, "image", "image"))
        {
            img.Tags[k] = v;
        }

        ctx.Region.Images[img.Id] = img;
        yield return V("imageId", img.Id);
    }

    private IEnumerable<object?> CreateImage(Ctx ctx)
    {
        var p = ctx.P;
        var i = FindInstance(ctx, p.Required("InstanceId"));
        var name = p.Required("Name");
        CheckImageName(ctx, name);
        if (i.State is not (InstanceStates.Running or InstanceStates.Stopped or InstanceStates.Stopping))
        {
            throw new Ec2Error("IncorrectInstanceState", $"The instance '{i.Id}' is not in a state from which an image can be created.");
        }

        var imageId = ctx.World.NewId("ami");
        var imageTags = TagsFor(ctx, "image", "image", "snapshot");
        var snapTags = TagsFor(ctx, "snapshot");
        var devices = new List<ImageBlockDevice>();
        foreach (var bd in i.BlockDevices)
        {
            if (!ctx.Region.Volumes.TryGetValue(bd.VolumeId, out var v))
            {
                continue;
            }

            var s = NewSnapshot(ctx, v, $"Created by CreateImage({i.Id}) for {imageId}", ctx.World.Durations.Snapshot, snapTags);
            devices.Add(new ImageBlockDevice
            {
                DeviceName = bd.DeviceName,
                SnapshotId = s.Id,
                VolumeSize = v.Size,
                VolumeType = v.VolumeType,
                Iops = v.VolumeType is "io1" or "io2" or "gp3" ? v.Iops : null,
                Throughput = v.Throughput,
                DeleteOnTermination = bd.DeleteOnTermination,
                Encrypted = v.Encrypted,
                KmsKeyId = v.KmsKeyId,
            });
        }

        var img = new Image
        {
            Id = imageId,
            Name = name,
            Description = p.Get("Description"),
            OwnerId = ctx.AccountId,
            CreationDate = ctx.Now,
            AvailableAt = ctx.Now.AddSeconds(Math.Max(ctx.World.Durations.Image, ctx.World.Durations.Snapshot)),
            WillFail = TakeImageFailure(ctx),
            Architecture = i.Architecture,
            EnaSupport = i.EnaSupport,
            VirtualizationType = i.VirtualizationType,
            RootDeviceName = i.RootDeviceName,
            BlockDevices = devices,
            SourceInstanceId = i.Id,
        };
        foreach (var (k, v) in imageTags)
        {
            img.Tags[k] = v;
        }

        if (!(p.Bool("NoReboot") ?? false) && i.State == InstanceStates.Running)
        {
            // AWS reboots the instance to get consistent snapshots: its status checks start over.
            i.RunningSince = ctx.Now;
        }

        ctx.Region.Images[img.Id] = img;
        yield return V("imageId", img.Id);
    }

    private IEnumerable<object?> DescribeImages(Ctx ctx)
    {
        var ids = ctx.P.List("ImageId");
        var owners = ctx.P.List("Owner");
        IEnumerable<Image> items = ids.Count > 0
            ? Named(ctx, ids, id => FindImage(ctx, id))
            : Visible(ctx, ctx.Region.Images.Values).Where(i => owners.Count > 0 || i.OwnerId == ctx.AccountId || i.IsPublic);
        if (owners.Count > 0)
        {
            var ownerIds = owners.Select(o => o == "self" ? ctx.AccountId : o).ToHashSet();
            items = items.Where(i => ownerIds.Contains(i.OwnerId) || (ownerIds.Contains("amazon") && i.IsPublic));
        }

        var filtered = ApplyFilters(ctx, items, (i, f) => f switch
        {
            "image-id" => [i.Id],
            "name" => [i.Name],
            "description" => [i.Description],
            "state" => [i.State],
            "owner-id" => [i.OwnerId],
            "architecture" => [i.Architecture],
            "root-device-name" => [i.RootDeviceName],
            "root-device-type" => ["ebs"],
            "virtualization-type" => [i.VirtualizationType],
            "is-public" => [i.IsPublic ? "true" : "false"],
            "image-type" => ["machine"],
            "ena-support" => [i.EnaSupport ? "true" : "false"],
            "block-device-mapping.snapshot-id" => i.BlockDevices.Select(b => b.SnapshotId),
            "block-device-mapping.device-name" => i.BlockDevices.Select(b => b.DeviceName),
            "block-device-mapping.volume-size" => i.BlockDevices.Select(b => b.VolumeSize.ToString()),
            "block-device-mapping.encrypted" => i.BlockDevices.Select(b => b.Encrypted ? "true" : "false"),
            "creation-date" => [Format(i.CreationDate)],
            _ => null,
        });
        var (page, next) = Paginate(ctx, filtered, i => i.Id, 5, 1000, ids.Count == 0);
        yield return Set("imagesSet", page.Select(i => Item(
            V("imageId", i.Id),
            V("imageLocation", $"{i.OwnerId}/{i.Name}"),
            V("imageState", i.State),
            V("imageOwnerId", i.OwnerId),
            V("creationDate", i.CreationDate),
            V("isPublic", i.IsPublic),
            V("architecture", i.Architecture),
            V("imageType", "machine"),
            V("name", i.Name),
            V("description", i.Description),
            V("rootDeviceType", "ebs"),
            V("rootDeviceName", i.RootDeviceName),
            Set("blockDeviceMapping", i.BlockDevices.Select(b => Item(
                V("deviceName", b.DeviceName),
                E("ebs",
                    V("snapshotId", b.SnapshotId),
                    V("volumeSize", b.VolumeSize),
                    V("deleteOnTermination", b.DeleteOnTermination),
                    V("volumeType", b.VolumeType),
                    V("iops", b.Iops),
                    V("throughput", b.Throughput),
                    V("encrypted", b.Encrypted))))),
            V("virtualizationType", i.VirtualizationType),
            TagSet(i.Tags),
            V("hypervisor", "xen"),
            V("enaSupport", i.EnaSupport),
            i.StateReason is null ? null : E("stateReason", V("code", "Client.InternalError"), V("message", i.StateReason)),
            V("platformDetails", "Linux/UNIX"),
            V("usageOperation", "RunInstances"),
            V("sourceInstanceId", i.SourceInstanceId))));
        yield return V("nextToken", next);
    }

    private IEnumerable<object?> DeregisterImage(Ctx ctx)
    {
        var img = FindImage(ctx, ctx.P.Required("ImageId"));
        if (img.OwnerId != ctx.AccountId)
        {
            throw new Ec2Error("AuthFailure", $"Not authorized for image:{img.Id}");
        }

        ctx.Region.Images.Remove(img.Id);
        if (ctx.P.Bool("DeleteAssociatedSnapshots") == true)
        {
            foreach (var b in img.BlockDevices.Where(b => b.SnapshotId is not null))
            {
                if (!ctx.Region.Images.Values.Any(o => o.BlockDevices.Any(x => x.SnapshotId == b.SnapshotId)))
                {
                    ctx.Region.Snapshots.Remove(b.SnapshotId!);
                }
            }
        }

        yield return ReturnTrue();
    }

    // ---------- tags ----------

    private static Resource FindAny(Ctx ctx, string id)
    {
        var dash = id.IndexOf('-', StringComparison.Ordinal);
        var prefix = dash > 0 ? id[..dash] : id;
        return prefix switch
        {
            "i" => FindInstance(ctx, id),
            "vol" => FindVolume(ctx, id),
            "snap" => FindSnapshot(ctx, id),
            "ami" => FindImage(ctx, id),
            "subnet" => FindSubnet(ctx, id),
            "eni" => FindEni(ctx, id),
            "sg" => FindGroup(ctx, id),
            "vpc" => Find(ctx, ctx.Region.Vpcs, id, "vpc", "VpcID", $"The vpc ID '{id}' does not exist"),
            "lt" => FindTemplate(ctx, id, null),
            "key" => ctx.Region.KeyPairs.GetValueOrDefault(id) ?? throw new Ec2Error("InvalidKeyPair.NotFound", $"The key pair '{id}' does not exist"),
            _ => throw new Ec2Error("InvalidID", $"The ID '{id}' is not valid"),
        };
    }

    private IEnumerable<object?> CreateTags(Ctx ctx)
    {
        var ids = RequireIds(ctx, "ResourceId");
        var tags = ctx.P.Tags();
        if (tags.Count == 0)
        {
            throw Ec2Error.Missing("Tag.1.Key");
        }

        foreach (var (k, v) in tags)
        {
            ValidateTag(k, v);
        }

        var resources = ids.Select(id => FindAny(ctx, id)).ToList();
        foreach (var r in resources)
        {
            if (r.Tags.Keys.Union(tags.Select(t => t.Key)).Count() > 50)
            {
                throw new Ec2Error("TagLimitExceeded", $"The maximum number of Tags for resource {r.Id} has been reached.");
            }
        }

        foreach (var r in resources)
        {
            foreach (var (k, v) in tags)
            {
                r.Tags[k] = v ?? "";
            }
        }

        yield return ReturnTrue();
    }

    private IEnumerable<object?> DeleteTags(Ctx ctx)
    {
        var ids = RequireIds(ctx, "ResourceId");
        var tags = ctx.P.Tags();
        var resources = ids.Select(id => FindAny(ctx, id)).ToList();
        foreach (var r in resources)
        {
            if (tags.Count == 0)
            {
                r.Tags.Clear();
                continue;
            }

            foreach (var (k, v) in tags)
            {
                if (v is null || (r.Tags.TryGetValue(k, out var cur) && cur == v))
                {
                    r.Tags.Remove(k);
                }
            }
        }

        yield return ReturnTrue();
    }

    private IEnumerable<object?> DescribeTags(Ctx ctx)
    {
        var rows = Visible(ctx, ctx.Region.AllResources())
            .Where(r => r is not Image img || img.OwnerId == ctx.AccountId)
            .Where(r => r is not Snapshot s || s.OwnerId == ctx.AccountId)
            .SelectMany(r => r.Tags.Select(t => (Resource: r, t.Key, t.Value)))
            .ToList();
        foreach (var f in ctx.P.Filters())
        {
            rows = f.Name switch
            {
                "key" => rows.Where(x => f.Matches([x.Key])).ToList(),
                "value" => rows.Where(x => f.Matches([x.Value])).ToList(),
                "resource-id" => rows.Where(x => f.Matches([x.Resource.Id])).ToList(),
                "resource-type" => rows.Where(x => f.Matches([x.Resource.ResourceType])).ToList(),
                _ when f.Name.StartsWith("tag:", StringComparison.Ordinal) => rows.Where(x => x.Key == f.Name[4..] && f.Matches([x.Value])).ToList(),
                _ => throw Ec2Error.InvalidValue($"The filter '{f.Name}' is invalid"),
            };
        }

        var (page, next) = Paginate(ctx, rows, x => x.Resource.Id + "\u0001" + x.Key, 5, 1000);
        yield return Set("tagSet", page.Select(x => Item(
            V("resourceId", x.Resource.Id),
            V("resourceType", x.Resource.ResourceType),
            V("key", x.Key),
            V("value", x.Value))));
        yield return V("nextToken", next);
    }

    private static bool TakeImageFailure(Ctx ctx)
    {
        if (ctx.World.Faults.PendingImageFailures <= 0)
        {
            return false;
        }

        ctx.World.Faults.PendingImageFailures--;
        ctx.World.Faults.Count("image-failure", ctx.Action);
        return true;
    }
}
