using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace CcieDr.Simulator.CloudWatch;

/// <summary>The control routes under <c>/_sim/cloudwatch</c> (see <see cref="Help"/>).</summary>
internal static class CloudWatchControlApi
{
    public static readonly string[] Help =
    [
        "GET /_sim/cloudwatch/metrics?region=us-east-1[&namespace=CircleCI]",
        "POST /_sim/cloudwatch/metric {\"region\":\"us-east-1\",\"namespace\":\"CircleCI\",\"metricName\":\"circle.state.num-masters\",\"dimensions\":{},\"value\":1} (value null: unpin)",
        "POST /_sim/cloudwatch/series {\"region\":\"us-east-1\",\"namespace\":\"CircleCI\",\"metricName\":\"ContainersLeaked\",\"dimensions\":{},\"values\":[0,3,7],\"intervalSeconds\":60}",
        "POST /_sim/cloudwatch/publishers {\"region\":\"us-east-1\",\"publisher\":\"ec2|cwagent|circleci\",\"running\":false}",
        "POST /_sim/cloudwatch/box {\"region\":\"us-east-1\",\"instanceId\":null,\"diskPercent\":95,\"path\":\"/data\",\"cpuPercent\":100,\"appRunning\":false,\"leakedContainers\":3,\"namespace\":\"CircleCI\"}",
        "GET /_sim/cloudwatch/box?region=us-east-1 (appRunning, connected builders)",
    ];

    public static JsonNode? Handle(SimulatorControl control, string method, string path, JsonObject body, IQueryCollection query)
    {
        var region = query["region"].ToString() is { Length: > 0 } qr ? qr : Str(body, "region") ?? "us-east-1";
        switch (method, path)
        {
            case ("GET", "/_sim/cloudwatch/metrics"):
                return JsonSerializer.SerializeToNode(control.CloudWatchSeries(region, query["namespace"].ToString() is { Length: > 0 } ns ? ns : null), SimulatorControl.Json);
            case ("POST", "/_sim/cloudwatch/metric"):
                control.SetMetricValue(region, Req(body, "namespace"), Req(body, "metricName"), Dims(body), body["value"] is JsonValue v ? v.GetValue<double>() : null);
                return null;
            case ("POST", "/_sim/cloudwatch/series"):
                var values = body["values"] as JsonArray ?? throw new ArgumentException("body needs \"values\" (an array of numbers)");
                control.PutMetricSeries(region, Req(body, "namespace"), Req(body, "metricName"), Dims(body), values.Select(x => x!.GetValue<double>()).ToList(), body["intervalSeconds"] is JsonValue iv ? iv.GetValue<double>() : 60);
                return null;
            case ("POST", "/_sim/cloudwatch/publishers"):
                control.SetCloudWatchPublisher(region, Req(body, "publisher"), body["running"]?.GetValue<bool>() ?? throw new ArgumentException("body needs \"running\""));
                return null;
            case ("POST", "/_sim/cloudwatch/box"):
                var id = Str(body, "instanceId");
                if (body["diskPercent"] is JsonValue d)
                {
                    control.FillDisk(region, d.GetValue<double>(), Str(body, "path") ?? "/data", id);
                }

                if (body.ContainsKey("cpuPercent"))
                {
                    control.PinCpu(region, body["cpuPercent"] is JsonValue c ? c.GetValue<double>() : null, id);
                }

                if (body["appRunning"] is JsonValue a)
                {
                    control.SetAppRunning(region, a.GetValue<bool>(), id);
                }

                if (body["leakedContainers"] is JsonValue l)
                {
                    control.SetLeakedContainers(region, l.GetValue<double>());
                }

                if (Str(body, "namespace") is { } n)
                {
                    control.SetCircleCiNamespace(region, n);
                }

                return Box(control, region);
            case ("GET", "/_sim/cloudwatch/box"):
                return Box(control, region);
            default:
                throw new KeyNotFoundException($"no control route {method} {path}; GET /_sim/help lists them");
        }
    }

    private static JsonObject Box(SimulatorControl control, string region) => new()
    {
        ["appRunning"] = control.AppRunning(region),
        ["connectedBuilders"] = JsonSerializer.SerializeToNode(control.ConnectedBuilders(region), SimulatorControl.Json),
    };

    private static Dictionary<string, string> Dims(JsonObject body) =>
        body["dimensions"] is JsonObject o ? o.ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? "", StringComparer.Ordinal) : new Dictionary<string, string>(StringComparer.Ordinal);

    private static string? Str(JsonObject o, string name) => o[name] is JsonValue v ? v.ToString() : null;

    private static string Req(JsonObject o, string name) => Str(o, name) ?? throw new ArgumentException($"body needs \"{name}\"");
}
