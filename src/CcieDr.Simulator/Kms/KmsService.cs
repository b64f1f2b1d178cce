using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace CcieDr.Simulator.Kms;

/// <summary>A KMS API error: <c>{"__type": code, "message": …}</c>.</summary>
internal sealed class KmsError(string type, string message, HttpStatusCode status = HttpStatusCode.BadRequest) : Exception(message)
{
    public string Type { get; } = type;

    public HttpStatusCode Status { get; } = status;
}

/// <summary>
/// KMS (JSON 1.1 protocol, <c>X-Amz-Target: TrentService.X</c>, SigV4 service <c>kms</c>): symmetric keys and
/// aliases per region, enough for the restore pre-flight (DescribeKey) and for an operator's fix (EnableKey,
/// CancelKeyDeletion). No cryptography: keys only have a state. Keys pending deletion are deleted when the
/// simulated clock passes their deletion date.
/// </summary>
internal sealed class KmsService
{
    private readonly Dictionary<string, Func<World, RegionState, JsonObject, JsonObject>> actions;

    public KmsService()
    {
        actions = new(StringComparer.Ordinal)
        {
            ["DescribeKey"] = DescribeKey,
            ["ListKeys"] = ListKeys,
            ["ListAliases"] = ListAliases,
            ["EnableKey"] = EnableKey,
            ["DisableKey"] = DisableKey,
            ["ScheduleKeyDeletion"] = ScheduleKeyDeletion,
            ["CancelKeyDeletion"] = CancelKeyDeletion,
        };
    }

    public IReadOnlyCollection<string> Actions => actions.Keys;

    public JsonObject Execute(World w, RegionState r, string action, JsonObject body)
    {
        if (!actions.TryGetValue(action, out var handler))
        {
            throw new KmsError("UnknownOperationException", $"Operation {action} is not supported.");
        }

        return handler(w, r, body);
    }

    /// <summary>Creates an Enabled key (and its alias) in <paramref name="r"/>; <paramref name="id"/> is its key id.</summary>
    internal static KmsKey AddKey(World w, RegionState r, Guid id, string keyManager, string description, string? alias)
    {
        var keyId = id.ToString();
        var key = new KmsKey
        {
            KeyId = keyId,
            Arn = $"arn:aws:kms:{r.Name}:{w.AccountId}:key/{keyId}",
            KeyManager = keyManager,
            Description = description,
            CreationDate = w.Now.AddDays(-90),
        };
        r.KmsKeys[keyId] = key;
        if (alias is not null)
        {
            r.KmsAliases[alias] = keyId;
        }

        return key;
    }

    /// <summary>The key <paramref name="keyId"/> names (key id, key ARN, alias name or alias ARN), or NotFoundException.</summary>
    internal static KmsKey Find(World w, RegionState r, string keyId)
    {
        var resource = keyId;
        if (keyId.StartsWith("arn:", StringComparison.Ordinal))
        {
            var parts = keyId.Split(':', 6);
            if (parts.Length != 6 || parts[2] != "kms")
            {
                throw new KmsError("NotFoundException", $"Invalid arn {keyId}");
            }

            if (parts[3] != r.Name)
            {
                throw new KmsError("NotFoundException", $"Invalid arn {parts[3]}");
            }

            if (parts[4] != w.AccountId)
            {
                throw new KmsError("NotFoundException", $"Key '{keyId}' does not exist");
            }

            resource = parts[5].StartsWith("key/", StringComparison.Ordinal) ? parts[5][4..] : parts[5];
        }

        if (resource.StartsWith("alias/", StringComparison.Ordinal))
        {
            return r.KmsAliases.TryGetValue(resource, out var target) && r.KmsKeys.TryGetValue(target, out var aliased)
                ? aliased
                : throw new KmsError("NotFoundException", $"Alias arn:aws:kms:{r.Name}:{w.AccountId}:{resource} is not found.");
        }

        return r.KmsKeys.TryGetValue(resource, out var key)
            ? key
            : throw new KmsError("NotFoundException", $"Key 'arn:aws:kms:{r.Name}:{w.AccountId}:key/{resource}' does not exist");
    }

