using System;
using System.Collections.Generic;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.Runtime;
using CcieDr.Engine;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using Xunit;

namespace CcieDr.Engine.Tests.Foundation;

/// <summary>The one waiter, on a fake clock: every sleep advances the clock by what was asked, nothing waits for real.</summary>
public sealed class WaiterTests
{
    private sealed class FakeTime
    {
        public DateTime Now { get; set; } = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        public List<TimeSpan> Sleeps { get; } = new();

        public Action? OnSleep { get; set; }

        public WaitOptions Options(TimeSpan timeout, double random = 0) => new()
        {
            Timeout = timeout,
            InitialDelay = TimeSpan.FromSeconds(1),
            MaxDelay = TimeSpan.FromSeconds(10),
            Fraction = 0.1,
            Jitter = 0.5,
            Clock = () => Now,
            NextRandom = () => random,
            Sleep = (d, ct) =>
            {
                ct.ThrowIfCancellationRequested();
                Sleeps.Add(d);
                Now += d;
                OnSleep?.Invoke();
                return Task.CompletedTask;
            },
        };
    }

    private static AmazonEC2Exception Throttled() => new("Request limit exceeded.", ErrorType.Sender, "RequestLimitExceeded", "r", HttpStatusCode.ServiceUnavailable);

    [Fact]
    public async Task Returns_the_state_the_predicate_accepts_and_reports_every_poll()
    {
        var time = new FakeTime();
        int polls = 0;
        var seen = new List<WaitProgress<int>>();

        int state = await Waiter.UntilAsync(_ => Task.FromResult(++polls * 10), s => s >= 30, time.Options(TimeSpan.FromMinutes(1)), "x", null, CancellationToken.None, progress: seen.Add);

        Assert.Equal(30, state);
        Assert.Equal(3, polls);
        Assert.Equal(new[] { 10, 20, 30 }, seen.ConvertAll(p => p.Last));
        Assert.Equal(new[] { 1, 2, 3 }, seen.ConvertAll(p => p.Poll));
        Assert.Equal(2, time.Sleeps.Count);
    }

    [Fact]
    public async Task The_delay_grows_with_the_time_waited_up_to_the_maximum()
    {
        var time = new FakeTime();

        await Assert.ThrowsAsync<CcieException>(() => Waiter.UntilAsync(_ => Task.FromResult(0), _ => false, time.Options(TimeSpan.FromMinutes(10)), "x", null, CancellationToken.None));

        Assert.Equal(TimeSpan.FromSeconds(1), time.Sleeps[0]); // a tenth of nothing: the initial delay
        Assert.Equal(TimeSpan.FromSeconds(10), time.Sleeps[^2]); // a tenth of minutes: capped
        for (int i = 1; i < time.Sleeps.Count - 1; i++)
        {
            Assert.True(time.Sleeps[i] >= time.Sleeps[i - 1], $"delay {i} shrank: {time.Sleeps[i - 1]} then {time.Sleeps[i]}");
        }
    }

    [Theory]
    [InlineData(0.0, 20000)]
    [InlineData(0.5, 15000)]
    [InlineData(1.0, 10000)]
    public void The_jitter_takes_up_to_its_share_off_the_delay(double random, int expectedMs)
    {
        var options = new WaitOptions { InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(20), Fraction = 0.1, Jitter = 0.5, NextRandom = () => random };
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), options.JitteredDelayAfter(TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public async Task The_timeout_error_names_what_was_waited_for_and_the_last_state_seen()
    {
        var time = new FakeTime();
        int polls = 0;

        CcieException e = await Assert.ThrowsAsync<CcieException>(() => Waiter.UntilAsync(
            _ => Task.FromResult("pending " + (++polls)),
            s => s == "available",
            time.Options(TimeSpan.FromSeconds(30)),
            "AMI ami-1 to become available",
            "ami-1",
            CancellationToken.None,
            describe: s => "state " + s));

        Assert.Equal("WaitTimedOut", e.ErrorId);
        Assert.Equal(CcieErrorCategory.OperationTimeout, e.Category);
        Assert.Equal("ami-1", e.Target);
        Assert.Contains("AMI ami-1 to become available", e.Message, StringComparison.Ordinal);
        Assert.Contains("last seen: state pending " + polls, e.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(30), time.Now - new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc)); // the last sleep is cut to the deadline
    }

