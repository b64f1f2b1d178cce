using CcieDr.Engine;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using Xunit;

namespace CcieDr.Engine.Tests.Foundation;

public class OperationsTests
{
    private sealed class RecordingReporter : IOperationReporter
    {
        public List<ProgressUpdate> Updates { get; } = new();

        public void Progress(ProgressUpdate update) => Updates.Add(update);

        public void Verbose(string message)
        {
        }

        public void Warning(string message)
        {
        }
    }

    [Fact]
    public void Progress_activity_always_completes_and_nests()
    {
        var reporter = new RecordingReporter();
        using (var parent = new ProgressActivity(reporter, "Restore", "planning"))
        {
            using var child = new ProgressActivity(reporter, "Wait", "pending", parent);
            child.Update("50%", 5, 10);
            Assert.Equal(parent.Id, child.ParentId);
        }

        Assert.Equal(2, reporter.Updates.Count(u => u.Completed));
        Assert.Equal(50, reporter.Updates.Single(u => u.Status == "50%" && !u.Completed).PercentComplete);
        Assert.Null(reporter.Updates.First().PercentComplete); // unknown total: no percent
        var completedChild = reporter.Updates.First(u => u.Completed);
        Assert.NotEqual(-1, completedChild.ParentActivityId); // child completes first, inside parent
    }

    [Fact]
    public void Progress_activity_completes_once_even_if_disposed_twice()
    {
        var reporter = new RecordingReporter();
        var activity = new ProgressActivity(reporter, "A", "s");
        activity.Dispose();
        activity.Dispose();
        Assert.Single(reporter.Updates, u => u.Completed);
    }

    [Fact]
    public async Task Timeline_records_steps_and_failures_with_times()
    {
        var now = new DateTime(2026, 11, 28, 12, 0, 0, DateTimeKind.Utc);
        var timeline = new Timeline(() => now);
        await timeline.RunAsync("ec2:RegisterImage", "rp-1", e =>
        {
            now = now.AddSeconds(3);
            return Task.CompletedTask;
        });
        await Assert.ThrowsAsync<InvalidOperationException>(() => timeline.RunAsync("ec2:RunInstances", null, e =>
        {
            now = now.AddSeconds(1);
            throw new InvalidOperationException("capacity");
        }));

        var entries = timeline.Entries;
        Assert.Equal(2, entries.Count);
        Assert.Equal(1, entries[0].Step);
        Assert.Equal("Succeeded", entries[0].Outcome);
        Assert.Equal(TimeSpan.FromSeconds(3), entries[0].Duration);
        Assert.Equal("Failed", entries[1].Outcome);
        Assert.Equal("capacity", entries[1].Detail);
        Assert.Equal(TimeSpan.FromSeconds(1), entries[1].Duration);
    }

    [Fact]
    public void Plan_renders_each_step_in_order()
    {
        var plan = new OperationPlan("Restore Services box", "rp-1")
            .Add("ec2:RegisterImage", "RootDeviceName=/dev/sda1 Architecture=x86_64")
            .Add("ec2:RunInstances", "PrivateIpAddress=10.0.1.10 SubnetId=subnet-1");
        plan.Notes.Add("builders keep their configuration");
        string text = plan.Render();
        Assert.Contains("Restore Services box on rp-1:", text);
        Assert.True(text.IndexOf("1. ec2:RegisterImage", StringComparison.Ordinal) < text.IndexOf("2. ec2:RunInstances", StringComparison.Ordinal));
        Assert.Contains("PrivateIpAddress=10.0.1.10", text);
        Assert.Contains("note: builders keep", text);
    }

    [Fact]
    public async Task Waiter_returns_when_condition_holds()
    {
        int polls = 0;
        string result = await Waiter.UntilAsync<string>(
            _ => Task.FromResult(++polls >= 3 ? "done" : null),
            new WaitOptions { InitialDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(2), Timeout = TimeSpan.FromSeconds(30) },
            "x",
            null,
            CancellationToken.None);
        Assert.Equal("done", result);
        Assert.Equal(3, polls);
    }

    [Fact]
    public async Task Waiter_times_out_with_a_clear_error()
    {
        var error = await Assert.ThrowsAsync<CcieException>(() => Waiter.UntilAsync<string>(
            _ => Task.FromResult<string?>(null),
            new WaitOptions { InitialDelay = TimeSpan.FromMilliseconds(5), Timeout = TimeSpan.FromMilliseconds(50) },
            "snapshot snap-1 to complete",
            "snap-1",
            CancellationToken.None));
        Assert.Equal(CcieErrorCategory.OperationTimeout, error.Category);
        Assert.Equal("snap-1", error.Target);
        Assert.Contains("snapshot snap-1 to complete", error.Message);
    }

    [Fact]
    public async Task Waiter_stops_on_cancellation()
    {
        using var cts = new CancellationTokenSource();
        int polls = 0;
        Task wait = Waiter.UntilAsync<string>(
            _ =>
            {
                if (++polls == 2)
                {
                    cts.Cancel();
                }

                return Task.FromResult<string?>(null);
            },
            new WaitOptions { InitialDelay = TimeSpan.FromMilliseconds(1), Timeout = TimeSpan.FromMinutes(5) },
            "x",
            null,
            cts.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        Assert.Equal(2, polls);
    }

    [Fact]
    public void Region_is_required_with_a_helpful_message()
    {
        string? saved = Environment.GetEnvironmentVariable("AWS_REGION");
        string? savedDefault = Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION");
        try
        {
            Environment.SetEnvironmentVariable("AWS_REGION", null);
            Environment.SetEnvironmentVariable("AWS_DEFAULT_REGION", null);
            var error = Assert.Throws<CcieException>(() => new AwsClientFactory(new AwsConnectionOptions()));
            Assert.Equal("AwsRegionNotSet", error.ErrorId);
            Assert.Contains("-Region", error.Message);
            Assert.Equal("eu-west-1", new AwsClientFactory(new AwsConnectionOptions { Region = "eu-west-1" }).Region);
        }
        finally
        {
            Environment.SetEnvironmentVariable("AWS_REGION", saved);
            Environment.SetEnvironmentVariable("AWS_DEFAULT_REGION", savedDefault);
        }
    }

    [Fact]
    public void Unknown_profile_is_an_object_not_found_error()
    {
        var error = Assert.Throws<CcieException>(() => new AwsClientFactory(new AwsConnectionOptions { Region = "us-east-1", ProfileName = "no-such-profile-ccie" }));
        Assert.Equal(CcieErrorCategory.ObjectNotFound, error.Category);
        Assert.Equal("no-such-profile-ccie", error.Target);
    }
}
