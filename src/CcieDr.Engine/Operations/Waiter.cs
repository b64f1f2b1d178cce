using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Aws;

namespace CcieDr.Engine.Operations
{
    /// <summary>
    /// Polling schedule for waits on AWS state. The delay before the next poll is a fraction
    /// (<see cref="Fraction"/>) of the time already waited, between <see cref="InitialDelay"/> and
    /// <see cref="MaxDelay"/>: a wait notices a transition at most about that fraction of its length late,
    /// whatever the length (a geometric backoff is late by up to its growth factor minus one). Each delay is
    /// jittered down by up to <see cref="Jitter"/> of itself, so many waits started together do not poll in step.
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

        /// <summary>Share of each delay drawn at random and taken off it (0: none, at most 1). Default 0.2.</summary>
        public double Jitter { get; set; } = 0.2;

        /// <summary>Test hook: the clock the wait measures its time by (default <see cref="DateTime.UtcNow"/>).</summary>
        internal Func<DateTime>? Clock { get; set; }

        /// <summary>Test hook: how a delay is slept (default <see cref="Task.Delay(TimeSpan, CancellationToken)"/>).</summary>
        internal Func<TimeSpan, CancellationToken, Task>? Sleep { get; set; }

        /// <summary>Test hook: a number in [0, 1) for the jitter (default: a shared <see cref="Random"/>).</summary>
        internal Func<double>? NextRandom { get; set; }

        /// <summary>The delay before the next poll after waiting <paramref name="elapsed"/>, before jitter.</summary>
        public TimeSpan DelayAfter(TimeSpan elapsed)
        {
            double ms = elapsed.TotalMilliseconds * Fraction;
            ms = Math.Max(InitialDelay.TotalMilliseconds, Math.Min(MaxDelay.TotalMilliseconds, ms));
            return TimeSpan.FromMilliseconds(ms);
        }

        /// <summary>The jittered delay before the next poll: between (1 − <see cref="Jitter"/>) and all of <see cref="DelayAfter"/>.</summary>
        public TimeSpan JitteredDelayAfter(TimeSpan elapsed)
        {
            double cap = DelayAfter(elapsed).TotalMilliseconds;
            double jitter = Math.Max(0, Math.Min(1, Jitter));
            double r = Math.Max(0, Math.Min(1, NextRandom is null ? AwsRetryPolicy.NextShared() : NextRandom()));
            return TimeSpan.FromMilliseconds(cap - (cap * jitter * r));
        }

        /// <summary>A copy with another <see cref="Timeout"/> (the schedule and the test hooks kept).</summary>
        public WaitOptions WithTimeout(TimeSpan timeout) => new WaitOptions
        {
            Timeout = timeout,
            InitialDelay = InitialDelay,
            MaxDelay = MaxDelay,
            Fraction = Fraction,
            Jitter = Jitter,
            Clock = Clock,
            Sleep = Sleep,
            NextRandom = NextRandom,
        };

        internal DateTime Now() => Clock is null ? DateTime.UtcNow : Clock();

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

            if (AwsRetryPolicy.PollScale() is double factor)
            {
                options.InitialDelay = TimeSpan.FromMilliseconds(options.InitialDelay.TotalMilliseconds * factor);
                options.MaxDelay = TimeSpan.FromMilliseconds(options.MaxDelay.TotalMilliseconds * factor);
            }

