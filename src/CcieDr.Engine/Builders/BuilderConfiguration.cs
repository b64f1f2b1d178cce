using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;

namespace CcieDr.Engine.Builders
{
    /// <summary>What Set-CcieBuilderConfiguration was asked to do.</summary>
    public sealed class BuilderConfigurationRequest
    {
        /// <summary>The builder group; null: the one group whose configuration carries SERVICES_PRIVATE_IP.</summary>
        public string? AutoScalingGroupName { get; set; }

        /// <summary>The IP (or host name) to set; null: from <see cref="ServicesBox"/>.</summary>
        public string? ServicesPrivateIp { get; set; }

        /// <summary>The Services box whose IP builders should use when no IP is given.</summary>
        public ServicesBox? ServicesBox { get; set; }

        /// <summary>The passphrase to set; null leaves the passphrase as the configuration has it.</summary>
        public SecureString? SecretPassphrase { get; set; }

        /// <summary>Rollback: put this launch template version back (the group's template).</summary>
        public string? Version { get; set; }

        /// <summary>Rollback: put this launch configuration back.</summary>
        public string? LaunchConfigurationName { get; set; }
    }

    /// <summary>What will be done, computed from AWS's current state without changing it (shown by -WhatIf).</summary>
    public sealed class BuilderConfigurationPlan
    {
        internal BuilderConfigurationPlan(BuilderGroupState group, OperationPlan steps)
        {
            Group = group;
            Steps = steps;
        }

        public BuilderGroupState Group { get; }

        public OperationPlan Steps { get; }

        /// <summary>False when the group already uses what was asked for.</summary>
        public bool HasWork => Steps.Steps.Count > 0;

        public string GroupName => Group.Name;

        internal bool IsLaunchTemplate { get; set; }

        internal bool IsRollback { get; set; }

        internal string? LaunchTemplateId { get; set; }

        internal string? LaunchTemplateName { get; set; }

        internal string? OldVersion { get; set; }

        /// <summary>For a rollback: the version to use.</summary>
        internal string? TargetVersion { get; set; }

        internal string? OldLaunchConfigurationName { get; set; }

        internal string? TargetLaunchConfigurationName { get; set; }

        internal UserDataEdit? Edit { get; set; }

        internal BuilderUserDataInfo? Before { get; set; }

        internal BuilderUserDataInfo? After { get; set; }

        /// <summary>The masked diff of the user data ("" for a rollback or no change).</summary>
        public string MaskedDiff => Edit?.MaskedDiff ?? string.Empty;

        /// <summary>The plan and the diff as -WhatIf shows them (no secret in it).</summary>
        public string Render()
        {
            var sb = new StringBuilder(Steps.Render());
            if (MaskedDiff.Length > 0)
            {
                sb.AppendLine().Append("User data change (CIRCLE_SECRET_PASSPHRASE shown as ").Append(UserDataEditor.Mask).Append("):").AppendLine().Append(MaskedDiff.TrimEnd('\n'));
            }

            return sb.ToString();
        }
    }

    /// <summary>
    /// Points a builder group at the Services box: reads the user data of the group's launch template version (or
    /// launch configuration), edits SERVICES_PRIVATE_IP and CIRCLE_SECRET_PASSPHRASE, writes a new launch template
    /// version (SourceVersion + the new user data only) or a new launch configuration copied in full, and makes the
    /// group use it; or puts a previous version / configuration back.
    /// </summary>
    public sealed class BuilderConfigurator
    {
        private readonly IAmazonEC2 _ec2;
        private readonly IBuilderGroupApi _groups;
        private readonly string _region;
        private readonly IOperationReporter _reporter;
        private readonly Func<DateTime> _clock;

        public BuilderConfigurator(IAmazonEC2 ec2, IBuilderGroupApi groups, string region, IOperationReporter reporter, Func<DateTime>? clock = null)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _groups = groups ?? throw new ArgumentNullException(nameof(groups));
            _region = region;
            _reporter = reporter ?? throw new ArgumentNullException(nameof(reporter));
            _clock = clock ?? (() => DateTime.UtcNow);
        }

