namespace CcieDr.Simulator.Ec2;

/// <summary>
/// An AZ outage of the control plane (<see cref="AzOutageMode.ApiErrors"/>, <see cref="AzOutageMode.ApiHangs"/>):
/// a state-changing call that names a resource in the failed zone (an instance, an interface, a volume, a subnet,
/// the zone itself) fails with a 500 or hangs until the connection is aborted. Describe calls and tags, served by
/// the region, keep working and show the zone's resources in their last state.
/// </summary>
internal static class ZoneOutage
{
    /// <summary>The fault the call gets from an outage, counted as served (kind az-outage-error / az-outage-hang); null when none applies.</summary>
    public static Faults.ActiveFault? Take(World world, RegionState region, QueryParams p, string action)
    {
        if (action.StartsWith("Describe", StringComparison.Ordinal) || action is "CreateTags" or "DeleteTags")
        {
            return null;
        }

        var zone = TouchedZones(region, p).Select(region.FindZone).FirstOrDefault(z => z?.Frozen == true);
        if (zone is null)
        {
            return null;
        }

        if (zone.OutageMode == AzOutageMode.ApiHangs)
        {
            world.Faults.Count("az-outage-hang", action);
            return new Faults.ActiveFault(FaultKinds.Timeout, action, region.Name, 1, zone.HangMilliseconds);
        }

        world.Faults.Count("az-outage-error", action);
        return new Faults.ActiveFault(FaultKinds.InternalError, action, region.Name, 1, 0);
    }

    /// <summary>The zones of the resources a request names.</summary>
    internal static IEnumerable<string> TouchedZones(RegionState r, QueryParams p)
    {
        foreach (var id in Ids(p, "InstanceId"))
        {
            if (r.Instances.TryGetValue(id, out var i))
            {
                yield return i.AvailabilityZone;
            }
        }

        foreach (var id in Ids(p, "NetworkInterfaceId"))
        {
            if (r.NetworkInterfaces.TryGetValue(id, out var n))
            {
                yield return n.AvailabilityZone;
            }
        }

        if (p.Get("AttachmentId") is { } attachment
            && r.NetworkInterfaces.Values.FirstOrDefault(n => n.AttachmentId == attachment) is { } attached)
        {
            yield return attached.AvailabilityZone;
        }

        foreach (var id in Ids(p, "VolumeId"))
        {
            if (r.Volumes.TryGetValue(id, out var v))
            {
                yield return v.AvailabilityZone;
            }
        }

        foreach (var id in Ids(p, "SubnetId"))
        {
            if (r.Subnets.TryGetValue(id, out var s))
            {
                yield return s.AvailabilityZone;
            }
        }

        if (p.Get("AvailabilityZone") is { } zone)
        {
            yield return zone;
        }
    }

    private static IEnumerable<string> Ids(QueryParams p, string name) =>
        p.Get(name) is { } one ? p.List(name).Prepend(one) : p.List(name);
}
