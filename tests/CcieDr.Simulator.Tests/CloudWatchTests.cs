using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Amazon.EC2.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

/// <summary>
/// The simulator's CloudWatch: both wire protocols (Query: form + XML, as CcieDr's client speaks it; JSON 1.0, as the
/// AWS CLI speaks it), real shapes and errors, and the publishers that write what the world implies.
/// </summary>
public sealed class CloudWatchTests
{
    private static readonly XNamespace Ns = "http://monitoring.amazonaws.com/doc/2010-08-01/";

    /// <summary>A Query-protocol POST signed (scope only; the simulator does not check signatures) for monitoring.</summary>
    private static async Task<(HttpStatusCode Status, XDocument Xml, HttpResponseMessage Response)> Query(Sim sim, params (string Key, string Value)[] form)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, sim.Server.Url)
        {
            Content = new StringContent(string.Join("&", form.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value))), Encoding.UTF8, "application/x-www-form-urlencoded"),
        };
        request.Headers.TryAddWithoutValidation("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDSIM/20261207/us-east-1/monitoring/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=0000");
        var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, XDocument.Parse(text), response);
    }

    private static (string, string)[] Gmd(Sim sim, string ns, string metric, string stat, int period, DateTime start, DateTime end, params (string Name, string Value)[] dims)
    {
        var form = new List<(string, string)>
        {
            ("Action", "GetMetricData"), ("Version", "2010-08-01"),
            ("MetricDataQueries.member.1.Id", "q1"),
            ("MetricDataQueries.member.1.MetricStat.Metric.Namespace", ns),
            ("MetricDataQueries.member.1.MetricStat.Metric.MetricName", metric),
            ("MetricDataQueries.member.1.MetricStat.Period", period.ToString(CultureInfo.InvariantCulture)),
            ("MetricDataQueries.member.1.MetricStat.Stat", stat),
            ("StartTime", start.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)),
            ("EndTime", end.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)),
        };
        for (var i = 0; i < dims.Length; i++)
        {
            form.Add(($"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.{i + 1}.Name", dims[i].Name));
            form.Add(($"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.{i + 1}.Value", dims[i].Value));
        }

        _ = sim;
        return form.ToArray();
    }

    private static List<double> Values(XDocument xml) =>
        xml.Descendants(Ns + "Values").Single().Elements(Ns + "member").Select(e => double.Parse(e.Value, CultureInfo.InvariantCulture)).ToList();

    private static double? Latest(Sim sim, string ns, string metric, params (string, string)[] dims) =>
        sim.Control.CloudWatchSeries("us-east-1", ns)
            .SingleOrDefault(s => s.MetricName == metric && s.Dimensions.Count == dims.Length && dims.All(d => s.Dimensions.GetValueOrDefault(d.Item1) == d.Item2))?.LatestValue;

    [Fact]
    public async Task The_seeded_world_publishes_ec2_agent_and_circleci_metrics()
    {
        await using var sim = await Sim.StartAsync();
        sim.Advance(60);
        var box = sim.Seed.ServicesInstanceId;
        Assert.Equal(22.5, Latest(sim, "AWS/EC2", "CPUUtilization", ("InstanceId", box)));
        Assert.Equal(0, Latest(sim, "AWS/EC2", "StatusCheckFailed", ("InstanceId", box)));
        foreach (var b in sim.Seed.BuilderInstanceIds)
        {
            Assert.Equal(35, Latest(sim, "AWS/EC2", "CPUUtilization", ("InstanceId", b)));
        }

        Assert.Equal(45, Latest(sim, "CWAgent", "mem_used_percent", ("InstanceId", box)));
        Assert.Equal(42, Latest(sim, "CWAgent", "disk_used_percent", ("InstanceId", box), ("path", "/data")));
        Assert.Equal(31, Latest(sim, "CWAgent", "disk_used_percent", ("InstanceId", box), ("path", "/")));
        Assert.Equal(1 + sim.Seed.BuilderInstanceIds.Count, Latest(sim, "CircleCI", "circle.state.num-masters"));
        Assert.Equal(0, Latest(sim, "CircleCI", "ContainersLeaked"));
        Assert.Equal(sim.Seed.BuilderInstanceIds.OrderBy(x => x, StringComparer.Ordinal), sim.Control.ConnectedBuilders());

        // Ten minutes of history from the first tick, one point a minute.
        var num = sim.Control.CloudWatchSeries("us-east-1", "CircleCI").Single(s => s.MetricName == "circle.state.num-masters");
        Assert.InRange(num.Points, 11, 12);
    }

    [Fact]
    public async Task GetMetricData_over_the_Query_protocol_aggregates_per_period_newest_first()
    {
        await using var sim = await Sim.StartAsync(seed: false);
        var now = sim.Control.Now;
        var t0 = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerHour), DateTimeKind.Utc).AddHours(-1);
        var (status, _, _) = await Query(sim,
            ("Action", "PutMetricData"), ("Version", "2010-08-01"), ("Namespace", "Test"),
            ("MetricData.member.1.MetricName", "m"), ("MetricData.member.1.Value", "1"), ("MetricData.member.1.Timestamp", t0.AddSeconds(10).ToString("o")),
            ("MetricData.member.2.MetricName", "m"), ("MetricData.member.2.Value", "3"), ("MetricData.member.2.Timestamp", t0.AddSeconds(50).ToString("o")),
            ("MetricData.member.3.MetricName", "m"), ("MetricData.member.3.Value", "10"), ("MetricData.member.3.Timestamp", t0.AddSeconds(70).ToString("o")));
        Assert.Equal(HttpStatusCode.OK, status);

        foreach (var (stat, expected) in new[] { ("Average", new[] { 10.0, 2 }), ("Sum", [10.0, 4]), ("Maximum", [10.0, 3]), ("Minimum", [10.0, 1]), ("SampleCount", [1.0, 2]) })
        {
            var (s, xml, response) = await Query(sim, Gmd(sim, "Test", "m", stat, 60, t0, t0.AddMinutes(5)));
            Assert.Equal(HttpStatusCode.OK, s);
            Assert.Equal(expected, Values(xml));
            var result = xml.Root!.Element(Ns + "GetMetricDataResult")!.Element(Ns + "MetricDataResults")!.Element(Ns + "member")!;
            Assert.Equal("q1", result.Element(Ns + "Id")!.Value);
            Assert.Equal("Complete", result.Element(Ns + "StatusCode")!.Value);
            Assert.Equal(new[] { t0.AddMinutes(1), t0 }, result.Element(Ns + "Timestamps")!.Elements(Ns + "member").Select(e => DateTime.Parse(e.Value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal)));
            Assert.NotNull(xml.Root.Element(Ns + "ResponseMetadata")!.Element(Ns + "RequestId"));
            Assert.Equal(now, response.Headers.Date!.Value.UtcDateTime);
        }

        var (_, five, _) = await Query(sim, Gmd(sim, "Test", "m", "Sum", 300, t0, t0.AddMinutes(5)));
        Assert.Equal(new[] { 14.0 }, Values(five));
    }

    [Fact]
    public async Task GetMetricData_pages_by_MaxDatapoints_with_NextToken_and_ListMetrics_filters()
    {
        await using var sim = await Sim.StartAsync();
        sim.Advance(60);
        var now = sim.Control.Now;
        var form = Gmd(sim, "CircleCI", "circle.state.num-masters", "Maximum", 60, now.AddMinutes(-30), now.AddMinutes(1)).Append(("MaxDatapoints", "4")).ToArray();
        var (_, first, _) = await Query(sim, form);
        var token = first.Descendants(Ns + "NextToken").Single().Value;
        Assert.Equal(4, Values(first).Count);
        Assert.Equal("PartialData", first.Descendants(Ns + "StatusCode").Single().Value);
        var all = Values(first);
        while (true)
        {
            var (_, page, _) = await Query(sim, form.Append(("NextToken", token)).ToArray());
            all.AddRange(Values(page));
            if (page.Descendants(Ns + "NextToken").SingleOrDefault() is not { } next)
            {
                Assert.Equal("Complete", page.Descendants(Ns + "StatusCode").Single().Value);
                break;
            }

            token = next.Value;
        }

        Assert.Equal(sim.Control.CloudWatchSeries("us-east-1", "CircleCI").Single(s => s.MetricName == "circle.state.num-masters").Points, all.Count);
        Assert.All(all, v => Assert.Equal(3, v));

        var (_, list, _) = await Query(sim, ("Action", "ListMetrics"), ("Version", "2010-08-01"), ("Namespace", "CWAgent"), ("MetricName", "disk_used_percent"), ("Dimensions.member.1.Name", "path"), ("Dimensions.member.1.Value", "/data"));
        var metric = Assert.Single(list.Descendants(Ns + "Metrics").Single().Elements(Ns + "member"));
        Assert.Equal(
            new[] { ("InstanceId", sim.Seed.ServicesInstanceId), ("path", "/data") },
            metric.Element(Ns + "Dimensions")!.Elements(Ns + "member").Select(d => (d.Element(Ns + "Name")!.Value, d.Element(Ns + "Value")!.Value)));
    }

    [Fact]
    public async Task Errors_have_the_real_codes_and_the_ErrorResponse_shape()
    {
        await using var sim = await Sim.StartAsync(seed: false);
        var now = sim.Control.Now;

        async Task Expect(string code, params (string, string)[] form)
        {
            var (status, xml, _) = await Query(sim, form);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            var error = xml.Root!.Element(Ns + "Error")!;
            Assert.Equal("ErrorResponse", xml.Root.Name.LocalName);
            Assert.Equal("Sender", error.Element(Ns + "Type")!.Value);
            Assert.Equal(code, error.Element(Ns + "Code")!.Value);
            Assert.False(string.IsNullOrEmpty(error.Element(Ns + "Message")!.Value));
            Assert.NotNull(xml.Root.Element(Ns + "RequestId"));
        }

        await Expect("MissingParameter", Gmd(sim, "T", "m", "Average", 60, now.AddHours(-1), now).Where(p => p.Item1 != "StartTime").ToArray());
        await Expect("InvalidParameterValue", Gmd(sim, "T", "m", "Average", 45, now.AddHours(-1), now));
        await Expect("InvalidParameterValue", Gmd(sim, "T", "m", "p101x", 60, now.AddHours(-1), now));
        await Expect("InvalidParameterValue", Gmd(sim, "T", "m", "Average", 60, now, now.AddHours(-1)));
        await Expect("InvalidNextToken", Gmd(sim, "T", "m", "Average", 60, now.AddHours(-1), now).Append(("NextToken", "bm9wZQ==")).ToArray());
        await Expect("InvalidParameterValue", ("Action", "PutMetricData"), ("Namespace", "AWS/EC2"), ("MetricData.member.1.MetricName", "CPUUtilization"), ("MetricData.member.1.Value", "1"));
        await Expect("MissingParameter", ("Action", "PutMetricData"), ("Namespace", "Mine"));
        await Expect("InvalidAction", ("Action", "DescribeAlarmz"));

        sim.Control.InjectFault("throttle", "ListMetrics", 1);
        var (throttled, txml, _) = await Query(sim, ("Action", "ListMetrics"));
        Assert.Equal(HttpStatusCode.BadRequest, throttled);
        Assert.Equal("Throttling", txml.Descendants(Ns + "Code").Single().Value);
        var (ok, _, _) = await Query(sim, ("Action", "ListMetrics"));
        Assert.Equal(HttpStatusCode.OK, ok);
    }

    [Fact]
    public async Task The_fleet_metrics_follow_the_world()
    {
        await using var sim = await Sim.StartAsync();
        var box = sim.Seed.ServicesInstanceId;
        sim.Advance(60);
        Assert.Equal(3, Latest(sim, "CircleCI", "circle.state.num-masters"));

        // App killed while the box runs: 0 masters, EC2 checks still pass.
        sim.Control.KillApp();
        sim.Advance(60);
        Assert.False(sim.Control.AppRunning());
        Assert.Equal(0, Latest(sim, "CircleCI", "circle.state.num-masters"));
        Assert.Equal(0, Latest(sim, "AWS/EC2", "StatusCheckFailed", ("InstanceId", box)));
        sim.Control.ReviveApp();
        sim.Advance(60);
        Assert.Equal(3, Latest(sim, "CircleCI", "circle.state.num-masters"));

        // Builders impaired: not connected; the run queue grows while none serves, ContainersLeaked on request.
        foreach (var b in sim.Seed.BuilderInstanceIds)
        {
            sim.Control.SetInstanceImpaired("us-east-1", b, true);
        }

        sim.Control.SetLeakedContainers("us-east-1", 4);
        sim.Advance(180);
        Assert.Equal(1, Latest(sim, "CircleCI", "circle.state.num-masters"));
        Assert.True(Latest(sim, "CircleCI", "circle.run-queue.builds") >= 6);
        Assert.Equal(4, Latest(sim, "CircleCI", "ContainersLeaked"));
        Assert.Equal(1, Latest(sim, "AWS/EC2", "StatusCheckFailed_Instance", ("InstanceId", sim.Seed.BuilderInstanceIds[0])));

        // Disk, CPU, stopped publisher (stale), pinned value.
        sim.Control.FillDisk("us-east-1", 95);
        sim.Control.PinCpu("us-east-1", 100);
        sim.Control.SetCloudWatchPublisher("us-east-1", "circleci", false);
        var before = sim.Control.CloudWatchSeries("us-east-1", "CircleCI").Single(s => s.MetricName == "circle.state.num-masters").LatestTimestamp;
        sim.Advance(120);
        Assert.Equal(95, Latest(sim, "CWAgent", "disk_used_percent", ("InstanceId", box), ("path", "/data")));
        Assert.Equal(100, Latest(sim, "AWS/EC2", "CPUUtilization", ("InstanceId", box)));
        Assert.Equal(before, sim.Control.CloudWatchSeries("us-east-1", "CircleCI").Single(s => s.MetricName == "circle.state.num-masters").LatestTimestamp);
        sim.Control.SetCloudWatchPublisher("us-east-1", "circleci", true);
        sim.Control.SetMetricValue("us-east-1", "CircleCI", "circle.state.num-masters", null, 7);
        sim.Advance(60);
        Assert.Equal(7, Latest(sim, "CircleCI", "circle.state.num-masters"));

        // The box dies: 0 masters and the status check fails while it is still running.
        sim.Control.SetMetricValue("us-east-1", "CircleCI", "circle.state.num-masters", null, null);
        sim.Control.KillInstance("us-east-1", box, stopAfterSeconds: 600);
        sim.Advance(60);
        Assert.Equal(0, Latest(sim, "CircleCI", "circle.state.num-masters"));
        Assert.Equal(1, Latest(sim, "AWS/EC2", "StatusCheckFailed", ("InstanceId", box)));
    }

    [Fact]
    public async Task A_builder_launched_with_another_services_ip_is_not_connected()
    {
        await using var sim = await Sim.StartAsync();
        // A launch template version pointing at another IP, and a builder replaced from it.
        await ReplaceOneBuilderFromAsync(sim, "export SERVICES_PRIVATE_IP=10.0.1.99\n");
        Assert.Equal(2, sim.Control.AutoScalingGroups("us-east-1").Single().InstanceIds.Count);
        Assert.Equal([sim.Seed.BuilderInstanceIds[1]], sim.Control.ConnectedBuilders());
        Assert.Equal(2, Latest(sim, "CircleCI", "circle.state.num-masters"));
    }

    // A launch template version 2 with this script (after #!/bin/bash) made the default, the group resumed, and the
    // first seeded builder replaced from it; then a simulated minute for the metrics.
    private static async Task ReplaceOneBuilderFromAsync(Sim sim, string script)
    {
        var userData = Convert.ToBase64String(Encoding.UTF8.GetBytes("#!/bin/bash\n" + script));
        await sim.Ec2.CreateLaunchTemplateVersionAsync(new CreateLaunchTemplateVersionRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId, SourceVersion = "1", LaunchTemplateData = new RequestLaunchTemplateData { UserData = userData } });
        await sim.Ec2.ModifyLaunchTemplateAsync(new ModifyLaunchTemplateRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId, DefaultVersion = "2" });
        sim.Control.SetAutoScalingGroup("us-east-1", "circleci-builders", suspended: false);
        await sim.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [sim.Seed.BuilderInstanceIds[0]] });
        sim.Advance(10);
        sim.Advance(10);
        sim.Advance(60);
    }

    [Theory]
    [InlineData("SERVICES_PRIVATE_IP=10.0.1.10\nCIRCLE_SECRET_PASSPHRASE=not-the-token\n")]
    [InlineData("SERVICES_PRIVATE_IP=10.0.1.10\n")]
    public async Task A_builder_with_the_box_ip_but_a_wrong_or_no_passphrase_is_not_connected(string script)
    {
        await using var sim = await Sim.StartAsync();
        await ReplaceOneBuilderFromAsync(sim, script);
        Assert.Equal(2, sim.Control.AutoScalingGroups("us-east-1").Single().InstanceIds.Count);
        Assert.Equal([sim.Seed.BuilderInstanceIds[1]], sim.Control.ConnectedBuilders());   // the seeded one has the seeded token
        Assert.Equal(2, Latest(sim, "CircleCI", "circle.state.num-masters"));

        // The group's capacity history saw the replacement: one in service less while it was launched, then two.
        var history = sim.Control.AutoScalingHistory("us-east-1", "circleci-builders");
        Assert.Contains(history, p => p.InService == 1);
        Assert.Equal(2, history[^1].InService);
        Assert.Equal(1, history[^1].Connected);
        Assert.All(history.Zip(history.Skip(1)), pair => Assert.True(pair.First.Time <= pair.Second.Time));
    }

    [Fact]
    public async Task Control_api_routes_drive_the_publishers()
    {
        await using var sim = await Sim.StartAsync();
        using var http = new HttpClient { BaseAddress = sim.Server.Url };
        async Task<JsonDocument> Post(string path, string json)
        {
            var r = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
            Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
            return JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        }

        using var box = await Post("/_sim/cloudwatch/box", "{\"appRunning\":false,\"diskPercent\":97}");
        Assert.False(box.RootElement.GetProperty("appRunning").GetBoolean());
        (await Post("/_sim/cloudwatch/series", "{\"namespace\":\"CircleCI\",\"metricName\":\"ContainersLeaked\",\"values\":[1,2,9]}")).Dispose();
        (await Post("/_sim/cloudwatch/publishers", "{\"publisher\":\"cwagent\",\"running\":false}")).Dispose();
        var bad = await http.PostAsync("/_sim/cloudwatch/publishers", new StringContent("{\"publisher\":\"nope\",\"running\":false}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var metrics = JsonDocument.Parse(await http.GetStringAsync("/_sim/cloudwatch/metrics?namespace=CircleCI"));
        var leaked = metrics.RootElement.EnumerateArray().Single(m => m.GetProperty("metricName").GetString() == "ContainersLeaked");
        Assert.Equal(9, leaked.GetProperty("latestValue").GetDouble());
        Assert.Contains("/_sim/cloudwatch/box", await http.GetStringAsync("/_sim/help"));
    }

    [Fact]
    public async Task The_AWS_CLI_writes_and_reads_metrics()
    {
        await using var sim = await Sim.StartAsync(seed: false);
        await AwsCli(sim, "cloudwatch", "put-metric-data", "--namespace", "CircleCI", "--metric-name", "circle.state.num-masters", "--value", "4", "--unit", "Count");
        await AwsCli(sim, "cloudwatch", "put-metric-data", "--namespace", "CircleCI", "--metric-name", "ContainersLeaked", "--dimensions", "Host=services", "--value", "2");
        Assert.Equal(4, Latest(sim, "CircleCI", "circle.state.num-masters"));

        using var list = JsonDocument.Parse(await AwsCli(sim, "cloudwatch", "list-metrics", "--namespace", "CircleCI"));
        Assert.Equal(new[] { "ContainersLeaked", "circle.state.num-masters" }, list.RootElement.GetProperty("Metrics").EnumerateArray().Select(m => m.GetProperty("MetricName").GetString()).Order(StringComparer.Ordinal));

        var now = sim.Control.Now;
        var queries = "[{\"Id\":\"n\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"CircleCI\",\"MetricName\":\"circle.state.num-masters\"},\"Period\":60,\"Stat\":\"Maximum\"}}]";
        using var data = JsonDocument.Parse(await AwsCli(sim, "cloudwatch", "get-metric-data", "--metric-data-queries", queries,
            "--start-time", now.AddMinutes(-10).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), "--end-time", now.AddMinutes(1).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)));
        var result = data.RootElement.GetProperty("MetricDataResults").EnumerateArray().Single();
        Assert.Equal("n", result.GetProperty("Id").GetString());
        Assert.Equal(4, result.GetProperty("Values").EnumerateArray().Single().GetDouble());
        Assert.Equal("Complete", result.GetProperty("StatusCode").GetString());
        Assert.Contains(sim.Control.RequestLog("PutMetricData"), e => e.Service == "cloudwatch" && e.Status == 200);

        var (code, stderr) = await AwsCliFails(sim, "cloudwatch", "put-metric-data", "--namespace", "AWS/EC2", "--metric-name", "x", "--value", "1");
        Assert.NotEqual(0, code);
        Assert.Contains("InvalidParameterValue", stderr);
    }

    private static ProcessStartInfo Cli(Sim sim, string[] args)
    {
        var psi = new ProcessStartInfo("aws") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args.Concat(["--endpoint-url", sim.Server.Url.ToString().TrimEnd('/'), "--region", "us-east-1", "--output", "json"]))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["AWS_ACCESS_KEY_ID"] = "AKIDSIM";
        psi.Environment["AWS_SECRET_ACCESS_KEY"] = "secret";
        psi.Environment.Remove("AWS_SESSION_TOKEN");
        psi.Environment.Remove("AWS_PROFILE");
        psi.Environment["AWS_CONFIG_FILE"] = "/dev/null";
        psi.Environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null";
        psi.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        psi.Environment["AWS_PAGER"] = "";
        psi.Environment["AWS_MAX_ATTEMPTS"] = "1";
        return psi;
    }

    private static async Task<string> AwsCli(Sim sim, params string[] args)
    {
        using var process = Process.Start(Cli(sim, args)) ?? throw new InvalidOperationException("could not start the AWS CLI (aws)");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"aws {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }

    private static async Task<(int Code, string Stderr)> AwsCliFails(Sim sim, params string[] args)
    {
        using var process = Process.Start(Cli(sim, args)) ?? throw new InvalidOperationException("could not start the AWS CLI (aws)");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        _ = await stdout;
        return (process.ExitCode, await stderr);
    }
}
