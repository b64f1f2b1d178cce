using System;
using System.Collections.Generic;
using Amazon.EC2.Model;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Failover
{
    /// <summary>What Invoke-CcieFailover is asked to do.</summary>
    public sealed class FailoverRequest
    {
        /// <summary>The primary's instance id; default: the box tagged <see cref="Name"/>.</summary>
        public string? InstanceId { get; set; }

        public string Name { get; set; } = CcieDr.Engine.Recovery.ServicesBoxQuery.DefaultName;

        /// <summary>The replica to promote; default: the one replica of the primary.</summary>
        public string? ReplicaId { get; set; }

        /// <summary>A planned switchover of a healthy primary: stop its app first.</summary>
        public bool Planned { get; set; }

        /// <summary>Run after the app on the primary stopped (planned switchover), e.g. a last sync.</summary>
        public string? FinalSyncCommand { get; set; }

        /// <summary>The operator knows the primary is dead although EC2 cannot stop it (its AZ is down).</summary>
        public bool AssumePrimaryDead { get; set; }

        /// <summary>Exits 0 on the replica when /data is in sync (default: the one New-CcieReplica recorded).</summary>
        public string? ReplicationCheckCommand { get; set; }

        /// <summary>Makes the replica's /data primary (e.g. drbdadm primary r0 &amp;&amp; mount /data).</summary>
        public string? PromoteCommand { get; set; }

        public TimeSpan FenceTimeout { get; set; } = TimeSpan.FromMinutes(10);

        /// <summary>How long one stop call of the primary may take before it counts as failed (a hung AZ).</summary>
        public TimeSpan FenceCallTimeout { get; set; } = TimeSpan.FromSeconds(60);

        public TimeSpan StartTimeout { get; set; } = TimeSpan.FromMinutes(15);

        public TimeSpan AppTimeout { get; set; } = TimeSpan.FromMinutes(20);

        public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMinutes(10);
    }

    /// <summary>A failover resolved and judged, read-only: what -WhatIf prints and what execution follows.</summary>
    public sealed class FailoverPlan
    {
        public FailoverRequest Request { get; set; } = null!;

        public Instance Primary { get; set; } = null!;

        public Instance Replica { get; set; } = null!;

        public string PrimaryName { get; set; } = string.Empty;

        public ReplicaMode Mode { get; set; }

        public string ModeDescription { get; set; } = string.Empty;

        public AddressingFacts Facts { get; set; } = new AddressingFacts();

        /// <summary>The IP builders use now.</summary>
        public string BuildersIp { get; set; } = string.Empty;

        /// <summary>The IP builders use after the failover.</summary>
        public string NewIp { get; set; } = string.Empty;

        public InstanceHealth PrimaryHealth { get; set; } = null!;

        public BoxVerdict? PrimaryVerdict { get; set; }

        /// <summary>The last step an earlier run finished (null: a fresh failover).</summary>
        public string? DoneStep { get; set; }

        public DateTime Started { get; set; }

        /// <summary>Why the failover would refuse now (null: it can go).</summary>
        public CcieException? Refusal { get; set; }

        public string? ReplicationCheckCommand { get; set; }

        public OperationPlan Operation { get; set; } = null!;

        public bool Resumed => DoneStep is not null;

        /// <summary>True when a finished failover was found (nothing left to do).</summary>
        public bool AlreadyDone => DoneStep == FailoverSteps.Done;

        public List<string> StepsLeft { get; } = new List<string>();
    }
}
