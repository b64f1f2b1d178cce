using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace CcieDr.Engine.Remote
{
    /// <summary>Which of Replicated's environment files: the daemon's (and the UI's) or the operator's.</summary>
    public enum ReplicatedDefaultsFile
    {
        Replicated,
        ReplicatedOperator,
    }

    /// <summary>What a rewrite of one file did.</summary>
    public sealed class ReplicatedDefaultsRewrite
    {
        public ReplicatedDefaultsRewrite(byte[] content, IReadOnlyList<string> changes, string? previousAddress)
        {
            Content = content;
            Changes = changes;
            PreviousAddress = previousAddress;
        }

        /// <summary>The new file content, byte for byte the old one except for the rewritten addresses.</summary>
        public byte[] Content { get; }

        /// <summary>One line per address rewritten ("PRIVATE_ADDRESS 10.0.1.10 -> 10.0.1.50"); empty when already right.</summary>
        public IReadOnlyList<string> Changes { get; }

        /// <summary>The file's PRIVATE_ADDRESS before the rewrite.</summary>
        public string? PreviousAddress { get; }

        public bool Changed => Changes.Count > 0;
    }

    /// <summary>
    /// Rewrites the box's private address in Replicated's environment files after a restore or failover changed
    /// it, and nothing else. The variables are those Replicated's own guide names for a changed private IP
    /// (replicatedhq/help-center, content/docs/kb/supporting-your-customers/change-ip-address.md, "How to change
    /// Private IP Address on a Host"): in <c>/etc/default/replicated</c> <c>PRIVATE_ADDRESS</c>; in
    /// <c>/etc/default/replicated-operator</c> <c>PRIVATE_ADDRESS</c>, <c>DAEMON_HOST</c> and the host of
    /// <c>DAEMON_ENDPOINT</c> (<c>ip:9879</c>, bracketed as <c>[ip]:9879</c> by newer installers: help-center
    /// content/docs/native/customer-installations/installing-via-ami.md). The systemd units pass PRIVATE_ADDRESS
    /// to the daemon as <c>-e LOCAL_ADDRESS=</c>; installs that carry <c>-e LOCAL_ADDRESS=</c> or
    /// <c>-e PRIVATE_ADDRESS=</c> inside <c>REPLICATED_OPTS</c> / <c>REPLICATED_OPERATOR_OPTS</c> (Replicated 2.x
    /// installs) get those tokens rewritten too, as does a top-level <c>LOCAL_ADDRESS=</c>. PUBLIC_ADDRESS,
    /// tokens, names, comments, quoting, brackets, ports and line endings stay byte for byte.
    /// </summary>
    public static class ReplicatedDefaults
    {
        private const string Ipv4 = @"(?:\d{1,3}\.){3}\d{1,3}";

        // NAME=value on one line (optionally "export NAME=value"), value up to the end of the line (\r kept out).
        private static readonly Regex AddressLine = new Regex(@"^(?<lead>[ \t]*(?:export[ \t]+)?)(?<name>PRIVATE_ADDRESS|LOCAL_ADDRESS|DAEMON_HOST|DAEMON_ENDPOINT)=(?<value>[^\r\n]*)", RegexOptions.Multiline | RegexOptions.CultureInvariant);

        private static readonly Regex OptsLine = new Regex(@"^(?<lead>[ \t]*(?:export[ \t]+)?)(?<name>REPLICATED_OPTS|REPLICATED_OPERATOR_OPTS)=(?<value>[^\r\n]*)", RegexOptions.Multiline | RegexOptions.CultureInvariant);

        // The address value: optional quotes, optional brackets, the IPv4, optional :port (DAEMON_ENDPOINT), optional trailing blanks.
        private static readonly Regex AddressValue = new Regex(@"^(?<q>[""']?)(?<lb>\[?)(?<ip>" + Ipv4 + @")(?<rb>\]?)(?<port>(?::\d{1,5})?)\k<q>[ \t]*$", RegexOptions.CultureInvariant);

        // An address token inside the *_OPTS value: -e PRIVATE_ADDRESS=… / -e LOCAL_ADDRESS=…
        private static readonly Regex OptsToken = new Regex(@"(?<key>-e[ \t]*(?<var>PRIVATE_ADDRESS|LOCAL_ADDRESS)=)(?<value>[^ \t""']*)", RegexOptions.CultureInvariant);

        private static readonly Regex OptsTokenValue = new Regex(@"^(?<lb>\[?)(?<ip>" + Ipv4 + @")(?<rb>\]?)$", RegexOptions.CultureInvariant);

        private static readonly Encoding Bytes = Encoding.GetEncoding(28591); // ISO-8859-1: one char per byte, every byte kept

        /// <summary>The file's name under /etc/default (Debian/Ubuntu) and /etc/sysconfig (RHEL).</summary>
        public static string FileName(ReplicatedDefaultsFile file) => file == ReplicatedDefaultsFile.Replicated ? "replicated" : "replicated-operator";

        /// <summary>
        /// Sets every address variable of <paramref name="file"/> to <paramref name="newAddress"/>. Idempotent (a second
        /// run changes nothing). An unknown format (no PRIVATE_ADDRESS line, or an address that is not an IPv4 literal,
        /// such as a shell expression) is a CcieException that names the line, so an operator can fix it by hand.
        /// </summary>
        public static ReplicatedDefaultsRewrite Rewrite(byte[] content, ReplicatedDefaultsFile file, string newAddress, string path)
        {
            if (content is null)
            {
                throw new ArgumentNullException(nameof(content));
            }

            if (!Regex.IsMatch(newAddress ?? string.Empty, "^" + Ipv4 + "$", RegexOptions.CultureInvariant))
            {
                throw new ArgumentException($"'{newAddress}' is not an IPv4 address.", nameof(newAddress));
            }

            string text = Bytes.GetString(content);
            var changes = new List<string>();
            string? previous = null;
            bool sawPrivate = false;

            text = AddressLine.Replace(text, m =>
            {
                string name = m.Groups["name"].Value;
                string value = m.Groups["value"].Value;
                Match v = AddressValue.Match(value);
                if (!v.Success || (v.Groups["port"].Length > 0) != (name == "DAEMON_ENDPOINT"))
                {
                    throw Unrecognised(path, $"{name}={value}", name == "DAEMON_ENDPOINT" ? "an IPv4 address and port (10.0.1.10:9879 or [10.0.1.10]:9879)" : "an IPv4 address");
                }

                string old = v.Groups["ip"].Value;
                if (name == "PRIVATE_ADDRESS")
                {
                    sawPrivate = true;
                    previous ??= old;
                }

                if (old == newAddress)
                {
                    return m.Value;
                }

                changes.Add($"{name} {old} -> {newAddress}");
                Group ip = v.Groups["ip"];
                string rewritten = value.Substring(0, ip.Index) + newAddress + value.Substring(ip.Index + ip.Length);
                return m.Groups["lead"].Value + name + "=" + rewritten;
            });

            if (!sawPrivate)
            {
                throw Unrecognised(path, null, "a PRIVATE_ADDRESS= line (Replicated's installer writes one into both files)");
            }

            text = OptsLine.Replace(text, m =>
            {
                string name = m.Groups["name"].Value;
                string value = OptsToken.Replace(m.Groups["value"].Value, t =>
                {
                    Match v = OptsTokenValue.Match(t.Groups["value"].Value);
                    if (!v.Success)
                    {
                        throw Unrecognised(path, $"{name}: {t.Value}", "an IPv4 address after " + t.Groups["key"].Value);
                    }

                    string old = v.Groups["ip"].Value;
                    if (old == newAddress)
                    {
                        return t.Value;
                    }

                    changes.Add($"{name} -e {t.Groups["var"].Value}={old} -> {newAddress}");
                    return t.Groups["key"].Value + v.Groups["lb"].Value + newAddress + v.Groups["rb"].Value;
                });
                return m.Groups["lead"].Value + name + "=" + value;
            });

            return new ReplicatedDefaultsRewrite(Bytes.GetBytes(text), changes, previous);
        }

        /// <summary>The file's PRIVATE_ADDRESS, or null when it has none.</summary>
        public static string? PrivateAddress(byte[] content)
        {
            foreach (Match m in AddressLine.Matches(Bytes.GetString(content ?? Array.Empty<byte>())))
            {
                if (m.Groups["name"].Value == "PRIVATE_ADDRESS")
                {
                    Match v = AddressValue.Match(m.Groups["value"].Value);
                    return v.Success ? v.Groups["ip"].Value : null;
                }
            }

            return null;
        }

        private static CcieException Unrecognised(string path, string? line, string expected) => new CcieException(
            "ReplicatedDefaultsUnrecognised",
            CcieErrorCategory.InvalidData,
            string.Format(CultureInfo.InvariantCulture, "{0} is not in a format CcieDr can rewrite safely: expected {1}{2}. Nothing was changed: fix the address by hand (Replicated's guide: set PRIVATE_ADDRESS, and in replicated-operator DAEMON_ENDPOINT and DAEMON_HOST, to the new private IP), restart replicated, replicated-ui and replicated-operator, then start the app.", path, expected, line is null ? string.Empty : ", found '" + line + "'"),
            path);
    }
}
