using System.Diagnostics;

namespace CcieDr.Simulator;

/// <summary>The simulated clock: manual (moves only when advanced) or real-time (wall clock plus advances).</summary>
internal sealed class SimClock
{
    private readonly Stopwatch watch = Stopwatch.StartNew();
    private DateTime anchor;
    private TimeSpan anchorElapsed;

    public SimClock(DateTime start, ClockMode mode)
    {
        anchor = DateTime.SpecifyKind(start, DateTimeKind.Utc);
        Mode = mode;
        anchorElapsed = watch.Elapsed;
    }

    public ClockMode Mode { get; private set; }

    public DateTime Now => Mode == ClockMode.Manual ? anchor : anchor + (watch.Elapsed - anchorElapsed);

    public void Advance(TimeSpan by)
    {
        if (by < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(by), "time only moves forward");
        }

        Rebase();
        anchor += by;
    }

    public void SetMode(ClockMode mode)
    {
        Rebase();
        Mode = mode;
    }

    private void Rebase()
    {
        anchor = Now;
        anchorElapsed = watch.Elapsed;
    }
}