        /// <summary>The group by name, or the one group whose configuration's user data sets SERVICES_PRIVATE_IP.</summary>
        public async Task<BuilderGroupState> FindGroupAsync(string? name, CancellationToken ct)
        {
            if (!string.IsNullOrEmpty(name))
            {
                IReadOnlyList<BuilderGroupState> named = await _groups.DescribeGroupsAsync(new[] { name! }, ct).ConfigureAwait(false);
                return named.FirstOrDefault(g => g.Name == name)
                    ?? throw new CcieException("AutoScalingGroupNotFound", CcieErrorCategory.ObjectNotFound, $"No Auto Scaling group '{name}' in {_region}. Check -AutoScalingGroupName and -Region (Get-CcieBuilder lists the builder group).", name);
            }

            var builders = new List<(BuilderGroupState Group, string Ip)>();
            foreach (BuilderGroupState g in await _groups.DescribeGroupsAsync(Array.Empty<string>(), ct).ConfigureAwait(false))
            {
                if (g.MixedInstancesPolicy)
                {
                    continue;
                }

                string? userData = await ReadCurrentUserDataAsync(g, ct).ConfigureAwait(false);
                BuilderUserDataInfo? info = UserDataReader.TryRead(userData, Describe(g), out _);
                if (info?.ServicesPrivateIp is { } ip)
                {
                    builders.Add((g, ip));
                }
            }

            if (builders.Count == 1)
            {
                _reporter.Verbose($"Builder group: {builders[0].Group.Name} (its user data sets SERVICES_PRIVATE_IP={builders[0].Ip}).");
                return builders[0].Group;
            }

            throw builders.Count == 0
                ? new CcieException("BuilderGroupNotFound", CcieErrorCategory.ObjectNotFound, $"No Auto Scaling group in {_region} launches builders with SERVICES_PRIVATE_IP in their user data. Name the group with -AutoScalingGroupName.", _region)
                : new CcieException("BuilderGroupAmbiguous", CcieErrorCategory.InvalidArgument, $"{builders.Count} Auto Scaling groups in {_region} launch CircleCI builders ({string.Join(", ", builders.Select(b => b.Group.Name))}). Name one with -AutoScalingGroupName.", _region);
        }

        /// <summary>The IP to set: the one given; else the box's, keeping the configured one when it is still one of the box's addresses (a floating IP).</summary>
        public static string ChooseServicesIp(string? given, ServicesBox? box, string? configured)
        {
            if (!string.IsNullOrEmpty(given))
            {
                return given!;
            }

            if (box is null || string.IsNullOrEmpty(box.PrivateIpAddress))
            {
                throw new CcieException("ServicesPrivateIpMissing", CcieErrorCategory.InvalidArgument, "No Services IP: give -ServicesPrivateIp, or pipe in the Services box (Get-CcieServicesBox) or a failover result.");
            }

            if (configured is not null && (configured == box.PrivateIpAddress || box.SecondaryPrivateIpAddresses.Contains(configured, StringComparer.Ordinal)))
            {
                return configured;
            }

            return box.PrivateIpAddress!;
        }

        public async Task<BuilderConfigurationPlan> PlanAsync(BuilderConfigurationRequest request, CancellationToken ct)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            BuilderGroupState group = await FindGroupAsync(request.AutoScalingGroupName, ct).ConfigureAwait(false);
            if (group.MixedInstancesPolicy)
            {
                throw new CcieException("BuilderGroupMixedInstances", CcieErrorCategory.InvalidOperation, $"The group {group.Name} takes its launch template from a mixed instances policy; CcieDr does not change those. Edit the template's user data by hand, then run Restart-CcieBuilder.", group.Name);
            }

            bool isTemplate = group.LaunchTemplateId is not null || group.LaunchTemplateName is not null;
            if (!isTemplate && group.LaunchConfigurationName is null)
            {
                throw new CcieException("BuilderGroupNoConfiguration", CcieErrorCategory.InvalidData, $"The group {group.Name} has neither a launch template nor a launch configuration.", group.Name);
            }

