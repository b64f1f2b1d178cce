namespace CcieDr.Engine.Failover
{
    /// <summary>The tags of images, replicas and failovers. A contract read across runs: add keys, never rename them.</summary>
    public static class FailoverTags
    {
        /// <summary>On an AMI: "services-box" marks an image made by New-CcieServicesBoxImage.</summary>
        public const string ImageKind = "ccie:image-kind";
        public const string ImageKindValue = "services-box";

        /// <summary>On an image's snapshots: the image they belong to.</summary>
        public const string ImageOf = "ccie:image-of";

        /// <summary>
        /// On an AMI and on a replica: "creating" from the first call until the last step of New-CcieServicesBoxImage
        /// or New-CcieReplica, then "done". A rerun finishes a "creating" one (its answer lost, or the run stopped)
        /// instead of making a second; one without the tag (older) is finished.
        /// </summary>
        public const string Creation = "ccie:creation";
        public const string CreationInProgress = "creating";
        public const string CreationDone = "done";

        public const string NoReboot = "ccie:no-reboot";
        public const string AppVersion = "ccie:app-version";

        /// <summary>On an instance: "replica" (a standby), "primary" (the box after a failover).</summary>
        public const string Role = "ccie:role";
        public const string RoleReplica = "replica";
        public const string RolePrimary = "primary";

        /// <summary>On a replica: the box it stands in for.</summary>
        public const string PrimaryInstanceId = "ccie:primary-instance-id";

        /// <summary>On a replica: the image it was launched from.</summary>
        public const string LaunchedFromImage = "ccie:launched-from-image";

        /// <summary>On a replica: Replication or RecoveryPoint.</summary>
        public const string DataFrom = "ccie:data-from";
        public const string DataRecoveryPoint = "ccie:data-recovery-point";
        public const string DataCreatedAt = "ccie:data-created-at";
        public const string DataDevice = "ccie:data-device";

        /// <summary>On the primary: the floating IP builders know (set by Add-CcieFloatingIp).</summary>
        public const string FloatingIp = "ccie:floating-ip";

        /// <summary>On a secondary ENI: "true" marks the movable interface of mode 2.</summary>
        public const string MovableEni = "ccie:movable-eni";

        /// <summary>On the old primary: how and when it was fenced ("stopped 2026-...", "assumed-dead 2026-..."). A later start is noticed.</summary>
        public const string Fenced = "ccie:fenced";

        /// <summary>On the replica during and after a failover: the last step finished (see <see cref="FailoverSteps"/>).</summary>
        public const string FailoverStep = "ccie:failover-step";

        /// <summary>On the replica: the primary the failover in progress replaces.</summary>
        public const string FailoverPrimary = "ccie:failover-primary";

        /// <summary>On the replica: when the failover began (round-trip UTC), so a resumed run measures the whole RTO.</summary>
        public const string FailoverStarted = "ccie:failover-started";

        /// <summary>On the replica: the old primary was assumed dead (-AssumePrimaryDead).</summary>
        public const string FailoverAssumedDead = "ccie:failover-assumed-dead";

        /// <summary>On the replica: the IP the builders used before the failover (mode 3 fix-ups).</summary>
        public const string FailoverOldIp = "ccie:failover-old-ip";

        /// <summary>On the replica: the mode chosen when the failover began (the primary no longer shows it once the IP moved).</summary>
        public const string FailoverMode = "ccie:failover-mode";

        public const string ReplicaNameSuffix = "-replica";
        public const string FencedNameSuffix = "-fenced";
    }

    /// <summary>The failover's steps in order; each is recorded in <see cref="FailoverTags.FailoverStep"/> once done.</summary>
    public static class FailoverSteps
    {
        public const string Decided = "decided";
        public const string Fenced = "fenced";
        public const string Promoted = "promoted";
        public const string Readdressed = "readdressed";
        public const string Started = "started";
        public const string Done = "done";

        public static readonly string[] Order = { Decided, Fenced, Promoted, Readdressed, Started, Done };

        /// <summary>Position of a step (-1 for none).</summary>
        public static int IndexOf(string? step) => step is null ? -1 : System.Array.IndexOf(Order, step);
    }
}
