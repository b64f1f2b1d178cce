using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace CcieDr.Simulator;

/// <summary>
/// Loopback stand-ins for a simulated box's app ports (80, 443, 4434, 8800). A simulated box's private IP is fiction,
/// so a port probe "from here" goes to these instead (<c>-ProbeAddress 127.0.0.1 -ProbePortMap</c>). Each box asked
/// for (<c>GET /_sim/boxes/{instanceId}/ports</c>) gets four listeners on free ports of 127.0.0.1, kept for the
/// simulator's lifetime; they accept only while the instance is running, not impaired, its AZ up, and its app
/// started. 443 and 8800 speak TLS with a self-signed certificate (as Replicated's console does).
/// The app state comes from, in order: a flag set through <c>POST /_sim/boxes/{instanceId}/app {"state":…}</c>;
/// the Replicated stand-in's state file under a configured root (<c>{"standinRoot":…}</c>, per box or as the default
/// with <c>{instanceId}</c> in it); else, with the SSM sandbox on, the stand-in in the box's own sandbox (read on the
/// simulated clock, as the stand-in itself reads it: so Stop-CcieApp over SSM closes these ports, Start-CcieApp opens
/// them); else "started" for a box tagged Name=circleci_services, "stopped" for others.
/// </summary>
internal sealed class AppPortListeners : IDisposable
{
    public static readonly int[] Ports = { 80, 443, 4434, 8800 };

    private readonly World world;
    private readonly object sync = new();
    private readonly Dictionary<string, Box> boxes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> flags = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> standinRoots = new(StringComparer.Ordinal);
    private readonly Lazy<X509Certificate2> certificate = new(CreateCertificate);
    private readonly Timer timer;
    private string? defaultStandinRoot;
    private bool disposed;
    private int reconciling;

    public AppPortListeners(World world)
    {
        this.world = world;
        timer = new Timer(_ => Reconcile(), null, TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(200));
    }

    /// <summary>The box's loopback stand-ins (created on first ask) and whether they accept now.</summary>
    public JsonObject Describe(string instanceId)
    {
        Box box;
        lock (sync)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (!boxes.TryGetValue(instanceId, out box!))
            {
                if (Find(instanceId) is null)
                {
                    throw new KeyNotFoundException($"no instance {instanceId}");
                }

                box = new Box(instanceId, this);
                boxes[instanceId] = box;
                _ = certificate.Value; // made now, so the first TLS probe does not wait for it
            }
        }

        Reconcile();
        var (appState, source, open) = Evaluate(instanceId);
        var map = new JsonObject();
        foreach (var l in box.Listeners)
        {
            map[l.AppPort.ToString(CultureInfo.InvariantCulture)] = l.Port;
        }

