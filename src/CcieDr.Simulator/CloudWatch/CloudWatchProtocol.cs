using System.Globalization;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace CcieDr.Simulator.CloudWatch;

/// <summary>The two CloudWatch wire forms over <see cref="CloudWatchService"/>'s protocol-neutral JSON trees.</summary>
internal static class CloudWatchProtocol
{
    private static readonly XNamespace Ns = "http://monitoring.amazonaws.com/doc/2010-08-01/";

    /// <summary>Query form pairs (<c>A.member.1.B=v</c>) as a JSON tree ({"A":[{"B":"v"}]}); every value a string.</summary>
    public static JsonObject Unflatten(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var root = new JsonObject();
        foreach (var (key, value) in pairs)
        {
            var segs = key.Split('.');
            JsonObject node = root;
            for (var i = 0; i < segs.Length; i++)
            {
                var seg = segs[i];
                if (i + 2 < segs.Length && segs[i + 1] == "member" && int.TryParse(segs[i + 2], NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index >= 1)
                {
                    if (node[seg] is not JsonArray arr)
                    {
                        arr = new JsonArray();
                        node[seg] = arr;
                    }

                    while (arr.Count < index)
                    {
                        arr.Add(null);
                    }

                    if (i + 3 == segs.Length)
                    {
                        arr[index - 1] = value;
                        break;
                    }

                    if (arr[index - 1] is not JsonObject child)
                    {
                        child = new JsonObject();
                        arr[index - 1] = child;
                    }

                    node = child;
                    i += 2;
                    continue;
                }

                if (i == segs.Length - 1)
                {
                    node[seg] = value;
                    break;
                }

                if (node[seg] is not JsonObject next)
                {
                    next = new JsonObject();
                    node[seg] = next;
                }

                node = next;
            }
        }

        return root;
    }

    /// <summary>The Query answer: <c>&lt;ActionResponse&gt;&lt;ActionResult&gt;…&lt;/ActionResult&gt;&lt;ResponseMetadata/&gt;</c>.</summary>
    public static XDocument ToXml(string action, JsonObject result, string requestId)
    {
        var root = new XElement(Ns + (action + "Response"));
        if (result.Count > 0)
        {
            var r = new XElement(Ns + (action + "Result"));
            foreach (var (k, v) in result)
            {
                r.Add(Element(k, v));
            }

            root.Add(r);
        }

        root.Add(new XElement(Ns + "ResponseMetadata", new XElement(Ns + "RequestId", requestId)));
        return new XDocument(root);
    }

    private static XElement Element(string name, JsonNode? node)
    {
        var e = new XElement(Ns + name);
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                {
                    e.Add(Element(k, v));
                }

                break;
            case JsonArray a:
                foreach (var item in a)
                {
                    e.Add(Element("member", item));
                }

                break;
            case JsonValue v:
                e.Value = Scalar(v);
                break;
        }

        return e;
    }

    private static string Scalar(JsonValue v)
    {
        if (v.TryGetValue<DateTime>(out var t))
        {
            return t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        }

        if (v.TryGetValue<double>(out var d))
        {
            return d.ToString("R", CultureInfo.InvariantCulture);
        }

        if (v.TryGetValue<bool>(out var b))
        {
            return b ? "true" : "false";
        }

        return v.ToString();
    }

    /// <summary>The JSON 1.0 answer: the same tree with timestamps as epoch seconds.</summary>
    public static JsonNode ToJson(JsonNode node) => node switch
    {
        JsonObject o => new JsonObject(o.Select(kv => new KeyValuePair<string, JsonNode?>(kv.Key, kv.Value is null ? null : ToJson(kv.Value)))),
        JsonArray a => new JsonArray(a.Select(x => x is null ? null : ToJson(x)).ToArray()),
        JsonValue v when v.TryGetValue<DateTime>(out var t) => JsonValue.Create((t.ToUniversalTime() - DateTime.UnixEpoch).TotalSeconds),
        _ => node.DeepClone(),
    };

    /// <summary>The Smithy error shape a Query error code belongs to (the JSON protocol's <c>__type</c>).</summary>
    public static string ShapeOf(string code) => code switch
    {
        "InvalidParameterValue" => "InvalidParameterValueException",
        "MissingParameter" => "MissingRequiredParameterException",
        "InvalidParameterCombination" => "InvalidParameterCombinationException",
        "InternalServiceError" => "InternalServiceFault",
        _ => code,
    };
}
