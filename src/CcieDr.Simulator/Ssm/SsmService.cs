using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace CcieDr.Simulator.Ssm;

/// <summary>An SSM API error: <c>{"__type": code, "message": …}</c>.</summary>
internal sealed class SsmError(string type, string message, HttpStatusCode status = HttpStatusCode.BadRequest) : Exception(message)
{
    public string Type { get; } = type;

    public HttpStatusCode Status { get; } = status;
}

/// <summary>
/// SSM (JSON 1.1 protocol, <c>X-Amz-Target: AmazonSSM.X</c>): managed instances and Run Command.
/// An instance is managed when it has an IAM instance profile; it is Online while running, not impaired and its AZ is up.
/// What a command prints comes from the in-proc handler or the response rules; when it runs, for how long and whether it
/// is delivered at all comes from the instance's state and the clock.
/// </summary>
internal sealed class SsmService
{
    private readonly Dictionary<string, Func<World, RegionState, JsonObject, JsonObject>> actions;

    public SsmService()
    {
        actions = new(StringComparer.Ordinal)
        {
            ["DescribeInstanceInformation"] = DescribeInstanceInformation,
            ["SendCommand"] = SendCommand,
            ["GetCommandInvocation"] = GetCommandInvocation,
            ["ListCommandInvocations"] = ListCommandInvocations,
            ["ListCommands"] = ListCommands,
            ["CancelCommand"] = CancelCommand,
        };
    }

    public IReadOnlyCollection<string> Actions => actions.Keys;

    /// <summary>Characters of stdout and of stderr GetCommandInvocation returns at most (as SSM).</summary>
    public const int InlineOutputLimit = 24000;

    public JsonObject Execute(World w, RegionState r, string action, JsonObject body)
    {
        if (!actions.TryGetValue(action, out var handler))
        {
            throw new SsmError("UnknownOperationException", $"Operation {action} is not supported.");
        }

        return handler(w, r, body);
    }

    internal static bool Managed(Instance i) => i.IamProfileArn is not null && i.State != InstanceStates.Terminated;

    internal static bool Online(RegionState r, Instance i) =>
        Managed(i) && i.State == InstanceStates.Running && !i.Impaired && r.FindZone(i.AvailabilityZone)?.Failed != true;

    private static double Epoch(DateTime t) => (t - DateTime.UnixEpoch).TotalSeconds;

