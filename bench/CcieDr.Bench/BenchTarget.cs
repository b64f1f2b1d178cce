using System.Globalization;

/// <summary>
/// Prints a benchmark figure against its target as the one line build.ps1 Bench collects for its summary:
/// <c>TARGET &lt;name&gt;: &lt;value&gt;&lt;unit&gt; (target &lt;op&gt; &lt;limit&gt;&lt;unit&gt;) PASS|MISS</c>.
/// The PowerShell twin is Write-Target in tools/Bench.Common.ps1, which lists the names of issue #11 item 8
/// ($BenchKnownTargets).
/// </summary>
internal static class BenchTarget
{
    public const string BackupBzip2 = "backup-bzip2-vs-tar-cjf";
    public const string BackupZstd = "backup-zstd-vs-tar-zstd";

    // The engine alone, in this process (not pwsh + module: tools/Bench-Memory.ps1 measures those, the item-8 figures).
    public const string MemoryBackup300MB = "engine-memory-backup-300MB";
    public const string MemoryRestore300MB = "engine-memory-restore-300MB";

    /// <summary>Value must be at least <paramref name="limit"/> (speed ratios).</summary>
    public static bool AtLeast(string name, double value, double limit, string unit = "x") => Write(name, value, ">=", limit, unit);

    /// <summary>Value must be at most <paramref name="limit"/> (memory, start-up cost).</summary>
    public static bool AtMost(string name, double value, double limit, string unit = "x") => Write(name, value, "<=", limit, unit);

    public static string Format(string name, double value, string op, double limit, string unit)
    {
        var pass = op == ">=" ? value >= limit : value <= limit;
        var inv = CultureInfo.InvariantCulture;
        return $"TARGET {name}: {value.ToString("0.00", inv)}{unit} (target {op} {limit.ToString("0.##", inv)}{unit}) {(pass ? "PASS" : "MISS")}";
    }

    private static bool Write(string name, double value, string op, double limit, string unit)
    {
        var line = Format(name, value, op, limit, unit);
        Console.WriteLine(line);
        return line.EndsWith("PASS", StringComparison.Ordinal);
    }
}
