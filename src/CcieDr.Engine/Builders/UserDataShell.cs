using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace CcieDr.Engine.Builders
{
    /// <summary>How a variable is set in a builder script.</summary>
    public enum UserDataVariableForm
    {
        /// <summary><c>X=value</c> on its own (also after local/declare/readonly).</summary>
        Assignment,

        /// <summary><c>export X=value</c>.</summary>
        Export,

        /// <summary><c>X=value command</c>, also over continued lines (<c>curl … | X=v Y=w bash</c>).</summary>
        CommandPrefix,

        /// <summary><c>docker run -e X=value</c> / <c>--env X=value</c> (the Terraform template of CircleCI's enterprise-setup).</summary>
        DockerEnv,

        /// <summary>An argument of another command, e.g. <c>echo X=value &gt;&gt; /etc/environment</c>.</summary>
        Argument,
    }

    internal enum ShellQuote
    {
        None,
        Single,
        Double,
    }

    /// <summary>One place a variable is set: where its value sits in the segment text, how it is quoted, and the form.</summary>
    internal sealed class ShellAssignment
    {
        public string Name { get; set; } = string.Empty;

        /// <summary>1-based line in the segment.</summary>
        public int Line { get; set; }

        public int LineStart { get; set; }

        /// <summary>End of the line's text (before its line break).</summary>
        public int LineEnd { get; set; }

        /// <summary>The line break that ends the line ("\n", "\r\n" or "" for the last line).</summary>
        public string LineBreak { get; set; } = string.Empty;

        /// <summary>The value's span, quotes included (for a quote that wraps the whole NAME=value word: the inner value only).</summary>
        public int ValueStart { get; set; }

        public int ValueEnd { get; set; }

        /// <summary>Where the whole word ends (after a wrapping quote).</summary>
        public int WordEnd { get; set; }

        public string Value { get; set; } = string.Empty;

        public ShellQuote Quote { get; set; }

        /// <summary>True when a quote wraps the whole word: <c>-e "X=value"</c>.</summary>
        public bool Wrapped { get; set; }

        public UserDataVariableForm Form { get; set; }

        /// <summary>The docker flag ("-e", "--env", "--env=") for <see cref="UserDataVariableForm.DockerEnv"/>.</summary>
        public string? Flag { get; set; }

        public string Indent { get; set; } = string.Empty;
    }

    /// <summary>
    /// Finds shell assignments of one variable in a script, line by line, outside comments, with their exact value
    /// spans; a value that is computed (<c>$(…)</c>, <c>${…}</c>, backquotes), concatenated or spans lines is refused
    /// rather than guessed at.
    /// </summary>
    internal static class UserDataShell
    {
        private const string Separators = ";&|()<>";
        private static readonly string[] DeclarationWords = { "local", "declare", "typeset", "readonly" };

        public static IReadOnlyList<ShellAssignment> Find(string text, string name, UserDataSegment segment, string source)
        {
            var found = new List<ShellAssignment>();
            int lineNo = 0;
            int lineStart = 0;
            while (lineStart <= text.Length)
            {
                lineNo++;
                int lf = text.IndexOf('\n', lineStart);
                int lineEnd = lf < 0 ? text.Length : lf;
                string lineBreak = lf < 0 ? string.Empty : "\n";
                if (lineEnd > lineStart && text[lineEnd - 1] == '\r')
                {
                    lineEnd--;
                    lineBreak = "\r\n";
                }

                ScanLine(text, lineStart, lineEnd, lineNo, lineBreak, name, segment, source, found);
                if (lf < 0)
                {
                    break;
                }

                lineStart = lf + 1;
            }

            return found;
        }

        private static void ScanLine(string text, int start, int end, int lineNo, string lineBreak, string name, UserDataSegment segment, string source, List<ShellAssignment> found)
        {
            string? previousWord = null;
            int i = start;
            while (i < end)
            {
                char c = text[i];
                if (c == ' ' || c == '\t')
                {
                    i++;
                    continue;
                }

                if (c == '#')
                {
                    return;   // a comment to the end of the line
                }

                if (Separators.IndexOf(c) >= 0)
                {
                    previousWord = null;   // a new command starts
                    i++;
                    continue;
                }

                ShellAssignment? a = TryMatch(text, i, end, name, previousWord, segment, lineNo, source);
                if (a is not null)
                {
                    a.Line = lineNo;
                    a.LineStart = start;
                    a.LineEnd = end;
                    a.LineBreak = lineBreak;
                    a.Indent = text.Substring(start, LeadingBlanks(text, start, end));
                    if (a.Form == UserDataVariableForm.Assignment && !DeclarationWords.Contains(previousWord ?? string.Empty, StringComparer.Ordinal))
                    {
                        a.Form = previousWord is null || IsAssignmentWord(previousWord)
                            ? (CommandFollows(text, a.WordEnd, end) ? UserDataVariableForm.CommandPrefix : UserDataVariableForm.Assignment)
                            : UserDataVariableForm.Argument;
                    }

                    found.Add(a);
                    previousWord = name + "=";
                    i = a.WordEnd;
                    continue;
                }

                int wordStart = i;
                i = SkipWord(text, i, end);
                previousWord = text.Substring(wordStart, i - wordStart);
            }
        }

        private static ShellAssignment? TryMatch(string text, int i, int end, string name, string? previousWord, UserDataSegment segment, int lineNo, string source)
        {
            char wrap = '\0';
            string? inlineFlag = null;
            int nameAt = i;
            if ((text[i] == '\'' || text[i] == '"') && At(text, i + 1, end, name + "="))
            {
                wrap = text[i];
                nameAt = i + 1;
            }
            else if (At(text, i, end, "--env=" + name + "="))
            {
                inlineFlag = "--env=";
                nameAt = i + 6;
            }
            else if (!At(text, i, end, name + "="))
            {
                return null;
            }

            string where = UserDataDocument.Where(segment, lineNo);
            int v = nameAt + name.Length + 1;
            var a = new ShellAssignment { Name = name, ValueStart = v };
            if (wrap != '\0')
            {
                a.Wrapped = true;
                a.Quote = wrap == '\'' ? ShellQuote.Single : ShellQuote.Double;
                int close = wrap == '\'' ? IndexOfOnLine(text, '\'', v, end) : ParseDouble(text, v, end, name, where, source, out _);
                if (close < 0)
                {
                    throw Ambiguous(source, name, where, "its quoted value does not end on the same line");
                }

                a.Value = wrap == '\'' ? text.Substring(v, close - v) : Unescape(text, v, close);
                a.ValueEnd = close;
                a.WordEnd = close + 1;
            }
            else
            {
                // One shell word: unquoted text, '…' and "…" pieces (a value like 'it'\''s' is one word), no expansions.
                var sb = new StringBuilder();
                a.Quote = v < end && text[v] == '\'' ? ShellQuote.Single : v < end && text[v] == '"' ? ShellQuote.Double : ShellQuote.None;
                int j = v;
                while (j < end && text[j] != ' ' && text[j] != '\t' && Separators.IndexOf(text[j]) < 0)
                {
                    char ch = text[j];
                    if (ch == '\'')
                    {
                        int close = IndexOfOnLine(text, '\'', j + 1, end);
                        if (close < 0)
                        {
                            throw Ambiguous(source, name, where, "its quoted value does not end on the same line");
                        }

                        sb.Append(text, j + 1, close - j - 1);
                        j = close + 1;
                        continue;
                    }

                    if (ch == '"')
                    {
                        int close = ParseDouble(text, j + 1, end, name, where, source, out string piece);
                        if (close < 0)
                        {
                            throw Ambiguous(source, name, where, "its quoted value does not end on the same line");
                        }

                        sb.Append(piece);
                        j = close + 1;
                        continue;
                    }

                    if (ch == '\\')
                    {
                        if (j + 1 >= end)
                        {
                            break;   // a line continuation ends the word
                        }

                        sb.Append(text[j + 1]);
                        j += 2;
                        continue;
                    }

                    if (ch == '$' || ch == '`')
                    {
                        throw Computed(source, name, where, text.Substring(v, Math.Min(end, v + 40) - v));
                    }

                    sb.Append(ch);
                    j++;
                }

                a.Value = sb.ToString();
                a.ValueEnd = a.WordEnd = j;
            }

            if (a.Value.IndexOf("${", StringComparison.Ordinal) >= 0)
            {
                throw Computed(source, name, where, a.Value);   // an unrendered template ('${services_private_ip}'), even single-quoted
            }

            if (a.WordEnd < end && text[a.WordEnd] != ' ' && text[a.WordEnd] != '\t' && Separators.IndexOf(text[a.WordEnd]) < 0 && text[a.WordEnd] != '\\')
            {
                throw Ambiguous(source, name, where, "its value runs on into other text after the closing quote");
            }

            if (inlineFlag is not null)
            {
                a.Form = UserDataVariableForm.DockerEnv;
                a.Flag = inlineFlag;
            }
            else if (previousWord == "-e" || previousWord == "--env")
            {
                a.Form = UserDataVariableForm.DockerEnv;
                a.Flag = previousWord;
            }
            else if (previousWord == "export")
            {
                a.Form = UserDataVariableForm.Export;
            }
            else
            {
                a.Form = UserDataVariableForm.Assignment;   // refined by the caller (prefix, argument)
            }

            return a;
        }

        /// <summary>Scans a double-quoted value from <paramref name="from"/>; returns the closing quote's index or -1.</summary>
        private static int ParseDouble(string text, int from, int end, string name, string where, string source, out string value)
        {
            var sb = new StringBuilder();
            for (int j = from; j < end; j++)
            {
                char ch = text[j];
                if (ch == '\\' && j + 1 < end)
                {
                    char next = text[j + 1];
                    if (next == '$' || next == '`' || next == '"' || next == '\\')
                    {
                        sb.Append(next);
                    }
                    else
                    {
                        sb.Append(ch).Append(next);
                    }

                    j++;
                    continue;
                }

                if (ch == '$' || ch == '`')
                {
                    throw Computed(source, name, where, text.Substring(from, Math.Min(end, from + 40) - from));
                }

                if (ch == '"')
                {
                    value = sb.ToString();
                    return j;
                }

                sb.Append(ch);
            }

            value = string.Empty;
            return -1;
        }

        private static string Unescape(string text, int from, int close)
        {
            var sb = new StringBuilder();
            for (int j = from; j < close; j++)
            {
                if (text[j] == '\\' && j + 1 < close && "$`\"\\".IndexOf(text[j + 1]) >= 0)
                {
                    j++;
                }

                sb.Append(text[j]);
            }

            return sb.ToString();
        }

        /// <summary>The text a value takes in its place, keeping its quoting (an unquoted value is single-quoted only when it must be).</summary>
        public static string Format(string value, ShellQuote quote, bool wrapped)
        {
            switch (quote)
            {
                case ShellQuote.Single:
                    string single = value.Replace("'", "'\\''");
                    return wrapped ? single : "'" + single + "'";
                case ShellQuote.Double:
                    var sb = new StringBuilder();
                    foreach (char ch in value)
                    {
                        if (ch == '\\' || ch == '"' || ch == '$' || ch == '`')
                        {
                            sb.Append('\\');
                        }

                        sb.Append(ch);
                    }

                    return wrapped ? sb.ToString() : "\"" + sb + "\"";
                default:
                    return value.Length > 0 && value.All(IsPlainChar) ? value : "'" + value.Replace("'", "'\\''") + "'";
            }
        }

        private static bool IsPlainChar(char ch) =>
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || "_.,:/@%+=-".IndexOf(ch) >= 0;

        private static bool CommandFollows(string text, int from, int end)
        {
            int i = from;
            while (i < end)
            {
                char c = text[i];
                if (c == ' ' || c == '\t')
                {
                    i++;
                    continue;
                }

                if (c == '\\' && i + 1 == end)
                {
                    return true;   // continued on the next line: the command comes there
                }

                if (c == '#' || Separators.IndexOf(c) >= 0)
                {
                    return false;
                }

                int wordStart = i;
                i = SkipWord(text, i, end);
                if (!IsAssignmentWord(text.Substring(wordStart, i - wordStart)))
                {
                    return true;
                }
            }

            return false;
        }

        private static bool IsAssignmentWord(string word)
        {
            int eq = word.IndexOf('=');
            if (eq <= 0 || !(char.IsLetter(word[0]) || word[0] == '_'))
            {
                return false;
            }

            for (int k = 1; k < eq; k++)
            {
                if (!(char.IsLetterOrDigit(word[k]) || word[k] == '_'))
                {
                    return false;
                }
            }

            return true;
        }

        private static int SkipWord(string text, int i, int end)
        {
            while (i < end)
            {
                char c = text[i];
                if (c == ' ' || c == '\t' || Separators.IndexOf(c) >= 0)
                {
                    return i;
                }

                if (c == '\\')
                {
                    i += 2;
                    continue;
                }

                if (c == '\'' || c == '"')
                {
                    int close = c == '\'' ? IndexOfOnLine(text, '\'', i + 1, end) : ClosingDouble(text, i + 1, end);
                    i = close < 0 ? end : close + 1;
                    continue;
                }

                i++;
            }

            return Math.Min(i, end);
        }

        private static int ClosingDouble(string text, int from, int end)
        {
            for (int j = from; j < end; j++)
            {
                if (text[j] == '\\')
                {
                    j++;
                }
                else if (text[j] == '"')
                {
                    return j;
                }
            }

            return -1;
        }

        private static int IndexOfOnLine(string text, char ch, int from, int end)
        {
            int k = from < end ? text.IndexOf(ch, from, end - from) : -1;
            return k;
        }

        private static bool At(string text, int i, int end, string literal) =>
            end - i >= literal.Length && string.CompareOrdinal(text, i, literal, 0, literal.Length) == 0;

        private static int LeadingBlanks(string text, int start, int end)
        {
            int k = start;
            while (k < end && (text[k] == ' ' || text[k] == '\t'))
            {
                k++;
            }

            return k - start;
        }

        internal static CcieException Ambiguous(string source, string name, string where, string why) =>
            new CcieException("UserDataAmbiguous", CcieErrorCategory.InvalidData, $"{name} in the user data of {source} ({where}) cannot be edited safely: {why}. Nothing was changed; edit the launch template by hand.", source);

        private static CcieException Computed(string source, string name, string where, string start)
        {
            // The passphrase's text is never shown, not even its start; an IP's is (it says what the lookup is).
            string shown = name.IndexOf("PASSPHRASE", StringComparison.Ordinal) >= 0 ? string.Empty : $" ('{start.Split(' ', '\t')[0]}')";
            return new CcieException("UserDataAmbiguous", CcieErrorCategory.InvalidData, $"{name} in the user data of {source} ({where}) is computed{shown}, not a literal value: an unrendered template (${{...}}), a command substitution or a variable cannot be rewritten safely. Nothing was changed; make it a literal or edit the launch template by hand.", source);
        }

        internal static string Plural(int n, string word) => n.ToString(CultureInfo.InvariantCulture) + " " + word + (n == 1 ? string.Empty : "s");
    }
}