    private static string Iso(DateTime t) => t.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string? Str(JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static string Required(JsonObject o, string name) =>
        Str(o, name) is { Length: > 0 } s ? s : throw new SsmError("ValidationException", $"1 validation error detected: Value null at '{char.ToLowerInvariant(name[0])}{name[1..]}' failed to satisfy constraint: Member must not be null");

    private static List<string> Strings(JsonNode? node) =>
        node is JsonArray a ? a.Select(x => x?.GetValue<string>() ?? "").ToList() : new List<string>();

    private static (int Offset, int Size) Page(JsonObject body, int min, int max, int defaultSize)
    {
        var size = defaultSize;
        if (body["MaxResults"] is JsonValue mv)
        {
            size = mv.GetValue<int>();
            if (size < min || size > max)
            {
                throw new SsmError("ValidationException", $"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: Member must have value between {min} and {max}");
            }
        }

        var offset = 0;
        if (Str(body, "NextToken") is { } token)
        {
            try
            {
                var text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
                offset = text.StartsWith("ssm1|", StringComparison.Ordinal) ? int.Parse(text[5..], CultureInfo.InvariantCulture) : throw new FormatException();
            }
            catch (FormatException)
            {
                throw new SsmError("InvalidNextToken", "The specified token is not valid.");
            }
        }

        return (offset, size);
    }

    private static string? NextToken(int offset, int size, int total) =>
        offset + size < total ? Convert.ToBase64String(Encoding.UTF8.GetBytes($"ssm1|{offset + size}")) : null;

    private JsonObject DescribeInstanceInformation(World w, RegionState r, JsonObject body)
    {
        var instances = r.Instances.Values.Where(Managed).OrderBy(i => i.Id, StringComparer.Ordinal).ToList();
        var filters = new List<(string Key, List<string> Values)>();
        if (body["InstanceInformationFilterList"] is JsonArray fl)
        {
            filters.AddRange(fl.OfType<JsonObject>().Select(f => (Str(f, "key") ?? "", Strings(f["valueSet"]))));
        }

        if (body["Filters"] is JsonArray fs)
        {
            filters.AddRange(fs.OfType<JsonObject>().Select(f => (Str(f, "Key") ?? "", Strings(f["Values"]))));
        }

        foreach (var (key, values) in filters)
        {
            instances = key switch
            {
                "InstanceIds" => instances.Where(i => values.Contains(i.Id)).ToList(),
                "PingStatus" => instances.Where(i => values.Contains(Online(r, i) ? "Online" : "ConnectionLost")).ToList(),
                "PlatformTypes" => instances.Where(_ => values.Contains("Linux")).ToList(),
                "ResourceType" => instances.Where(_ => values.Contains("EC2Instance")).ToList(),
                "IamRole" => instances.Where(i => values.Contains(i.IamProfileArn!)).ToList(),
                _ when key.StartsWith("tag:", StringComparison.Ordinal) => instances.Where(i => i.Tags.TryGetValue(key[4..], out var v) && values.Contains(v)).ToList(),
                _ => throw new SsmError("InvalidInstanceInformationFilterValue", $"The filter key {key} is not valid."),
            };
        }

        var (offset, size) = Page(body, 5, 50, 50);
        var page = instances.Skip(offset).Take(size).ToList();
        return new JsonObject
        {
            ["InstanceInformationList"] = new JsonArray(page.Select(i => (JsonNode)new JsonObject
            {
                ["InstanceId"] = i.Id,
                ["PingStatus"] = Online(r, i) ? "Online" : "ConnectionLost",
                ["LastPingDateTime"] = Epoch(Online(r, i) ? w.Now : i.RunningSince ?? i.LaunchTime),
                ["AgentVersion"] = "3.3.1142.0",
                ["IsLatestVersion"] = true,
                ["PlatformType"] = "Linux",
                ["PlatformName"] = "Ubuntu",
                ["PlatformVersion"] = "24.04",
                ["ResourceType"] = "EC2Instance",
                ["IPAddress"] = i.PrivateIpAddress,
                ["ComputerName"] = Ec2.Ec2Service.PrivateDns(r, i.PrivateIpAddress),
                ["IamRole"] = i.IamProfileArn,
                ["SourceId"] = i.Id,
                ["SourceType"] = "AWS::EC2::Instance",
            }).ToArray()),
            ["NextToken"] = NextToken(offset, size, instances.Count),
        };
    }

    private JsonObject SendCommand(World w, RegionState r, JsonObject body)
    {
        var document = Required(body, "DocumentName");
        if (document is not ("AWS-RunShellScript" or "AWS-RunPowerShellScript"))
        {
            throw new SsmError("InvalidDocument", $"Document with name {document} does not exist.");
        }

        var ids = Strings(body["InstanceIds"]);
        if (ids.Count == 0)
        {
            throw new SsmError("ValidationException", "InstanceIds is required (Targets are not supported by the simulator).");
        }

        var parameters = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (body["Parameters"] is JsonObject p)
        {
            foreach (var (k, v) in p)
            {
                parameters[k] = Strings(v);
            }
        }

        if (!parameters.TryGetValue("commands", out var commands) || commands.Count == 0)
        {
            throw new SsmError("InvalidParameters", "Parameter \"commands\" is required.");
        }

        var invalid = ids.Where(id => !r.Instances.TryGetValue(id, out var i) || !Managed(i) || i.State is not (InstanceStates.Running or InstanceStates.Pending) || w.Invisible.ContainsKey(id)).ToList();
        if (invalid.Count > 0)
        {
            throw new SsmError("InvalidInstanceId", $"Instances [[{string.Join(", ", invalid)}]] not in a valid state for account {w.AccountId}");
        }

        var timeout = body["TimeoutSeconds"] is JsonValue tv ? tv.GetValue<int>() : 3600;
        var executionTimeout = parameters.TryGetValue("executionTimeout", out var et) && et.Count > 0 && int.TryParse(et[0], out var e) ? e : 3600;
        var now = w.Now;
        var command = new SsmCommand
        {
            CommandId = Guid.NewGuid().ToString(),
            DocumentName = document,
            Comment = Str(body, "Comment"),
            Parameters = parameters,
            RequestedAt = now,
            TimeoutSeconds = timeout,
        };
        if (w.NewIdInvisibleCalls > 0)
        {
            w.Invisible[command.CommandId] = w.NewIdInvisibleCalls;
        }

        var script = string.Join("\n", commands);
        foreach (var id in ids.Distinct())
        {
            var inst = r.Instances[id];
            var invocation = new SsmInvocation
            {
                CommandId = command.CommandId,
                InstanceId = id,
                InstanceName = inst.Tag("Name"),
                RequestedAt = now,
                DeliveryDeadline = now.AddSeconds(timeout),
            };
            if (Online(r, inst))
            {
                var request = new SsmCommandRequest
                {
                    Region = r.Name,
                    InstanceId = id,
                    DocumentName = document,
                    Script = script,
                    Parameters = parameters.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value),
                    InstanceName = inst.Tag("Name"),
                };
                var answer = w.AnswerSsm(request);
                if (answer is null && w.Sandbox is { } sandbox && document == "AWS-RunShellScript")
                {
                    // Runs for real in the box's sandbox: InProgress until the process ends (or is killed).
                    invocation.StartsAt = now;
                    invocation.EndsAt = DateTime.MaxValue;
                    var root = sandbox.BoxRoot(inst, r, now);
                    sandbox.WriteCapacity(root, CloudWatch.CloudWatchPublisher.CapacityOf(r, inst));
                    invocation.Run = sandbox.Start(root, script, now, TimeSpan.FromSeconds(executionTimeout), run => Completed(w, invocation, run));
                    command.Invocations.Add(invocation);
                    continue;
                }

                var result = answer ?? w.RunSsm(request);
                invocation.Result = result;
                invocation.StartsAt = now;
                invocation.EndsAt = now.AddSeconds(result.DurationSeconds ?? w.Durations.SsmCommand);
                invocation.ExecutionDeadline = now.AddSeconds(executionTimeout);
            }

            command.Invocations.Add(invocation);
        }

        r.SsmCommands[command.CommandId] = command;
        return new JsonObject { ["Command"] = CommandJson(w, command) };
    }

