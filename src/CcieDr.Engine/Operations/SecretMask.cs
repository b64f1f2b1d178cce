using System;
using System.Text.RegularExpressions;

namespace CcieDr.Engine.Operations
{
    /// <summary>
    /// Masks what looks like a credential in text that may reach a user (hook output, errors, warnings):
    /// <c>NAME=value</c> where NAME contains KEY, TOKEN, SECRET, PASSWORD or PASSPHRASE, <c>password: x</c>,
    /// <c>Bearer x</c> and AWS access key ids. One place, so every caller masks the same way.
    /// </summary>
    public static class SecretMask
    {
        /// <summary>What a masked value is replaced with.</summary>
        public const string Mask = "****";

        private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(250);

        // NAME=value / NAME: value where the name holds a secret-ish word; the value runs to whitespace or a quote.
        private static readonly Regex NamedValue = new(
            @"(?<name>[A-Za-z0-9_.\-]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|PWD)[A-Za-z0-9_.\-]*)(?<sep>\s*[=:]\s*)(?<q>[""']?)(?<value>[^\s""']+)",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled, Timeout);

        private static readonly Regex Bearer = new(
            @"(?<p>\b(?:Bearer|Basic|token)\s+)(?<value>[A-Za-z0-9\-._~+/=]{4,})",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled, Timeout);

        private static readonly Regex AccessKeyId = new(
            @"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[A-Z0-9]{12,}\b",
            RegexOptions.CultureInvariant | RegexOptions.Compiled, Timeout);

        /// <summary>The text with every secret-looking value replaced by <see cref="Mask"/>.</summary>
        public static string Apply(string? text)
        {
            if (string.IsNullOrEmpty(text))
            {
                return text ?? string.Empty;
            }

            try
            {
                string s = NamedValue.Replace(text, m => m.Groups["name"].Value + m.Groups["sep"].Value + m.Groups["q"].Value + Mask);
                s = Bearer.Replace(s, m => m.Groups["p"].Value + Mask);
                return AccessKeyId.Replace(s, Mask);
            }
            catch (RegexMatchTimeoutException)
            {
                return Mask;   // never leak because a pattern gave up
            }
        }

        /// <summary>The last non-blank line of <paramref name="output"/>, masked, at most <paramref name="maxChars"/> long.</summary>
        public static string LastLine(string? output, int maxChars = 200)
        {
            if (string.IsNullOrEmpty(output))
            {
                return string.Empty;
            }

            string[] lines = output!.Split('\n');
            for (int i = lines.Length - 1; i >= 0; i--)
            {
                string line = lines[i].Trim();
                if (line.Length > 0)
                {
                    string masked = Apply(line);
                    return masked.Length <= maxChars ? masked : masked.Substring(0, maxChars) + "...";
                }
            }

            return string.Empty;
        }
    }
}
