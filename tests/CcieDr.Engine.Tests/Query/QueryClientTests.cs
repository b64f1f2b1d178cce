using System.Net;
using Amazon.Runtime;
using CcieDr.Engine.Aws.CloudWatch;
using CcieDr.Engine.Aws.Query;
using Xunit;

namespace CcieDr.Engine.Tests.Query;

/// <summary>
/// The Query-protocol core and the minimal CloudWatch client against the real wire format: form bodies and XML answers
/// shaped as the CloudWatch API reference (monitoring-2010-08-01, botocore's service-2.json model: non-flattened lists
/// as <c>Name.member.N</c>, results under <c>&lt;ActionResult&gt;</c>, errors as <c>&lt;ErrorResponse&gt;</c>).
/// </summary>
public class QueryClientTests
{
    private const string Ns = "http://monitoring.amazonaws.com/doc/2010-08-01/";

    private static string Error(string type, string code, string message) =>
        $"<ErrorResponse xmlns=\"{Ns}\"><Error><Type>{type}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>5e0f5c6a-0000-4000-8000-000000000001</RequestId></ErrorResponse>";

    private static string MetricDataPage(string? nextToken, params (string Id, string[] Stamps, string[] Values)[] results) =>
        $"<GetMetricDataResponse xmlns=\"{Ns}\"><GetMetricDataResult><MetricDataResults>"
        + string.Concat(results.Select(r =>
            $"<member><Id>{r.Id}</Id><Label>CPUUtilization</Label><Timestamps>{string.Concat(r.Stamps.Select(s => $"<member>{s}</member>"))}</Timestamps>"
            + $"<Values>{string.Concat(r.Values.Select(v => $"<member>{v}</member>"))}</Values><StatusCode>{(nextToken is null ? "Complete" : "PartialData")}</StatusCode><Messages/></member>"))
        + "</MetricDataResults>" + (nextToken is null ? "" : $"<NextToken>{nextToken}</NextToken>")
        + $"<Messages/></GetMetricDataResult><ResponseMetadata><RequestId>a1b2</RequestId></ResponseMetadata></GetMetricDataResponse>";

    private static MetricDataQuery CpuQuery() => new("cpu", new MetricIdentity("AWS/EC2", "CPUUtilization", [new MetricDimension("InstanceId", "i-0123456789abcdef0")]), 300, "Average");

    [Fact]
    public void The_signature_is_the_one_of_the_AWS_SigV4_test_suite()
    {
        // AWS SigV4 test suite, vector "post-x-www-form-urlencoded": the SDK's signer over our canonical request.
        var headers = QuerySigner.Sign(
            new Uri("https://example.amazonaws.com/"),
            "Param1=value1"u8.ToArray(),
            "application/x-www-form-urlencoded",
            new ImmutableCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", null),
            "us-east-1",
            "service",
            new DateTime(2015, 8, 30, 12, 36, 0, DateTimeKind.Utc));
        Assert.Equal(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
            headers["Authorization"]);
        Assert.Equal("20150830T123600Z", headers["X-Amz-Date"]);
    }

