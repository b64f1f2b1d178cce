using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace CcieDr.Simulator.CloudWatch;

/// <summary>
/// CloudWatch's actions over the stored series, protocol-neutral: the input is a JSON tree (the JSON protocol's body, or
/// the Query form unflattened by <see cref="CloudWatchProtocol"/>), the output a JSON tree whose timestamps are
/// <see cref="DateTime"/> values (each protocol writes them its way).
/// </summary>
internal sealed class CloudWatchService
{
    private static readonly HashSet<string> Stats = new(StringComparer.Ordinal) { "Average", "Sum", "Minimum", "Maximum", "SampleCount" };

    public IReadOnlyCollection<string> Actions { get; } = ["GetMetricData", "GetMetricStatistics", "ListMetrics", "PutMetricData"];

    public JsonObject Execute(World w, RegionState r, string action, JsonObject input) => action switch
    {
        "GetMetricData" => GetMetricData(w, r, input),
        "GetMetricStatistics" => GetMetricStatistics(r, input),
        "ListMetrics" => ListMetrics(w, r, input),
        "PutMetricData" => PutMetricData(w, r, input),
        _ => throw new CloudWatchError("InvalidAction", $"The action {action} is not valid for this web service."),
    };

    private static JsonObject PutMetricData(World w, RegionState r, JsonObject input)
    {
        var ns = Str(input, "Namespace") ?? throw CloudWatchError.Missing("Namespace");
        if (ns.StartsWith("AWS/", StringComparison.Ordinal))
        {
            throw CloudWatchError.Invalid($"The value {ns} for parameter Namespace is invalid.");
        }

        if (input["MetricData"] is not JsonArray data || data.Count == 0)
        {
            throw CloudWatchError.Missing("MetricData");
        }

        if (data.Count > 1000)
        {
            throw CloudWatchError.Invalid("The collection MetricData must not have a size greater than 1000.");
        }

        var samples = new List<(string Name, List<KeyValuePair<string, string>> Dims, MetricSample Sample)>();
        for (var n = 0; n < data.Count; n++)
        {
            var at = $"MetricData.member.{n + 1}";
            var d = data[n] as JsonObject ?? throw CloudWatchError.Missing(at);
            var name = Str(d, "MetricName") ?? throw CloudWatchError.Missing(at + ".MetricName");
            var dims = Dimensions(d, at, requireValue: true);
            var t = d["Timestamp"] is { } ts ? Time(ts, at + ".Timestamp") : w.Now;
            var unit = Str(d, "Unit");
            if (t > w.Now.AddHours(2) || t < w.Now.AddDays(-14))
            {
                throw CloudWatchError.Invalid($"The parameter {at}.Timestamp must specify a time no more than two weeks in the past and no more than two hours in the future.");
            }

            if (d["StatisticValues"] is JsonObject sv)
            {
                samples.Add((name, dims, new MetricSample(t, Num(sv, "Sum", at), Num(sv, "SampleCount", at), Num(sv, "Minimum", at), Num(sv, "Maximum", at), unit)));
            }
            else if (d["Values"] is JsonArray values && values.Count > 0)
            {
                var counts = d["Counts"] as JsonArray;
                for (var k = 0; k < values.Count; k++)
                {
                    var v = Double(values[k], $"{at}.Values.member.{k + 1}");
                    var c = counts is not null && k < counts.Count ? Double(counts[k], $"{at}.Counts.member.{k + 1}") : 1;
                    samples.Add((name, dims, new MetricSample(t, v * c, c, v, v, unit)));
                }
            }
            else if (d["Value"] is { } value)
            {
                samples.Add((name, dims, MetricSample.Of(t, Double(value, at + ".Value"), unit)));
            }
            else
            {
                throw CloudWatchError.Missing(at + ".Value");
            }
        }

        foreach (var (name, dims, sample) in samples)
        {
            r.CloudWatch.Add(ns, name, dims, sample);
        }

        return new JsonObject();
    }

