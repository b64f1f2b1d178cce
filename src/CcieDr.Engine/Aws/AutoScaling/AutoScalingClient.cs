using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using System.Xml.Linq;
using CcieDr.Engine.Aws.Query;

namespace CcieDr.Engine.Aws.AutoScaling
{
    /// <summary>
    /// A minimal hand-written Auto Scaling client (no AWSSDK.AutoScaling package is served) over the one Query-protocol
    /// core (<see cref="QueryClient"/>: signing, retries, error mapping, paging), API version 2011-01-01. Only the calls
    /// CcieDr needs and only the members it uses. Describe calls read every page. Errors end as
    /// <see cref="CcieException"/> with ids <c>Aws.&lt;Code&gt;</c> (e.g. <c>Aws.ValidationError</c>,
    /// <c>Aws.ResourceContention</c>, <c>Aws.ScalingActivityInProgress</c>, <c>Aws.AlreadyExists</c>).
    /// </summary>
    public sealed class AutoScalingClient : IDisposable
    {
        private static readonly char[] Comma = { ',' };

        private readonly QueryClient _query;

        public AutoScalingClient(QueryClient query) => _query = query ?? throw new ArgumentNullException(nameof(query));

        /// <summary>A client configured like <paramref name="factory"/>'s SDK clients (region, credentials, -EndpointUrl, retries).</summary>
        public static AutoScalingClient Create(AwsClientFactory factory, string? region = null) =>
            new AutoScalingClient(QueryClient.Create(factory, QueryService.AutoScaling, region));

        public string Region => _query.Region;

        /// <summary>The service's clock at its last answer (the HTTP Date header, UTC); null until an answer carried one.</summary>
        public DateTime? ServerTime { get; private set; }

        private T Seen<T>(QueryResponse page, T value)
        {
            ServerTime = page.ServerTime ?? ServerTime;
            return value;
        }

        private async Task<QueryResponse> SendAsync(QueryRequest request, object? target, CancellationToken ct)
        {
            QueryResponse r = await _query.SendAsync(request, ct, target).ConfigureAwait(false);
            return Seen(r, r);
        }

        // ---------- groups and instances ----------

        /// <summary>DescribeAutoScalingGroups: the named groups (null or empty: every group), all pages, with their members.</summary>
        public Task<IReadOnlyList<AutoScalingGroup>> DescribeAutoScalingGroupsAsync(IEnumerable<string>? names, CancellationToken ct)
        {
            var request = new QueryRequest("DescribeAutoScalingGroups");
            List<string>? list = names?.ToList();
            request.SetList("AutoScalingGroupNames", list);
            return _query.ListAllAsync(request, page => Seen(page, page.Result.Members("AutoScalingGroups").Select(ReadGroup)), ct, list is { Count: > 0 } ? string.Join(", ", list) : null);
        }

        /// <summary>One group by name, or null when there is none.</summary>
        public async Task<AutoScalingGroup?> GetAutoScalingGroupAsync(string name, CancellationToken ct)
        {
            RequireName(name, nameof(name));
            IReadOnlyList<AutoScalingGroup> groups = await DescribeAutoScalingGroupsAsync(new[] { name }, ct).ConfigureAwait(false);
            return groups.FirstOrDefault(g => g.Name == name);
        }

        /// <summary>DescribeAutoScalingInstances: the named instances that are group members (null: every member of every group).</summary>
        public Task<IReadOnlyList<AutoScalingInstance>> DescribeAutoScalingInstancesAsync(IEnumerable<string>? instanceIds, CancellationToken ct)
        {
            var request = new QueryRequest("DescribeAutoScalingInstances");
            request.SetList("InstanceIds", instanceIds?.ToList());
            return _query.ListAllAsync(request, page => Seen(page, page.Result.Members("AutoScalingInstances").Select(m => ReadInstance(m, null))), ct);
        }

