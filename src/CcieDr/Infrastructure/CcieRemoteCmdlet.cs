using System;
using System.IO;
using System.Management.Automation;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine;
using CcieDr.Engine.Remote;

namespace CcieDr.Commands
{
    /// <summary>
    /// Base for cmdlets that reach into the Services box: the transport parameters (SSM, SSH, Local; without
    /// -Transport: SSM when the box's agent is online, else SSH when SSH settings are given) and the one way a shell is
    /// opened from them. Which box is the subclass's business (<see cref="CcieRemoteCmdlet"/>: pipeline, -InstanceId,
    /// -SshHost; Restore-CcieServicesBox -StartApp: the box it restored).
    /// </summary>
    public abstract class CcieTransportCmdlet : CcieAwsCmdlet
    {
        /// <summary>
        /// How to reach the box: Ssm (Run Command), Ssh or Local (the cmdlet runs on the box). Default: Ssm when the box
        /// is a managed instance with its agent Online, else Ssh when SSH settings are given.
        /// </summary>
        [Parameter]
        public RemoteTransport? Transport { get; set; }

        /// <summary>SSM: the S3 bucket the agent writes the full output to (SSM keeps 24,000 characters inline).</summary>
        [Parameter]
        [ValidatePattern("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
        public string? OutputS3BucketName { get; set; }

        [Parameter]
        [ValidateRange(1, 65535)]
        public int SshPort { get; set; } = 22;

        /// <summary>SSH user (CircleCI's Ubuntu AMIs: ubuntu). Default: the current user name.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string SshUser { get; set; } = Environment.UserName;

        /// <summary>Private key file. Default: ~/.ssh/id_ed25519, id_ecdsa or id_rsa, the first that exists.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SshKeyPath { get; set; }

        [Parameter]
        public SecureString? SshKeyPassphrase { get; set; }

        /// <summary>known_hosts to verify the host key against. Default: ~/.ssh/known_hosts.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? SshKnownHostsPath { get; set; }

        /// <summary>The expected host key fingerprint, SHA256:... as ssh-keygen -l prints it.</summary>
        [Parameter]
        [ValidatePattern("^(SHA256:)?[A-Za-z0-9+/]{43}=?$")]
        public string? SshHostKeyFingerprint { get; set; }

        /// <summary>Trust and record the key of a host known_hosts does not know yet (never a changed key).</summary>
        [Parameter]
        public SwitchParameter SshAcceptNewHostKey { get; set; }

        [Parameter]
        [ValidateRange(1, 600)]
        public int SshConnectTimeoutSec { get; set; } = 15;

        /// <summary>Do not use sudo -n on the box (the user already has the rights it needs).</summary>
        [Parameter]
        public SwitchParameter NoSudo { get; set; }

        /// <summary>
        /// Opens a shell on <paramref name="instanceId"/> (SSH: <paramref name="sshHost"/>, else its private IP) with the
        /// transport and SSH options of this invocation. <paramref name="sshHostCheck"/> vets the SSH host before any
        /// connection (e.g. refusing a simulated address). Resolve paths on the pipeline thread: call it from ProcessRecordAsync.
        /// </summary>
        protected async Task<IRemoteShell> OpenShellAsync(string? instanceId, string? sshHost, CancellationToken cancellationToken, Action<string>? sshHostCheck = null)
        {
            RemoteShellRequest request = await ShellRequestAsync(instanceId, sshHost).ConfigureAwait(false);
            request.SshHostCheck = sshHostCheck;
            return await RemoteShellFactory.CreateAsync(request, AwsClients(sshHost), Reporter, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// A shell opener for a box that does not exist yet (Restore -StartApp): the paths are resolved now, on the
        /// pipeline thread; each call opens a new shell to the box <paramref name="instanceId"/> names at that time.
        /// </summary>
        protected async Task<Func<CancellationToken, Task<IRemoteShell>>> ShellOpenerAsync(Func<string?> instanceId, Func<string?> sshHost, Action<string>? sshHostCheck = null)
        {
            RemoteShellRequest template = await ShellRequestAsync(null, null).ConfigureAwait(false);
            return ct =>
            {
                string? host = sshHost();
                RemoteShellRequest request = template.With(instanceId(), host);
                request.SshGiven = template.SshGiven || host is not null;
                request.SshHostCheck = sshHostCheck;
                return RemoteShellFactory.CreateAsync(request, AwsClients(host), Reporter, ct);
            };
        }

        private async Task<RemoteShellRequest> ShellRequestAsync(string? instanceId, string? sshHost)
        {
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            string? key = SshKeyPath is null ? null : await ResolveProviderPathAsync(SshKeyPath).ConfigureAwait(false);
            if (key is null)
            {
                foreach (string name in new[] { "id_ed25519", "id_ecdsa", "id_rsa" })
                {
                    string candidate = Path.Combine(home, ".ssh", name);
                    if (File.Exists(candidate))
                    {
                        key = candidate;
                        break;
                    }
                }
            }

            string knownHosts = SshKnownHostsPath is null ? KnownHosts.DefaultPath : await ResolveProviderPathAsync(SshKnownHostsPath).ConfigureAwait(false);
            return new RemoteShellRequest
            {
                Transport = Transport,
                InstanceId = instanceId,
                OutputS3BucketName = OutputS3BucketName,
                SshGiven = sshHost is not null || SshKeyPath is not null || MyInvocation.BoundParameters.ContainsKey(nameof(SshUser)),
                Ssh = new SshOptions
                {
                    Host = sshHost ?? string.Empty,
                    Port = SshPort,
                    User = SshUser,
                    KeyPath = key ?? Path.Combine(home, ".ssh", "id_ed25519"),
                    KeyPassphrase = SshKeyPassphrase,
                    KnownHostsPath = knownHosts,
                    HostKeyFingerprint = SshHostKeyFingerprint,
                    AcceptNewHostKey = SshAcceptNewHostKey.IsPresent,
                    ConnectTimeout = TimeSpan.FromSeconds(SshConnectTimeoutSec),
                },
            };
        }

        // AWS only where the transport needs it: SSM (named or the default), SSH without a host (its private IP).
        // The clients are built lazily, so SSH to a given host works without a region or credentials.
        private RemoteAwsClients AwsClients(string? sshHost)
        {
            bool needsAws = Transport == RemoteTransport.Ssm || Transport is null || (Transport == RemoteTransport.Ssh && sshHost is null);
            var aws = new RemoteAwsClients();
            if (needsAws)
            {
                aws.Ec2 = () => Aws.CreateEc2();
                aws.Ssm = () => Aws.CreateSsm();
                aws.S3 = () => Aws.CreateS3();
                try
                {
                    aws.Region = Aws.Region;
                }
                catch (CcieException) when (Transport is null)
                {
                    // No region: the default falls back to SSH (or says what to give); each client call reports it.
                }
            }

            return aws;
        }
    }

    /// <summary>
    /// Base for cmdlets that act on the Services box itself: the box (pipeline, -InstanceId, -SshHost) on top of the
    /// transport parameters of <see cref="CcieTransportCmdlet"/>.
    /// </summary>
    public abstract class CcieRemoteCmdlet : CcieTransportCmdlet
    {
        /// <summary>The box's instance id; with SSH and no -SshHost, its private IP is looked up in EC2.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        public string? InstanceId { get; set; }

        /// <summary>SSH host (name or IP). A piped Services box gives its PrivateIpAddress.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("PrivateIpAddress")]
        [ValidateNotNullOrEmpty]
        public string? SshHost { get; set; }

        /// <summary>How long each command may run on the box.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSec { get; set; } = 300;

        /// <summary>Opens the shell for the current parameters (resolve paths on the pipeline thread first).</summary>
        protected Task<IRemoteShell> OpenShellAsync(CancellationToken cancellationToken) => OpenShellAsync(InstanceId, SshHost, cancellationToken);

        /// <summary>The box for error targets and output: the instance id, else the host.</summary>
        protected string BoxName => InstanceId ?? SshHost ?? (Transport == RemoteTransport.Local ? "localhost" : "Services box");

        protected override object? TerminatingTarget() => BoxName;
    }
}