    private static void Completed(World w, SsmInvocation invocation, SandboxRun run)
    {
        lock (w.Sync)
        {
            var end = w.Now < invocation.StartsAt!.Value ? invocation.StartsAt.Value : w.Now;
            invocation.Result = new SsmCommandResult { ExitCode = run.TimedOut ? -1 : run.ExitCode, StandardOutput = run.Stdout, StandardError = run.Stderr };
            invocation.EndsAt = end;
            if (run.TimedOut)
            {
                invocation.ExecutionTimedOut = true;
                invocation.ExecutionDeadline = end;
            }
        }
    }

    private static string Aggregate(World w, SsmCommand c)
    {
        var states = c.Invocations.Select(i => i.StatusAt(w.Now).Status).ToList();
        if (states.Any(s => s is "Pending" or "InProgress"))
        {
            return states.Any(s => s == "InProgress") || states.Any(s => s != "Pending") ? "InProgress" : "Pending";
        }

        if (states.All(s => s == "Success"))
        {
            return "Success";
        }

        if (states.All(s => s == "Cancelled"))
        {
            return "Cancelled";
        }

        return states.Any(s => s == "TimedOut") ? "TimedOut" : "Failed";
    }

    private static JsonObject CommandJson(World w, SsmCommand c)
    {
        var status = Aggregate(w, c);
        var parameters = new JsonObject();
        foreach (var (k, v) in c.Parameters)
        {
            parameters[k] = new JsonArray(v.Select(x => (JsonNode)JsonValue.Create(x)!).ToArray());
        }

        return new JsonObject
        {
            ["CommandId"] = c.CommandId,
            ["DocumentName"] = c.DocumentName,
            ["DocumentVersion"] = "$DEFAULT",
            ["Comment"] = c.Comment ?? "",
            ["ExpiresAfter"] = Epoch(c.RequestedAt.AddSeconds(c.TimeoutSeconds)),
            ["Parameters"] = parameters,
            ["InstanceIds"] = new JsonArray(c.Invocations.Select(i => (JsonNode)JsonValue.Create(i.InstanceId)!).ToArray()),
            ["Targets"] = new JsonArray(),
            ["RequestedDateTime"] = Epoch(c.RequestedAt),
            ["Status"] = status,
            ["StatusDetails"] = status,
            ["TargetCount"] = c.Invocations.Count,
            ["CompletedCount"] = c.Invocations.Count(i => i.StatusAt(w.Now).Status is not ("Pending" or "InProgress")),
            ["ErrorCount"] = c.Invocations.Count(i => i.StatusAt(w.Now).Status is "Failed" or "TimedOut"),
            ["DeliveryTimedOutCount"] = c.Invocations.Count(i => i.StatusAt(w.Now).Details == "DeliveryTimedOut"),
            ["TimeoutSeconds"] = c.TimeoutSeconds,
        };
    }