        /// <summary>UpdateAutoScalingGroup: sets the non-null members of <paramref name="update"/>.</summary>
        public async Task UpdateAutoScalingGroupAsync(AutoScalingGroupUpdate update, CancellationToken ct)
        {
            if (update is null)
            {
                throw new ArgumentNullException(nameof(update));
            }

            if (update.LaunchTemplate is not null && update.LaunchConfigurationName is not null)
            {
                throw new ArgumentException("Give a launch template or a launch configuration, not both.", nameof(update));
            }

            var request = new QueryRequest("UpdateAutoScalingGroup");
            request.Set("AutoScalingGroupName", update.AutoScalingGroupName)
                .Set("MinSize", (long?)update.MinSize)
                .Set("MaxSize", (long?)update.MaxSize)
                .Set("DesiredCapacity", (long?)update.DesiredCapacity)
                .Set("LaunchConfigurationName", update.LaunchConfigurationName)
                .Set("DefaultCooldown", (long?)update.DefaultCooldown)
                .Set("HealthCheckGracePeriod", (long?)update.HealthCheckGracePeriod);
            if (update.LaunchTemplate is { } t)
            {
                request.SetStructure("LaunchTemplate", s => s.Set("LaunchTemplateId", t.LaunchTemplateId).Set("LaunchTemplateName", t.LaunchTemplateId is null ? t.LaunchTemplateName : null).Set("Version", t.Version));
            }

            await SendAsync(request, update.AutoScalingGroupName, ct).ConfigureAwait(false);
        }

        /// <summary>SetDesiredCapacity (within MinSize..MaxSize; <paramref name="honorCooldown"/>: refused during the cooldown).</summary>
        public async Task SetDesiredCapacityAsync(string autoScalingGroupName, int desiredCapacity, CancellationToken ct, bool honorCooldown = false)
        {
            RequireName(autoScalingGroupName, nameof(autoScalingGroupName));
            var request = new QueryRequest("SetDesiredCapacity");
            request.Set("AutoScalingGroupName", autoScalingGroupName).Set("DesiredCapacity", (long)desiredCapacity).Set("HonorCooldown", honorCooldown ? true : (bool?)null);
            await SendAsync(request, autoScalingGroupName, ct).ConfigureAwait(false);
        }

        /// <summary>
        /// TerminateInstanceInAutoScalingGroup: terminates a member; with <paramref name="shouldDecrementDesiredCapacity"/>
        /// the group shrinks, otherwise it launches a replacement. Returns the scaling activity.
        /// </summary>
        public async Task<ScalingActivity> TerminateInstanceInAutoScalingGroupAsync(string instanceId, bool shouldDecrementDesiredCapacity, CancellationToken ct)
        {
            RequireName(instanceId, nameof(instanceId));
            var request = new QueryRequest("TerminateInstanceInAutoScalingGroup");
            request.Set("InstanceId", instanceId).Set("ShouldDecrementDesiredCapacity", shouldDecrementDesiredCapacity);
            QueryResponse r = await SendAsync(request, instanceId, ct).ConfigureAwait(false);
            return ReadActivity(r.Result.Child("Activity"));
        }

        // ---------- instance refresh ----------

        /// <summary>StartInstanceRefresh (Rolling): returns the refresh id.</summary>
        public async Task<string> StartInstanceRefreshAsync(string autoScalingGroupName, InstanceRefreshPreferences? preferences, CancellationToken ct)
        {
            RequireName(autoScalingGroupName, nameof(autoScalingGroupName));
            var request = new QueryRequest("StartInstanceRefresh");
            request.Set("AutoScalingGroupName", autoScalingGroupName).Set("Strategy", "Rolling");
            if (preferences is not null)
            {
                request.SetStructure("Preferences", p => p
                    .Set("MinHealthyPercentage", (long?)preferences.MinHealthyPercentage)
                    .Set("InstanceWarmup", (long?)preferences.InstanceWarmup)
                    .Set("SkipMatching", preferences.SkipMatching));
            }

            QueryResponse r = await SendAsync(request, autoScalingGroupName, ct).ConfigureAwait(false);
            return r.Result.Text("InstanceRefreshId") ?? throw new InvalidOperationException("StartInstanceRefresh answered without an InstanceRefreshId.");
        }

        /// <summary>DescribeInstanceRefreshes: the group's refreshes, newest first (all pages; <paramref name="ids"/> narrows).</summary>
        public Task<IReadOnlyList<InstanceRefresh>> DescribeInstanceRefreshesAsync(string autoScalingGroupName, IEnumerable<string>? ids, CancellationToken ct)
        {
            RequireName(autoScalingGroupName, nameof(autoScalingGroupName));
            var request = new QueryRequest("DescribeInstanceRefreshes");
            request.Set("AutoScalingGroupName", autoScalingGroupName).SetList("InstanceRefreshIds", ids?.ToList());
            return _query.ListAllAsync(request, page => Seen(page, page.Result.Members("InstanceRefreshes").Select(ReadRefresh)), ct, autoScalingGroupName);
        }

