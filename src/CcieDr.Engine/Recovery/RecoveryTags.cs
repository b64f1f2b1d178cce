using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Security.Cryptography;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;

namespace CcieDr.Engine.Recovery
{
    /// <summary>
    /// The tag schema of a recovery point: every snapshot of the point carries the point id and the box's
    /// recovery identity, so a restore needs nothing but the snapshots. This is a contract read by the restore,
    /// failover and drill code: add keys, never rename them.
    /// </summary>
    public static class RecoveryTags
    {
        public const string Prefix = "ccie:";

        // ---- the point ----
        public const string RecoveryPoint = "ccie:recovery-point";
        public const string Label = "ccie:label";
        public const string CreatedBy = "ccie:created-by";
        public const string VolumeCount = "ccie:volume-count";

        /// <summary>
        /// When the point was taken, to the 100 ns (round-trip "o" form, UTC): orders points taken within the
        /// same second, which the id (to the second) and EC2's start time cannot. Copies keep it.
        /// </summary>
        public const string CreatedAt = "ccie:created-at";

        /// <summary>
        /// The New-/Copy-CcieSnapshot run that created the snapshot (random per run, set at creation): a run deletes
        /// only duplicates carrying its own run id, never another run's snapshots. Copies get the copying run's.
        /// </summary>
        public const string RunId = "ccie:run-id";

        // ---- the box (same on every snapshot of the point) ----
        public const string SourceInstanceId = "ccie:source-instance-id";
        public const string BoxName = "ccie:box-name";
        public const string PrivateIp = "ccie:private-ip";
        public const string SecondaryIps = "ccie:secondary-ips";
        public const string SubnetId = "ccie:subnet-id";
        public const string VpcId = "ccie:vpc-id";
        public const string AvailabilityZone = "ccie:availability-zone";
        public const string SecurityGroupIds = "ccie:security-group-ids";
        public const string InstanceType = "ccie:instance-type";
        public const string KeyName = "ccie:key-name";
        public const string IamInstanceProfile = "ccie:iam-instance-profile";
        public const string ImageId = "ccie:image-id";
        public const string RootDeviceName = "ccie:root-device-name";
        public const string Architecture = "ccie:architecture";
        public const string EnaSupport = "ccie:ena-support";
        public const string VirtualizationType = "ccie:virtualization-type";

        // ---- this volume ----
        public const string DeviceName = "ccie:device-name";
        public const string VolumeType = "ccie:volume-type";
        public const string VolumeSize = "ccie:volume-size";
        public const string Iops = "ccie:iops";
        public const string Throughput = "ccie:throughput";
        public const string Encrypted = "ccie:encrypted";
        public const string KmsKeyId = "ccie:kms-key-id";

        // ---- the last recovery drill of the point (Test-CcieRecovery), on every snapshot of it ----
        public const string DrillAt = "ccie:drill-at";
        public const string DrillVerdict = "ccie:drill-verdict";
        public const string DrillRtoSeconds = "ccie:drill-rto-seconds";
        public const string DrillId = "ccie:drill-id";

        // ---- copies (Copy-CcieSnapshot) ----
        public const string SourceRegion = "ccie:source-region";
        public const string SourceSnapshotId = "ccie:source-snapshot-id";

        public const string Name = "Name";

        /// <summary>The seed script's description prefix; the seed's filter Name=description,Values=CircleCI* finds it.</summary>
        public const string DescriptionPrefix = "CircleCI Services box Backup taken at ";

        /// <summary>The describe-snapshots filter value the seed's runbook uses (finds CcieDr's snapshots too).</summary>
        public const string SeedRunbookFilter = "CircleCI*";

        /// <summary>
        /// Snapshots made by the seed's backup script: its description, no ccie tags. Narrower than the runbook's
        /// CircleCI* so that AMI base snapshots ("CircleCI Services base root") are not taken for backups.
        /// </summary>
        public const string SeedDescriptionFilter = "CircleCI Services box Backup*";

        internal const string SeedDescriptionStart = "CircleCI Services box Backup";

        private static readonly char[] Comma = { ',' };

