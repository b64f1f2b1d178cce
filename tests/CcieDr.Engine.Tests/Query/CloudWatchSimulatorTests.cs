using Amazon.Runtime;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Aws.CloudWatch;
using CcieDr.Engine.Aws.Query;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Query;

/// <summary>The hand-written CloudWatch client end to end against the simulator (Query protocol, signed, retried).</summary>
public class CloudWatchSimulatorTests
{
    private static CloudWatchClient Client(SimulatorServer server) => new(new QueryClient(
        QueryService.CloudWatch,
        "us-east-1",
        server.Url,
        _ => Task.FromResult(new ImmutableCredentials("AKIDSIM", "secret", null)),
        new AwsRetryPolicy { MaxAttempts = 4, BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(2) }));

    [Fact]
    public async Task Put_list_and_read_back_on_the_simulated_clock_with_paging_and_throttling()
    {
        var options = new SimulatorOptions { ClockMode = ClockMode.Manual, PageSize = 2 };
        await using var server = await SimulatorServer.StartAsync(options);
        server.Control.SeedCircleCi("us-east-1");
        server.Control.AdvanceClock(TimeSpan.FromHours(2)); // the simulated clock runs ahead of ours
        using var cw = Client(server);

        server.Control.InjectFault("throttle", "PutMetricData", 2);
        await cw.PutMetricDataAsync("Drill", [new MetricDatum("probe", 5, server.Control.Now.AddMinutes(-3)), new MetricDatum("probe", 9, server.Control.Now.AddMinutes(-1))], CancellationToken.None);
        Assert.Equal(2, server.Control.FaultCount("throttle", "PutMetricData"));

        var metrics = await cw.ListMetricsAsync("CWAgent", null, null, CancellationToken.None);
        Assert.Equal(3, metrics.Count); // mem + disk / + disk /data, over two pages
        Assert.True(server.Control.RequestLog("ListMetrics").Count >= 2);

        var reading = await new CloudWatchMetrics(cw).GetLatestAsync("Drill", "probe", null, TimeSpan.FromMinutes(15), "Maximum", CancellationToken.None);
        Assert.True(reading.Listed);
        Assert.Equal(9, reading.Value);
        Assert.Equal(server.Control.Now, reading.Now);
        Assert.InRange(reading.Age!.Value, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120));

        var masters = await new CloudWatchMetrics(cw).GetLatestAsync("CircleCI", "circle.state.num-masters", null, TimeSpan.FromMinutes(15), "Maximum", CancellationToken.None);
        Assert.Equal(3, masters.Value);

        var e = await Assert.ThrowsAsync<CcieException>(() => cw.GetMetricDataAsync([new MetricDataQuery("Bad-id", new MetricIdentity("Drill", "probe"), 60, "Maximum")], server.Control.Now.AddHours(-1), server.Control.Now, CancellationToken.None));
        Assert.Equal("Aws.InvalidParameterValue", e.ErrorId);
        Assert.Contains("MetricDataQueries.member.1.Id", e.Message);
    }
}
