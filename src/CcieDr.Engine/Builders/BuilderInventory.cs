using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Aws.AutoScaling;
using CcieDr.Engine.Recovery;
using AsgGroup = CcieDr.Engine.Aws.AutoScaling.AutoScalingGroup;
using AsgInstance = CcieDr.Engine.Aws.AutoScaling.AutoScalingInstance;

namespace CcieDr.Engine.Builders
{
    /// <summary>What Get-CcieBuilder looks at.</summary>
    public sealed class BuilderQuery
    {
        /// <summary>The builders' group; null: discovered (the groups whose current user data carries SERVICES_PRIVATE_IP).</summary>
        public string? AutoScalingGroupName { get; set; }

        /// <summary>How the Services box is found (its IP is what builders must have).</summary>
        public ServicesBoxQuery ServicesBox { get; set; } = new ServicesBoxQuery();

        /// <summary>The IP builders must have, instead of the box's (e.g. before a failover changes it).</summary>
        public string? ServicesPrivateIp { get; set; }

        /// <summary>When the box was last recovered, instead of what its tags and launch time say.</summary>
        public DateTime? RecoveredAt { get; set; }

        /// <summary>Builders running longer are stale.</summary>
        public TimeSpan? MaxAge { get; set; }
    }

    /// <summary>The groups Get-CcieBuilder found, and what it could not judge.</summary>
    public sealed class BuilderInventoryResult
    {
        internal BuilderInventoryResult(IReadOnlyList<BuilderGroup> groups, IReadOnlyList<string> warnings)
        {
            Groups = groups;
            Warnings = warnings;
        }

        public IReadOnlyList<BuilderGroup> Groups { get; }

        public IReadOnlyList<string> Warnings { get; }
    }

    /// <summary>
    /// The builder fleet as Get-CcieBuilder shows it: the builders' Auto Scaling group (named, or the one whose
    /// launch template/configuration user data carries SERVICES_PRIVATE_IP), each member with its Auto Scaling and
    /// EC2 state, the configuration it was launched with and the Services IP in it, and whether it is stale
    /// (launched with an IP that is no longer the box's, launched before the box was last recovered, older than
    /// MaxAge). Read-only.
    /// </summary>
    public sealed class BuilderInventory
    {
        /// <summary>Stale reason: launched with an IP that is not the Services box's.</summary>
        public const string WrongServicesIp = "WrongServicesIp";

        /// <summary>Stale reason: launched before the box's last restore or failover.</summary>
        public const string LaunchedBeforeRecovery = "LaunchedBeforeRecovery";

        /// <summary>Stale reason: running longer than MaxAge.</summary>
        public const string OlderThanMaxAge = "OlderThanMaxAge";

        /// <summary>Tags on a box that a restore or failover made (its launch time is then the recovery time).</summary>
        public static readonly IReadOnlyList<string> RecoveryMarkerTags = new[] { Recovery.Restore.RestoreNaming.RestoredFromTag, Recovery.Restore.RestoreNaming.RestoreOfTag };

        /// <summary>Tags whose value is the recovery time (ISO 8601) when a failover promoted an existing instance.</summary>
        public static readonly IReadOnlyList<string> RecoveryTimeTags = new[] { "ccie:recovered-at", "ccie:failover-at", "ccie:promoted-at" };

        private const string LaunchTemplateVersionTag = "aws:ec2launchtemplate:version";

        private readonly IAmazonEC2 _ec2;
        private readonly AutoScalingClient _asg;
        private readonly string _region;

        public BuilderInventory(IAmazonEC2 ec2, AutoScalingClient asg, string region)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _asg = asg ?? throw new ArgumentNullException(nameof(asg));
            _region = region ?? throw new ArgumentNullException(nameof(region));
        }