        private const string IdTimeFormat = "yyyyMMdd'T'HHmmss'Z'";

        /// <summary>Keys that are the same on every snapshot of a point (written by CreateSnapshots' TagSpecifications).</summary>
        public static IReadOnlyList<string> PointKeys { get; } = new[]
        {
            RecoveryPoint, SourceInstanceId, BoxName, PrivateIp, SecondaryIps, SubnetId, VpcId, AvailabilityZone,
            SecurityGroupIds, InstanceType, KeyName, IamInstanceProfile, ImageId, RootDeviceName, Architecture,
            EnaSupport, VirtualizationType, VolumeCount, CreatedBy, CreatedAt,
        };

        /// <summary>Keys that differ per volume (written per snapshot after creation).</summary>
        public static IReadOnlyList<string> VolumeKeys { get; } = new[]
        {
            DeviceName, VolumeType, VolumeSize, Iops, Throughput, Encrypted, KmsKeyId,
        };

        /// <summary>"CcieDr 0.1.0": the value of ccie:created-by.</summary>
        public static string CreatedByValue
        {
            get
            {
                Version? v = typeof(RecoveryTags).Assembly.GetName().Version;
                return "CcieDr " + (v is null ? "0.0.0" : v.ToString(3));
            }
        }

        /// <summary>A new recovery-point id: rp-&lt;yyyyMMddTHHmmssZ&gt;-&lt;8 hex&gt;.</summary>
        public static string NewRecoveryPointId(DateTime createdUtc)
        {
            var bytes = new byte[4];
            using (var rng = RandomNumberGenerator.Create())
            {
                rng.GetBytes(bytes);
            }

            string hex = string.Concat(bytes.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
            return "rp-" + ToUtc(createdUtc).ToString(IdTimeFormat, CultureInfo.InvariantCulture) + "-" + hex;
        }

        /// <summary>True for a well-formed recovery-point id; <paramref name="createdUtc"/> is the time it encodes.</summary>
        public static bool TryParseRecoveryPointId(string? id, out DateTime createdUtc)
        {
            createdUtc = default;
            if (id is null || id.Length != 3 + 16 + 1 + 8 || !id.StartsWith("rp-", StringComparison.Ordinal) || id[19] != '-')
            {
                return false;
            }

            string hex = id.Substring(20);
            if (!hex.All(c => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            {
                return false;
            }

            if (!DateTime.TryParseExact(id.Substring(3, 16), IdTimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime t))
            {
                return false;
            }

            createdUtc = DateTime.SpecifyKind(t, DateTimeKind.Utc);
            return true;
        }

        /// <summary>The value of ccie:created-at: UTC, to the 100 ns, e.g. 2026-11-28T14:00:00.1234567Z.</summary>
        public static string FormatCreatedAt(DateTime createdUtc)
            => ToUtc(createdUtc).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

        /// <summary>Reads ccie:created-at; null when absent or malformed (points taken before the tag existed).</summary>
        public static DateTime? ParseCreatedAt(string? value)
        {
            if (string.IsNullOrEmpty(value)
                || !DateTime.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime t))
            {
                return null;
            }

            return DateTime.SpecifyKind(t, DateTimeKind.Utc);
        }

        /// <summary>The snapshot description, in the seed's form.</summary>
        public static string Description(DateTime createdUtc)
            => DescriptionPrefix + ToUtc(createdUtc).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

        /// <summary>Tags common to every snapshot of the point (the point id and the box's identity).</summary>
        public static IDictionary<string, string> ForPoint(ServicesBox box, string recoveryPointId, string? label, DateTime? createdUtc = null)
        {
            if (box is null)
            {
                throw new ArgumentNullException(nameof(box));
            }

            var tags = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [RecoveryPoint] = recoveryPointId,
                [SourceInstanceId] = box.InstanceId,
                [BoxName] = box.Name ?? string.Empty,
                [PrivateIp] = box.PrivateIpAddress ?? string.Empty,
                [SecondaryIps] = string.Join(",", box.SecondaryPrivateIpAddresses),
                [SubnetId] = box.SubnetId ?? string.Empty,
                [VpcId] = box.VpcId ?? string.Empty,
                [AvailabilityZone] = box.AvailabilityZone ?? string.Empty,
                [SecurityGroupIds] = string.Join(",", box.SecurityGroupIds),
                [InstanceType] = box.InstanceType ?? string.Empty,
                [KeyName] = box.KeyName ?? string.Empty,
                [IamInstanceProfile] = box.IamInstanceProfileArn ?? string.Empty,
                [ImageId] = box.ImageId ?? string.Empty,
                [RootDeviceName] = box.RootDeviceName ?? string.Empty,
                [Architecture] = box.Architecture ?? string.Empty,
                [EnaSupport] = box.EnaSupport ? "true" : "false",
                [VirtualizationType] = box.VirtualizationType ?? string.Empty,
                [VolumeCount] = box.Volumes.Count.ToString(CultureInfo.InvariantCulture),
                [CreatedBy] = CreatedByValue,
            };
            if (!string.IsNullOrEmpty(label))
            {
                tags[Label] = label!;
            }

            if (createdUtc is { } created)
            {
                tags[CreatedAt] = FormatCreatedAt(created);
            }

            return tags;
        }

        /// <summary>Tags of one volume's snapshot, including its Name (&lt;box name&gt; &lt;device&gt; &lt;rp id&gt;).</summary>
        public static IDictionary<string, string> ForVolume(ServicesBox box, ServicesBoxVolume volume, string recoveryPointId)
        {
            if (box is null)
            {
                throw new ArgumentNullException(nameof(box));
            }

            if (volume is null)
            {
                throw new ArgumentNullException(nameof(volume));
            }

            return new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [DeviceName] = volume.DeviceName,
                [VolumeType] = volume.VolumeType ?? string.Empty,
                [VolumeSize] = volume.SizeGiB.ToString(CultureInfo.InvariantCulture),
                [Iops] = volume.Iops?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
                [Throughput] = volume.Throughput?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
                [Encrypted] = volume.Encrypted ? "true" : "false",
                [KmsKeyId] = volume.KmsKeyId ?? string.Empty,
                [Name] = SnapshotName(box.Name, volume.DeviceName, recoveryPointId),
            };
        }

