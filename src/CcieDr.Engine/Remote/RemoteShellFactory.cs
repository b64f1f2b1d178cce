using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;

namespace CcieDr.Engine.Remote
{
    /// <summary>Which box and how to reach it, as the cmdlets' transport parameters give it.</summary>
    public sealed class RemoteShellRequest
    {
        public RemoteTransport Transport { get; set; } = RemoteTransport.Ssh;

        /// <summary>The box's instance id; for SSH without a host, its private IP is looked up.</summary>
        public string? InstanceId { get; set; }

        /// <summary>SSH settings; an empty Host means "the box's private IP".</summary>
        public SshOptions Ssh { get; set; } = new SshOptions();
    }

    /// <summary>Builds the <see cref="IRemoteShell"/> for a request (the one place that knows every transport).</summary>
    public static class RemoteShellFactory
    {
        public static async Task<IRemoteShell> CreateAsync(RemoteShellRequest request, Func<IAmazonEC2>? ec2, string? region, IOperationReporter reporter, CancellationToken cancellationToken)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            switch (request.Transport)
            {
                case RemoteTransport.Local:
                    return new LocalShell(reporter);
                case RemoteTransport.Ssm:
                    throw new CcieException("RemoteTransportNotYetSupported", CcieErrorCategory.NotInstalled, "-Transport Ssm is not available yet in this version of CcieDr. Use -Transport Ssh (with -SshHost, -SshUser, -SshKeyPath) or, on the box itself, -Transport Local.", "Ssm");
                default:
                    if (string.IsNullOrWhiteSpace(request.Ssh.Host))
                    {
                        request.Ssh.Host = await PrivateIpAsync(request.InstanceId, ec2, region, reporter, cancellationToken).ConfigureAwait(false);
                    }

                    return new SshShell(request.Ssh, reporter);
            }
        }

        private static async Task<string> PrivateIpAsync(string? instanceId, Func<IAmazonEC2>? ec2, string? region, IOperationReporter reporter, CancellationToken cancellationToken)
        {
            if (ec2 is null)
            {
                throw new CcieException("SshHostMissing", CcieErrorCategory.InvalidArgument, "No SSH host: give -SshHost, pipe in the Services box, or give -InstanceId with AWS access to look up its private IP.");
            }

            var query = new ServicesBoxQuery { InstanceIds = string.IsNullOrEmpty(instanceId) ? Array.Empty<string>() : new[] { instanceId! } };
            using IAmazonEC2 client = ec2();
            IReadOnlyList<ServicesBox> boxes = await new ServicesBoxLocator(client, region ?? string.Empty).FindAsync(query, cancellationToken).ConfigureAwait(false);
            ServicesBox? box = boxes.FirstOrDefault(b => b.State == "running") ?? (boxes.Count > 0 ? boxes[0] : null);
            if (box is null || string.IsNullOrEmpty(box.PrivateIpAddress))
            {
                string what = string.IsNullOrEmpty(instanceId) ? "tag Name=" + ServicesBoxQuery.DefaultName : instanceId!;
                throw new CcieException("ServicesBoxNotFound", CcieErrorCategory.ObjectNotFound, $"No Services box with a private IP found for {what}: give -SshHost or -InstanceId.", what);
            }

            reporter.Verbose($"SSH to {box.InstanceId} at its private IP {box.PrivateIpAddress}.");
            return box.PrivateIpAddress!;
        }
    }
}