    [Fact]
    public async Task GetMetricData_sends_the_Query_form_body_signed_for_monitoring()
    {
        using var stub = new QueryStub().Answer(200, MetricDataPage(null, ("cpu", ["2026-12-07T11:55:00Z"], ["12.5"])));
        using var cw = new CloudWatchClient(stub.Client());
        await cw.GetMetricDataAsync([CpuQuery()], new DateTime(2026, 12, 7, 11, 0, 0, DateTimeKind.Utc), new DateTime(2026, 12, 7, 12, 0, 0, DateTimeKind.Utc), CancellationToken.None, maxDatapoints: 100);

        var request = Assert.Single(stub.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/", request.Path);
        Assert.StartsWith("application/x-www-form-urlencoded", request.Headers["Content-Type"]);
        Assert.Matches(@"^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/us-east-1/monitoring/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=[0-9a-f]{64}$", request.Headers["Authorization"]);
        var expected = new Dictionary<string, string>
        {
            ["Action"] = "GetMetricData",
            ["Version"] = "2010-08-01",
            ["MetricDataQueries.member.1.Id"] = "cpu",
            ["MetricDataQueries.member.1.MetricStat.Metric.Namespace"] = "AWS/EC2",
            ["MetricDataQueries.member.1.MetricStat.Metric.MetricName"] = "CPUUtilization",
            ["MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name"] = "InstanceId",
            ["MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value"] = "i-0123456789abcdef0",
            ["MetricDataQueries.member.1.MetricStat.Period"] = "300",
            ["MetricDataQueries.member.1.MetricStat.Stat"] = "Average",
            ["StartTime"] = "2026-12-07T11:00:00.000Z",
            ["EndTime"] = "2026-12-07T12:00:00.000Z",
            ["ScanBy"] = "TimestampDescending",
            ["MaxDatapoints"] = "100",
        };
        Assert.Equal(expected.OrderBy(k => k.Key), request.Form.OrderBy(k => k.Key));
        Assert.StartsWith("Action=GetMetricData&Version=2010-08-01&MetricDataQueries.member.1.Id=cpu&", request.Body);
        Assert.Contains("Namespace=AWS%2FEC2", request.Body);
    }

    [Fact]
    public async Task Temporary_credentials_sign_the_session_token()
    {
        using var stub = new QueryStub().Answer(200, $"<PutMetricDataResponse xmlns=\"{Ns}\"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PutMetricDataResponse>");
        using var cw = new CloudWatchClient(stub.Client(sessionToken: "FQoGZXIvYXdzE-token"));
        await cw.PutMetricDataAsync("CircleCI", [new MetricDatum("circle.state.num-masters", 3)], CancellationToken.None);
        var request = Assert.Single(stub.Requests);
        Assert.Equal("FQoGZXIvYXdzE-token", request.Headers["X-Amz-Security-Token"]);
        Assert.Contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,", request.Headers["Authorization"]);
    }

    [Fact]
    public async Task GetMetricData_follows_NextToken_and_merges_the_pages_per_query()
    {
        using var stub = new QueryStub()
            .Answer(200, MetricDataPage("page-2-token", ("cpu", ["2026-12-07T11:55:00Z", "2026-12-07T11:50:00Z"], ["12.5", "40"])))
            .Answer(200, MetricDataPage(null, ("cpu", ["2026-12-07T11:45:00Z"], ["7.25"])), new DateTime(2026, 12, 7, 12, 0, 5, DateTimeKind.Utc));
        using var cw = new CloudWatchClient(stub.Client());
        var data = await cw.GetMetricDataAsync([CpuQuery()], DateTime.UtcNow.AddHours(-1), DateTime.UtcNow, CancellationToken.None);

        var cpu = Assert.Single(data.Results);
        Assert.Equal("cpu", cpu.Id);
        Assert.Equal("Complete", cpu.StatusCode);
        Assert.Equal([12.5, 40, 7.25], cpu.Points.Select(p => p.Value));
        Assert.Equal(new DateTime(2026, 12, 7, 11, 55, 0, DateTimeKind.Utc), cpu.Points[0].Timestamp);
        Assert.Equal(DateTimeKind.Utc, cpu.Points[0].Timestamp.Kind);
        Assert.Equal(new DateTime(2026, 12, 7, 12, 0, 5, DateTimeKind.Utc), data.ServerTime);
        var pages = stub.Requests.ToList();
        Assert.Equal(2, pages.Count);
        Assert.False(pages[0].Form.ContainsKey("NextToken"));
        Assert.Equal("page-2-token", pages[1].Form["NextToken"]);
    }

    [Fact]
    public async Task ListMetrics_sends_the_filters_and_reads_every_page()
    {
        static string Page(string? token, string metricXml) =>
            $"<ListMetricsResponse xmlns=\"{Ns}\"><ListMetricsResult><Metrics>{metricXml}</Metrics>{(token is null ? "" : $"<NextToken>{token}</NextToken>")}</ListMetricsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListMetricsResponse>";
        using var stub = new QueryStub()
            .Answer(200, Page("t2", "<member><Namespace>CWAgent</Namespace><MetricName>disk_used_percent</MetricName><Dimensions><member><Name>path</Name><Value>/data</Value></member><member><Name>InstanceId</Name><Value>i-1</Value></member></Dimensions></member>"))
            .Answer(200, Page(null, "<member><Namespace>CWAgent</Namespace><MetricName>disk_used_percent</MetricName><Dimensions><member><Name>path</Name><Value>/</Value></member></Dimensions></member>"));
        using var cw = new CloudWatchClient(stub.Client());
        var metrics = await cw.ListMetricsAsync("CWAgent", "disk_used_percent", [new MetricDimension("InstanceId", null)], CancellationToken.None, recentlyActive: true);

        Assert.Equal(2, metrics.Count);
        Assert.Equal("CWAgent disk_used_percent [path=/data, InstanceId=i-1]", metrics[0].ToString());
        Assert.Equal("/", metrics[1].Dimensions.Single().Value);
        var first = stub.Requests.First().Form;
        Assert.Equal("ListMetrics", first["Action"]);
        Assert.Equal("CWAgent", first["Namespace"]);
        Assert.Equal("disk_used_percent", first["MetricName"]);
        Assert.Equal("InstanceId", first["Dimensions.member.1.Name"]);
        Assert.False(first.ContainsKey("Dimensions.member.1.Value"));
        Assert.Equal("PT3H", first["RecentlyActive"]);
        Assert.Equal("t2", stub.Requests.Last().Form["NextToken"]);
    }

    [Fact]
    public async Task PutMetricData_writes_the_datum_members()
    {
        using var stub = new QueryStub().Answer(200, $"<PutMetricDataResponse xmlns=\"{Ns}\"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PutMetricDataResponse>");
        using var cw = new CloudWatchClient(stub.Client());
        await cw.PutMetricDataAsync("CWAgent", [new MetricDatum("mem_used_percent", 61.5, new DateTime(2026, 12, 7, 12, 0, 0, DateTimeKind.Utc), [new MetricDimension("InstanceId", "i-1")], "Percent")], CancellationToken.None);
        var form = Assert.Single(stub.Requests).Form;
        Assert.Equal("PutMetricData", form["Action"]);
        Assert.Equal("CWAgent", form["Namespace"]);
        Assert.Equal("mem_used_percent", form["MetricData.member.1.MetricName"]);
        Assert.Equal("InstanceId", form["MetricData.member.1.Dimensions.member.1.Name"]);
        Assert.Equal("i-1", form["MetricData.member.1.Dimensions.member.1.Value"]);
        Assert.Equal("2026-12-07T12:00:00.000Z", form["MetricData.member.1.Timestamp"]);
        Assert.Equal("61.5", form["MetricData.member.1.Value"]);
        Assert.Equal("Percent", form["MetricData.member.1.Unit"]);
    }

    [Fact]
    public async Task Throttling_is_retried_with_the_shared_policy_then_succeeds()
    {
        using var stub = new QueryStub()
            .Answer(400, Error("Sender", "Throttling", "Rate exceeded"))
            .Answer(503, "<html>Service Unavailable</html>")
            .Answer(200, MetricDataPage(null, ("cpu", ["2026-12-07T11:55:00Z"], ["1"])));
        using var cw = new CloudWatchClient(stub.Client(attempts: 5));
        var data = await cw.GetMetricDataAsync([CpuQuery()], DateTime.UtcNow.AddHours(-1), DateTime.UtcNow, CancellationToken.None);
        Assert.Equal(1, data.Results.Single().Points.Single().Value);
        Assert.Equal(3, stub.Requests.Count);
    }

    [Fact]
    public async Task Throttling_that_does_not_end_is_mapped_as_limits_exceeded()
    {
        using var stub = new QueryStub();
        for (var i = 0; i < 3; i++)
        {
            stub.Answer(400, Error("Sender", "Throttling", "Rate exceeded"));
        }

        using var cw = new CloudWatchClient(stub.Client(attempts: 3));
        var e = await Assert.ThrowsAsync<CcieException>(() => cw.ListMetricsAsync("CircleCI", null, null, CancellationToken.None));
        Assert.Equal("Aws.Throttling", e.ErrorId);
        Assert.Equal(CcieErrorCategory.LimitsExceeded, e.Category);
        Assert.Equal(3, stub.Requests.Count);
    }

    [Fact]
    public async Task A_sender_error_is_mapped_with_code_message_and_operation_and_not_retried()
    {
        using var stub = new QueryStub().Answer(400, Error("Sender", "InvalidParameterValue", "The parameter Period must be a multiple of 60."));
        using var cw = new CloudWatchClient(stub.Client());
        var e = await Assert.ThrowsAsync<CcieException>(() => cw.GetMetricDataAsync([CpuQuery()], DateTime.UtcNow.AddHours(-1), DateTime.UtcNow, CancellationToken.None));
        Assert.Equal("Aws.InvalidParameterValue", e.ErrorId);
        Assert.Equal(CcieErrorCategory.InvalidArgument, e.Category);
        Assert.Contains("cloudwatch:GetMetricData", e.Message);
        Assert.Contains("The parameter Period must be a multiple of 60.", e.Message);
        var inner = Assert.IsType<QueryServiceException>(e.InnerException);
        Assert.Equal(ErrorType.Sender, inner.ErrorType);
        Assert.Equal(HttpStatusCode.BadRequest, inner.StatusCode);
        Assert.Equal("5e0f5c6a-0000-4000-8000-000000000001", inner.RequestId);
        Assert.Single(stub.Requests);
    }

    [Fact]
    public async Task Access_denied_is_a_permission_error()
    {
        using var stub = new QueryStub().Answer(403, Error("Sender", "AccessDenied", "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: cloudwatch:PutMetricData"));
        using var cw = new CloudWatchClient(stub.Client());
        var e = await Assert.ThrowsAsync<CcieException>(() => cw.PutMetricDataAsync("CircleCI", [new MetricDatum("x", 1)], CancellationToken.None));
        Assert.Equal(CcieErrorCategory.PermissionDenied, e.Category);
        Assert.Contains("grant it in IAM", e.Message);
    }

    [Fact]
    public async Task Cancellation_stops_a_call_in_flight_unmapped()
    {
        using var stub = new QueryStub().Answer(200, MetricDataPage(null), delay: TimeSpan.FromMinutes(5));
        using var cw = new CloudWatchClient(stub.Client());
        using var cts = new CancellationTokenSource();
        var call = cw.ListMetricsAsync("CircleCI", null, null, cts.Token);
        while (stub.Requests.IsEmpty)
        {
            await Task.Delay(10);
        }

        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Single(stub.Requests);
    }

    [Fact]
    public async Task A_dead_endpoint_is_a_connection_error_after_the_retries()
    {
        var stub = new QueryStub();
        var client = stub.Client(attempts: 2);
        stub.Dispose();
        using var cw = new CloudWatchClient(client);
        var e = await Assert.ThrowsAsync<CcieException>(() => cw.ListMetricsAsync("CircleCI", null, null, CancellationToken.None));
        Assert.Equal("AwsEndpointUnreachable", e.ErrorId);
    }

    [Fact]
    public async Task GetLatest_lists_then_reads_the_newest_point_and_ages_it_on_the_service_clock()
    {
        var serverNow = new DateTime(2030, 1, 1, 0, 10, 0, DateTimeKind.Utc);
        using var stub = new QueryStub()
            .Answer(200, $"<ListMetricsResponse xmlns=\"{Ns}\"><ListMetricsResult><Metrics><member><Namespace>CircleCI</Namespace><MetricName>circle.state.num-masters</MetricName><Dimensions/></member></Metrics></ListMetricsResult></ListMetricsResponse>", serverNow)
            .Answer(200, MetricDataPage(null, ("m0", ["2030-01-01T00:08:00Z", "2030-01-01T00:09:00Z"], ["2", "3"])), serverNow);
        using var cw = new CloudWatchClient(stub.Client());
        var reading = await new CloudWatchMetrics(cw).GetLatestAsync("CircleCI", "circle.state.num-masters", null, TimeSpan.FromMinutes(15), "Maximum", CancellationToken.None);

        Assert.True(reading.Listed);
        Assert.Equal(3, reading.Value);
        Assert.Equal(TimeSpan.FromMinutes(1), reading.Age);
        var get = stub.Requests.Last().Form;
        Assert.Equal("Maximum", get["MetricDataQueries.member.1.MetricStat.Stat"]);
        Assert.Equal("60", get["MetricDataQueries.member.1.MetricStat.Period"]);
        var start = QueryXml.ParseTimestamp(get["StartTime"]);
        Assert.InRange(start, serverNow.AddMinutes(-16), serverNow.AddMinutes(-14));
    }
}
