using CcieDr.Engine.Detection;
using Xunit;

namespace CcieDr.Engine.Tests.Detection;

/// <summary>The fleet verdict as CircleCI's guide reads the metrics.</summary>
public class FleetHealthInterpreterTests
{
    private static MetricObservation Fresh(double v, double? first = null) => new(true, v, TimeSpan.FromSeconds(40), first);

    private static FleetObservation Fleet(double? masters, int running, Action<FleetObservation>? more = null)
    {
        var o = new FleetObservation
        {
            Region = "us-east-1",
            Namespace = "CircleCI",
            NumMasters = masters is null ? MetricObservation.Missing : Fresh(masters.Value),
            RunQueueBuilds = Fresh(0, 0),
            ContainersLeaked = Fresh(0),
            BuildersRunning = running,
            ServicesPrivateIps = ["10.0.1.10"],
        };
        more?.Invoke(o);
        return o;
    }

    [Fact]
    public void Masters_one_more_than_the_builders_AWS_runs_is_healthy()
    {
        var v = FleetHealthInterpreter.Interpret(Fleet(3, 2));
        Assert.Equal("Healthy", v.Verdict);
        Assert.Equal(2, v.BuildersSeenByApp);
        Assert.Equal("None.", v.SuggestedAction);
        Assert.Contains("the app sees 2 builders", v.Reasons[0]);
    }

    [Fact]
    public void Zero_masters_is_an_outage_pointing_at_the_box()
    {
        var v = FleetHealthInterpreter.Interpret(Fleet(0, 2));
        Assert.Equal("Outage", v.Verdict);
        Assert.Contains("is 0", v.Reasons[0]);
        Assert.Contains("Test-CcieServicesBox", v.SuggestedAction);
        Assert.Contains("Restore-CcieServicesBox", v.SuggestedAction);
        Assert.Null(v.BuildersSeenByApp);
    }

    [Fact]
    public void Masters_older_than_StaleAfter_is_an_outage_saying_how_old()
    {
        var v = FleetHealthInterpreter.Interpret(Fleet(3, 2, o =>
        {
            o.NumMasters = new MetricObservation(true, 3, TimeSpan.FromMinutes(12));
            o.StaleAfter = TimeSpan.FromMinutes(5);
        }));
        Assert.Equal("Outage", v.Verdict);
        Assert.Contains("no data for 12 min", v.Reasons[0]);
        Assert.Contains("-StaleAfter 5 min", v.Reasons[0]);
    }

    [Fact]
    public void A_listed_metric_without_points_in_the_window_is_an_outage()
    {
        var v = FleetHealthInterpreter.Interpret(Fleet(3, 2, o => o.NumMasters = new MetricObservation(true, null, null)));
        Assert.Equal("Outage", v.Verdict);
        Assert.Contains("no data in the last 15 min", v.Reasons[0]);
    }

    [Fact]
    public void One_master_and_no_builder_running_is_NoBuilders()
    {
        var v = FleetHealthInterpreter.Interpret(Fleet(1, 0));
        Assert.Equal("NoBuilders", v.Verdict);
        Assert.Equal(0, v.BuildersSeenByApp);
        Assert.Contains("Set-CcieBuilderCapacity", v.SuggestedAction);
    }

    [Fact]
    public void Builders_running_but_unseen_are_not_connected_naming_the_wrong_services_ip()
    {
        var v = FleetHealthInterpreter.Interpret(Fleet(1, 2, o => o.BuildersWithOtherServicesIp = new Dictionary<string, string> { ["i-1"] = "10.0.1.99", ["i-2"] = "10.0.1.99" }));
        Assert.Equal("NotConnected", v.Verdict);
        Assert.Contains("2 builders are running but not connected, a discovery or network problem", v.Reasons[0]);
        Assert.Contains("SERVICES_PRIVATE_IP=10.0.1.99 but the Services box is 10.0.1.10", v.Reasons[1]);
        Assert.Contains("Set-CcieBuilderConfiguration", v.SuggestedAction);
    }

    [Fact]
    public void Builders_unseen_with_the_right_ip_point_at_the_network()
    {
        var v = FleetHealthInterpreter.Interpret(Fleet(3, 3));
        Assert.Equal("NotConnected", v.Verdict);
        Assert.Contains("1 builder is running but not connected", v.Reasons[0]);
        Assert.Contains("security groups", v.Reasons[1]);
        Assert.Contains("4434", v.Reasons[1]);
    }

    [Fact]
    public void A_growing_queue_and_leaked_containers_degrade_a_connected_fleet()
    {
        var v = FleetHealthInterpreter.Interpret(Fleet(3, 2, o =>
        {
            o.RunQueueBuilds = Fresh(7, 2);
            o.ContainersLeaked = Fresh(4);
        }));
        Assert.Equal("Degraded", v.Verdict);
        Assert.Contains(v.Reasons, r => r.Contains("circle.run-queue.builds is 7 and growing (was 2)") && r.Contains("under-provisioned"));
        Assert.Contains(v.Reasons, r => r.Contains("ContainersLeaked is 4"));
        Assert.Contains("Set-CcieBuilderCapacity -Add", v.SuggestedAction);
        Assert.Contains("Restart-CcieBuilder", v.SuggestedAction);
    }

    [Fact]
    public void A_steady_short_queue_is_not_backing_up()
    {
        Assert.Equal("Healthy", FleetHealthInterpreter.Interpret(Fleet(3, 2, o => o.RunQueueBuilds = Fresh(3, 3))).Verdict);
        Assert.Equal("Degraded", FleetHealthInterpreter.Interpret(Fleet(3, 2, o => o.RunQueueBuilds = Fresh(12, 12))).Verdict);
    }

    [Fact]
    public void No_metrics_at_all_names_the_Replicated_setting_and_the_IAM_permission()
    {
        var v = FleetHealthInterpreter.Interpret(Fleet(null, 2, o => o.Namespace = null));
        Assert.Equal("MetricsMissing", v.Verdict);
        var all = string.Join(" ", v.Reasons);
        Assert.Contains(":8800 > Settings > Monitoring > Enable Cloudwatch", all);
        Assert.Contains("cloudwatch:PutMetricData", all);
        Assert.Contains("AWS runs 2 builders", all);
        Assert.DoesNotContain("-Namespace", all);

        var given = FleetHealthInterpreter.Interpret(Fleet(null, 2, o => { o.Namespace = null; o.NamespaceGiven = true; }));
        Assert.Contains(given.Reasons, r => r.Contains("omit -Namespace"));
    }

    [Fact]
    public void More_builders_seen_than_run_in_Auto_Scaling_is_said()
    {
        var v = FleetHealthInterpreter.Interpret(Fleet(5, 2));
        Assert.Equal("Healthy", v.Verdict);
        Assert.Contains(v.Reasons, r => r.Contains("outside Auto Scaling"));
    }
}