    private static JsonObject ListMetrics(World w, RegionState r, JsonObject input)
    {
        var ns = Str(input, "Namespace");
        var name = Str(input, "MetricName");
        var filters = Dimensions(input, "Dimensions", requireValue: false, list: "Dimensions");
        var recent = Str(input, "RecentlyActive");
        if (recent is not null && recent != "PT3H")
        {
            throw CloudWatchError.Invalid($"The value {recent} for parameter RecentlyActive is not valid. Valid values: PT3H.");
        }

        var since = recent is null ? w.Now.AddDays(-14) : w.Now.AddHours(-3);
        var matches = r.CloudWatch.Series.Values
            .Where(s => (ns is null || s.Namespace == ns) && (name is null || s.MetricName == name))
            .Where(s => filters.All(f => s.Dimensions.Any(d => d.Key == f.Key && (f.Value.Length == 0 || d.Value == f.Value))))
            .Where(s => s.Samples.Count > 0 && s.Samples[^1].Timestamp >= since)
            .OrderBy(s => s.Namespace, StringComparer.Ordinal).ThenBy(s => s.MetricName, StringComparer.Ordinal).ThenBy(s => s.Key, StringComparer.Ordinal)
            .ToList();
        var pageSize = w.PageSize ?? 500;
        var offset = Offset(Str(input, "NextToken"), "lm");
        var page = matches.Skip(offset).Take(pageSize).ToList();
        var metrics = new JsonArray();
        foreach (var s in page)
        {
            metrics.Add(new JsonObject
            {
                ["Namespace"] = s.Namespace,
                ["MetricName"] = s.MetricName,
                ["Dimensions"] = DimensionsJson(s.Dimensions),
            });
        }

        var result = new JsonObject { ["Metrics"] = metrics };
        if (offset + page.Count < matches.Count)
        {
            result["NextToken"] = Token("lm", offset + page.Count);
        }

        return result;
    }

    private static JsonObject GetMetricData(World w, RegionState r, JsonObject input)
    {
        if (input["MetricDataQueries"] is not JsonArray queries || queries.Count == 0)
        {
            throw CloudWatchError.Missing("MetricDataQueries");
        }

        var start = input["StartTime"] is { } st ? Time(st, "StartTime") : throw CloudWatchError.Missing("StartTime");
        var end = input["EndTime"] is { } et ? Time(et, "EndTime") : throw CloudWatchError.Missing("EndTime");
        if (start >= end)
        {
            throw CloudWatchError.Invalid("The parameter StartTime must be less than the parameter EndTime.");
        }

        var scanBy = Str(input, "ScanBy") ?? "TimestampDescending";
        if (scanBy is not ("TimestampDescending" or "TimestampAscending"))
        {
            throw CloudWatchError.Invalid($"The value {scanBy} for parameter ScanBy is not valid. Valid values: TimestampDescending, TimestampAscending.");
        }

        var maxPoints = input["MaxDatapoints"] is { } mp ? (int)Double(mp, "MaxDatapoints") : (w.PageSize ?? 100800);
        if (maxPoints < 1)
        {
            throw CloudWatchError.Invalid("The parameter MaxDatapoints must be greater than 0.");
        }

        var computed = new List<(string Id, string Label, List<(DateTime T, double V)> Points)>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var n = 0; n < queries.Count; n++)
        {
            var at = $"MetricDataQueries.member.{n + 1}";
            var q = queries[n] as JsonObject ?? throw CloudWatchError.Missing(at);
            var id = Str(q, "Id") ?? throw CloudWatchError.Missing(at + ".Id");
            if (id.Length == 0 || !char.IsAsciiLetterLower(id[0]) || !id.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                throw CloudWatchError.Invalid($"The value {id} for parameter {at}.Id is not valid. The Id must start with a lowercase letter and contain only letters, numbers and underscores.");
            }

            if (!ids.Add(id))
            {
                throw CloudWatchError.Invalid($"The value {id} for parameter {at}.Id is not unique.");
            }

            if (q["Expression"] is not null)
            {
                throw new CloudWatchError("InvalidParameterValue", $"{at}.Expression: metric math is not implemented by the simulator.");
            }

            var stat = q["MetricStat"] as JsonObject ?? throw CloudWatchError.Missing(at + ".MetricStat");
            var metric = stat["Metric"] as JsonObject ?? throw CloudWatchError.Missing(at + ".MetricStat.Metric");
            var ns = Str(metric, "Namespace") ?? throw CloudWatchError.Missing(at + ".MetricStat.Metric.Namespace");
            var name = Str(metric, "MetricName") ?? throw CloudWatchError.Missing(at + ".MetricStat.Metric.MetricName");
            var dims = Dimensions(metric, at + ".MetricStat.Metric", requireValue: true);
            var period = stat["Period"] is { } p ? (int)Double(p, at + ".MetricStat.Period") : throw CloudWatchError.Missing(at + ".MetricStat.Period");
            if (period <= 0 || (period % 60 != 0 && period is not (1 or 5 or 10 or 30)))
            {
                throw CloudWatchError.Invalid($"The parameter {at}.MetricStat.Period must be 1, 5, 10, 30, or a multiple of 60.");
            }

            var statName = Str(stat, "Stat") ?? throw CloudWatchError.Missing(at + ".MetricStat.Stat");
            if (!Stats.Contains(statName))
            {
                throw CloudWatchError.Invalid($"The value {statName} for parameter {at}.MetricStat.Stat is not valid. The simulator supports Average, Sum, Minimum, Maximum and SampleCount.");
            }

            var series = r.CloudWatch.Series.GetValueOrDefault(MetricSeries.SeriesKey(ns, name, dims));
            var points = Aggregate(series, start, end, period, statName);
            points = scanBy == "TimestampDescending" ? points.OrderByDescending(x => x.T).ToList() : points.OrderBy(x => x.T).ToList();
            computed.Add((id, Str(q, "Label") ?? name, points));
        }

