using System.Net;
using System.Xml.Linq;

namespace CcieDr.Simulator.AutoScaling;

/// <summary>An Auto Scaling API error: the real code, message and HTTP status (from the service model).</summary>
internal sealed class AsgError(string code, string message, HttpStatusCode status = HttpStatusCode.BadRequest) : Exception(message)
{
    public string Code { get; } = code;

    public HttpStatusCode Status { get; } = status;

    public static AsgError Validation(string message) => new("ValidationError", message);

    public static AsgError Missing(string member) =>
        Validation($"1 validation error detected: Value null at '{char.ToLowerInvariant(member[0]) + member[1..]}' failed to satisfy constraint: Member must not be null");

    public static AsgError Contention() =>
        new("ResourceContention", "You already have a pending update to an Auto Scaling resource (for example, a group, instance, or load balancer).", HttpStatusCode.InternalServerError);
}

/// <summary>Builders for the Auto Scaling Query protocol's XML (<c>&lt;XResponse&gt;&lt;XResult&gt;</c>, lists as <c>member</c>).</summary>
internal static class AsgXml
{
    public static readonly XNamespace Ns = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

    /// <summary>An element; null content is skipped.</summary>
    public static XElement E(string name, params object?[] content) =>
        new(Ns + name, content.Where(c => c is not null).Select(c => c is XNode or IEnumerable<XElement> ? c : Ec2.Xml.Format(c!)));

    /// <summary>A leaf; a null value gives no element.</summary>
    public static XElement? V(string name, object? value) => value is null ? null : new XElement(Ns + name, Ec2.Xml.Format(value));

    /// <summary>A list: <c>&lt;name&gt;&lt;member&gt;…&lt;/member&gt;…&lt;/name&gt;</c>.</summary>
    public static XElement List(string name, IEnumerable<object> members) =>
        new(Ns + name, members.Select(m => m is XElement x ? new XElement(Ns + "member", x.Elements()) : new XElement(Ns + "member", Ec2.Xml.Format(m))));

    /// <summary>The response document: result members inside <c>&lt;ActionResult&gt;</c> (none for actions without output).</summary>
    public static XDocument Response(string action, string requestId, IReadOnlyList<object?>? result)
    {
        var root = new XElement(Ns + action + "Response");
        if (result is not null)
        {
            root.Add(new XElement(Ns + action + "Result", result.Where(c => c is not null)));
        }

        root.Add(new XElement(Ns + "ResponseMetadata", new XElement(Ns + "RequestId", requestId)));
        return new XDocument(new XDeclaration("1.0", "UTF-8", null), root);
    }

    public static XDocument Error(string code, string message, string requestId, HttpStatusCode status) =>
        new(new XDeclaration("1.0", "UTF-8", null),
            new XElement(Ns + "ErrorResponse",
                new XElement(Ns + "Error",
                    new XElement(Ns + "Type", (int)status >= 500 && code != "ResourceContention" ? "Receiver" : "Sender"),
                    new XElement(Ns + "Code", code),
                    new XElement(Ns + "Message", message)),
                new XElement(Ns + "RequestId", requestId)));
}
