using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Amazon.Runtime;

namespace CcieDr.Engine.Aws
{
    /// <summary>
    /// The one transient-error classifier of the engine: which failures of an AWS call are worth trying again
    /// (throttling, 5xx, a dropped connection, a timeout) and which are final (permissions, credentials, bad
    /// input, quotas, capacity). The SDK already retries each request; this decides the engine's own retries
    /// and whether a poll counts as "not yet".
    /// </summary>
    public static class AwsRetry
    {
        private static readonly HashSet<string> TransientCodes = new HashSet<string>(StringComparer.Ordinal)
        {
            "RequestLimitExceeded",
            "Throttling",
            "ThrottlingException",
            "ThrottledException",
            "RequestThrottled",
            "RequestThrottledException",
            "SlowDown",
            "TooManyRequestsException",
            "ProvisionedThroughputExceededException",
            "SnapshotCreationPerVolumeRateExceeded",
            "BandwidthLimitExceeded",
            "EC2ThrottledException",
            "InternalError",
            "InternalFailure",
            "InternalServerError",
            "KMSInternalException",
            "ServiceUnavailable",
            "Unavailable",
            "RequestTimeout",
            "RequestTimeoutException",
            "PriorRequestNotComplete",

            // Auto Scaling: another update of the same group is pending (HTTP 500); the call changed nothing.
            "ResourceContention",
        };

        /// <summary>
        /// True when <paramref name="exception"/> is worth retrying. A cancellation counts as a timeout (transient)
        /// only when <paramref name="callerToken"/> was not cancelled: the SDK reports its own per-attempt
        /// timeout as a cancellation.
        /// </summary>
        public static bool IsTransient(Exception? exception, CancellationToken callerToken)
        {
            if (exception is OperationCanceledException && !callerToken.IsCancellationRequested)
            {
                return true;
            }

            return IsTransient(exception);
        }

        /// <summary>True when <paramref name="exception"/> is worth retrying (a cancellation never is here).</summary>
        public static bool IsTransient(Exception? exception)
        {
            switch (exception)
            {
                case null:
                case OperationCanceledException:
                    return false;
                case CcieException ccie:
                    // Mapped AWS failures keep the original as inner exception; the engine's own errors are final.
                    return ccie.InnerException is not null && IsTransient(ccie.InnerException);
                case AmazonServiceException service:
                    return IsTransientService(service);
                case AmazonClientException client:
                    return !AwsErrorMapper.IsNoCredentials(client) && IsNetwork(client.InnerException);
                default:
                    return IsNetwork(exception);
            }
        }

        /// <summary>True when EC2/S3 says the resource does not exist (or, just created, does not exist yet).</summary>
        public static bool IsNotFound(Exception? exception)
        {
            if (exception is CcieException ccie)
            {
                return ccie.InnerException is not null && IsNotFound(ccie.InnerException);
            }

            if (exception is not AmazonServiceException s)
            {
                return false;
            }

            string code = s.ErrorCode ?? string.Empty;
            return code.EndsWith(".NotFound", StringComparison.Ordinal) || code.StartsWith("NoSuch", StringComparison.Ordinal) || code == "NotFound"
                || (code.Length == 0 && s.StatusCode == HttpStatusCode.NotFound);
        }

        private static bool IsTransientService(AmazonServiceException service)
        {
            string code = service.ErrorCode ?? string.Empty;
            if (TransientCodes.Contains(code))
            {
                return true;
            }

            if (AwsErrorMapper.IsNoCredentials(service))
            {
                return false;
            }

            int status = (int)service.StatusCode;
            if (status == 429 || status == 408 || status == 502 || status == 503 || status == 504)
            {
                return true;
            }

            // A 500 without a more specific code, or no HTTP answer at all (status 0): the request may not have run.
            return (status == 500 || status == 0) && (code.Length == 0 || code.StartsWith("Internal", StringComparison.Ordinal) || IsNetwork(service.InnerException));
        }