        /// <summary>Every tag of one volume's snapshot: <see cref="ForPoint"/> plus <see cref="ForVolume"/>.</summary>
        public static IDictionary<string, string> ForSnapshot(ServicesBox box, ServicesBoxVolume volume, string recoveryPointId, string? label, DateTime? createdUtc = null)
        {
            IDictionary<string, string> tags = ForPoint(box, recoveryPointId, label, createdUtc);
            foreach (KeyValuePair<string, string> t in ForVolume(box, volume, recoveryPointId))
            {
                tags[t.Key] = t.Value;
            }

            return tags;
        }

        public static string SnapshotName(string? boxName, string? deviceName, string recoveryPointId)
            => string.Join(" ", new[] { boxName, deviceName, recoveryPointId }.Where(s => !string.IsNullOrEmpty(s)));

        public static List<Tag> ToTagList(IEnumerable<KeyValuePair<string, string>> tags)
            => tags.Select(t => new Tag { Key = t.Key, Value = t.Value }).ToList();

        /// <summary>True when the snapshot belongs to a CcieDr recovery point.</summary>
        public static bool IsRecoveryPointSnapshot(IReadOnlyDictionary<string, string> tags)
            => tags.TryGetValue(RecoveryPoint, out string? id) && !string.IsNullOrEmpty(id);

