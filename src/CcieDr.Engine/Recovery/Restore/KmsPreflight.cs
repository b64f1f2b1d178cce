using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.KeyManagementService;
using Amazon.KeyManagementService.Model;
using CcieDr.Engine.Aws;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>
    /// The restore pre-flight's KMS check: one kms:DescribeKey per distinct key of the point's encrypted
    /// snapshots. A key that is disabled, pending deletion, without key material, in a disconnected key store,
    /// gone, or in another region blocks the restore (with what to do), because EC2 would launch the instance
    /// and stop it right after with Client.InvalidKMSKey.InvalidState. A key this role may not describe is
    /// "unchecked": EC2 may still use it through grants. Read-only.
    /// </summary>
    internal sealed class KmsPreflight
    {
        internal const string Check = "kms-key";
        private static readonly char[] ArnSeparator = { ':' };
        private readonly IAmazonKeyManagementService? _kms;
        private readonly string _region;

        /// <param name="kms">The KMS client; null leaves every key unchecked (the engine was given no client).</param>
        /// <param name="region">The region of the restore (and of its snapshots).</param>
        public KmsPreflight(IAmazonKeyManagementService? kms, string region)
        {
            _kms = kms;
            _region = region;
        }

        /// <summary>Adds one finding per key of the plan's encrypted devices.</summary>
        public async Task CheckAsync(RestorePlan plan, CancellationToken ct)
        {
            foreach (RestoreDevice unknown in plan.Target.Devices.Where(d => d.Encrypted && string.IsNullOrEmpty(d.KmsKeyId)))
            {
                plan.Findings.Add(new PreflightFinding(Check, PreflightStatus.Unchecked, $"snapshot {unknown.SnapshotId} ({unknown.DeviceName}) is encrypted but names no KMS key, so its key was not checked; the launch itself validates it"));
            }

            foreach (IGrouping<string, RestoreDevice> key in plan.Target.Devices.Where(d => d.Encrypted && !string.IsNullOrEmpty(d.KmsKeyId)).GroupBy(d => d.KmsKeyId!, StringComparer.Ordinal))
            {
                plan.Findings.Add(await CheckKeyAsync(key.Key, key.ToList(), ct).ConfigureAwait(false));
            }
        }

        private async Task<PreflightFinding> CheckKeyAsync(string keyId, IReadOnlyList<RestoreDevice> devices, CancellationToken ct)
        {
            string used = "snapshot(s) " + string.Join(", ", devices.Select(d => $"{d.SnapshotId} ({d.DeviceName})"));
            string? keyRegion = RegionOf(keyId);
            if (keyRegion is not null && !string.Equals(keyRegion, _region, StringComparison.Ordinal))
            {
                return new PreflightFinding(Check, PreflightStatus.Blocker, $"KMS key {keyId} of {used} is in {keyRegion}, but the restore runs in {_region}; EBS only uses keys of the snapshots' own region. Restore in {keyRegion} (-Region {keyRegion}), or copy the point here re-encrypted with a key of {_region} (Copy-CcieSnapshot -DestinationRegion {_region} -KmsKeyId <key of {_region}>).", "KmsKeyInOtherRegion", keyId, CcieErrorCategory.InvalidData);
            }

            if (_kms is null)
            {
                return new PreflightFinding(Check, PreflightStatus.Unchecked, $"KMS key {keyId} ({Devices(devices)}) not checked (no KMS client was given): it must be enabled and usable by this role, or the instance stops right after launch with Client.InvalidKMSKey.InvalidState");
            }

            KeyMetadata key;
            try
            {
                DescribeKeyResponse response = await AwsCall.RunAsync("kms:DescribeKey", keyId, token => _kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = keyId }, token), ct).ConfigureAwait(false);
                key = response.KeyMetadata ?? throw new CcieException("KmsKeyMetadataMissing", CcieErrorCategory.InvalidData, $"kms:DescribeKey answered without key metadata for {keyId}.", keyId);
            }
            catch (CcieException e) when (IsKeyNotFound(e))
            {
                return new PreflightFinding(Check, PreflightStatus.Blocker, $"KMS key {keyId} does not exist in {_region} (deleted, or never there): {used} are encrypted with it and cannot be restored. Nothing was changed. Choose a recovery point encrypted with an existing key (Get-CcieSnapshot), or restore the data from a backup (Restore-CcieData).", "KmsKeyNotFound", keyId, CcieErrorCategory.ObjectNotFound);
            }
            catch (CcieException e) when (e.Category == CcieErrorCategory.PermissionDenied)
            {
                return new PreflightFinding(Check, PreflightStatus.Unchecked, $"KMS key {keyId} ({Devices(devices)}) not checked: these credentials may not call kms:DescribeKey on it. EC2 may still use the key through its grants; if it is disabled or gone, the instance stops right after launch with Client.InvalidKMSKey.InvalidState. Allow kms:DescribeKey on the key to have it checked.");
            }

            return Judge(keyId, key, devices, used);
        }

        private static PreflightFinding Judge(string keyId, KeyMetadata key, IReadOnlyList<RestoreDevice> devices, string used)
        {
            string id = key.KeyId ?? keyId;
            string name = string.Equals(keyId, key.Arn, StringComparison.Ordinal) || string.IsNullOrEmpty(key.Arn) ? keyId : $"{keyId} ({key.Arn})";
            string state = key.KeyState?.Value ?? (key.Enabled == true ? "Enabled" : "unknown");
            string stop = "the restored volumes could not be decrypted and the instance would stop right after launch (Client.InvalidKMSKey.InvalidState). Nothing was changed.";
            switch (state)
            {
                case "Enabled":
                    break;
                case "Disabled":
                    return Blocked($"KMS key {name} of {used} is disabled: {stop} Enable it (aws kms enable-key --key-id {id}) and rerun.", "KmsKeyDisabled");
                case "PendingDeletion":
                    string when = key.DeletionDate is DateTime date ? " on " + date.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) : string.Empty;
                    return Blocked($"KMS key {name} of {used} is pending deletion{when}: {stop} Cancel the deletion before then and enable it (aws kms cancel-key-deletion --key-id {id}; aws kms enable-key --key-id {id}), then rerun. Once deleted, these snapshots can never be restored.", "KmsKeyPendingDeletion");
                case "PendingImport":
                    return Blocked($"KMS key {name} of {used} has no key material (PendingImport): {stop} Import the key material it had before (aws kms import-key-material --key-id {id} ...), then rerun.", "KmsKeyPendingImport");
                case "Unavailable":
                    string store = string.IsNullOrEmpty(key.CustomKeyStoreId) ? "<id>" : key.CustomKeyStoreId;
                    return Blocked($"KMS key {name} of {used} is unavailable (its custom key store is disconnected): {stop} Connect the key store (aws kms connect-custom-key-store --custom-key-store-id {store}), wait until the key is Enabled, then rerun.", "KmsKeyUnavailable");
                default:
                    return Blocked($"KMS key {name} of {used} is {state}, not Enabled: {stop} Wait until it is Enabled (aws kms describe-key --key-id {id}), then rerun.", "KmsKeyNotEnabled");
            }

            string usage = key.KeyUsage?.Value ?? "ENCRYPT_DECRYPT";
            string spec = key.KeySpec?.Value ?? "SYMMETRIC_DEFAULT";
            if (usage != "ENCRYPT_DECRYPT" || spec != "SYMMETRIC_DEFAULT")
            {
                return Blocked($"KMS key {name} of {used} is a {spec} key for {usage}; EBS needs a symmetric ENCRYPT_DECRYPT key, so {stop} Choose a recovery point encrypted with a usable key.", "KmsKeyNotUsable");
            }

            string managed = key.KeyManager?.Value == "AWS" ? ", AWS managed" : string.Empty;
            return new PreflightFinding(Check, PreflightStatus.Ok, $"KMS key {name} is enabled for ENCRYPT_DECRYPT{managed} ({Devices(devices)})");

            PreflightFinding Blocked(string message, string errorId)
                => new PreflightFinding(Check, PreflightStatus.Blocker, message, errorId, keyId, errorId == "KmsKeyNotUsable" ? CcieErrorCategory.InvalidData : CcieErrorCategory.ResourceUnavailable);
        }

        /// <summary>The region of a key or alias ARN (arn:partition:kms:region:account:key/... or :alias/...); null for ids and alias names.</summary>
        internal static string? RegionOf(string keyId)
        {
            if (!keyId.StartsWith("arn:", StringComparison.Ordinal))
            {
                return null;
            }

            string[] parts = keyId.Split(ArnSeparator, 6);
            return parts.Length == 6 && parts[2] == "kms" && parts[3].Length > 0 ? parts[3] : null;
        }

        private static bool IsKeyNotFound(CcieException e) => e.InnerException is NotFoundException || AwsRetry.IsNotFound(e);

        private static string Devices(IReadOnlyList<RestoreDevice> devices) => string.Join(", ", devices.Select(d => d.DeviceName));
    }
}
