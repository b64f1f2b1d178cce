using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Runtime.InteropServices;
using System.Text;

namespace CcieDr.Engine.Remote
{
    /// <summary>What a known_hosts file says about one host key.</summary>
    public enum HostKeyVerdict
    {
        /// <summary>The host has no entry: unknown (accept only when told to, like StrictHostKeyChecking=accept-new).</summary>
        Unknown,

        /// <summary>An entry for the host has this very key.</summary>
        Trusted,

        /// <summary>The host is known with a different key: always refused.</summary>
        Changed,

        /// <summary>The key is marked @revoked: always refused.</summary>
        Revoked,
    }

    /// <summary>One line of a known_hosts file that names a host.</summary>
    public sealed class KnownHostEntry
    {
        internal KnownHostEntry(int line, string? marker, string hosts, string keyType, byte[] key)
        {
            Line = line;
            Marker = marker;
            Hosts = hosts;
            KeyType = keyType;
            Key = key;
        }

        /// <summary>1-based line number in the file.</summary>
        public int Line { get; }

        /// <summary>@revoked or @cert-authority, else null.</summary>
        public string? Marker { get; }

        /// <summary>The host field as written (patterns or a hashed |1|salt|hash).</summary>
        public string Hosts { get; }

        public string KeyType { get; }

        public byte[] Key { get; }

        /// <summary>True when this entry names <paramref name="host"/> on <paramref name="port"/> (OpenSSH's rules).</summary>
        public bool Matches(string host, int port)
        {
            string name = KnownHosts.HostName(host, port);
            if (Hosts.StartsWith("|1|", StringComparison.Ordinal))
            {
                return KnownHosts.HashedMatches(Hosts, name);
            }

            bool matched = false;
            foreach (string raw in Hosts.Split(','))
            {
                bool negated = raw.StartsWith("!", StringComparison.Ordinal);
                string pattern = negated ? raw.Substring(1) : raw;
                if (pattern.Length == 0)
                {
                    continue;
                }

                if (KnownHosts.Wildcard(pattern, name))
                {
                    if (negated)
                    {
                        return false;
                    }

                    matched = true;
                }
            }

            return matched;
        }
    }

    /// <summary>The decision about one host key, with the file and line an operator must fix when it changed.</summary>
    public sealed class HostKeyCheck
    {
        internal HostKeyCheck(HostKeyVerdict verdict, KnownHostEntry? entry, IReadOnlyCollection<string> knownKeyTypes)
        {
            Verdict = verdict;
            Entry = entry;
            KnownKeyTypes = knownKeyTypes;
        }

        public HostKeyVerdict Verdict { get; }

        /// <summary>The entry that decided (the matching or the conflicting one).</summary>
        public KnownHostEntry? Entry { get; }

        /// <summary>Key types the file knows for the host (to restrict what the server may offer).</summary>
        public IReadOnlyCollection<string> KnownKeyTypes { get; }
    }

    /// <summary>
    /// An OpenSSH known_hosts file: plain and hashed (<c>|1|salt|hash</c>) host fields, <c>[host]:port</c> for
    /// ports other than 22, patterns with * ? and !, @revoked and @cert-authority markers; appends new keys the way
    /// <c>StrictHostKeyChecking=accept-new</c> does.
    /// </summary>
    public sealed class KnownHosts
    {
        private static readonly char[] FieldSeparators = { ' ', '\t' };

        private KnownHosts(string path, IReadOnlyList<KnownHostEntry> entries)
        {
            Path = path;
            Entries = entries;
        }

        public string Path { get; }

        public IReadOnlyList<KnownHostEntry> Entries { get; }

        /// <summary>~/.ssh/known_hosts of the current user.</summary>
        public static string DefaultPath => System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh", "known_hosts");

        /// <summary>Reads the file (a missing file is an empty one). Lines it cannot read are skipped, as OpenSSH does.</summary>
        public static KnownHosts Load(string path)
        {
            if (path is null)
            {
                throw new ArgumentNullException(nameof(path));
            }

            var entries = new List<KnownHostEntry>();
            if (File.Exists(path))
            {
                int number = 0;
                foreach (string raw in File.ReadAllLines(path))
                {
                    number++;
                    KnownHostEntry? entry = ParseLine(raw, number);
                    if (entry is not null)
                    {
                        entries.Add(entry);
                    }
                }
            }

            return new KnownHosts(path, entries);
        }

        /// <summary>Parses one line; null for comments, blanks and lines that are not host entries.</summary>
        public static KnownHostEntry? ParseLine(string line, int number)
        {
            string text = (line ?? string.Empty).Trim();
            if (text.Length == 0 || text.StartsWith("#", StringComparison.Ordinal))
            {
                return null;
            }

            string[] fields = text.Split(FieldSeparators, StringSplitOptions.RemoveEmptyEntries);
            int i = 0;
            string? marker = null;
            if (fields.Length > 0 && fields[0].StartsWith("@", StringComparison.Ordinal))
            {
                marker = fields[0];
                i = 1;
            }

            if (fields.Length < i + 3)
            {
                return null;
            }

            try
            {
                return new KnownHostEntry(number, marker, fields[i], fields[i + 1], Convert.FromBase64String(fields[i + 2]));
            }
            catch (FormatException)
            {
                return null;
            }
        }

