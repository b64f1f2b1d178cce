using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace CcieDr.Engine.Builders
{
    /// <summary>
    /// One piece of a user-data document: the whole script, or one part of a cloud-init MIME multi-part
    /// document (its body only: boundaries and part headers are never touched).
    /// </summary>
    internal sealed class UserDataSegment
    {
        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        public UserDataSegment(string label, string contentType, int start, int length, string text, bool base64, string rawBody)
        {
            Label = label;
            ContentType = contentType;
            Start = start;
            Length = length;
            Text = text;
            Base64 = base64;
            RawBody = rawBody;
        }

        /// <summary>"the script" or "MIME part 2 (text/x-shellscript)": how errors and the diff name it.</summary>
        public string Label { get; }

        public string ContentType { get; }

        /// <summary>The span of this segment's body in the document text.</summary>
        public int Start { get; }

        public int Length { get; }

        /// <summary>The body as text (base64 parts decoded).</summary>
        public string Text { get; }

        /// <summary>Content-Transfer-Encoding: base64 (re-encoded the same way after an edit).</summary>
        public bool Base64 { get; }

        public string RawBody { get; }

        public bool IsShell { get; set; }

        /// <summary>Why a shell-looking part cannot be edited (e.g. quoted-printable), or null.</summary>
        public string? NotEditable { get; set; }

        /// <summary>The body as it goes back into the document for <paramref name="newText"/>.</summary>
        public string EncodeBody(string newText)
        {
            if (!Base64)
            {
                return newText;
            }

            // Keep the part's layout: its line width, its line break and whether it ended with one.
            string nl = RawBody.IndexOf("\r\n", StringComparison.Ordinal) >= 0 ? "\r\n" : "\n";
            string trimmed = RawBody.TrimEnd('\r', '\n', ' ', '\t');
            string trailing = RawBody.Substring(trimmed.Length);
            string[] lines = trimmed.Split('\n');
            int width = lines.Length > 1 ? lines[0].TrimEnd('\r').Length : int.MaxValue;
            string b64 = Convert.ToBase64String(StrictUtf8.GetBytes(newText));
            var sb = new StringBuilder();
            for (int i = 0; i < b64.Length; i += width)
            {
                if (i > 0)
                {
                    sb.Append(nl);
                }

                sb.Append(b64, i, Math.Min(width, b64.Length - i));
            }

            return sb.Append(trailing).ToString();
        }
    }

    /// <summary>A decoded user-data document cut into segments: one script, or the parts of a MIME multi-part.</summary>
    internal sealed class UserDataDocument
    {
        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);
        private static readonly string[] Shells = { "sh", "bash", "dash", "ash", "ksh", "zsh" };
        private static readonly char[] Blanks = { ' ', '\t' };

        private UserDataDocument(string text, bool mime, IReadOnlyList<UserDataSegment> segments)
        {
            Text = text;
            IsMime = mime;
            Segments = segments;
        }

        public string Text { get; }

        public bool IsMime { get; }

        public IReadOnlyList<UserDataSegment> Segments { get; }

        public IEnumerable<UserDataSegment> ShellSegments => Segments.Where(s => s.IsShell);

        /// <param name="text">The decoded user data.</param>
        /// <param name="source">How errors name it.</param>
        /// <param name="readOnly">
        /// Reading, not editing: plain text without a #! line (no #cloud-config, no other interpreter) is read as shell
        /// assignments too, as Get-CcieBuilder lists what such a configuration says; the editor still refuses it.
        /// </param>
        public static UserDataDocument Parse(string text, string source, bool readOnly = false)
        {
            if (LooksLikeMime(text))
            {
                return ParseMime(text, source);
            }

            bool plain = readOnly && !text.StartsWith("#", StringComparison.Ordinal) && !text.TrimStart().StartsWith("<", StringComparison.Ordinal);
            var whole = new UserDataSegment("the script", "text/x-shellscript", 0, text.Length, text, false, text) { IsShell = plain || IsShellScript(text) };
            if (!whole.IsShell)
            {
                throw NoShell(source, Describe(text));
            }

            return new UserDataDocument(text, false, new[] { whole });
        }

        /// <summary>The document with each segment's body replaced by its new text (segments not listed stay byte for byte).</summary>
        public string Rebuild(IReadOnlyDictionary<UserDataSegment, string> newTexts)
        {
            var sb = new StringBuilder(Text);
            foreach (UserDataSegment s in Segments.OrderByDescending(s => s.Start))
            {
                if (newTexts.TryGetValue(s, out string? t))
                {
                    sb.Remove(s.Start, s.Length).Insert(s.Start, s.EncodeBody(t));
                }
            }

            return sb.ToString();
        }

        /// <summary>True for a script cloud-init runs with a shell: a #! line naming sh, bash, dash, ash, ksh or zsh.</summary>
        public static bool IsShellScript(string text)
        {
            if (!text.StartsWith("#!", StringComparison.Ordinal))
            {
                return false;
            }

            int end = text.IndexOf('\n');
            string line = (end < 0 ? text : text.Substring(0, end)).TrimEnd('\r').Substring(2).Trim();
            string[] words = line.Split(Blanks, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0)
            {
                return false;
            }

            string interpreter = words[0].Substring(words[0].LastIndexOf('/') + 1);
            if (interpreter == "env")
            {
                interpreter = words.Skip(1).FirstOrDefault(w => !w.StartsWith("-", StringComparison.Ordinal)) ?? string.Empty;
            }

            return Shells.Contains(interpreter, StringComparer.Ordinal);
        }

        private static bool LooksLikeMime(string text)
        {
            string head = text.TrimStart('\uFEFF');
            return head.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase)
                || head.StartsWith("MIME-Version:", StringComparison.OrdinalIgnoreCase);
        }

        private static string Describe(string text)
        {
            if (text.StartsWith("#cloud-config", StringComparison.Ordinal))
            {
                return "a #cloud-config document with no shell script";
            }

            if (text.StartsWith("#!", StringComparison.Ordinal))
            {
                int end = text.IndexOf('\n');
                return $"a script for '{(end < 0 ? text : text.Substring(0, end)).TrimEnd('\r')}', not a shell";
            }

            if (text.TrimStart().StartsWith("<powershell>", StringComparison.OrdinalIgnoreCase) || text.TrimStart().StartsWith("<script>", StringComparison.OrdinalIgnoreCase))
            {
                return "a Windows (EC2Launch) script";
            }

            return "text without a #! line (cloud-init would not run it as a script)";
        }

        private static CcieException NoShell(string source, string what) =>
            new CcieException("UserDataNoShellPart", CcieErrorCategory.InvalidData, $"The user data of {source} is {what}. CcieDr edits SERVICES_PRIVATE_IP and CIRCLE_SECRET_PASSPHRASE only in a shell script (#!/bin/bash), plain or as a cloud-init MIME part; nothing was changed. Edit the launch template by hand, or see Get-Help Set-CcieBuilderConfiguration.", source);

        private static CcieException Invalid(string source, string why) =>
            new CcieException("UserDataMimeInvalid", CcieErrorCategory.InvalidData, $"The user data of {source} looks like a MIME multi-part document but {why}; nothing was changed. Check it with: aws ec2 describe-launch-template-versions (UserData is base64).", source);

        private static UserDataDocument ParseMime(string text, string source)
        {
            int pos = 0;
            Dictionary<string, string> headers = ReadHeaders(text, ref pos);
            if (!headers.TryGetValue("content-type", out string? contentType) || !MediaType(contentType).StartsWith("multipart/", StringComparison.Ordinal))
            {
                throw Invalid(source, "its Content-Type is not multipart/* ('" + (contentType ?? "none") + "')");
            }

            string? boundary = Parameter(contentType, "boundary");
            if (string.IsNullOrEmpty(boundary))
            {
                throw Invalid(source, "its Content-Type has no boundary parameter");
            }

            string delimiter = "--" + boundary;
            var parts = new List<(int Start, int End)>();
            int partStart = -1;
            bool closed = false;
            int lineStart = pos;
            while (lineStart < text.Length)
            {
                int lf = text.IndexOf('\n', lineStart);
                int lineEnd = lf < 0 ? text.Length : lf;
                string line = text.Substring(lineStart, lineEnd - lineStart).TrimEnd('\r', ' ', '\t');
                bool isClose = line == delimiter + "--";
                if (isClose || line == delimiter)
                {
                    if (partStart >= 0)
                    {
                        // The line break before a delimiter belongs to the delimiter (RFC 2046).
                        int end = lineStart;
                        if (end > partStart && text[end - 1] == '\n')
                        {
                            end--;
                            if (end > partStart && text[end - 1] == '\r')
                            {
                                end--;
                            }
                        }

                        parts.Add((partStart, Math.Max(partStart, end)));
                    }

                    if (isClose)
                    {
                        closed = true;
                        break;
                    }

                    partStart = lf < 0 ? text.Length : lf + 1;
                }

                lineStart = lf < 0 ? text.Length : lf + 1;
            }

            if (!closed && partStart >= 0)
            {
                parts.Add((partStart, text.Length));   // no closing delimiter: the last part runs to the end, as cloud-init reads it
            }

            if (parts.Count == 0)
            {
                throw Invalid(source, $"no part starts with the boundary '{boundary}'");
            }

            var segments = new List<UserDataSegment>();
            for (int n = 0; n < parts.Count; n++)
            {
                int p = parts[n].Start;
                Dictionary<string, string> ph = ReadHeaders(text, ref p, parts[n].End);
                string type = ph.TryGetValue("content-type", out string? t) ? MediaType(t) : "text/plain";
                string encoding = ph.TryGetValue("content-transfer-encoding", out string? cte) ? cte.Trim().ToLowerInvariant() : "7bit";
                int bodyStart = Math.Min(p, parts[n].End);
                string raw = text.Substring(bodyStart, parts[n].End - bodyStart);
                bool base64 = encoding == "base64";
                string body = raw;
                if (base64)
                {
                    if (!TryDecodeBase64Text(raw, out body))
                    {
                        body = string.Empty;
                        type = type + " (base64, not text)";
                    }
                }

                var segment = new UserDataSegment($"MIME part {n + 1} ({type})", type, bodyStart, raw.Length, body, base64, raw);
                bool shellType = type.StartsWith("text/x-shellscript", StringComparison.Ordinal);
                bool plainScript = (type == "text/plain" || type == "application/octet-stream") && IsShellScript(body);
                if (shellType || plainScript)
                {
                    segment.IsShell = true;
                    if (encoding == "quoted-printable")
                    {
                        segment.NotEditable = "it is quoted-printable encoded";
                    }
                    else if (encoding != "7bit" && encoding != "8bit" && encoding != "binary" && !base64)
                    {
                        segment.NotEditable = $"its Content-Transfer-Encoding '{encoding}' is not one CcieDr re-encodes";
                    }
                }

                segments.Add(segment);
            }

            if (!segments.Any(s => s.IsShell))
            {
                throw NoShell(source, "a MIME multi-part document without a shell-script part (" + string.Join(", ", segments.Select(s => s.ContentType)) + ")");
            }

            return new UserDataDocument(text, true, segments);
        }

        private static bool TryDecodeBase64Text(string raw, out string text)
        {
            text = string.Empty;
            try
            {
                byte[] bytes = Convert.FromBase64String(raw);
                text = StrictUtf8.GetString(bytes);
                return text.IndexOf('\0') < 0;
            }
            catch (FormatException)
            {
                return false;
            }
            catch (DecoderFallbackException)
            {
                return false;
            }
        }

        /// <summary>RFC 822 headers from <paramref name="pos"/> to the first blank line (folded lines unfolded); pos ends after the blank line.</summary>
        private static Dictionary<string, string> ReadHeaders(string text, ref int pos, int limit = -1)
        {
            int end = limit < 0 ? text.Length : limit;
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            string? last = null;
            while (pos < end)
            {
                int lineStart = pos;
                int lf = text.IndexOf('\n', pos, end - pos);
                int lineEnd = lf < 0 ? end : lf;
                string line = text.Substring(pos, lineEnd - pos).TrimEnd('\r');
                pos = lf < 0 ? end : lf + 1;
                if (line.Length == 0)
                {
                    break;
                }

                if ((line[0] == ' ' || line[0] == '\t') && last is not null)
                {
                    headers[last] += " " + line.Trim();
                    continue;
                }

                int colon = line.IndexOf(':');
                if (colon <= 0 || line.Substring(0, colon).IndexOf(' ') >= 0)
                {
                    pos = lineStart;   // not a header (no blank line after the headers): the body starts here
                    break;
                }

                last = line.Substring(0, colon).Trim().ToLowerInvariant();
                headers[last] = line.Substring(colon + 1).Trim();
            }

            return headers;
        }

        private static string MediaType(string contentType)
        {
            int semi = contentType.IndexOf(';');
            return (semi < 0 ? contentType : contentType.Substring(0, semi)).Trim().ToLowerInvariant();
        }

        private static string? Parameter(string contentType, string name)
        {
            foreach (string piece in contentType.Split(';').Skip(1))
            {
                int eq = piece.IndexOf('=');
                if (eq > 0 && string.Equals(piece.Substring(0, eq).Trim(), name, StringComparison.OrdinalIgnoreCase))
                {
                    string v = piece.Substring(eq + 1).Trim();
                    return v.Length >= 2 && v[0] == '"' && v[v.Length - 1] == '"' ? v.Substring(1, v.Length - 2) : v;
                }
            }

            return null;
        }

        internal static string Where(UserDataSegment s, int line) =>
            s.Label == "the script" ? "line " + line.ToString(CultureInfo.InvariantCulture) : $"{s.Label}, line {line.ToString(CultureInfo.InvariantCulture)}";
    }
}