        /// <summary>CancelInstanceRefresh: cancels the active refresh; returns its id (Aws.ActiveInstanceRefreshNotFound when none).</summary>
        public async Task<string> CancelInstanceRefreshAsync(string autoScalingGroupName, CancellationToken ct)
        {
            RequireName(autoScalingGroupName, nameof(autoScalingGroupName));
            var request = new QueryRequest("CancelInstanceRefresh");
            request.Set("AutoScalingGroupName", autoScalingGroupName);
            QueryResponse r = await SendAsync(request, autoScalingGroupName, ct).ConfigureAwait(false);
            return r.Result.Text("InstanceRefreshId") ?? string.Empty;
        }

        // ---------- launch configurations ----------

        /// <summary>DescribeLaunchConfigurations: the named configurations (null or empty: all), all pages.</summary>
        public Task<IReadOnlyList<LaunchConfiguration>> DescribeLaunchConfigurationsAsync(IEnumerable<string>? names, CancellationToken ct)
        {
            var request = new QueryRequest("DescribeLaunchConfigurations");
            List<string>? list = names?.ToList();
            request.SetList("LaunchConfigurationNames", list);
            return _query.ListAllAsync(request, page => Seen(page, page.Result.Members("LaunchConfigurations").Select(ReadLaunchConfiguration)), ct, list is { Count: > 0 } ? string.Join(", ", list) : null);
        }

        /// <summary>CreateLaunchConfiguration with every member of <paramref name="configuration"/> (Aws.AlreadyExists when the name is taken).</summary>
        public async Task CreateLaunchConfigurationAsync(LaunchConfiguration configuration, CancellationToken ct)
        {
            if (configuration is null)
            {
                throw new ArgumentNullException(nameof(configuration));
            }

            RequireName(configuration.LaunchConfigurationName, nameof(configuration));
            LaunchConfiguration c = configuration;
            var request = new QueryRequest("CreateLaunchConfiguration");
            request.Set("LaunchConfigurationName", c.LaunchConfigurationName)
                .Set("ImageId", c.ImageId)
                .Set("InstanceType", c.InstanceType)
                .Set("KeyName", string.IsNullOrEmpty(c.KeyName) ? null : c.KeyName)
                .SetList("SecurityGroups", c.SecurityGroups)
                .Set("ClassicLinkVPCId", c.ClassicLinkVpcId)
                .SetList("ClassicLinkVPCSecurityGroups", c.ClassicLinkVpcSecurityGroups)
                .Set("UserData", string.IsNullOrEmpty(c.UserData) ? null : c.UserData)
                .Set("KernelId", string.IsNullOrEmpty(c.KernelId) ? null : c.KernelId)
                .Set("RamdiskId", string.IsNullOrEmpty(c.RamdiskId) ? null : c.RamdiskId)
                .SetMembers("BlockDeviceMappings", c.BlockDeviceMappings, (b, d) =>
                {
                    b.Set("DeviceName", d.DeviceName).Set("VirtualName", d.VirtualName).Set("NoDevice", d.NoDevice);
                    if (d.HasEbs)
                    {
                        b.SetStructure("Ebs", e => e.Set("SnapshotId", d.SnapshotId).Set("VolumeSize", (long?)d.VolumeSize).Set("VolumeType", d.VolumeType)
                            .Set("DeleteOnTermination", d.DeleteOnTermination).Set("Iops", (long?)d.Iops).Set("Encrypted", d.Encrypted).Set("Throughput", (long?)d.Throughput));
                    }
                })
                .Set("SpotPrice", c.SpotPrice)
                .Set("IamInstanceProfile", c.IamInstanceProfile)
                .Set("EbsOptimized", c.EbsOptimized)
                .Set("AssociatePublicIpAddress", c.AssociatePublicIpAddress)
                .Set("PlacementTenancy", c.PlacementTenancy);
            if (c.InstanceMonitoring is { } monitoring)
            {
                request.SetStructure("InstanceMonitoring", m => m.Set("Enabled", monitoring));
            }

            if (c.MetadataHttpTokens is not null || c.MetadataHttpPutResponseHopLimit is not null || c.MetadataHttpEndpoint is not null)
            {
                request.SetStructure("MetadataOptions", m => m.Set("HttpTokens", c.MetadataHttpTokens).Set("HttpPutResponseHopLimit", (long?)c.MetadataHttpPutResponseHopLimit).Set("HttpEndpoint", c.MetadataHttpEndpoint));
            }

            await SendAsync(request, c.LaunchConfigurationName, ct).ConfigureAwait(false);
        }

