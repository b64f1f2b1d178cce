using System;
using System.Threading;
using System.Threading.Tasks;

namespace CcieDr.Engine.Operations
{
    /// <summary>Polling schedule for waits on AWS state: exponential backoff with a ceiling and a deadline.</summary>
    public sealed class WaitOptions
    {
        /// <summary>Overall deadline for the wait.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(30);

        public TimeSpan InitialDelay { get; set; } = TimeSpan.FromSeconds(1);

        public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(15);

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
            DateTime deadline = DateTime.UtcNow + options.Timeout;
            TimeSpan delay = options.InitialDelay;
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

                TimeSpan remaining = deadline - DateTime.UtcNow;
                TimeSpan sleep = delay < remaining ? delay : remaining;
                if (sleep > TimeSpan.Zero)
                {
                    await Task.Delay(sleep, cancellationToken).ConfigureAwait(false);
                }

                delay = TimeSpan.FromMilliseconds(Math.Min(options.MaxDelay.TotalMilliseconds, delay.TotalMilliseconds * 1.6));
            }
        }
    }
}