        /// <summary>The builders' groups with their members (one group when named).</summary>
        /// <exception cref="CcieException">BuilderGroupNotFound (ObjectNotFound) when the named group does not exist or none is discovered.</exception>
        public async Task<BuilderInventoryResult> GetAsync(BuilderQuery query, CancellationToken ct)
        {
            if (query is null)
            {
                throw new ArgumentNullException(nameof(query));
            }

            var warnings = new List<string>();
            var configs = new ConfigurationReader(_ec2, _asg);
            IReadOnlyList<AsgGroup> groups = await FindBuilderGroupsAsync(query.AutoScalingGroupName, configs, ct).ConfigureAwait(false);

            ServicesBox? box = null;
            string? boxIp = query.ServicesPrivateIp;
            if (boxIp is null)
            {
                IReadOnlyList<ServicesBox> boxes = await new ServicesBoxLocator(_ec2, _region).FindAsync(query.ServicesBox, ct).ConfigureAwait(false);
                box = boxes.FirstOrDefault(b => b.State is "running" or "pending") ?? (boxes.Count > 0 ? boxes[0] : null);
                boxIp = box?.PrivateIpAddress;
                if (box is null)
                {
                    warnings.Add($"No Services box found in {_region} (tag Name={query.ServicesBox.Name}): builders are not judged by their Services IP. Give the box with -ServicesBoxName, or the IP with -ServicesPrivateIp.");
                }
                else if (boxes.Count(b => b.State is "running" or "pending") > 1)
                {
                    warnings.Add($"{boxes.Count} instances are tagged Name={query.ServicesBox.Name}; judging builders against the newest, {box.InstanceId} ({box.PrivateIpAddress}).");
                }
            }

            DateTime? recoveredAt = query.RecoveredAt?.ToUniversalTime() ?? (box is null ? null : RecoveryTime(box));
            Dictionary<string, Instance> instances = await DescribeMembersAsync(groups, ct).ConfigureAwait(false);
            await configs.LoadInstanceUserDataAsync(groups.SelectMany(g => g.Instances), instances, ct).ConfigureAwait(false);
            DateTime now = _asg.ServerTime ?? DateTime.UtcNow;

            var result = new List<BuilderGroup>();
            foreach (AsgGroup g in groups)
            {
                var members = new List<Builder>();
                foreach (AsgInstance m in g.Instances.OrderBy(i => instances.TryGetValue(i.InstanceId, out Instance? x) ? x.LaunchTime ?? DateTime.MaxValue : DateTime.MaxValue).ThenBy(i => i.InstanceId, StringComparer.Ordinal))
                {
                    instances.TryGetValue(m.InstanceId, out Instance? ec2);
                    members.Add(Judge(g, m, ec2, configs, box, boxIp, recoveredAt, query.MaxAge, now));
                }

                string? configured = configs.CurrentServicesIp(g);
                LaunchTemplateReference? template = g.EffectiveLaunchTemplate;
                result.Add(new BuilderGroup
                {
                    Region = _region,
                    AutoScalingGroupName = g.Name,
                    DesiredCapacity = g.DesiredCapacity,
                    MinSize = g.MinSize,
                    MaxSize = g.MaxSize,
                    InService = members.Count(b => b.LifecycleState == "InService" && b.HealthStatus == "Healthy"),
                    Stale = members.Count(b => b.Stale),
                    Count = members.Count,
                    LaunchTemplateId = g.LaunchConfigurationName is null ? template?.LaunchTemplateId ?? configs.TemplateId(template) : null,
                    LaunchTemplateVersion = g.LaunchConfigurationName is null ? template?.Version ?? "$Default" : null,
                    LaunchTemplateVersionNumber = g.LaunchConfigurationName is null ? configs.CurrentVersionNumber(g) : null,
                    LaunchConfigurationName = g.LaunchConfigurationName,
                    ConfiguredServicesPrivateIp = configured,
                    ServicesPrivateIp = boxIp,
                    ServicesInstanceId = box?.InstanceId,
                    PointsAtServicesBox = configured is null || boxIp is null ? null : string.Equals(configured, boxIp, StringComparison.Ordinal),
                    RecoveredAt = recoveredAt,
                    SuspendedProcesses = g.SuspendedProcesses.Select(p => p.ProcessName).ToList(),
                    Builders = members,
                });
            }

            return new BuilderInventoryResult(result, warnings);
        }

