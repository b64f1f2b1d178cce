namespace CcieDr.Simulator.Ec2;

internal sealed partial class Ec2Service
{
    /// <summary>
    /// StopInstances' Force: a zombie (hung OS) ignores a graceful stop and stays in stopping; a forced stop
    /// (also of an instance already stuck in stopping) stops it after the usual stopping time.
    /// </summary>
    private static void ApplyStopForce(Ctx ctx, Instance i, bool force)
    {
        if (i.State != InstanceStates.Stopping)
        {
            return;
        }

        if (force)
        {
            if (i.StateDueAt is null || i.IgnoresGracefulStop)
            {
                i.StateDueAt = ctx.Now.AddSeconds(ctx.World.Durations.InstanceStopping);
            }

            i.IgnoresGracefulStop = false;
            i.StateTransitionReason = $"User initiated (forced) ({ctx.Now:yyyy-MM-dd HH:mm:ss} GMT)";
        }
        else if (i.IgnoresGracefulStop)
        {
            // The OS never completes its shutdown: stuck in stopping until a forced stop.
            i.StateDueAt = null;
        }
    }
}
