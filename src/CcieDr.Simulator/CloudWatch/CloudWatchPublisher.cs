using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace CcieDr.Simulator.CloudWatch;

/// <summary>
/// Publishes what the simulated world implies, once per simulated minute (inside <see cref="World.Tick"/>):
/// <list type="bullet">
/// <item>AWS/EC2 (publisher "ec2"): CPUUtilization, StatusCheckFailed, StatusCheckFailed_Instance, StatusCheckFailed_System
/// per running instance (dimension InstanceId); an impaired instance fails the instance check, a failed AZ the system check.</item>
/// <item>CWAgent (publisher "cwagent"), Services box only, while it runs and is not impaired: mem_used_percent {InstanceId},
/// disk_used_percent {InstanceId, path} for path=/ and path=/data (the agent's aggregation_dimensions [["InstanceId","path"]]).</item>
/// <item>CircleCI (publisher "circleci", namespace <see cref="CloudWatchState.CircleCiNamespace"/>, no dimensions): the custom
/// metrics CircleCI Enterprise publishes when "Enable Cloudwatch" is on in the Replicated admin console (Settings &gt;
/// Monitoring). Names from CircleCI's documentation (https://circleci.com/docs/enterprise/cloudwatch/, "CloudWatch integration
/// enables the following custom metrics": ContainersReserved, ContainersLeaked, ContainersAvailable, circle.run-queue.builds,
/// circle.run-queue.containers, circle.state.running-builds, circle.state.num-masters). That page names no namespace (the
/// server 2.x Telegraf output lets the admin choose it), hence the simulator's default "CircleCI", settable by the control API.
/// num-masters = 1 + connected builders while the box's app runs, 0 while it is down (box not running, impaired, in a failed
/// AZ, or the app killed); the run queue grows by 2 builds a minute while the app runs with no builder connected and drains
/// 4 a minute per connected builder.</item>
/// </list>
/// A stopped publisher writes nothing (stale data); a pinned series is written with its pinned value instead.
/// </summary>
/// <summary>A box's CPU, memory and disks in the simulated world (see <see cref="CloudWatchPublisher.CapacityOf"/>).</summary>
internal sealed record BoxCapacity(int Cpus, double CpuPercent, double MemoryPercent, long MemoryTotalKiB, double RootPercent, int RootSizeGiB, double DataPercent, int? DataSizeGiB)
{
    /// <summary>/proc/loadavg as the box shows it: a sustained load matching the CPU use on every average.</summary>
    public string LoadAvg()
    {
        var load = (CpuPercent * Cpus / 100).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
        return $"{load} {load} {load} 1/300 4242\n";
    }

    /// <summary>/proc/meminfo's first lines (MemTotal, MemFree, MemAvailable) matching mem_used_percent.</summary>
    public string MemInfo()
    {
        var available = (long)(MemoryTotalKiB * (100 - MemoryPercent) / 100);
        return $"MemTotal:       {MemoryTotalKiB} kB\nMemFree:        {available / 2} kB\nMemAvailable:   {available} kB\n";
    }

    /// <summary>The df stand-in's table: "&lt;path&gt; &lt;df -P -k line&gt;" for / and (with a data volume) /data.</summary>
    public string DfTable()
    {
        static string Line(string path, string device, int sizeGiB, double percent)
        {
            var size = (long)sizeGiB * 1024 * 1024;
            var used = (long)Math.Round(size * percent / 100);
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{path} {device} {size} {used} {size - used} {Math.Round(percent):0}% {path}\n");
        }

        return Line("/", "/dev/nvme0n1p1", RootSizeGiB, RootPercent) + (DataSizeGiB is int data ? Line("/data", "/dev/nvme1n1", data, DataPercent) : "");
    }
}

internal static class CloudWatchPublisher
{
    public const string Ec2Namespace = "AWS/EC2";
    public const string AgentNamespace = "CWAgent";
    public const string ServicesBoxName = "circleci_services";

    private const int BackfillMinutes = 10;
    private const int MaxCatchUpMinutes = 180;

