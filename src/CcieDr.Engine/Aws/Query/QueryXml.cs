using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Xml.Linq;

namespace CcieDr.Engine.Aws.Query
{
    /// <summary>
    /// Reading Query-protocol XML without caring about the service's namespace: children by local name, list
    /// members (<c>&lt;Name&gt;&lt;member&gt;…&lt;/member&gt;&lt;/Name&gt;</c>), typed values.
    /// </summary>
    public static class QueryXml
    {
        /// <summary>The first child named <paramref name="name"/> (any namespace), or null.</summary>
        public static XElement? Child(this XElement? element, string name) =>
            element?.Elements().FirstOrDefault(e => e.Name.LocalName == name);

        /// <summary>The <c>member</c> elements of the list child <paramref name="listName"/> (empty when absent).</summary>
        public static IEnumerable<XElement> Members(this XElement? element, string listName) =>
            element.Child(listName)?.Elements().Where(e => e.Name.LocalName == "member") ?? Enumerable.Empty<XElement>();

        /// <summary>The text of child <paramref name="name"/>, or null when absent.</summary>
        public static string? Text(this XElement? element, string name) => element.Child(name)?.Value;

        /// <summary>Child <paramref name="name"/> as a number, or null.</summary>
        public static double? Number(this XElement? element, string name) =>
            element.Text(name) is string s && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : null;

        /// <summary>Child <paramref name="name"/> as an integer, or null.</summary>
        public static long? WholeNumber(this XElement? element, string name) =>
            element.Text(name) is string s && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l) ? l : null;

        /// <summary>Child <paramref name="name"/> as a boolean, or null.</summary>
        public static bool? Flag(this XElement? element, string name) =>
            element.Text(name) is string s ? string.Equals(s.Trim(), "true", StringComparison.OrdinalIgnoreCase) : null;

        /// <summary>Child <paramref name="name"/> as a UTC timestamp (ISO 8601), or null.</summary>
        public static DateTime? Timestamp(this XElement? element, string name) =>
            element.Text(name) is string s ? ParseTimestamp(s) : null;

        /// <summary>An ISO 8601 timestamp as UTC.</summary>
        public static DateTime ParseTimestamp(string value) =>
            DateTime.Parse(value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
    }

    /// <summary>A Query-protocol answer: the document, its <c>&lt;ActionResult&gt;</c> element and request id.</summary>
    public sealed class QueryResponse
    {
        public QueryResponse(XDocument document, string action, DateTime? serverTime = null)
        {
            ServerTime = serverTime;
            Document = document ?? throw new ArgumentNullException(nameof(document));
            Result = document.Root.Child(action + "Result");
            RequestId = document.Root.Child("ResponseMetadata").Text("RequestId");
        }

        /// <summary>The whole response document.</summary>
        public XDocument Document { get; }

        /// <summary><c>&lt;{Action}Result&gt;</c>; null for actions that return nothing (PutMetricData).</summary>
        public XElement? Result { get; }

        public string? RequestId { get; }

        /// <summary>The service's clock when it answered (the HTTP Date header, UTC), when it sent one.</summary>
        public DateTime? ServerTime { get; }

        /// <summary>The <c>NextToken</c> of a listing page; null on the last page.</summary>
        public string? NextToken => Result.Text("NextToken") is string t && t.Length > 0 ? t : null;
    }
}
