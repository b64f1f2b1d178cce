namespace CcieDr.Simulator;

/// <summary>Kinds of request-level faults.</summary>
public static class FaultKinds
{
    /// <summary>HTTP 503 RequestLimitExceeded.</summary>
    public const string Throttle = "throttle";

    /// <summary>HTTP 500 InternalError.</summary>
    public const string InternalError = "internal-error";

    /// <summary>HTTP 503 Unavailable.</summary>
    public const string Unavailable = "unavailable";

    /// <summary>The connection is aborted before the request is processed (nothing changes).</summary>
    public const string Drop = "drop";

    /// <summary>The request is processed, then the connection is aborted (the change happened, the client never hears).</summary>
    public const string DropAfter = "drop-after";

    /// <summary>The server holds the request for DelayMilliseconds (real time), then aborts it.</summary>
    public const string Timeout = "timeout";

    /// <summary>A slow API: the server holds the request for DelayMilliseconds (real time), then serves it normally (for cancellation tests).</summary>
    public const string Delay = "delay";

    public static readonly IReadOnlyList<string> All = [Throttle, InternalError, Unavailable, Drop, DropAfter, Timeout, Delay];
}

/// <summary>A request-level fault to inject.</summary>
public sealed class FaultSpec
{
    /// <summary>One of <see cref="FaultKinds"/>.</summary>
    public string Kind { get; set; } = FaultKinds.Throttle;

    /// <summary>EC2 action name, or "*" / null for every action.</summary>
    public string? Action { get; set; }

    /// <summary>Region, or null for every region.</summary>
    public string? Region { get; set; }

    /// <summary>How many matching calls get the fault.</summary>
    public int Count { get; set; } = 1;

    /// <summary>For <see cref="FaultKinds.Timeout"/> and <see cref="FaultKinds.Delay"/>: how long to hold the request (real milliseconds).</summary>
    public int DelayMilliseconds { get; set; } = 2000;
}

/// <summary>How often one fault kind was served for one action.</summary>
public sealed record FaultCount(string Kind, string Action, int Count);

internal sealed class Faults
{
    private readonly List<ActiveFault> active = new();
    private readonly Dictionary<(string Kind, string Action), int> served = new();

    public int PendingSnapshotFailures { get; set; }

    public int PendingImageFailures { get; set; }

    public void Clear()
    {
        active.Clear();
        served.Clear();
        PendingSnapshotFailures = 0;
        PendingImageFailures = 0;
    }

    public void ClearPending()
    {
        active.Clear();
        PendingSnapshotFailures = 0;
        PendingImageFailures = 0;
    }

    public void Add(FaultSpec spec)
    {
        if (!FaultKinds.All.Contains(spec.Kind))
        {
            throw new ArgumentException($"unknown fault kind '{spec.Kind}' (known: {string.Join(", ", FaultKinds.All)})", nameof(spec));
        }

        if (spec.Count < 1)
        {
            throw new ArgumentException("count must be at least 1", nameof(spec));
        }

        active.Add(new ActiveFault(spec.Kind, string.IsNullOrEmpty(spec.Action) || spec.Action == "*" ? null : spec.Action, spec.Region, spec.Count, spec.DelayMilliseconds));
    }

    /// <summary>The first pending fault matching the call, consumed and counted; null if none.</summary>
    public ActiveFault? Take(string action, string region)
    {
        foreach (var f in active)
        {
            if ((f.Action is null || string.Equals(f.Action, action, StringComparison.OrdinalIgnoreCase))
                && (f.Region is null || f.Region == region))
            {
                f.Remaining--;
                if (f.Remaining <= 0)
                {
                    active.Remove(f);
                }

                Count(f.Kind, action);
                return f;
            }
        }

        return null;
    }

    public void Count(string kind, string action)
    {
        served[(kind, action)] = served.GetValueOrDefault((kind, action)) + 1;
    }

    public IReadOnlyList<FaultCount> Served() =>
        served.Select(kv => new FaultCount(kv.Key.Kind, kv.Key.Action, kv.Value))
            .OrderBy(c => c.Kind, StringComparer.Ordinal).ThenBy(c => c.Action, StringComparer.Ordinal)
            .ToList();

    public IReadOnlyList<FaultSpec> Pending() =>
        active.Select(f => new FaultSpec { Kind = f.Kind, Action = f.Action ?? "*", Region = f.Region, Count = f.Remaining, DelayMilliseconds = f.DelayMs }).ToList();

    internal sealed class ActiveFault(string kind, string? action, string? region, int remaining, int delayMs)
    {
        public string Kind { get; } = kind;

        public string? Action { get; } = action;

        public string? Region { get; } = region;

        public int Remaining { get; set; } = remaining;

        public int DelayMs { get; } = delayMs;
    }
}