    public static void Tick(World w, RegionState r, DateTime now)
    {
        var cw = r.CloudWatch;
        var minute = Floor(now);
        var last = cw.LastPublished ?? minute.AddMinutes(-BackfillMinutes);
        if (minute <= last && cw.LastPublished is not null)
        {
            return;
        }

        var from = minute.AddMinutes(-MaxCatchUpMinutes) > last ? minute.AddMinutes(-MaxCatchUpMinutes) : last.AddMinutes(cw.LastPublished is null ? 0 : 1);
        for (var t = from; t <= minute; t = t.AddMinutes(1))
        {
            PublishMinute(w, r, t);
        }

        cw.LastPublished = minute;
    }

    /// <summary>The Services box the CircleCI metrics follow: the newest running instance tagged Name=circleci_services, else the newest not terminated.</summary>
    public static Instance? ServicesBox(RegionState r) =>
        r.Instances.Values
            .Where(i => i.Tag("Name") == ServicesBoxName && i.State is not (InstanceStates.Terminated or InstanceStates.ShuttingDown))
            .OrderByDescending(i => i.State == InstanceStates.Running)
            .ThenByDescending(i => i.LaunchTime)
            .FirstOrDefault();

    /// <summary>True while the CircleCI app on <paramref name="box"/> runs: the box runs, passes its checks, its AZ is up and the app is not killed.</summary>
    public static bool AppRuns(RegionState r, Instance box) =>
        box.State == InstanceStates.Running && !box.Impaired && !box.AppKilled && r.FindZone(box.AvailabilityZone)?.Failed != true;

    /// <summary>
    /// The one rule for "connected": a running, healthy Auto Scaling builder whose user data (what it was launched with,
    /// from its launch template) sets SERVICES_PRIVATE_IP to one of the box's private IPs (primary or secondary, so a
    /// floating IP counts) and CIRCLE_SECRET_PASSPHRASE to the box's secret token (what <c>replicated admin
    /// get-secret-token</c> prints there: see <see cref="BoxSecretToken"/>). A builder with the right IP and a wrong or
    /// missing passphrase reaches the box but is refused, so it does not count.
    /// </summary>
    public static bool IsConnected(World w, RegionState r, Instance builder, Instance box) => IsConnected(r, builder, box, BoxSecretToken(w, r, box));

    /// <summary><see cref="IsConnected(World, RegionState, Instance, Instance)"/> with the box's token read once for many builders.</summary>
    public static bool IsConnected(RegionState r, Instance builder, Instance box, string boxToken)
    {
        if (builder.Tag(AutoScaler.GroupTag) is null || builder.State != InstanceStates.Running || builder.Impaired || r.FindZone(builder.AvailabilityZone)?.Failed == true)
        {
            return false;
        }

        var text = UserDataText(builder.UserData);
        var ip = Variable(text, "SERVICES_PRIVATE_IP");
        return ip is not null && BoxAddresses(r, box).Contains(ip) && Variable(text, "CIRCLE_SECRET_PASSPHRASE") == boxToken;
    }

    /// <summary>
    /// The box's secret token: the stand-in's <c>secret-token</c> file on the box's disk (its SSM sandbox, a restored box
    /// inheriting its source's), else the seeded one (<see cref="Seeder.Passphrase"/>: no sandbox, or no file).
    /// </summary>
    public static string BoxSecretToken(World w, RegionState r, Instance box) => w.Sandbox?.SecretToken(box, r) ?? Seeder.Passphrase;

    /// <summary>The SERVICES_PRIVATE_IP in base64 user data (plain or gzip), or null.</summary>
    public static string? ServicesIpOf(string? userData) => Variable(UserDataText(userData), "SERVICES_PRIVATE_IP");

