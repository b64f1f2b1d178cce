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

    /// <summary>Starts the simulator on 127.0.0.1 (a free port when <see cref="SimulatorOptions.Port"/> is 0).</summary>
    public static async Task<SimulatorServer> StartAsync(SimulatorOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
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
        var server = new SimulatorServer(app, world);
        if (options.SeedCircleCi)
        {
            server.Control.SeedCircleCi(options.SeedRegion);
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
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task HandleAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "/";
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

        await HandleEc2Async(http).ConfigureAwait(false);
    }

    [GeneratedRegex(@"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")]
    private static partial Regex CredentialScope();

    [GeneratedRegex(@"^[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request$")]
    private static partial Regex QueryCredentialScope();

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

    private async Task HandleEc2Async(HttpContext http)
    {
        var requestId = Guid.NewGuid().ToString();
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

        var p = new QueryParams(pairs);
        var action = p.Get("Action");
        var regionName = RegionOf(http.Request);
        if (regionName is null)
        {
            await WriteError(http, HttpStatusCode.Unauthorized, "MissingAuthenticationToken", "Request is missing Authentication Token", requestId).ConfigureAwait(false);
            return;
        }

        if (!world.Regions.ContainsKey(regionName))
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
            fault = world.Faults.Take(action, regionName);
            entry = new RequestLogEntry { Region = regionName, Action = action, Parameters = parameters, Time = world.Now, Fault = fault?.Kind };
            world.Log(entry);
        }

        switch (fault?.Kind)
        {
            case FaultKinds.Throttle:
                entry.Status = 503;
                entry.ErrorCode = "RequestLimitExceeded";
                await WriteError(http, HttpStatusCode.ServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.", requestId).ConfigureAwait(false);
                return;
            case FaultKinds.InternalError:
                entry.Status = 500;
                entry.ErrorCode = "InternalError";
                await WriteError(http, HttpStatusCode.InternalServerError, "InternalError", "An internal error has occurred", requestId).ConfigureAwait(false);
                return;
            case FaultKinds.Unavailable:
                entry.Status = 503;
                entry.ErrorCode = "Unavailable";
                await WriteError(http, HttpStatusCode.ServiceUnavailable, "Unavailable", "The server is overloaded and can't handle the request.", requestId).ConfigureAwait(false);
                return;
            case FaultKinds.Drop:
                entry.Status = 0;
                http.Abort();
                return;
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
                return;
        }

        XDocument doc;
        var status = HttpStatusCode.OK;
        lock (world.Sync)
        {
            try
            {
                world.Tick();
                var ctx = new Ctx { World = world, Region = world.Regions[regionName], P = p, Action = action };
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
