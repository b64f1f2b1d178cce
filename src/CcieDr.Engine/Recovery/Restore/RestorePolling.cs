using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>
    /// How often the restore's waits poll: <see cref="WaitOptions"/>' proportional schedule (a tenth of the time
    /// already waited, between <see cref="MinDelay"/> and <see cref="MaxDelay"/>), shared by every CcieDr wait.
    /// </summary>
    public sealed class PollSchedule
    {
        public TimeSpan MinDelay { get; set; } = new WaitOptions().InitialDelay;

        public TimeSpan MaxDelay { get; set; } = new WaitOptions().MaxDelay;

        public double Fraction { get; set; } = new WaitOptions().Fraction;

        /// <summary>The production schedule, shortened by CCIEDR_POLL_SCALE like every CcieDr wait.</summary>
        public static PollSchedule Default()
        {
            WaitOptions scaled = WaitOptions.Default();
            return new PollSchedule { MinDelay = scaled.InitialDelay, MaxDelay = scaled.MaxDelay, Fraction = scaled.Fraction };
        }

        /// <summary>The delay before the next poll, after waiting <paramref name="elapsed"/>.</summary>
        public TimeSpan DelayAfter(TimeSpan elapsed) => ToWaitOptions(TimeSpan.MaxValue).DelayAfter(elapsed);

        internal WaitOptions ToWaitOptions(TimeSpan timeout) => new WaitOptions { InitialDelay = MinDelay, MaxDelay = MaxDelay, Fraction = Fraction, Timeout = timeout };
    }

    /// <summary>The restore's waits: <see cref="Waiter"/> bounded by the restore's overall deadline.</summary>
    internal static class RestorePolling
    {
        public static Task<T> UntilAsync<T>(Func<CancellationToken, Task<T?>> poll, PollSchedule schedule, DateTime deadline, TimeSpan overallTimeout, string what, object? target, CancellationToken ct)
            where T : class
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            string described = string.Format(CultureInfo.InvariantCulture, "{0} (the restore's waits together may take {1:0.#} s, -TimeoutSeconds)", what, overallTimeout.TotalSeconds);
            return Waiter.UntilAsync(poll, schedule.ToWaitOptions(left > TimeSpan.Zero ? left : TimeSpan.Zero), described, target, ct);
        }
    }
}