    /// <summary>Deletes a key and its aliases (the end of a pending deletion, or the control API).</summary>
    internal static void Delete(RegionState r, KmsKey key)
    {
        r.KmsKeys.Remove(key.KeyId);
        foreach (var alias in r.KmsAliases.Where(a => a.Value == key.KeyId).Select(a => a.Key).ToList())
        {
            r.KmsAliases.Remove(alias);
        }
    }

    /// <summary>Deletes the keys whose deletion date has passed.</summary>
    internal static void Expire(RegionState r, DateTime now)
    {
        foreach (var key in r.KmsKeys.Values.Where(k => k.State == KmsKeyStates.PendingDeletion && k.DeletionDate <= now).ToList())
        {
            Delete(r, key);
        }
    }

    internal static IReadOnlyList<string> AliasesOf(RegionState r, KmsKey key) =>
        r.KmsAliases.Where(a => a.Value == key.KeyId).Select(a => a.Key).OrderBy(a => a, StringComparer.Ordinal).ToList();

    private static double Epoch(DateTime t) => (t - DateTime.UnixEpoch).TotalSeconds;

    private static string? Str(JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static string RequiredKeyId(JsonObject o) =>
        Str(o, "KeyId") is { Length: > 0 } s ? s : throw new KmsError("ValidationException", "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");

    private static JsonObject Metadata(World w, KmsKey k)
    {
        var m = new JsonObject
        {
            ["AWSAccountId"] = w.AccountId,
            ["KeyId"] = k.KeyId,
            ["Arn"] = k.Arn,
            ["CreationDate"] = Epoch(k.CreationDate),
            ["Enabled"] = k.State == KmsKeyStates.Enabled,
            ["Description"] = k.Description,
            ["KeyUsage"] = "ENCRYPT_DECRYPT",
            ["KeyState"] = k.State,
            ["Origin"] = "AWS_KMS",
            ["KeyManager"] = k.KeyManager,
            ["CustomerMasterKeySpec"] = "SYMMETRIC_DEFAULT",
            ["KeySpec"] = "SYMMETRIC_DEFAULT",
            ["EncryptionAlgorithms"] = new JsonArray("SYMMETRIC_DEFAULT"),
            ["MultiRegion"] = false,
        };
        if (k.DeletionDate is { } d)
        {
            m["DeletionDate"] = Epoch(d);
            m["PendingDeletionWindowInDays"] = k.PendingWindowInDays;
        }

        return m;
    }

    private JsonObject DescribeKey(World w, RegionState r, JsonObject body)
    {
        var key = Find(w, r, RequiredKeyId(body));
        if (key.DescribeDenied)
        {
            throw new KmsError("AccessDeniedException", $"User: arn:aws:iam::{w.AccountId}:user/simulator is not authorized to perform: kms:DescribeKey on resource: {key.Arn} because no resource-based policy allows the kms:DescribeKey action");
        }

        return new JsonObject { ["KeyMetadata"] = Metadata(w, key) };
    }

    private static (int Offset, int Limit) Page(JsonObject body)
    {
        var limit = 100;
        if (body["Limit"] is JsonValue lv)
        {
            limit = lv.GetValue<int>();
            if (limit < 1 || limit > 1000)
            {
                throw new KmsError("ValidationException", $"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000");
            }
        }

        var offset = 0;
        if (Str(body, "Marker") is { } marker)
        {
            try
            {
                var text = Encoding.UTF8.GetString(Convert.FromBase64String(marker));
                offset = text.StartsWith("kms1|", StringComparison.Ordinal) ? int.Parse(text[5..], CultureInfo.InvariantCulture) : throw new FormatException();
            }
            catch (FormatException)
            {
                throw new KmsError("InvalidMarkerException", "The marker is not valid.");
            }
        }

        return (offset, limit);
    }

    private static JsonObject Paged(JsonObject result, int offset, int limit, int total)
    {
        var truncated = offset + limit < total;
        result["Truncated"] = truncated;
        if (truncated)
        {
            result["NextMarker"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"kms1|{offset + limit}"));
        }

        return result;
    }

    private JsonObject ListKeys(World w, RegionState r, JsonObject body)
    {
        var (offset, limit) = Page(body);
        var keys = r.KmsKeys.Values.OrderBy(k => k.KeyId, StringComparer.Ordinal).ToList();
        var page = keys.Skip(offset).Take(limit).Select(k => (JsonNode)new JsonObject { ["KeyId"] = k.KeyId, ["KeyArn"] = k.Arn }).ToArray();
        return Paged(new JsonObject { ["Keys"] = new JsonArray(page) }, offset, limit, keys.Count);
    }