        private static bool IsNetwork(Exception? e)
        {
            for (; e is not null; e = e.InnerException)
            {
                if (e is HttpRequestException or IOException or WebException or SocketException or TimeoutException)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// The one retry policy of the engine: up to <see cref="MaxAttempts"/> attempts, separated by a jittered
    /// exponential backoff (each delay is drawn between half and all of min(<see cref="MaxDelay"/>,
    /// <see cref="BaseDelay"/> × 2^(retry−1))), every delay cancellable by the caller's token.
    /// </summary>
    public sealed class AwsRetryPolicy
    {
        private static readonly Random SharedRandom = new Random();

        /// <summary>Attempts in all, the first included (at least 1). Default 5.</summary>
        public int MaxAttempts { get; set; } = 5;

        /// <summary>Backoff bound before the first retry. Default 200 ms.</summary>
        public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

        /// <summary>Largest delay between attempts. Default 5 s.</summary>
        public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(5);

        /// <summary>Test hook: a number in [0, 1) for the jitter (default: a shared <see cref="Random"/>).</summary>
        internal Func<double>? NextRandom { get; set; }

        /// <summary>Test hook: how a delay is slept (default <see cref="Task.Delay(TimeSpan, CancellationToken)"/>).</summary>
        internal Func<TimeSpan, CancellationToken, Task>? Sleep { get; set; }

        /// <summary>
        /// Process-wide defaults. CCIEDR_POLL_SCALE (a factor, e.g. 0.05) shortens the delays for simulators,
        /// as it does for waits; it never changes the number of attempts.
        /// </summary>
        public static AwsRetryPolicy Default(int maxAttempts = 5)
        {
            var policy = new AwsRetryPolicy { MaxAttempts = maxAttempts };
            if (PollScale() is double factor)
            {
                policy.BaseDelay = TimeSpan.FromMilliseconds(policy.BaseDelay.TotalMilliseconds * factor);
                policy.MaxDelay = TimeSpan.FromMilliseconds(policy.MaxDelay.TotalMilliseconds * factor);
            }

            return policy;
        }

        /// <summary>The delay before retry number <paramref name="retry"/> (1 = the second attempt).</summary>
        public TimeSpan DelayBefore(int retry)
        {
            if (retry < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(retry), retry, "The first retry is number 1.");
            }

            double cap = Math.Min(MaxDelay.TotalMilliseconds, BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(retry - 1, 30)));
            double r = NextRandom is null ? NextShared() : NextRandom();
            r = Math.Max(0, Math.Min(1, r));
            return TimeSpan.FromMilliseconds(cap / 2 + (cap / 2 * r));
        }

        /// <summary>Runs <paramref name="call"/>, retrying failures <paramref name="retryOn"/> accepts (default: <see cref="AwsRetry.IsTransient(Exception, CancellationToken)"/>).</summary>
        public Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> call, Func<Exception, bool>? retryOn, CancellationToken ct)
        {
            if (call is null)
            {
                throw new ArgumentNullException(nameof(call));
            }

            return UntilAsync((_, token) => call(token), null, retryOn, ct);
        }

        /// <summary>Runs <paramref name="call"/>, retrying failures <paramref name="retryOn"/> accepts (default: transient ones).</summary>
        public Task RunAsync(Func<CancellationToken, Task> call, Func<Exception, bool>? retryOn, CancellationToken ct)
        {
            if (call is null)
            {
                throw new ArgumentNullException(nameof(call));
            }

            return UntilAsync<bool>(
                async (_, token) =>
                {
                    await call(token).ConfigureAwait(false);
                    return true;
                },
                null,
                retryOn,
                ct);
        }

        /// <summary>
        /// Calls <paramref name="attempt"/> (with the attempt number, from 1) until <paramref name="done"/> accepts
        /// its result (null: any result) or the attempts run out, in which case the last result is returned. A
        /// failure <paramref name="retryOn"/> accepts (default: transient) is retried while attempts remain; any
        /// other, or the last, is thrown as it is. Cancellation stops the wait between attempts at once.
        /// </summary>
        public async Task<T> UntilAsync<T>(Func<int, CancellationToken, Task<T>> attempt, Func<T, bool>? done, Func<Exception, bool>? retryOn, CancellationToken ct)
        {
            if (attempt is null)
            {
                throw new ArgumentNullException(nameof(attempt));
            }

            int max = Math.Max(1, MaxAttempts);
            for (int n = 1; ; n++)
            {
                ct.ThrowIfCancellationRequested();
                T result;
                try
                {
                    result = await attempt(n, ct).ConfigureAwait(false);
                }
                catch (Exception e) when (n < max && !ct.IsCancellationRequested && (retryOn is null ? AwsRetry.IsTransient(e, ct) : retryOn(e)))
                {
                    await SleepAsync(DelayBefore(n), ct).ConfigureAwait(false);
                    continue;
                }

                if (done is null || done(result) || n >= max)
                {
                    return result;
                }

                await SleepAsync(DelayBefore(n), ct).ConfigureAwait(false);
            }
        }

        private Task SleepAsync(TimeSpan delay, CancellationToken ct)
            => Sleep is null ? Task.Delay(delay, ct) : Sleep(delay, ct);

        /// <summary>CCIEDR_POLL_SCALE, the factor (0 to 1] that shortens retry and poll delays for simulators; null when unset or out of range.</summary>
        internal static double? PollScale()
        {
            string? scale = Environment.GetEnvironmentVariable("CCIEDR_POLL_SCALE");
            return double.TryParse(scale, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double factor) && factor > 0 && factor <= 1
                ? factor
                : null;
        }

        /// <summary>A number in [0, 1) from the one shared <see cref="Random"/> of retry and poll jitter.</summary>
        internal static double NextShared()
        {
            lock (SharedRandom)
            {
                return SharedRandom.NextDouble();
            }
        }
    }
}
