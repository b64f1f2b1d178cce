namespace CcieDr.Simulator;

/// <summary>What an SSM Run Command invocation is asked to do.</summary>
public sealed class SsmCommandRequest
{
    public required string Region { get; init; }

    public required string InstanceId { get; init; }

    public required string DocumentName { get; init; }

    /// <summary>The script: the <c>commands</c> parameter lines joined with newlines.</summary>
    public required string Script { get; init; }

    public required IReadOnlyDictionary<string, IReadOnlyList<string>> Parameters { get; init; }

    /// <summary>The instance's Name tag, if any.</summary>
    public string? InstanceName { get; init; }
}

/// <summary>How an SSM invocation ends.</summary>
public sealed class SsmCommandResult
{
    public int ExitCode { get; init; }

    public string StandardOutput { get; init; } = "";

    public string StandardError { get; init; } = "";

    /// <summary>Simulated seconds the command runs (null = the configured SSM command duration).</summary>
    public double? DurationSeconds { get; init; }
}

/// <summary>A canned answer for scripts matching <see cref="Match"/> (a regular expression), optionally only on one instance.</summary>
public sealed class SsmResponseRule
{
    /// <summary>Regular expression searched in the script.</summary>
    public string Match { get; set; } = ".*";

    /// <summary>Only for this instance id (null = any).</summary>
    public string? InstanceId { get; set; }

    public int ExitCode { get; set; }

    public string Stdout { get; set; } = "";

    public string Stderr { get; set; } = "";

    public double? DurationSeconds { get; set; }
}

internal sealed class SsmInvocation
{
    public required string CommandId { get; init; }

    public required string InstanceId { get; init; }

    public string? InstanceName { get; init; }

    public required DateTime RequestedAt { get; init; }

    /// <summary>Pending until then (delivery), null = never delivered (agent offline).</summary>
    public DateTime? StartsAt { get; set; }

    public DateTime? EndsAt { get; set; }

    public DateTime DeliveryDeadline { get; init; }

    public DateTime? ExecutionDeadline { get; set; }

    public SsmCommandResult? Result { get; set; }

    public bool Cancelled { get; set; }

    /// <summary>The command runs for real in the instance's sandbox (null: answered by a handler or rule).</summary>
    public Ssm.SandboxRun? Run { get; set; }

    /// <summary>The sandboxed command was killed at its executionTimeout.</summary>
    public bool ExecutionTimedOut { get; set; }

    public DateTime? CancelledAt { get; set; }

    /// <summary>Status and details at <paramref name="now"/>.</summary>
    public (string Status, string Details) StatusAt(DateTime now)
    {
        if (Cancelled)
        {
            return ("Cancelled", "Cancelled");
        }

        if (StartsAt is null || StartsAt > now)
        {
            return now >= DeliveryDeadline ? ("TimedOut", "DeliveryTimedOut") : ("Pending", "Pending");
        }

        if (ExecutionTimedOut)
        {
            return ("TimedOut", "ExecutionTimedOut");
        }

        if (ExecutionDeadline is { } ed && EndsAt > ed && now >= ed)
        {
            return ("TimedOut", "ExecutionTimedOut");
        }

        if (EndsAt > now)
        {
            return ("InProgress", "InProgress");
        }

        return Result!.ExitCode == 0 ? ("Success", "Success") : ("Failed", "Failed");
    }
}

internal sealed class SsmCommand
{
    public required string CommandId { get; init; }

    public required string DocumentName { get; init; }

    public string? Comment { get; init; }

    public required Dictionary<string, List<string>> Parameters { get; init; }

    public required DateTime RequestedAt { get; init; }

    public int TimeoutSeconds { get; init; }

    public List<SsmInvocation> Invocations { get; } = new();
}
