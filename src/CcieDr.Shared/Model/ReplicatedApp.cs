using System;

namespace CcieDr
{
    /// <summary>The CircleCI app as Replicated on the Services box reports it. Emitted by Get-CcieApp.</summary>
    public sealed class ReplicatedApp
    {
        internal ReplicatedApp()
        {
        }

        /// <summary>The box as the transport reached it (host name or IP, or localhost).</summary>
        public string Host { get; internal set; } = string.Empty;

        public string? InstanceId { get; internal set; }

        /// <summary>Ssh, Local (Ssm to come).</summary>
        public string Transport { get; internal set; } = string.Empty;

        /// <summary>Replicated's app id (hex).</summary>
        public string AppId { get; internal set; } = string.Empty;

        /// <summary>App name (Replicated 1.x lists it; 2.x's status does not carry it).</summary>
        public string? Name { get; internal set; }

        /// <summary>The app release sequence (its version on this box).</summary>
        public long? Sequence { get; internal set; }

        /// <summary>started, starting, stopped, stopping, paused, ... (lower case).</summary>
        public string State { get; internal set; } = string.Empty;

        /// <summary>The state Replicated is moving the app to (2.x), else null.</summary>
        public string? DesiredState { get; internal set; }

        public bool IsTransitioning { get; internal set; }

        /// <summary>Replicated's last error for the app, if any.</summary>
        public string? Error { get; internal set; }

        /// <summary>Replicated's own version, e.g. 2.53.2.</summary>
        public string? ReplicatedVersion { get; internal set; }

        /// <summary>1 (replicated CLI) or 2 (replicatedctl).</summary>
        public int ReplicatedMajorVersion { get; internal set; }

        public DateTime? LastModifiedAt { get; internal set; }

        public override string ToString() => AppId + " " + State;
    }
}
