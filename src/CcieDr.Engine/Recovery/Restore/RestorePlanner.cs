using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.KeyManagementService;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>
    /// Turns a recovery point into a restore plan: resolves the box's identity (saved tags plus overrides),
    /// runs the read-only pre-flight checks, finds what an earlier run of the same restore already created,
    /// and lists the AWS calls the executor will make. Changes nothing.
    /// </summary>
    public sealed partial class RestorePlanner
    {
        private static readonly string[] LiveStates = { "pending", "running", "stopping", "stopped" };
        private readonly IAmazonEC2 _ec2;
        private readonly string _region;
        private readonly IOperationReporter _reporter;
        private readonly IAmazonKeyManagementService? _kms;

        public RestorePlanner(IAmazonEC2 ec2, string region, IOperationReporter? reporter = null, IAmazonKeyManagementService? kms = null)
        {
            _kms = kms;
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
            _reporter = reporter ?? NullReporter.Instance;
        }

        /// <summary>Resolves, pre-flights and plans. Blockers are in <see cref="RestorePlan.Findings"/>, not thrown.</summary>
        public async Task<RestorePlan> PlanAsync(RestoreRequest request, CancellationToken ct, Timeline? timeline = null)
        {
            if (request is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            RestoreTarget target = Resolve(request, _region);
            var plan = new RestorePlan(request, target, timeline ?? new Timeline());
            foreach (string assumption in request.Assumptions)
            {
                plan.Warnings.Add(assumption);
            }

            await plan.Timeline.RunAsync("preflight", target.RecoveryPointId, async entry =>
            {
                await PreflightAsync(plan, ct).ConfigureAwait(false);
                int blockers = plan.Blockers.Count();
                entry.Detail = blockers == 0
                    ? $"{plan.Findings.Count} checks passed" + (plan.ExistingInstance is null && plan.ExistingImage is null ? string.Empty : " (resuming an earlier run)")
                    : $"{blockers} blocker(s): " + string.Join(" | ", plan.Blockers.Select(b => b.Message));
                if (blockers > 0)
                {
                    plan.Timeline.Complete(entry, "Failed");
                }
            }).ConfigureAwait(false);

            plan.Operation = BuildOperation(plan);
            return plan;
        }

        // ------------------------------------------------------------------ resolve

        /// <summary>The launch settings from the point's identity and the overrides (no AWS calls).</summary>
        internal static RestoreTarget Resolve(RestoreRequest request, string region)
        {
            RecoveryPoint point = request.RecoveryPoint ?? throw new ArgumentException("A recovery point is required.", nameof(request));
            RecoveryIdentity id = point.Identity ?? new RecoveryIdentity();
            string pointId = point.RecoveryPointId;
            if (string.IsNullOrEmpty(pointId))
            {
                throw new CcieException("RecoveryPointIdMissing", CcieErrorCategory.InvalidArgument, "The recovery point has no id. Pass a point from Get-CcieSnapshot, or -RecoveryPointId.", point);
            }

            if (!string.IsNullOrEmpty(point.Region) && !string.IsNullOrEmpty(region) && !string.Equals(point.Region, region, StringComparison.Ordinal))
            {
                throw new CcieException("RecoveryPointInOtherRegion", CcieErrorCategory.InvalidArgument, $"Recovery point {pointId} is in {point.Region}, but the restore runs in {region}. Restore it in its region (-Region {point.Region}), or copy it first: Get-CcieSnapshot -RecoveryPointId {pointId} -Region {point.Region} | Copy-CcieSnapshot -DestinationRegion {region} -Wait.", pointId);
            }

            if (point.Snapshots.Count == 0)
            {
                throw new CcieException("RecoveryPointEmpty", CcieErrorCategory.InvalidData, $"Recovery point {pointId} has no snapshots, so there is nothing to restore. Choose another point (Get-CcieSnapshot).", pointId);
            }

            RecoveryPointSnapshot? rootSnapshot = point.Snapshots.FirstOrDefault(s => s.IsRootDevice);
            string? rootDevice = id.RootDeviceName ?? rootSnapshot?.DeviceName;
            if (string.IsNullOrEmpty(rootDevice))
            {
                throw new CcieException("RootDeviceNameUnknown", CcieErrorCategory.InvalidData, $"Recovery point {pointId} does not say which device is the root volume (tag ccie:root-device-name). Give it with -RootDeviceName (for example the source AMI's root device, /dev/xvda or /dev/sda1).", pointId);
            }

            var devices = new List<RestoreDevice>();
            foreach (RecoveryPointSnapshot s in point.Snapshots)
            {
                string? device = s.DeviceName;
                if (string.IsNullOrEmpty(device) && (s.IsRootDevice || point.Snapshots.Count == 1))
                {
                    device = rootDevice;
                }

                if (string.IsNullOrEmpty(device))
                {
                    throw new CcieException("SnapshotDeviceNameUnknown", CcieErrorCategory.InvalidData, $"Snapshot {s.SnapshotId} of recovery point {pointId} has no device name (tag ccie:device-name), so its place on the box is unknown. Tag it, or restore it by hand.", s.SnapshotId);
                }

                bool isRoot = string.Equals(device, rootDevice, StringComparison.Ordinal);
                devices.Add(new RestoreDevice
                {
                    DeviceName = device!,
                    SnapshotId = s.SnapshotId,
                    SizeGiB = s.SizeGiB,
                    VolumeType = string.IsNullOrEmpty(s.VolumeType) ? null : s.VolumeType,
                    Iops = s.VolumeType is "io1" or "io2" or "gp3" ? s.Iops : null,
                    Throughput = s.VolumeType == "gp3" ? s.Throughput : null,
                    Encrypted = s.Encrypted,
                    KmsKeyId = s.KmsKeyId,
                    IsRootDevice = isRoot,
                    DeleteOnTermination = isRoot,
                });
            }

            string? duplicate = devices.GroupBy(d => d.DeviceName, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).FirstOrDefault();
            if (duplicate is not null)
            {
                throw new CcieException("DuplicateDeviceName", CcieErrorCategory.InvalidData, $"Recovery point {pointId} has more than one snapshot for device {duplicate}; it is not a consistent point. Choose another point.", pointId);
            }

            if (!devices.Any(d => d.IsRootDevice))
            {
                throw new CcieException("RootSnapshotMissing", CcieErrorCategory.InvalidData, $"Recovery point {pointId} has no snapshot of its root device {rootDevice}; an AMI needs one. Choose a complete point.", pointId);
            }

            string? subnet = request.SubnetId ?? id.SubnetId;
            if (string.IsNullOrEmpty(subnet))
            {
                throw new CcieException("SubnetUnknown", CcieErrorCategory.InvalidArgument, $"Recovery point {pointId} does not carry the box's subnet. Give it with -SubnetId.", pointId);
            }

            IReadOnlyList<string> groups = request.SecurityGroupIds is { Count: > 0 } g ? g.Distinct(StringComparer.Ordinal).ToList() : id.SecurityGroupIds;
            if (groups.Count == 0)
            {
                throw new CcieException("SecurityGroupsUnknown", CcieErrorCategory.InvalidArgument, $"Recovery point {pointId} does not carry the box's security groups. Give them with -SecurityGroupId.", pointId);
            }

            string? type = request.InstanceType ?? id.InstanceType;
            if (string.IsNullOrEmpty(type))
            {
                throw new CcieException("InstanceTypeUnknown", CcieErrorCategory.InvalidArgument, $"Recovery point {pointId} does not carry the box's instance type. Give it with -InstanceType.", pointId);
            }

            if (request.PrivateIpAddress is not null && !Ipv4.TryParse(request.PrivateIpAddress, out _))
            {
                throw new CcieException("InvalidPrivateIpAddress", CcieErrorCategory.InvalidArgument, $"-PrivateIpAddress '{request.PrivateIpAddress}' is not an IPv4 address.", request.PrivateIpAddress);
            }

            string name = request.Name ?? id.Name ?? ServicesBoxQuery.DefaultName;
            if (request.DrillId is not null)
            {
                // A drill box must never be found as the Services box (Name=circleci_services).
                name = request.Name ?? (id.Name ?? ServicesBoxQuery.DefaultName) + "-drill-" + request.DrillId;
            }

            var tags = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["Name"] = name,
                [RestoreNaming.RestoredFromTag] = pointId,
                [RestoreNaming.CreatedByTag] = RestoreNaming.CreatedByValue,
            };
            if (request.DrillId is not null)
            {
                tags[RestoreNaming.DrillTag] = request.DrillId;
            }
            if (!string.IsNullOrEmpty(id.SourceInstanceId))
            {
                tags[RestoreNaming.RestoreOfTag] = id.SourceInstanceId!;
            }

            return new RestoreTarget
            {
                Region = string.IsNullOrEmpty(region) ? point.Region : region,
                RecoveryPointId = pointId,
                DrillId = request.DrillId,
                SourceInstanceId = id.SourceInstanceId,
                ImageName = request.DrillId is null ? RestoreNaming.ImageName(pointId) : RestoreNaming.DrillImageName(request.DrillId, pointId),
                ImageDescription = $"CcieDr restore of {pointId}" + (string.IsNullOrEmpty(id.SourceInstanceId) ? string.Empty : $" (Services box {id.SourceInstanceId})"),
                RootDeviceName = rootDevice!,
                Architecture = string.IsNullOrEmpty(id.Architecture) ? "x86_64" : id.Architecture!,
                EnaSupport = id.EnaSupport ?? true,
                VirtualizationType = string.IsNullOrEmpty(id.VirtualizationType) ? "hvm" : id.VirtualizationType!,
                Devices = devices.OrderBy(d => d.IsRootDevice ? 0 : 1).ThenBy(d => d.DeviceName, StringComparer.Ordinal).ToList(),
                SubnetId = subnet!,
                VpcId = id.VpcId,
                AvailabilityZone = id.AvailabilityZone,
                PrivateIpAddress = request.PrivateIpAddress ?? id.PrivateIpAddress,
                SavedPrivateIpAddress = id.PrivateIpAddress,
                SecondaryPrivateIpAddresses = request.PrivateIpAddress is null && request.SubnetId is null && request.DrillId is null ? id.SecondaryPrivateIpAddresses : Array.Empty<string>(),
                SecurityGroupIds = groups,
                InstanceType = type!,
                KeyName = request.KeyName ?? id.KeyName,
                IamInstanceProfile = request.IamInstanceProfile ?? id.IamInstanceProfileArn,
                Name = name,
                Tags = tags,
            };
        }

        // ------------------------------------------------------------------ pre-flight

        private async Task PreflightAsync(RestorePlan plan, CancellationToken ct)
        {
            RestoreTarget t = plan.Target;
            RestoreRequest request = plan.Request;
            RecoveryPoint point = request.RecoveryPoint;
            using var progress = new ProgressActivity(_reporter, "Restore-CcieServicesBox: pre-flight", $"Checking recovery point {t.RecoveryPointId}");

            // 1. The snapshots exist and are complete.
            progress.Update("Checking the snapshots", 10);
            await CheckSnapshotsAsync(plan, point, ct).ConfigureAwait(false);

            // 2. The subnet exists; where it is.
            progress.Update($"Checking subnet {t.SubnetId}", 25);
            Subnet? subnet = await DescribeSubnetAsync(t.SubnetId, ct).ConfigureAwait(false);
            if (subnet is null)
            {
                plan.Findings.Add(new PreflightFinding("subnet", PreflightStatus.Blocker, $"Subnet {t.SubnetId} does not exist in {_region}. Restore into an existing subnet of the VPC with -SubnetId (builders must then be re-associated).", "SubnetNotFound", t.SubnetId, CcieErrorCategory.ObjectNotFound));
                return;
            }

            bool subnetChanged = point.Identity.SubnetId is not null && !string.Equals(point.Identity.SubnetId, t.SubnetId, StringComparison.Ordinal);
            t.VpcId = subnet.VpcId;
            t.AvailabilityZone = subnet.AvailabilityZone;
            plan.Findings.Add(new PreflightFinding("subnet", PreflightStatus.Ok, $"subnet {t.SubnetId} ({subnet.CidrBlock}) in {subnet.AvailabilityZone}, {subnet.VpcId}"));
            if (point.Identity.VpcId is not null && !string.Equals(point.Identity.VpcId, subnet.VpcId, StringComparison.Ordinal))
            {
                plan.Warnings.Add($"Subnet {t.SubnetId} is in {subnet.VpcId}, not in the box's VPC {point.Identity.VpcId}; the saved security groups will not fit unless -SecurityGroupId names groups of {subnet.VpcId}.");
            }

            // 3. The AZ is usable.
            progress.Update($"Checking availability zone {subnet.AvailabilityZone}", 35);
            await CheckZoneAsync(plan, subnet, ct).ConfigureAwait(false);

            // 4. Which private IP.
            DecideAddress(plan, subnet, subnetChanged);
            t.BaseClientToken = RestoreNaming.ClientToken(t.TokenKey, t.SubnetId, t.PrivateIpAddress);

            // 5. An earlier run of this restore.
            progress.Update("Looking for an earlier run of this restore", 50);
            await FindEarlierRunAsync(plan, ct).ConfigureAwait(false);

            // 6. The IP is free (or held by the box to replace, or by the earlier run's instance).
            if (t.PrivateIpAddress is not null && plan.ExistingInstance is null)
            {
                progress.Update($"Checking that {t.PrivateIpAddress} is free in {t.SubnetId}", 60);
                await CheckAddressesFreeAsync(plan, ct).ConfigureAwait(false);
            }

            // 7. Security groups, key pair.
            progress.Update("Checking security groups and key pair", 75);
            await CheckGroupsAsync(plan, subnet, ct).ConfigureAwait(false);
            await CheckKeyPairAsync(plan, ct).ConfigureAwait(false);

            // 8. What cannot be checked from EC2.
            CheckProfileAndKeys(plan);
            await new KmsPreflight(_kms, _region).CheckAsync(plan, ct).ConfigureAwait(false);
            progress.Update("Pre-flight done", 100);
        }
    }

    /// <summary>One address found on a network interface.</summary>
    internal sealed class IpHolding
    {
        public IpHolding(string ipAddress, string networkInterfaceId, string? instanceId, string? description, string? interfaceType)
        {
            IpAddress = ipAddress;
            NetworkInterfaceId = networkInterfaceId;
            InstanceId = instanceId;
            Description = string.IsNullOrEmpty(description) ? null : description;
            InterfaceType = interfaceType;
        }

        public string IpAddress { get; }

        public string NetworkInterfaceId { get; }

        public string? InstanceId { get; }

        public string? Description { get; }

        public string? InterfaceType { get; }
    }

    /// <summary>Step names: the plan's actions and the timeline's entries.</summary>
    public static class RestoreSteps
    {
        public const string Preflight = "preflight";
        public const string TerminateOld = "ec2:TerminateInstances";
        public const string WaitIpReleased = "wait:ip-released";
        public const string DeregisterFailedImage = "ec2:DeregisterImage (failed)";
        public const string RegisterImage = "ec2:RegisterImage";
        public const string WaitImageAvailable = "wait:image-available";
        public const string RunInstances = "ec2:RunInstances";
        public const string WaitRunning = "wait:instance-running";
        public const string AssignSecondaryIps = "ec2:AssignPrivateIpAddresses";
        public const string WaitStatusOk = "wait:instance-status-ok";
        public const string DeregisterImage = "ec2:DeregisterImage";
    }
}