        /// <summary>When the box was last recovered: a recovery-time tag, or its launch time when a restore made it; null otherwise.</summary>
        public static DateTime? RecoveryTime(ServicesBox box)
        {
            if (box is null)
            {
                throw new ArgumentNullException(nameof(box));
            }

            DateTime? at = null;
            foreach (string tag in RecoveryTimeTags)
            {
                if (box.Tags.TryGetValue(tag, out string? value)
                    && DateTime.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime t)
                    && (at is null || t > at))
                {
                    at = t;
                }
            }

            if (box.LaunchTime is { } launched && RecoveryMarkerTags.Any(box.Tags.ContainsKey) && (at is null || launched > at))
            {
                at = launched.ToUniversalTime();
            }

            return at;
        }

        /// <summary>The instance ids of <paramref name="group"/>'s builders that are stale (what Get-CcieBuilder marks Stale).</summary>
        public async Task<IReadOnlyCollection<string>> StaleInstanceIdsAsync(string group, CancellationToken ct)
        {
            BuilderInventoryResult seen = await GetAsync(new BuilderQuery { AutoScalingGroupName = group }, ct).ConfigureAwait(false);
            return seen.Groups.SelectMany(g => g.Builders).Where(b => b.Stale).Select(b => b.InstanceId).ToList();
        }

        /// <summary>
        /// The builders' group name: <paramref name="name"/> when given (checked to exist), otherwise the one group whose
        /// current user data carries SERVICES_PRIVATE_IP.
        /// </summary>
        /// <exception cref="CcieException">BuilderGroupNotFound, or BuilderGroupAmbiguous when several groups qualify.</exception>
        public async Task<string> ResolveGroupNameAsync(string? name, CancellationToken ct)
        {
            IReadOnlyList<AsgGroup> groups = await FindBuilderGroupsAsync(name, new ConfigurationReader(_ec2, _asg), ct).ConfigureAwait(false);
            if (groups.Count > 1)
            {
                throw new CcieException(
                    "BuilderGroupAmbiguous",
                    CcieErrorCategory.InvalidArgument,
                    $"{groups.Count} Auto Scaling groups in {_region} launch instances with {UserDataEditor.ServicesIpName} ({string.Join(", ", groups.Select(g => g.Name))}). Name one with -AutoScalingGroupName.",
                    _region);
            }

            return groups[0].Name;
        }

        private async Task<IReadOnlyList<AsgGroup>> FindBuilderGroupsAsync(string? name, ConfigurationReader configs, CancellationToken ct)
        {
            IReadOnlyList<AsgGroup> groups = await FindGroupsAsync(name, ct).ConfigureAwait(false);
            await configs.LoadAsync(groups, ct).ConfigureAwait(false);
            if (name is not null)
            {
                return groups;
            }

            List<AsgGroup> builders = groups.Where(g => configs.CurrentServicesIp(g) is not null).ToList();
            if (builders.Count == 0)
            {
                throw new CcieException(
                    "BuilderGroupNotFound",
                    CcieErrorCategory.ObjectNotFound,
                    $"No Auto Scaling group in {_region} launches instances with {UserDataEditor.ServicesIpName} in its user data"
                    + (groups.Count == 0 ? " (there are no groups)." : $" (looked at {string.Join(", ", groups.Select(g => g.Name))}).")
                    + " Name the builders' group with -AutoScalingGroupName, or check -Region.",
                    _region);
            }

            return builders;
        }

        private async Task<IReadOnlyList<AsgGroup>> FindGroupsAsync(string? name, CancellationToken ct)
        {
            if (name is null)
            {
                return await _asg.DescribeAutoScalingGroupsAsync(null, ct).ConfigureAwait(false);
            }

            AsgGroup? group = await _asg.GetAutoScalingGroupAsync(name, ct).ConfigureAwait(false);
            return group is not null
                ? new[] { group }
                : throw new CcieException(
                    "BuilderGroupNotFound",
                    CcieErrorCategory.ObjectNotFound,
                    $"No Auto Scaling group named '{name}' in {_region}. Check the name and -Region, or leave -AutoScalingGroupName out to find the group whose user data carries {UserDataEditor.ServicesIpName}.",
                    name);
        }

        private async Task<Dictionary<string, Instance>> DescribeMembersAsync(IReadOnlyList<AsgGroup> groups, CancellationToken ct)
        {
            var result = new Dictionary<string, Instance>(StringComparer.Ordinal);
            List<string> ids = groups.SelectMany(g => g.Instances).Select(i => i.InstanceId).Distinct(StringComparer.Ordinal).ToList();
            for (int i = 0; i < ids.Count; i += 100)
            {
                // A filter, not InstanceIds: a member EC2 already forgot must not fail the whole listing.
                var request = new DescribeInstancesRequest { Filters = new List<Filter> { Ec2Extensions.Filter("instance-id", ids.Skip(i).Take(100).ToArray()) } };
                IReadOnlyList<Instance> page = await AwsCall.RunAsync("ec2:DescribeInstances", "builders", token => _ec2.DescribeAllInstancesAsync(request, token), ct).ConfigureAwait(false);
                foreach (Instance x in page)
                {
                    result[x.InstanceId] = x;
                }
            }

            return result;
        }

        private Builder Judge(AsgGroup g, AsgInstance m, Instance? ec2, ConfigurationReader configs, ServicesBox? box, string? boxIp, DateTime? recoveredAt, TimeSpan? maxAge, DateTime now)
        {
            Dictionary<string, string> tags = ec2?.Tags.ToDictionary().ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal) ?? new Dictionary<string, string>(StringComparer.Ordinal);
            string? version = m.LaunchTemplate?.Version;
            if (m.LaunchTemplate is not null && !IsNumber(version) && tags.TryGetValue(LaunchTemplateVersionTag, out string? launchedVersion) && IsNumber(launchedVersion))
            {
                version = launchedVersion;
            }

            string? ip = configs.MemberServicesIp(m, version);
            DateTime? launch = ec2?.LaunchTime?.ToUniversalTime();
            TimeSpan? age = launch is { } l ? now - l : null;
            var codes = new List<string>();
            var words = new List<string>();
            if (ip is not null && boxIp is not null && !string.Equals(ip, boxIp, StringComparison.Ordinal))
            {
                codes.Add(WrongServicesIp);
                words.Add($"launched with {UserDataEditor.ServicesIpName}={ip}; the Services box{(box is null ? string.Empty : " " + box.InstanceId)} is at {boxIp}");
            }

            if (launch is { } started && recoveredAt is { } recovered && started < recovered)
            {
                codes.Add(LaunchedBeforeRecovery);
                words.Add($"launched {Stamp(started)}, before the Services box was recovered ({Stamp(recovered)})");
            }

            if (age is { } a && maxAge is { } max && a > max)
            {
                codes.Add(OlderThanMaxAge);
                words.Add($"running for {Span(a)}, longer than -MaxAge {Span(max)}");
            }

            return new Builder
            {
                Region = _region,
                AutoScalingGroupName = g.Name,
                InstanceId = m.InstanceId,
                LifecycleState = m.LifecycleState,
                State = ec2?.State?.Name?.Value,
                HealthStatus = m.HealthStatus,
                AvailabilityZone = m.AvailabilityZone ?? ec2?.Placement?.AvailabilityZone,
                PrivateIpAddress = ec2?.PrivateIpAddress,
                InstanceType = m.InstanceType ?? ec2?.InstanceType?.Value,
                LaunchTime = launch,
                Age = age,
                LaunchTemplateId = m.LaunchTemplate?.LaunchTemplateId ?? configs.TemplateId(m.LaunchTemplate),
                LaunchTemplateVersion = m.LaunchTemplate is null ? null : version,
                LaunchConfigurationName = m.LaunchConfigurationName,
                ServicesPrivateIp = ip,
                Stale = codes.Count > 0,
                StaleReasons = codes,
                StaleReason = string.Join("; ", words),
            };
        }

        internal static bool IsNumber(string? version) => version is { Length: > 0 } && version.All(char.IsDigit);

        private static string Stamp(DateTime t) => t.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

        private static string Span(TimeSpan t) =>
            t.TotalDays >= 1 ? $"{(int)t.TotalDays}d {t.Hours}h" : t.TotalHours >= 1 ? $"{(int)t.TotalHours}h {t.Minutes}m" : $"{(int)t.TotalMinutes}m";
    }
}
