using Amazon.EC2;
using Amazon.Runtime;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Aws.CloudWatch;
using CcieDr.Engine.Aws.Query;
using CcieDr.Engine.Detection;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Detection;

/// <summary>
/// Which source the CPU, memory and disk checks use: CloudWatch when it has recent data for the box, else the box's
/// remote shell, per metric, with the choice said in the row.
/// </summary>
public sealed class ServicesBoxCapacitySourceTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(15);
    private static readonly DateTime T0 = new(2026, 12, 7, 12, 0, 0, DateTimeKind.Utc);

    private static CapacityReading Reading(string check, double[] newestFirst, TimeSpan? age, bool listed = true, string? error = null)
    {
        var (ns, name, dims) = check switch
        {
            "Cpu" => ("AWS/EC2", "CPUUtilization", new[] { new MetricDimension("InstanceId", "i-1") }),
            "Memory" => ("CWAgent", "mem_used_percent", new[] { new MetricDimension("InstanceId", "i-1") }),
            _ => ("CWAgent", "disk_used_percent", new[] { new MetricDimension("InstanceId", "i-1"), new MetricDimension("path", check[5..]) }),
        };
        var start = T0 - (age ?? TimeSpan.Zero);
        var points = newestFirst.Select((v, k) => new MetricPoint(start.AddMinutes(-k), v)).ToList();
        return new CapacityReading(check, ns, name, listed ? new MetricIdentity(ns, name, dims) : null, Window, points, points.Count == 0 ? null : age, error);
    }

    private static ServicesBoxCheck BoxRow(string name, string status = "Pass", string? reason = null) =>
        new() { Name = name, Status = status, Observed = "from the box", Source = "box", Reason = reason };

    private static List<ServicesBoxCheck> BoxRows(string status = "Pass", string? reason = null) =>
        new[] { "Cpu", "Memory", "Disk:/data", "Disk:/" }.Select(n => BoxRow(n, status, reason)).ToList();

    [Fact]
    public void Fresh_CloudWatch_data_is_used_and_said_where_it_came_from()
    {
        Assert.Null(CapacitySource.WhyNotCloudWatch(Reading("Memory", [45, 44], TimeSpan.FromSeconds(40)), CapacitySource.DefaultStaleAfter));
        Assert.Null(CapacitySource.WhyNotCloudWatch(Reading("Cpu", [20], TimeSpan.FromMinutes(9)), CapacitySource.DefaultStaleAfter));
        string note = CapacitySource.Describe(Reading("Cpu", [30, 10], TimeSpan.FromSeconds(40)));
        Assert.Equal("CloudWatch AWS/EC2 CPUUtilization [InstanceId=i-1]: average of 2 points over 15 min, newest 40 s old", note);
        Assert.Equal("CloudWatch CWAgent disk_used_percent [InstanceId=i-1, path=/data]: newest point, newest 2 min old", CapacitySource.Describe(Reading("Disk:/data", [95, 40], TimeSpan.FromMinutes(2))));
    }

    [Fact]
    public void Stale_missing_empty_or_unreachable_CloudWatch_data_is_not_used_and_the_reason_says_which()
    {
        TimeSpan stale = CapacitySource.DefaultStaleAfter;
        Assert.Equal("CloudWatch's newest CWAgent mem_used_percent [InstanceId=i-1] point is 16 min old (stale after 10 min: the publisher stopped)",
            CapacitySource.WhyNotCloudWatch(Reading("Memory", [45], TimeSpan.FromMinutes(16)), stale));
        Assert.Equal("CloudWatch has no CWAgent disk_used_percent for the box (the CloudWatch agent does not publish it)",
            CapacitySource.WhyNotCloudWatch(Reading("Disk:/", [], null, listed: false), stale));
        Assert.Equal("CloudWatch has no AWS/EC2 CPUUtilization for the box", CapacitySource.WhyNotCloudWatch(Reading("Cpu", [], null, listed: false), stale));
        Assert.Equal("CloudWatch has no AWS/EC2 CPUUtilization [InstanceId=i-1] point in the last 15 min", CapacitySource.WhyNotCloudWatch(Reading("Cpu", [], null), stale));
        Assert.Equal("CloudWatch could not be asked (AccessDenied)", CapacitySource.WhyNotCloudWatch(Reading("Cpu", [], null, listed: false, error: "AccessDenied"), stale));
        Assert.Equal("CloudWatch was not asked", CapacitySource.WhyNotCloudWatch(null, stale));
        Assert.NotNull(CapacitySource.WhyNotCloudWatch(Reading("Memory", [45], TimeSpan.FromMinutes(6)), TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void Cpu_and_memory_average_the_window_while_a_disk_takes_its_newest_point()
    {
        Assert.Equal(50, Reading("Cpu", [100, 0, 50], TimeSpan.Zero).Value);
        Assert.Equal(60, Reading("Memory", [70, 50], TimeSpan.Zero).Value);
        Assert.Equal(95, Reading("Disk:/data", [95, 40, 40], TimeSpan.Zero).Value);
        Assert.Null(Reading("Disk:/", [], null).Value);
    }

    [Fact]
    public void Each_metric_chooses_its_own_source()
    {
        var cw = new Dictionary<string, CapacityReading>
        {
            ["Cpu"] = Reading("Cpu", [97, 96, 98], TimeSpan.FromMinutes(1)),
            ["Memory"] = Reading("Memory", [45], TimeSpan.FromMinutes(16)),
            ["Disk:/data"] = Reading("Disk:/data", [95], TimeSpan.FromSeconds(30)),
            ["Disk:/"] = Reading("Disk:/", [], null, listed: false),
        };
        List<ServicesBoxCheck> rows = ServicesBoxHealthCheck.ChooseCapacityRows(cw, BoxRows(), new ServicesBoxHealthRequest(), TimeSpan.Zero);

        Assert.Equal(["Cpu", "Memory", "Disk:/data", "Disk:/"], rows.Select(r => r.Name));
        ServicesBoxCheck cpu = rows[0];
        Assert.Equal(("Fail", "cloudwatch"), (cpu.Status, cpu.Source));
        Assert.Equal("97 % (15 min average, CloudWatch)", cpu.Observed);
        Assert.Equal("CPUUtilization averaged 97 % over the last 15 min (threshold 90 %)", cpu.Reason);
        Assert.StartsWith("CloudWatch AWS/EC2 CPUUtilization [InstanceId=i-1]: average of 3 points", cpu.SourceNote);

        ServicesBoxCheck memory = rows[1];
        Assert.Equal(("Pass", "box", "from the box"), (memory.Status, memory.Source, memory.Observed));
        Assert.Equal("CloudWatch's newest CWAgent mem_used_percent [InstanceId=i-1] point is 16 min old (stale after 10 min: the publisher stopped); read from the box over the remote shell", memory.SourceNote);

        Assert.Equal(("Fail", "cloudwatch", "95 % (CloudWatch)"), (rows[2].Status, rows[2].Source, rows[2].Observed));
        Assert.Equal("/data is 95 % full (disk_used_percent) (threshold 90 %)", rows[2].Reason);
        Assert.Equal("box", rows[3].Source);
        Assert.Contains("the CloudWatch agent does not publish it", rows[3].SourceNote);
    }

    [Fact]
    public void Without_a_remote_shell_CloudWatch_still_answers_and_what_neither_had_is_Unknown_with_both_reasons()
    {
        var cw = new Dictionary<string, CapacityReading>
        {
            ["Cpu"] = Reading("Cpu", [22.5], TimeSpan.FromMinutes(1)),
            ["Memory"] = Reading("Memory", [45], TimeSpan.FromMinutes(1)),
            ["Disk:/data"] = Reading("Disk:/data", [42], TimeSpan.FromMinutes(1)),
            ["Disk:/"] = Reading("Disk:/", [31], TimeSpan.FromMinutes(30)),
        };
        List<ServicesBoxCheck> rows = ServicesBoxHealthCheck.ChooseCapacityRows(cw, BoxRows("Unknown", "no remote shell"), new ServicesBoxHealthRequest(), TimeSpan.Zero);
        Assert.All(rows.Take(3), r => Assert.Equal(("Pass", "cloudwatch"), (r.Status, r.Source)));
        Assert.Equal("Unknown", rows[3].Status);
        Assert.Equal("no remote shell; and CloudWatch's newest CWAgent disk_used_percent [InstanceId=i-1, path=/] point is 30 min old (stale after 10 min: the publisher stopped)", rows[3].Reason);

        // Without CloudWatch the box's rows are kept as they are, with no note.
        List<ServicesBoxCheck> boxOnly = ServicesBoxHealthCheck.ChooseCapacityRows(null, BoxRows(), new ServicesBoxHealthRequest(), TimeSpan.Zero);
        Assert.All(boxOnly, r => Assert.Equal(("box", null), (r.Source, r.SourceNote)));
    }

    [Fact]
    public void The_agent_series_is_found_whatever_other_dimensions_it_carries()
    {
        MetricIdentity M(params (string N, string V)[] d) => new("CWAgent", "disk_used_percent", d.Select(x => new MetricDimension(x.N, x.V)));
        var listed = new[]
        {
            M(("InstanceId", "i-1"), ("path", "/data"), ("device", "nvme1n1"), ("fstype", "ext4")),
            M(("InstanceId", "i-1"), ("path", "/"), ("device", "nvme0n1p1"), ("fstype", "ext4")),
            M(("InstanceId", "i-2"), ("path", "/data")),
            M(("InstanceId", "i-1"), ("path", "/data")),
        };
        Assert.Equal(listed[3], CloudWatchCapacityReader.Pick(listed, "i-1", "/data"));
        Assert.Equal(listed[1], CloudWatchCapacityReader.Pick(listed, "i-1", "/"));
        Assert.Null(CloudWatchCapacityReader.Pick(listed, "i-3", "/"));
        Assert.Null(CloudWatchCapacityReader.Pick(listed, "i-1", null));
    }
}

/// <summary>The capacity checks on the simulator: CloudWatch's agent metrics, stale data, and no remote shell.</summary>
public sealed class ServicesBoxCapacitySimulatorTests : IAsyncLifetime
{
    private SimulatorServer server = null!;
    private string boxId = null!;

    public async Task InitializeAsync()
    {
        server = await SimulatorServer.StartAsync(new SimulatorOptions { ClockMode = ClockMode.Manual });
        boxId = server.Control.SeedCircleCi("us-east-1").ServicesInstanceId;
        server.Control.AdvanceClock(60);
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private CloudWatchClient NewCloudWatch() =>
        new(new QueryClient(QueryService.CloudWatch, "us-east-1", server.Url, _ => Task.FromResult(new ImmutableCredentials("AKIDSIM", "secret", null)), new AwsRetryPolicy { MaxAttempts = 2, BaseDelay = TimeSpan.FromMilliseconds(1) }));

    private async Task<IReadOnlyDictionary<string, CapacityReading>> Read()
    {
        using CloudWatchClient cw = NewCloudWatch();
        return await new CloudWatchCapacityReader(cw).ReadAsync(boxId, TimeSpan.FromMinutes(15), CancellationToken.None);
    }

    [Fact]
    public async Task The_seeded_box_has_every_capacity_metric_in_CloudWatch_and_a_filled_disk_reads_95()
    {
        IReadOnlyDictionary<string, CapacityReading> r = await Read();
        Assert.All(r.Values, x => Assert.Null(CapacitySource.WhyNotCloudWatch(x, CapacitySource.DefaultStaleAfter)));
        Assert.Equal(22.5, r["Cpu"].Value);
        Assert.Equal(45, r["Memory"].Value);
        Assert.Equal(42, r["Disk:/data"].Value);
        Assert.Equal(31, r["Disk:/"].Value);
        Assert.Equal($"CWAgent disk_used_percent [InstanceId={boxId}, path=/data]", r["Disk:/data"].Describe());

        server.Control.FillDisk("us-east-1", 95);
        server.Control.PinCpu("us-east-1", 100);
        server.Control.AdvanceClock(60);
        r = await Read();
        Assert.Equal(95, r["Disk:/data"].Value);
        Assert.InRange(r["Cpu"].Value!.Value, 22.6, 99.9); // one pinned minute in a 15-minute average
        server.Control.AdvanceClock(TimeSpan.FromMinutes(16));
        Assert.Equal(100, (await Read())["Cpu"].Value);
    }

    [Fact]
    public async Task A_stopped_agent_goes_stale_while_EC2_CPU_stays_fresh()
    {
        server.Control.SetCloudWatchPublisher("us-east-1", "cwagent", false);
        server.Control.AdvanceClock(TimeSpan.FromMinutes(11));
        IReadOnlyDictionary<string, CapacityReading> r = await Read();
        Assert.Null(CapacitySource.WhyNotCloudWatch(r["Cpu"], CapacitySource.DefaultStaleAfter));
        foreach (string n in new[] { "Memory", "Disk:/data", "Disk:/" })
        {
            Assert.Contains("stale after 10 min", CapacitySource.WhyNotCloudWatch(r[n], CapacitySource.DefaultStaleAfter));
        }
    }

    [Fact]
    public async Task Without_a_remote_shell_the_health_check_reads_capacity_from_CloudWatch()
    {
        var request = new ServicesBoxHealthRequest
        {
            InstanceId = boxId,
            Region = "us-east-1",
            Ec2 = () => new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonEC2Config { ServiceURL = server.Url.ToString(), AuthenticationRegion = "us-east-1", MaxErrorRetry = 1 }),
            CloudWatch = NewCloudWatch,
            OpenShell = null,
            NoShellReason = "no remote shell in this test",
            Probe = new AppProbeOptions { From = ProbeFrom.Box },
        };
        ServicesBoxHealth h = await new ServicesBoxHealthCheck().RunAsync(request, CancellationToken.None);
        foreach (string n in new[] { "Cpu", "Memory", "Disk:/data", "Disk:/" })
        {
            ServicesBoxCheck row = h.Checks.Single(c => c.Name == n);
            Assert.Equal(("Pass", "cloudwatch"), (row.Status, row.Source));
        }

        Assert.Equal("Unknown", h.Checks.Single(c => c.Name == "AppState").Status);
        Assert.Equal("45 % (15 min average, CloudWatch)", h.Checks.Single(c => c.Name == "Memory").Observed);

        server.Control.SetCloudWatchPublisher("us-east-1", "cwagent", false);
        server.Control.AdvanceClock(TimeSpan.FromMinutes(11));
        h = await new ServicesBoxHealthCheck().RunAsync(request, CancellationToken.None);
        ServicesBoxCheck memory = h.Checks.Single(c => c.Name == "Memory");
        Assert.Equal("Unknown", memory.Status);
        Assert.StartsWith("no remote shell in this test; and CloudWatch's newest CWAgent mem_used_percent", memory.Reason);
        Assert.Equal("cloudwatch", h.Checks.Single(c => c.Name == "Cpu").Source);
    }
}
