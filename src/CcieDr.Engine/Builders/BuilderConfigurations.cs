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
using AsgGroup = CcieDr.Engine.Aws.AutoScaling.AutoScalingGroup;
using AsgInstance = CcieDr.Engine.Aws.AutoScaling.AutoScalingInstance;
using AsgLaunchConfiguration = CcieDr.Engine.Aws.AutoScaling.LaunchConfiguration;

namespace CcieDr.Engine.Builders
{
    /// <summary>
    /// The user data of the configurations builders are launched from, read once per configuration: launch
    /// template versions (EC2 DescribeLaunchTemplateVersions, one call per template) and launch configurations (one
    /// DescribeLaunchConfigurations). A member whose version Auto Scaling reports as $Default/$Latest, without the
    /// aws:ec2launchtemplate:version tag, is read from the instance itself (DescribeInstanceAttribute userData).
    /// </summary>
    internal sealed class ConfigurationReader
    {
        private const string LaunchTemplateVersionTag = "aws:ec2launchtemplate:version";

        private readonly IAmazonEC2 _ec2;
        private readonly AutoScalingClient _asg;
        private readonly Dictionary<string, string?> _configurationIps = new Dictionary<string, string?>(StringComparer.Ordinal);

        // template key (id or name) -> version ("3", "$Default", "$Latest") -> (number, SERVICES_PRIVATE_IP)
        private readonly Dictionary<string, Dictionary<string, (long Number, string? Ip)>> _versions = new Dictionary<string, Dictionary<string, (long, string?)>>(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _templateIds = new Dictionary<string, string>(StringComparer.Ordinal);
        private readonly Dictionary<string, string?> _instanceIps = new Dictionary<string, string?>(StringComparer.Ordinal);

        public ConfigurationReader(IAmazonEC2 ec2, AutoScalingClient asg)
        {
            _ec2 = ec2;
            _asg = asg;
        }

        public async Task LoadAsync(IReadOnlyList<AsgGroup> groups, CancellationToken ct)
        {
            List<string> names = groups.Select(g => g.LaunchConfigurationName)
                .Concat(groups.SelectMany(g => g.Instances).Select(i => i.LaunchConfigurationName))
                .Where(n => n is not null).Select(n => n!).Distinct(StringComparer.Ordinal).ToList();
            if (names.Count > 0)
            {
                IReadOnlyList<AsgLaunchConfiguration> found = await _asg.DescribeLaunchConfigurationsAsync(names, ct).ConfigureAwait(false);
                foreach (AsgLaunchConfiguration lc in found)
                {
                    _configurationIps[lc.LaunchConfigurationName] = UserDataReader.ServicesIpOf(lc.UserData, "launch configuration " + lc.LaunchConfigurationName);
                }
            }

            var wanted = new Dictionary<string, (LaunchTemplateReference Ref, HashSet<string> Versions)>(StringComparer.Ordinal);
            void Want(LaunchTemplateReference? t, string? version)
            {
                if (t is null)
                {
                    return;
                }

                string key = Key(t);
                if (!wanted.TryGetValue(key, out var entry))
                {
                    entry = (t, new HashSet<string>(StringComparer.Ordinal));
                    wanted[key] = entry;
                }

                entry.Versions.Add(string.IsNullOrEmpty(version) ? "$Default" : version!);
            }

            foreach (AsgGroup g in groups)
            {
                if (g.LaunchConfigurationName is null)
                {
                    Want(g.EffectiveLaunchTemplate, g.EffectiveLaunchTemplate?.Version);
                }

                foreach (AsgInstance m in g.Instances)
                {
                    Want(m.LaunchTemplate, m.LaunchTemplate?.Version);
                }
            }

            foreach ((LaunchTemplateReference t, HashSet<string> versions) in wanted.Values)
            {
                await LoadTemplateAsync(t, versions, ct).ConfigureAwait(false);
            }
        }

        /// <summary>Reads the user data of members whose launch version is symbolic from the instances themselves.</summary>
        public async Task LoadInstanceUserDataAsync(IEnumerable<AsgInstance> members, IReadOnlyDictionary<string, Instance> instances, CancellationToken ct)
        {
            foreach (AsgInstance m in members)
            {
                if (m.LaunchTemplate is null || BuilderInventory.IsNumber(m.LaunchTemplate.Version) || !instances.TryGetValue(m.InstanceId, out Instance? x))
                {
                    continue;
                }

                if ((x.Tags ?? new List<Tag>()).Any(t => t.Key == LaunchTemplateVersionTag && BuilderInventory.IsNumber(t.Value)))
                {
                    continue;
                }

                DescribeInstanceAttributeResponse r = await AwsCall.RunAsync(
                    "ec2:DescribeInstanceAttribute",
                    m.InstanceId,
                    token => _ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = m.InstanceId, Attribute = InstanceAttributeName.UserData }, token),
                    ct).ConfigureAwait(false);
                _instanceIps[m.InstanceId] = UserDataReader.ServicesIpOf(r.InstanceAttribute?.UserData, "instance " + m.InstanceId);
            }
        }

