using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using CcieDr.Simulator.CloudWatch;
using Microsoft.AspNetCore.Http;

namespace CcieDr.Simulator;

/// <summary>
/// CloudWatch on the simulator's port, routed by the SigV4 scope's service name <c>monitoring</c>. Both wire protocols
/// CloudWatch speaks: the Query protocol (form POST, XML answers; CcieDr's hand-written client) and AWS JSON 1.0
/// (<c>X-Amz-Target: GraniteServiceVersion20100801.*</c>; what botocore, hence the AWS CLI, picks), with the
/// awsQueryCompatible error header. Answers carry the simulated clock in the HTTP Date header.
/// </summary>
public sealed partial class SimulatorServer
{
    private const string CloudWatchXmlNs = "http://monitoring.amazonaws.com/doc/2010-08-01/";
    private const string CloudWatchTargetPrefix = "GraniteServiceVersion20100801";

    private static readonly ProtocolFaults CloudWatchFaults = new(
        (HttpStatusCode.BadRequest, "Throttling", "Rate exceeded"),
        (HttpStatusCode.InternalServerError, "InternalServiceError", "Internal service error."),
        (HttpStatusCode.ServiceUnavailable, "ServiceUnavailable", "Service is unavailable."));

    private readonly CloudWatchService cloudWatch = new();

    /// <summary>CloudWatch actions the simulator implements (Query and JSON 1.0 protocols, SigV4 service <c>monitoring</c>).</summary>
    public IReadOnlyCollection<string> SupportedCloudWatchActions => cloudWatch.Actions;

    private static bool IsCloudWatch(HttpRequest request) => ServiceOf(request) == "monitoring";

    private async Task HandleCloudWatchAsync(HttpContext http)
    {
        var requestId = Guid.NewGuid().ToString();
        var target = http.Request.Headers["X-Amz-Target"].ToString();
        var json = target.Length > 0;
        Func<HttpContext, HttpStatusCode, string, string, string, Task> writeError = json ? WriteCloudWatchJsonError : WriteCloudWatchXmlError;

        string text;
        Stream body = http.Request.Body;
        if (http.Request.Headers.ContentEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
        {
            body = new GZipStream(body, CompressionMode.Decompress);
        }

        using (var reader = new StreamReader(body, Encoding.UTF8))
        {
            text = await reader.ReadToEndAsync(http.RequestAborted).ConfigureAwait(false);
        }

        string action;
        JsonObject input;
        if (json)
        {
            var dot = target.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0 || target[..dot] != CloudWatchTargetPrefix)
            {
                await writeError(http, HttpStatusCode.BadRequest, "UnknownOperationException", $"The simulator does not implement {target}", requestId).ConfigureAwait(false);
                return;
            }

            action = target[(dot + 1)..];
            try
            {
                input = string.IsNullOrWhiteSpace(text) ? new JsonObject() : JsonNode.Parse(text)?.AsObject() ?? new JsonObject();
            }
            catch (System.Text.Json.JsonException e)
            {
                await writeError(http, HttpStatusCode.BadRequest, "SerializationException", e.Message, requestId).ConfigureAwait(false);
                return;
            }
        }
        else
        {
            var form = ParseForm(text);
            foreach (var (k, v) in http.Request.Query)
            {
                form.Add(new(k, v.ToString()));
            }

            action = form.FirstOrDefault(p => p.Key == "Action").Value ?? "";
            var version = form.FirstOrDefault(p => p.Key == "Version").Value;
            if (action.Length == 0)
            {
                await writeError(http, HttpStatusCode.BadRequest, "MissingAction", "The request must contain the parameter Action.", requestId).ConfigureAwait(false);
                return;
            }

            if (version is not null && version != "2010-08-01")
            {
                await writeError(http, HttpStatusCode.BadRequest, "InvalidParameterValue", $"The value {version} for parameter Version is not valid. Valid value: 2010-08-01.", requestId).ConfigureAwait(false);
                return;
            }

            input = CloudWatchProtocol.Unflatten(form.Where(p => p.Key is not ("Action" or "Version")));
        }

        var regionName = RegionOf(http.Request);
        if (regionName is null || !world.Regions.TryGetValue(regionName, out var region))
        {
            await writeError(http, HttpStatusCode.Forbidden, "InvalidClientTokenId", $"The security token included in the request is invalid (region '{regionName}').", requestId).ConfigureAwait(false);
            return;
        }

        var parameters = input.ToDictionary(kv => kv.Key, kv => kv.Value?.ToJsonString() ?? "null");
        RequestLogEntry entry;
        Faults.ActiveFault? fault;
        lock (world.Sync)
        {
            fault = world.Faults.Take(action, regionName);
            entry = new RequestLogEntry { Service = "cloudwatch", Region = regionName, Action = action, Parameters = parameters, Time = world.Now, Fault = fault?.Kind };
            world.Log(entry);
        }

        http.Items[typeof(RequestLogEntry)] = entry;
        if (await ServeFaultAsync(http, entry, fault, CloudWatchFaults, writeError, requestId).ConfigureAwait(false))
        {
            return;
        }

        JsonObject result;
        CloudWatchError? error = null;
        DateTime now;
        lock (world.Sync)
        {
            try
            {
                world.Tick();
                result = cloudWatch.Execute(world, region, action, input);
            }
            catch (CloudWatchError e)
            {
                error = e;
                result = new JsonObject();
            }
            catch (Exception e)
            {
                error = new CloudWatchError("InternalServiceError", "Simulator bug: " + e.Message, HttpStatusCode.InternalServerError, "Receiver");
                result = new JsonObject();
                Console.Error.WriteLine($"simulator: cloudwatch {action} failed: {e}");
            }

            now = world.Now;
            entry.Status = (int)(error?.Status ?? HttpStatusCode.OK);
            entry.ErrorCode = error?.Code;
        }

        if (fault?.Kind == FaultKinds.DropAfter)
        {
            entry.Status = 0;
            http.Abort();
            return;
        }

        http.Response.Headers.Date = now.ToString("r", CultureInfo.InvariantCulture);
        if (error is not null)
        {
            await writeError(http, error.Status, error.Code, error.Message, requestId).ConfigureAwait(false);
            return;
        }

        if (json)
        {
            await WriteCloudWatchJson(http, HttpStatusCode.OK, CloudWatchProtocol.ToJson(result).ToJsonString(), requestId).ConfigureAwait(false);
            return;
        }

        await WriteXml(http, HttpStatusCode.OK, CloudWatchProtocol.ToXml(action, result, requestId)).ConfigureAwait(false);
    }