        // ---------- scheduled actions ----------

        /// <summary>PutScheduledUpdateGroupAction: creates or replaces the action of that name.</summary>
        public async Task PutScheduledUpdateGroupActionAsync(ScheduledAction action, CancellationToken ct)
        {
            if (action is null)
            {
                throw new ArgumentNullException(nameof(action));
            }

            RequireName(action.AutoScalingGroupName, nameof(action));
            RequireName(action.ScheduledActionName, nameof(action));
            var request = new QueryRequest("PutScheduledUpdateGroupAction");
            request.Set("AutoScalingGroupName", action.AutoScalingGroupName)
                .Set("ScheduledActionName", action.ScheduledActionName)
                .Set("Time", action.Time)
                .Set("StartTime", action.StartTime)
                .Set("EndTime", action.EndTime)
                .Set("Recurrence", action.Recurrence)
                .Set("MinSize", (long?)action.MinSize)
                .Set("MaxSize", (long?)action.MaxSize)
                .Set("DesiredCapacity", (long?)action.DesiredCapacity)
                .Set("TimeZone", action.TimeZone);
            await SendAsync(request, action.ScheduledActionName, ct).ConfigureAwait(false);
        }

        /// <summary>DescribeScheduledActions: of one group (null: all), optionally only the named ones; all pages.</summary>
        public Task<IReadOnlyList<ScheduledAction>> DescribeScheduledActionsAsync(string? autoScalingGroupName, IEnumerable<string>? names, CancellationToken ct)
        {
            var request = new QueryRequest("DescribeScheduledActions");
            request.Set("AutoScalingGroupName", autoScalingGroupName).SetList("ScheduledActionNames", names?.ToList());
            return _query.ListAllAsync(request, page => Seen(page, page.Result.Members("ScheduledUpdateGroupActions").Select(ReadScheduledAction)), ct, autoScalingGroupName);
        }

        // ---------- processes and activities ----------

        /// <summary>SuspendProcesses: the named processes (null or empty: all of them).</summary>
        public Task SuspendProcessesAsync(string autoScalingGroupName, IEnumerable<string>? processes, CancellationToken ct) =>
            Processes("SuspendProcesses", autoScalingGroupName, processes, ct);

        /// <summary>ResumeProcesses: the named processes (null or empty: all of them).</summary>
        public Task ResumeProcessesAsync(string autoScalingGroupName, IEnumerable<string>? processes, CancellationToken ct) =>
            Processes("ResumeProcesses", autoScalingGroupName, processes, ct);

        /// <summary>
        /// DescribeScalingActivities: the group's activities, newest first, at most <paramref name="limit"/> (pages are read
        /// until it is reached; AWS keeps six weeks of them).
        /// </summary>
        public async Task<IReadOnlyList<ScalingActivity>> DescribeScalingActivitiesAsync(string? autoScalingGroupName, int limit, CancellationToken ct)
        {
            if (limit < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(limit), "The limit must be at least 1.");
            }

            var result = new List<ScalingActivity>();
            var request = new QueryRequest("DescribeScalingActivities");
            request.Set("AutoScalingGroupName", autoScalingGroupName).Set("MaxRecords", (long)Math.Min(limit, 100));
            while (true)
            {
                QueryResponse page = await SendAsync(request, autoScalingGroupName, ct).ConfigureAwait(false);
                result.AddRange(page.Result.Members("Activities").Select(ReadActivity));
                if (result.Count >= limit || page.NextToken is null)
                {
                    return result.Take(limit).ToList();
                }

                request.NextToken = page.NextToken;
            }
        }

        private async Task Processes(string action, string autoScalingGroupName, IEnumerable<string>? processes, CancellationToken ct)
        {
            RequireName(autoScalingGroupName, nameof(autoScalingGroupName));
            var request = new QueryRequest(action);
            request.Set("AutoScalingGroupName", autoScalingGroupName).SetList("ScalingProcesses", processes?.ToList());
            await SendAsync(request, autoScalingGroupName, ct).ConfigureAwait(false);
        }