        /// <summary>How known_hosts writes a host: <c>host</c> on port 22, <c>[host]:port</c> otherwise.</summary>
        public static string HostName(string host, int port) => port == 22 ? host.ToLowerInvariant() : "[" + host.ToLowerInvariant() + "]:" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>The key type named inside an SSH public key blob (its first string field).</summary>
        public static string KeyTypeOf(byte[] blob)
        {
            if (blob is null || blob.Length < 4)
            {
                return string.Empty;
            }

            int length = (blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3];
            return length > 0 && length <= blob.Length - 4 ? Encoding.ASCII.GetString(blob, 4, length) : string.Empty;
        }

        /// <summary>SHA256:... as ssh-keygen -l prints it (unpadded base64).</summary>
        public static string Fingerprint(byte[] blob)
        {
            using var sha = SHA256.Create();
            return "SHA256:" + Convert.ToBase64String(sha.ComputeHash(blob)).TrimEnd('=');
        }

        /// <summary>Decides about <paramref name="keyBlob"/> offered by <paramref name="host"/>:<paramref name="port"/>.</summary>
        public HostKeyCheck Check(string host, int port, byte[] keyBlob)
        {
            if (keyBlob is null)
            {
                throw new ArgumentNullException(nameof(keyBlob));
            }

            string type = KeyTypeOf(keyBlob);
            List<KnownHostEntry> matching = Entries.Where(e => e.Matches(host, port)).ToList();
            KnownHostEntry? revoked = Entries.FirstOrDefault(e => e.Marker == "@revoked" && e.Key.SequenceEqual(keyBlob));
            var types = matching.Where(e => e.Marker is null).Select(e => e.KeyType).Distinct(StringComparer.Ordinal).ToList();
            if (revoked is not null)
            {
                return new HostKeyCheck(HostKeyVerdict.Revoked, revoked, types);
            }

            List<KnownHostEntry> plain = matching.Where(e => e.Marker is null).ToList();
            KnownHostEntry? same = plain.FirstOrDefault(e => e.Key.SequenceEqual(keyBlob));
            if (same is not null)
            {
                return new HostKeyCheck(HostKeyVerdict.Trusted, same, types);
            }

            // Known with another key of the same type, or known only by other types (the server offered one we
            // did not restrict it from): both mean this is not the key we know.
            KnownHostEntry? conflict = plain.FirstOrDefault(e => string.Equals(e.KeyType, type, StringComparison.Ordinal)) ?? plain.FirstOrDefault();
            return conflict is null
                ? new HostKeyCheck(HostKeyVerdict.Unknown, null, types)
                : new HostKeyCheck(HostKeyVerdict.Changed, conflict, types);
        }

        /// <summary>Appends <c>host keytype base64</c> (creating ~/.ssh with mode 700 and the file with 600).</summary>
        public void Append(string host, int port, byte[] keyBlob)
        {
            if (keyBlob is null)
            {
                throw new ArgumentNullException(nameof(keyBlob));
            }

            string? dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
            if (!string.IsNullOrEmpty(dir) && !Directory.Exists(dir))
            {
                Directory.CreateDirectory(dir);
                SetMode(dir!, "700");
            }

            bool created = !File.Exists(Path);
            string prefix = !created && new FileInfo(Path).Length > 0 && !EndsWithNewline(Path) ? "\n" : string.Empty;
            File.AppendAllText(Path, prefix + HostName(host, port) + " " + KeyTypeOf(keyBlob) + " " + Convert.ToBase64String(keyBlob) + "\n");
            if (created)
            {
                SetMode(Path, "600");
            }
        }

        internal static bool HashedMatches(string hashed, string name)
        {
            string[] parts = hashed.Split('|');
            if (parts.Length != 4)
            {
                return false;
            }

            try
            {
                byte[] salt = Convert.FromBase64String(parts[2]);
                byte[] expected = Convert.FromBase64String(parts[3]);
#pragma warning disable CA5350 // HMAC-SHA1 is what OpenSSH's HashKnownHosts uses
                using var hmac = new HMACSHA1(salt);
#pragma warning restore CA5350
                return hmac.ComputeHash(Encoding.ASCII.GetBytes(name)).SequenceEqual(expected);
            }
            catch (FormatException)
            {
                return false;
            }
        }

        internal static bool Wildcard(string pattern, string name)
        {
            pattern = pattern.ToLowerInvariant();
            return Glob(pattern, 0, name, 0);
        }

        private static bool Glob(string p, int pi, string s, int si)
        {
            while (pi < p.Length)
            {
                char c = p[pi];
                if (c == '*')
                {
                    for (int k = si; k <= s.Length; k++)
                    {
                        if (Glob(p, pi + 1, s, k))
                        {
                            return true;
                        }
                    }

                    return false;
                }

                if (si >= s.Length || (c != '?' && c != s[si]))
                {
                    return false;
                }

                pi++;
                si++;
            }

            return si == s.Length;
        }

        private static bool EndsWithNewline(string path)
        {
            using var f = File.OpenRead(path);
            f.Seek(-1, SeekOrigin.End);
            return f.ReadByte() == '\n';
        }

        private static void SetMode(string path, string mode)
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                try
                {
                    using var chmod = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("chmod", mode + " " + "\"" + path + "\"") { UseShellExecute = false });
                    chmod?.WaitForExit();
                }
                catch (System.ComponentModel.Win32Exception)
                {
                    // best effort: the file is still written
                }
            }
        }
    }
}
