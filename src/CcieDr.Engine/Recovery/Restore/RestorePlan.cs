using System;
using System.Collections.Generic;
using System.Linq;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>One block device of the AMI to register: a snapshot of the recovery point at its saved device name.</summary>
    public sealed class RestoreDevice
    {
        public string DeviceName { get; set; } = string.Empty;

        public string SnapshotId { get; set; } = string.Empty;

        public int SizeGiB { get; set; }

        public string? VolumeType { get; set; }

        public int? Iops { get; set; }

        public int? Throughput { get; set; }

        public bool Encrypted { get; set; }

        public string? KmsKeyId { get; set; }

        public bool IsRootDevice { get; set; }

        /// <summary>Root: true. Data volumes: false, so terminating a restored box never deletes data.</summary>
        public bool DeleteOnTermination { get; set; }

        public override string ToString()
        {
            string type = VolumeType ?? "gp2";
            string extra = (Iops is null ? string.Empty : $" {Iops} IOPS") + (Throughput is null ? string.Empty : $" {Throughput} MiB/s") + (Encrypted ? " encrypted" : string.Empty);
            return $"{DeviceName}={SnapshotId}({SizeGiB} GiB {type}{extra})";
        }
    }

    /// <summary>Everything the restore will create, resolved from the point's identity and the overrides.</summary>
    public sealed class RestoreTarget
    {
        public string Region { get; set; } = string.Empty;

        public string RecoveryPointId { get; set; } = string.Empty;

        /// <summary>Set for a recovery drill (see <see cref="RestoreRequest.DrillId"/>).</summary>
        public string? DrillId { get; set; }

        /// <summary>What the client tokens derive from: the point, and the drill when there is one.</summary>
        public string TokenKey => DrillId is null ? RecoveryPointId : RecoveryPointId + "|drill:" + DrillId;

        public string? SourceInstanceId { get; set; }

        public string ImageName { get; set; } = string.Empty;

        public string ImageDescription { get; set; } = string.Empty;

        public string RootDeviceName { get; set; } = string.Empty;

        public string Architecture { get; set; } = "x86_64";

        public bool EnaSupport { get; set; }

        public string VirtualizationType { get; set; } = "hvm";

        public IReadOnlyList<RestoreDevice> Devices { get; set; } = Array.Empty<RestoreDevice>();

        public string SubnetId { get; set; } = string.Empty;

        public string? VpcId { get; set; }

        public string? AvailabilityZone { get; set; }

        /// <summary>Null: AWS picks an address in the subnet (only when the subnet was overridden).</summary>
        public string? PrivateIpAddress { get; set; }

        public IReadOnlyList<string> SecondaryPrivateIpAddresses { get; set; } = Array.Empty<string>();

        /// <summary>The recovery point's own private IP.</summary>
        public string? SavedPrivateIpAddress { get; set; }

        public bool PrivateIpPreserved => SavedPrivateIpAddress is not null && string.Equals(PrivateIpAddress, SavedPrivateIpAddress, StringComparison.Ordinal);

        public IReadOnlyList<string> SecurityGroupIds { get; set; } = Array.Empty<string>();

        public string InstanceType { get; set; } = string.Empty;

        public string? KeyName { get; set; }

        /// <summary>Instance profile ARN (arn:aws:iam::...) or name.</summary>
        public string? IamInstanceProfile { get; set; }

        public string Name { get; set; } = ServicesBoxQuery.DefaultName;

        /// <summary>Tags on the AMI, the instance and its volumes (deterministic: part of the idempotent launch).</summary>
        public IReadOnlyDictionary<string, string> Tags { get; set; } = new Dictionary<string, string>();

        /// <summary>Generation 1 client token; later generations only if it is spent.</summary>
        public string BaseClientToken { get; set; } = string.Empty;
    }

    /// <summary>Outcome of one pre-flight check.</summary>
    public enum PreflightStatus
    {
        Ok,
        Warning,

        /// <summary>Could not be checked (no API access from here); the launch itself will validate it.</summary>
        Unchecked,

        /// <summary>The restore cannot go ahead.</summary>
        Blocker,
    }

    /// <summary>One pre-flight finding: what was checked, the verdict, and for blockers what to do.</summary>
    public sealed class PreflightFinding
    {
        public PreflightFinding(string check, PreflightStatus status, string message, string? errorId = null, object? target = null, CcieErrorCategory category = CcieErrorCategory.InvalidOperation)
        {
            Check = check;
            Status = status;
            Message = message;
            ErrorId = errorId;
            Target = target;
            Category = category;
        }

        public string Check { get; }

        public PreflightStatus Status { get; }

        public string Message { get; }

        public string? ErrorId { get; }

        public object? Target { get; }

        public CcieErrorCategory Category { get; }

        public CcieException ToException() => new CcieException(ErrorId ?? "RestorePreflightFailed", Category, Message, Target);

        public override string ToString() => $"{Status.ToString().ToLowerInvariant()}: {Message}";
    }

    /// <summary>A resource an earlier run of the same restore left behind, found by name, tag or client token.</summary>
    public sealed class ExistingResource
    {
        public ExistingResource(string id, string state, string? detail = null)
        {
            Id = id;
            State = state;
            Detail = detail;
        }

        public string Id { get; }

        public string State { get; }

        public string? Detail { get; }

        public override string ToString() => $"{Id} ({State})";
    }

    /// <summary>The instance that holds the target private IP and would be terminated by -ReplaceExisting.</summary>
    public sealed class IpHolder
    {
        public IpHolder(string ipAddress, string networkInterfaceId, string? instanceId, string? instanceState, string? name)
        {
            IpAddress = ipAddress;
            NetworkInterfaceId = networkInterfaceId;
            InstanceId = instanceId;
            InstanceState = instanceState;
            Name = name;
        }

        public string IpAddress { get; }

        public string NetworkInterfaceId { get; }

        public string? InstanceId { get; }

        public string? InstanceState { get; }

        public string? Name { get; }
    }

    /// <summary>A planned and pre-flighted restore: what -WhatIf prints and what the executor carries out.</summary>
    public sealed class RestorePlan
    {
        public RestorePlan(RestoreRequest request, RestoreTarget target, Timeline timeline)
        {
            Request = request;
            Target = target;
            Timeline = timeline;
        }

        public RestoreRequest Request { get; }

        public RestoreTarget Target { get; }

        /// <summary>Started before pre-flight, so the measured RTO includes it.</summary>
        public Timeline Timeline { get; }

        public List<PreflightFinding> Findings { get; } = new List<PreflightFinding>();

        /// <summary>An AMI named <see cref="RestoreTarget.ImageName"/> from an earlier run (reused).</summary>
        public ExistingResource? ExistingImage { get; set; }

        /// <summary>A live instance launched by an earlier run of this restore (reused).</summary>
        public ExistingResource? ExistingInstance { get; set; }

        /// <summary>The Services box that holds the IP and will be terminated (-ReplaceExisting).</summary>
        public IpHolder? InstanceToReplace { get; set; }

        /// <summary>Warnings to show the operator (IP or subnet changed, assumptions, KMS not checked...).</summary>
        public List<string> Warnings { get; } = new List<string>();

        public IEnumerable<PreflightFinding> Blockers => Findings.Where(f => f.Status == PreflightStatus.Blocker);

        public bool CanProceed => !Blockers.Any();

        /// <summary>The ordered AWS calls (built by the planner; -WhatIf prints <see cref="OperationPlan.Render"/>).</summary>
        public OperationPlan Operation { get; set; } = new OperationPlan("Restore-CcieServicesBox", string.Empty);
    }
}