        // ---------- reading ----------

        private static void RequireName(string? value, string parameter)
        {
            if (string.IsNullOrEmpty(value))
            {
                throw new ArgumentException("A name or id is required.", parameter);
            }
        }

        private static int Int(XElement? e, string name) => (int)(e.WholeNumber(name) ?? 0);

        private static int? IntOrNull(XElement? e, string name) => e.WholeNumber(name) is long l ? (int)l : null;

        private static LaunchTemplateReference? ReadTemplate(XElement? e) =>
            e is null || (e.Text("LaunchTemplateId") is null && e.Text("LaunchTemplateName") is null)
                ? null
                : new LaunchTemplateReference(e.Text("LaunchTemplateId"), e.Text("LaunchTemplateName"), e.Text("Version"));

        internal static AutoScalingGroup ReadGroup(XElement m)
        {
            string name = m.Text("AutoScalingGroupName") ?? string.Empty;
            var tags = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (XElement t in m.Members("Tags"))
            {
                if (t.Text("Key") is string key)
                {
                    tags[key] = t.Text("Value") ?? string.Empty;
                }
            }

            return new AutoScalingGroup
            {
                Name = name,
                Arn = m.Text("AutoScalingGroupARN"),
                LaunchTemplate = ReadTemplate(m.Child("LaunchTemplate")),
                MixedInstancesLaunchTemplate = ReadTemplate(m.Child("MixedInstancesPolicy").Child("LaunchTemplate").Child("LaunchTemplateSpecification")),
                LaunchConfigurationName = m.Text("LaunchConfigurationName"),
                MinSize = Int(m, "MinSize"),
                MaxSize = Int(m, "MaxSize"),
                DesiredCapacity = Int(m, "DesiredCapacity"),
                DefaultCooldown = Int(m, "DefaultCooldown"),
                AvailabilityZones = m.Members("AvailabilityZones").Select(z => z.Value).ToList(),
                SubnetIds = (m.Text("VPCZoneIdentifier") ?? string.Empty).Split(Comma, StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()).ToList(),
                HealthCheckType = m.Text("HealthCheckType"),
                HealthCheckGracePeriod = IntOrNull(m, "HealthCheckGracePeriod"),
                CreatedTime = m.Timestamp("CreatedTime"),
                Status = m.Text("Status"),
                Instances = m.Members("Instances").Select(i => ReadInstance(i, name)).ToList(),
                SuspendedProcesses = m.Members("SuspendedProcesses").Select(p => new SuspendedProcess(p.Text("ProcessName") ?? string.Empty, p.Text("SuspensionReason"))).ToList(),
                Tags = tags,
            };
        }

        internal static AutoScalingInstance ReadInstance(XElement m, string? groupName) => new AutoScalingInstance
        {
            InstanceId = m.Text("InstanceId") ?? string.Empty,
            AutoScalingGroupName = m.Text("AutoScalingGroupName") ?? groupName,
            InstanceType = m.Text("InstanceType"),
            AvailabilityZone = m.Text("AvailabilityZone"),
            LifecycleState = m.Text("LifecycleState") ?? string.Empty,
            HealthStatus = m.Text("HealthStatus") ?? string.Empty,
            LaunchConfigurationName = m.Text("LaunchConfigurationName"),
            LaunchTemplate = ReadTemplate(m.Child("LaunchTemplate")),
            ProtectedFromScaleIn = m.Flag("ProtectedFromScaleIn") ?? false,
        };

        internal static InstanceRefresh ReadRefresh(XElement m) => new InstanceRefresh
        {
            InstanceRefreshId = m.Text("InstanceRefreshId") ?? string.Empty,
            AutoScalingGroupName = m.Text("AutoScalingGroupName"),
            Status = m.Text("Status") ?? string.Empty,
            StatusReason = m.Text("StatusReason"),
            StartTime = m.Timestamp("StartTime"),
            EndTime = m.Timestamp("EndTime"),
            PercentageComplete = IntOrNull(m, "PercentageComplete"),
            InstancesToUpdate = IntOrNull(m, "InstancesToUpdate"),
            MinHealthyPercentage = IntOrNull(m.Child("Preferences"), "MinHealthyPercentage"),
        };

