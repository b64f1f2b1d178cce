using System;
using System.Threading;
using System.Threading.Tasks;

namespace CcieDr.Engine.Operations
{
    /// <summary>
    /// Polling schedule for waits on AWS state. The delay before the next poll is a fraction
    /// (<see cref="Fraction"/>) of the time already waited, between <see cref="InitialDelay"/> and
    /// <see cref="MaxDelay"/>: a wait notices a transition at most about that fraction of its length late,
    /// whatever the length (a geometric backoff is late by up to its growth factor minus one).
    /// </summary>
    public sealed class WaitOptions
    {
        /// <summary>How long the wait may take.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(30);

        /// <summary>Shortest delay between polls (the first ones).</summary>
        public TimeSpan InitialDelay { get; set; } = TimeSpan.FromMilliseconds(100);

        /// <summary>Longest delay between polls.</summary>
        public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(5);

        /// <summary>Delay as a fraction of the time already waited.</summary>
        public double Fraction { get; set; } = 0.1;

        /// <summary>The delay before the next poll after waiting <paramref name="elapsed"/>.</summary>
        public TimeSpan DelayAfter(TimeSpan elapsed)
        {
            double ms = elapsed.TotalMilliseconds * Fraction;
            ms = Math.Max(InitialDelay.TotalMilliseconds, Math.Min(MaxDelay.TotalMilliseconds, ms));
            return TimeSpan.FromMilliseconds(ms);
        }

        /// <summary>
        /// Process-wide defaults. CCIEDR_POLL_SCALE (a factor, e.g. 0.05) shortens polling for simulators;
        /// it never changes timeouts.
        /// </summary>
        public static WaitOptions Default(TimeSpan? timeout = null)
        {
            var options = new WaitOptions();
            if (timeout is not null)
            {
                options.Timeout = timeout.Value;
            }

            string? scale = Environment.GetEnvironmentVariable("CCIEDR_POLL_SCALE");
            if (double.TryParse(scale, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double factor) && factor > 0 && factor <= 1)
            {
                options.InitialDelay = TimeSpan.FromMilliseconds(options.InitialDelay.TotalMilliseconds * factor);
                options.MaxDelay = TimeSpan.FromMilliseconds(options.MaxDelay.TotalMilliseconds * factor);
            }

            return options;
        }
    }

    /// <summary>Polls until a condition holds, the deadline passes (OperationTimeout) or the token is cancelled.</summary>
    public static class Waiter
    {
        /// <summary>
        /// Calls <paramref name="poll"/> until it returns a non-null result. Each poll may report progress.
        /// </summary>
        public static async Task<T> UntilAsync<T>(Func<CancellationToken, Task<T?>> poll, WaitOptions options, string what, object? target, CancellationToken cancellationToken)
            where T : class
        {
            if (poll is null)
            {
                throw new ArgumentNullException(nameof(poll));
            }

            options ??= WaitOptions.Default();
            DateTime started = DateTime.UtcNow;
            DateTime deadline = started + options.Timeout;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                T? result = await poll(cancellationToken).ConfigureAwait(false);
                if (result is not null)
                {
                    return result;
                }

                if (DateTime.UtcNow >= deadline)
                {
                    throw new CcieException(
                        "WaitTimedOut",
                        CcieErrorCategory.OperationTimeout,
                        $"Timed out after {options.Timeout} waiting for {what}. Nothing was undone: check the resource in the console, then rerun (reruns resume) or raise -TimeoutSeconds.",
                        target);
                }

                DateTime now = DateTime.UtcNow;
                TimeSpan delay = options.DelayAfter(now - started);
                TimeSpan remaining = deadline - now;
                TimeSpan sleep = delay < remaining ? delay : remaining;
                if (sleep > TimeSpan.Zero)
                {
                    await Task.Delay(sleep, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }
}
