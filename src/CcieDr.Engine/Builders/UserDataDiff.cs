using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace CcieDr.Engine.Builders
{
    /// <summary>A line diff of edited user data for -WhatIf and the result, with every secret value masked.</summary>
    internal static class UserDataDiff
    {
        public static string Render(UserDataDocument doc, IReadOnlyDictionary<UserDataSegment, string> newTexts, IReadOnlyList<string> secrets, string mask)
        {
            var sb = new StringBuilder();
            foreach (UserDataSegment s in doc.Segments.Where(newTexts.ContainsKey))
            {
                string[] a = Lines(s.Text);
                string[] b = Lines(newTexts[s]);
                sb.Append("--- ").Append(s.Label).Append('\n');
                sb.Append("+++ ").Append(s.Label).Append(" (new)\n");
                foreach (string line in Hunks(a, b))
                {
                    sb.Append(line).Append('\n');
                }
            }

            return MaskAll(sb.ToString(), secrets, mask);
        }

        /// <summary>Every occurrence of every secret replaced by the mask, longest first (a secret inside another stays hidden).</summary>
        public static string MaskAll(string text, IEnumerable<string> secrets, string mask)
        {
            foreach (string secret in secrets.Where(x => !string.IsNullOrEmpty(x)).Distinct(StringComparer.Ordinal).OrderByDescending(x => x.Length))
            {
                text = text.Replace(secret, mask);
            }

            return text;
        }

        private static string[] Lines(string text) => text.Replace("\r\n", "\n").Split('\n');

        /// <summary>Changed lines only, as "@@ line N @@" hunks of "-old" / "+new" lines (an LCS over the lines between the common ends).</summary>
        private static List<string> Hunks(string[] a, string[] b)
        {
            int prefix = 0;
            while (prefix < a.Length && prefix < b.Length && a[prefix] == b[prefix])
            {
                prefix++;
            }

            int suffix = 0;
            while (suffix < a.Length - prefix && suffix < b.Length - prefix && a[a.Length - 1 - suffix] == b[b.Length - 1 - suffix])
            {
                suffix++;
            }

            int n = a.Length - prefix - suffix;
            int m = b.Length - prefix - suffix;
            var lcs = new int[n + 1, m + 1];
            for (int i = n - 1; i >= 0; i--)
            {
                for (int j = m - 1; j >= 0; j--)
                {
                    lcs[i, j] = a[prefix + i] == b[prefix + j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
                }
            }

            var output = new List<string>();
            int x = 0;
            int y = 0;
            bool inHunk = false;
            while (x < n || y < m)
            {
                if (x < n && y < m && a[prefix + x] == b[prefix + y])
                {
                    x++;
                    y++;
                    inHunk = false;
                    continue;
                }

                if (!inHunk)
                {
                    output.Add("@@ line " + (prefix + x + 1).ToString(CultureInfo.InvariantCulture) + " @@");
                    inHunk = true;
                }

                if (y < m && (x >= n || lcs[x, y + 1] >= lcs[x + 1, y]))
                {
                    output.Add("+" + b[prefix + y]);
                    y++;
                }
                else
                {
                    output.Add("-" + a[prefix + x]);
                    x++;
                }
            }

            // Within a hunk, show removals before additions, as diff does.
            return Reorder(output);
        }

        private static List<string> Reorder(List<string> lines)
        {
            var result = new List<string>();
            var minus = new List<string>();
            var plus = new List<string>();
            foreach (string l in lines)
            {
                if (l.StartsWith("@@", StringComparison.Ordinal))
                {
                    result.AddRange(minus);
                    result.AddRange(plus);
                    minus.Clear();
                    plus.Clear();
                    result.Add(l);
                }
                else if (l[0] == '-')
                {
                    minus.Add(l);
                }
                else
                {
                    plus.Add(l);
                }
            }

            result.AddRange(minus);
            result.AddRange(plus);
            return result;
        }
    }
}
