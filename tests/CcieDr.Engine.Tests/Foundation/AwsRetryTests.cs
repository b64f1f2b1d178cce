using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.Runtime;
using CcieDr.Engine;
using CcieDr.Engine.Aws;
using Xunit;

namespace CcieDr.Engine.Tests.Foundation;

/// <summary>The one transient-error classifier and the one retry policy (delays injected: nothing sleeps).</summary>
public class AwsRetryTests
{
    [Theory]
    [InlineData("RequestLimitExceeded", HttpStatusCode.ServiceUnavailable, true)]
    [InlineData("Throttling", HttpStatusCode.BadRequest, true)]
    [InlineData("ThrottlingException", HttpStatusCode.BadRequest, true)]
    [InlineData("SlowDown", HttpStatusCode.ServiceUnavailable, true)]
    [InlineData("InternalError", HttpStatusCode.InternalServerError, true)]
    [InlineData("ServiceUnavailable", HttpStatusCode.ServiceUnavailable, true)]
    [InlineData("RequestTimeout", HttpStatusCode.BadRequest, true)]
    [InlineData("SnapshotCreationPerVolumeRateExceeded", HttpStatusCode.BadRequest, true)]
    [InlineData("", HttpStatusCode.BadGateway, true)]
    [InlineData("", HttpStatusCode.InternalServerError, true)]
    [InlineData("", (HttpStatusCode)429, true)]
    [InlineData("UnauthorizedOperation", HttpStatusCode.Forbidden, false)]
    [InlineData("AuthFailure", HttpStatusCode.Unauthorized, false)]
    [InlineData("InvalidParameterValue", HttpStatusCode.BadRequest, false)]
    [InlineData("InvalidSnapshot.NotFound", HttpStatusCode.BadRequest, false)]
    [InlineData("InstanceLimitExceeded", HttpStatusCode.BadRequest, false)]
    [InlineData("VcpuLimitExceeded", HttpStatusCode.BadRequest, false)]
    [InlineData("InsufficientInstanceCapacity", HttpStatusCode.InternalServerError, false)]
    [InlineData("InvalidAMIName.Duplicate", HttpStatusCode.BadRequest, false)]
    public void Classifies_aws_service_errors(string code, HttpStatusCode status, bool transient)
    {
        var error = new AmazonEC2Exception("boom", ErrorType.Unknown, code, "req-1", status);
        Assert.Equal(transient, AwsRetry.IsTransient(error));

        // A mapped error is classified by what AWS said, not by its category.
        Assert.Equal(transient, AwsRetry.IsTransient(AwsErrorMapper.Map(error, "ec2:Test", "x")));
    }

    public static IEnumerable<object[]> OtherFailures() => new[]
    {
        new object[] { new HttpRequestException("connection reset"), true },
        new object[] { new IOException("broken pipe"), true },
        new object[] { new TimeoutException("slow"), true },
        new object[] { new AmazonClientException("Error making request", new HttpRequestException("reset")), true },
        new object[] { new AmazonClientException("Failed to resolve AWS credentials. The credential providers ..."), false },
        new object[] { new AmazonClientException("Unable to marshal request"), false },
        new object[] { new InvalidOperationException("a bug"), false },
        new object[] { new CcieException("RecoveryPointFailed", CcieErrorCategory.ResourceUnavailable, "failed", null), false },
        new object[] { new OperationCanceledException(), false },
    };

    [Theory]
    [MemberData(nameof(OtherFailures))]
    public void Classifies_network_client_and_engine_errors(Exception error, bool transient)
    {
        Assert.Equal(transient, AwsRetry.IsTransient(error));
    }

    [Fact]
    public void A_cancellation_is_a_timeout_only_when_the_caller_did_not_cancel()
    {
        using var cts = new CancellationTokenSource();
        Assert.True(AwsRetry.IsTransient(new TaskCanceledException("HttpClient timeout"), cts.Token));
        cts.Cancel();
        Assert.False(AwsRetry.IsTransient(new TaskCanceledException("Ctrl+C"), cts.Token));
    }

    [Theory]
    [InlineData("InvalidSnapshot.NotFound", HttpStatusCode.BadRequest, true)]
    [InlineData("NoSuchUpload", HttpStatusCode.NotFound, true)]
    [InlineData("", HttpStatusCode.NotFound, true)]
    [InlineData("InvalidParameterValue", HttpStatusCode.BadRequest, false)]
    [InlineData("Throttling", HttpStatusCode.BadRequest, false)]
    public void Classifies_not_found(string code, HttpStatusCode status, bool notFound)
    {
        var error = new AmazonEC2Exception("boom", ErrorType.Sender, code, "req-1", status);
        Assert.Equal(notFound, AwsRetry.IsNotFound(error));
        Assert.Equal(notFound, AwsRetry.IsNotFound(AwsErrorMapper.Map(error, "ec2:Test", "x")));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(0.999)]
    public void Backoff_doubles_within_jitter_bounds_and_is_capped(double random)
    {
        var policy = new AwsRetryPolicy { BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromMilliseconds(1000), NextRandom = () => random };
        double[] caps = { 100, 200, 400, 800, 1000, 1000, 1000 };
        for (int retry = 1; retry <= caps.Length; retry++)
        {
            double ms = policy.DelayBefore(retry).TotalMilliseconds;
            double cap = caps[retry - 1];
            Assert.InRange(ms, cap / 2, cap);
            Assert.Equal(cap / 2 + (cap / 2 * random), ms, 3);
        }

        Assert.Equal(500 + (500 * random), policy.DelayBefore(1000).TotalMilliseconds, 3);
    }

