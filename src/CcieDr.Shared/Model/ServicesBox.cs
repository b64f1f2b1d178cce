using System;
using System.Collections.Generic;

namespace CcieDr
{
    /// <summary>
    /// The CircleCI Services box as EC2 sees it: everything a restore or a failover needs to rebuild
    /// an equivalent instance (network identity, launch settings, volumes). Emitted by Get-CcieServicesBox.
    /// </summary>
    public sealed class ServicesBox
    {
        internal ServicesBox()
        {
        }

        /// <summary>AWS region the box lives in.</summary>
        public string Region { get; internal set; } = string.Empty;

        /// <summary>Value of the Name tag (or the tag the box was found by).</summary>
        public string? Name { get; internal set; }

        public string InstanceId { get; internal set; } = string.Empty;

        /// <summary>EC2 instance state: pending, running, stopping, stopped, shutting-down, terminated.</summary>
        public string State { get; internal set; } = string.Empty;

        public string? StateReason { get; internal set; }

        /// <summary>Primary private IPv4 address: what builders use to find the box.</summary>
        public string? PrivateIpAddress { get; internal set; }

        public IReadOnlyList<string> SecondaryPrivateIpAddresses { get; internal set; } = Array.Empty<string>();

        public string? PublicIpAddress { get; internal set; }

        public string? SubnetId { get; internal set; }

        public string? VpcId { get; internal set; }

        public string? AvailabilityZone { get; internal set; }

        public IReadOnlyList<string> SecurityGroupIds { get; internal set; } = Array.Empty<string>();

        public IReadOnlyList<string> SecurityGroupNames { get; internal set; } = Array.Empty<string>();

        public string? InstanceType { get; internal set; }

        public string? KeyName { get; internal set; }

        /// <summary>ARN of the IAM instance profile, if any.</summary>
        public string? IamInstanceProfileArn { get; internal set; }

        public string? ImageId { get; internal set; }

        public string? RootDeviceName { get; internal set; }

        public string? RootDeviceType { get; internal set; }

        public string? Architecture { get; internal set; }

        public bool EnaSupport { get; internal set; }

        public string? VirtualizationType { get; internal set; }

        public IReadOnlyList<ServicesBoxVolume> Volumes { get; internal set; } = Array.Empty<ServicesBoxVolume>();

        public IReadOnlyList<string> NetworkInterfaceIds { get; internal set; } = Array.Empty<string>();

        public IReadOnlyDictionary<string, string> Tags { get; internal set; } = new Dictionary<string, string>();

        /// <summary>Launch time in UTC.</summary>
        public DateTime? LaunchTime { get; internal set; }

        public override string ToString() => InstanceId;
    }

    /// <summary>An EBS volume attached to the Services box.</summary>
    public sealed class ServicesBoxVolume
    {
        internal ServicesBoxVolume()
        {
        }

        public string DeviceName { get; internal set; } = string.Empty;

        public string VolumeId { get; internal set; } = string.Empty;

        public bool IsRootDevice { get; internal set; }

        public int SizeGiB { get; internal set; }

        public string? VolumeType { get; internal set; }

        public int? Iops { get; internal set; }

        public int? Throughput { get; internal set; }

        public bool Encrypted { get; internal set; }

        public string? KmsKeyId { get; internal set; }

        public bool DeleteOnTermination { get; internal set; }

        public string? SnapshotId { get; internal set; }

        public override string ToString() => DeviceName + "=" + VolumeId;
    }
}
