using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace CcieDr.Engine.Aws.Query
{
    /// <summary>
    /// The parameters of one AWS Query-protocol call (CloudWatch, Auto Scaling): <c>Action</c>, <c>Version</c> and
    /// the flattened members, form-encoded as AWS expects them. Lists become <c>Name.member.N</c> (N from 1), nested
    /// structures <c>Outer.Inner</c>; see <see cref="QueryParameters.SetMembers{T}"/>. Null values are left out.
    /// </summary>
    public sealed class QueryRequest : QueryParameters
    {
        /// <summary>A request for <paramref name="action"/> (e.g. "GetMetricData"); the version comes from the service.</summary>
        public QueryRequest(string action)
            : base(new List<KeyValuePair<string, string>>(), string.Empty)
        {
            if (string.IsNullOrEmpty(action))
            {
                throw new ArgumentException("An action is required.", nameof(action));
            }

            Action = action;
        }

        /// <summary>The Query action.</summary>
        public string Action { get; }

        /// <summary>The <c>NextToken</c> parameter (the pager sets it; null: first page).</summary>
        public string? NextToken
        {
            get => Get("NextToken");
            set => Replace("NextToken", value);
        }

        /// <summary>The parameters in the order they were set (without Action and Version).</summary>
        public IReadOnlyList<KeyValuePair<string, string>> Parameters => Pairs;

        /// <summary>The value of parameter <paramref name="name"/> (full flattened name), or null.</summary>
        public string? Get(string name)
        {
            foreach (KeyValuePair<string, string> p in Pairs)
            {
                if (string.Equals(p.Key, name, StringComparison.Ordinal))
                {
                    return p.Value;
                }
            }

            return null;
        }

        /// <summary>The form body: <c>Action=…&amp;Version=…&amp;…</c>, RFC 3986 percent-encoded (UTF-8).</summary>
        public string ToFormBody(string version)
        {
            var sb = new StringBuilder();
            Append(sb, "Action", Action);
            Append(sb, "Version", version);
            foreach (KeyValuePair<string, string> p in Pairs)
            {
                Append(sb, p.Key, p.Value);
            }

            return sb.ToString();
        }

        private void Replace(string name, string? value)
        {
            Pairs.RemoveAll(p => string.Equals(p.Key, name, StringComparison.Ordinal));
            if (value is not null)
            {
                Pairs.Add(new KeyValuePair<string, string>(name, value));
            }
        }

        private static void Append(StringBuilder sb, string name, string value)
        {
            if (sb.Length > 0)
            {
                sb.Append('&');
            }

            sb.Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
        }
    }

    /// <summary>A view of a <see cref="QueryRequest"/> under a prefix (a list member or a nested structure).</summary>
    public class QueryParameters
    {
        private readonly string _prefix;

        internal QueryParameters(List<KeyValuePair<string, string>> pairs, string prefix)
        {
            Pairs = pairs;
            _prefix = prefix;
        }

        internal List<KeyValuePair<string, string>> Pairs { get; }

        /// <summary>Sets a string member; null is left out.</summary>
        public QueryParameters Set(string name, string? value)
        {
            if (value is not null)
            {
                Pairs.Add(new KeyValuePair<string, string>(_prefix + name, value));
            }

            return this;
        }

        /// <summary>Sets an integer member; null is left out.</summary>
        public QueryParameters Set(string name, long? value) => Set(name, value?.ToString(CultureInfo.InvariantCulture));

        /// <summary>Sets a number member (round-trip form); null is left out.</summary>
        public QueryParameters Set(string name, double? value) => Set(name, value?.ToString("R", CultureInfo.InvariantCulture));

        /// <summary>Sets a boolean member (<c>true</c>/<c>false</c>); null is left out.</summary>
        public QueryParameters Set(string name, bool? value) => Set(name, value is null ? null : value.Value ? "true" : "false");

        /// <summary>Sets a timestamp member in ISO 8601 UTC (<c>2026-12-07T12:00:00.000Z</c>); null is left out.</summary>
        public QueryParameters Set(string name, DateTime? value) => Set(name, value is null ? null : FormatTimestamp(value.Value));

        /// <summary>Sets a list of strings: <c>name.member.1</c>, <c>name.member.2</c>, …; null or empty is left out.</summary>
        public QueryParameters SetList(string name, IEnumerable<string>? values)
        {
            if (values is null)
            {
                return this;
            }

            int n = 0;
            foreach (string v in values)
            {
                Set(name + ".member." + (++n).ToString(CultureInfo.InvariantCulture), v);
            }

            return this;
        }

        /// <summary>Sets a list of numbers: <c>name.member.N</c>; null is left out.</summary>
        public QueryParameters SetList(string name, IEnumerable<double>? values)
        {
            if (values is null)
            {
                return this;
            }

            int n = 0;
            foreach (double v in values)
            {
                Set(name + ".member." + (++n).ToString(CultureInfo.InvariantCulture), v);
            }

            return this;
        }

        /// <summary>
        /// Sets a list of structures: <paramref name="fill"/> writes the members of item N under <c>name.member.N.</c>.
        /// Nested lists and structures nest the same way (<c>MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name</c>).
        /// </summary>
        public QueryParameters SetMembers<T>(string name, IEnumerable<T>? items, Action<QueryParameters, T> fill)
        {
            if (items is null)
            {
                return this;
            }

            if (fill is null)
            {
                throw new ArgumentNullException(nameof(fill));
            }

            int n = 0;
            foreach (T item in items)
            {
                fill(new QueryParameters(Pairs, _prefix + name + ".member." + (++n).ToString(CultureInfo.InvariantCulture) + "."), item);
            }

            return this;
        }

        /// <summary>Sets a nested structure: <paramref name="fill"/> writes its members under <c>name.</c>.</summary>
        public QueryParameters SetStructure(string name, Action<QueryParameters> fill)
        {
            if (fill is null)
            {
                throw new ArgumentNullException(nameof(fill));
            }

            fill(new QueryParameters(Pairs, _prefix + name + "."));
            return this;
        }

        /// <summary>The Query protocol's timestamp form.</summary>
        public static string FormatTimestamp(DateTime value) =>
            (value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
    }
}