    [Fact]
    public async Task Transient_failures_of_a_poll_are_not_yet_and_the_wait_goes_on()
    {
        var time = new FakeTime();
        int polls = 0;
        var errors = new List<Exception?>();

        string state = await Waiter.UntilAsync(
            _ => ++polls <= 3 ? Task.FromException<string>(polls == 2 ? new CcieException("Aws.RequestLimitExceeded", CcieErrorCategory.LimitsExceeded, "mapped", null, Throttled()) : Throttled()) : Task.FromResult("ok"),
            s => s == "ok",
            time.Options(TimeSpan.FromMinutes(1)),
            "x",
            null,
            CancellationToken.None,
            progress: p => errors.Add(p.Error));

        Assert.Equal("ok", state);
        Assert.Equal(4, polls);
        Assert.Equal(3, errors.FindAll(x => x is not null).Count);
        Assert.Null(errors[^1]);
    }

    [Fact]
    public async Task A_timeout_after_failing_polls_says_the_last_poll_failed_and_why()
    {
        var time = new FakeTime();

        CcieException e = await Assert.ThrowsAsync<CcieException>(() => Waiter.UntilAsync<string>(_ => Task.FromException<string>(Throttled()), _ => true, time.Options(TimeSpan.FromSeconds(5)), "snapshot snap-1 to complete", "snap-1", CancellationToken.None));

        Assert.Equal("WaitTimedOut", e.ErrorId);
        Assert.Contains("never seen", e.Message, StringComparison.Ordinal);
        Assert.Contains("Request limit exceeded", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_final_failure_ends_the_wait_at_once()
    {
        var time = new FakeTime();
        int polls = 0;
        var denied = new AmazonEC2Exception("not authorized", ErrorType.Sender, "UnauthorizedOperation", "r", HttpStatusCode.Forbidden);

        AmazonEC2Exception e = await Assert.ThrowsAsync<AmazonEC2Exception>(() => Waiter.UntilAsync<string>(_ => { polls++; return Task.FromException<string>(denied); }, _ => true, time.Options(TimeSpan.FromMinutes(1)), "x", null, CancellationToken.None));

        Assert.Same(denied, e);
        Assert.Equal(1, polls);
        Assert.Empty(time.Sleeps);
    }

    [Fact]
    public async Task Failures_the_caller_tolerates_count_as_not_yet()
    {
        var time = new FakeTime();
        int polls = 0;
        var notFound = new AmazonEC2Exception("unknown", ErrorType.Sender, "InvalidInstanceID.NotFound", "r", HttpStatusCode.BadRequest);

        string state = await Waiter.UntilAsync(_ => ++polls == 1 ? Task.FromException<string>(notFound) : Task.FromResult("running"), s => s == "running", time.Options(TimeSpan.FromMinutes(1)), "x", null, CancellationToken.None, notYet: AwsRetry.IsNotFound);

        Assert.Equal("running", state);
        Assert.Equal(2, polls);
    }

    [Fact]
    public async Task Cancellation_during_a_delay_stops_the_wait_with_no_further_poll()
    {
        var time = new FakeTime();
        using var cts = new CancellationTokenSource();
        int polls = 0;
        time.OnSleep = () =>
        {
            if (time.Sleeps.Count == 2)
            {
                cts.Cancel();
            }
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Waiter.UntilAsync(_ => Task.FromResult(++polls), _ => false, time.Options(TimeSpan.FromHours(1)), "x", null, cts.Token));

        Assert.Equal(2, polls);
    }

    [Fact]
    public async Task A_cancelled_poll_is_not_taken_for_an_sdk_timeout()
    {
        var time = new FakeTime();
        using var cts = new CancellationTokenSource();
        int polls = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Waiter.UntilAsync<int>(
            ct =>
            {
                polls++;
                cts.Cancel();
                ct.ThrowIfCancellationRequested();
                return Task.FromResult(0);
            },
            _ => false,
            time.Options(TimeSpan.FromHours(1)),
            "x",
            null,
            cts.Token));

        Assert.Equal(1, polls);
        Assert.Empty(time.Sleeps);
    }

    [Fact]
    public async Task An_sdk_timeout_of_a_poll_is_transient()
    {
        var time = new FakeTime();
        int polls = 0;

        int state = await Waiter.UntilAsync(_ => ++polls == 1 ? Task.FromException<int>(new TaskCanceledException("the request timed out")) : Task.FromResult(7), s => s == 7, time.Options(TimeSpan.FromMinutes(1)), "x", null, CancellationToken.None);

        Assert.Equal(7, state);
        Assert.Equal(2, polls);
    }
}
