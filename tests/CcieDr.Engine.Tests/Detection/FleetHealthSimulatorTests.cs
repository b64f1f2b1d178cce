using System.Text;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Aws.CloudWatch;
using CcieDr.Engine.Aws.Query;
using CcieDr.Engine.Detection;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Detection;

/// <summary>FleetHealthCheck end to end on the simulator: the world's state becomes the verdict.</summary>
public sealed class FleetHealthSimulatorTests : IAsyncLifetime
{
    private SimulatorServer server = null!;
    private AmazonEC2Client ec2 = null!;
    private CloudWatchClient cw = null!;

    public async Task InitializeAsync()
    {
        server = await SimulatorServer.StartAsync(new SimulatorOptions { ClockMode = ClockMode.Manual });
        server.Control.SeedCircleCi("us-east-1");
        server.Control.AdvanceClock(60);
        ec2 = new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonEC2Config { ServiceURL = server.Url.ToString(), AuthenticationRegion = "us-east-1", MaxErrorRetry = 1 });
        cw = new CloudWatchClient(new QueryClient(QueryService.CloudWatch, "us-east-1", server.Url, _ => Task.FromResult(new ImmutableCredentials("AKIDSIM", "secret", null)), new AwsRetryPolicy { MaxAttempts = 2, BaseDelay = TimeSpan.FromMilliseconds(1) }));
    }

    public async Task DisposeAsync()
    {
        cw.Dispose();
        ec2.Dispose();
        await server.DisposeAsync();
    }

    private async Task<FleetHealth> Check(string region = "us-east-1", Action<FleetHealthOptions>? more = null)
    {
        var options = new FleetHealthOptions();
        more?.Invoke(options);
        if (region == "us-east-1")
        {
            return await new FleetHealthCheck(cw, ec2, region).RunAsync(options, CancellationToken.None);
        }

        using var otherEc2 = new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonEC2Config { ServiceURL = server.Url.ToString(), AuthenticationRegion = region, MaxErrorRetry = 1 });
        using var otherCw = new CloudWatchClient(new QueryClient(QueryService.CloudWatch, region, server.Url, _ => Task.FromResult(new ImmutableCredentials("AKIDSIM", "secret", null))));
        return await new FleetHealthCheck(otherCw, otherEc2, region).RunAsync(options, CancellationToken.None);
    }

    [Fact]
    public async Task The_seeded_fleet_is_healthy_then_each_failure_gets_its_verdict()
    {
        var healthy = await Check();
        Assert.Equal("Healthy", healthy.Verdict);
        Assert.Equal("CircleCI", healthy.Namespace);
        Assert.Equal(3, healthy.NumMasters);
        Assert.Equal(2, healthy.BuildersSeenByApp);
        Assert.Equal(2, healthy.BuildersRunning);
        Assert.Equal(["circleci-builders"], healthy.AutoScalingGroupNames);
        Assert.Equal(["10.0.1.10"], healthy.ServicesPrivateIps);
        Assert.Equal(server.Control.Now, healthy.CheckedAt);
        var row = healthy.Metrics.Single(m => m.MetricName == "circle.state.num-masters");
        Assert.Equal("Ok", row.Status);
        Assert.InRange(row.Age!.Value, TimeSpan.Zero, TimeSpan.FromMinutes(1));

        server.Control.KillApp();
        server.Control.AdvanceClock(60);
        var down = await Check();
        Assert.Equal("Outage", down.Verdict);
        Assert.Equal(0, down.NumMasters);

        server.Control.ReviveApp();
        server.Control.SetCloudWatchPublisher("us-east-1", "circleci", false);
        server.Control.AdvanceClock(TimeSpan.FromMinutes(7));
        var stale = await Check(more: o => o.StaleAfter = TimeSpan.FromMinutes(5));
        Assert.Equal("Outage", stale.Verdict);
        Assert.Equal("Stale", stale.Metrics.Single(m => m.MetricName == "circle.state.num-masters").Status);
        Assert.Contains("no data for", stale.Reasons[0]);
    }

    [Fact]
    public async Task Builders_launched_for_another_ip_are_not_connected_and_named()
    {
        var other = Convert.ToBase64String(Encoding.UTF8.GetBytes("#!/bin/bash\nSERVICES_PRIVATE_IP=10.0.1.99\n"));
        var lt = server.Control.AutoScalingGroups("us-east-1").Single().LaunchTemplateId;
        await ec2.CreateLaunchTemplateVersionAsync(new CreateLaunchTemplateVersionRequest { LaunchTemplateId = lt, SourceVersion = "1", LaunchTemplateData = new RequestLaunchTemplateData { UserData = other } });
        await ec2.ModifyLaunchTemplateAsync(new ModifyLaunchTemplateRequest { LaunchTemplateId = lt, DefaultVersion = "2" });
        server.Control.SetAutoScalingGroup("us-east-1", "circleci-builders", suspended: false);
        var old = server.Control.AutoScalingGroups("us-east-1").Single().InstanceIds;
        await ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = old.ToList() });
        for (var i = 0; i < 6; i++)
        {
            server.Control.AdvanceClock(30);
        }

        var v = await Check();
        Assert.Equal("NotConnected", v.Verdict);
        Assert.Equal(0, v.BuildersSeenByApp);
        Assert.Equal(2, v.BuildersRunning);
        Assert.Equal(2, v.BuildersWithOtherServicesIp.Count);
        Assert.All(v.BuildersWithOtherServicesIp.Values, ip => Assert.Equal("10.0.1.99", ip));
        Assert.Contains(v.Reasons, r => r.Contains("SERVICES_PRIVATE_IP=10.0.1.99 but the Services box is 10.0.1.10"));
    }

    [Fact]
    public async Task A_region_without_CircleCI_metrics_is_MetricsMissing_and_a_given_namespace_is_used()
    {
        var missing = await Check("us-west-2");
        Assert.Equal("MetricsMissing", missing.Verdict);
        Assert.Null(missing.Namespace);
        Assert.All(missing.Metrics, m => Assert.Equal("Missing", m.Status));

        await cw.PutMetricDataAsync("MyCircle", [new MetricDatum("circle.state.num-masters", 1, server.Control.Now)], CancellationToken.None);
        var mine = await Check(more: o => o.Namespace = "MyCircle");
        Assert.Equal("MyCircle", mine.Namespace);
        Assert.Equal("NotConnected", mine.Verdict); // 1 master while the seeded 2 builders run
    }
}