        // Pages hold at most MaxDatapoints points across all queries, in query order; the token is the offset.
        var offset = Offset(Str(input, "NextToken"), "gmd");
        var total = computed.Sum(c => c.Points.Count);
        var results = new JsonArray();
        var cursor = 0;
        var taken = 0;
        foreach (var (id, label, points) in computed)
        {
            var first = cursor;
            cursor += points.Count;
            if (points.Count == 0 ? offset > 0 : cursor <= offset || taken >= maxPoints)
            {
                continue;
            }

            var skip = Math.Max(0, offset - first);
            var slice = points.Skip(skip).Take(maxPoints - taken).ToList();
            taken += slice.Count;
            var timestamps = new JsonArray();
            var values = new JsonArray();
            foreach (var (t, v) in slice)
            {
                timestamps.Add(JsonValue.Create(t));
                values.Add(v);
            }

            results.Add(new JsonObject
            {
                ["Id"] = id,
                ["Label"] = label,
                ["Timestamps"] = timestamps,
                ["Values"] = values,
                ["StatusCode"] = skip + slice.Count < points.Count ? "PartialData" : "Complete",
                ["Messages"] = new JsonArray(),
            });
        }

        var result = new JsonObject { ["MetricDataResults"] = results, ["Messages"] = new JsonArray() };
        if (offset + taken < total)
        {
            result["NextToken"] = Token("gmd", offset + taken);
        }