            if (request.Version is not null || request.LaunchConfigurationName is not null)
            {
                return await PlanRollbackAsync(group, isTemplate, request, ct).ConfigureAwait(false);
            }

            var steps = new OperationPlan("Point the builders at the Services box", group.Name);
            var plan = new BuilderConfigurationPlan(group, steps) { IsLaunchTemplate = isTemplate };
            string source;
            string? userData;
            if (isTemplate)
            {
                LaunchTemplateVersion v = await DescribeVersionAsync(group.LaunchTemplateId, group.LaunchTemplateName, group.LaunchTemplateVersion ?? "$Default", ct).ConfigureAwait(false);
                plan.LaunchTemplateId = v.LaunchTemplateId;
                plan.LaunchTemplateName = v.LaunchTemplateName;
                plan.OldVersion = Number(v.VersionNumber);
                source = $"launch template {v.LaunchTemplateId} ({v.LaunchTemplateName}) version {plan.OldVersion}";
                userData = v.LaunchTemplateData?.UserData;
            }
            else
            {
                plan.OldLaunchConfigurationName = group.LaunchConfigurationName;
                source = "launch configuration " + group.LaunchConfigurationName;
                userData = await _groups.LaunchConfigurationUserDataAsync(group.LaunchConfigurationName!, ct).ConfigureAwait(false);
            }

            plan.Before = UserDataReader.Read(userData ?? string.Empty, source);
            string ip = ChooseServicesIp(request.ServicesPrivateIp, request.ServicesBox, plan.Before.ServicesPrivateIp);
            string? passphrase = Plain(request.SecretPassphrase);
            UserDataEdit edit = UserDataEditor.Edit(userData!, ip, passphrase, source);
            passphrase = null;
            plan.Edit = edit;
            plan.After = edit.After;
            _reporter.Verbose($"Read {source}: SERVICES_PRIVATE_IP={plan.Before.ServicesPrivateIp ?? "(not set)"}, passphrase {(plan.Before.HasSecretPassphrase ? "set" : "not set")}; wanted SERVICES_PRIVATE_IP={ip}{(request.SecretPassphrase is null ? " (passphrase left as it is)" : " and the given passphrase")}.");
            foreach (string w in edit.Warnings)
            {
                steps.Notes.Add(w);
            }

            if (!edit.Changed)
            {
                steps.Notes.Add($"{source} already sets SERVICES_PRIVATE_IP={ip}{(request.SecretPassphrase is null ? string.Empty : " and the passphrase")}: nothing to change.");
                return plan;
            }

            string what = string.Join("; ", edit.Changes.Where(c => c.Action != "Unchanged").Select(c => $"{c.Name} {c.Action.ToLowerInvariant()} ({c.Location})"));
            if (isTemplate)
            {
                steps.Add("ec2:CreateLaunchTemplateVersion", $"{plan.LaunchTemplateId} from version {plan.OldVersion}, only the user data new: {what}", plan.LaunchTemplateId);
                steps.Add("autoscaling:UpdateAutoScalingGroup", $"{group.Name} LaunchTemplate {plan.LaunchTemplateId} Version <the new version> (was {group.LaunchTemplateVersion ?? "$Default"})", group.Name);
            }
            else
            {
                plan.TargetLaunchConfigurationName = NewConfigurationName(group.LaunchConfigurationName!, _clock());
                steps.Add("autoscaling:CreateLaunchConfiguration", $"{plan.TargetLaunchConfigurationName}, a full copy of {group.LaunchConfigurationName} with the new user data: {what}", plan.TargetLaunchConfigurationName);
                steps.Add("autoscaling:UpdateAutoScalingGroup", $"{group.Name} LaunchConfigurationName {plan.TargetLaunchConfigurationName} (was {group.LaunchConfigurationName})", group.Name);
            }

