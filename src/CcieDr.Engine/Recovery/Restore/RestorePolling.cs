using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>
    /// How often the restore's waits poll: a delay proportional to the time already waited
    /// (<see cref="Fraction"/> of it), between <see cref="MinDelay"/> and <see cref="MaxDelay"/>. A wait therefore
    /// notices a transition at most about <see cref="Fraction"/> of its length late (a 5-minute AMI: at most
    /// <see cref="MaxDelay"/>), whatever that length is; a geometric backoff is late by up to its growth factor minus
    /// one (60% for 1.6x). No fixed sleeps.
    /// </summary>
    public sealed class PollSchedule
    {
        public TimeSpan MinDelay { get; set; } = TimeSpan.FromMilliseconds(100);

        public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(5);

        public double Fraction { get; set; } = 0.1;

        /// <summary>The production schedule, shortened by CCIEDR_POLL_SCALE like every CcieDr wait.</summary>
        public static PollSchedule Default()
        {
            double scale = WaitOptions.Default().InitialDelay.TotalMilliseconds / new WaitOptions().InitialDelay.TotalMilliseconds;
            var schedule = new PollSchedule();
            schedule.MinDelay = TimeSpan.FromMilliseconds(schedule.MinDelay.TotalMilliseconds * scale);
            schedule.MaxDelay = TimeSpan.FromMilliseconds(schedule.MaxDelay.TotalMilliseconds * scale);
            return schedule;
        }

        /// <summary>The delay before the next poll, after waiting <paramref name="elapsed"/>.</summary>
        public TimeSpan DelayAfter(TimeSpan elapsed)
        {
            double ms = elapsed.TotalMilliseconds * Fraction;
            ms = Math.Max(MinDelay.TotalMilliseconds, Math.Min(MaxDelay.TotalMilliseconds, ms));
            return TimeSpan.FromMilliseconds(ms);
        }
    }

    /// <summary>Polls until a condition holds, the restore's overall deadline passes, or the token is cancelled.</summary>
    internal static class RestorePolling
    {
        public static async Task<T> UntilAsync<T>(Func<CancellationToken, Task<T?>> poll, PollSchedule schedule, DateTime deadline, TimeSpan overallTimeout, string what, object? target, CancellationToken ct)
            where T : class
        {
            DateTime started = DateTime.UtcNow;
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                T? result = await poll(ct).ConfigureAwait(false);
                if (result is not null)
                {
                    return result;
                }

                DateTime now = DateTime.UtcNow;
                if (now >= deadline)
                {
                    throw new CcieException(
                        "WaitTimedOut",
                        CcieErrorCategory.OperationTimeout,
                        string.Format(CultureInfo.InvariantCulture, "Timed out waiting for {0} (the restore's waits together may take {1:0.#} s, -TimeoutSeconds).", what, overallTimeout.TotalSeconds),
                        target);
                }

                TimeSpan delay = schedule.DelayAfter(now - started);
                TimeSpan left = deadline - now;
                await Task.Delay(delay < left ? delay : left, ct).ConfigureAwait(false);
            }
        }
    }
}
