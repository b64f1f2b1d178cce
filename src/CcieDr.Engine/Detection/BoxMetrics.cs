using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace CcieDr.Engine.Detection
{
    /// <summary>One filesystem's use as <c>df -P -k</c> printed it.</summary>
    public sealed class DiskUse
    {
        public DiskUse(string path, string? filesystem, long sizeKiB, long usedKiB, double usedPercent, string? mountedOn)
        {
            Path = path;
            Filesystem = filesystem;
            SizeKiB = sizeKiB;
            UsedKiB = usedKiB;
            UsedPercent = usedPercent;
            MountedOn = mountedOn;
        }

        /// <summary>The path asked about (/data, /).</summary>
        public string Path { get; }

        public string? Filesystem { get; }

        public long SizeKiB { get; }

        public long UsedKiB { get; }

        /// <summary>df's Capacity column (used / (used + available)), as df rounds it.</summary>
        public double UsedPercent { get; }

        /// <summary>Where the filesystem holding <see cref="Path"/> is mounted (/ when /data is no volume of its own).</summary>
        public string? MountedOn { get; }
    }

    /// <summary>CPU load, memory and disks as the box itself reports them (the remote-shell source of the capacity checks).</summary>
    public sealed class BoxMetrics
    {
        private static readonly char[] Blanks = { ' ', '\t' };
        private static readonly char[] BlanksAndColon = { ' ', '\t', ':' };

        /// <summary>Prints what <see cref="Parse"/> reads: CPUs, load averages, MemTotal/MemAvailable, df -P -k of /data and /.</summary>
        public const string Script =
            "r=${CCIEDR_BOX_ROOT:-}; "
            + "echo \"ccie-nproc $(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 0)\"; "
            + "echo \"ccie-loadavg $(cat \"$r/proc/loadavg\" 2>/dev/null)\"; "
            + "grep -E '^(MemTotal|MemAvailable):' \"$r/proc/meminfo\" 2>/dev/null | sed 's/^/ccie-mem /'; "
            + "for m in /data /; do echo \"ccie-disk $m $(df -P -k \"$r$m\" 2>/dev/null | tail -n +2 | tail -n 1)\"; done";

        public int Cpus { get; private set; }

        /// <summary>1, 5 and 15 minute load averages; null when /proc/loadavg could not be read.</summary>
        public double[]? LoadAverages { get; private set; }

        public long? MemTotalKiB { get; private set; }

        public long? MemAvailableKiB { get; private set; }

        public IDictionary<string, DiskUse?> Disks { get; } = new Dictionary<string, DiskUse?>(StringComparer.Ordinal);

        public static BoxMetrics Parse(string stdout)
        {
            var m = new BoxMetrics();
            foreach (string raw in (stdout ?? string.Empty).Replace("\r", string.Empty).Split('\n'))
            {
                string line = raw.Trim();
                if (line.StartsWith("ccie-nproc ", StringComparison.Ordinal))
                {
                    m.Cpus = int.TryParse(line.Substring(11).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n : 0;
                }
                else if (line.StartsWith("ccie-loadavg", StringComparison.Ordinal))
                {
                    string[] f = line.Substring(12).Split(Blanks, StringSplitOptions.RemoveEmptyEntries);
                    if (f.Length >= 3 && f.Take(3).All(x => double.TryParse(x, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
                    {
                        m.LoadAverages = f.Take(3).Select(x => double.Parse(x, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();
                    }
                }
                else if (line.StartsWith("ccie-mem ", StringComparison.Ordinal))
                {
                    string[] f = line.Substring(9).Split(BlanksAndColon, StringSplitOptions.RemoveEmptyEntries);
                    if (f.Length >= 2 && long.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long kib))
                    {
                        if (f[0] == "MemTotal")
                        {
                            m.MemTotalKiB = kib;
                        }
                        else if (f[0] == "MemAvailable")
                        {
                            m.MemAvailableKiB = kib;
                        }
                    }
                }
                else if (line.StartsWith("ccie-disk ", StringComparison.Ordinal))
                {
                    string[] f = line.Substring(10).Split(Blanks, StringSplitOptions.RemoveEmptyEntries);
                    if (f.Length == 0)
                    {
                        continue;
                    }

                    string path = f[0];

                    // path, filesystem, 1024-blocks, used, available, capacity%, mounted on (which may hold blanks).
                    if (f.Length >= 7 && long.TryParse(f[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out long size)
                        && long.TryParse(f[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out long used)
                        && f[5].EndsWith("%", StringComparison.Ordinal)
                        && double.TryParse(f[5].TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out double pct))
                    {
                        string mounted = string.Join(" ", f.Skip(6));
                        m.Disks[path] = new DiskUse(path, f[1], size, used, pct, mounted.Length == 0 ? "/" : mounted);
                    }
                    else
                    {
                        m.Disks[path] = null;
                    }
                }
            }

            return m;
        }
    }
}