            steps.Notes.Add("Running builders keep the old configuration until they are replaced: Restart-CcieBuilder -Stale rotates them.");
            return plan;
        }

        public async Task<BuilderConfiguration> ApplyAsync(BuilderConfigurationPlan plan, CancellationToken ct)
        {
            if (plan is null)
            {
                throw new ArgumentNullException(nameof(plan));
            }

            var timeline = new Timeline(_clock);
            BuilderConfiguration result = Result(plan);
            if (!plan.HasWork)
            {
                result.Action = "Unchanged";
                result.NewVersion = plan.IsRollback ? plan.TargetVersion : plan.OldVersion;
                result.NewLaunchConfigurationName = plan.IsRollback ? plan.TargetLaunchConfigurationName : plan.OldLaunchConfigurationName;
                result.Timeline = timeline.Entries;
                return result;
            }

            string group = plan.Group.Name;
            if (plan.IsRollback)
            {
                if (plan.IsLaunchTemplate)
                {
                    await timeline.RunAsync("autoscaling:UpdateAutoScalingGroup", group, async e =>
                    {
                        await _groups.UseLaunchTemplateAsync(group, plan.LaunchTemplateId!, plan.TargetVersion!, ct).ConfigureAwait(false);
                        e.Detail = $"LaunchTemplate {plan.LaunchTemplateId} Version {plan.TargetVersion}";
                        return true;
                    }).ConfigureAwait(false);
                }
                else
                {
                    await timeline.RunAsync("autoscaling:UpdateAutoScalingGroup", group, async e =>
                    {
                        await _groups.UseLaunchConfigurationAsync(group, plan.TargetLaunchConfigurationName!, ct).ConfigureAwait(false);
                        e.Detail = "LaunchConfigurationName " + plan.TargetLaunchConfigurationName;
                        return true;
                    }).ConfigureAwait(false);
                }

                result.Action = "RolledBack";
                result.Changed = true;
                result.NewVersion = plan.TargetVersion;
                result.NewLaunchConfigurationName = plan.TargetLaunchConfigurationName;
                result.Timeline = timeline.Entries;
                return result;
            }

            UserDataEdit edit = plan.Edit!;
            if (plan.IsLaunchTemplate)
            {
                string newVersion = await timeline.RunAsync("ec2:CreateLaunchTemplateVersion", plan.LaunchTemplateId, async e =>
                {
                    string? reused = await FindEqualLatestAsync(plan, edit.UserData, ct).ConfigureAwait(false);
                    if (reused is not null)
                    {
                        timeline.Complete(e, "Reused", detail: $"version {reused} (made by an earlier run) already has this user data");
                        return reused;
                    }

                    var request = new CreateLaunchTemplateVersionRequest
                    {
                        LaunchTemplateId = plan.LaunchTemplateId,
                        SourceVersion = plan.OldVersion,
                        VersionDescription = Truncate($"CcieDr Set-CcieBuilderConfiguration: SERVICES_PRIVATE_IP={plan.After?.ServicesPrivateIp} (from version {plan.OldVersion})", 255),
                        LaunchTemplateData = new RequestLaunchTemplateData { UserData = edit.UserData },
                        ClientToken = ClientToken(plan.LaunchTemplateId!, plan.OldVersion!, edit.UserData),
                    };
                    CreateLaunchTemplateVersionResponse created = await AwsCall.RunAsync("ec2:CreateLaunchTemplateVersion", plan.LaunchTemplateId, token => _ec2.CreateLaunchTemplateVersionAsync(request, token), ct).ConfigureAwait(false);
                    string number = Number(created.LaunchTemplateVersion?.VersionNumber);
                    e.Detail = "version " + number;
                    return number;
                }).ConfigureAwait(false);
                _reporter.Verbose($"Launch template {plan.LaunchTemplateId}: version {newVersion} has the new user data.");
                result.NewVersion = newVersion;
                await UpdateGroupAsync(timeline, group, "LaunchTemplate " + plan.LaunchTemplateId + " Version " + newVersion, $"launch template version {newVersion} was created, but the group still uses version {plan.OldVersion}", $"Set-CcieBuilderConfiguration -AutoScalingGroupName {group} -Version {newVersion}", token => _groups.UseLaunchTemplateAsync(group, plan.LaunchTemplateId!, newVersion, token), ct).ConfigureAwait(false);
            }
            else
            {
                string old = plan.OldLaunchConfigurationName!;
                string name = await timeline.RunAsync("autoscaling:CreateLaunchConfiguration", plan.TargetLaunchConfigurationName, async e =>
                {
                    // Auto Scaling has no client token: an earlier run that made the copy (and then failed or was stopped) is found by look-up.
                    string? reused = await _groups.FindLaunchConfigurationCopyAsync(old, edit.UserData, n => IsCopyName(old, n), ct).ConfigureAwait(false);
                    if (reused is not null)
                    {
                        timeline.Complete(e, "Reused", detail: $"{reused} (made by an earlier run) is already this copy of {old}");
                        return reused;
                    }

                    await _groups.CopyLaunchConfigurationAsync(old, plan.TargetLaunchConfigurationName!, edit.UserData, ct).ConfigureAwait(false);
                    e.Detail = "copied from " + old;
                    return plan.TargetLaunchConfigurationName!;
                }).ConfigureAwait(false);
                result.NewLaunchConfigurationName = name;
                await UpdateGroupAsync(timeline, group, "LaunchConfigurationName " + name, $"launch configuration {name} was created, but the group still uses {plan.OldLaunchConfigurationName}", $"Set-CcieBuilderConfiguration -AutoScalingGroupName {group} -LaunchConfigurationName {name}", token => _groups.UseLaunchConfigurationAsync(group, name, token), ct).ConfigureAwait(false);
            }

            result.Action = plan.IsLaunchTemplate ? "Updated" : "Created";
            result.Changed = true;
            result.Timeline = timeline.Entries;
            return result;
        }

        private static async Task UpdateGroupAsync(Timeline timeline, string group, string detail, string half, string fix, Func<CancellationToken, Task> call, CancellationToken ct)
        {
            try
            {
                await timeline.RunAsync("autoscaling:UpdateAutoScalingGroup", group, async e =>
                {
                    await call(ct).ConfigureAwait(false);
                    e.Detail = detail;
                    return true;
                }).ConfigureAwait(false);
            }
            catch (CcieException e)
            {
                throw new CcieException(e.ErrorId, e.Category, $"{e.Message} ({half}: run '{fix}' to finish.)", group, e);
            }
            catch (OperationCanceledException)
            {
                throw;
            }
        }

        private async Task<BuilderConfigurationPlan> PlanRollbackAsync(BuilderGroupState group, bool isTemplate, BuilderConfigurationRequest request, CancellationToken ct)
        {
            var steps = new OperationPlan("Put a previous builder configuration back", group.Name);
            var plan = new BuilderConfigurationPlan(group, steps) { IsLaunchTemplate = isTemplate, IsRollback = true };
            if (request.Version is not null)
            {
                if (!isTemplate)
                {
                    throw new CcieException("BuilderGroupNotLaunchTemplate", CcieErrorCategory.InvalidArgument, $"The group {group.Name} uses launch configuration {group.LaunchConfigurationName}, not a launch template: roll back with -LaunchConfigurationName.", group.Name);
                }

                LaunchTemplateVersion current = await DescribeVersionAsync(group.LaunchTemplateId, group.LaunchTemplateName, group.LaunchTemplateVersion ?? "$Default", ct).ConfigureAwait(false);
                LaunchTemplateVersion target = await DescribeVersionAsync(current.LaunchTemplateId, null, request.Version, ct).ConfigureAwait(false);
                plan.LaunchTemplateId = current.LaunchTemplateId;
                plan.LaunchTemplateName = current.LaunchTemplateName;
                plan.OldVersion = Number(current.VersionNumber);
                plan.TargetVersion = Number(target.VersionNumber);
                plan.Before = UserDataReader.TryRead(current.LaunchTemplateData?.UserData, "version " + plan.OldVersion, out _);
                plan.After = UserDataReader.TryRead(target.LaunchTemplateData?.UserData, "version " + plan.TargetVersion, out _);
                if (plan.TargetVersion == group.LaunchTemplateVersion)
                {
                    steps.Notes.Add($"{group.Name} already uses version {plan.TargetVersion}: nothing to change.");
                    return plan;
                }

                steps.Add("autoscaling:UpdateAutoScalingGroup", $"{group.Name} LaunchTemplate {plan.LaunchTemplateId} Version {plan.TargetVersion} (was {group.LaunchTemplateVersion ?? "$Default"}, version {plan.OldVersion}); builders there get SERVICES_PRIVATE_IP={plan.After?.ServicesPrivateIp ?? "(not set)"}", group.Name);
            }
            else
            {
                if (isTemplate)
                {
                    throw new CcieException("BuilderGroupNotLaunchConfiguration", CcieErrorCategory.InvalidArgument, $"The group {group.Name} uses launch template {group.LaunchTemplateId ?? group.LaunchTemplateName}: roll back with -Version.", group.Name);
                }

                string name = request.LaunchConfigurationName!;
                string? userData = await _groups.LaunchConfigurationUserDataAsync(name, ct).ConfigureAwait(false);
                plan.OldLaunchConfigurationName = group.LaunchConfigurationName;
                plan.TargetLaunchConfigurationName = name;
                plan.After = UserDataReader.TryRead(userData, "launch configuration " + name, out _);
                if (name == group.LaunchConfigurationName)
                {
                    steps.Notes.Add($"{group.Name} already uses {name}: nothing to change.");
                    return plan;
                }

                steps.Add("autoscaling:UpdateAutoScalingGroup", $"{group.Name} LaunchConfigurationName {name} (was {group.LaunchConfigurationName}); builders there get SERVICES_PRIVATE_IP={plan.After?.ServicesPrivateIp ?? "(not set)"}", group.Name);
            }

            steps.Notes.Add("Running builders keep their configuration until they are replaced: Restart-CcieBuilder -Stale rotates them.");
            return plan;
        }

        private BuilderConfiguration Result(BuilderConfigurationPlan plan) => new BuilderConfiguration
        {
            Region = _region,
            AutoScalingGroupName = plan.Group.Name,
            ConfigurationType = plan.IsLaunchTemplate ? "LaunchTemplate" : "LaunchConfiguration",
            LaunchTemplateId = plan.LaunchTemplateId,
            LaunchTemplateName = plan.LaunchTemplateName,
            OldVersion = plan.OldVersion,
            OldLaunchConfigurationName = plan.OldLaunchConfigurationName,
            PreviousServicesPrivateIp = plan.Before?.ServicesPrivateIp,
            ServicesPrivateIp = plan.After?.ServicesPrivateIp ?? plan.Before?.ServicesPrivateIp,
            SecretPassphraseSet = (plan.After ?? plan.Before)?.HasSecretPassphrase ?? false,
            Changes = plan.Edit?.Changes.Select(c => c.ToString()).ToList() ?? (IReadOnlyList<string>)Array.Empty<string>(),
            Diff = plan.MaskedDiff,
            Warnings = plan.Edit?.Warnings ?? Array.Empty<string>(),
        };

        /// <summary>A result for -WhatIf: what would be done, nothing written.</summary>
        public BuilderConfiguration WhatIfResult(BuilderConfigurationPlan plan)
        {
            BuilderConfiguration r = Result(plan ?? throw new ArgumentNullException(nameof(plan)));
            r.Action = "WhatIf";
            return r;
        }

        private async Task<string?> ReadCurrentUserDataAsync(BuilderGroupState g, CancellationToken ct)
        {
            try
            {
                if (g.LaunchTemplateId is not null || g.LaunchTemplateName is not null)
                {
                    return (await DescribeVersionAsync(g.LaunchTemplateId, g.LaunchTemplateName, g.LaunchTemplateVersion ?? "$Default", ct).ConfigureAwait(false)).LaunchTemplateData?.UserData;
                }

                return g.LaunchConfigurationName is null ? null : await _groups.LaunchConfigurationUserDataAsync(g.LaunchConfigurationName, ct).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.Category == CcieErrorCategory.ObjectNotFound)
            {
                return null;
            }
        }

        private Task<LaunchTemplateVersion> DescribeVersionAsync(string? id, string? name, string version, CancellationToken ct) =>
            BuilderLaunchTemplates.DescribeVersionAsync(_ec2, id, name, version, ct);

        /// <summary>The latest version when an earlier run already made it with exactly this user data (a rerun after a failure reuses it).</summary>
        private async Task<string?> FindEqualLatestAsync(BuilderConfigurationPlan plan, string userData, CancellationToken ct)
        {
            LaunchTemplateVersion latest = await DescribeVersionAsync(plan.LaunchTemplateId, null, "$Latest", ct).ConfigureAwait(false);
            string number = Number(latest.VersionNumber);
            if (number == plan.OldVersion || latest.LaunchTemplateData?.UserData is not { } existing)
            {
                return null;
            }

            bool same = string.Equals(existing, userData, StringComparison.Ordinal);
            if (!same && plan.Edit?.After.Gzip == true)
            {
                try
                {
                    same = UserDataCodec.Decode(existing, "latest").Text == UserDataCodec.Decode(userData, "new").Text;
                }
                catch (CcieException)
                {
                    same = false;
                }
            }

            return same ? number : null;
        }

        private static string ClientToken(string templateId, string sourceVersion, string userData)
        {
            using var sha = SHA256.Create();
            byte[] hash = sha.ComputeHash(Encoding.UTF8.GetBytes(templateId + "|" + sourceVersion + "|" + userData));
            return "ccie-" + BitConverter.ToString(hash, 0, 16).Replace("-", string.Empty).ToLowerInvariant();
        }

        /// <summary>old name + "-ccie-yyyyMMddHHmmss" (an earlier CcieDr suffix replaced), within the 255-character limit.</summary>
        internal static string NewConfigurationName(string oldName, DateTime now)
        {
            string stem = System.Text.RegularExpressions.Regex.Replace(oldName, @"-ccie-\d{14}$", string.Empty, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromMilliseconds(100));
            string suffix = "-ccie-" + now.ToUniversalTime().ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            return Truncate(stem, 255 - suffix.Length) + suffix;
        }

        /// <summary>True when <paramref name="candidate"/> is a name <see cref="NewConfigurationName"/> gives a copy of <paramref name="oldName"/> (any time).</summary>
        internal static bool IsCopyName(string oldName, string candidate)
        {
            string stem = System.Text.RegularExpressions.Regex.Replace(oldName, @"-ccie-\d{14}$", string.Empty, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromMilliseconds(100));
            string pattern = "^" + System.Text.RegularExpressions.Regex.Escape(Truncate(stem, 255 - 20)) + @"-ccie-\d{14}$";
            return System.Text.RegularExpressions.Regex.IsMatch(candidate, pattern, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromMilliseconds(100));
        }

        private static string Describe(BuilderGroupState g) =>
            g.LaunchTemplateId is not null || g.LaunchTemplateName is not null
                ? $"launch template {g.LaunchTemplateId ?? g.LaunchTemplateName} of group {g.Name}"
                : $"launch configuration {g.LaunchConfigurationName} of group {g.Name}";

        private static string Number(long? n) => (n ?? 0).ToString(CultureInfo.InvariantCulture);

        private static string Truncate(string s, int max) => s.Length <= max ? s : s.Substring(0, max);

        /// <summary>The passphrase as text for the editor only (never logged); null stays null.</summary>
        private static string? Plain(SecureString? secure)
        {
            if (secure is null)
            {
                return null;
            }

            IntPtr p = Marshal.SecureStringToGlobalAllocUnicode(secure);
            try
            {
                return Marshal.PtrToStringUni(p);
            }
            finally
            {
                Marshal.ZeroFreeGlobalAllocUnicode(p);
            }
        }
    }
}