    [Fact]
    public void Jitter_spreads_the_delays_of_concurrent_callers()
    {
        var policy = new AwsRetryPolicy { BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) };
        var seen = new HashSet<double>();
        for (int i = 0; i < 50; i++)
        {
            double ms = policy.DelayBefore(3).TotalMilliseconds;
            Assert.InRange(ms, 200, 400);
            seen.Add(ms);
        }

        Assert.True(seen.Count > 10, $"only {seen.Count} distinct delays out of 50");
    }

    [Fact]
    public async Task Retries_transient_failures_with_backoff_then_succeeds()
    {
        var slept = new List<TimeSpan>();
        var policy = Recording(slept, maxAttempts: 5);
        int calls = 0;
        string result = await policy.RunAsync(
            _ =>
            {
                calls++;
                if (calls < 3)
                {
                    throw new AmazonEC2Exception("slow down", ErrorType.Sender, "RequestLimitExceeded", "r", HttpStatusCode.ServiceUnavailable);
                }

                return Task.FromResult("ok");
            },
            null,
            CancellationToken.None);
        Assert.Equal("ok", result);
        Assert.Equal(3, calls);
        Assert.Equal(new[] { TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200) }, slept);
    }

    [Fact]
    public async Task A_final_error_is_thrown_at_once_and_the_last_transient_one_after_the_attempts()
    {
        var slept = new List<TimeSpan>();
        var policy = Recording(slept, maxAttempts: 3);
        int calls = 0;
        var denied = await Assert.ThrowsAsync<AmazonEC2Exception>(() => policy.RunAsync(
            _ =>
            {
                calls++;
                throw new AmazonEC2Exception("no", ErrorType.Sender, "UnauthorizedOperation", "r", HttpStatusCode.Forbidden);
            },
            null,
            CancellationToken.None));
        Assert.Equal("UnauthorizedOperation", denied.ErrorCode);
        Assert.Equal(1, calls);
        Assert.Empty(slept);

        calls = 0;
        var throttled = await Assert.ThrowsAsync<AmazonEC2Exception>(() => policy.RunAsync(
            _ =>
            {
                calls++;
                throw new AmazonEC2Exception("busy " + calls, ErrorType.Sender, "Throttling", "r", HttpStatusCode.BadRequest);
            },
            null,
            CancellationToken.None));
        Assert.Equal("busy 3", throttled.Message);
        Assert.Equal(3, calls);
        Assert.Equal(2, slept.Count);
    }

    [Fact]
    public async Task UntilAsync_repeats_until_done_and_returns_the_last_result_when_attempts_run_out()
    {
        var slept = new List<TimeSpan>();
        var policy = Recording(slept, maxAttempts: 4);
        var seen = new List<int>();
        int last = await policy.UntilAsync((n, _) => { seen.Add(n); return Task.FromResult(n); }, n => n == 2, null, CancellationToken.None);
        Assert.Equal(2, last);
        Assert.Equal(new[] { 1, 2 }, seen);

        seen.Clear();
        last = await policy.UntilAsync((n, _) => { seen.Add(n); return Task.FromResult(n); }, _ => false, null, CancellationToken.None);
        Assert.Equal(4, last);
        Assert.Equal(new[] { 1, 2, 3, 4 }, seen);
    }

    [Fact]
    public async Task Cancellation_during_the_backoff_stops_at_once()
    {
        using var cts = new CancellationTokenSource();
        var entered = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var policy = new AwsRetryPolicy
        {
            MaxAttempts = 10,
            BaseDelay = TimeSpan.FromHours(1),
            MaxDelay = TimeSpan.FromHours(1),
            Sleep = (delay, ct) =>
            {
                entered.TrySetResult(true);
                return Task.Delay(delay, ct);
            },
        };
        int calls = 0;
        Task run = policy.RunAsync(
            _ =>
            {
                calls++;
                throw new HttpRequestException("reset");
            },
            null,
            cts.Token);
        await entered.Task;
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task A_cancelled_call_is_not_retried()
    {
        using var cts = new CancellationTokenSource();
        var policy = Recording(new List<TimeSpan>(), maxAttempts: 5);
        int calls = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => policy.RunAsync(
            ct =>
            {
                calls++;
                cts.Cancel();
                ct.ThrowIfCancellationRequested();
                return Task.CompletedTask;
            },
            null,
            cts.Token));
        Assert.Equal(1, calls);
    }

    private static AwsRetryPolicy Recording(List<TimeSpan> slept, int maxAttempts) => new AwsRetryPolicy
    {
        MaxAttempts = maxAttempts,
        BaseDelay = TimeSpan.FromMilliseconds(100),
        MaxDelay = TimeSpan.FromSeconds(1),
        NextRandom = () => 1.0,
        Sleep = (delay, _) =>
        {
            slept.Add(delay);
            return Task.CompletedTask;
        },
    };
}
