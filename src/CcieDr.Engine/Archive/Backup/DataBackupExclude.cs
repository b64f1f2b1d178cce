using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using CcieDr.Engine.Archive.Common;

namespace CcieDr.Engine.Archive.Backup
{
    /// <summary>
    /// Exclude patterns matched against archive paths (relative, '/'-separated). A pattern without '/' matches a
    /// name at any depth ("*.tmp", "cache"); a pattern with '/' is anchored at the data directory ("mongo/journal",
    /// "postgres/*/pg_stat_tmp"). '*' matches within one name, '**' across names, '?' one character; a trailing '/'
    /// only matches directories. Excluding a directory excludes everything below it.
    /// </summary>
    public sealed class DataBackupExclude
    {
        private readonly List<(Regex Regex, bool DirectoryOnly)> _patterns = new List<(Regex, bool)>();

        /// <summary>Creates a matcher from <paramref name="patterns"/>.</summary>
        public DataBackupExclude(IEnumerable<string>? patterns)
        {
            foreach (var raw in patterns ?? Enumerable.Empty<string>())
            {
                if (string.IsNullOrWhiteSpace(raw))
                {
                    continue;
                }

                var p = raw.Trim().Replace('\\', '/');
                var dirOnly = p.EndsWith("/", StringComparison.Ordinal);
                p = p.TrimEnd('/');
                while (p.StartsWith("./", StringComparison.Ordinal))
                {
                    p = p.Substring(2);
                }

                var anchored = p.IndexOf('/') >= 0;
                p = p.TrimStart('/');
                if (p.Length == 0)
                {
                    continue;
                }

                var re = new StringBuilder("^");
                if (!anchored)
                {
                    re.Append("(?:.*/)?");
                }

                for (var i = 0; i < p.Length; i++)
                {
                    var c = p[i];
                    if (c == '*' && i + 1 < p.Length && p[i + 1] == '*')
                    {
                        // "**/" matches zero or more directories; a bare "**" anything.
                        if (i + 2 < p.Length && p[i + 2] == '/')
                        {
                            re.Append("(?:.*/)?");
                            i += 2;
                        }
                        else
                        {
                            re.Append(".*");
                            i++;
                        }
                    }
                    else if (c == '*')
                    {
                        re.Append("[^/]*");
                    }
                    else if (c == '?')
                    {
                        re.Append("[^/]");
                    }
                    else
                    {
                        re.Append(Regex.Escape(c.ToString()));
                    }
                }

                re.Append('$');
                _patterns.Add((new Regex(re.ToString(), RegexOptions.CultureInvariant | RegexOptions.Singleline, TimeSpan.FromSeconds(1)), dirOnly));
            }
        }

        /// <summary>Number of patterns.</summary>
        public int Count => _patterns.Count;

        /// <summary>True when <paramref name="relativePath"/> (no trailing '/') is excluded.</summary>
        public bool IsExcluded(string relativePath, bool isDirectory)
        {
            foreach (var (regex, dirOnly) in _patterns)
            {
                if ((!dirOnly || isDirectory) && regex.IsMatch(relativePath))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>The folders no backup ever contains: <c>.ccie-dr/</c> and <c>circleci-restore-*</c> at the top.</summary>
        public static bool IsAlwaysExcluded(string relativePath)
        {
            if (relativePath.IndexOf('/') >= 0)
            {
                return false;
            }

            return string.Equals(relativePath, ArchiveManifest.MetadataFolder, StringComparison.Ordinal)
                || relativePath.StartsWith(ArchiveManifest.RestoreFolderPrefix, StringComparison.Ordinal);
        }
    }
}
