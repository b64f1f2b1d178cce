using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.AspNetCore.Http;

namespace CcieDr.Simulator;

/// <summary>
/// STS on the simulator's port (requests signed for the service <c>sts</c>, Query protocol, version 2011-06-15):
/// <c>GetCallerIdentity</c> only, so that <c>aws sts get-caller-identity</c> answers who the simulator thinks the caller is.
/// Any credentials are accepted; the caller is an IAM user of the simulated account.
/// </summary>
public sealed partial class SimulatorServer
{
    private static readonly XNamespace StsNs = "https://sts.amazonaws.com/doc/2011-06-15/";

    private static readonly ProtocolFaults StsFaults = new(
        (HttpStatusCode.BadRequest, "Throttling", "Rate exceeded"),
        (HttpStatusCode.InternalServerError, "InternalFailure", "An internal error occurred."),
        (HttpStatusCode.ServiceUnavailable, "ServiceUnavailable", "Service is unavailable."));

    /// <summary>STS actions the simulator implements (Query protocol, same endpoint, SigV4 service <c>sts</c>).</summary>
    public static IReadOnlyCollection<string> SupportedStsActions { get; } = ["GetCallerIdentity"];

    [GeneratedRegex(@"Credential=([^/,\s]+)/")]
    private static partial Regex CredentialAccessKey();

    private async Task HandleStsAsync(HttpContext http)
    {
        var requestId = Guid.NewGuid().ToString();
        var p = await ReadQueryParamsAsync(http).ConfigureAwait(false);
        var action = p.Get("Action");
        var regionName = RegionOf(http.Request);
        if (regionName is null || !world.Regions.ContainsKey(regionName))
        {
            await WriteStsError(http, HttpStatusCode.Forbidden, "InvalidClientTokenId", $"Credential should be scoped to a valid region, not '{regionName}'.", requestId).ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrEmpty(action))
        {
            await WriteStsError(http, HttpStatusCode.BadRequest, "MissingAction", "The request must contain the parameter Action", requestId).ConfigureAwait(false);
            return;
        }

        RequestLogEntry entry;
        Faults.ActiveFault? fault;
        string account;
        lock (world.Sync)
        {
            fault = world.Faults.Take(action, regionName);
            entry = new RequestLogEntry
            {
                Service = "sts",
                Region = regionName,
                Action = action,
                Parameters = p.All.Where(kv => kv.Key is not ("Action" or "Version")).ToDictionary(kv => kv.Key, kv => kv.Value),
                Time = world.Now,
                Fault = fault?.Kind,
            };
            world.Log(entry);
            account = world.AccountId;
        }

        http.Items[typeof(RequestLogEntry)] = entry;
        if (await ServeFaultAsync(http, entry, fault, StsFaults, WriteStsError, requestId).ConfigureAwait(false))
        {
            return;
        }

        if (!SupportedStsActions.Contains(action))
        {
            entry.Status = (int)HttpStatusCode.BadRequest;
            entry.ErrorCode = "InvalidAction";
            await WriteStsError(http, HttpStatusCode.BadRequest, "InvalidAction", $"Could not find operation {action} for version {p.Get("Version") ?? "2011-06-15"}; the simulator's STS serves GetCallerIdentity only.", requestId).ConfigureAwait(false);
            return;
        }

        var accessKey = CredentialAccessKey().Match(http.Request.Headers.Authorization.ToString()) is { Success: true } m ? m.Groups[1].Value : "";
        var doc = StsCallerIdentity(account, accessKey, requestId);
        entry.Status = 200;
        if (fault?.Kind == FaultKinds.DropAfter)
        {
            entry.Status = 0;
            http.Abort();
            return;
        }

        await WriteStsXml(http, HttpStatusCode.OK, doc, requestId).ConfigureAwait(false);
    }

    /// <summary>The GetCallerIdentity answer: the simulated account, an IAM user whose id is derived from the access key (same key, same id).</summary>
    internal static XDocument StsCallerIdentity(string account, string accessKey, string requestId)
    {
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(accessKey)))[..17];
        return new XDocument(
            new XElement(StsNs + "GetCallerIdentityResponse",
                new XElement(StsNs + "GetCallerIdentityResult",
                    new XElement(StsNs + "Arn", $"arn:aws:iam::{account}:user/ccie-dr-simulator"),
                    new XElement(StsNs + "UserId", "AIDA" + hash),
                    new XElement(StsNs + "Account", account)),
                new XElement(StsNs + "ResponseMetadata", new XElement(StsNs + "RequestId", requestId))));
    }

    private static Task WriteStsError(HttpContext http, HttpStatusCode status, string code, string message, string requestId) =>
        WriteStsXml(http, status, QueryError(StsNs, code, message, requestId, status), requestId);

    /// <summary>The Query protocol's error document (STS, and a service the simulator does not serve).</summary>
    private static XDocument QueryError(XNamespace ns, string code, string message, string requestId, HttpStatusCode status) =>
        new(new XElement(ns + "ErrorResponse",
            new XElement(ns + "Error",
                new XElement(ns + "Type", (int)status >= 500 ? "Receiver" : "Sender"),
                new XElement(ns + "Code", code),
                new XElement(ns + "Message", message)),
            new XElement(ns + "RequestId", requestId)));

    private static async Task WriteStsXml(HttpContext http, HttpStatusCode status, XDocument doc, string requestId)
    {
        var body = Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + doc.Root!.ToString(SaveOptions.DisableFormatting));
        http.Response.StatusCode = (int)status;
        http.Response.ContentType = "text/xml";
        http.Response.ContentLength = body.Length;
        http.Response.Headers["x-amzn-RequestId"] = requestId;
        await http.Response.Body.WriteAsync(body, http.RequestAborted).ConfigureAwait(false);
    }
}