    private static SsmCommand FindCommand(World w, RegionState r, string id, string notFoundType)
    {
        if (!r.SsmCommands.TryGetValue(id, out var c) || w.Invisible.ContainsKey(id))
        {
            if (w.Invisible.TryGetValue(id, out var left))
            {
                if (left <= 1)
                {
                    w.Invisible.Remove(id);
                }
                else
                {
                    w.Invisible[id] = left - 1;
                }
            }

            throw notFoundType == "InvocationDoesNotExist"
                ? new SsmError("InvocationDoesNotExist", "")
                : new SsmError("InvalidCommandId", "");
        }

        return c;
    }

    private static (string Stdout, string Stderr, int Code, DateTime? Start, DateTime? End) Outcome(World w, SsmInvocation i)
    {
        var (status, _) = i.StatusAt(w.Now);
        return status switch
        {
            "Success" or "Failed" => (i.Result!.StandardOutput, i.Result.StandardError, i.Result.ExitCode, i.StartsAt, i.EndsAt),
            "TimedOut" when i.StartsAt is not null => ("", "", -1, i.StartsAt, i.ExecutionDeadline),
            "InProgress" => ("", "", -1, i.StartsAt, null),
            _ => ("", "", -1, null, null),
        };
    }

    private JsonObject GetCommandInvocation(World w, RegionState r, JsonObject body)
    {
        var command = FindCommand(w, r, Required(body, "CommandId"), "InvocationDoesNotExist");
        var instanceId = Required(body, "InstanceId");
        var inv = command.Invocations.FirstOrDefault(i => i.InstanceId == instanceId) ?? throw new SsmError("InvocationDoesNotExist", "");
        var (status, details) = inv.StatusAt(w.Now);
        var (stdout, stderr, code, start, end) = Outcome(w, inv);

        // Like SSM: at most 24,000 characters of each stream inline (the rest only in the S3 output, if any).
        stdout = stdout.Length > InlineOutputLimit ? stdout[..InlineOutputLimit] : stdout;
        stderr = stderr.Length > InlineOutputLimit ? stderr[..InlineOutputLimit] : stderr;
        return new JsonObject
        {
            ["CommandId"] = command.CommandId,
            ["InstanceId"] = inv.InstanceId,
            ["Comment"] = command.Comment ?? "",
            ["DocumentName"] = command.DocumentName,
            ["DocumentVersion"] = "$DEFAULT",
            ["PluginName"] = command.DocumentName == "AWS-RunShellScript" ? "aws:runShellScript" : "aws:runPowerShellScript",
            ["ResponseCode"] = code,
            ["ExecutionStartDateTime"] = start is { } s ? Iso(s) : "",
            ["ExecutionEndDateTime"] = end is { } e ? Iso(e) : "",
            ["ExecutionElapsedTime"] = start is { } s2 && end is { } e2 ? $"PT{(e2 - s2).TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)}S" : "",
            ["Status"] = status,
            ["StatusDetails"] = details,
            ["StandardOutputContent"] = stdout,
            ["StandardOutputUrl"] = "",
            ["StandardErrorContent"] = stderr,
            ["StandardErrorUrl"] = "",
            ["CloudWatchOutputConfig"] = new JsonObject { ["CloudWatchLogGroupName"] = "", ["CloudWatchOutputEnabled"] = false },
        };
    }

