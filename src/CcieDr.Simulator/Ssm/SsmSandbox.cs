using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace CcieDr.Simulator.Ssm;

/// <summary>
/// The simulated boxes' disks and the boundary around what runs on them: each managed instance has a directory
/// that plays its <c>/</c> (see "Sandbox layout" in the README), and commands run inside it under bubblewrap with
/// every namespace unshared (its own network namespace with only loopback), the host's system directories read-only
/// and nothing else of this machine visible. Without a working <c>bwrap</c>, nothing runs.
/// </summary>
internal sealed class SsmSandbox : IDisposable
{
    /// <summary>Characters of each stream kept from a sandboxed command (GetCommandInvocation returns 24,000).</summary>
    public const int CaptureLimit = 1024 * 1024;

    public const string StandinBin = "/opt/replicated-standin/bin";

    private const string Path = StandinBin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private static readonly string[] SystemBinds = ["/usr", "/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime"];

    // Every command runs behind this: the stand-in first opens the app's ports inside the sandbox's network namespace
    // while its app is started (they live as long as the command does), then the command itself runs ("$1").
    private const string CommandWrapper =
        "if [ -x " + StandinBin + "/replicated-standin ]; then " + StandinBin + "/replicated-standin ports-up </dev/null >/dev/null 2>&1; fi; exec /bin/sh -c \"$1\"";

    private readonly object gate = new();
    private readonly Dictionary<string, string> boxes = new(StringComparer.Ordinal);

    // Root volume id → the instance whose sandbox is that disk (a snapshot of the volume carries its content).
    private readonly Dictionary<string, string> volumeOwners = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<SandboxRun, byte> running = new();
    private string? unavailable;
    private bool probed;

