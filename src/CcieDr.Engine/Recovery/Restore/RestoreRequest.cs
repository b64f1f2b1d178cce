using System;
using System.Collections.Generic;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>What to restore and how: the recovery point, overrides of its saved identity, and options.</summary>
    public sealed class RestoreRequest
    {
        /// <summary>The recovery point to restore (from Get-CcieSnapshot, the catalog, or built for a seed snapshot).</summary>
        public RecoveryPoint RecoveryPoint { get; set; } = null!;

        /// <summary>A subnet other than the saved one (another AZ). Builders must then be re-associated.</summary>
        public string? SubnetId { get; set; }

        /// <summary>A private IP other than the saved one. Builders must then be re-associated.</summary>
        public string? PrivateIpAddress { get; set; }

        public IReadOnlyList<string>? SecurityGroupIds { get; set; }

        public string? InstanceType { get; set; }

        public string? KeyName { get; set; }

        /// <summary>Instance profile ARN or name.</summary>
        public string? IamInstanceProfile { get; set; }

        /// <summary>Name tag of the restored box. Default: the saved one, else circleci_services.</summary>
        public string? Name { get; set; }

        /// <summary>Terminate the instance that holds the private IP (only a Services box) and wait for the IP.</summary>
        public bool ReplaceExisting { get; set; }

        /// <summary>Deregister the AMI once the box runs (its snapshots are kept).</summary>
        public bool DeregisterImage { get; set; }

        /// <summary>Deadline for all the waits of the restore together.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(30);

        /// <summary>
        /// A recovery drill (Test-CcieRecovery): the box is restored as a throw-away copy, never as the Services box.
        /// It always gets a new private IP (never the saved one), a Name of its own, the tag ccie:drill=&lt;id&gt; on
        /// everything created, an AMI and client tokens of its own, and it never reuses or is reused by a real restore.
        /// </summary>
        public string? DrillId { get; set; }

        /// <summary>Values assumed because the point did not carry them (seed snapshots); shown in the plan.</summary>
        public IList<string> Assumptions { get; } = new List<string>();
    }
}