    private JsonObject ListCommandInvocations(World w, RegionState r, JsonObject body)
    {
        var commandId = Str(body, "CommandId");
        var instanceId = Str(body, "InstanceId");
        var details = body["Details"] is JsonValue dv && dv.GetValue<bool>();
        IEnumerable<SsmCommand> commands = commandId is null ? r.SsmCommands.Values.OrderBy(c => c.RequestedAt) : [FindCommand(w, r, commandId, "InvalidCommandId")];
        var invocations = commands.SelectMany(c => c.Invocations.Select(i => (Command: c, Invocation: i)))
            .Where(x => instanceId is null || x.Invocation.InstanceId == instanceId)
            .ToList();
        var (offset, size) = Page(body, 1, 50, 50);
        var page = invocations.Skip(offset).Take(size).ToList();
        return new JsonObject
        {
            ["CommandInvocations"] = new JsonArray(page.Select(x =>
            {
                var (status, statusDetails) = x.Invocation.StatusAt(w.Now);
                var (stdout, stderr, code, start, end) = Outcome(w, x.Invocation);
                var o = new JsonObject
                {
                    ["CommandId"] = x.Command.CommandId,
                    ["InstanceId"] = x.Invocation.InstanceId,
                    ["InstanceName"] = x.Invocation.InstanceName ?? "",
                    ["Comment"] = x.Command.Comment ?? "",
                    ["DocumentName"] = x.Command.DocumentName,
                    ["DocumentVersion"] = "$DEFAULT",
                    ["RequestedDateTime"] = Epoch(x.Invocation.RequestedAt),
                    ["Status"] = status,
                    ["StatusDetails"] = statusDetails,
                    ["StandardOutputUrl"] = "",
                    ["StandardErrorUrl"] = "",
                };
                if (details)
                {
                    var output = stdout + (stderr.Length > 0 ? "\n----------ERROR-------\n" + stderr : "");
                    o["CommandPlugins"] = new JsonArray(new JsonObject
                    {
                        ["Name"] = x.Command.DocumentName == "AWS-RunShellScript" ? "aws:runShellScript" : "aws:runPowerShellScript",
                        ["Status"] = status,
                        ["StatusDetails"] = statusDetails,
                        ["ResponseCode"] = code,
                        ["ResponseStartDateTime"] = start is { } s ? Epoch(s) : null,
                        ["ResponseFinishDateTime"] = end is { } e ? Epoch(e) : null,
                        ["Output"] = output.Length > 2500 ? output[..2500] : output,
                        ["StandardOutputUrl"] = "",
                        ["StandardErrorUrl"] = "",
                    });
                }

                return (JsonNode)o;
            }).ToArray()),
            ["NextToken"] = NextToken(offset, size, invocations.Count),
        };
    }

    private JsonObject ListCommands(World w, RegionState r, JsonObject body)
    {
        var commandId = Str(body, "CommandId");
        var instanceId = Str(body, "InstanceId");
        IEnumerable<SsmCommand> commands = commandId is null ? r.SsmCommands.Values.OrderBy(c => c.RequestedAt) : [FindCommand(w, r, commandId, "InvalidCommandId")];
        var list = commands.Where(c => instanceId is null || c.Invocations.Any(i => i.InstanceId == instanceId)).ToList();
        var (offset, size) = Page(body, 1, 50, 50);
        return new JsonObject
        {
            ["Commands"] = new JsonArray(list.Skip(offset).Take(size).Select(c => (JsonNode)CommandJson(w, c)).ToArray()),
            ["NextToken"] = NextToken(offset, size, list.Count),
        };
    }

    private JsonObject CancelCommand(World w, RegionState r, JsonObject body)
    {
        var command = FindCommand(w, r, Required(body, "CommandId"), "InvalidCommandId");
        var ids = Strings(body["InstanceIds"]);
        foreach (var inv in command.Invocations.Where(i => ids.Count == 0 || ids.Contains(i.InstanceId)))
        {
            if (inv.StatusAt(w.Now).Status is "Pending" or "InProgress")
            {
                inv.Cancelled = true;
                inv.CancelledAt = w.Now;
                inv.Run?.Kill();
            }
        }

        return new JsonObject();
    }

    /// <summary>Matches the script against the rules (newest first).</summary>
    internal static SsmCommandResult? FromRules(IEnumerable<SsmResponseRule> rules, SsmCommandRequest request)
    {
        foreach (var rule in rules.Reverse())
        {
            if ((rule.InstanceId is null || rule.InstanceId == request.InstanceId)
                && Regex.IsMatch(request.Script, rule.Match, RegexOptions.Multiline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)))
            {
                return new SsmCommandResult { ExitCode = rule.ExitCode, StandardOutput = rule.Stdout, StandardError = rule.Stderr, DurationSeconds = rule.DurationSeconds };
            }
        }

        return null;
    }
}
