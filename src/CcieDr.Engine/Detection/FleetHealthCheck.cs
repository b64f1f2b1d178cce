using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Aws.CloudWatch;
using CcieDr.Engine.Recovery;
using MetricPoint = CcieDr.Engine.Aws.CloudWatch.MetricPoint;

namespace CcieDr.Engine.Detection
{
    /// <summary>What Get-CcieFleetHealth reads.</summary>
    public sealed class FleetHealthOptions
    {
        /// <summary>CloudWatch namespace of CircleCI's metrics; null: found by the metric's name.</summary>
        public string? Namespace { get; set; }

        /// <summary>num-masters older than this is an outage (the app stopped publishing). Default 10 min.</summary>
        public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(10);

        /// <summary>The window read. Default 15 min.</summary>
        public TimeSpan Since { get; set; } = TimeSpan.FromMinutes(15);

        /// <summary>Name tag of the Services box (for its IPs, compared with the builders' SERVICES_PRIVATE_IP).</summary>
        public string ServicesBoxName { get; set; } = ServicesBoxQuery.DefaultName;
    }

    /// <summary>
    /// Reads CircleCI's fleet metrics (CloudWatch), the builders AWS runs (EC2 instances tagged aws:autoscaling:groupName)
    /// and, when builders seem disconnected, the SERVICES_PRIVATE_IP they were launched with; then interprets it all
    /// (<see cref="FleetHealthInterpreter"/>).
    /// </summary>
    public sealed class FleetHealthCheck
    {
        private const string GroupTag = "aws:autoscaling:groupName";
        private const int MaxUserDataReads = 20;
        private static readonly Regex ServicesIp = new Regex(@"(?m)^\s*(?:export\s+)?SERVICES_PRIVATE_IP\s*=\s*[""']?([0-9.]+)", RegexOptions.CultureInvariant);

        private readonly CloudWatchClient _cloudWatch;
        private readonly IAmazonEC2 _ec2;
        private readonly string _region;

        public FleetHealthCheck(CloudWatchClient cloudWatch, IAmazonEC2 ec2, string region)
        {
            _cloudWatch = cloudWatch ?? throw new ArgumentNullException(nameof(cloudWatch));
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
        }

