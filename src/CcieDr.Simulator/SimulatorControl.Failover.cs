namespace CcieDr.Simulator;

/// <summary>How an AZ outage treats calls on the zone's resources.</summary>
public enum AzOutageMode
{
    /// <summary>The zone shows impaired, its instances' status checks fail, launches into it fail; other calls work (the original outage).</summary>
    Impaired,

    /// <summary>As Impaired, and every state-changing call on the zone's instances, interfaces and volumes fails with InternalError (500); the zone's instances stay in their last state.</summary>
    ApiErrors,

    /// <summary>As ApiErrors, but the calls hang (held, then the connection is aborted).</summary>
    ApiHangs,
}

public sealed partial class SimulatorControl
{
    /// <summary>
    /// An AZ outage with a choice of how calls on the zone's resources behave (see <see cref="AzOutageMode"/>):
    /// with ApiErrors/ApiHangs a stop of an instance there fails or hangs and the instance keeps its last state
    /// (running stays running) until <see cref="RestoreAvailabilityZone"/>.
    /// </summary>
    public void FailAvailabilityZone(string region, string zone, AzOutageMode mode, int hangMilliseconds = 2000, string error = "InsufficientInstanceCapacity")
    {
        if (hangMilliseconds < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(hangMilliseconds), "hangMilliseconds must not be negative");
        }

        Locked(() => world.Tick());
        FailAvailabilityZone(region, zone, error);
        Locked(() =>
        {
            var z = world.Region(region).FindZone(zone)!;
            z.OutageMode = mode;
            z.HangMilliseconds = hangMilliseconds;
        });
    }

    /// <summary>
    /// A zombie: the instance stays running with failing status checks (impaired), and its hung OS ignores a
    /// graceful stop (StopInstances without Force leaves it in stopping); a forced stop stops it.
    /// </summary>
    public void SetInstanceZombie(string region, string instanceId, bool zombie = true) => Locked(() =>
    {
        world.Tick();
        var r = world.Region(region);
        if (!r.Instances.TryGetValue(instanceId, out var i))
        {
            throw new ArgumentException($"no instance {instanceId} in {region}", nameof(instanceId));
        }

        i.Impaired = zombie;
        i.IgnoresGracefulStop = zombie;
        if (zombie)
        {
            world.Faults.Count("instance-zombie", instanceId);
        }
    });
}
