using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using CcieDr.Simulator.Ec2;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CcieDr.Simulator;

/// <summary>The AWS simulator: Kestrel on 127.0.0.1 speaking the EC2 Query protocol, with a control API under <c>/_sim/</c>.</summary>
public sealed partial class SimulatorServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly World world;
    private readonly Ec2Service ec2 = new();
    private readonly Ssm.SsmService ssm = new();
    private readonly Kms.KmsService kms = new();
    private readonly ControlApi controlApi;

    private SimulatorServer(WebApplication app, World world)
    {
        this.app = app;
        this.world = world;
        Control = new SimulatorControl(world);
        controlApi = new ControlApi(Control);
    }

    /// <summary>Base URL, e.g. <c>http://127.0.0.1:5123/</c>: the EC2 endpoint (ServiceURL / --endpoint-url).</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>In-process control (same operations as <c>/_sim/</c>).</summary>
    public SimulatorControl Control { get; }

    /// <summary>Actions the simulator implements.</summary>
    public IReadOnlyCollection<string> SupportedActions => ec2.Actions;

    /// <summary>SSM actions the simulator implements (JSON 1.1 protocol, same endpoint).</summary>
    public IReadOnlyCollection<string> SupportedSsmActions => ssm.Actions;

    /// <summary>KMS actions the simulator implements (JSON 1.1 protocol, same endpoint, SigV4 service <c>kms</c>).</summary>
    public IReadOnlyCollection<string> SupportedKmsActions => kms.Actions;

    /// <summary>Starts an empty simulator on a free port of 127.0.0.1 with a manual clock.</summary>
    public static Task<SimulatorServer> StartAsync() => StartAsync(new SimulatorOptions());

    /// <summary>Starts the simulator on 127.0.0.1 (a free port when <see cref="SimulatorOptions.Port"/> is 0).</summary>
    public static async Task<SimulatorServer> StartAsync(SimulatorOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        // Headroom for the thread pool: a request that waits for the world's lock holds a pool thread, and a control
        // call that holds the lock while a sandbox command runs needs pool threads to see that command end.
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), io);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, options.Port);
            k.Limits.MaxRequestBodySize = 4 * 1024 * 1024;
        });
        builder.Logging.ClearProviders();
        if (options.Verbose)
        {
            builder.Logging.AddSimpleConsole();
        }

        var app = builder.Build();
        var world = new World(options);
        if (options.SsmSandbox)
        {
            world.Sandbox = new Ssm.SsmSandbox();
        }

        var server = new SimulatorServer(app, world);
        if (options.SeedCircleCi)
        {
            foreach (var region in options.SeedRegion.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                server.Control.SeedCircleCi(region);
            }
        }

        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address).Port;
        server.Url = new Uri($"http://127.0.0.1:{port}/");
        return server;
    }

    /// <summary>Completes when the host stops.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await app.StopAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        finally
        {
            Control.DisposeAppPorts();
            await app.DisposeAsync().ConfigureAwait(false);
            world.Sandbox?.Dispose();
        }
    }

    private async Task HandleAsync(HttpContext http)
    {
        // Tolerate "http://host:port/" + "/_sim/x" (a doubled slash) from scripts that join the ready-file URL naively.
        var path = "/" + (http.Request.Path.Value ?? "/").TrimStart('/');
        http.Request.Path = path;
        if (path.StartsWith("/_sim", StringComparison.Ordinal))
        {
            await controlApi.HandleAsync(http).ConfigureAwait(false);
            return;
        }

        if (path != "/" || !(HttpMethods.IsPost(http.Request.Method) || HttpMethods.IsGet(http.Request.Method)))
        {
            http.Response.StatusCode = 404;
            await http.Response.WriteAsync("not found: the EC2 endpoint is POST / ; the control API is under /_sim/\n").ConfigureAwait(false);
            return;
        }

        // Routed by the service name in the SigV4 credential scope (…/<region>/<service>/aws4_request), as AWS routes by host.
        var service = ServiceOf(http.Request);
        Func<HttpContext, Task>? handler = service switch
        {
            _ when IsCloudWatch(http.Request) => HandleCloudWatchAsync,
            "autoscaling" => HandleAutoScalingAsync,
            "sts" => HandleStsAsync,
            "ssm" or "kms" => h => HandleJsonAsync(h, h.Request.Headers["X-Amz-Target"].ToString()),
            "ec2" or null when http.Request.Headers["X-Amz-Target"].ToString() is { Length: > 0 } target => h => HandleJsonAsync(h, target),
            "ec2" or null => HandleEc2Async,
            _ => null,
        };
        if (handler is null)
        {
            await WriteUnservedServiceError(http, service!).ConfigureAwait(false);
            return;
        }

        await handler(http).ConfigureAwait(false);
        Trace(http);
    }

    /// <summary>The services the simulator serves, by their SigV4 names.</summary>
    public static IReadOnlyList<string> SupportedServices { get; } = ["ec2", "autoscaling", "monitoring", "ssm", "kms", "sts"];

    /// <summary>
    /// A request signed for a service the simulator does not serve (s3, iam, logs, …): 501 NotImplemented in the
    /// request's protocol (JSON when it names an X-Amz-Target, Query XML otherwise), never another service's answer.
    /// </summary>
    private static Task WriteUnservedServiceError(HttpContext http, string service)
    {
        var requestId = Guid.NewGuid().ToString();
        var message = $"The simulator does not serve the service '{service}' (the SigV4 credential scope's service name); it serves {string.Join(", ", SupportedServices)}.";
        return http.Request.Headers["X-Amz-Target"].ToString().Length > 0
            ? WriteJsonError(http, HttpStatusCode.NotImplemented, "NotImplemented", message, requestId)
            : WriteStsXml(http, HttpStatusCode.NotImplemented, QueryError(XNamespace.None, "NotImplemented", message, requestId, HttpStatusCode.NotImplemented), requestId);
    }

    [GeneratedRegex(@"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")]
    private static partial Regex CredentialScope();

    [GeneratedRegex(@"^[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request$")]
    private static partial Regex QueryCredentialScope();

    private static string? ServiceOf(HttpRequest request)
    {
        var m = CredentialScope().Match(request.Headers.Authorization.ToString());
        if (m.Success)
        {
            return m.Groups[2].Value;
        }

        var qm = QueryCredentialScope().Match(request.Query["X-Amz-Credential"].ToString());
        return qm.Success ? qm.Groups[2].Value : null;
    }

    private static string? RegionOf(HttpRequest request)
    {
        var auth = request.Headers.Authorization.ToString();
        var m = CredentialScope().Match(auth);
        if (m.Success)
        {
            return m.Groups[1].Value;
        }

        var q = request.Query["X-Amz-Credential"].ToString();
        var qm = QueryCredentialScope().Match(q);
        return qm.Success ? qm.Groups[1].Value : null;
    }

    /// <summary>A Query-protocol request's parameters: the query string, then the form body (EC2, Auto Scaling, CloudWatch Query).</summary>
    private static async Task<QueryParams> ReadQueryParamsAsync(HttpContext http)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var (k, v) in http.Request.Query)
        {
            pairs.Add(new(k, v.ToString()));
        }

        if (http.Request.HasFormContentType)
        {
            var form = await http.Request.ReadFormAsync(http.RequestAborted).ConfigureAwait(false);
            foreach (var (k, v) in form)
            {
                pairs.Add(new(k, v.ToString()));
            }
        }

        return new QueryParams(pairs);
    }

    private async Task HandleEc2Async(HttpContext http)
    {
        var requestId = Guid.NewGuid().ToString();
        var p = await ReadQueryParamsAsync(http).ConfigureAwait(false);
        var action = p.Get("Action");
        var regionName = RegionOf(http.Request);
        if (regionName is null)
        {
            await WriteError(http, HttpStatusCode.Unauthorized, "MissingAuthenticationToken", "Request is missing Authentication Token", requestId).ConfigureAwait(false);
            return;
        }

        if (!world.Regions.TryGetValue(regionName, out var region))
        {
            await WriteError(http, HttpStatusCode.Unauthorized, "AuthFailure", $"Credential should be scoped to a valid region, not '{regionName}'.", requestId).ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrEmpty(action))
        {
            await WriteError(http, HttpStatusCode.BadRequest, "MissingAction", "The request must contain the parameter Action", requestId).ConfigureAwait(false);
            return;
        }

        var parameters = p.All.Where(kv => kv.Key is not ("Action" or "Version")).ToDictionary(kv => kv.Key, kv => kv.Value);
        RequestLogEntry entry;
        Faults.ActiveFault? fault;
        lock (world.Sync)
        {
            fault = world.Faults.Take(action, regionName) ?? ZoneOutage.Take(world, region, p, action);
            entry = new RequestLogEntry { Service = "ec2", Region = regionName, Action = action, Parameters = parameters, Time = world.Now, Fault = fault?.Kind };
            world.Log(entry);
        }

        http.Items[typeof(RequestLogEntry)] = entry;
        if (await ServeFaultAsync(http, entry, fault, Ec2Faults, WriteError, requestId).ConfigureAwait(false))
        {
            return;
        }

        XDocument doc;
        var status = HttpStatusCode.OK;
        lock (world.Sync)
        {
            try
            {
                world.Tick();
                var ctx = new Ctx { World = world, Region = region, P = p, Action = action };
                doc = ec2.Execute(ctx, requestId);
            }
            catch (Ec2Error e)
            {
                status = e.Status;
                entry.ErrorCode = e.Code;
                doc = Ec2Service.ErrorDocument(e.Code, e.Message, requestId);
            }
            catch (Exception e)
            {
                status = HttpStatusCode.InternalServerError;
                entry.ErrorCode = "InternalError";
                doc = Ec2Service.ErrorDocument("InternalError", "Simulator bug: " + e.Message, requestId);
                Console.Error.WriteLine($"simulator: {action} failed: {e}");
            }

            entry.Status = (int)status;
        }

        if (fault?.Kind == FaultKinds.DropAfter)
        {
            entry.Status = 0;
            http.Abort();
            return;
        }

        await WriteXml(http, status, doc).ConfigureAwait(false);
    }

    private void Trace(HttpContext http)
    {
        if (!world.Options.LogRequests || http.Items[typeof(RequestLogEntry)] is not RequestLogEntry e)
        {
            return;
        }

        var extra = e.ErrorCode is null ? "" : " " + e.ErrorCode;
        extra += e.Fault is null ? "" : " [fault " + e.Fault + "]";
        Console.Out.WriteLine($"{e.Time:HH:mm:ss} {e.Region} {e.Service}:{e.Action} {(e.Status == 0 ? "aborted" : e.Status.ToString(System.Globalization.CultureInfo.InvariantCulture))}{extra}");
    }

    private async Task HandleJsonAsync(HttpContext http, string target)
    {
        var requestId = Guid.NewGuid().ToString();
        var dot = target.IndexOf('.', StringComparison.Ordinal);
        var prefix = dot > 0 ? target[..dot] : target;
        var action = dot > 0 ? target[(dot + 1)..] : "";
        var regionName = RegionOf(http.Request);

        // The SigV4 scope names the service (ssm, kms); an unsigned request falls back to the target's prefix.
        var service = ServiceOf(http.Request) ?? prefix switch { "AmazonSSM" => "ssm", "TrentService" => "kms", _ => null };
        var expectedPrefix = service switch { "ssm" => "AmazonSSM", "kms" => "TrentService", _ => null };
        if (service is null || expectedPrefix is null || prefix != expectedPrefix)
        {
            await WriteJsonError(http, HttpStatusCode.BadRequest, "UnknownOperationException", $"The simulator does not implement {target}", requestId).ConfigureAwait(false);
            return;
        }

        if (regionName is null)
        {
            await WriteJsonError(http, HttpStatusCode.BadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token", requestId).ConfigureAwait(false);
            return;
        }

        if (!world.Regions.TryGetValue(regionName, out var region))
        {
            await WriteJsonError(http, HttpStatusCode.BadRequest, "UnrecognizedClientException", $"Credential should be scoped to a valid region, not '{regionName}'.", requestId).ConfigureAwait(false);
            return;
        }

        System.Text.Json.Nodes.JsonObject body;
        try
        {
            using var reader = new StreamReader(http.Request.Body);
            var text = await reader.ReadToEndAsync(http.RequestAborted).ConfigureAwait(false);
            body = string.IsNullOrWhiteSpace(text) ? new() : System.Text.Json.Nodes.JsonNode.Parse(text)!.AsObject();
        }
        catch (System.Text.Json.JsonException e)
        {
            await WriteJsonError(http, HttpStatusCode.BadRequest, "SerializationException", e.Message, requestId).ConfigureAwait(false);
            return;
        }

        var parameters = body.ToDictionary(kv => kv.Key, kv => kv.Value?.ToJsonString() ?? "null");
        RequestLogEntry entry;
        Faults.ActiveFault? fault;
        lock (world.Sync)
        {
            fault = world.Faults.Take(action, regionName);
            entry = new RequestLogEntry { Service = service, Region = regionName, Action = action, Parameters = parameters, Time = world.Now, Fault = fault?.Kind };
            world.Log(entry);
        }

        http.Items[typeof(RequestLogEntry)] = entry;
        if (await ServeFaultAsync(http, entry, fault, service == "kms" ? KmsFaults : SsmFaults, WriteJsonError, requestId).ConfigureAwait(false))
        {
            return;
        }

        System.Text.Json.Nodes.JsonObject result;
        var status = HttpStatusCode.OK;
        string? errorType = null;
        string? errorMessage = null;
        lock (world.Sync)
        {
            try
            {
                world.Tick();
                result = service == "kms" ? kms.Execute(world, region, action, body) : ssm.Execute(world, region, action, body);
            }
            catch (Ssm.SsmError e)
            {
                status = e.Status;
                errorType = e.Type;
                errorMessage = e.Message;
                result = new();
            }
            catch (Kms.KmsError e)
            {
                status = e.Status;
                errorType = e.Type;
                errorMessage = e.Message;
                result = new();
            }
            catch (Exception e)
            {
                status = HttpStatusCode.InternalServerError;
                errorType = "InternalServerError";
                errorMessage = "Simulator bug: " + e.Message;
                result = new();
                Console.Error.WriteLine($"simulator: {service} {action} failed: {e}");
            }

            entry.Status = (int)status;
            entry.ErrorCode = errorType;
        }

        if (fault?.Kind == FaultKinds.DropAfter)
        {
            http.Abort();
            return;
        }

        if (errorType is not null)
        {
            await WriteJsonError(http, status, errorType, errorMessage ?? "", requestId).ConfigureAwait(false);
            return;
        }

        await WriteJson(http, status, result.ToJsonString(), requestId).ConfigureAwait(false);
    }

    /// <summary>What a protocol answers for the injected error faults: (HTTP status, error code, message).</summary>
    private sealed record ProtocolFaults((HttpStatusCode Status, string Code, string Message) Throttle, (HttpStatusCode Status, string Code, string Message) InternalError, (HttpStatusCode Status, string Code, string Message) Unavailable);

    private static readonly ProtocolFaults Ec2Faults = new(
        (HttpStatusCode.ServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded."),
        (HttpStatusCode.InternalServerError, "InternalError", "An internal error has occurred"),
        (HttpStatusCode.ServiceUnavailable, "Unavailable", "The server is overloaded and can't handle the request."));

    private static readonly ProtocolFaults SsmFaults = new(
        (HttpStatusCode.BadRequest, "ThrottlingException", "Rate exceeded"),
        (HttpStatusCode.InternalServerError, "InternalServerError", "An internal error occurred."),
        (HttpStatusCode.ServiceUnavailable, "ServiceUnavailable", "Service is unavailable."));

    private static readonly ProtocolFaults KmsFaults = new(
        (HttpStatusCode.BadRequest, "ThrottlingException", "Rate exceeded"),
        (HttpStatusCode.InternalServerError, "KMSInternalException", "An internal error occurred."),
        (HttpStatusCode.ServiceUnavailable, "ServiceUnavailable", "Service is unavailable."));

    /// <summary>
    /// Serves an injected request fault the same way for every protocol (only the error shapes differ).
    /// Returns true when the fault answered or dropped the request; false when the request goes on
    /// (no fault, a delay that elapsed, or drop-after, which is applied once the request was processed).
    /// </summary>
    private static async Task<bool> ServeFaultAsync(
        HttpContext http,
        RequestLogEntry entry,
        Faults.ActiveFault? fault,
        ProtocolFaults protocol,
        Func<HttpContext, HttpStatusCode, string, string, string, Task> writeError,
        string requestId)
    {
        (HttpStatusCode Status, string Code, string Message)? error = fault?.Kind switch
        {
            FaultKinds.Throttle => protocol.Throttle,
            FaultKinds.InternalError => protocol.InternalError,
            FaultKinds.Unavailable => protocol.Unavailable,
            _ => null,
        };
        if (error is { } e)
        {
            entry.Status = (int)e.Status;
            entry.ErrorCode = e.Code;
            await writeError(http, e.Status, e.Code, e.Message, requestId).ConfigureAwait(false);
            return true;
        }

        switch (fault?.Kind)
        {
            case FaultKinds.Drop:
                entry.Status = 0;
                http.Abort();
                return true;
            case FaultKinds.Timeout:
                entry.Status = 0;
                try
                {
                    await Task.Delay(fault.DelayMs, http.RequestAborted).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }

                http.Abort();
                return true;
            case FaultKinds.Delay:
                try
                {
                    await Task.Delay(fault.DelayMs, http.RequestAborted).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    entry.Status = 0;
                    entry.ErrorCode = "ClientCancelled";
                    return true;
                }

                return false;
            default:
                return false;
        }
    }

    private static Task WriteJsonError(HttpContext http, HttpStatusCode status, string type, string message, string requestId) =>
        WriteJson(http, status, new System.Text.Json.Nodes.JsonObject { ["__type"] = type, ["message"] = message }.ToJsonString(), requestId);

    private static async Task WriteJson(HttpContext http, HttpStatusCode status, string json, string requestId)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        http.Response.StatusCode = (int)status;
        http.Response.ContentType = "application/x-amz-json-1.1";
        http.Response.ContentLength = bytes.Length;
        http.Response.Headers["x-amzn-RequestId"] = requestId;
        await http.Response.Body.WriteAsync(bytes, http.RequestAborted).ConfigureAwait(false);
    }

    private static Task WriteError(HttpContext http, HttpStatusCode status, string code, string message, string requestId) =>
        WriteXml(http, status, Ec2Service.ErrorDocument(code, message, requestId));

    private static async Task WriteXml(HttpContext http, HttpStatusCode status, XDocument doc)
    {
        var body = Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + doc.Root!.ToString(SaveOptions.DisableFormatting));
        http.Response.StatusCode = (int)status;
        http.Response.ContentType = "text/xml;charset=UTF-8";
        http.Response.ContentLength = body.Length;
        http.Response.Headers["x-amzn-RequestId"] = doc.Root.Element(Xml.Ns + "requestId")?.Value ?? doc.Root.Element("RequestID")?.Value ?? "";
        await http.Response.Body.WriteAsync(body, http.RequestAborted).ConfigureAwait(false);
    }
}