        /// <summary>The IP new builders of <paramref name="g"/> get (its current configuration), or null.</summary>
        public string? CurrentServicesIp(AsgGroup g)
        {
            if (g.LaunchConfigurationName is { } lc)
            {
                return _configurationIps.TryGetValue(lc, out string? ip) ? ip : null;
            }

            return Version(g.EffectiveLaunchTemplate, g.EffectiveLaunchTemplate?.Version)?.Ip;
        }

        public long? CurrentVersionNumber(AsgGroup g) => Version(g.EffectiveLaunchTemplate, g.EffectiveLaunchTemplate?.Version)?.Number;

        /// <summary>The IP member <paramref name="m"/> was launched with (<paramref name="version"/>: its launch version, resolved when known).</summary>
        public string? MemberServicesIp(AsgInstance m, string? version)
        {
            if (m.LaunchConfigurationName is { } lc)
            {
                return _configurationIps.TryGetValue(lc, out string? ip) ? ip : null;
            }

            if (m.LaunchTemplate is null)
            {
                return null;
            }

            if (BuilderInventory.IsNumber(version))
            {
                return Version(m.LaunchTemplate, version)?.Ip;
            }

            return _instanceIps.TryGetValue(m.InstanceId, out string? own) ? own : null;
        }

        /// <summary>The id of a template referenced by name (null when unknown).</summary>
        public string? TemplateId(LaunchTemplateReference? t) =>
            t is null ? null : t.LaunchTemplateId ?? (_templateIds.TryGetValue(Key(t), out string? id) ? id : null);

        private (long Number, string? Ip)? Version(LaunchTemplateReference? t, string? version)
        {
            if (t is null || !_versions.TryGetValue(Key(t), out var versions))
            {
                return null;
            }

            return versions.TryGetValue(string.IsNullOrEmpty(version) ? "$Default" : version!, out var v) ? v : null;
        }

        private static string Key(LaunchTemplateReference t) => t.LaunchTemplateId ?? "name:" + t.LaunchTemplateName;

        private async Task LoadTemplateAsync(LaunchTemplateReference t, HashSet<string> versions, CancellationToken ct)
        {
            var request = new DescribeLaunchTemplateVersionsRequest
            {
                LaunchTemplateId = t.LaunchTemplateId,
                LaunchTemplateName = t.LaunchTemplateId is null ? t.LaunchTemplateName : null,
                Versions = versions.ToList(),
            };
            List<LaunchTemplateVersion> found;
            try
            {
                DescribeLaunchTemplateVersionsResponse r = await AwsCall.RunAsync("ec2:DescribeLaunchTemplateVersions", t.ToString(), token => _ec2.DescribeLaunchTemplateVersionsAsync(request, token), ct).ConfigureAwait(false);
                found = r.LaunchTemplateVersions ?? new List<LaunchTemplateVersion>();
            }
            catch (CcieException e) when (e.Category == CcieErrorCategory.ObjectNotFound || e.Category == CcieErrorCategory.InvalidArgument)
            {
                // A deleted template or version: builders launched from it have an unknown Services IP.
                return;
            }

            var map = new Dictionary<string, (long, string?)>(StringComparer.Ordinal);
            foreach (LaunchTemplateVersion v in found)
            {
                long number = v.VersionNumber ?? 0;
                var entry = (number, UserDataReader.ServicesIpOf(v.LaunchTemplateData?.UserData, $"launch template {v.LaunchTemplateId} version {number}"));
                map[number.ToString(CultureInfo.InvariantCulture)] = entry;
                if (v.DefaultVersion == true)
                {
                    map["$Default"] = entry;
                }

                if (v.LaunchTemplateId is { } id)
                {
                    _templateIds[Key(t)] = id;
                }
            }

            if (versions.Contains("$Latest") && found.Count > 0)
            {
                LaunchTemplateVersion latest = found.OrderByDescending(v => v.VersionNumber ?? 0).First();
                map["$Latest"] = (latest.VersionNumber ?? 0, UserDataReader.ServicesIpOf(latest.LaunchTemplateData?.UserData, $"launch template {latest.LaunchTemplateId} version {latest.VersionNumber}"));
            }

            _versions[Key(t)] = map;
        }
    }
}