        return new JsonObject
        {
            ["instanceId"] = instanceId,
            ["address"] = "127.0.0.1",
            ["appState"] = appState,
            ["appStateSource"] = source,
            ["open"] = open,
            ["ports"] = map,
        };
    }

    /// <summary>Sets (or with null clears) the app-state flag of a box.</summary>
    public void SetAppState(string instanceId, string? state)
    {
        if (state is not null && state is not ("started" or "stopped" or "starting" or "stopping"))
        {
            throw new ArgumentException("state must be started, stopped, starting or stopping (or null to clear)");
        }

        lock (sync)
        {
            if (state is null)
            {
                flags.Remove(instanceId);
            }
            else
            {
                flags[instanceId] = state;
            }
        }

        Reconcile();
    }

    /// <summary>Where a box's Replicated stand-in keeps its state (null clears); instanceId null sets the default ("{instanceId}" is replaced).</summary>
    public void SetStandinRoot(string? instanceId, string? root)
    {
        lock (sync)
        {
            if (instanceId is null)
            {
                defaultStandinRoot = root;
            }
            else if (root is null)
            {
                standinRoots.Remove(instanceId);
            }
            else
            {
                standinRoots[instanceId] = root;
            }
        }

        Reconcile();
    }

    /// <summary>Handles <c>/_sim/boxes/…</c> control routes.</summary>
    public JsonNode? Handle(string method, string path, JsonObject body)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries); // _sim boxes {id} ports|app
        if (method == "POST" && parts.Length == 3 && parts[2] == "app")
        {
            // POST /_sim/boxes/app {"standinRoot": "/x/{instanceId}/var/lib/replicated-standin"}: the default for every box.
            SetStandinRoot(null, body["standinRoot"] is JsonValue d ? d.ToString() : null);
            return null;
        }

        if (parts.Length != 4)
        {
            throw new KeyNotFoundException($"no control route {method} {path}; GET /_sim/help lists them");
        }

        string id = parts[2];
        switch (method, parts[3])
        {
            case ("GET", "ports"):
                return Describe(id);
            case ("POST", "app"):
                if (body.ContainsKey("standinRoot"))
                {
                    SetStandinRoot(id, body["standinRoot"] is JsonValue r ? r.ToString() : null);
                }

                if (body.ContainsKey("state"))
                {
                    SetAppState(id, body["state"] is JsonValue s ? s.ToString() : null);
                }

                return Describe(id);
            default:
                throw new KeyNotFoundException($"no control route {method} {path}; GET /_sim/help lists them");
        }
    }

    public void Dispose()
    {
        lock (sync)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
        }

        timer.Dispose();
        foreach (var box in boxes.Values)
        {
            foreach (var l in box.Listeners)
            {
                l.Close();
            }
        }

        if (certificate.IsValueCreated)
        {
            certificate.Value.Dispose();
        }
    }

    private void Reconcile()
    {
        // One pass at a time: a pass waits for the world's lock, which a control call can hold while a sandbox command
        // runs (seeding a box's disk). Overlapping timer passes each took a pool thread and blocked, until the pool had
        // none left to finish that very command: the simulator hung (seen in the failover bench).
        if (Interlocked.Exchange(ref reconciling, 1) != 0)
        {
            return;
        }

        try
        {
            ReconcileOnce();
        }
        finally
        {
            Volatile.Write(ref reconciling, 0);
        }
    }

    private void ReconcileOnce()
    {
        List<Box> list;
        lock (sync)
        {
            if (disposed)
            {
                return;
            }

            list = boxes.Values.ToList();
        }

        foreach (var box in list)
        {
            bool open = Evaluate(box.InstanceId).Open;
            foreach (var l in box.Listeners)
            {
                if (open)
                {
                    l.Open();
                }
                else
                {
                    l.Close();
                }
            }
        }
    }

    private (string AppState, string Source, bool Open) Evaluate(string instanceId)
    {
        bool up;
        string? name;
        string? sandboxRoot = null;
        DateTime simNow;
        lock (world.Sync)
        {
            world.Tick();
            simNow = world.Now;
            var found = Find(instanceId);
            up = found is { } f && f.Instance.State == InstanceStates.Running && !f.Instance.Impaired && f.Region.FindZone(f.Instance.AvailabilityZone)?.Failed != true;
            name = found?.Instance.Tag("Name");
            if (found is { } g && world.Sandbox is { } sandbox && Ssm.SsmService.Managed(g.Instance))
            {
                // The box's own disk: created (a restored box: copied from its source) once it runs, as a command would.
                sandboxRoot = sandbox.ExistingBoxRoot(instanceId)
                    ?? (up && sandbox.Unavailable is null ? sandbox.BoxRoot(g.Instance, g.Region, world.Now) : null);
            }
        }

        string? flag;
        string? root;
        lock (sync)
        {
            flag = flags.TryGetValue(instanceId, out var fl) ? fl : null;
            root = standinRoots.TryGetValue(instanceId, out var r) ? r : defaultStandinRoot?.Replace("{instanceId}", instanceId, StringComparison.Ordinal);
        }

        string state;
        string source;
        if (flag is not null)
        {
            (state, source) = (flag, "flag");
        }
        else if (root is not null)
        {
            (state, source) = (StandinState(root, DateTimeOffset.UtcNow.ToUnixTimeSeconds()), "standin:" + root);
        }
        else if (sandboxRoot is not null)
        {
            // Inside the sandbox the stand-in's clock is the simulated one (STANDIN_NOW).
            (state, source) = (StandinState(SandboxStandinRoot(sandboxRoot), (long)(simNow - DateTime.UnixEpoch).TotalSeconds), "sandbox");
        }
        else
        {
            (state, source) = (name == "circleci_services" ? "started" : "stopped", "default");
        }

        return (state, source, up && state == "started");
    }

    /// <summary>The stand-in's state directory in a sandbox, refusing links (a command in the box must not point the simulator elsewhere).</summary>
    private static string SandboxStandinRoot(string sandboxRoot)
    {
        string dir = sandboxRoot;
        foreach (var part in new[] { "var", "lib", "replicated-standin" })
        {
            dir = Path.Combine(dir, part);
            if (new DirectoryInfo(dir).LinkTarget is not null)
            {
                return Path.Combine(sandboxRoot, "nonexistent");
            }
        }

        return new FileInfo(Path.Combine(dir, "state")).LinkTarget is null ? dir : Path.Combine(sandboxRoot, "nonexistent");
    }

    /// <summary>The stand-in's app state as it would report it now (starting moves to started after start_seconds unless fail_start; stopping to stopped after stop_seconds).</summary>
    private static string StandinState(string root, long now)
    {
        string file = Path.Combine(root, "state");
        Dictionary<string, string> kv;
        try
        {
            kv = File.ReadAllLines(file)
                .Select(l => l.Split('=', 2))
                .Where(p => p.Length == 2)
                .GroupBy(p => p[0], StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.First()[1], StringComparer.Ordinal);
        }
        catch (IOException)
        {
            return "absent";
        }
        catch (UnauthorizedAccessException)
        {
            return "absent";
        }

        string state = kv.GetValueOrDefault("state", "absent");
        long at = long.TryParse(kv.GetValueOrDefault("changed_at"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var a) ? a : now;
        long secs = long.TryParse(kv.GetValueOrDefault("start_seconds"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s : 0;
        if (state == "starting" && now - at >= secs)
        {
            return kv.GetValueOrDefault("fail_start") == "1" ? "stopped" : "started";
        }

        long stopSecs = long.TryParse(kv.GetValueOrDefault("stop_seconds"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) ? t : 1;
        if (state == "stopping" && now - at >= stopSecs)
        {
            return "stopped";
        }

        return state;
    }

    private (RegionState Region, Instance Instance)? Find(string instanceId)
    {
        lock (world.Sync)
        {
            foreach (var r in world.Regions.Values)
            {
                if (r.Instances.TryGetValue(instanceId, out var i))
                {
                    return (r, i);
                }
            }
        }

        return null;
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=circleci-services.simulator", key, HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }

    private sealed class Box
    {
        public Box(string instanceId, AppPortListeners owner)
        {
            InstanceId = instanceId;
            Listeners = Ports.Select(p => new PortListener(p, owner)).ToList();
        }

        public string InstanceId { get; }

        public List<PortListener> Listeners { get; }
    }

    /// <summary>One stand-in port: bound on demand, to the same port number each time it reopens.</summary>
    private sealed class PortListener
    {
        private static readonly byte[] HttpReply = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        private readonly AppPortListeners owner;
        private readonly object gate = new();
        private TcpListener? listener;

        public PortListener(int appPort, AppPortListeners owner)
        {
            AppPort = appPort;
            this.owner = owner;

            // Reserve a free port now so the map stays valid while the stand-in is closed.
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
        }

        public int AppPort { get; }

        public int Port { get; }

        public void Open()
        {
            lock (gate)
            {
                if (listener is not null)
                {
                    return;
                }

                var l = new TcpListener(IPAddress.Loopback, Port);
                try
                {
                    l.Start();
                }
                catch (SocketException)
                {
                    return; // taken meanwhile by someone else: stays closed, retried on the next reconcile
                }

                listener = l;
                _ = AcceptLoopAsync(l);
            }
        }

        public void Close()
        {
            lock (gate)
            {
                listener?.Stop();
                listener = null;
            }
        }

        private async Task AcceptLoopAsync(TcpListener l)
        {
            while (true)
            {
                TcpClient client;
                try
                {
                    client = await l.AcceptTcpClientAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                _ = ServeAsync(client);
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            using (client)
            {
                try
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    Stream stream = client.GetStream();
                    if (AppPort is 443 or 8800)
                    {
                        var ssl = new SslStream(stream, false);
                        await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = owner.certificate.Value }, cts.Token).ConfigureAwait(false);
                        stream = ssl;
                    }

                    await stream.WriteAsync(HttpReply, cts.Token).ConfigureAwait(false);
                    await stream.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
                {
                    // a probe that hangs up early is fine
                }
            }
        }
    }
}
