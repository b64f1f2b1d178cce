using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using System;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Remote
{
    /// <summary>Replicated's app state as read from one of its CLIs.</summary>
    public sealed class ReplicatedStatus
    {
        public string AppId { get; set; } = string.Empty;

        public string? Name { get; set; }

        public long? Sequence { get; set; }

        public string State { get; set; } = string.Empty;

        public string? DesiredState { get; set; }

        public bool IsTransitioning { get; set; }

        public string? Error { get; set; }

        public DateTime? LastModifiedAt { get; set; }
    }

    /// <summary>One row of Replicated 1.x's <c>replicated apps</c>.</summary>
    public sealed class ReplicatedAppRow
    {
        public ReplicatedAppRow(string appId, string? name, long? sequence, string status)
        {
            AppId = appId;
            Name = name;
            Sequence = sequence;
            Status = status;
        }

        public string AppId { get; }

        public string? Name { get; }

        public long? Sequence { get; }

        /// <summary>Lower case: started, stopped, ...</summary>
        public string Status { get; }
    }

    /// <summary>
    /// Parsers for the real output of the Replicated CLIs (samples with sources in the tests' Remote/Data). Anything
    /// else is a ReplicatedOutputUnrecognised error quoting the first line (masked), never a guess.
    /// </summary>
    public static class ReplicatedParsers
    {
        /// <summary>App states Replicated reports (1.x capitalised, 2.x lower case).</summary>
        public static readonly IReadOnlyCollection<string> KnownStates = new HashSet<string>(StringComparer.Ordinal)
        {
            "started", "starting", "stopped", "stopping", "paused", "pausing", "unpausing", "restarting", "updating", "installing", "failed",
        };

        private static readonly Regex Version = new(@"\b(\d+\.\d+\.\d+)\b", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        private static readonly Regex AppId = new(@"^[0-9a-f]{16,64}$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        private static readonly Regex SecretToken = new(@"^\s*(?:export\s+)?CIRCLE_SECRET_PASSPHRASE=(?<q>['""]?)(?<v>[^'""\s]+)\k<q>\s*$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        private static readonly char[] Blank = { ' ', '\t' };

        /// <summary><c>replicatedctl app status</c> (JSON array of app status objects): the first app.</summary>
        public static ReplicatedStatus ParseCtlStatus(string output)
        {
            JsonElement first;
            try
            {
                using JsonDocument doc = JsonDocument.Parse(output ?? string.Empty);
                JsonElement root = doc.RootElement;
                if (root.ValueKind == JsonValueKind.Array && root.GetArrayLength() > 0)
                {
                    first = root[0].Clone();
                }
                else if (root.ValueKind == JsonValueKind.Object)
                {
                    first = root.Clone();
                }
                else
                {
                    throw Unrecognised("replicatedctl app status", output, "an empty list: no app is installed on the box");
                }
            }
            catch (JsonException)
            {
                throw Unrecognised("replicatedctl app status", output, "not the JSON status list");
            }

            if (!first.TryGetProperty("AppID", out JsonElement id) || !first.TryGetProperty("State", out JsonElement state) || state.ValueKind != JsonValueKind.String)
            {
                throw Unrecognised("replicatedctl app status", output, "no AppID/State");
            }

            var status = new ReplicatedStatus
            {
                AppId = id.GetString() ?? string.Empty,
                State = NormaliseState(state.GetString(), "replicatedctl app status", output),
                DesiredState = first.TryGetProperty("DesiredState", out JsonElement desired) && desired.ValueKind == JsonValueKind.String ? desired.GetString()!.ToLowerInvariant() : null,
                IsTransitioning = first.TryGetProperty("IsTransitioning", out JsonElement tr) && tr.ValueKind == JsonValueKind.True,
                Sequence = first.TryGetProperty("Sequence", out JsonElement seq) && seq.ValueKind == JsonValueKind.Number ? seq.GetInt64() : null,
                Error = first.TryGetProperty("Error", out JsonElement err) && err.ValueKind == JsonValueKind.String && err.GetString()!.Length > 0 ? err.GetString() : null,
            };
            if (first.TryGetProperty("LastModifiedAt", out JsonElement at) && at.ValueKind == JsonValueKind.String
                && DateTime.TryParse(at.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime when))
            {
                status.LastModifiedAt = when;
            }

            return status;
        }

        /// <summary>
        /// <c>replicated apps</c> (1.x): a header naming ID (and NAME, SEQUENCE, STATUS), then one row per app
        /// version: the hex id first, the status word last, the sequence the last number before it.
        /// </summary>
        public static IReadOnlyList<ReplicatedAppRow> ParseApps(string output)
        {
            string[] lines = Lines(output);
            if (lines.Length == 0 || !lines[0].TrimStart().StartsWith("ID", StringComparison.OrdinalIgnoreCase))
            {
                throw Unrecognised("replicated apps", output, "no ID header");
            }

            var rows = new List<ReplicatedAppRow>();
            foreach (string line in lines.Skip(1))
            {
                string[] f = line.Split(Blank, StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 2 || !AppId.IsMatch(f[0]))
                {
                    throw Unrecognised("replicated apps", line, "a row that does not start with an app id");
                }

                string status = NormaliseState(f[f.Length - 1], "replicated apps", line);
                long? sequence = null;
                int nameEnd = f.Length - 1;
                if (f.Length >= 3 && long.TryParse(f[f.Length - 2], NumberStyles.None, CultureInfo.InvariantCulture, out long n))
                {
                    sequence = n;
                    nameEnd = f.Length - 2;
                }

                string? name = nameEnd > 1 ? string.Join(" ", f.Skip(1).Take(nameEnd - 1)) : null;
                rows.Add(new ReplicatedAppRow(f[0], name, sequence, status));
            }

            return rows;
        }

        /// <summary>The CircleCI app among 1.x's rows: the one whose name holds "Enterprise" or "CircleCI" (as the CircleCI guide greps), else the only app id.</summary>
        public static ReplicatedAppRow SelectCircleCiApp(IReadOnlyList<ReplicatedAppRow> rows)
        {
            if (rows is null || rows.Count == 0)
            {
                throw new CcieException("ReplicatedAppNotInstalled", CcieErrorCategory.ObjectNotFound, "Replicated lists no app on the box: CircleCI is not installed (or 'replicated login' is needed).");
            }

            ReplicatedAppRow? named = rows.FirstOrDefault(r => r.Name is not null && (r.Name.IndexOf("Enterprise", StringComparison.OrdinalIgnoreCase) >= 0 || r.Name.IndexOf("CircleCI", StringComparison.OrdinalIgnoreCase) >= 0));
            if (named is not null)
            {
                return rows.Where(r => r.AppId == named.AppId).OrderByDescending(r => r.Sequence ?? 0).First();
            }

            var ids = rows.Select(r => r.AppId).Distinct(StringComparer.Ordinal).ToList();
            if (ids.Count == 1)
            {
                return rows.OrderByDescending(r => r.Sequence ?? 0).First();
            }

            throw new CcieException("ReplicatedAppAmbiguous", CcieErrorCategory.InvalidData, $"Replicated lists {ids.Count} apps and none is named like CircleCI Enterprise: {string.Join(", ", ids)}.");
        }

        /// <summary><c>replicated app &lt;id&gt; status</c> (1.x, 2.0+): one state word such as Started.</summary>
        public static string ParseAppStatus(string output)
        {
            string[] lines = Lines(output);
            if (lines.Length != 1)
            {
                throw Unrecognised("replicated app status", output, "not one state word");
            }

            return NormaliseState(lines[0].Trim(), "replicated app status", output);
        }

        /// <summary>The first x.y.z in <c>replicatedctl version</c> / <c>replicated -version</c>.</summary>
        public static string ParseVersion(string output, string command)
        {
            Match m = Version.Match(output ?? string.Empty);
            if (!m.Success)
            {
                throw Unrecognised(command, output, "no version number");
            }

            return m.Groups[1].Value;
        }

        /// <summary>
        /// <c>replicated admin get-secret-token</c>: <c>export CIRCLE_SECRET_PASSPHRASE='...'</c>. The value is
        /// returned to be turned into a SecureString at once; an error never quotes the output.
        /// </summary>
        public static string ParseSecretToken(string output)
        {
            foreach (string line in Lines(output))
            {
                Match m = SecretToken.Match(line);
                if (m.Success)
                {
                    return m.Groups["v"].Value;
                }
            }

            throw new CcieException("ReplicatedOutputUnrecognised", CcieErrorCategory.InvalidData, "'replicated admin get-secret-token' did not print an export CIRCLE_SECRET_PASSPHRASE='...' line (output withheld: it may hold the secret). Run it on the box to see what it says.");
        }

        private static string NormaliseState(string? state, string command, string? output)
        {
            string s = (state ?? string.Empty).Trim().ToLowerInvariant();
            if (!KnownStates.Contains(s))
            {
                throw Unrecognised(command, output, $"unknown app state '{SecretMask.Apply(state)}'");
            }

            return s;
        }

        private static string[] Lines(string? output) => (output ?? string.Empty).Replace("\r", string.Empty).Split('\n').Where(l => l.Trim().Length > 0).ToArray();

        internal static CcieException Unrecognised(string command, string? output, string why)
        {
            string first = Lines(output).FirstOrDefault() ?? "(no output)";
            first = SecretMask.Apply(first.Trim());
            if (first.Length > 200)
            {
                first = first.Substring(0, 200) + "...";
            }

            return new CcieException("ReplicatedOutputUnrecognised", CcieErrorCategory.InvalidData, $"'{command}' printed something CcieDr does not recognise ({why}); first line: {first}. Check the Replicated version on the box (replicatedctl version / replicated -version).", command);
        }
    }
}