            return options;
        }
    }

    /// <summary>What a wait saw at one poll, for its progress callback.</summary>
    /// <typeparam name="T">What the probe returns.</typeparam>
    public readonly struct WaitProgress<T>
    {
        public WaitProgress(int poll, TimeSpan elapsed, T last, Exception? error)
        {
            Poll = poll;
            Elapsed = elapsed;
            Last = last;
            Error = error;
        }

        /// <summary>The poll's number, from 1.</summary>
        public int Poll { get; }

        /// <summary>Time waited so far.</summary>
        public TimeSpan Elapsed { get; }

        /// <summary>The state this poll saw (when <see cref="Error"/> is set: the last state seen before it, or default).</summary>
        public T Last { get; }

        /// <summary>A transient (or tolerated) failure of this poll, counted as "not yet"; null when the probe answered.</summary>
        public Exception? Error { get; }
    }

    /// <summary>
    /// The one waiter of the engine: polls a probe until a predicate accepts what it returns, with the
    /// proportional, jittered schedule of <see cref="WaitOptions"/>, an overall timeout whose error names the
    /// last state seen, the caller's cancellation token, a progress callback per poll, and transient AWS
    /// failures of a poll (<see cref="AwsRetry.IsTransient(Exception, CancellationToken)"/>) counted as "not yet".
    /// Any other failure of the probe ends the wait as it is (a probe throws to say "this will never happen").
    /// </summary>
    public static class Waiter
    {
        /// <summary>
        /// Calls <paramref name="probe"/> until <paramref name="done"/> accepts its result, which is returned.
        /// </summary>
        /// <param name="probe">One look at the state.</param>
        /// <param name="done">True when the state is the one waited for.</param>
        /// <param name="options">The schedule and timeout (null: <see cref="WaitOptions.Default"/>).</param>
        /// <param name="what">What is waited for, as the timeout error says it ("AMI ami-1 to become available").</param>
        /// <param name="target">The error's target.</param>
        /// <param name="ct">Cancellation: stops a poll or a delay at once.</param>
        /// <param name="describe">How the timeout error shows the last state seen (null: its ToString()).</param>
        /// <param name="progress">Called after every poll, answered or failed.</param>
        /// <param name="notYet">Failures that also count as "not yet" besides transient ones (e.g. <see cref="AwsRetry.IsNotFound"/> right after a create).</param>
        public static async Task<T> UntilAsync<T>(
            Func<CancellationToken, Task<T>> probe,
            Func<T, bool> done,
            WaitOptions? options,
            string what,
            object? target,
            CancellationToken ct,
            Func<T, string>? describe = null,
            Action<WaitProgress<T>>? progress = null,
            Func<Exception, bool>? notYet = null)
        {
            if (probe is null || done is null)
            {
                throw new ArgumentNullException(probe is null ? nameof(probe) : nameof(done));
            }

            options ??= WaitOptions.Default();
            DateTime started = options.Now();
            DateTime deadline = started + options.Timeout;
            bool seen = false;
            T last = default!;
            Exception? lastError = null;
            for (int poll = 1; ; poll++)
            {
                ct.ThrowIfCancellationRequested();
                try
                {
                    last = await probe(ct).ConfigureAwait(false);
                    seen = true;
                    lastError = null;
                }
                catch (Exception e) when (!ct.IsCancellationRequested && (AwsRetry.IsTransient(e, ct) || (notYet is not null && notYet(e))))
                {
                    lastError = e;
                }

                DateTime now = options.Now();
                progress?.Invoke(new WaitProgress<T>(poll, now - started, last, lastError));
                if (lastError is null && done(last))
                {
                    return last;
                }

                if (now >= deadline)
                {
                    throw TimedOut(options.Timeout, what, target, poll, seen ? Describe(describe, last) : null, lastError);
                }

                TimeSpan delay = options.JitteredDelayAfter(now - started);
                TimeSpan remaining = deadline - now;
                TimeSpan sleep = delay < remaining ? delay : remaining;
                if (sleep > TimeSpan.Zero)
                {
                    await (options.Sleep is null ? Task.Delay(sleep, ct) : options.Sleep(sleep, ct)).ConfigureAwait(false);
                }
            }
        }

        /// <summary>The short form: <paramref name="poll"/> returns null for "not yet", the awaited value otherwise.</summary>
        public static async Task<T> UntilAsync<T>(Func<CancellationToken, Task<T?>> poll, WaitOptions? options, string what, object? target, CancellationToken ct)
            where T : class
        {
            T? result = await UntilAsync(poll, r => r is not null, options, what, target, ct).ConfigureAwait(false);
            return result!;
        }

        private static string Describe<T>(Func<T, string>? describe, T last)
        {
            if (describe is not null)
            {
                return describe(last);
            }

            return last is null ? "nothing yet" : last.ToString() ?? "nothing yet";
        }

        private static CcieException TimedOut(TimeSpan timeout, string what, object? target, int polls, string? lastState, Exception? lastError)
        {
            string observed = lastState is null ? "it was never seen" : "last seen: " + lastState;
            if (lastError is not null)
            {
                observed += "; the last poll failed: " + lastError.Message.TrimEnd();
            }

            return new CcieException(
                "WaitTimedOut",
                CcieErrorCategory.OperationTimeout,
                string.Format(CultureInfo.InvariantCulture, "Timed out after {0} waiting for {1} ({2} polls; {3}). Nothing was undone: check the resource in the console, then rerun (reruns resume) or raise -TimeoutSeconds.", timeout, what, polls, observed),
                target);
        }
    }
}