    private JsonObject ListAliases(World w, RegionState r, JsonObject body)
    {
        var (offset, limit) = Page(body);
        var aliases = r.KmsAliases.OrderBy(a => a.Key, StringComparer.Ordinal).ToList();
        if (Str(body, "KeyId") is { Length: > 0 } keyId)
        {
            var key = Find(w, r, keyId);
            aliases = aliases.Where(a => a.Value == key.KeyId).ToList();
        }

        var page = aliases.Skip(offset).Take(limit).Select(a => (JsonNode)new JsonObject
        {
            ["AliasName"] = a.Key,
            ["AliasArn"] = $"arn:aws:kms:{r.Name}:{w.AccountId}:{a.Key}",
            ["TargetKeyId"] = a.Value,
            ["CreationDate"] = Epoch(r.KmsKeys.TryGetValue(a.Value, out var k) ? k.CreationDate : w.Now),
        }).ToArray();
        return Paged(new JsonObject { ["Aliases"] = new JsonArray(page) }, offset, limit, aliases.Count);
    }

    private static KmsKey Customer(World w, RegionState r, JsonObject body, string operation)
    {
        var key = Find(w, r, RequiredKeyId(body));
        return key.KeyManager == "AWS"
            ? throw new KmsError("AccessDeniedException", $"User: arn:aws:iam::{w.AccountId}:user/simulator is not authorized to perform: kms:{operation} on resource: {key.Arn} because it is an AWS managed key")
            : key;
    }

    private JsonObject EnableKey(World w, RegionState r, JsonObject body)
    {
        var key = Customer(w, r, body, "EnableKey");
        if (key.State is not (KmsKeyStates.Enabled or KmsKeyStates.Disabled))
        {
            throw new KmsError("KMSInvalidStateException", $"{key.Arn} is {StateText(key.State)}.");
        }

        key.State = KmsKeyStates.Enabled;
        return new JsonObject();
    }

    private JsonObject DisableKey(World w, RegionState r, JsonObject body)
    {
        var key = Customer(w, r, body, "DisableKey");
        if (key.State is not (KmsKeyStates.Enabled or KmsKeyStates.Disabled))
        {
            throw new KmsError("KMSInvalidStateException", $"{key.Arn} is {StateText(key.State)}.");
        }

        key.State = KmsKeyStates.Disabled;
        return new JsonObject();
    }

    private JsonObject ScheduleKeyDeletion(World w, RegionState r, JsonObject body)
    {
        var key = Customer(w, r, body, "ScheduleKeyDeletion");
        var days = body["PendingWindowInDays"] is JsonValue dv ? dv.GetValue<int>() : 30;
        if (days < 7 || days > 30)
        {
            throw new KmsError("ValidationException", $"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30");
        }

        if (key.State == KmsKeyStates.PendingDeletion)
        {
            throw new KmsError("KMSInvalidStateException", $"{key.Arn} is pending deletion.");
        }

        key.State = KmsKeyStates.PendingDeletion;
        key.PendingWindowInDays = days;
        key.DeletionDate = w.Now.AddDays(days);
        return new JsonObject { ["KeyId"] = key.Arn, ["DeletionDate"] = Epoch(key.DeletionDate.Value), ["KeyState"] = key.State, ["PendingWindowInDays"] = days };
    }

    private JsonObject CancelKeyDeletion(World w, RegionState r, JsonObject body)
    {
        var key = Customer(w, r, body, "CancelKeyDeletion");
        if (key.State != KmsKeyStates.PendingDeletion)
        {
            throw new KmsError("KMSInvalidStateException", $"{key.Arn} is not pending deletion.");
        }

        key.State = KmsKeyStates.Disabled;
        key.DeletionDate = null;
        key.PendingWindowInDays = null;
        return new JsonObject { ["KeyId"] = key.Arn };
    }

    private static string StateText(string state) => state switch
    {
        KmsKeyStates.PendingDeletion => "pending deletion",
        KmsKeyStates.PendingImport => "pending import",
        _ => state.ToLowerInvariant(),
    };
}
