using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Operations;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace CcieDr.Engine.Remote
{
    /// <summary>How to reach the box over SSH. The passphrase stays a SecureString until the key file is opened.</summary>
    public sealed class SshOptions
    {
        public string Host { get; set; } = string.Empty;

        public int Port { get; set; } = 22;

        public string User { get; set; } = Environment.UserName;

        /// <summary>Private key file (OpenSSH, PEM or PuTTY format).</summary>
        public string KeyPath { get; set; } = string.Empty;

        public SecureString? KeyPassphrase { get; set; }

        /// <summary>known_hosts to verify against (and append to with <see cref="AcceptNewHostKey"/>).</summary>
        public string KnownHostsPath { get; set; } = KnownHosts.DefaultPath;

        /// <summary>The expected host key as ssh-keygen -l prints it (SHA256:...): known_hosts is then not consulted.</summary>
        public string? HostKeyFingerprint { get; set; }

        /// <summary>Trust and record a key for a host known_hosts has no entry for (never a changed key).</summary>
        public bool AcceptNewHostKey { get; set; }

        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(15);
    }

    /// <summary>
    /// Commands over SSH (SSH.NET). The host key is verified before anything is sent: against known_hosts or an
    /// expected fingerprint; an unknown key is refused unless AcceptNewHostKey, a changed key always.
    /// </summary>
    public sealed class SshShell : IRemoteShell
    {
        private readonly SshOptions _options;
        private readonly IOperationReporter _reporter;
        private SshClient? _client;
        private string? _refusal;
        private string? _refusalId;

        public SshShell(SshOptions options, IOperationReporter? reporter = null)
        {
            _options = options ?? throw new ArgumentNullException(nameof(options));
            _reporter = reporter ?? NullReporter.Instance;
            if (string.IsNullOrWhiteSpace(options.Host))
            {
                throw new CcieException("SshHostMissing", CcieErrorCategory.InvalidArgument, "No SSH host: give -SshHost (the box's private IP or name) or pipe in the Services box.");
            }
        }

        public RemoteTransport Transport => RemoteTransport.Ssh;

        public string Host => _options.Host;

        public async Task<RemoteResult> RunAsync(RemoteCommand command, CancellationToken cancellationToken)
        {
            if (command is null)
            {
                throw new ArgumentNullException(nameof(command));
            }

            SshClient client = await ConnectAsync(cancellationToken).ConfigureAwait(false);
            _reporter.Verbose(RemoteScript.VerboseLine(Transport, Host, command));
            var clock = Stopwatch.StartNew();
            using SshCommand ssh = client.CreateCommand(RemoteScript.Wrap(command));
            using var timeout = new CancellationTokenSource(command.Timeout);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            try
            {
                await ssh.ExecuteAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && timeout.IsCancellationRequested)
            {
                throw new CcieException(
                    "RemoteCommandTimedOut",
                    CcieErrorCategory.OperationTimeout,
                    $"The command on {Host} did not finish within {command.Timeout.TotalSeconds:0} s; its channel was closed: {RemoteScript.VerboseLine(Transport, Host, command)}. Raise -TimeoutSec if it needs longer.",
                    Host);
            }
            catch (SshConnectionException e)
            {
                throw new CcieException("SshConnectionLost", CcieErrorCategory.ConnectionError, $"The SSH connection to {Describe()} was lost while a command ran: {e.Message}", Host, e);
            }

            string stdout = ssh.Result ?? string.Empty;
            string stderr = ssh.Error ?? string.Empty;
            bool truncated = false;
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

            // A command killed by a signal has no exit status: report 128+n like a shell would (or -1).
            int exit = ssh.ExitStatus ?? (ssh.ExitSignal is null ? -1 : 128 + SignalNumber(ssh.ExitSignal));
            return new RemoteResult(exit, stdout, stderr, truncated, Transport, Host, clock.Elapsed);
        }

        public void Dispose()
        {
            if (_client is not null)
            {
                try
                {
                    _client.Disconnect();
                }
                catch (SshException)
                {
                }
                catch (SocketException)
                {
                }

                _client.Dispose();
                _client = null;
            }
        }

        private string Describe() => $"{_options.User}@{_options.Host}:{_options.Port}";

        private async Task<SshClient> ConnectAsync(CancellationToken cancellationToken)
        {
            if (_client is { IsConnected: true })
            {
                return _client;
            }

            if (string.IsNullOrEmpty(_options.KeyPath) || !File.Exists(_options.KeyPath))
            {
                throw new CcieException("SshKeyNotFound", CcieErrorCategory.ObjectNotFound, $"SSH private key '{_options.KeyPath}' not found. Give the key for {_options.User}@{_options.Host} with -SshKeyPath.", _options.KeyPath);
            }

            KnownHosts? known = string.IsNullOrEmpty(_options.HostKeyFingerprint) ? KnownHosts.Load(_options.KnownHostsPath) : null;
            PrivateKeyFile key = OpenKey();
            var info = new ConnectionInfo(_options.Host, _options.Port, _options.User, new PrivateKeyAuthenticationMethod(_options.User, key))
            {
                Timeout = _options.ConnectTimeout,
            };
            if (known is not null)
            {
                RestrictHostKeyAlgorithms(info, known);
            }

            var client = new SshClient(info);
            client.HostKeyReceived += (_, e) => e.CanTrust = Verify(known, e);
            using var timeout = new CancellationTokenSource(_options.ConnectTimeout);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            try
            {
                await client.ConnectAsync(linked.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SshException or SocketException or OperationCanceledException or ProxyException or TimeoutException)
            {
                client.Dispose();
                key.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
                if (_refusal is not null)
                {
                    throw new CcieException(_refusalId!, CcieErrorCategory.AuthenticationError, _refusal, Host, e);
                }

                if (e is SshAuthenticationException)
                {
                    throw new CcieException("SshAuthenticationFailed", CcieErrorCategory.AuthenticationError, $"{Describe()} refused the key {_options.KeyPath}: check -SshUser and that the public key is in the user's authorized_keys on the box.", Host, e);
                }

                if (e is OperationCanceledException or SshOperationTimeoutException or TimeoutException)
                {
                    throw new CcieException("SshConnectTimeout", CcieErrorCategory.OperationTimeout, $"No SSH connection to {Describe()} within {_options.ConnectTimeout.TotalSeconds:0} s. Check the security group allows TCP {_options.Port} from here, or raise -SshConnectTimeoutSec.", Host, e);
                }

                throw new CcieException("SshConnectFailed", CcieErrorCategory.ConnectionError, $"Cannot connect to {Describe()}: {e.Message}. Check -SshHost/-SshPort, that sshd runs on the box and that TCP {_options.Port} is reachable from here.", Host, e);
            }

            _client = client;
            return client;
        }

        private PrivateKeyFile OpenKey()
        {
            SecureString? secure = _options.KeyPassphrase;
            if (secure is null || secure.Length == 0)
            {
                try
                {
                    return new PrivateKeyFile(_options.KeyPath);
                }
                catch (SshPassPhraseNullOrEmptyException e)
                {
                    throw new CcieException("SshKeyPassphraseRequired", CcieErrorCategory.AuthenticationError, $"The SSH key {_options.KeyPath} is encrypted: give its passphrase with -SshKeyPassphrase (Read-Host -AsSecureString).", _options.KeyPath, e);
                }
            }

            IntPtr plain = Marshal.SecureStringToGlobalAllocUnicode(secure);
            try
            {
                return new PrivateKeyFile(_options.KeyPath, Marshal.PtrToStringUni(plain));
            }
            catch (SshException e)
            {
                throw new CcieException("SshKeyPassphraseWrong", CcieErrorCategory.AuthenticationError, $"Cannot open the SSH key {_options.KeyPath} with the passphrase given: check -SshKeyPassphrase.", _options.KeyPath, e);
            }
            finally
            {
                Marshal.ZeroFreeGlobalAllocUnicode(plain);
            }
        }

        // Like OpenSSH: when known_hosts knows key types for the host, ask the server only for those, so a
        // server that also has other key types is not mistaken for a changed key.
        private void RestrictHostKeyAlgorithms(ConnectionInfo info, KnownHosts known)
        {
            var types = new HashSet<string>(known.Entries.Where(e => e.Marker is null && e.Matches(_options.Host, _options.Port)).Select(e => e.KeyType), StringComparer.Ordinal);
            if (types.Count == 0)
            {
                return;
            }

            foreach (string algorithm in info.HostKeyAlgorithms.Keys.ToList())
            {
                if (!types.Contains(KeyTypeOfAlgorithm(algorithm)))
                {
                    info.HostKeyAlgorithms.Remove(algorithm);
                }
            }
        }

        private static string KeyTypeOfAlgorithm(string algorithm) => algorithm switch
        {
            "rsa-sha2-512" or "rsa-sha2-256" => "ssh-rsa",
            _ => algorithm,
        };

        private bool Verify(KnownHosts? known, HostKeyEventArgs e)
        {
            byte[] blob = e.HostKey;
            string fingerprint = "SHA256:" + e.FingerPrintSHA256;
            if (known is null)
            {
                string expected = _options.HostKeyFingerprint!.Trim();
                string want = expected.StartsWith("SHA256:", StringComparison.OrdinalIgnoreCase) ? "SHA256:" + expected.Substring(7) : "SHA256:" + expected;
                if (string.Equals(want.TrimEnd('='), fingerprint, StringComparison.Ordinal))
                {
                    return true;
                }

                return Refuse("SshHostKeyMismatch", $"The host key of {Describe()} is {KnownHosts.KeyTypeOf(blob)} {fingerprint}, not the {want} given with -SshHostKeyFingerprint. Do not connect until you know why (a replaced box, or someone in the middle).");
            }

            HostKeyCheck check = known.Check(_options.Host, _options.Port, blob);
            switch (check.Verdict)
            {
                case HostKeyVerdict.Trusted:
                    return true;
                case HostKeyVerdict.Revoked:
                    return Refuse("SshHostKeyRevoked", $"The host key {fingerprint} of {Describe()} is marked @revoked in {known.Path} line {check.Entry!.Line}. Refused.");
                case HostKeyVerdict.Changed:
                    return Refuse(
                        "SshHostKeyChanged",
                        $"The host key of {Describe()} has CHANGED: it now offers {KnownHosts.KeyTypeOf(blob)} {fingerprint}, but {known.Path} line {check.Entry!.Line} holds a different {check.Entry.KeyType} key. "
                        + "This is refused even with -SshAcceptNewHostKey. If the box was rebuilt on purpose (a restore gives it new host keys), remove that line "
                        + $"(ssh-keygen -R '{KnownHosts.HostName(_options.Host, _options.Port)}' -f '{known.Path}') and connect again with -SshAcceptNewHostKey, or give -SshHostKeyFingerprint.");
                default:
                    if (!_options.AcceptNewHostKey)
                    {
                        return Refuse(
                            "SshHostKeyUnknown",
                            $"{Describe()} is not in {known.Path}: its {KnownHosts.KeyTypeOf(blob)} key is {fingerprint}. Verify it (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the box), then add -SshAcceptNewHostKey to trust and record it, or pass -SshHostKeyFingerprint {fingerprint}.");
                    }

                    known.Append(_options.Host, _options.Port, blob);
                    _reporter.Warning($"Permanently added {KnownHosts.HostName(_options.Host, _options.Port)} ({KnownHosts.KeyTypeOf(blob)} {fingerprint}) to {known.Path}.");
                    return true;
            }
        }

        private bool Refuse(string id, string message)
        {
            _refusalId = id;
            _refusal = message;
            return false;
        }

        private static int SignalNumber(string signal) => signal switch
        {
            "HUP" => 1,
            "INT" => 2,
            "KILL" => 9,
            "TERM" => 15,
            _ => 0,
        };
    }
}