    public SsmSandbox()
    {
        Root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"ccie-sim-{Environment.ProcessId}-{Guid.NewGuid().ToString("n")[..8]}");
        Directory.CreateDirectory(System.IO.Path.Combine(Root, "boxes"));
    }

    /// <summary>The per-simulator directory that holds every box (removed at dispose).</summary>
    public string Root { get; }

    /// <summary>Why commands cannot run here (no bwrap, or bwrap refused), or null when they can.</summary>
    public string? Unavailable
    {
        get
        {
            lock (gate)
            {
                if (!probed)
                {
                    probed = true;
                    unavailable = Probe();
                }

                return unavailable;
            }
        }
    }

    /// <summary>The host directory of the instance's <c>/</c>, created (and populated) on first use.</summary>
    /// <param name="instance">The instance.</param>
    /// <param name="region">Its region (to find the disk it was restored from).</param>
    /// <param name="now">Simulated now (the stand-in's clock at creation).</param>
    public string BoxRoot(Instance instance, RegionState region, DateTime now)
    {
        lock (gate)
        {
            if (boxes.TryGetValue(instance.Id, out var existing))
            {
                return existing;
            }

            var dir = System.IO.Path.Combine(Root, "boxes", instance.Id);
            var source = RestoredFrom(instance, region);
            if (source is not null)
            {
                CopyTree(source, dir);
                Booted(dir, now);
            }
            else
            {
                Populate(dir, instance, region, now);
            }

            boxes[instance.Id] = dir;
            var rootVolume = instance.BlockDevices.FirstOrDefault(b => b.DeviceName == instance.RootDeviceName)?.VolumeId;
            if (rootVolume is not null)
            {
                volumeOwners[rootVolume] = instance.Id;
            }

            return dir;
        }
    }

    /// <summary>The box's view of its own capacity (under /var/lib/ccie-sim, bound over /proc/loadavg and /proc/meminfo).</summary>
    public const string CapacityDir = "var/lib/ccie-sim";

    private const string DfStandin =
        "#!/bin/sh\n"
        + "# The simulator's df: prints, in df -P -k's format, the simulated disk that holds the path asked about (the same\n"
        + "# figures the simulated CloudWatch agent publishes as disk_used_percent). Table: /var/lib/ccie-sim/df.\n"
        + "for last in \"$@\"; do :; done\n"
        + "case \"${last:-/}\" in /data|/data/*) p=/data ;; *) p=/ ;; esac\n"
        + "line=$(awk -v p=\"$p\" '$1 == p { sub(/^[^ ]+ /, \"\"); print; exit }' /var/lib/ccie-sim/df 2>/dev/null)\n"
        + "[ -n \"$line\" ] || line=$(awk '$1 == \"/\" { sub(/^[^ ]+ /, \"\"); print; exit }' /var/lib/ccie-sim/df 2>/dev/null)\n"
        + "if [ -z \"$line\" ]; then echo \"df: ${last:-/}: No such file or directory\" >&2; exit 1; fi\n"
        + "echo 'Filesystem     1024-blocks      Used Available Capacity Mounted on'\n"
        + "echo \"$line\"\n";

    /// <summary>
    /// Writes what the box reports about its CPU, memory and disks (/proc/loadavg, /proc/meminfo and df inside the
    /// sandbox) from the simulated world, before each command, so the box and CloudWatch agree.
    /// </summary>
    public void WriteCapacity(string boxRoot, CloudWatch.BoxCapacity capacity)
    {
        ArgumentNullException.ThrowIfNull(capacity);
        lock (gate)
        {
            var dir = System.IO.Path.Combine(boxRoot, CapacityDir);
            Directory.CreateDirectory(dir);
            File.WriteAllText(System.IO.Path.Combine(dir, "loadavg"), capacity.LoadAvg());
            File.WriteAllText(System.IO.Path.Combine(dir, "meminfo"), capacity.MemInfo());
            File.WriteAllText(System.IO.Path.Combine(dir, "df"), capacity.DfTable());
            var df = System.IO.Path.Combine(boxRoot, "opt/replicated-standin/bin/df");
            if (Directory.Exists(System.IO.Path.GetDirectoryName(df)) && !File.Exists(df))
            {
                File.WriteAllText(df, DfStandin);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(df, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
                }
            }
        }
    }

    /// <summary>Starts <paramref name="script"/> in the box; <paramref name="done"/> is called once it ended (not after a kill).</summary>
    public SandboxRun Start(string boxRoot, string script, DateTime now, TimeSpan timeout, Action<SandboxRun> done, string? stdin = null)
    {
        var run = new SandboxRun(this, done);
        if (Unavailable is { } why)
        {
            run.CompleteWithoutRunning(127, "", "simulator: the SSM sandbox cannot run commands on this machine: " + why + "\n");
            return run;
        }

        var info = new ProcessStartInfo("bwrap")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        foreach (var a in Arguments(boxRoot, now))
        {
            info.ArgumentList.Add(a);
        }

        info.ArgumentList.Add("/bin/sh");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(CommandWrapper);
        info.ArgumentList.Add("sh");
        info.ArgumentList.Add(script);
        running[run] = 0;
        run.Launch(info, timeout, stdin);
        return run;
    }

    /// <summary>Runs <paramref name="script"/> in the box and waits (control API, box set-up).</summary>
    public (int ExitCode, string Stdout, string Stderr) Run(string boxRoot, string script, DateTime now, string? stdin = null, TimeSpan? timeout = null)
    {
        using var finished = new ManualResetEventSlim();
        var run = Start(boxRoot, script, now, timeout ?? TimeSpan.FromSeconds(30), _ => finished.Set(), stdin);
        finished.Wait();
        return (run.ExitCode, run.Stdout, run.Stderr);
    }

    internal void Forget(SandboxRun run) => running.TryRemove(run, out _);

    /// <summary>Kills every command and deletes every box (the simulator's reset: ids start over).</summary>
    public void Clear()
    {
        foreach (var run in running.Keys.ToList())
        {
            run.Kill();
        }

        lock (gate)
        {
            foreach (var dir in boxes.Values)
            {
                try
                {
                    Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                }
            }

            boxes.Clear();
            volumeOwners.Clear();
        }
    }

    /// <summary>
    /// The Replicated secret token on the box's disk (the stand-in's <c>secret-token</c>: what <c>replicated admin
    /// get-secret-token</c> prints), read from its sandbox, or from the disk it was restored from while it has no sandbox
    /// yet; null when neither has the file.
    /// </summary>
    public string? SecretToken(Instance instance, RegionState region)
    {
        lock (gate)
        {
            var dir = boxes.TryGetValue(instance.Id, out var existing) ? existing : RestoredFrom(instance, region);
            var file = dir is null ? null : System.IO.Path.Combine(dir, "var/lib/replicated-standin/secret-token");
            try
            {
                return file is not null && File.Exists(file) ? File.ReadAllText(file).Trim() : null;
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>The instance's sandbox directory if it has one already.</summary>
    public string? ExistingBoxRoot(string instanceId)
    {
        lock (gate)
        {
            return boxes.TryGetValue(instanceId, out var dir) ? dir : null;
        }
    }

    public void Dispose()
    {
        foreach (var run in running.Keys.ToList())
        {
            run.Kill();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    // bwrap with the box as / (bound first, so the system binds land on top of it).
    private static List<string> Arguments(string boxRoot, DateTime now)
    {
        var a = new List<string> { "--bind", boxRoot, "/" };
        foreach (var bind in SystemBinds)
        {
            a.AddRange(["--ro-bind-try", bind, bind]);
        }

        a.AddRange(["--proc", "/proc", "--dev", "/dev"]);

        // The simulated box's load and memory (WriteCapacity), bound over the host's, as LXCFS does in containers.
        foreach (var f in new[] { "loadavg", "meminfo" })
        {
            var file = System.IO.Path.Combine(boxRoot, CapacityDir, f);
            if (File.Exists(file))
            {
                a.AddRange(["--ro-bind", file, "/proc/" + f]);
            }
        }

        a.AddRange(["--unshare-all", "--unshare-user", "--uid", "0", "--gid", "0", "--hostname", Hostname(boxRoot)]);
        a.AddRange(["--die-with-parent", "--new-session", "--clearenv", "--chdir", "/"]);
        a.AddRange(["--setenv", "PATH", Path, "--setenv", "HOME", "/root", "--setenv", "USER", "root", "--setenv", "LANG", "C.UTF-8"]);
        a.AddRange(["--setenv", "STANDIN_NOW", ((long)(now - DateTime.UnixEpoch).TotalSeconds).ToString(CultureInfo.InvariantCulture)]);
        return a;
    }

    private static string Hostname(string boxRoot)
    {
        var file = System.IO.Path.Combine(boxRoot, "etc", "hostname");
        return File.Exists(file) ? File.ReadAllText(file).Trim() : "localhost";
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "bubblewrap needs Linux";
        }

        var scratch = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ccie-sim-probe-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(scratch);
        try
        {
            SystemLinks(scratch);
            var info = new ProcessStartInfo("bwrap") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in Arguments(scratch, DateTime.UtcNow))
            {
                info.ArgumentList.Add(a);
            }

            info.ArgumentList.Add("/bin/sh");
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add("exit 0");
            using var p = Process.Start(info)!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? null : $"bwrap failed ({err.Trim()}); user namespaces may be disabled";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "bubblewrap is not installed (apt-get install bubblewrap)";
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private string? RestoredFrom(Instance instance, RegionState region)
    {
        if (!region.Images.TryGetValue(instance.ImageId, out var image))
        {
            return null;
        }

        var rootSnapshot = image.BlockDevices.FirstOrDefault(b => b.DeviceName == image.RootDeviceName)?.SnapshotId;
        if (rootSnapshot is null || !region.Snapshots.TryGetValue(rootSnapshot, out var snap))
        {
            return null;
        }

        return volumeOwners.TryGetValue(snap.VolumeId, out var owner) && boxes.TryGetValue(owner, out var dir) ? dir : null;
    }

    private void Populate(string dir, Instance instance, RegionState region, DateTime now)
    {
        foreach (var d in new[] { "etc/default", "data", "root", "tmp", "var/lib/replicated-standin", "opt/replicated-standin/bin", "usr" })
        {
            Directory.CreateDirectory(System.IO.Path.Combine(dir, d));
        }

        SystemLinks(dir);

        var ip = instance.PrivateIpAddress;
        var node = Ec2.Ec2Service.PrivateDns(region, ip).Split('.')[0];
        var token = DaemonToken(instance.Id);

        // Replicated 2.x's files and variables, as Replicated's knowledge base shows them (replicatedhq/help-center,
        // "Change IP Address" and "Installing Replicated via AMI"): PRIVATE_ADDRESS in both; DAEMON_ENDPOINT and
        // DAEMON_HOST in replicated-operator; REPLICATED_OPTS / REPLICATED_OPERATOR_OPTS carry the -e options.
        Write(dir, "etc/default/replicated",
            $"RELEASE_CHANNEL=stable\nPRIVATE_ADDRESS={ip}\nSKIP_OPERATOR_INSTALL=0\nREPLICATED_OPTS=\"-e LOG_LEVEL=info -e DAEMON_TOKEN={token} -e NODENAME={node}\"\n");
        Write(dir, "etc/default/replicated-operator",
            $"RELEASE_CHANNEL=stable\nDAEMON_ENDPOINT={ip}:9879\nDAEMON_TOKEN={token}\nDAEMON_HOST={ip}\nPRIVATE_ADDRESS={ip}\nREPLICATED_OPERATOR_OPTS=\"-e LOG_LEVEL=info -e TAGS=local -e NODENAME={node}\"\n");
        Write(dir, "etc/hostname", node + "\n");
        Write(dir, "etc/hosts", $"127.0.0.1 localhost\n{ip} {node}\n");
        Write(dir, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
        Write(dir, "etc/group", "root:x:0:\n");

        var standin = System.IO.Path.Combine(dir, "opt/replicated-standin/bin/replicated");
        using (var resource = Assembly.GetExecutingAssembly().GetManifestResourceStream("CcieDr.Simulator.replicated-standin")
            ?? throw new InvalidOperationException("the Replicated stand-in is not embedded in the simulator"))
        using (var file = File.Create(standin))
        {
            resource.CopyTo(file);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(standin, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        File.CreateSymbolicLink(System.IO.Path.Combine(dir, "opt/replicated-standin/bin/replicatedctl"), "replicated");
        File.CreateSymbolicLink(System.IO.Path.Combine(dir, "opt/replicated-standin/bin/replicated-standin"), "replicated");
        // Replicated's services as systemd units: systemctl cat/restart (restarts are logged, see the stand-in).
        File.CreateSymbolicLink(System.IO.Path.Combine(dir, "opt/replicated-standin/bin/systemctl"), "replicated");

        if (Unavailable is null)
        {
            var init = Run(dir, $"replicated-standin init --major 2 --state started --start-seconds 3 --token '{Seeder.Passphrase}'", now);
            if (init.ExitCode != 0)
            {
                throw new InvalidOperationException($"the stand-in's init failed in the sandbox of {instance.Id}: {init.Stderr.Trim()}");
            }
        }
    }

    // A box booted from a restored disk: no process survived, and the app is not running until it is started (the
    // case CircleCI's guide warns of: "if CircleCI doesn't launch automatically ... start the app manually").
    private static void Booted(string dir, DateTime now)
    {
        var file = System.IO.Path.Combine(dir, "var", "lib", "replicated-standin", "state");
        if (!File.Exists(file) || new FileInfo(file).LinkTarget is not null)
        {
            return;
        }

        var at = ((long)(now - DateTime.UnixEpoch).TotalSeconds).ToString(CultureInfo.InvariantCulture);
        var lines = File.ReadAllLines(file)
            .Where(l => !l.StartsWith("state=", StringComparison.Ordinal) && !l.StartsWith("desired=", StringComparison.Ordinal) && !l.StartsWith("changed_at=", StringComparison.Ordinal))
            .Concat(["state=stopped", "desired=stopped", "changed_at=" + at]);
        File.WriteAllText(file, string.Join('\n', lines) + "\n", new UTF8Encoding(false));
    }

    // Merged /usr, as on Debian and Ubuntu: /bin, /sbin, /lib and /lib64 lead into the read-only /usr.
    private static void SystemLinks(string dir)
    {
        foreach (var (link, target) in new[] { ("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64") })
        {
            File.CreateSymbolicLink(System.IO.Path.Combine(dir, link), target);
        }
    }

    private static string DaemonToken(string instanceId) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes("daemon-" + instanceId)))[..32].ToLowerInvariant();

    private static void Write(string dir, string relative, string content) =>
        File.WriteAllText(System.IO.Path.Combine(dir, relative), content, new UTF8Encoding(false));

    // A restored disk: the source box's files as they are now (symlinks kept as links, never followed).
    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var entry in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            var target = System.IO.Path.Combine(to, entry.Name);
            if (entry.LinkTarget is { } link)
            {
                File.CreateSymbolicLink(target, link);
            }
            else if (entry is DirectoryInfo d)
            {
                CopyTree(d.FullName, target);
            }
            else if (entry is FileInfo f)
            {
                f.CopyTo(target);
            }
        }
    }
}

/// <summary>One command running in a sandbox: its process (bwrap, in its own process group), output and end.</summary>
internal sealed class SandboxRun : IDisposable
{
    private const int SigKill = 9;
    private readonly SsmSandbox owner;
    private readonly Action<SandboxRun> done;
    private readonly StringBuilder stdout = new();
    private readonly StringBuilder stderr = new();
    private volatile Process? process;
    private int finished;
    private Timer? timer;

    public SandboxRun(SsmSandbox owner, Action<SandboxRun> done)
    {
        this.owner = owner;
        this.done = done;
    }

    public int ExitCode { get; private set; } = -1;

    public string Stdout { get; private set; } = "";

    public string Stderr { get; private set; } = "";

    /// <summary>Killed at its execution timeout.</summary>
    public bool TimedOut { get; private set; }

    /// <summary>Killed by CancelCommand (or the simulator's shutdown).</summary>
    public bool Killed { get; private set; }

    public bool Completed => Volatile.Read(ref finished) != 0;

    internal void CompleteWithoutRunning(int exitCode, string output, string error)
    {
        ExitCode = exitCode;
        Stdout = output;
        Stderr = error;
        Finish();
    }

    internal void Launch(ProcessStartInfo info, TimeSpan timeout, string? stdin)
    {
        var p = new Process { StartInfo = info, EnableRaisingEvents = true };
        try
        {
            p.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            p.Dispose();
            CompleteWithoutRunning(127, "", "simulator: cannot start bwrap: " + e.Message + "\n");
            return;
        }

        process = p;
        var outTask = Capture(p.StandardOutput, stdout);
        var errTask = Capture(p.StandardError, stderr);
        _ = Task.Run(async () =>
        {
            try
            {
                if (stdin is not null)
                {
                    await p.StandardInput.WriteAsync(stdin).ConfigureAwait(false);
                }

                p.StandardInput.Close();
            }
            catch (IOException)
            {
            }
        });
        timer = new Timer(_ => Kill(timedOut: true), null, timeout, Timeout.InfiniteTimeSpan);
        _ = Task.Run(async () =>
        {
            await p.WaitForExitAsync().ConfigureAwait(false);
            await Task.WhenAll(outTask, errTask).ConfigureAwait(false);
            ExitCode = p.ExitCode;
            lock (stdout)
            {
                Stdout = stdout.ToString();
            }

            lock (stderr)
            {
                Stderr = stderr.ToString();
            }

            process = null;
            p.Dispose();
            Finish();
        });
    }

    public void Dispose() => timer?.Dispose();

    /// <summary>Kills the sandbox (bwrap's process group; its pid namespace dies with it).</summary>
    public void Kill() => Kill(timedOut: false);

    private void Kill(bool timedOut)
    {
        var p = process;
        try
        {
            if (p is null || Completed || p.HasExited)
            {
                return;
            }

            if (timedOut)
            {
                TimedOut = true;
            }
            else
            {
                Killed = true;
            }

            // bwrap's child is the init of the sandbox's pid namespace: killing it kills every process in there
            // (do not rely on --die-with-parent alone: it was seen to leave the init running). Then bwrap itself.
            foreach (var child in Children(p.Id))
            {
                _ = kill(child, SigKill);
            }

            if (kill(p.Id, SigKill) != 0)
            {
                p.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    private void Finish()
    {
        if (Interlocked.Exchange(ref finished, 1) != 0)
        {
            return;
        }

        timer?.Dispose();
        owner.Forget(this);
        done(this);
    }

    private static List<int> Children(int pid)
    {
        var children = new List<int>();
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                var file = System.IO.Path.Combine(task, "children");
                if (File.Exists(file))
                {
                    children.AddRange(File.ReadAllText(file).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture)));
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return children;
    }

    private static async Task Capture(StreamReader reader, StringBuilder into)
    {
        var buffer = new char[8192];
        int n;
        while ((n = await reader.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
        {
            lock (into)
            {
                var room = SsmSandbox.CaptureLimit - into.Length;
                if (room > 0)
                {
                    into.Append(buffer, 0, Math.Min(n, room));
                }
            }
        }
    }

    [DllImport("libc", SetLastError = true)]
#pragma warning disable CA5392, SA1300, IDE1006, SYSLIB1054
    private static extern int kill(int pid, int sig);
#pragma warning restore CA5392, SA1300, IDE1006, SYSLIB1054
}
