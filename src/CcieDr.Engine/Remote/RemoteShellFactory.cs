using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.S3;
using Amazon.SimpleSystemsManagement;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;

namespace CcieDr.Engine.Remote
{
    /// <summary>Which box and how to reach it, as the cmdlets' transport parameters give it.</summary>
    public sealed class RemoteShellRequest
    {
        /// <summary>
        /// The transport the operator named; null chooses: SSM when the box is a managed instance whose agent is
        /// Online, else SSH when SSH settings were given (<see cref="SshGiven"/>), else an error naming both.
        /// </summary>
        public RemoteTransport? Transport { get; set; }

        /// <summary>The box's instance id; without it the box is found by its Name tag (SSM, and SSH without a host).</summary>
        public string? InstanceId { get; set; }

        /// <summary>SSH settings; an empty Host means "the box's private IP".</summary>
        public SshOptions Ssh { get; set; } = new SshOptions();

        /// <summary>The operator gave SSH settings (-SshHost, -SshKeyPath or -SshUser, or a piped box's private IP).</summary>
        public bool SshGiven { get; set; }

        /// <summary>SSM: the bucket for the full command output (optional).</summary>
        public string? OutputS3BucketName { get; set; }

        /// <summary>
        /// Vets the SSH host (the given one, or the box's private IP once looked up) before any connection is made;
        /// throws to refuse it (e.g. a simulated address). Not called for SSM or Local.
        /// </summary>
        public Action<string>? SshHostCheck { get; set; }

        /// <summary>A copy for another box (its own SSH options, so a looked-up host never leaks into the next request).</summary>
        public RemoteShellRequest With(string? instanceId, string? sshHost) => new RemoteShellRequest
        {
            Transport = Transport,
            InstanceId = instanceId,
            SshGiven = SshGiven,
            OutputS3BucketName = OutputS3BucketName,
            SshHostCheck = SshHostCheck,
            Ssh = new SshOptions
            {
                Host = sshHost ?? string.Empty,
                Port = Ssh.Port,
                User = Ssh.User,
                KeyPath = Ssh.KeyPath,
                KeyPassphrase = Ssh.KeyPassphrase,
                KnownHostsPath = Ssh.KnownHostsPath,
                HostKeyFingerprint = Ssh.HostKeyFingerprint,
                AcceptNewHostKey = Ssh.AcceptNewHostKey,
                ConnectTimeout = Ssh.ConnectTimeout,
            },
        };
    }

    /// <summary>The AWS clients the factory may need (each created on demand and disposed by whoever uses it).</summary>
    public sealed class RemoteAwsClients
    {
        public Func<IAmazonEC2>? Ec2 { get; set; }

        public Func<IAmazonSimpleSystemsManagement>? Ssm { get; set; }

        public Func<IAmazonS3>? S3 { get; set; }

        /// <summary>Region (for the Services box lookup).</summary>
        public string? Region { get; set; }
    }

    /// <summary>Builds the <see cref="IRemoteShell"/> for a request (the one place that knows every transport).</summary>
    public static class RemoteShellFactory
    {
        public static Task<IRemoteShell> CreateAsync(RemoteShellRequest request, Func<IAmazonEC2>? ec2, string? region, IOperationReporter reporter, CancellationToken cancellationToken)
            => CreateAsync(request, new RemoteAwsClients { Ec2 = ec2, Region = region }, reporter, cancellationToken);

        public static async Task<IRemoteShell> CreateAsync(RemoteShellRequest request, RemoteAwsClients? aws, IOperationReporter reporter, CancellationToken cancellationToken)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            aws ??= new RemoteAwsClients();
            reporter ??= NullReporter.Instance;
            switch (request.Transport)
            {
                case RemoteTransport.Local:
                    return new LocalShell(reporter);
                case RemoteTransport.Ssm:
                {
                    (SsmShell shell, SsmAgentStatus status) = await OpenSsmAsync(request, aws, reporter, cancellationToken).ConfigureAwait(false);
                    if (!status.Online)
                    {
                        shell.Dispose();
                        throw SsmShell.NotReachable(status);
                    }

                    return shell;
                }

                case RemoteTransport.Ssh:
                    return await OpenSshAsync(request, aws, reporter, cancellationToken).ConfigureAwait(false);
                default:
                    return await ChooseAsync(request, aws, reporter, cancellationToken).ConfigureAwait(false);
            }
        }

