using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace CcieDr.Engine.Builders
{
    /// <summary>What one variable edit did.</summary>
    public sealed class UserDataChange
    {
        internal UserDataChange(string name, string action, string location, UserDataVariableForm? form, int occurrences)
        {
            Name = name;
            Action = action;
            Location = location;
            Form = form;
            Occurrences = occurrences;
        }

        public string Name { get; }

        /// <summary>Replaced, Added or Unchanged (already the wanted value).</summary>
        public string Action { get; }

        /// <summary>Where: "line 4", "MIME part 2 (text/x-shellscript), line 4" (the first place for several).</summary>
        public string Location { get; }

        public UserDataVariableForm? Form { get; }

        public int Occurrences { get; }

        public override string ToString() => $"{Name}: {Action} at {Location}";
    }

    /// <summary>The result of editing user data: the new base64, what changed, and a diff with the passphrase masked.</summary>
    public sealed class UserDataEdit
    {
        internal UserDataEdit(string userData, bool changed, string maskedDiff, IReadOnlyList<UserDataChange> changes, IReadOnlyList<string> warnings, BuilderUserDataInfo before, BuilderUserDataInfo after)
        {
            UserData = userData;
            Changed = changed;
            MaskedDiff = maskedDiff;
            Changes = changes;
            Warnings = warnings;
            Before = before;
            After = after;
        }

        /// <summary>The new user data, base64 (gzip inside when the old was), ready for CreateLaunchTemplateVersion.</summary>
        public string UserData { get; }

        /// <summary>False when both variables already had the wanted values (nothing to write).</summary>
        public bool Changed { get; }

        /// <summary>A line diff of the decoded text; every passphrase (old and new) shown as ******.</summary>
        public string MaskedDiff { get; }

        public IReadOnlyList<UserDataChange> Changes { get; }

        /// <summary>Things the operator should look at (e.g. the old IP also in an iptables rule, left as it was).</summary>
        public IReadOnlyList<string> Warnings { get; }

        public BuilderUserDataInfo Before { get; }

        public BuilderUserDataInfo After { get; }
    }

    /// <summary>
    /// Edits builder user data: sets SERVICES_PRIVATE_IP and CIRCLE_SECRET_PASSPHRASE (replacing every literal
    /// assignment, or adding one next to the other variable in the same form) in the shell script or the shell part(s)
    /// of a cloud-init MIME document, leaving every other byte as it was, and re-encodes it as it came (base64, gzip).
    /// Anything it cannot parse safely is a <see cref="CcieException"/>, never a rewrite.
    /// </summary>
    public static class UserDataEditor
    {
        public const string ServicesIpName = "SERVICES_PRIVATE_IP";
        public const string PassphraseName = "CIRCLE_SECRET_PASSPHRASE";

        /// <summary>What the diff shows instead of a passphrase.</summary>
        public const string Mask = "******";

        private static readonly Regex HostName = new Regex(@"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$", RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(250));
        private static readonly char[] BadPassphraseChars = { '\n', '\r', '\0' };

        /// <param name="userData">The user data as AWS returns it (base64).</param>
        /// <param name="servicesPrivateIp">The Services box's private IPv4 address.</param>
        /// <param name="secretPassphrase">The new passphrase; null leaves the passphrase as it is.</param>
        /// <param name="source">How errors name the configuration, e.g. "launch template lt-0abc version 3".</param>
        public static UserDataEdit Edit(string userData, string servicesPrivateIp, string? secretPassphrase, string source)
        {
            ValidateIp(servicesPrivateIp);
            if (secretPassphrase is not null && (secretPassphrase.Length == 0 || secretPassphrase.IndexOfAny(BadPassphraseChars) >= 0))
            {
                throw new CcieException("SecretPassphraseInvalid", CcieErrorCategory.InvalidArgument, "The secret passphrase is empty or holds a line break or NUL; it cannot go into a builder's user data. Read it again with Get-CcieSecretPassphrase.", PassphraseName);
            }

            DecodedUserData decoded = UserDataCodec.Decode(userData, source);
            UserDataDocument doc = UserDataDocument.Parse(decoded.Text, source);
            Scan before = Scan.Of(doc, source);
            var edits = new Dictionary<UserDataSegment, List<TextEdit>>();
            var changes = new List<UserDataChange>();

            changes.Add(Plan(before, ServicesIpName, servicesPrivateIp, before.Passphrase, doc, edits, source));
            if (secretPassphrase is not null)
            {
                // Anchored next to the IP (as it is found now: its edit and this insertion do not overlap).
                changes.Add(Plan(before, PassphraseName, secretPassphrase, before.Ip, doc, edits, source));
            }

            var secrets = new List<string>(before.Passphrase.Select(p => p.Assignment.Value).Where(v => v.Length > 0));
            if (secretPassphrase is not null)
            {
                secrets.Add(secretPassphrase);
            }

            BuilderUserDataInfo beforeInfo = before.Info(decoded);
            if (edits.Count == 0)
            {
                return new UserDataEdit(userData, false, string.Empty, changes, Warnings(before, servicesPrivateIp, doc), beforeInfo, beforeInfo);
            }

            var newTexts = edits.ToDictionary(e => e.Key, e => Apply(e.Key.Text, e.Value));
            string newText = doc.Rebuild(newTexts);
            string encoded = UserDataCodec.Encode(newText, decoded.Gzip, source);

            // Read back what was written: the edit must say exactly what was asked, or nothing is written.
            DecodedUserData check = UserDataCodec.Decode(encoded, source);
            Scan after = Scan.Of(UserDataDocument.Parse(check.Text, source), source);
            bool ipOk = after.Ip.Count > 0 && after.Ip.All(a => a.Assignment.Value == servicesPrivateIp);
            bool passOk = secretPassphrase is null || (after.Passphrase.Count > 0 && after.Passphrase.All(a => a.Assignment.Value == secretPassphrase));
            if (!ipOk || !passOk || check.Text != newText)
            {
                throw new CcieException("UserDataEditUnverified", CcieErrorCategory.InvalidData, $"The edited user data of {source} did not read back with the new values; nothing was changed. Edit the launch template by hand, and report this script's shape as a CcieDr bug.", source);
            }

            string diff = UserDataDiff.Render(doc, newTexts, secrets, Mask);
            return new UserDataEdit(encoded, true, diff, changes, Warnings(before, servicesPrivateIp, doc), beforeInfo, after.Info(check));
        }

        /// <summary>
        /// Throws InvalidArgument unless <paramref name="ip"/> is a dotted IPv4 address or a DNS host name (the
        /// guide allows a load balancer's stable name as SERVICES_PRIVATE_IP).
        /// </summary>
        public static void ValidateIp(string? ip)
        {
            bool dottedDigits = !string.IsNullOrEmpty(ip) && ip!.All(c => char.IsDigit(c) || c == '.');
            bool ok = dottedDigits
                ? IPAddress.TryParse(ip, out IPAddress? parsed) && parsed.AddressFamily == AddressFamily.InterNetwork && parsed.ToString() == ip
                : !string.IsNullOrEmpty(ip) && HostName.IsMatch(ip);
            if (!ok)
            {
                throw new CcieException("ServicesPrivateIpInvalid", CcieErrorCategory.InvalidArgument, $"'{ip}' is neither an IPv4 address in dotted form (e.g. 10.0.1.10) nor a host name. Give -ServicesPrivateIp, or pipe in the Services box.", ip);
            }
        }

        private static UserDataChange Plan(Scan scan, string name, string value, IReadOnlyList<Found> anchorSide, UserDataDocument doc, Dictionary<UserDataSegment, List<TextEdit>> edits, string source)
        {
            IReadOnlyList<Found> current = name == ServicesIpName ? scan.Ip : scan.Passphrase;
            if (current.Count > 0)
            {
                Found first = current[0];
                if (current.All(f => f.Assignment.Value == value))
                {
                    return new UserDataChange(name, "Unchanged", first.Where, first.Assignment.Form, current.Count);
                }

                foreach (Found f in current)
                {
                    RequireEditable(f.Segment, name, source);
                    string replacement = UserDataShell.Format(value, f.Assignment.Quote, f.Assignment.Wrapped);
                    For(edits, f.Segment).Add(new TextEdit(f.Assignment.ValueStart, f.Assignment.ValueEnd - f.Assignment.ValueStart, replacement, 0));
                }

                return new UserDataChange(name, "Replaced", first.Where, first.Assignment.Form, current.Count);
            }

            // Add it: next to the other variable, in the same form, so it reaches the same process.
            Found? anchor = anchorSide.FirstOrDefault(f => f.Assignment.Form != UserDataVariableForm.Argument);
            if (anchor is not null)
            {
                RequireEditable(anchor.Segment, name, source);
                ShellAssignment a = anchor.Assignment;
                switch (a.Form)
                {
                    case UserDataVariableForm.CommandPrefix:
                        For(edits, anchor.Segment).Add(new TextEdit(a.WordEnd, 0, " " + Word(name, value, a), 1));
                        return new UserDataChange(name, "Added", anchor.Where, a.Form, 1);
                    case UserDataVariableForm.DockerEnv:
                        string flag = a.Flag ?? "-e";
                        For(edits, anchor.Segment).Add(new TextEdit(a.WordEnd, 0, " " + flag + (flag.EndsWith("=", StringComparison.Ordinal) ? string.Empty : " ") + Word(name, value, a), 1));
                        return new UserDataChange(name, "Added", anchor.Where, a.Form, 1);
                    default:
                        string br = a.LineBreak.Length > 0 ? a.LineBreak : "\n";
                        string line = a.Indent + "export " + name + "=" + UserDataShell.Format(value, a.Quote == ShellQuote.None ? ShellQuote.None : a.Quote, false);
                        TextEdit insert = a.LineBreak.Length > 0
                            ? new TextEdit(a.LineEnd + a.LineBreak.Length, 0, line + br, 1)
                            : new TextEdit(a.LineEnd, 0, br + line, 1);
                        For(edits, anchor.Segment).Add(insert);
                        return new UserDataChange(name, "Added", UserDataDocument.Where(anchor.Segment, a.Line + 1), UserDataVariableForm.Export, 1);
                }
            }

            // Neither variable is set: export it right after the #! line of the first shell script.
            UserDataSegment target = doc.ShellSegments.First();
            RequireEditable(target, name, source);
            string text = target.Text;
            int lf = text.IndexOf('\n');
            string nl = lf > 0 && text[lf - 1] == '\r' ? "\r\n" : "\n";
            string exported = "export " + name + "=" + UserDataShell.Format(value, name == PassphraseName ? ShellQuote.Single : ShellQuote.None, false);
            int order = name == ServicesIpName ? 2 : 3;
            TextEdit top = lf < 0 ? new TextEdit(text.Length, 0, nl + exported, order) : new TextEdit(lf + 1, 0, exported + nl, order);
            For(edits, target).Add(top);
            return new UserDataChange(name, "Added", UserDataDocument.Where(target, 2), UserDataVariableForm.Export, 1);
        }

        private static string Word(string name, string value, ShellAssignment like)
        {
            string formatted = UserDataShell.Format(value, like.Quote, like.Wrapped);
            if (like.Wrapped)
            {
                char q = like.Quote == ShellQuote.Single ? '\'' : '"';
                return q + name + "=" + formatted + q;
            }

            return name + "=" + formatted;
        }

        private static void RequireEditable(UserDataSegment segment, string name, string source)
        {
            if (segment.NotEditable is not null)
            {
                throw new CcieException("UserDataUnsupported", CcieErrorCategory.InvalidData, $"{name} would be edited in {segment.Label} of the user data of {source}, but {segment.NotEditable}. Nothing was changed; edit the launch template by hand.", source);
            }
        }

        private static List<TextEdit> For(Dictionary<UserDataSegment, List<TextEdit>> edits, UserDataSegment s)
        {
            if (!edits.TryGetValue(s, out List<TextEdit>? list))
            {
                edits[s] = list = new List<TextEdit>();
            }

            return list;
        }

        private static string Apply(string text, List<TextEdit> edits)
        {
            var sb = new StringBuilder(text);

            // From the end, so earlier offsets stay valid; at one offset, the later-ordered edit goes in first (ends up after).
            foreach (TextEdit e in edits.OrderByDescending(e => e.Start).ThenByDescending(e => e.Order))
            {
                sb.Remove(e.Start, e.Length).Insert(e.Start, e.Text);
            }

            return sb.ToString();
        }

        private static List<string> Warnings(Scan scan, string newIp, UserDataDocument doc)
        {
            var warnings = new List<string>();
            foreach (string oldIp in scan.Ip.Select(f => f.Assignment.Value).Where(v => v.Length > 0 && v != newIp).Distinct(StringComparer.Ordinal))
            {
                foreach (UserDataSegment s in doc.Segments)
                {
                    foreach (int line in MentionLines(s.Text, oldIp, scan.Ip.Where(f => f.Segment == s).Select(f => f.Assignment).ToList()))
                    {
                        warnings.Add($"The old Services IP {oldIp} also appears at {UserDataDocument.Where(s, line)} outside a {ServicesIpName} assignment; it was left as it was: check it (e.g. an iptables rule or /etc/hosts entry).");
                    }
                }
            }

            foreach (UserDataSegment s in doc.Segments.Where(s => !s.IsShell && s.Text.IndexOf(ServicesIpName, StringComparison.Ordinal) >= 0))
            {
                warnings.Add($"{s.Label} also mentions {ServicesIpName}; only shell parts are edited: check it.");
            }

            return warnings;
        }

        private static SortedSet<int> MentionLines(string text, string ip, IReadOnlyList<ShellAssignment> assignments)
        {
            var lines = new SortedSet<int>();
            int from = 0;
            while ((from = text.IndexOf(ip, from, StringComparison.Ordinal)) >= 0)
            {
                int end = from + ip.Length;
                bool bounded = (from == 0 || !(char.IsDigit(text[from - 1]) || text[from - 1] == '.')) && (end >= text.Length || !(char.IsDigit(text[end]) || (text[end] == '.' && end + 1 < text.Length && char.IsDigit(text[end + 1]))));
                bool inAssignment = assignments.Any(a => from >= a.ValueStart && end <= a.ValueEnd);
                if (bounded && !inAssignment)
                {
                    lines.Add(1 + text.Take(from).Count(c => c == '\n'));
                }

                from = end;
            }

            return lines;
        }

        internal sealed class Found
        {
            public Found(UserDataSegment segment, ShellAssignment assignment)
            {
                Segment = segment;
                Assignment = assignment;
            }

            public UserDataSegment Segment { get; }

            public ShellAssignment Assignment { get; }

            public string Where => UserDataDocument.Where(Segment, Assignment.Line);
        }

        /// <summary>Both variables found in every shell segment; duplicates that disagree are refused.</summary>
        internal sealed class Scan
        {
            private Scan(UserDataDocument doc, IReadOnlyList<Found> ip, IReadOnlyList<Found> passphrase)
            {
                Document = doc;
                Ip = ip;
                Passphrase = passphrase;
            }

            public UserDataDocument Document { get; }

            public IReadOnlyList<Found> Ip { get; }

            public IReadOnlyList<Found> Passphrase { get; }

            public static Scan Of(UserDataDocument doc, string source)
            {
                var ip = new List<Found>();
                var pass = new List<Found>();
                foreach (UserDataSegment s in doc.ShellSegments)
                {
                    ip.AddRange(UserDataShell.Find(s.Text, ServicesIpName, s, source).Select(a => new Found(s, a)));
                    pass.AddRange(UserDataShell.Find(s.Text, PassphraseName, s, source).Select(a => new Found(s, a)));
                }

                RequireOneValue(ip, ServicesIpName, source, true);
                RequireOneValue(pass, PassphraseName, source, false);
                return new Scan(doc, ip, pass);
            }

            public BuilderUserDataInfo Info(DecodedUserData decoded) => new BuilderUserDataInfo(
                Ip.Count > 0 ? Ip[0].Assignment.Value : null,
                Passphrase.Count > 0 && Passphrase[0].Assignment.Value.Length > 0,
                Document.IsMime ? "MimeMultipart" : "ShellScript",
                decoded.Gzip,
                Document.ShellSegments.Count(),
                decoded.RawLength,
                Ip.Select(f => f.Where).Concat(Passphrase.Select(f => f.Where)).Distinct().ToList());

            private static void RequireOneValue(List<Found> found, string name, string source, bool showValues)
            {
                List<string> values = found.Select(f => f.Assignment.Value).Distinct(StringComparer.Ordinal).ToList();
                if (values.Count > 1)
                {
                    string places = string.Join("; ", found.Select(f => f.Where + (showValues ? " = " + f.Assignment.Value : string.Empty)));
                    throw new CcieException("UserDataAmbiguous", CcieErrorCategory.InvalidData, $"{name} is set {UserDataShell.Plural(found.Count, "time")} with {values.Count} different values in the user data of {source} ({places}); which one a builder uses depends on the script. Nothing was changed: make them one assignment, or edit the launch template by hand.", source);
                }
            }
        }

        private readonly struct TextEdit
        {
            public TextEdit(int start, int length, string text, int order)
            {
                Start = start;
                Length = length;
                Text = text;
                Order = order;
            }

            public int Start { get; }

            public int Length { get; }

            public string Text { get; }

            public int Order { get; }
        }
    }

    /// <summary>What builder user data says about the Services box: its IP, whether a passphrase is set, and the shape.</summary>
    public sealed class BuilderUserDataInfo
    {
        internal BuilderUserDataInfo(string? servicesPrivateIp, bool hasSecretPassphrase, string format, bool gzip, int shellParts, int sizeBytes, IReadOnlyList<string> locations)
        {
            ServicesPrivateIp = servicesPrivateIp;
            HasSecretPassphrase = hasSecretPassphrase;
            Format = format;
            Gzip = gzip;
            ShellParts = shellParts;
            SizeBytes = sizeBytes;
            Locations = locations;
        }

        /// <summary>The SERVICES_PRIVATE_IP builders get, or null when the user data does not set it.</summary>
        public string? ServicesPrivateIp { get; }

        /// <summary>True when CIRCLE_SECRET_PASSPHRASE is set to a non-empty value (the value itself is never exposed).</summary>
        public bool HasSecretPassphrase { get; }

        /// <summary>ShellScript or MimeMultipart.</summary>
        public string Format { get; }

        public bool Gzip { get; }

        public int ShellParts { get; }

        /// <summary>Bytes before base64 (AWS allows 16384).</summary>
        public int SizeBytes { get; }

        /// <summary>Where the variables are set ("line 3", "MIME part 2 (text/x-shellscript), line 3").</summary>
        public IReadOnlyList<string> Locations { get; }

        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0}={1}, passphrase {2}", UserDataEditor.ServicesIpName, ServicesPrivateIp ?? "(not set)", HasSecretPassphrase ? "set" : "not set");
    }

    /// <summary>Reads builder user data without changing it.</summary>
    public static class UserDataReader
    {
        /// <summary>What the user data says; a <see cref="CcieException"/> when it cannot be parsed safely.</summary>
        public static BuilderUserDataInfo Read(string userData, string source)
        {
            DecodedUserData decoded = UserDataCodec.Decode(userData, source);
            return UserDataEditor.Scan.Of(UserDataDocument.Parse(decoded.Text, source, readOnly: true), source).Info(decoded);
        }

        /// <summary>
        /// The SERVICES_PRIVATE_IP builders launched with <paramref name="userData"/> get, or null when it sets none or
        /// cannot be read safely (empty, not base64, ambiguous: <see cref="TryRead"/> says why).
        /// </summary>
        public static string? ServicesIpOf(string? userData, string source) => TryRead(userData, source, out _)?.ServicesPrivateIp;

        /// <summary>As <see cref="Read"/>, but a problem comes back as text instead of an exception (for listings).</summary>
        public static BuilderUserDataInfo? TryRead(string? userData, string source, out string? problem)
        {
            try
            {
                problem = null;
                return Read(userData ?? string.Empty, source);
            }
            catch (CcieException e)
            {
                problem = e.Message;
                return null;
            }
        }
    }
}
