using CcieDr.Simulator.Ec2;

namespace CcieDr.Simulator;

/// <summary>
/// A simulated Auto Scaling group (no Auto Scaling API: it acts on EC2 state). While its processes are not suspended
/// it keeps <see cref="DesiredCapacity"/> healthy members (tag <c>aws:autoscaling:groupName</c>): stopped or impaired
/// members are terminated, missing ones are launched from the launch template after a delay, extra ones terminated
/// (oldest first). The seeded group starts suspended so nothing changes behind a test's back until it is resumed.
/// </summary>
internal sealed class AutoScalingGroup
{
    public required string Name { get; init; }

    public required string LaunchTemplateId { get; init; }

    public string LaunchTemplateVersion { get; set; } = "$Default";

    public int MinSize { get; set; }

    public int MaxSize { get; set; } = 10;

    public int DesiredCapacity { get; set; }

    public List<string> SubnetIds { get; init; } = new();

    /// <summary>Tags put on launched instances besides aws:autoscaling:groupName.</summary>
    public Dictionary<string, string> PropagatedTags { get; init; } = new(StringComparer.Ordinal);

    public bool Suspended { get; set; } = true;

    public DateTime? DeficitSince { get; set; }

    public int Launched { get; set; }

    public int Terminated { get; set; }
}

/// <summary>Auto Scaling state and the reconciling loop (runs inside <see cref="World.Tick"/>).</summary>
internal static class AutoScaler
{
    public const string GroupTag = "aws:autoscaling:groupName";

    public static IEnumerable<Instance> Members(RegionState r, AutoScalingGroup g) =>
        r.Instances.Values.Where(i => i.Tag(GroupTag) == g.Name && i.State is not (InstanceStates.Terminated or InstanceStates.ShuttingDown));

    public static bool Healthy(RegionState r, Instance i) =>
        i.State is InstanceStates.Pending or InstanceStates.Running && !i.Impaired && r.FindZone(i.AvailabilityZone)?.Failed != true;

    public static void Reconcile(World w, RegionState r, DateTime now)
    {
        foreach (var g in r.AutoScalingGroups.Values.Where(g => !g.Suspended))
        {
            var members = Members(r, g).ToList();
            foreach (var sick in members.Where(i => !Healthy(r, i)))
            {
                Terminate(w, sick, now, "Server.ScheduledStop", "an Auto Scaling health check replaced the instance");
                g.Terminated++;
            }

            var healthy = members.Where(i => Healthy(r, i)).OrderBy(i => i.LaunchTime).ThenBy(i => i.Id, StringComparer.Ordinal).ToList();
            foreach (var extra in healthy.Take(Math.Max(0, healthy.Count - g.DesiredCapacity)))
            {
                Terminate(w, extra, now, "Client.UserInitiatedShutdown", "scaled in by the Auto Scaling group");
                g.Terminated++;
            }

            var missing = g.DesiredCapacity - healthy.Count;
            if (missing <= 0)
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
                if (!TryLaunch(w, r, g, now))
                {
                    break;
                }

                g.Launched++;
            }
        }
    }

    private static void Terminate(World w, Instance i, DateTime now, string code, string message)
    {
        i.State = InstanceStates.ShuttingDown;
        i.StateDueAt = now.AddSeconds(w.Durations.InstanceShuttingDown);
        i.StateReasonCode = code;
        i.StateReasonMessage = $"{code}: {message}";
        i.StateTransitionReason = $"Service initiated ({now:yyyy-MM-dd HH:mm:ss} GMT)";
        i.DiesAt = null;
    }

    /// <summary>Launches one member from the launch template into the least used healthy subnet; false if none can take it.</summary>
    private static bool TryLaunch(World w, RegionState r, AutoScalingGroup g, DateTime now)
    {
        if (!r.LaunchTemplates.TryGetValue(g.LaunchTemplateId, out var template))
        {
            return false;
        }

        var data = Ec2Service.ResolveVersion(template, g.LaunchTemplateVersion).Data;
        if (data.ImageId is null || !r.Images.TryGetValue(data.ImageId, out var image) || image.State != "available")
        {
            return false;
        }

        var counts = Members(r, g).GroupBy(i => i.SubnetId).ToDictionary(x => x.Key, x => x.Count());
        var subnet = g.SubnetIds
            .Select(id => r.Subnets.GetValueOrDefault(id))
            .Where(s => s is not null && r.FindZone(s.AvailabilityZone)?.Failed != true)
            .OrderBy(s => counts.GetValueOrDefault(s!.Id))
            .FirstOrDefault();
        if (subnet is null || subnet.Cidr.Usable - r.NetworkInterfaces.Values.Where(n => n.SubnetId == subnet.Id).Sum(n => n.PrivateIps.Count) < 1)
        {
            return false;
        }

        var ctx = new Ctx { World = w, Region = r, P = new QueryParams([]), Action = "AutoScaling" };
        var groups = data.SecurityGroupIds.Count > 0 ? new List<string>(data.SecurityGroupIds) : [r.SecurityGroups.Values.First(s => s.VpcId == subnet.VpcId && s.Name == "default").Id];
        var (arn, profileId) = Ec2Service.Profile(ctx, data.IamInstanceProfileArn, data.IamInstanceProfileName);
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
        return true;
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
    int Terminated);
