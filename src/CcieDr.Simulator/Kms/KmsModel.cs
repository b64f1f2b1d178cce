namespace CcieDr.Simulator;

/// <summary>The KMS key states the simulator knows (as KMS spells them).</summary>
public static class KmsKeyStates
{
    public const string Enabled = "Enabled";
    public const string Disabled = "Disabled";
    public const string PendingDeletion = "PendingDeletion";
    public const string PendingImport = "PendingImport";
    public const string Unavailable = "Unavailable";

    public static readonly IReadOnlyList<string> All = [Enabled, Disabled, PendingDeletion, PendingImport, Unavailable];
}

/// <summary>A KMS key as the control API shows it.</summary>
public sealed record KmsKeyInfo(string Region, string KeyId, string Arn, string State, string KeyManager, string Description, IReadOnlyList<string> Aliases, DateTime? DeletionDate, bool DescribeDenied);

/// <summary>A symmetric KMS key of one region.</summary>
internal sealed class KmsKey
{
    public required string KeyId { get; init; }

    public required string Arn { get; init; }

    /// <summary>"CUSTOMER" or "AWS" (AWS managed, e.g. aws/ebs).</summary>
    public required string KeyManager { get; init; }

    public string Description { get; init; } = "";

    public required DateTime CreationDate { get; init; }

    public string State { get; set; } = KmsKeyStates.Enabled;

    public DateTime? DeletionDate { get; set; }

    public int? PendingWindowInDays { get; set; }

    /// <summary>Injected: kms:DescribeKey on this key answers AccessDeniedException.</summary>
    public bool DescribeDenied { get; set; }
}
