using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>
    /// What Set-CcieBuilderConfiguration did to a builder group: the configuration it used before and uses now, the
    /// Services IP builders get, and a diff of the user data with the passphrase masked. The passphrase itself is never
    /// on this object (nor the user data, which holds it).
    /// </summary>
    public sealed class BuilderConfiguration
    {
        internal BuilderConfiguration()
        {
        }

        public string Region { get; internal set; } = string.Empty;

        /// <summary>The group (pipes into Restart-CcieBuilder by this name).</summary>
        public string AutoScalingGroupName { get; internal set; } = string.Empty;

        /// <summary>LaunchTemplate or LaunchConfiguration.</summary>
        public string ConfigurationType { get; internal set; } = string.Empty;

        public string? LaunchTemplateId { get; internal set; }

        public string? LaunchTemplateName { get; internal set; }

        /// <summary>The version the group used before (resolved: a number).</summary>
        public string? OldVersion { get; internal set; }

        /// <summary>The version the group uses now (the new one, or the one rolled back to).</summary>
        public string? NewVersion { get; internal set; }

        public string? OldLaunchConfigurationName { get; internal set; }

        public string? NewLaunchConfigurationName { get; internal set; }

        /// <summary>SERVICES_PRIVATE_IP builders launched from now on get.</summary>
        public string? ServicesPrivateIp { get; internal set; }

        /// <summary>SERVICES_PRIVATE_IP before the change.</summary>
        public string? PreviousServicesPrivateIp { get; internal set; }

        /// <summary>True when the new configuration sets CIRCLE_SECRET_PASSPHRASE (its value is never shown).</summary>
        public bool SecretPassphraseSet { get; internal set; }

        /// <summary>True when something was written (false: already configured, or -WhatIf).</summary>
        public bool Changed { get; internal set; }

        /// <summary>Updated, Created, RolledBack, Unchanged or WhatIf.</summary>
        public string Action { get; internal set; } = string.Empty;

        /// <summary>Per variable: Replaced / Added / Unchanged and where.</summary>
        public IReadOnlyList<string> Changes { get; internal set; } = Array.Empty<string>();

        /// <summary>The user-data diff, the passphrase shown as ******.</summary>
        public string Diff { get; internal set; } = string.Empty;

        public IReadOnlyList<string> Warnings { get; internal set; } = Array.Empty<string>();

        public IReadOnlyList<TimelineEntry> Timeline { get; internal set; } = Array.Empty<TimelineEntry>();

        public override string ToString() => ConfigurationType == "LaunchConfiguration"
            ? $"{AutoScalingGroupName}: {OldLaunchConfigurationName} -> {NewLaunchConfigurationName} (SERVICES_PRIVATE_IP={ServicesPrivateIp})"
            : $"{AutoScalingGroupName}: {LaunchTemplateId} version {OldVersion} -> {NewVersion} (SERVICES_PRIVATE_IP={ServicesPrivateIp})";
    }
}
