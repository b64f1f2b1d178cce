using CcieDr.Simulator.Ec2;

namespace CcieDr.Simulator.AutoScaling;

/// <summary>
/// Moves a group's active instance refresh on (inside the reconciling loop): terminates a batch of the members it
/// started with, lets the group launch their replacements from its current configuration, waits until the group has
/// its desired capacity of running members past the warm-up, then takes the next batch. The batch keeps
/// <c>MinHealthyPercentage</c> of the desired capacity in service, but is at least one instance (as in AWS).
/// </summary>
internal static class InstanceRefresher
{
    public static InstanceRefresh? Active(AutoScalingGroup g) => g.InstanceRefreshes.LastOrDefault(x => RefreshStatus.Active(x.Status));

    /// <summary>How many members one batch may take out of service.</summary>
    public static int BatchSize(int desired, int minHealthyPercentage)
    {
        var floor = (int)Math.Ceiling(desired * minHealthyPercentage / 100.0);
        return Math.Max(1, desired - floor);
    }

    public static void Step(World w, RegionState r, AutoScalingGroup g, DateTime now)
    {
        var rf = Active(g);
        if (rf is null)
        {
            return;
        }

        if (rf.Status == RefreshStatus.Cancelling)
        {
            rf.Status = RefreshStatus.Cancelled;
            rf.StatusReason = "The instance refresh was cancelled by a user request.";
            rf.EndTime = now;
            return;
        }

        rf.Status = RefreshStatus.InProgress;
        if (!g.Runs(ScalingProcesses.Launch) || !g.Runs(ScalingProcesses.Terminate) || !g.Runs(ScalingProcesses.InstanceRefresh))
        {
            rf.StatusReason = "Waiting: the group's Launch, Terminate or InstanceRefresh process is suspended.";
            return;
        }

        rf.StatusReason = null;
        var members = AutoScaler.Members(r, g).ToList();
        var ids = members.Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
        if (rf.InFlight.Count > 0)
        {
            var warmup = rf.InstanceWarmup ?? g.HealthCheckGracePeriod;
            var ready = members.Count(m => m.State == InstanceStates.Running && AutoScaler.Healthy(r, m) && m.RunningSince is { } since && since.AddSeconds(warmup) <= now);
            if (rf.InFlight.Any(ids.Contains) || ready < g.DesiredCapacity)
            {
                rf.StatusReason = $"Waiting for instances to warm up before continuing. For example: {string.Join(", ", rf.InFlight)} are being replaced.";
                return;
            }

            rf.Replaced += rf.InFlight.Count;
            rf.InFlight.Clear();
        }

        // Members that left by other means (scale-in, a user's termination) need no replacing.
        var gone = rf.ToReplace.RemoveAll(id => !ids.Contains(id));
        rf.Replaced += gone;
        if (rf.ToReplace.Count == 0)
        {
            rf.Status = RefreshStatus.Successful;
            rf.Replaced = rf.Total;
            rf.EndTime = now;
            return;
        }

        var batch = rf.ToReplace.Take(BatchSize(g.DesiredCapacity, rf.MinHealthyPercentage)).ToList();
        foreach (var id in batch)
        {
            rf.ToReplace.Remove(id);
            rf.InFlight.Add(id);
            AutoScaler.Terminate(w, r, g, r.Instances[id], now, "Client.UserInitiatedShutdown", "replaced by an instance refresh",
                $"At {AutoScaler.Stamp(now)} an instance was taken out of service in response to an instance refresh. At {AutoScaler.Stamp(now)} instance {id} was selected for termination.");
        }
    }
}