        // No -Transport: SSM when it can take commands now, SSH when the operator gave SSH settings, else say both.
        private static async Task<IRemoteShell> ChooseAsync(RemoteShellRequest request, RemoteAwsClients aws, IOperationReporter reporter, CancellationToken cancellationToken)
        {
            string why;
            try
            {
                (SsmShell shell, SsmAgentStatus status) = await OpenSsmAsync(request, aws, reporter, cancellationToken).ConfigureAwait(false);
                if (status.Online)
                {
                    reporter.Verbose($"Transport: SSM ({status.InstanceId} is a managed instance, agent Online).");
                    return shell;
                }

                shell.Dispose();
                why = SsmShell.NotReachable(status).Message;
            }
            catch (CcieException e)
            {
                why = e.Message;
            }

            if (request.SshGiven)
            {
                reporter.Verbose("Transport: SSH (SSM is not usable: " + why + ")");
                return await OpenSshAsync(request, aws, reporter, cancellationToken).ConfigureAwait(false);
            }

            throw new CcieException(
                "RemoteTransportUnavailable",
                CcieErrorCategory.ResourceUnavailable,
                "No way to reach the Services box was found. SSM (the default) is not usable: " + why.TrimEnd() + " "
                + "Either fix SSM and retry (or name it with -Transport Ssm), or use SSH: -Transport Ssh -SshHost <private IP> -SshUser ubuntu -SshKeyPath <key>. On the box itself: -Transport Local.",
                request.InstanceId);
        }

        private static async Task<(SsmShell Shell, SsmAgentStatus Status)> OpenSsmAsync(RemoteShellRequest request, RemoteAwsClients aws, IOperationReporter reporter, CancellationToken cancellationToken)
        {
            if (aws.Ssm is null)
            {
                throw new CcieException("SsmUnavailable", CcieErrorCategory.InvalidArgument, "SSM needs AWS access: give -Region (and credentials) so CcieDr can call Systems Manager.");
            }

            string instanceId = string.IsNullOrEmpty(request.InstanceId)
                ? (await FindBoxAsync(null, aws, cancellationToken).ConfigureAwait(false)).InstanceId
                : request.InstanceId!;
            IAmazonSimpleSystemsManagement client = aws.Ssm();
            var shell = new SsmShell(client, new SsmOptions { InstanceId = instanceId, OutputS3BucketName = request.OutputS3BucketName }, reporter, aws.S3, ownsClient: true);
            try
            {
                // Choosing a default must not hold the operator long when AWS is out of reach: fewer engine retries.
                AwsRetryPolicy? retry = request.Transport is null ? AwsRetryPolicy.Default(maxAttempts: 2) : null;
                SsmAgentStatus status = await SsmShell.DescribeAgentAsync(client, instanceId, retry, cancellationToken).ConfigureAwait(false);
                if (status.Online)
                {
                    shell.MarkOnline();
                }

                return (shell, status);
            }
            catch
            {
                shell.Dispose();
                throw;
            }
        }

        private static async Task<IRemoteShell> OpenSshAsync(RemoteShellRequest request, RemoteAwsClients aws, IOperationReporter reporter, CancellationToken cancellationToken)
        {
            if (string.IsNullOrWhiteSpace(request.Ssh.Host))
            {
                if (aws.Ec2 is null)
                {
                    throw new CcieException("SshHostMissing", CcieErrorCategory.InvalidArgument, "No SSH host: give -SshHost, pipe in the Services box, or give -InstanceId with AWS access to look up its private IP.");
                }

                ServicesBox box = await FindBoxAsync(request.InstanceId, aws, cancellationToken).ConfigureAwait(false);
                if (string.IsNullOrEmpty(box.PrivateIpAddress))
                {
                    throw new CcieException("ServicesBoxNotFound", CcieErrorCategory.ObjectNotFound, $"The Services box {box.InstanceId} has no private IP: give -SshHost.", box.InstanceId);
                }

                reporter.Verbose($"SSH to {box.InstanceId} at its private IP {box.PrivateIpAddress}.");
                request.Ssh.Host = box.PrivateIpAddress!;
            }

            request.SshHostCheck?.Invoke(request.Ssh.Host);
            return new SshShell(request.Ssh, reporter);
        }

        private static async Task<ServicesBox> FindBoxAsync(string? instanceId, RemoteAwsClients aws, CancellationToken cancellationToken)
        {
            if (aws.Ec2 is null)
            {
                throw new CcieException("ServicesBoxNotFound", CcieErrorCategory.InvalidArgument, "No Services box given: give -InstanceId or pipe in the Services box (Get-CcieServicesBox).");
            }

            var query = new ServicesBoxQuery { InstanceIds = string.IsNullOrEmpty(instanceId) ? Array.Empty<string>() : new[] { instanceId! } };
            using IAmazonEC2 client = aws.Ec2();
            IReadOnlyList<ServicesBox> boxes = await new ServicesBoxLocator(client, aws.Region ?? string.Empty).FindAsync(query, cancellationToken).ConfigureAwait(false);
            ServicesBox? box = boxes.FirstOrDefault(b => b.State == "running") ?? (boxes.Count > 0 ? boxes[0] : null);
            if (box is null)
            {
                string what = string.IsNullOrEmpty(instanceId) ? "tag Name=" + ServicesBoxQuery.DefaultName : instanceId!;
                throw new CcieException("ServicesBoxNotFound", CcieErrorCategory.ObjectNotFound, $"No Services box found for {what}: give -InstanceId (or -SshHost with -Transport Ssh).", what);
            }

            return box;
        }
    }
}
