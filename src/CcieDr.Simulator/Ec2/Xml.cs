using System.Globalization;
using System.Xml.Linq;

namespace CcieDr.Simulator.Ec2;

/// <summary>Builders for EC2 Query protocol XML.</summary>
internal static class Xml
{
    public static readonly XNamespace Ns = "http://ec2.amazonaws.com/doc/2016-11-15/";

    /// <summary>An element; null content is skipped.</summary>
    public static XElement E(string name, params object?[] content) =>
        new(Ns + name, content.Where(c => c is not null).Select(c => Normalize(c!)));

    /// <summary>A leaf with a value; null value → no element.</summary>
    public static XElement? V(string name, object? value) =>
        value is null ? null : new XElement(Ns + name, Format(value));

    /// <summary>An <c>item</c> of a set.</summary>
    public static XElement Item(params object?[] content) => E("item", content);

    /// <summary>A <c>xxxSet</c> of items.</summary>
    public static XElement Set(string name, IEnumerable<XElement> items) => new(Ns + name, items);

    public static XElement TagSet(IReadOnlyDictionary<string, string> tags, string name = "tagSet") =>
        Set(name, tags.Select(t => Item(V("key", t.Key), V("value", t.Value))));

    public static string Format(object value) => value switch
    {
        bool b => b ? "true" : "false",
        DateTime d => d.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static object Normalize(object c) => c switch
    {
        XNode or XAttribute or string => c,
        System.Collections.IEnumerable many => many,
        _ => Format(c),
    };
}
