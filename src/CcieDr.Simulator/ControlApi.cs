using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace CcieDr.Simulator;

/// <summary>The JSON control API under <c>/_sim/</c>.</summary>
internal sealed class ControlApi
{
    private readonly SimulatorControl control;

    public ControlApi(SimulatorControl control)
    {
        this.control = control;
    }

    public async Task HandleAsync(HttpContext http)
    {
        var method = http.Request.Method;
        var path = (http.Request.Path.Value ?? "").TrimEnd('/');
        JsonObject body;
        try
        {
            body = await ReadBody(http).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            await Write(http, 400, new JsonObject { ["error"] = "invalid JSON body: " + e.Message }).ConfigureAwait(false);
            return;
        }

        try
        {
            JsonNode? result = (method, path) switch
            {
                ("GET", "/_sim" or "/_sim/help") => Help(),
                ("POST", "/_sim/reset") => Do(control.Reset),
                ("POST", "/_sim/seed") => JsonSerializer.SerializeToNode(control.SeedCircleCi(Str(body, "region") ?? "us-east-1"), SimulatorControl.Json),
                ("GET", "/_sim/state") => control.State(),
                ("GET", "/_sim/clock") => Clock(),
                ("POST", "/_sim/clock/advance") => Do(() => control.AdvanceClock(Num(body, "seconds") ?? throw new ArgumentException("body needs \"seconds\""))).Then(Clock()),
                ("POST", "/_sim/clock") => Do(() => control.SetClockMode(ParseMode(Str(body, "mode")))).Then(Clock()),
                ("GET", "/_sim/config") => Config(),
                ("POST", "/_sim/config") => Configure(body),
                ("GET", "/_sim/faults") => Faults(),
                ("POST", "/_sim/faults") => Do(() => control.InjectFault(body.Deserialize<FaultSpec>(SimulatorControl.Json)!)).Then(Faults()),
                ("DELETE", "/_sim/faults") => Do(control.ClearFaults).Then(Faults()),
                ("POST", "/_sim/faults/eventual-consistency") => EventualConsistency(body),
                ("POST", "/_sim/faults/instance-death") => Do(() => control.KillInstance(Str(body, "region") ?? "us-east-1", Req(body, "instanceId"), Num(body, "stopAfterSeconds") ?? 10)),
                ("POST", "/_sim/faults/instance-impaired") => Do(() => control.SetInstanceImpaired(Str(body, "region") ?? "us-east-1", Req(body, "instanceId"), body["impaired"]?.GetValue<bool>() ?? true)),
                ("POST", "/_sim/faults/snapshot-failure") => SnapshotFailure(body),
                ("POST", "/_sim/faults/image-failure") => ImageFailure(body),
                ("POST", "/_sim/faults/corrupt-snapshot") => Do(() => control.CorruptSnapshot(Str(body, "region") ?? "us-east-1", Req(body, "snapshotId"))),
                ("POST", "/_sim/faults/az-outage") => Do(() => control.FailAvailabilityZone(Str(body, "region") ?? "us-east-1", Req(body, "zone"), Enum.Parse<AzOutageMode>(Str(body, "mode") ?? nameof(AzOutageMode.Impaired), true), (int)(Num(body, "hangMilliseconds") ?? 2000), Str(body, "error") ?? "InsufficientInstanceCapacity")),
                ("POST", "/_sim/faults/instance-zombie") => Do(() => control.SetInstanceZombie(Str(body, "region") ?? "us-east-1", Req(body, "instanceId"), body["zombie"]?.GetValue<bool>() ?? true)),
                ("DELETE", "/_sim/faults/az-outage") => Do(() => control.RestoreAvailabilityZone(
                    http.Request.Query["region"].ToString() is { Length: > 0 } r ? r : Str(body, "region") ?? "us-east-1",
                    http.Request.Query["zone"].ToString() is { Length: > 0 } z ? z : Req(body, "zone"))),
                ("POST", "/_sim/ssm/responses") => Do(() => control.AddSsmResponse(body.Deserialize<SsmResponseRule>(SimulatorControl.Json)!)),
                ("DELETE", "/_sim/ssm/responses") => Do(control.ClearSsmResponses),
                ("GET", "/_sim/kms/keys") => JsonSerializer.SerializeToNode(control.KmsKeys(http.Request.Query["region"].ToString() is { Length: > 0 } kr ? kr : "us-east-1"), SimulatorControl.Json),
                ("POST", "/_sim/kms/keys/state") => JsonSerializer.SerializeToNode(control.SetKmsKeyState(
                    Str(body, "region") ?? "us-east-1",
                    Req(body, "keyId"),
                    Req(body, "state"),
                    (int)(Num(body, "pendingWindowInDays") ?? 7)), SimulatorControl.Json),
                ("POST", "/_sim/kms/keys/describe-denied") => Do(() => control.SetKmsDescribeDenied(Str(body, "region") ?? "us-east-1", Req(body, "keyId"), body["denied"]?.GetValue<bool>() ?? true)),
                ("DELETE", "/_sim/kms/keys") => Do(() => control.DeleteKmsKey(
                    http.Request.Query["region"].ToString() is { Length: > 0 } dr ? dr : Str(body, "region") ?? "us-east-1",
                    http.Request.Query["keyId"].ToString() is { Length: > 0 } dk ? dk : Req(body, "keyId"))),
                ("GET", "/_sim/autoscaling/history") => JsonSerializer.SerializeToNode(control.AutoScalingHistory(
                    http.Request.Query["region"].ToString() is { Length: > 0 } hr ? hr : "us-east-1",
                    http.Request.Query["name"].ToString() is { Length: > 0 } hn ? hn : "circleci-builders",
                    http.Request.Query["since"].ToString() is { Length: > 0 } hs ? DateTime.Parse(hs, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal) : null), SimulatorControl.Json),
                ("GET", "/_sim/autoscaling") => JsonSerializer.SerializeToNode(control.AutoScalingGroups(http.Request.Query["region"].ToString() is { Length: > 0 } ar ? ar : "us-east-1"), SimulatorControl.Json),
                ("POST", "/_sim/autoscaling") => JsonSerializer.SerializeToNode(control.SetAutoScalingGroup(
                    Str(body, "region") ?? "us-east-1",
                    Str(body, "name") ?? "circleci-builders",
                    body["desiredCapacity"] is JsonValue dc ? dc.GetValue<int>() : null,
                    body["suspended"] is JsonValue sv ? sv.GetValue<bool>() : null,
                    Str(body, "launchTemplateVersion")), SimulatorControl.Json),
                ("GET", "/_sim/requests") => JsonSerializer.SerializeToNode(control.RequestLog(http.Request.Query["action"].ToString() is { Length: > 0 } a ? a : null), SimulatorControl.Json),
                ("DELETE", "/_sim/requests") => Do(control.ClearRequestLog),
                _ when path.StartsWith("/_sim/boxes/", StringComparison.Ordinal) => Boxes(method, path, body, http),
                _ when path.StartsWith("/_sim/cloudwatch/", StringComparison.Ordinal) => CloudWatch.CloudWatchControlApi.Handle(control, method, path, body, http.Request.Query),
                _ => throw new KeyNotFoundException($"no control route {method} {path}; GET /_sim/help lists them"),
            };
            await Write(http, 200, result ?? new JsonObject { ["ok"] = true }).ConfigureAwait(false);
        }
        catch (KeyNotFoundException e)
        {
            await Write(http, 404, new JsonObject { ["error"] = e.Message }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or JsonException or FormatException)
        {
            await Write(http, 400, new JsonObject { ["error"] = e.Message }).ConfigureAwait(false);
        }
    }

    private static JsonNode Help() => new JsonArray(
        "POST /_sim/reset",
        "POST /_sim/seed {\"region\":\"us-east-1\"}",
        "GET /_sim/state",
        "GET /_sim/clock",
        "POST /_sim/clock {\"mode\":\"manual|realtime\"}",
        "POST /_sim/clock/advance {\"seconds\":30}",
        "GET /_sim/config",
        "POST /_sim/config {\"clockMode\":\"manual\",\"transitionSeconds\":2,\"durations\":{...},\"pageSize\":2}",
        "GET /_sim/faults",
        "POST /_sim/faults {\"kind\":\"throttle|internal-error|unavailable|drop|drop-after|timeout|delay\",\"action\":\"DescribeInstances|*\",\"region\":null,\"count\":2,\"delayMilliseconds\":2000}",
        "DELETE /_sim/faults",
        "POST /_sim/faults/eventual-consistency {\"calls\":2} or {\"calls\":2,\"resourceId\":\"i-...\"}",
        "POST /_sim/faults/instance-death {\"region\":\"us-east-1\",\"instanceId\":\"i-...\",\"stopAfterSeconds\":10}",
        "POST /_sim/faults/instance-impaired {\"region\":\"us-east-1\",\"instanceId\":\"i-...\",\"impaired\":true}",
        "POST /_sim/faults/snapshot-failure {\"region\":\"us-east-1\",\"snapshotId\":\"snap-...\"} or {\"count\":1}",
        "POST /_sim/faults/image-failure {\"region\":\"us-east-1\",\"imageId\":\"ami-...\"} or {\"count\":1}",
        "POST /_sim/faults/corrupt-snapshot {\"region\":\"us-east-1\",\"snapshotId\":\"snap-...\"}",
        "POST /_sim/faults/az-outage {\"region\":\"us-east-1\",\"zone\":\"us-east-1a\",\"error\":\"InsufficientInstanceCapacity|Unsupported\"}",
        "DELETE /_sim/faults/az-outage?region=us-east-1&zone=us-east-1a",
        "POST /_sim/ssm/responses {\"match\":\"replicated apps\",\"instanceId\":null,\"exitCode\":0,\"stdout\":\"...\",\"stderr\":\"\",\"durationSeconds\":null}",
        "DELETE /_sim/ssm/responses",
        "GET /_sim/kms/keys?region=us-east-1",
        "POST /_sim/kms/keys/state {\"region\":\"us-east-1\",\"keyId\":\"<key id, ARN or alias/...>\",\"state\":\"Enabled|Disabled|PendingDeletion|PendingImport|Unavailable\",\"pendingWindowInDays\":7}",
        "POST /_sim/kms/keys/describe-denied {\"region\":\"us-east-1\",\"keyId\":\"alias/circleci-data\",\"denied\":true}",
        "DELETE /_sim/kms/keys?region=us-east-1&keyId=<key id, ARN or alias/...>",
        "GET /_sim/autoscaling?region=us-east-1",
        "GET /_sim/autoscaling/history?region=us-east-1&name=circleci-builders[&since=2026-12-07T10:00:00Z] (a point per change: time, desiredCapacity, inService, pending, terminating, connected, inServiceIds)",
        "POST /_sim/autoscaling {\"region\":\"us-east-1\",\"name\":\"circleci-builders\",\"desiredCapacity\":3,\"suspended\":false,\"launchTemplateVersion\":\"$Default\"}",
        "GET /_sim/requests[?action=RunInstances]",
        "DELETE /_sim/requests",
        "GET /_sim/boxes/<instance-id>[?region=us-east-1]",
        "GET /_sim/boxes/<instance-id>/file?path=/etc/default/replicated",
        "PUT /_sim/boxes/<instance-id>/file {\"path\":\"/etc/default/replicated\",\"content\":\"...\"}",
        "GET /_sim/boxes/{instanceId}/ports (the box's app ports as loopback stand-ins: {\"address\":\"127.0.0.1\",\"ports\":{\"80\":41001,...},\"open\":true})",
        "POST /_sim/boxes/{instanceId}/app {\"state\":\"started|stopped|null\",\"standinRoot\":\"/path/to/replicated-standin state dir|null\"}",
        "POST /_sim/boxes/app {\"standinRoot\":\"/sandboxes/{instanceId}/var/lib/replicated-standin\"} (the default for every box)",
        "POST /_sim/boxes/<instance-id>/standin {\"args\":[\"fail-start\",\"on\"]}").Append(CloudWatch.CloudWatchControlApi.Help);

    // The SSM sandbox's boxes: /_sim/boxes/<instance-id>[/file|/standin].
    private JsonNode? Boxes(string method, string path, JsonObject body, HttpContext http)
    {
        var parts = path["/_sim/boxes/".Length..].Split('/');
        if (parts[0] == "app" || (parts.Length > 1 && parts[1] is "ports" or "app"))
        {
            return control.AppPortListeners.Handle(method, path, body); // the app ports' loopback stand-ins
        }

        var id = parts[0];
        var region = http.Request.Query["region"].ToString() is { Length: > 0 } q ? q : Str(body, "region") ?? "us-east-1";
        return (method, parts.Length > 1 ? parts[1] : "") switch
        {
            ("GET", "") => new JsonObject { ["instanceId"] = id, ["privateIp"] = control.BoxPrivateIp(region, id), ["root"] = control.BoxRoot(region, id) },
            ("GET", "file") => new JsonObject
            {
                ["path"] = http.Request.Query["path"].ToString(),
                ["content"] = control.ReadBoxFile(region, id, http.Request.Query["path"].ToString()),
            },
            ("PUT" or "POST", "file") => Do(() => control.WriteBoxFile(region, id, Req(body, "path"), Str(body, "content") ?? "")),
            ("POST", "standin") => JsonSerializer.SerializeToNode(
                control.RunStandin(region, id, body["args"] is JsonArray a ? a.Select(x => x?.ToString() ?? "").ToArray() : throw new ArgumentException("body needs \"args\": [\"fail-start\", \"on\"]")),
                SimulatorControl.Json),
            _ => throw new KeyNotFoundException($"no control route {method} {path}; GET /_sim/help lists them"),
        };
    }

    private JsonNode Clock() => new JsonObject { ["now"] = control.Now, ["mode"] = control.ClockMode.ToString().ToLowerInvariant() };

    private JsonNode Config() => new JsonObject
    {
        ["clockMode"] = control.ClockMode.ToString().ToLowerInvariant(),
        ["pageSize"] = control.PageSize,
        ["durations"] = JsonSerializer.SerializeToNode(control.Durations, SimulatorControl.Json),
    };

    private JsonNode Configure(JsonObject body)
    {
        if (Str(body, "clockMode") is { } mode)
        {
            control.SetClockMode(ParseMode(mode));
        }

        if (Num(body, "transitionSeconds") is { } t)
        {
            control.SetTransitionSeconds(t);
        }

        if (body["durations"] is JsonObject d)
        {
            // Merge: only the given fields change.
            var current = JsonSerializer.SerializeToNode(control.Durations, SimulatorControl.Json)!.AsObject();
            foreach (var (k, v) in d)
            {
                current[k] = v?.DeepClone();
            }

            control.SetDurations(current.Deserialize<TransitionDurations>(SimulatorControl.Json)!);
        }

        if (body.ContainsKey("pageSize"))
        {
            control.PageSize = body["pageSize"] is { } ps ? ps.GetValue<int>() : null;
        }

        return Config();
    }

    private JsonNode Faults() => new JsonObject
    {
        ["served"] = JsonSerializer.SerializeToNode(control.FaultCounters(), SimulatorControl.Json),
        ["pending"] = JsonSerializer.SerializeToNode(control.PendingFaults(), SimulatorControl.Json),
    };

    private JsonNode? EventualConsistency(JsonObject body)
    {
        var calls = (int)(Num(body, "calls") ?? throw new ArgumentException("body needs \"calls\""));
        if (Str(body, "resourceId") is { } id)
        {
            control.HideResource(id, calls);
        }
        else
        {
            control.SetEventualConsistency(calls);
        }

        return null;
    }

    private JsonNode? ImageFailure(JsonObject body)
    {
        if (Str(body, "imageId") is { } id)
        {
            control.FailImage(Str(body, "region") ?? "us-east-1", id);
        }
        else
        {
            control.FailNextImages((int)(Num(body, "count") ?? 1));
        }

        return null;
    }

    private JsonNode? SnapshotFailure(JsonObject body)
    {
        if (Str(body, "snapshotId") is { } id)
        {
            control.FailSnapshot(Str(body, "region") ?? "us-east-1", id);
        }
        else
        {
            control.FailNextSnapshots((int)(Num(body, "count") ?? 1));
        }

        return null;
    }

    private static ClockMode ParseMode(string? mode) => mode?.ToLowerInvariant() switch
    {
        "manual" => ClockMode.Manual,
        "realtime" or "real-time" => ClockMode.Realtime,
        _ => throw new ArgumentException("mode must be \"manual\" or \"realtime\""),
    };

    private static JsonNode? Do(Action a)
    {
        a();
        return null;
    }

    private static string? Str(JsonObject o, string name) => o[name] is JsonValue v ? v.ToString() : null;

    private static string Req(JsonObject o, string name) => Str(o, name) ?? throw new ArgumentException($"body needs \"{name}\"");

    private static double? Num(JsonObject o, string name) => o[name] is JsonValue v ? v.GetValue<double>() : null;

    private static async Task<JsonObject> ReadBody(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body);
        var text = await reader.ReadToEndAsync(http.RequestAborted).ConfigureAwait(false);
        return string.IsNullOrWhiteSpace(text) ? new JsonObject() : JsonNode.Parse(text)?.AsObject() ?? new JsonObject();
    }

    private static async Task Write(HttpContext http, int status, JsonNode node)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(node.ToJsonString(SimulatorControl.Json), http.RequestAborted).ConfigureAwait(false);
    }
}

internal static class JsonNodeExtensions
{
    /// <summary>Appends <paramref name="more"/> strings to an array (route lists of other files).</summary>
    public static JsonArray Append(this JsonArray array, IEnumerable<string> more)
    {
        foreach (var m in more)
        {
            array.Add(m);
        }

        return array;
    }

    /// <summary>Ignores the left value and yields <paramref name="next"/> (sequencing in switch expressions).</summary>
    public static JsonNode Then(this JsonNode? ignored, JsonNode next)
    {
        _ = ignored;
        return next;
    }
}