        public async Task<FleetHealth> RunAsync(FleetHealthOptions options, CancellationToken ct)
        {
            if (options is null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            if (options.StaleAfter <= TimeSpan.Zero || options.Since <= TimeSpan.Zero)
            {
                throw new CcieException("InvalidFleetHealthWindow", CcieErrorCategory.InvalidArgument, "-StaleAfter and -Since must be positive durations (for example -StaleAfter 00:10:00 -Since 00:15:00).");
            }

            // 1. Which namespace, and which series of CircleCI's metrics exist.
            string? ns = options.Namespace;
            IReadOnlyList<MetricIdentity> series;
            if (ns is null)
            {
                IReadOnlyList<MetricIdentity> found = await _cloudWatch.ListMetricsAsync(null, CircleCiMetrics.NumMasters, null, ct).ConfigureAwait(false);
                ns = found.Select(m => m.Namespace).OrderBy(n => n, StringComparer.Ordinal).FirstOrDefault();
            }

            series = ns is null
                ? Array.Empty<MetricIdentity>()
                : (await _cloudWatch.ListMetricsAsync(ns, null, null, ct).ConfigureAwait(false)).Where(m => CircleCiMetrics.All.Contains(m.MetricName)).ToList();

            // 2. The newest points of each.
            DateTime now = DateTime.UtcNow + _cloudWatch.ClockOffset;
            var points = new Dictionary<MetricIdentity, IReadOnlyList<MetricPoint>>();
            if (series.Count > 0)
            {
                var queries = series.Take(500).Select((m, i) => new MetricDataQuery("m" + i.ToString(CultureInfo.InvariantCulture), m, 60, "Maximum")).ToList();
                MetricDataResponse data = await _cloudWatch.GetMetricDataAsync(queries, now - options.Since, now.AddMinutes(1), ct).ConfigureAwait(false);
                now = data.ServerTime ?? DateTime.UtcNow + _cloudWatch.ClockOffset;
                foreach (MetricDataQuery q in queries)
                {
                    points[q.Metric] = (IReadOnlyList<MetricPoint>?)data[q.Id]?.Points.OrderByDescending(p => p.Timestamp).ToList() ?? Array.Empty<MetricPoint>();
                }
            }

            var rows = new List<FleetMetric>();
            var observed = new Dictionary<string, MetricObservation>(StringComparer.Ordinal);
            foreach (string name in CircleCiMetrics.All)
            {
                // Several series of one metric (e.g. per host): the one with the newest point speaks for it.
                MetricIdentity? best = series.Where(m => m.MetricName == name)
                    .OrderByDescending(m => points.TryGetValue(m, out IReadOnlyList<MetricPoint>? p) && p.Count > 0 ? p[0].Timestamp : DateTime.MinValue)
                    .FirstOrDefault();
                IReadOnlyList<MetricPoint> p = best is not null && points.TryGetValue(best, out IReadOnlyList<MetricPoint>? got) ? got : Array.Empty<MetricPoint>();
                MetricPoint? latest = p.Count > 0 ? p[0] : null;
                TimeSpan? age = latest is null ? null : Max(TimeSpan.Zero, now - latest.Timestamp);
                observed[name] = new MetricObservation(best is not null, latest?.Value, age, p.Count > 0 ? p[p.Count - 1].Value : null);
                rows.Add(new FleetMetric
                {
                    Namespace = ns ?? string.Empty,
                    MetricName = name,
                    Dimensions = best is null ? string.Empty : string.Join(", ", best.Dimensions.Select(d => d.ToString())),
                    Value = latest?.Value,
                    Timestamp = latest?.Timestamp,
                    Age = age,
                    FirstValue = p.Count > 0 ? p[p.Count - 1].Value : null,
                    Status = best is null ? "Missing" : latest is null ? "NoData" : age > options.StaleAfter ? "Stale" : "Ok",
                });
            }

            // 3. The builders AWS runs, and the box's IPs.
            IReadOnlyList<Instance> builders = await AwsCall.RunAsync(
                "ec2:DescribeInstances",
                GroupTag,
                t => _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest { Filters = new List<Filter> { Ec2Extensions.Filter("tag-key", GroupTag), Ec2Extensions.Filter("instance-state-name", "running") } }, t),
                ct).ConfigureAwait(false);
            IReadOnlyList<ServicesBox> boxes = await new ServicesBoxLocator(_ec2, _region).FindAsync(new ServicesBoxQuery { Name = options.ServicesBoxName }, ct).ConfigureAwait(false);
            ServicesBox? box = boxes.OrderByDescending(b => b.State == "running").FirstOrDefault();
            var boxIps = box is null
                ? new List<string>()
                : new[] { box.PrivateIpAddress }.Concat(box.SecondaryPrivateIpAddresses).Where(ip => !string.IsNullOrEmpty(ip)).Select(ip => ip!).Distinct().ToList();

            // 4. When the app sees fewer builders than run: what SERVICES_PRIVATE_IP were they launched with?
            var otherIp = new Dictionary<string, string>(StringComparer.Ordinal);
            MetricObservation nm = observed[CircleCiMetrics.NumMasters];
            if (boxIps.Count > 0 && builders.Count > 0 && nm.Latest is double m && m - 1 < builders.Count)
            {
                foreach (Instance b in builders.Take(MaxUserDataReads))
                {
                    string? ip = await ServicesIpOfAsync(b.InstanceId, ct).ConfigureAwait(false);
                    if (ip is not null && !boxIps.Contains(ip))
                    {
                        otherIp[b.InstanceId] = ip;
                    }
                }
            }

            var observation = new FleetObservation
            {
                Region = _region,
                Namespace = series.Count > 0 ? ns : null,
                NamespaceGiven = options.Namespace is not null,
                NumMasters = nm,
                RunQueueBuilds = observed[CircleCiMetrics.RunQueueBuilds],
                ContainersLeaked = observed[CircleCiMetrics.ContainersLeaked],
                BuildersRunning = builders.Count,
                ServicesPrivateIps = boxIps,
                BuildersWithOtherServicesIp = otherIp,
                StaleAfter = options.StaleAfter,
                Since = options.Since,
            };
            FleetInterpretation verdict = FleetHealthInterpreter.Interpret(observation);
            return new FleetHealth
            {
                Region = _region,
                Verdict = verdict.Verdict,
                Reasons = verdict.Reasons,
                SuggestedAction = verdict.SuggestedAction,
                Namespace = observation.Namespace ?? options.Namespace,
                NumMasters = nm.Latest,
                BuildersSeenByApp = verdict.BuildersSeenByApp,
                BuildersRunning = builders.Count,
                BuilderInstanceIds = builders.Select(b => b.InstanceId).OrderBy(i => i, StringComparer.Ordinal).ToList(),
                AutoScalingGroupNames = builders.Select(b => b.Tags.ToDictionary().TryGetValue(GroupTag, out string? g) ? g : null).Where(g => g is not null).Select(g => g!).Distinct().OrderBy(g => g, StringComparer.Ordinal).ToList(),
                ServicesPrivateIps = boxIps,
                BuildersWithOtherServicesIp = otherIp,
                RunQueueBuilds = observed[CircleCiMetrics.RunQueueBuilds].Latest,
                ContainersLeaked = observed[CircleCiMetrics.ContainersLeaked].Latest,
                Metrics = rows,
                CheckedAt = now,
                StaleAfter = options.StaleAfter,
                Since = options.Since,
            };
        }

        /// <summary>SERVICES_PRIVATE_IP in an instance's user data (base64, plain or gzip); null when absent or unreadable.</summary>
        private async Task<string?> ServicesIpOfAsync(string instanceId, CancellationToken ct)
        {
            CcieException? failed = null;
            string? userData = null;
            failed = await AwsCall.TryRunAsync(
                "ec2:DescribeInstanceAttribute",
                instanceId,
                async t => userData = (await _ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = instanceId, Attribute = InstanceAttributeName.UserData }, t).ConfigureAwait(false)).InstanceAttribute?.UserData,
                ct).ConfigureAwait(false);
            return failed is null ? ServicesIpIn(userData) : null;
        }

        internal static string? ServicesIpIn(string? userData)
        {
            if (string.IsNullOrEmpty(userData))
            {
                return null;
            }

            string text;
            try
            {
                byte[] bytes = Convert.FromBase64String(userData);
                if (bytes.Length > 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
                {
                    using var gz = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                    using var reader = new StreamReader(gz, Encoding.UTF8);
                    text = reader.ReadToEnd();
                }
                else
                {
                    text = Encoding.UTF8.GetString(bytes);
                }
            }
            catch (FormatException)
            {
                text = userData!;
            }

            Match match = ServicesIp.Match(text);
            return match.Success ? match.Groups[1].Value : null;
        }

        private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
    }
}