        internal static LaunchConfiguration ReadLaunchConfiguration(XElement m) => new LaunchConfiguration
        {
            LaunchConfigurationName = m.Text("LaunchConfigurationName") ?? string.Empty,
            LaunchConfigurationArn = m.Text("LaunchConfigurationARN"),
            ImageId = m.Text("ImageId") ?? string.Empty,
            InstanceType = m.Text("InstanceType") ?? string.Empty,
            KeyName = Empty(m.Text("KeyName")),
            SecurityGroups = m.Members("SecurityGroups").Select(s => s.Value).ToList(),
            ClassicLinkVpcId = Empty(m.Text("ClassicLinkVPCId")),
            ClassicLinkVpcSecurityGroups = m.Members("ClassicLinkVPCSecurityGroups").Select(s => s.Value).ToList(),
            UserData = Empty(m.Text("UserData")),
            KernelId = Empty(m.Text("KernelId")),
            RamdiskId = Empty(m.Text("RamdiskId")),
            BlockDeviceMappings = m.Members("BlockDeviceMappings").Select(b =>
            {
                XElement? ebs = b.Child("Ebs");
                return new LaunchConfigurationBlockDevice
                {
                    DeviceName = b.Text("DeviceName") ?? string.Empty,
                    VirtualName = b.Text("VirtualName"),
                    NoDevice = b.Flag("NoDevice"),
                    SnapshotId = ebs.Text("SnapshotId"),
                    VolumeSize = IntOrNull(ebs, "VolumeSize"),
                    VolumeType = ebs.Text("VolumeType"),
                    DeleteOnTermination = ebs.Flag("DeleteOnTermination"),
                    Iops = IntOrNull(ebs, "Iops"),
                    Encrypted = ebs.Flag("Encrypted"),
                    Throughput = IntOrNull(ebs, "Throughput"),
                };
            }).ToList(),
            InstanceMonitoring = m.Child("InstanceMonitoring").Flag("Enabled"),
            SpotPrice = m.Text("SpotPrice"),
            IamInstanceProfile = m.Text("IamInstanceProfile"),
            CreatedTime = m.Timestamp("CreatedTime"),
            EbsOptimized = m.Flag("EbsOptimized"),
            AssociatePublicIpAddress = m.Flag("AssociatePublicIpAddress"),
            PlacementTenancy = m.Text("PlacementTenancy"),
            MetadataHttpTokens = m.Child("MetadataOptions").Text("HttpTokens"),
            MetadataHttpPutResponseHopLimit = IntOrNull(m.Child("MetadataOptions"), "HttpPutResponseHopLimit"),
            MetadataHttpEndpoint = m.Child("MetadataOptions").Text("HttpEndpoint"),
        };

        internal static ScheduledAction ReadScheduledAction(XElement m) => new ScheduledAction
        {
            AutoScalingGroupName = m.Text("AutoScalingGroupName") ?? string.Empty,
            ScheduledActionName = m.Text("ScheduledActionName") ?? string.Empty,
            ScheduledActionArn = m.Text("ScheduledActionARN"),
            Time = m.Timestamp("Time"),
            StartTime = m.Timestamp("StartTime"),
            EndTime = m.Timestamp("EndTime"),
            Recurrence = m.Text("Recurrence"),
            MinSize = IntOrNull(m, "MinSize"),
            MaxSize = IntOrNull(m, "MaxSize"),
            DesiredCapacity = IntOrNull(m, "DesiredCapacity"),
            TimeZone = m.Text("TimeZone"),
        };

        internal static ScalingActivity ReadActivity(XElement? m) => new ScalingActivity
        {
            ActivityId = m.Text("ActivityId") ?? string.Empty,
            AutoScalingGroupName = m.Text("AutoScalingGroupName"),
            Description = m.Text("Description"),
            Cause = m.Text("Cause"),
            StartTime = m.Timestamp("StartTime"),
            EndTime = m.Timestamp("EndTime"),
            StatusCode = m.Text("StatusCode") ?? string.Empty,
            StatusMessage = m.Text("StatusMessage"),
            Progress = IntOrNull(m, "Progress"),
        };

        /// <summary>AWS answers absent launch-configuration strings as empty elements.</summary>
        private static string? Empty(string? s) => string.IsNullOrEmpty(s) ? null : s;

        /// <inheritdoc/>
        public void Dispose() => _query.Dispose();
    }
}
