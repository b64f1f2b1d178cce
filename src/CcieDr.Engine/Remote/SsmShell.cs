using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.SimpleSystemsManagement;
using Amazon.SimpleSystemsManagement.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Remote
{
    /// <summary>How to reach the box over SSM Run Command.</summary>
    public sealed class SsmOptions
    {
        /// <summary>The box's instance id (i-...).</summary>
        public string InstanceId { get; set; } = string.Empty;

        /// <summary>S3 bucket the agent writes the full output to (SSM keeps only 24,000 characters inline).</summary>
        public string? OutputS3BucketName { get; set; }

        /// <summary>Key prefix of the output objects in <see cref="OutputS3BucketName"/>.</summary>
        public string OutputS3KeyPrefix { get; set; } = "ccie-dr/ssm";

        /// <summary>How long the command may wait to be delivered to the agent (SendCommand TimeoutSeconds, at least 30).</summary>
        public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromMinutes(2);

        /// <summary>After CancelCommand, how long to wait for the invocation to show Cancelled.</summary>
        public TimeSpan CancelWait { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>Polling schedule of GetCommandInvocation (null: <see cref="WaitOptions.Default"/>; its timeout is set per command).</summary>
        public WaitOptions? Wait { get; set; }

        /// <summary>Retries of the idempotent calls (null: <see cref="AwsRetryPolicy.Default"/>).</summary>
        public AwsRetryPolicy? Retry { get; set; }
    }

    /// <summary>What DescribeInstanceInformation says about an instance's SSM agent.</summary>
    public sealed class SsmAgentStatus
    {
        public SsmAgentStatus(string instanceId, bool managed, string? pingStatus, string? agentVersion)
        {
            InstanceId = instanceId;
            Managed = managed;
            PingStatus = pingStatus;
            AgentVersion = agentVersion;
        }

        public string InstanceId { get; }

        /// <summary>The instance is registered with Systems Manager.</summary>
        public bool Managed { get; }

        /// <summary>Online, ConnectionLost or Inactive (null when not managed).</summary>
        public string? PingStatus { get; }

        public string? AgentVersion { get; }

        public bool Online => Managed && string.Equals(PingStatus, "Online", StringComparison.Ordinal);
    }

    /// <summary>
    /// Commands over SSM Run Command (<c>AWS-RunShellScript</c>): SendCommand, then GetCommandInvocation on the
    /// shared waiter until the invocation ends. The agent runs commands as root, so no sudo is needed. SSM keeps
    /// 24,000 characters of each stream inline; with an output bucket the whole output is read from S3.
    /// A timeout is the document's executionTimeout; cancellation sends CancelCommand.
    /// </summary>
    public sealed class SsmShell : IRemoteShell
    {
        /// <summary>Characters of stdout and of stderr that GetCommandInvocation returns at most.</summary>
        public const int InlineOutputLimit = 24000;

        private const string Document = "AWS-RunShellScript";
        private const string PluginName = "aws:runShellScript";

        private readonly IAmazonSimpleSystemsManagement _ssm;
        private readonly Func<IAmazonS3>? _s3;
        private readonly SsmOptions _options;
        private readonly IOperationReporter _reporter;
        private readonly bool _ownsClient;
        private bool _checked;

        /// <param name="ssm">The SSM client (owned by the caller).</param>
        /// <param name="options">The instance and output settings.</param>
        /// <param name="reporter">Where each command is logged (masked).</param>
        /// <param name="s3">Creates an S3 client to read full output from <see cref="SsmOptions.OutputS3BucketName"/>.</param>
        /// <param name="ownsClient">Dispose <paramref name="ssm"/> with the shell.</param>
        public SsmShell(IAmazonSimpleSystemsManagement ssm, SsmOptions options, IOperationReporter? reporter = null, Func<IAmazonS3>? s3 = null, bool ownsClient = false)
        {
            _ownsClient = ownsClient;
            _ssm = ssm ?? throw new ArgumentNullException(nameof(ssm));
            _options = options ?? throw new ArgumentNullException(nameof(options));
            _reporter = reporter ?? NullReporter.Instance;
            _s3 = s3;
            if (string.IsNullOrWhiteSpace(options.InstanceId))
            {
                throw new CcieException("SsmInstanceMissing", CcieErrorCategory.InvalidArgument, "No instance for SSM: give -InstanceId or pipe in the Services box.");
            }
        }

        public RemoteTransport Transport => RemoteTransport.Ssm;

        public string Host => _options.InstanceId;

        /// <summary>DescribeInstanceInformation for one instance: managed or not, and its agent's ping status.</summary>
        public static async Task<SsmAgentStatus> DescribeAgentAsync(IAmazonSimpleSystemsManagement ssm, string instanceId, AwsRetryPolicy? retry, CancellationToken cancellationToken)
        {
            if (ssm is null)
            {
                throw new ArgumentNullException(nameof(ssm));
            }

            var request = new DescribeInstanceInformationRequest
            {
                Filters = new List<InstanceInformationStringFilter> { new InstanceInformationStringFilter { Key = "InstanceIds", Values = new List<string> { instanceId } } },
            };
            DescribeInstanceInformationResponse response = await (retry ?? AwsRetryPolicy.Default()).RunAsync(
                token => AwsCall.RunAsync("ssm:DescribeInstanceInformation", instanceId, t => ssm.DescribeInstanceInformationAsync(request, t), token),
                null,
                cancellationToken).ConfigureAwait(false);
            InstanceInformation? info = response.InstanceInformationList?.FirstOrDefault(i => i.InstanceId == instanceId);
            return info is null
                ? new SsmAgentStatus(instanceId, false, null, null)
                : new SsmAgentStatus(instanceId, true, info.PingStatus?.Value, info.AgentVersion);
        }

        /// <summary>The error for an instance whose agent cannot take commands, naming the fix.</summary>
        public static CcieException NotReachable(SsmAgentStatus status)
        {
            if (status is null)
            {
                throw new ArgumentNullException(nameof(status));
            }

            string why = status.Managed
                ? $"its SSM agent is {status.PingStatus ?? "not online"} (last seen by Systems Manager with agent {status.AgentVersion ?? "unknown"})"
                : "it is not a managed instance (Systems Manager has never heard from its agent)";
            return new CcieException(
                status.Managed ? "SsmAgentOffline" : "SsmInstanceNotManaged",
                CcieErrorCategory.ResourceUnavailable,
                $"Cannot run commands on {status.InstanceId} over SSM: {why}. To fix: attach an instance profile whose role has the AmazonSSMManagedInstanceCore policy, "
                + "make sure the SSM agent runs on the box (systemctl status snap.amazon-ssm-agent.amazon-ssm-agent or amazon-ssm-agent), and that the box can reach the ssm, ssmmessages and ec2messages endpoints "
                + "(a NAT gateway or VPC interface endpoints). Or use -Transport Ssh (with -SshHost, -SshUser, -SshKeyPath).",
                status.InstanceId);
        }

        public async Task<RemoteResult> RunAsync(RemoteCommand command, CancellationToken cancellationToken)
        {
            if (command is null)
            {
                throw new ArgumentNullException(nameof(command));
            }

            if (!_checked)
            {
                SsmAgentStatus status = await DescribeAgentAsync(_ssm, Host, _options.Retry, cancellationToken).ConfigureAwait(false);
                if (!status.Online)
                {
                    throw NotReachable(status);
                }

                _checked = true;
            }

            _reporter.Verbose(RemoteScript.VerboseLine(Transport, Host, command) + (command.Sudo ? " [SSM runs as root]" : string.Empty));
            var clock = Stopwatch.StartNew();
            int executionSeconds = Math.Max(1, (int)Math.Ceiling(command.Timeout.TotalSeconds));
            var send = new SendCommandRequest
            {
                DocumentName = Document,
                InstanceIds = new List<string> { Host },
                Comment = "CcieDr",
                TimeoutSeconds = Math.Max(30, (int)Math.Ceiling(_options.DeliveryTimeout.TotalSeconds)),
                Parameters = new Dictionary<string, List<string>>
                {
                    ["commands"] = new List<string> { command.Script },
                    ["executionTimeout"] = new List<string> { executionSeconds.ToString(CultureInfo.InvariantCulture) },
                },
            };
            if (!string.IsNullOrEmpty(_options.OutputS3BucketName))
            {
                send.OutputS3BucketName = _options.OutputS3BucketName;
                send.OutputS3KeyPrefix = _options.OutputS3KeyPrefix;
            }

            // SendCommand runs the script: retried only when SSM refused it (throttled), never after it may have run.
            SendCommandResponse sent = await (_options.Retry ?? AwsRetryPolicy.Default()).RunAsync(
                token => AwsCall.RunAsync("ssm:SendCommand", Host, t => _ssm.SendCommandAsync(send, t), token),
                IsThrottled,
                cancellationToken).ConfigureAwait(false);
            string commandId = sent.Command.CommandId;
            _reporter.Verbose($"SSM command {commandId} sent to {Host}.");

            GetCommandInvocationResponse done;
            try
            {
                WaitOptions wait = (_options.Wait ?? WaitOptions.Default()).WithTimeout(command.Timeout + _options.DeliveryTimeout + TimeSpan.FromSeconds(30));
                done = await Waiter.UntilAsync(
                    t => GetInvocationAsync(commandId, t),
                    r => IsFinal(r.Status),
                    wait,
                    $"SSM command {commandId} on {Host} to finish",
                    Host,
                    cancellationToken,
                    r => $"{r.Status?.Value} ({r.StatusDetails})",
                    notYet: IsInvocationNotYetThere).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await CancelAsync(commandId).ConfigureAwait(false);
                throw;
            }

            return await ResultAsync(command, commandId, done, clock, cancellationToken).ConfigureAwait(false);
        }

        public void Dispose()
        {
            if (_ownsClient)
            {
                _ssm.Dispose();
            }
        }

        /// <summary>The caller just saw the agent Online: the first command skips DescribeInstanceInformation.</summary>
        internal void MarkOnline() => _checked = true;

        private static bool IsFinal(CommandInvocationStatus? status)
        {
            string s = status?.Value ?? string.Empty;
            return s.Length > 0 && s is not ("Pending" or "InProgress" or "Delayed" or "Cancelling");
        }

        // Right after SendCommand the invocation may not be visible yet (eventual consistency).
        private static bool IsInvocationNotYetThere(Exception e) =>
            (e is InvocationDoesNotExistException) || (e is CcieException { InnerException: InvocationDoesNotExistException });

        private static bool IsThrottled(Exception e)
        {
            Exception inner = e is CcieException { InnerException: not null } c ? c.InnerException! : e;
            return inner is AmazonServiceException s
                && (s.ErrorCode is "ThrottlingException" or "Throttling" or "TooManyRequestsException" or "RequestLimitExceeded" || (int)s.StatusCode == 429);
        }

        private Task<GetCommandInvocationResponse> GetInvocationAsync(string commandId, CancellationToken ct) =>
            AwsCall.RunAsync(
                "ssm:GetCommandInvocation",
                Host,
                t => _ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = commandId, InstanceId = Host, PluginName = PluginName }, t),
                ct);

        // Ctrl+C: stop the command on the box too, then wait a little for SSM to say so. Runs on its own token:
        // the caller's is already cancelled.
        private async Task CancelAsync(string commandId)
        {
            using var limit = new CancellationTokenSource(_options.CancelWait + TimeSpan.FromSeconds(10));
            try
            {
                await (_options.Retry ?? AwsRetryPolicy.Default()).RunAsync(
                    token => AwsCall.RunAsync("ssm:CancelCommand", Host, t => _ssm.CancelCommandAsync(new CancelCommandRequest { CommandId = commandId, InstanceIds = new List<string> { Host } }, t), token),
                    null,
                    limit.Token).ConfigureAwait(false);
                _reporter.Verbose($"SSM command {commandId} on {Host}: CancelCommand sent.");
                WaitOptions wait = (_options.Wait ?? WaitOptions.Default()).WithTimeout(_options.CancelWait);
                await Waiter.UntilAsync(t => GetInvocationAsync(commandId, t), r => IsFinal(r.Status), wait, $"SSM command {commandId} to be cancelled", Host, limit.Token, notYet: IsInvocationNotYetThere).ConfigureAwait(false);
            }
            catch (Exception e) when (e is CcieException or OperationCanceledException)
            {
                _reporter.Warning($"SSM command {commandId} on {Host} was cancelled here, but SSM did not confirm it stopped ({e.Message.TrimEnd()}). Check it with: aws ssm list-command-invocations --command-id {commandId}");
            }
        }

        private async Task<RemoteResult> ResultAsync(RemoteCommand command, string commandId, GetCommandInvocationResponse r, Stopwatch clock, CancellationToken ct)
        {
            string status = r.Status?.Value ?? string.Empty;
            string details = r.StatusDetails ?? string.Empty;
            switch (status)
            {
                case "Success":
                case "Failed":
                    break;
                case "TimedOut" when details == "DeliveryTimedOut":
                    throw new CcieException(
                        "SsmDeliveryTimedOut",
                        CcieErrorCategory.ResourceUnavailable,
                        $"SSM could not deliver command {commandId} to {Host} within {_options.DeliveryTimeout.TotalSeconds:0} s: the agent went offline. Check the box is running and its SSM agent online (Get-CcieServicesBox), or use -Transport Ssh.",
                        Host);
                case "TimedOut":
                    throw new CcieException(
                        "RemoteCommandTimedOut",
                        CcieErrorCategory.OperationTimeout,
                        $"The command on {Host} did not finish within {command.Timeout.TotalSeconds:0} s and SSM stopped it (command {commandId}): {RemoteScript.VerboseLine(Transport, Host, command)}. Raise -TimeoutSec if it needs longer.",
                        Host);
                case "Cancelled":
                    throw new CcieException("SsmCommandCancelled", CcieErrorCategory.OperationStopped, $"SSM command {commandId} on {Host} was cancelled by someone else before it finished.", Host);
                default:
                    throw new CcieException("SsmCommandFailed", CcieErrorCategory.ResourceUnavailable, $"SSM command {commandId} on {Host} ended {status} ({details}) without running to completion. See: aws ssm get-command-invocation --command-id {commandId} --instance-id {Host}", Host);
            }

            string stdout = r.StandardOutputContent ?? string.Empty;
            string stderr = r.StandardErrorContent ?? string.Empty;
            bool cut = stdout.Length >= InlineOutputLimit || stderr.Length >= InlineOutputLimit;
            bool truncated = false;
            if (cut && !string.IsNullOrEmpty(_options.OutputS3BucketName) && _s3 is not null)
            {
                string prefix = $"{_options.OutputS3KeyPrefix.TrimEnd('/')}/{commandId}/{Host}/awsrunShellScript/0.awsrunShellScript/";
                stdout = await ReadS3Async(prefix + "stdout", command.MaxOutputChars, ct).ConfigureAwait(false) ?? stdout;
                stderr = await ReadS3Async(prefix + "stderr", command.MaxOutputChars, ct).ConfigureAwait(false) ?? stderr;
            }
            else if (cut)
            {
                truncated = true;
                if (!command.OutputIsSecret)
                {
                    _reporter.Warning($"The output of the command on {Host} was cut at {InlineOutputLimit:N0} characters by SSM (command {commandId}). Give -OutputS3BucketName to read the whole output from S3.");
                }
            }

            if (stdout.Length > command.MaxOutputChars)
            {
                stdout = stdout.Substring(0, command.MaxOutputChars);
                truncated = true;
            }

            if (stderr.Length > command.MaxOutputChars)
            {
                stderr = stderr.Substring(0, command.MaxOutputChars);
                truncated = true;
            }

            return new RemoteResult(r.ResponseCode ?? -1, stdout, stderr, truncated, Transport, Host, clock.Elapsed);
        }

        // The agent writes each stream to <prefix>/<command>/<instance>/awsrunShellScript/0.awsrunShellScript/stdout|stderr;
        // a stream that printed nothing has no object.
        private async Task<string?> ReadS3Async(string key, int maxChars, CancellationToken ct)
        {
            using IAmazonS3 s3 = _s3!();
            try
            {
                using GetObjectResponse o = await AwsCall.RunAsync("s3:GetObject", $"s3://{_options.OutputS3BucketName}/{key}", t => s3.GetObjectAsync(_options.OutputS3BucketName, key, t), ct).ConfigureAwait(false);
                using var reader = new StreamReader(o.ResponseStream, new UTF8Encoding(false));
                var buffer = new char[Math.Min(maxChars + 1, 1024 * 1024)];
                var text = new StringBuilder();
                int n;
                while (text.Length <= maxChars && (n = await reader.ReadAsync(buffer, 0, Math.Min(buffer.Length, maxChars + 1 - text.Length)).ConfigureAwait(false)) > 0)
                {
                    text.Append(buffer, 0, n);
                }

                return text.ToString();
            }
            catch (CcieException e) when (AwsRetry.IsNotFound(e))
            {
                return string.Empty;
            }
        }
    }
}
