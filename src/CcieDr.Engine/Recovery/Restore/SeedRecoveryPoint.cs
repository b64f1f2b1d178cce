using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>The identity of a box restored from a seed-made snapshot, given as parameters (the snapshot carries none).</summary>
    public sealed class SeedIdentity
    {
        public string? PrivateIpAddress { get; set; }

        public string? SubnetId { get; set; }

        public IReadOnlyList<string> SecurityGroupIds { get; set; } = Array.Empty<string>();

        public string? InstanceType { get; set; }

        public string? KeyName { get; set; }

        public string? IamInstanceProfile { get; set; }

        public string? RootDeviceName { get; set; }

        public string? Architecture { get; set; }

        public bool? EnaSupport { get; set; }

        public string? VirtualizationType { get; set; }

        public string? Name { get; set; }
    }

    /// <summary>
    /// Builds a one-snapshot recovery point from a snapshot made by the seed's backup script
    /// (description "CircleCI Services box Backup taken at ..."): the snapshot becomes the root volume,
    /// the identity comes from parameters.
    /// </summary>
    public static class SeedRecoveryPoint
    {
        public static async Task<RecoveryPoint> FromSnapshotAsync(IAmazonEC2 ec2, string region, string snapshotId, SeedIdentity identity, IList<string> assumptions, CancellationToken ct)
        {
            if (ec2 is null)
            {
                throw new ArgumentNullException(nameof(ec2));
            }

            if (identity is null)
            {
                throw new ArgumentNullException(nameof(identity));
            }

            if (assumptions is null)
            {
                throw new ArgumentNullException(nameof(assumptions));
            }

            IReadOnlyList<Snapshot> found = await AwsCall.RunAsync(
                "ec2:DescribeSnapshots",
                snapshotId,
                token => ec2.DescribeAllSnapshotsAsync(new DescribeSnapshotsRequest { Filters = new List<Filter> { Ec2Extensions.Filter("snapshot-id", snapshotId) } }, token),
                ct).ConfigureAwait(false);

            Snapshot? s = found.FirstOrDefault(x => x.SnapshotId == snapshotId);
            if (s is null)
            {
                throw new CcieException("SnapshotNotFound", CcieErrorCategory.ObjectNotFound, $"Snapshot {snapshotId} does not exist in {region}. Check -Region, or list the seed's backups with Get-CcieSnapshot.", snapshotId);
            }

            IReadOnlyDictionary<string, string> tags = s.Tags.ToDictionary();
            if (tags.TryGetValue("ccie:recovery-point", out string? pointId) && !string.IsNullOrEmpty(pointId))
            {
                throw new CcieException("SnapshotBelongsToRecoveryPoint", CcieErrorCategory.InvalidArgument, $"Snapshot {snapshotId} is one volume of recovery point {pointId}, which saved the box's identity. Restore the whole point: Restore-CcieServicesBox -RecoveryPointId {pointId}.", snapshotId);
            }

            if (string.IsNullOrEmpty(identity.RootDeviceName))
            {
                throw new CcieException("RootDeviceNameRequired", CcieErrorCategory.InvalidArgument, $"Snapshot {snapshotId} does not say which device it was. Give the box's root device with -RootDeviceName (the RootDeviceName of the box's AMI, e.g. /dev/xvda or /dev/sda1).", snapshotId);
            }

            if (string.IsNullOrEmpty(identity.Architecture))
            {
                assumptions.Add($"Snapshot {snapshotId} does not record the box's architecture: assuming x86_64 (give -Architecture arm64 for a Graviton box).");
            }

            if (identity.EnaSupport is null)
            {
                assumptions.Add("ENA support assumed (current instance types need it); give -EnaSupport:$false for an older type.");
            }

            string volumeType = "gp2";
            return new RecoveryPoint
            {
                RecoveryPointId = snapshotId,
                Region = region,
                Created = s.StartTime?.ToUniversalTime() ?? DateTime.MinValue,
                State = s.State?.Value ?? string.Empty,
                IsComplete = s.State?.Value == "completed",
                Origin = "Seed",
                Description = s.Description,
                Snapshots = new[]
                {
                    new RecoveryPointSnapshot
                    {
                        SnapshotId = snapshotId,
                        VolumeId = s.VolumeId,
                        DeviceName = identity.RootDeviceName,
                        IsRootDevice = true,
                        SizeGiB = s.VolumeSize ?? 0,
                        VolumeType = volumeType,
                        Encrypted = s.Encrypted ?? false,
                        KmsKeyId = s.KmsKeyId,
                        State = s.State?.Value ?? string.Empty,
                        StartTime = s.StartTime?.ToUniversalTime() ?? DateTime.MinValue,
                    },
                },
                Identity = new RecoveryIdentity
                {
                    Name = identity.Name,
                    PrivateIpAddress = identity.PrivateIpAddress,
                    SubnetId = identity.SubnetId,
                    SecurityGroupIds = identity.SecurityGroupIds,
                    InstanceType = identity.InstanceType,
                    KeyName = identity.KeyName,
                    IamInstanceProfileArn = identity.IamInstanceProfile,
                    RootDeviceName = identity.RootDeviceName,
                    Architecture = identity.Architecture ?? "x86_64",
                    EnaSupport = identity.EnaSupport ?? true,
                    VirtualizationType = identity.VirtualizationType ?? "hvm",
                    VolumeCount = 1,
                },
            };
        }
    }
}
