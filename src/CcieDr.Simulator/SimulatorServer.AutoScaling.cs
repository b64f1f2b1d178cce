using System.Net;
using System.Text;
using System.Xml.Linq;
using CcieDr.Simulator.AutoScaling;
using CcieDr.Simulator.Ec2;
using Microsoft.AspNetCore.Http;

namespace CcieDr.Simulator;

/// <summary>The Auto Scaling Query API on the simulator's port: requests signed for the service <c>autoscaling</c>.</summary>
public sealed partial class SimulatorServer
{
    private readonly AutoScalingService autoScaling = new();

    private static readonly ProtocolFaults AutoScalingFaults = new(
        (HttpStatusCode.BadRequest, "Throttling", "Rate exceeded"),
        (HttpStatusCode.InternalServerError, "InternalFailure", "An internal error occurred."),
        (HttpStatusCode.ServiceUnavailable, "ServiceUnavailable", "Service is unavailable."));

    /// <summary>Auto Scaling actions the simulator implements (Query protocol, same endpoint, SigV4 service <c>autoscaling</c>).</summary>
    public IReadOnlyCollection<string> SupportedAutoScalingActions => autoScaling.Actions;

    private async Task HandleAutoScalingAsync(HttpContext http)
    {
        var requestId = Guid.NewGuid().ToString();
        var p = await ReadQueryParamsAsync(http).ConfigureAwait(false);
        var action = p.Get("Action");
        var regionName = RegionOf(http.Request);
        if (regionName is null || !world.Regions.TryGetValue(regionName, out var region))
        {
            await WriteAutoScalingError(http, HttpStatusCode.Forbidden, "InvalidClientTokenId", $"Credential should be scoped to a valid region, not '{regionName}'.", requestId).ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrEmpty(action))
        {
            await WriteAutoScalingError(http, HttpStatusCode.BadRequest, "MissingAction", "The request must contain the parameter Action", requestId).ConfigureAwait(false);
            return;
        }

        var parameters = p.All.Where(kv => kv.Key is not ("Action" or "Version")).ToDictionary(kv => kv.Key, kv => kv.Value);
        RequestLogEntry entry;
        Faults.ActiveFault? fault;
        lock (world.Sync)
        {
            fault = world.Faults.Take(action, regionName);
            entry = new RequestLogEntry { Service = "autoscaling", Region = regionName, Action = action, Parameters = parameters, Time = world.Now, Fault = fault?.Kind };
            world.Log(entry);
        }

        http.Items[typeof(RequestLogEntry)] = entry;
        if (await ServeFaultAsync(http, entry, fault, AutoScalingFaults, WriteAutoScalingError, requestId).ConfigureAwait(false))
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
                doc = autoScaling.Execute(new Ctx { World = world, Region = region, P = p, Action = action }, requestId);
                AutoScaler.Observe(world, region, world.Now);

                // A change is acted on at once (a deficit is noticed now, not at the next request), as the service does within seconds.
                world.Tick();
            }
            catch (AsgError e)
            {
                status = e.Status;
                entry.ErrorCode = e.Code;
                doc = AsgXml.Error(e.Code, e.Message, requestId, e.Status);
            }
            catch (Exception e)
            {
                status = HttpStatusCode.InternalServerError;
                entry.ErrorCode = "InternalFailure";
                doc = AsgXml.Error("InternalFailure", "Simulator bug: " + e.Message, requestId, status);
                Console.Error.WriteLine($"simulator: autoscaling {action} failed: {e}");
            }

            entry.Status = (int)status;
        }

        if (fault?.Kind == FaultKinds.DropAfter)
        {
            entry.Status = 0;
            http.Abort();
            return;
        }

        // The Date header tells the simulated time (clients measure ages and schedule on the service's clock).
        DateTime now;
        lock (world.Sync)
        {
            now = world.Now;
        }

        http.Response.Headers.Date = now.ToString("r", System.Globalization.CultureInfo.InvariantCulture);
        await WriteAutoScalingXml(http, status, doc, requestId).ConfigureAwait(false);
    }

    private static Task WriteAutoScalingError(HttpContext http, HttpStatusCode status, string code, string message, string requestId) =>
        WriteAutoScalingXml(http, status, AsgXml.Error(code, message, requestId, status), requestId);

    private static async Task WriteAutoScalingXml(HttpContext http, HttpStatusCode status, XDocument doc, string requestId)
    {
        var body = Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + doc.Root!.ToString(SaveOptions.DisableFormatting));
        http.Response.StatusCode = (int)status;
        http.Response.ContentType = "text/xml";
        http.Response.ContentLength = body.Length;
        http.Response.Headers["x-amzn-RequestId"] = requestId;
        await http.Response.Body.WriteAsync(body, http.RequestAborted).ConfigureAwait(false);
    }
}