    private static List<KeyValuePair<string, string>> ParseForm(string body) =>
        body.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .Select(p => new KeyValuePair<string, string>(Unescape(p[0]), p.Length > 1 ? Unescape(p[1]) : ""))
            .ToList();

    private static string Unescape(string s) => Uri.UnescapeDataString(s.Replace('+', ' '));

    private static Task WriteCloudWatchXmlError(HttpContext http, HttpStatusCode status, string code, string message, string requestId)
    {
        XNamespace ns = CloudWatchXmlNs;
        var doc = new XDocument(new XElement(ns + "ErrorResponse",
            new XElement(ns + "Error",
                new XElement(ns + "Type", (int)status >= 500 ? "Receiver" : "Sender"),
                new XElement(ns + "Code", code),
                new XElement(ns + "Message", message)),
            new XElement(ns + "RequestId", requestId)));
        return WriteXml(http, status, doc);
    }

    private static Task WriteCloudWatchJsonError(HttpContext http, HttpStatusCode status, string code, string message, string requestId)
    {
        // awsQueryCompatible: the JSON error names the Smithy shape; x-amzn-query-error carries the Query code and type.
        http.Response.Headers["x-amzn-query-error"] = code + ";" + ((int)status >= 500 ? "Receiver" : "Sender");
        var body = new JsonObject { ["__type"] = CloudWatchProtocol.ShapeOf(code), ["message"] = message }.ToJsonString();
        return WriteCloudWatchJson(http, status, body, requestId);
    }

    private static async Task WriteCloudWatchJson(HttpContext http, HttpStatusCode status, string json, string requestId)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        http.Response.StatusCode = (int)status;
        http.Response.ContentType = "application/x-amz-json-1.0";
        http.Response.ContentLength = bytes.Length;
        http.Response.Headers["x-amzn-RequestId"] = requestId;
        await http.Response.Body.WriteAsync(bytes, http.RequestAborted).ConfigureAwait(false);
    }
}
