using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Detection
{
    /// <summary>Where a port probe runs: on the machine the cmdlet runs on, or on the Services box over the remote shell.</summary>
    public enum ProbeFrom
    {
        Here,
        Box,
    }

    /// <summary>The CircleCI app's ports: 80 and 443 (the web app and API), 4434 (builders), 8800 (the Replicated console).</summary>
    public static class AppPorts
    {
        public static IReadOnlyList<int> All { get; } = new[] { 80, 443, 4434, 8800 };

        /// <summary>Ports that speak TLS (a handshake is tried after the connect).</summary>
        public static bool IsTls(int port) => port == 443 || port == 8800;
    }

    /// <summary>What one port looked like: open or not, and for TLS ports the handshake and the certificate verdict.</summary>
    public sealed class PortProbeResult
    {
        public PortProbeResult(int port, string address, int probedPort, ProbeFrom from, bool? open, TimeSpan elapsed, string? error = null)
        {
            Port = port;
            Address = address;
            ProbedPort = probedPort;
            From = from;
            Open = open;
            Elapsed = elapsed;
            Error = error;
        }

        /// <summary>The app port (80, 443, 4434, 8800).</summary>
        public int Port { get; }

        /// <summary>The address connected to (the box's IP, a -ProbeAddress override, 127.0.0.1 on the box).</summary>
        public string Address { get; }

        /// <summary>The port actually connected to (differs from <see cref="Port"/> only under a -ProbePortMap).</summary>
        public int ProbedPort { get; }

        public ProbeFrom From { get; }

        /// <summary>True: the connect succeeded; false: refused or timed out; null: could not be tested (the reason in <see cref="Error"/>).</summary>
        public bool? Open { get; }

        public TimeSpan Elapsed { get; }

        /// <summary>Why the port is closed or unknown (refused, timed out, no tool on the box).</summary>
        public string? Error { get; }

        /// <summary>True for 443 and 8800.</summary>
        public bool Tls => AppPorts.IsTls(Port);

        /// <summary>For TLS ports that are open: whether the TLS handshake completed (null: not tried or not testable).</summary>
        public bool? TlsHandshake { get; internal set; }

        /// <summary>
        /// Whether this side's trust store accepted the certificate. Replicated's console and a fresh CircleCI install
        /// use self-signed certificates, so false is reported, never a failure.
        /// </summary>
        public bool? CertificateAccepted { get; internal set; }

        /// <summary>Why the certificate was not accepted (e.g. "self-signed certificate", "RemoteCertificateChainErrors").</summary>
        public string? CertificateProblem { get; internal set; }

        /// <summary>The certificate's subject, when the handshake showed it.</summary>
        public string? CertificateSubject { get; internal set; }

        public override string ToString()
        {
            string state = Open == true ? "open" : Open == false ? "closed" : "unknown";
            return string.Format(CultureInfo.InvariantCulture, "{0} {1}{2}", Port, state, Error is null ? string.Empty : " (" + Error + ")");
        }
    }

    /// <summary>
    /// Where "here" probes go and how long each may take. <see cref="PortMap"/> sends an app port to another port
    /// (the simulator's loopback stand-ins: <c>GET /_sim/boxes/{instanceId}/ports</c>), for both Here and Box probes.
    /// </summary>
    public sealed class PortProbeTarget
    {
        public PortProbeTarget(string address, IReadOnlyDictionary<int, int>? portMap = null, TimeSpan? timeout = null)
        {
            if (string.IsNullOrWhiteSpace(address))
            {
                throw new ArgumentException("The probe address is empty.", nameof(address));
            }

            Address = address;
            PortMap = portMap ?? new Dictionary<int, int>();
            Timeout = timeout ?? TimeSpan.FromSeconds(3);
        }

        public string Address { get; }

        public IReadOnlyDictionary<int, int> PortMap { get; }

        /// <summary>Per port: the connect and, for TLS ports, the handshake each get this long.</summary>
        public TimeSpan Timeout { get; }

        public int Map(int port) => PortMap.TryGetValue(port, out int mapped) ? mapped : port;
    }

    /// <summary>
    /// The app-port probe: TCP connect with a short timeout per port, and for 443/8800 a TLS handshake that reports
    /// whether the certificate was accepted (never failing on it), from here or from the box (a POSIX script over
    /// the remote shell: bash's /dev/tcp under timeout, else nc -z -w; openssl s_client for the certificate).
    /// </summary>
    public static class PortProbe
    {
        private static readonly char[] Space = { ' ' };

        /// <summary>
        /// Refuses a "here" probe of a non-loopback address when the AWS endpoint is a simulator on loopback: the
        /// simulator's 10.x addresses are fiction, and a real connection to them could reach a real host (a VPN).
        /// </summary>
        /// <param name="fix">What to do instead (default: the probe overrides).</param>
        public static void GuardSimulatedAddress(string address, Uri? endpoint, string box, string? fix = null)
        {
            if (endpoint is null || !IsSimulatedAddress(address, endpoint))
            {
                return;
            }

            throw new CcieException(
                "ProbeAddressSimulated",
                CcieErrorCategory.InvalidArgument,
                $"Not connecting to {address}: the AWS endpoint {endpoint.GetLeftPart(UriPartial.Authority)} is on loopback (a simulator), so {box}'s address is simulated and a real connection to it could reach a real host. " + (fix ?? $"Give -ProbeAddress 127.0.0.1 with -ProbePortMap from the simulator (GET /_sim/boxes/{box}/ports), or probe with -From Box."),
                box);
        }

        /// <summary>True when <paramref name="address"/> is not loopback and the AWS endpoint is a simulator on loopback.</summary>
        public static bool IsSimulatedAddress(string address, Uri? endpoint)
        {
            if (endpoint is null || !endpoint.IsLoopback)
            {
                return false;
            }

            if (IPAddress.TryParse(address, out IPAddress? ip) && IPAddress.IsLoopback(ip))
            {
                return false;
            }

            return !string.Equals(address, "localhost", StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>Probes every port at once from this machine.</summary>
        public static async Task<IReadOnlyList<PortProbeResult>> ProbeHereAsync(PortProbeTarget target, IEnumerable<int> ports, CancellationToken cancellationToken)
        {
            if (target is null || ports is null)
            {
                throw new ArgumentNullException(target is null ? nameof(target) : nameof(ports));
            }

            Task<PortProbeResult>[] probes = ports.Select(p => ProbeOneHereAsync(target, p, cancellationToken)).ToArray();
            return await Task.WhenAll(probes).ConfigureAwait(false);
        }

        /// <summary>One port from this machine: connect, then (443/8800) the TLS handshake.</summary>
        public static async Task<PortProbeResult> ProbeOneHereAsync(PortProbeTarget target, int port, CancellationToken cancellationToken)
        {
            if (target is null)
            {
                throw new ArgumentNullException(nameof(target));
            }

            int probed = target.Map(port);
            var clock = Stopwatch.StartNew();
            using var client = new TcpClient(AddressFamilyOf(target.Address));
            using (cancellationToken.Register(() => client.Dispose()))
            {
                try
                {
                    Task connect = client.ConnectAsync(target.Address, probed);
                    if (await Task.WhenAny(connect, Task.Delay(target.Timeout, cancellationToken)).ConfigureAwait(false) != connect)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        ObserveFault(connect);
                        return new PortProbeResult(port, target.Address, probed, ProbeFrom.Here, false, clock.Elapsed, $"no answer within {target.Timeout.TotalSeconds:0.#} s");
                    }

                    await connect.ConfigureAwait(false);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested && (e is SocketException || e is ObjectDisposedException || e is InvalidOperationException))
                {
                    string why = e is SocketException se ? DescribeSocketError(se) : e.Message;
                    return new PortProbeResult(port, target.Address, probed, ProbeFrom.Here, false, clock.Elapsed, why);
                }

                var result = new PortProbeResult(port, target.Address, probed, ProbeFrom.Here, true, clock.Elapsed);
                if (AppPorts.IsTls(port))
                {
                    await HandshakeAsync(client, target, result, cancellationToken).ConfigureAwait(false);
                }

                return result;
            }
        }

        /// <summary>The POSIX sh script that probes the ports on the box itself (127.0.0.1 there, or -ProbePortMap's ports).</summary>
        public static string BoxScript(PortProbeTarget target, IEnumerable<int> ports)
        {
            if (target is null || ports is null)
            {
                throw new ArgumentNullException(target is null ? nameof(target) : nameof(ports));
            }

            int seconds = Math.Max(1, (int)Math.Ceiling(target.Timeout.TotalSeconds));
            var s = new StringBuilder();
            s.Append("h=").Append(RemoteScript.Quote(target.Address)).Append("; t=").Append(seconds.ToString(CultureInfo.InvariantCulture)).Append('\n');
            s.Append("tcp() {\n");
            s.Append("  if command -v bash >/dev/null 2>&1; then\n");
            s.Append("    if command -v timeout >/dev/null 2>&1; then timeout \"$t\" bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' \"$h\" \"$1\" 2>/dev/null; else bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' \"$h\" \"$1\" 2>/dev/null; fi\n");
            s.Append("  elif command -v nc >/dev/null 2>&1; then nc -z -w \"$t\" \"$h\" \"$1\" >/dev/null 2>&1\n");
            s.Append("  else return 200; fi\n");
            s.Append("}\n");
            s.Append("tls() {\n");
            s.Append("  if ! command -v openssl >/dev/null 2>&1; then echo \"ccie-tls $2 none\"; return; fi\n");
            s.Append("  if command -v timeout >/dev/null 2>&1; then o=$(timeout \"$t\" openssl s_client -connect \"$h:$1\" </dev/null 2>/dev/null); else o=$(openssl s_client -connect \"$h:$1\" </dev/null 2>/dev/null); fi\n");
            s.Append("  v=$(printf '%s\\n' \"$o\" | sed -n 's/^ *Verify return code: //p' | head -n 1)\n");
            s.Append("  subj=$(printf '%s\\n' \"$o\" | sed -n 's/^subject=//p' | head -n 1)\n");
            s.Append("  if [ -n \"$v\" ]; then echo \"ccie-tls $2 $v\"; echo \"ccie-subject $2 $subj\"; else echo \"ccie-tls $2 failed\"; fi\n");
            s.Append("}\n");
            s.Append("probe() {\n");
            s.Append("  tcp \"$1\"; rc=$?\n");
            s.Append("  case $rc in\n");
            s.Append("    0) echo \"ccie-port $2 open\"; if [ \"$3\" = 1 ]; then tls \"$1\" \"$2\"; fi ;;\n");
            s.Append("    124) echo \"ccie-port $2 timeout\" ;;\n");
            s.Append("    200) echo \"ccie-port $2 notool\" ;;\n");
            s.Append("    *) echo \"ccie-port $2 refused\" ;;\n");
            s.Append("  esac\n");
            s.Append("}\n");
            foreach (int port in ports)
            {
                s.Append("probe ").Append(target.Map(port).ToString(CultureInfo.InvariantCulture)).Append(' ')
                    .Append(port.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(AppPorts.IsTls(port) ? '1' : '0').Append('\n');
            }

            return s.ToString();
        }

        /// <summary>Reads what <see cref="BoxScript"/> printed; a port without a line is an unrecognised output (error).</summary>
        public static IReadOnlyList<PortProbeResult> ParseBoxOutput(string stdout, PortProbeTarget target, IEnumerable<int> ports, TimeSpan elapsed)
        {
            if (target is null || ports is null)
            {
                throw new ArgumentNullException(target is null ? nameof(target) : nameof(ports));
            }

            var states = new Dictionary<int, string>();
            var tls = new Dictionary<int, string>();
            var subjects = new Dictionary<int, string>();
            foreach (string raw in (stdout ?? string.Empty).Replace("\r", string.Empty).Split('\n'))
            {
                string[] parts = raw.Trim().Split(Space, 3);
                if (parts.Length < 3 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int port))
                {
                    continue;
                }

                switch (parts[0])
                {
                    case "ccie-port":
                        states[port] = parts[2].Trim();
                        break;
                    case "ccie-tls":
                        tls[port] = parts[2].Trim();
                        break;
                    case "ccie-subject":
                        subjects[port] = parts[2].Trim();
                        break;
                }
            }

            var results = new List<PortProbeResult>();
            foreach (int port in ports)
            {
                if (!states.TryGetValue(port, out string? state))
                {
                    throw new CcieException("PortProbeOutputUnrecognised", CcieErrorCategory.InvalidData, $"The port probe on the box printed no line for port {port}; its output was: {Shorten(stdout)}", port);
                }

                int probed = target.Map(port);
                PortProbeResult r = state switch
                {
                    "open" => new PortProbeResult(port, target.Address, probed, ProbeFrom.Box, true, elapsed),
                    "refused" => new PortProbeResult(port, target.Address, probed, ProbeFrom.Box, false, elapsed, "connection refused"),
                    "timeout" => new PortProbeResult(port, target.Address, probed, ProbeFrom.Box, false, elapsed, $"no answer within {target.Timeout.TotalSeconds:0.#} s"),
                    "notool" => new PortProbeResult(port, target.Address, probed, ProbeFrom.Box, null, elapsed, "neither bash nor nc is on the box: cannot probe from there (use -From Here)"),
                    _ => throw new CcieException("PortProbeOutputUnrecognised", CcieErrorCategory.InvalidData, $"The port probe on the box printed '{state}' for port {port}, which CcieDr does not know.", port),
                };
                if (r.Open == true && AppPorts.IsTls(port))
                {
                    ApplyBoxTls(r, tls.TryGetValue(port, out string? verify) ? verify : null, subjects.TryGetValue(port, out string? subject) ? subject : null);
                }

                results.Add(r);
            }

            return results;
        }

        /// <summary>Probes the ports from the box itself over <paramref name="shell"/> (no sudo needed).</summary>
        public static async Task<IReadOnlyList<PortProbeResult>> ProbeFromBoxAsync(IRemoteShell shell, PortProbeTarget target, IEnumerable<int> ports, CancellationToken cancellationToken)
        {
            if (shell is null || target is null || ports is null)
            {
                throw new ArgumentNullException(shell is null ? nameof(shell) : target is null ? nameof(target) : nameof(ports));
            }

            int[] list = ports.ToArray();
            var command = new RemoteCommand(BoxScript(target, list))
            {
                // Each port: the connect, and for TLS ports the handshake, each bounded by the per-port timeout; plus slack for the channel.
                Timeout = TimeSpan.FromTicks(target.Timeout.Ticks * (list.Length + list.Count(AppPorts.IsTls))) + TimeSpan.FromSeconds(10),
                MaxOutputChars = 64 * 1024,
            };
            var clock = Stopwatch.StartNew();
            RemoteResult r = await shell.RunAsync(command, cancellationToken).ConfigureAwait(false);
            return ParseBoxOutput(r.Stdout, target, list, clock.Elapsed);
        }

        /// <summary>The ports that are not open, as "443, 8800" (empty when all are open).</summary>
        public static string ClosedList(IEnumerable<PortProbeResult> results) =>
            string.Join(", ", (results ?? Array.Empty<PortProbeResult>()).Where(r => r.Open != true).Select(r => r.Port.ToString(CultureInfo.InvariantCulture)));

        internal static void ApplyBoxTls(PortProbeResult r, string? verify, string? subject)
        {
            if (verify is null || verify == "none")
            {
                r.CertificateProblem = verify is null ? null : "openssl is not on the box: the certificate was not checked";
                return;
            }

            if (verify == "failed")
            {
                r.TlsHandshake = false;
                r.CertificateProblem = "the TLS handshake failed";
                return;
            }

            r.TlsHandshake = true;
            r.CertificateSubject = string.IsNullOrEmpty(subject) ? null : subject;
            string code = verify.Split(' ')[0];
            r.CertificateAccepted = code == "0";
            if (code != "0")
            {
                int open = verify.IndexOf('(');
                r.CertificateProblem = open >= 0 ? verify.Substring(open).Trim('(', ')', ' ') : verify;
            }
        }

        private static async Task HandshakeAsync(TcpClient client, PortProbeTarget target, PortProbeResult result, CancellationToken cancellationToken)
        {
            SslPolicyErrors seen = SslPolicyErrors.None;
            string? subject = null;
            X509ChainStatusFlags chainFlags = X509ChainStatusFlags.NoError;
#pragma warning disable CA5359 // the probe only reads the certificate verdict and sends nothing over this stream
            using var ssl = new SslStream(client.GetStream(), false, (_, cert, chain, errors) =>
            {
                seen = errors;
                subject = cert?.Subject;
                if (chain is not null)
                {
                    foreach (X509ChainStatus status in chain.ChainStatus)
                    {
                        chainFlags |= status.Status;
                    }
                }

                return true; // report, don't fail: self-signed is the norm for Replicated
            });
#pragma warning restore CA5359
            Task handshake = ssl.AuthenticateAsClientAsync(target.Address);
            try
            {
                if (await Task.WhenAny(handshake, Task.Delay(target.Timeout, cancellationToken)).ConfigureAwait(false) != handshake)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    ObserveFault(handshake);
                    result.TlsHandshake = false;
                    result.CertificateProblem = $"no TLS handshake within {target.Timeout.TotalSeconds:0.#} s";
                    return;
                }

                await handshake.ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && (e is System.IO.IOException || e is System.Security.Authentication.AuthenticationException || e is SocketException || e is ObjectDisposedException))
            {
                result.TlsHandshake = false;
                result.CertificateProblem = "the TLS handshake failed: " + e.Message;
                return;
            }

            result.TlsHandshake = true;
            result.CertificateSubject = subject;
            result.CertificateAccepted = seen == SslPolicyErrors.None;
            if (seen != SslPolicyErrors.None)
            {
                bool selfSigned = (chainFlags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0;
                result.CertificateProblem = selfSigned ? "self-signed or untrusted certificate (" + seen + ")" : seen.ToString();
            }
        }

        private static AddressFamily AddressFamilyOf(string address) =>
            IPAddress.TryParse(address, out IPAddress? ip) ? ip.AddressFamily : AddressFamily.InterNetwork;

        private static string DescribeSocketError(SocketException e) => e.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.TimedOut => "connection timed out",
            SocketError.HostUnreachable => "host unreachable",
            SocketError.NetworkUnreachable => "network unreachable",
            SocketError.HostNotFound => "host name not found",
            _ => e.SocketErrorCode.ToString(),
        };

        private static void ObserveFault(Task task) => task.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);

        private static string Shorten(string? text)
        {
            string t = (text ?? string.Empty).Replace("\n", " | ").Trim();
            return t.Length > 300 ? t.Substring(0, 300) + "..." : t;
        }
    }
}