        /// <summary>Reads the box's recovery identity back from a snapshot's tags.</summary>
        public static RecoveryIdentity ReadIdentity(IReadOnlyDictionary<string, string> tags)
        {
            if (tags is null)
            {
                throw new ArgumentNullException(nameof(tags));
            }

            return new RecoveryIdentity
            {
                SourceInstanceId = Get(tags, SourceInstanceId),
                Name = Get(tags, BoxName),
                PrivateIpAddress = Get(tags, PrivateIp),
                SecondaryPrivateIpAddresses = List(tags, SecondaryIps),
                SubnetId = Get(tags, SubnetId),
                VpcId = Get(tags, VpcId),
                AvailabilityZone = Get(tags, AvailabilityZone),
                SecurityGroupIds = List(tags, SecurityGroupIds),
                InstanceType = Get(tags, InstanceType),
                KeyName = Get(tags, KeyName),
                IamInstanceProfileArn = Get(tags, IamInstanceProfile),
                ImageId = Get(tags, ImageId),
                RootDeviceName = Get(tags, RootDeviceName),
                Architecture = Get(tags, Architecture),
                EnaSupport = Bool(tags, EnaSupport),
                VirtualizationType = Get(tags, VirtualizationType),
                VolumeCount = Int(tags, VolumeCount),
            };
        }

        /// <summary>
        /// Reads one volume's snapshot: the snapshot's own attributes (state, progress, volume, size, encryption)
        /// win over tags, which fill in what EC2 does not keep (device name, volume type, IOPS, throughput).
        /// </summary>
        public static RecoveryPointSnapshot ReadSnapshot(Snapshot snapshot)
        {
            if (snapshot is null)
            {
                throw new ArgumentNullException(nameof(snapshot));
            }

            IReadOnlyDictionary<string, string> tags = snapshot.Tags.ToDictionary();
            string? device = Get(tags, DeviceName);
            string? root = Get(tags, RootDeviceName);
            return new RecoveryPointSnapshot
            {
                SnapshotId = snapshot.SnapshotId ?? string.Empty,
                VolumeId = string.IsNullOrEmpty(snapshot.VolumeId) || snapshot.VolumeId == "vol-ffffffff" ? null : snapshot.VolumeId,
                DeviceName = device,
                IsRootDevice = device is not null && string.Equals(device, root, StringComparison.Ordinal),
                SizeGiB = snapshot.VolumeSize ?? Int(tags, VolumeSize) ?? 0,
                VolumeType = Get(tags, VolumeType),
                Iops = Int(tags, Iops),
                Throughput = Int(tags, Throughput),
                Encrypted = snapshot.Encrypted ?? Bool(tags, Encrypted) ?? false,
                KmsKeyId = string.IsNullOrEmpty(snapshot.KmsKeyId) ? Get(tags, KmsKeyId) : snapshot.KmsKeyId,
                State = snapshot.State?.Value ?? "unknown",
                Progress = ParseProgress(snapshot.Progress),
                StartTime = snapshot.StartTime is { } start ? ToUtc(start) : default,
                StateMessage = string.IsNullOrEmpty(snapshot.StateMessage) ? null : snapshot.StateMessage,
                SourceSnapshotId = Get(tags, SourceSnapshotId),
                SourceRegion = Get(tags, SourceRegion),
            };
        }

        /// <summary>"45%" → 45; empty → 0.</summary>
        public static int ParseProgress(string? progress)
        {
            if (string.IsNullOrEmpty(progress))
            {
                return 0;
            }

            string digits = progress!.Trim().TrimEnd('%');
            return int.TryParse(digits, NumberStyles.Integer, CultureInfo.InvariantCulture, out int p) ? Math.Max(0, Math.Min(100, p)) : 0;
        }

        internal static string? Get(IReadOnlyDictionary<string, string> tags, string key)
            => tags.TryGetValue(key, out string? v) && !string.IsNullOrEmpty(v) ? v : null;

        private static List<string> List(IReadOnlyDictionary<string, string> tags, string key)
            => (Get(tags, key) ?? string.Empty).Split(Comma, StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()).Where(s => s.Length > 0).ToList();

        private static int? Int(IReadOnlyDictionary<string, string> tags, string key)
            => int.TryParse(Get(tags, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : null;

        private static bool? Bool(IReadOnlyDictionary<string, string> tags, string key)
            => Get(tags, key) is { } v && bool.TryParse(v, out bool b) ? b : null;

        private static DateTime ToUtc(DateTime t) => t.Kind switch
        {
            DateTimeKind.Utc => t,
            DateTimeKind.Local => t.ToUniversalTime(),
            _ => DateTime.SpecifyKind(t, DateTimeKind.Utc),
        };
    }
}