        return result;
    }

    /// <summary>
    /// GetMetricStatistics (what <c>aws cloudwatch get-metric-statistics</c> calls): one metric, the asked statistics per
    /// period in [StartTime, EndTime), Datapoints in no particular order (AWS's answer is unordered too), each with its Unit.
    /// </summary>
    private static JsonObject GetMetricStatistics(RegionState r, JsonObject input)
    {
        var ns = Str(input, "Namespace") ?? throw CloudWatchError.Missing("Namespace");
        var name = Str(input, "MetricName") ?? throw CloudWatchError.Missing("MetricName");
        var dims = Dimensions(input, "Dimensions", requireValue: true);
        var start = input["StartTime"] is { } st ? Time(st, "StartTime") : throw CloudWatchError.Missing("StartTime");
        var end = input["EndTime"] is { } et ? Time(et, "EndTime") : throw CloudWatchError.Missing("EndTime");
        if (start >= end)
        {
            throw CloudWatchError.Invalid("The parameter StartTime must be less than the parameter EndTime.");
        }

        var period = input["Period"] is { } p ? (int)Double(p, "Period") : throw CloudWatchError.Missing("Period");
        if (period <= 0 || (period % 60 != 0 && period is not (1 or 5 or 10 or 30)))
        {
            throw CloudWatchError.Invalid("The parameter Period must be 1, 5, 10, 30, or a multiple of 60.");
        }

        if (input["ExtendedStatistics"] is JsonArray { Count: > 0 })
        {
            throw new CloudWatchError("InvalidParameterValue", "ExtendedStatistics (percentiles) are not implemented by the simulator.");
        }

        var statistics = (input["Statistics"] as JsonArray ?? throw new CloudWatchError("InvalidParameterCombination", "Must specify either Statistics or ExtendedStatistics, but not both."))
            .Select(x => x?.ToString() ?? "").ToList();
        if (statistics.FirstOrDefault(x => !Stats.Contains(x)) is { } bad)
        {
            throw CloudWatchError.Invalid($"The value {bad} for parameter Statistics is not valid. Valid values: SampleCount, Average, Sum, Minimum, Maximum.");
        }

        var series = r.CloudWatch.Series.GetValueOrDefault(MetricSeries.SeriesKey(ns, name, dims));
        var unit = series?.Samples.Where(x => x.Unit is not null).Select(x => x.Unit).LastOrDefault() ?? "None";
        var byTime = new SortedDictionary<DateTime, JsonObject>();
        foreach (var stat in statistics.Distinct(StringComparer.Ordinal))
        {
            foreach (var (t, v) in Aggregate(series, start, end, period, stat))
            {
                if (!byTime.TryGetValue(t, out var point))
                {
                    point = new JsonObject { ["Timestamp"] = JsonValue.Create(t) };
                    byTime[t] = point;
                }

                point[stat] = v;
            }
        }

        var datapoints = new JsonArray();
        foreach (var point in byTime.Values)
        {
            point["Unit"] = unit;
            datapoints.Add(point);
        }

        return new JsonObject { ["Label"] = name, ["Datapoints"] = datapoints };
    }

    /// <summary>Buckets of <paramref name="period"/> seconds (aligned to the epoch) within [start, end), with the statistic.</summary>
    private static List<(DateTime T, double V)> Aggregate(MetricSeries? series, DateTime start, DateTime end, int period, string stat)
    {
        var result = new List<(DateTime, double)>();
        if (series is null)
        {
            return result;
        }

        var ticks = TimeSpan.FromSeconds(period).Ticks;
        foreach (var bucket in series.Samples.Where(s => s.Timestamp >= start && s.Timestamp < end).GroupBy(s => s.Timestamp.Ticks - (s.Timestamp.Ticks % ticks)))
        {
            var count = bucket.Sum(s => s.SampleCount);
            var sum = bucket.Sum(s => s.Sum);
            double v = stat switch
            {
                "Sum" => sum,
                "SampleCount" => count,
                "Minimum" => bucket.Min(s => s.Minimum),
                "Maximum" => bucket.Max(s => s.Maximum),
                _ => count == 0 ? 0 : sum / count,
            };
            result.Add((new DateTime(bucket.Key, DateTimeKind.Utc), v));
        }

        return result;
    }

    private static List<KeyValuePair<string, string>> Dimensions(JsonObject o, string at, bool requireValue, string list = "Dimensions")
    {
        var result = new List<KeyValuePair<string, string>>();
        if (o[list] is not JsonArray dims)
        {
            return result;
        }

        if (dims.Count > 30)
        {
            throw CloudWatchError.Invalid($"The collection {at}.Dimensions must not have a size greater than 30.");
        }

        for (var k = 0; k < dims.Count; k++)
        {
            var d = dims[k] as JsonObject ?? throw CloudWatchError.Missing($"{at}.Dimensions.member.{k + 1}");
            var name = Str(d, "Name") ?? throw CloudWatchError.Missing($"{at}.Dimensions.member.{k + 1}.Name");
            var value = Str(d, "Value");
            if (value is null && requireValue)
            {
                throw CloudWatchError.Missing($"{at}.Dimensions.member.{k + 1}.Value");
            }

            if (result.Any(x => x.Key == name))
            {
                throw new CloudWatchError("InvalidParameterCombination", $"The collection {at}.Dimensions must not contain duplicate dimension names ({name}).");
            }

            result.Add(new(name, value ?? ""));
        }

        return result;
    }

    public static JsonArray DimensionsJson(IEnumerable<KeyValuePair<string, string>> dims)
    {
        var a = new JsonArray();
        foreach (var d in dims)
        {
            a.Add(new JsonObject { ["Name"] = d.Key, ["Value"] = d.Value });
        }

        return a;
    }

    private static string? Str(JsonObject o, string name) => o[name] is JsonValue v ? v.ToString() : null;

    private static double Num(JsonObject o, string name, string at) =>
        o[name] is { } n ? Double(n, at + ".StatisticValues." + name) : throw CloudWatchError.Missing(at + ".StatisticValues." + name);

    private static double Double(JsonNode? node, string at)
    {
        var text = node is JsonValue v ? v.ToString() : null;
        if (text is null || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || double.IsNaN(d) || double.IsInfinity(d))
        {
            throw CloudWatchError.Invalid($"The value {text} for parameter {at} is invalid.");
        }

        return d;
    }

    /// <summary>A timestamp: epoch seconds (JSON protocol) or ISO 8601 (Query protocol).</summary>
    private static DateTime Time(JsonNode node, string at)
    {
        var text = node is JsonValue v ? v.ToString() : "";
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var epoch))
        {
            return DateTime.UnixEpoch.AddTicks((long)(epoch * TimeSpan.TicksPerSecond));
        }

        if (DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t))
        {
            return t;
        }

        throw CloudWatchError.Invalid($"The value {text} for parameter {at} is not a valid timestamp.");
    }

    private static string Token(string kind, int offset) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{kind}:{offset.ToString(CultureInfo.InvariantCulture)}"));

    private static int Offset(string? token, string kind)
    {
        if (token is null)
        {
            return 0;
        }

        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            if (text.StartsWith(kind + ":", StringComparison.Ordinal) && int.TryParse(text.AsSpan(kind.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                return n;
            }
        }
        catch (FormatException)
        {
        }

        throw new CloudWatchError("InvalidNextToken", "The service couldn't process your request because the NextToken is not valid.");
    }
}