    /// <summary>The text of base64 user data (gunzipped), the string itself when it is not base64, or null.</summary>
    private static string? UserDataText(string? userData)
    {
        if (string.IsNullOrEmpty(userData))
        {
            return null;
        }

        try
        {
            var bytes = Convert.FromBase64String(userData);
            if (bytes.Length > 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
            {
                using var gz = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                using var reader = new StreamReader(gz, Encoding.UTF8);
                return reader.ReadToEnd();
            }

            return Encoding.UTF8.GetString(bytes);
        }
        catch (FormatException)
        {
            return userData;
        }
    }

    // A shell assignment NAME=value / export NAME=value, quoted or not (the last one wins, as in a shell).
    private static string? Variable(string? text, string name)
    {
        if (text is null)
        {
            return null;
        }

        var found = Regex.Matches(text, $@"(?m)^[ \t]*(?:export[ \t]+)?{name}[ \t]*=[ \t]*(?:""(?<v>[^""\r\n]*)""|'(?<v>[^'\r\n]*)'|(?<v>[^\s;#]*))");
        return found.Count == 0 ? null : found[^1].Groups["v"].Value;
    }

    private static HashSet<string> BoxAddresses(RegionState r, Instance box)
    {
        var ips = new HashSet<string>(StringComparer.Ordinal) { box.PrivateIpAddress };
        foreach (var eni in r.NetworkInterfaces.Values.Where(n => n.InstanceId == box.Id))
        {
            foreach (var p in eni.PrivateIps)
            {
                ips.Add(p.Address);
            }
        }

        return ips;
    }

    /// <summary>
    /// What a box's capacity is in the simulated world: the one source of both the CloudWatch metrics (CPUUtilization,
    /// mem_used_percent, disk_used_percent) and what the box's SSM sandbox reports (/proc/loadavg, /proc/meminfo, df), so
    /// a filled disk or a pinned CPU reads the same from CloudWatch and from the box.
    /// </summary>
    public static BoxCapacity CapacityOf(RegionState r, Instance i)
    {
        var cw = r.CloudWatch;
        var box = ServicesBox(r);
        var cpu = cw.Cpu.TryGetValue(i.Id, out var pinned) ? pinned : i == box ? 22.5 : i.Tag(AutoScaler.GroupTag) is not null ? 35 : 5;
        var disk = cw.Disk.TryGetValue(i.Id, out var d) ? d : null;
        var volumes = i.BlockDevices
            .Select(b => (b.DeviceName, Size: r.Volumes.TryGetValue(b.VolumeId, out var v) ? v.Size : 0))
            .ToList();
        var rootSize = volumes.Where(v => v.DeviceName == i.RootDeviceName).Select(v => v.Size).FirstOrDefault();
        var dataSize = volumes.Where(v => v.DeviceName != i.RootDeviceName).Select(v => v.Size).FirstOrDefault();
        return new BoxCapacity(
            Cpus: 4,
            CpuPercent: cpu,
            MemoryPercent: i.AppKilled ? 12 : 45,
            MemoryTotalKiB: 32L * 1024 * 1024,
            RootPercent: disk?.GetValueOrDefault("/", 31) ?? 31,
            RootSizeGiB: rootSize > 0 ? rootSize : 100,
            DataPercent: disk?.GetValueOrDefault("/data", 42) ?? 42,
            DataSizeGiB: dataSize > 0 ? dataSize : null);
    }

    private static void PublishMinute(World w, RegionState r, DateTime t)
    {
        var cw = r.CloudWatch;
        var box = ServicesBox(r);

        foreach (var i in r.Instances.Values.Where(i => i.State == InstanceStates.Running))
        {
            var dims = Dims(("InstanceId", i.Id));
            var zoneFailed = r.FindZone(i.AvailabilityZone)?.Failed == true;
            Emit(cw, CloudWatchPublishers.Ec2, Ec2Namespace, "CPUUtilization", dims, t, CapacityOf(r, i).CpuPercent, "Percent");
            Emit(cw, CloudWatchPublishers.Ec2, Ec2Namespace, "StatusCheckFailed_Instance", dims, t, i.Impaired ? 1 : 0, "Count");
            Emit(cw, CloudWatchPublishers.Ec2, Ec2Namespace, "StatusCheckFailed_System", dims, t, zoneFailed ? 1 : 0, "Count");
            Emit(cw, CloudWatchPublishers.Ec2, Ec2Namespace, "StatusCheckFailed", dims, t, i.Impaired || zoneFailed ? 1 : 0, "Count");
        }

        if (box is not null && box.State == InstanceStates.Running && !box.Impaired)
        {
            var c = CapacityOf(r, box);
            Emit(cw, CloudWatchPublishers.Agent, AgentNamespace, "mem_used_percent", Dims(("InstanceId", box.Id)), t, c.MemoryPercent, "Percent");
            Emit(cw, CloudWatchPublishers.Agent, AgentNamespace, "disk_used_percent", Dims(("InstanceId", box.Id), ("path", "/")), t, c.RootPercent, "Percent");
            Emit(cw, CloudWatchPublishers.Agent, AgentNamespace, "disk_used_percent", Dims(("InstanceId", box.Id), ("path", "/data")), t, c.DataPercent, "Percent");
        }

        if (box is not null)
        {
            var runs = AppRuns(r, box);
            var token = BoxSecretToken(w, r, box);
            var connected = runs ? r.Instances.Values.Count(b => IsConnected(r, b, box, token)) : 0;
            if (runs && !cw.Stopped.Contains(CloudWatchPublishers.CircleCi))
            {
                cw.RunQueueBuilds = connected == 0 ? cw.RunQueueBuilds + 2 : Math.Max(0, cw.RunQueueBuilds - (4 * connected));
            }

            var running = runs ? connected : 0;
            var ns = cw.CircleCiNamespace;
            var none = Dims();
            Emit(cw, CloudWatchPublishers.CircleCi, ns, "circle.state.num-masters", none, t, runs ? 1 + connected : 0, "Count");
            Emit(cw, CloudWatchPublishers.CircleCi, ns, "circle.run-queue.builds", none, t, runs ? cw.RunQueueBuilds : 0, "Count");
            Emit(cw, CloudWatchPublishers.CircleCi, ns, "circle.run-queue.containers", none, t, runs ? cw.RunQueueBuilds : 0, "Count");
            Emit(cw, CloudWatchPublishers.CircleCi, ns, "circle.state.running-builds", none, t, running, "Count");
            Emit(cw, CloudWatchPublishers.CircleCi, ns, "ContainersReserved", none, t, running, "Count");
            Emit(cw, CloudWatchPublishers.CircleCi, ns, "ContainersAvailable", none, t, runs ? (4 * connected) - running : 0, "Count");
            Emit(cw, CloudWatchPublishers.CircleCi, ns, "ContainersLeaked", none, t, runs ? cw.LeakedContainers : 0, "Count");
        }

        foreach (var p in cw.Pinned.Values)
        {
            if (!cw.Stopped.Contains(PublisherOf(cw, p.Namespace)))
            {
                cw.Add(p.Namespace, p.MetricName, p.Dimensions, MetricSample.Of(t, p.Value));
            }
        }
    }

    /// <summary>Which publisher owns a namespace ("custom" for the others: never stopped).</summary>
    public static string PublisherOf(CloudWatchState cw, string ns) =>
        ns == Ec2Namespace ? CloudWatchPublishers.Ec2 : ns == AgentNamespace ? CloudWatchPublishers.Agent : ns == cw.CircleCiNamespace ? CloudWatchPublishers.CircleCi : "custom";

    private static void Emit(CloudWatchState cw, string publisher, string ns, string name, List<KeyValuePair<string, string>> dims, DateTime t, double value, string unit)
    {
        if (cw.Stopped.Contains(publisher) || cw.Pinned.ContainsKey(MetricSeries.SeriesKey(ns, name, dims)))
        {
            return;
        }

        cw.Add(ns, name, dims, MetricSample.Of(t, value, unit));
    }

    private static List<KeyValuePair<string, string>> Dims(params (string Name, string Value)[] d) =>
        d.Select(x => new KeyValuePair<string, string>(x.Name, x.Value)).ToList();

    public static DateTime Floor(DateTime t) => new(t.Ticks - (t.Ticks % TimeSpan.TicksPerMinute), DateTimeKind.Utc);
}
