using System.Globalization;
using System.Text.RegularExpressions;

namespace CcieDr.Simulator.Ec2;

/// <summary>EC2 Query protocol parameters (flattened: <c>Filter.1.Value.2</c>), with typed accessors.</summary>
internal sealed partial class QueryParams
{
    private readonly Dictionary<string, string> values;

    public QueryParams(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var pair in pairs)
        {
            values[pair.Key] = pair.Value;
        }
    }

    public IReadOnlyDictionary<string, string> All => values;

    public bool IsEmpty => values.Count == 0;

    public string? Get(string name) => values.TryGetValue(name, out var v) ? v : null;

    public bool Has(string name) => values.ContainsKey(name);

    public string Required(string name) =>
        Get(name) is { Length: > 0 } v ? v : throw Ec2Error.Missing(name);

    public int? Int(string name)
    {
        var v = Get(name);
        if (v is null)
        {
            return null;
        }

        return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i)
            ? i
            : throw Ec2Error.InvalidValue($"Invalid value '{v}' for {name}");
    }

    public bool? Bool(string name)
    {
        var v = Get(name);
        if (v is null)
        {
            return null;
        }

        return bool.TryParse(v, out var b) ? b : throw Ec2Error.InvalidValue($"Invalid value '{v}' for {name}");
    }

    /// <summary>Values of <c>prefix.1</c>, <c>prefix.2</c>, … in index order.</summary>
    public List<string> List(string prefix)
    {
        var result = new List<(int, string)>();
        var p = prefix + ".";
        foreach (var (key, value) in values)
        {
            if (key.StartsWith(p, StringComparison.OrdinalIgnoreCase)
                && int.TryParse(key.AsSpan(p.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                result.Add((n, value));
            }
        }

        return result.OrderBy(x => x.Item1).Select(x => x.Item2).ToList();
    }

    /// <summary>Structured members <c>prefix.N.*</c>, each as its own parameter set, in index order.</summary>
    public List<QueryParams> Members(string prefix)
    {
        var groups = new SortedDictionary<int, List<KeyValuePair<string, string>>>();
        var p = prefix + ".";
        foreach (var (key, value) in values)
        {
            if (!key.StartsWith(p, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var rest = key[p.Length..];
            var dot = rest.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0 || !int.TryParse(rest.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                continue;
            }

            if (!groups.TryGetValue(n, out var list))
            {
                groups[n] = list = new List<KeyValuePair<string, string>>();
            }

            list.Add(new(rest[(dot + 1)..], value));
        }

        return groups.Values.Select(g => new QueryParams(g)).ToList();
    }

    /// <summary>The sub-structure <c>prefix.*</c>.</summary>
    public QueryParams Sub(string prefix)
    {
        var p = prefix + ".";
        return new QueryParams(values
            .Where(kv => kv.Key.StartsWith(p, StringComparison.OrdinalIgnoreCase))
            .Select(kv => new KeyValuePair<string, string>(kv.Key[p.Length..], kv.Value)));
    }

    /// <summary>Tag.N.Key / Tag.N.Value pairs under <paramref name="prefix"/>.</summary>
    public List<KeyValuePair<string, string?>> Tags(string prefix = "Tag")
    {
        return Members(prefix)
            .Select(m => new KeyValuePair<string, string?>(m.Required("Key"), m.Get("Value")))
            .ToList();
    }

    /// <summary>Filter.N.Name / Filter.N.Value.M.</summary>
    public List<Filter> Filters()
    {
        return Members("Filter")
            .Select(m => new Filter(m.Required("Name"), m.List("Value")))
            .ToList();
    }

    /// <summary>A stable fingerprint of the request (for ClientToken idempotency).</summary>
    public string Fingerprint(params string[] ignore)
    {
        return string.Join("&", values
            .Where(kv => !ignore.Contains(kv.Key, StringComparer.OrdinalIgnoreCase))
            .OrderBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase)
            .Select(kv => kv.Key + "=" + kv.Value));
    }
}

/// <summary>One Describe* filter; values may hold * and ? wildcards.</summary>
internal sealed class Filter
{
    private readonly List<Regex> patterns;

    public Filter(string name, List<string> values)
    {
        Name = name;
        Values = values;
        patterns = values.Select(ToRegex).ToList();
    }

    public string Name { get; }

    public List<string> Values { get; }

    public bool Matches(IEnumerable<string?> candidates)
    {
        foreach (var c in candidates)
        {
            if (c is null)
            {
                continue;
            }

            foreach (var p in patterns)
            {
                if (p.IsMatch(c))
                {
                    return true;
                }
            }
        }

        return false;
    }

    internal static Regex ToRegex(string glob)
    {
        var sb = new System.Text.StringBuilder("^");
        for (var i = 0; i < glob.Length; i++)
        {
            var ch = glob[i];
            if (ch == '\\' && i + 1 < glob.Length && (glob[i + 1] == '*' || glob[i + 1] == '?' || glob[i + 1] == '\\'))
            {
                sb.Append(Regex.Escape(glob[i + 1].ToString()));
                i++;
            }
            else if (ch == '*')
            {
                sb.Append(".*");
            }
            else if (ch == '?')
            {
                sb.Append('.');
            }
            else
            {
                sb.Append(Regex.Escape(ch.ToString()));
            }
        }

        sb.Append('$');
        return new Regex(sb.ToString(), RegexOptions.Singleline | RegexOptions.CultureInvariant);
    }
}
