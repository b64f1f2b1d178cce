using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using CcieDr.Engine.Detection;
using CcieDr.Engine.Remote;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Detection
{
    /// <summary>The app-port probe against the simulator's loopback stand-ins (never a simulated 10.x address).</summary>
    public sealed class PortProbeTests
    {
        private static async Task<(SimulatorServer Sim, string Box, Dictionary<int, int> Map)> StartAsync()
        {
            var sim = await SimulatorServer.StartAsync(new SimulatorOptions { ClockMode = ClockMode.Manual });
            SeedResult seed = sim.Control.SeedCircleCi("us-east-1");
            JsonObject ports = sim.Control.AppPorts(seed.ServicesInstanceId);
            var map = ports["ports"]!.AsObject().ToDictionary(p => int.Parse(p.Key), p => p.Value!.GetValue<int>());
            return (sim, seed.ServicesInstanceId, map);
        }

        private static int FreeClosedPort()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }

        [Fact]
        public async Task Here_probe_sees_every_stand_in_open_and_reports_the_self_signed_certificate()
        {
            var (sim, _, map) = await StartAsync();
            await using var _s = sim;
            var target = new PortProbeTarget("127.0.0.1", map, TimeSpan.FromSeconds(5));
            IReadOnlyList<PortProbeResult> r = await PortProbe.ProbeHereAsync(target, AppPorts.All, CancellationToken.None);
            Assert.Equal(new[] { 80, 443, 4434, 8800 }, r.Select(p => p.Port));
            Assert.All(r, p => Assert.True(p.Open, p.ToString()));
            Assert.All(r, p => Assert.Equal(map[p.Port], p.ProbedPort));
            foreach (PortProbeResult tls in r.Where(p => p.Tls))
            {
                Assert.True(tls.TlsHandshake);
                Assert.False(tls.CertificateAccepted);
                Assert.Contains("circleci-services.simulator", tls.CertificateSubject);
                Assert.NotNull(tls.CertificateProblem);
            }

            Assert.All(r.Where(p => !p.Tls), p => Assert.Null(p.TlsHandshake));
        }

        [Fact]
        public async Task Stand_ins_close_when_the_app_stops_and_reopen_on_the_same_ports()
        {
            var (sim, box, map) = await StartAsync();
            await using var _s = sim;
            var target = new PortProbeTarget("127.0.0.1", map, TimeSpan.FromSeconds(5));
            sim.Control.SetAppState(box, "stopped");
            Assert.False(sim.Control.AppPorts(box)["open"]!.GetValue<bool>());
            IReadOnlyList<PortProbeResult> closed = await PortProbe.ProbeHereAsync(target, AppPorts.All, CancellationToken.None);
            Assert.All(closed, p => Assert.False(p.Open));
            Assert.All(closed, p => Assert.Equal("connection refused", p.Error));
            Assert.Equal("80, 443, 4434, 8800", PortProbe.ClosedList(closed));

            sim.Control.SetAppState(box, "started");
            JsonObject again = sim.Control.AppPorts(box);
            Assert.True(again["open"]!.GetValue<bool>());
            Assert.Equal(map[443], again["ports"]!["443"]!.GetValue<int>());
            Assert.All(await PortProbe.ProbeHereAsync(target, AppPorts.All, CancellationToken.None), p => Assert.True(p.Open));
        }

        [Fact]
        public async Task A_dead_instance_closes_its_ports_even_with_the_app_started()
        {
            var (sim, box, map) = await StartAsync();
            await using var _s = sim;
            sim.Control.KillInstance("us-east-1", box, 10);
            Assert.False(sim.Control.AppPorts(box)["open"]!.GetValue<bool>());
            var r = await PortProbe.ProbeHereAsync(new PortProbeTarget("127.0.0.1", map), AppPorts.All, CancellationToken.None);
            Assert.All(r, p => Assert.False(p.Open));
        }

        [Fact]
        public async Task Stand_in_state_file_drives_the_ports()
        {
            var (sim, box, map) = await StartAsync();
            await using var _s = sim;
            string root = Directory.CreateTempSubdirectory("ccie-standin-").FullName;
            try
            {
                File.WriteAllText(Path.Combine(root, "state"), "major=2\nstate=stopped\nchanged_at=0\nstart_seconds=0\n");
                sim.Control.SetAppStandinRoot(box, root);
                JsonObject stopped = sim.Control.AppPorts(box);
                Assert.Equal("stopped", stopped["appState"]!.GetValue<string>());
                Assert.False(stopped["open"]!.GetValue<bool>());

                File.WriteAllText(Path.Combine(root, "state"), "major=2\nstate=starting\nchanged_at=0\nstart_seconds=1\nfail_start=0\n");
                JsonObject started = sim.Control.AppPorts(box);
                Assert.Equal("started", started["appState"]!.GetValue<string>());
                Assert.True(started["open"]!.GetValue<bool>());
            }
            finally
            {
                Directory.Delete(root, true);
            }
        }

        [Fact]
        public async Task Box_probe_over_a_local_shell_reads_open_closed_and_the_certificate_verdict()
        {
            var (sim, _, map) = await StartAsync();
            await using var _s = sim;
            var withClosed = new Dictionary<int, int>(map) { [4434] = FreeClosedPort() };
            using var shell = new LocalShell();
            var target = new PortProbeTarget("127.0.0.1", withClosed, TimeSpan.FromSeconds(5));
            IReadOnlyList<PortProbeResult> r = await PortProbe.ProbeFromBoxAsync(shell, target, AppPorts.All, CancellationToken.None);
            Assert.All(r, p => Assert.Equal(ProbeFrom.Box, p.From));
            Assert.True(r.Single(p => p.Port == 80).Open);
            Assert.False(r.Single(p => p.Port == 4434).Open);
            Assert.Equal("connection refused", r.Single(p => p.Port == 4434).Error);
            PortProbeResult console = r.Single(p => p.Port == 8800);
            Assert.True(console.Open);
            Assert.True(console.TlsHandshake);
            Assert.False(console.CertificateAccepted);
            Assert.Contains("self", console.CertificateProblem, StringComparison.OrdinalIgnoreCase);
        }

        [Fact]
        public async Task Here_probe_of_a_closed_port_is_refused_not_hung()
        {
            int port = FreeClosedPort();
            PortProbeResult r = await PortProbe.ProbeOneHereAsync(new PortProbeTarget("127.0.0.1", new Dictionary<int, int> { [80] = port }), 80, CancellationToken.None);
            Assert.False(r.Open);
            Assert.Equal("connection refused", r.Error);
        }

        [Fact]
        public void Box_output_without_a_line_for_a_port_is_an_error_that_shows_the_output()
        {
            var target = new PortProbeTarget("127.0.0.1");
            var e = Assert.Throws<CcieException>(() => PortProbe.ParseBoxOutput("ccie-port 80 open\nsh: bash: not found\n", target, AppPorts.All, TimeSpan.Zero));
            Assert.Equal("PortProbeOutputUnrecognised", e.ErrorId);
            Assert.Contains("443", e.Message);
            Assert.Contains("bash: not found", e.Message);
        }

        [Fact]
        public void Box_output_maps_verify_codes_to_the_certificate_verdict()
        {
            var target = new PortProbeTarget("127.0.0.1");
            var r = PortProbe.ParseBoxOutput(
                "ccie-port 80 timeout\nccie-port 443 open\nccie-tls 443 0 (ok)\nccie-subject 443 CN = circleci.example.com\nccie-port 4434 notool\nccie-port 8800 open\nccie-tls 8800 none\n",
                target,
                AppPorts.All,
                TimeSpan.Zero);
            Assert.False(r[0].Open);
            Assert.Contains("no answer", r[0].Error);
            Assert.True(r[1].CertificateAccepted);
            Assert.Equal("CN = circleci.example.com", r[1].CertificateSubject);
            Assert.Null(r[2].Open);
            Assert.Null(r[3].CertificateAccepted);
            Assert.Contains("openssl", r[3].CertificateProblem);
        }

        [Theory]
        [InlineData("10.0.1.10", "http://127.0.0.1:5000/", true)]
        [InlineData("circleci.internal", "http://localhost:5000/", true)]
        [InlineData("127.0.0.1", "http://127.0.0.1:5000/", false)]
        [InlineData("10.0.1.10", "https://ec2.us-east-1.amazonaws.com/", false)]
        [InlineData("10.0.1.10", null, false)]
        public void Here_probes_of_a_simulated_address_are_refused(string address, string? endpoint, bool refused)
        {
            Uri? uri = endpoint is null ? null : new Uri(endpoint);
            if (refused)
            {
                var e = Assert.Throws<CcieException>(() => PortProbe.GuardSimulatedAddress(address, uri, "i-0123456789abcdef0"));
                Assert.Equal("ProbeAddressSimulated", e.ErrorId);
                Assert.Contains("-ProbeAddress 127.0.0.1", e.Message);
            }
            else
            {
                PortProbe.GuardSimulatedAddress(address, uri, "i-0123456789abcdef0");
            }
        }

        [Theory]
        // -From left at its default, a simulated address, a remote shell: probed from the box (127.0.0.1 there).
        [InlineData(false, null, "http://127.0.0.1:5000/", RemoteTransport.Ssm, ProbeFrom.Box, "127.0.0.1")]
        [InlineData(false, null, "http://127.0.0.1:5000/", RemoteTransport.Ssh, ProbeFrom.Box, "127.0.0.1")]
        // A real endpoint: the default stays a probe from here, to the box's address.
        [InlineData(false, null, "https://ec2.us-east-1.amazonaws.com/", RemoteTransport.Ssm, ProbeFrom.Here, "10.0.1.10")]
        [InlineData(false, null, null, RemoteTransport.Ssm, ProbeFrom.Here, "10.0.1.10")]
        // A loopback stand-in given with -ProbeAddress is honoured.
        [InlineData(false, "127.0.0.1", "http://127.0.0.1:5000/", RemoteTransport.Ssm, ProbeFrom.Here, "127.0.0.1")]
        // The Local transport probes 127.0.0.1 from here (it runs on the box).
        [InlineData(false, null, "http://127.0.0.1:5000/", RemoteTransport.Local, ProbeFrom.Here, "127.0.0.1")]
        public void The_default_From_probes_a_simulated_box_from_the_box(bool fromGiven, string? probeAddress, string? endpoint, RemoteTransport transport, ProbeFrom expected, string expectedAddress)
        {
            var options = new AppProbeOptions { FromGiven = fromGiven, ProbeAddress = probeAddress, Endpoint = endpoint is null ? null : new Uri(endpoint) };
            using var shell = new NoShell(transport);
            AppPortProbeSpec spec = options.Resolve(shell, "10.0.1.10", "i-0123456789abcdef0");
            Assert.Equal(expected, spec.From);
            Assert.Equal(expectedAddress, spec.Target.Address);
            if (transport != RemoteTransport.Local)
            {
                Assert.Equal(expected, options.ForBox("10.0.1.10").From);
            }
        }

        [Fact]
        public void An_explicit_From_Here_of_a_simulated_address_is_still_refused()
        {
            var options = new AppProbeOptions { From = ProbeFrom.Here, FromGiven = true, Endpoint = new Uri("http://127.0.0.1:5000/") };
            using var shell = new NoShell(RemoteTransport.Ssm);
            var e = Assert.Throws<CcieException>(() => options.Resolve(shell, "10.0.1.10", "i-0123456789abcdef0"));
            Assert.Equal("ProbeAddressSimulated", e.ErrorId);
            Assert.Same(options, options.ForBox("10.0.1.10"));
        }

        [Fact]
        public void Without_a_remote_shell_the_default_From_refuses_a_simulated_address_instead_of_connecting()
        {
            var options = new AppProbeOptions { FromGiven = false, Endpoint = new Uri("http://127.0.0.1:5000/") };
            var e = Assert.Throws<CcieException>(() => options.Resolve(null, "10.0.1.10", "i-0123456789abcdef0"));
            Assert.Equal("ProbeAddressSimulated", e.ErrorId);
        }

        /// <summary>A shell that only names its transport (Resolve never runs a command).</summary>
        private sealed class NoShell : IRemoteShell
        {
            public NoShell(RemoteTransport transport) => Transport = transport;

            public RemoteTransport Transport { get; }

            public string Host => "box";

            public Task<RemoteResult> RunAsync(RemoteCommand command, CancellationToken cancellationToken) => throw new InvalidOperationException("Resolve must not run commands.");

            public void Dispose()
            {
            }
        }

        [Fact]
        public async Task Waiting_for_closed_ports_times_out_naming_them_and_the_last_state()
        {
            int port = FreeClosedPort();
            var spec = new AppPortProbeSpec(ProbeFrom.Here, new PortProbeTarget("127.0.0.1", new Dictionary<int, int> { [80] = port, [443] = port, [4434] = port, [8800] = port }, TimeSpan.FromSeconds(1)));
            var e = await Assert.ThrowsAsync<CcieException>(() => AppPortWaiter.WaitUntilOpenAsync(spec, TimeSpan.FromMilliseconds(300), "i-0123456789abcdef0", "started", Operations.NullReporter.Instance, CancellationToken.None));
            Assert.Equal("AppPortsWaitTimedOut", e.ErrorId);
            Assert.Contains("is started", e.Message);
            Assert.Contains("ports 80, 443, 4434, 8800", e.Message);
        }
    }
}
