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
    public sealed class RestorePlanner
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
            var tags = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["Name"] = name,
                [RestoreNaming.RestoredFromTag] = pointId,
                [RestoreNaming.CreatedByTag] = RestoreNaming.CreatedByValue,
            };
            if (!string.IsNullOrEmpty(id.SourceInstanceId))
            {
                tags[RestoreNaming.RestoreOfTag] = id.SourceInstanceId!;
            }

            return new RestoreTarget
            {
                Region = string.IsNullOrEmpty(region) ? point.Region : region,
                RecoveryPointId = pointId,
                SourceInstanceId = id.SourceInstanceId,
                ImageName = RestoreNaming.ImageName(pointId),
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
                SecondaryPrivateIpAddresses = request.PrivateIpAddress is null && request.SubnetId is null ? id.SecondaryPrivateIpAddresses : Array.Empty<string>(),
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
            t.BaseClientToken = RestoreNaming.ClientToken(t.RecoveryPointId, t.SubnetId, t.PrivateIpAddress);

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

        private async Task CheckSnapshotsAsync(RestorePlan plan, RecoveryPoint point, CancellationToken ct)
        {
            RestoreTarget t = plan.Target;
            int? expected = point.Identity.VolumeCount;
            if (expected is > 0 && point.Snapshots.Count < expected.Value)
            {
                plan.Findings.Add(new PreflightFinding("recovery-point", PreflightStatus.Blocker, $"Recovery point {t.RecoveryPointId} is incomplete: {point.Snapshots.Count} of the box's {expected} volumes have a snapshot. Restore a complete point (Get-CcieSnapshot shows IsComplete).", "RecoveryPointIncomplete", t.RecoveryPointId, CcieErrorCategory.InvalidData));
            }

            List<string> ids = t.Devices.Select(d => d.SnapshotId).ToList();
            IReadOnlyList<Snapshot> found = await AwsCall.RunAsync("ec2:DescribeSnapshots", string.Join(",", ids), token => _ec2.DescribeAllSnapshotsAsync(new DescribeSnapshotsRequest { Filters = new List<Filter> { Ec2Extensions.Filter("snapshot-id", ids.ToArray()) } }, token), ct).ConfigureAwait(false);

            foreach (RestoreDevice d in t.Devices)
            {
                Snapshot? s = found.FirstOrDefault(x => x.SnapshotId == d.SnapshotId);
                if (s is null)
                {
                    plan.Findings.Add(new PreflightFinding("snapshot", PreflightStatus.Blocker, $"Snapshot {d.SnapshotId} ({d.DeviceName}) of recovery point {t.RecoveryPointId} no longer exists in {_region}. Choose another point (Get-CcieSnapshot).", "SnapshotNotFound", d.SnapshotId, CcieErrorCategory.ObjectNotFound));
                    continue;
                }

                string state = s.State?.Value ?? "unknown";
                if (state != "completed")
                {
                    string advice = state == "pending" ? $" ({s.Progress ?? "0%"} done). Wait for it with Wait-CcieSnapshot -RecoveryPointId {t.RecoveryPointId}, then rerun." : ". Choose another point.";
                    plan.Findings.Add(new PreflightFinding("snapshot", PreflightStatus.Blocker, $"Snapshot {d.SnapshotId} ({d.DeviceName}) is {state}, not completed{advice}", state == "pending" ? "SnapshotNotCompleted" : "SnapshotFailed", d.SnapshotId, state == "pending" ? CcieErrorCategory.ResourceBusy : CcieErrorCategory.InvalidData));
                }

                // The snapshot itself is the truth for size and encryption.
                if (s.VolumeSize is int size && size > d.SizeGiB)
                {
                    d.SizeGiB = size;
                }

                if (s.Encrypted == true)
                {
                    d.Encrypted = true;
                    d.KmsKeyId ??= s.KmsKeyId;
                }
            }

            if (plan.Findings.All(f => f.Status != PreflightStatus.Blocker))
            {
                plan.Findings.Add(new PreflightFinding("snapshot", PreflightStatus.Ok, $"{t.Devices.Count} snapshot(s) completed: " + string.Join(", ", t.Devices.Select(d => $"{d.DeviceName}={d.SnapshotId}"))));
            }
        }

        private async Task<Subnet?> DescribeSubnetAsync(string subnetId, CancellationToken ct)
        {
            DescribeSubnetsResponse response = await AwsCall.RunAsync("ec2:DescribeSubnets", subnetId, token => _ec2.DescribeSubnetsAsync(new DescribeSubnetsRequest { Filters = new List<Filter> { Ec2Extensions.Filter("subnet-id", subnetId) } }, token), ct).ConfigureAwait(false);
            return response.Subnets?.FirstOrDefault(s => s.SubnetId == subnetId);
        }

        private async Task CheckZoneAsync(RestorePlan plan, Subnet subnet, CancellationToken ct)
        {
            DescribeAvailabilityZonesResponse response = await AwsCall.RunAsync("ec2:DescribeAvailabilityZones", subnet.AvailabilityZone, token => _ec2.DescribeAvailabilityZonesAsync(new DescribeAvailabilityZonesRequest(), token), ct).ConfigureAwait(false);
            List<AvailabilityZone> zones = response.AvailabilityZones ?? new List<AvailabilityZone>();

            AvailabilityZone? zone = zones.FirstOrDefault(z => z.ZoneName == subnet.AvailabilityZone);
            string state = zone?.State?.Value ?? "unknown";
            if (state == "available")
            {
                plan.Findings.Add(new PreflightFinding("availability-zone", PreflightStatus.Ok, $"availability zone {subnet.AvailabilityZone} is available"));
                return;
            }

            string message = string.Join("; ", (zone?.Messages ?? new List<AvailabilityZoneMessage>()).Select(m => m.Message).Where(m => !string.IsNullOrEmpty(m)));
            var healthy = new HashSet<string>(zones.Where(z => z.State?.Value == "available").Select(z => z.ZoneName), StringComparer.Ordinal);
            string alternatives = string.Empty;
            try
            {
                IReadOnlyList<Subnet> siblings = await DescribeSubnetsInVpcAsync(subnet.VpcId, ct).ConfigureAwait(false);
                List<string> candidates = siblings.Where(s => s.SubnetId != subnet.SubnetId && healthy.Contains(s.AvailabilityZone)).Select(s => $"{s.SubnetId} ({s.AvailabilityZone})").ToList();
                if (candidates.Count > 0)
                {
                    alternatives = $" Subnets of {subnet.VpcId} in healthy zones: {string.Join(", ", candidates)}.";
                }
            }
            catch (CcieException)
            {
                // Suggestions are a courtesy; the blocker stands without them.
            }

            plan.Findings.Add(new PreflightFinding(
                "availability-zone",
                PreflightStatus.Blocker,
                $"Availability zone {subnet.AvailabilityZone} of subnet {subnet.SubnetId} is {state}{(message.Length == 0 ? string.Empty : " (" + message + ")")}: a box launched there may not come up. Restore into another zone with -SubnetId (the box then gets a new private IP: re-associate the builders).{alternatives}",
                "AvailabilityZoneUnavailable",
                subnet.AvailabilityZone,
                CcieErrorCategory.ResourceUnavailable));
        }

        private async Task<IReadOnlyList<Subnet>> DescribeSubnetsInVpcAsync(string vpcId, CancellationToken ct)
        {
            return await AwsCall.RunAsync("ec2:DescribeSubnets", vpcId, token => _ec2.DescribeAllSubnetsAsync(new DescribeSubnetsRequest { Filters = new List<Filter> { Ec2Extensions.Filter("vpc-id", vpcId) } }, token), ct).ConfigureAwait(false);
        }

        private static void DecideAddress(RestorePlan plan, Subnet subnet, bool subnetChanged)
        {
            RestoreTarget t = plan.Target;
            RestoreRequest request = plan.Request;
            if (request.PrivateIpAddress is not null)
            {
                string? why = Ipv4.WhyNotUsable(request.PrivateIpAddress, subnet.CidrBlock);
                if (why is not null)
                {
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Blocker, $"-PrivateIpAddress {request.PrivateIpAddress} cannot be used in subnet {subnet.SubnetId}: {why}. Choose an address in {subnet.CidrBlock}.", "PrivateIpNotInSubnet", request.PrivateIpAddress, CcieErrorCategory.InvalidArgument));
                }

                t.PrivateIpAddress = request.PrivateIpAddress;
            }
            else if (t.SavedPrivateIpAddress is not null && Ipv4.WhyNotUsable(t.SavedPrivateIpAddress, subnet.CidrBlock) is null)
            {
                t.PrivateIpAddress = t.SavedPrivateIpAddress;
            }
            else if (t.SavedPrivateIpAddress is not null && !subnetChanged)
            {
                plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Blocker, $"The saved private IP {t.SavedPrivateIpAddress} does not fit subnet {subnet.SubnetId} ({subnet.CidrBlock}); the subnet was changed since the point was taken. Give -PrivateIpAddress in {subnet.CidrBlock}, or -SubnetId.", "PrivateIpNotInSubnet", t.SavedPrivateIpAddress, CcieErrorCategory.InvalidData));
                t.PrivateIpAddress = null;
            }
            else
            {
                t.PrivateIpAddress = null; // AWS picks one in the new subnet
            }

            if (t.PrivateIpPreserved)
            {
                plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Ok, $"the box keeps its private IP {t.PrivateIpAddress}: builders need no change"));
                return;
            }

            string now = t.PrivateIpAddress ?? $"an address AWS picks in {subnet.CidrBlock}";
            string was = t.SavedPrivateIpAddress ?? "unknown";
            string move = subnetChanged ? $" It moves to subnet {t.SubnetId} in {subnet.AvailabilityZone}." : string.Empty;
            plan.Warnings.Add($"The restored box gets {now} instead of its saved private IP {was}.{move} Builders find the Services box by its private IP: re-associate them (Set-CcieBuilderConfiguration -ServicesPrivateIp <new IP> -SecretPassphrase ..., then rotate them with Restart-CcieBuilder).");
            if (t.SavedPrivateIpAddress is not null && request.PrivateIpAddress is null && request.SubnetId is not null && t.SecondaryPrivateIpAddresses.Count == 0 && plan.Request.RecoveryPoint.Identity.SecondaryPrivateIpAddresses.Count > 0)
            {
                plan.Warnings.Add("The box's secondary private IPs (" + string.Join(", ", plan.Request.RecoveryPoint.Identity.SecondaryPrivateIpAddresses) + ") are not restored in another subnet.");
            }
        }

        private async Task FindEarlierRunAsync(RestorePlan plan, CancellationToken ct)
        {
            RestoreTarget t = plan.Target;
            IReadOnlyList<Instance> instances = await AwsCall.RunAsync(
                "ec2:DescribeInstances",
                t.RecoveryPointId,
                token => _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest
                {
                    Filters = new List<Filter>
                    {
                        Ec2Extensions.Filter("tag:" + RestoreNaming.RestoredFromTag, t.RecoveryPointId),
                        Ec2Extensions.Filter("instance-state-name", LiveStates),
                    },
                }, token),
                ct).ConfigureAwait(false);

            Instance? earlier = instances
                .Where(i => RestoreNaming.IsGenerationOf(i.ClientToken, t.BaseClientToken)
                    || (i.SubnetId == t.SubnetId && t.PrivateIpAddress is not null && i.PrivateIpAddress == t.PrivateIpAddress))
                .OrderByDescending(i => i.LaunchTime ?? DateTime.MinValue)
                .FirstOrDefault();
            if (earlier is not null)
            {
                string state = earlier.State?.Name?.Value ?? "unknown";
                if (state is "pending" or "running")
                {
                    plan.ExistingInstance = new ExistingResource(earlier.InstanceId, state, earlier.PrivateIpAddress);
                    plan.Findings.Add(new PreflightFinding("earlier-run", PreflightStatus.Ok, $"resuming: instance {earlier.InstanceId} ({state}, {earlier.PrivateIpAddress}) was launched by an earlier run of this restore and is reused"));
                }
                else
                {
                    plan.Findings.Add(new PreflightFinding("earlier-run", PreflightStatus.Blocker, $"Instance {earlier.InstanceId}, launched by an earlier run of this restore, is {state}. Start it (aws ec2 start-instances --instance-ids {earlier.InstanceId}) and rerun to finish the restore, or terminate it and rerun to launch afresh.", "RestoredInstanceStopped", earlier.InstanceId, CcieErrorCategory.InvalidOperation));
                }
            }

            if (plan.ExistingInstance is not null)
            {
                return; // the AMI is not needed any more
            }

            IReadOnlyList<Image> images = await AwsCall.RunAsync(
                "ec2:DescribeImages",
                t.ImageName,
                token => _ec2.DescribeAllImagesAsync(new DescribeImagesRequest
                {
                    Owners = new List<string> { "self" },
                    Filters = new List<Filter> { Ec2Extensions.Filter("name", t.ImageName) },
                }, token),
                ct).ConfigureAwait(false);

            Image? image = images.FirstOrDefault(i => i.Name == t.ImageName);
            if (image is not null)
            {
                string state = image.State?.Value ?? "unknown";
                plan.ExistingImage = new ExistingResource(image.ImageId, state, image.Name);
                if (state is "available" or "pending")
                {
                    plan.Findings.Add(new PreflightFinding("earlier-run", PreflightStatus.Ok, $"resuming: AMI {image.ImageId} ({t.ImageName}, {state}) from an earlier run is reused"));
                }
                else
                {
                    plan.Findings.Add(new PreflightFinding("earlier-run", PreflightStatus.Warning, $"AMI {image.ImageId} ({t.ImageName}) from an earlier run is {state}; it is deregistered and registered again"));
                }
            }
        }

        private async Task CheckAddressesFreeAsync(RestorePlan plan, CancellationToken ct)
        {
            RestoreTarget t = plan.Target;
            var wanted = new List<string> { t.PrivateIpAddress! };
            wanted.AddRange(t.SecondaryPrivateIpAddresses.Where(a => !string.Equals(a, t.PrivateIpAddress, StringComparison.Ordinal)));
            IReadOnlyList<IpHolding> holdings = await FindHoldersAsync(_ec2, t.SubnetId, wanted, ct).ConfigureAwait(false);
            if (holdings.Count == 0)
            {
                plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Ok, $"{string.Join(", ", wanted)} free in {t.SubnetId}"));
                return;
            }

            foreach (IGrouping<string, IpHolding> byEni in holdings.GroupBy(h => h.NetworkInterfaceId))
            {
                IpHolding h = byEni.First();
                string addresses = string.Join(", ", byEni.Select(x => x.IpAddress));
                if (h.InstanceId is null)
                {
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Blocker, $"{addresses} is held by network interface {h.NetworkInterfaceId} ({h.Description ?? h.InterfaceType ?? "no instance attached"}). Delete or release it (aws ec2 delete-network-interface --network-interface-id {h.NetworkInterfaceId}), or restore with -PrivateIpAddress (builders must then be re-associated).", "PrivateIpInUse", h.NetworkInterfaceId, CcieErrorCategory.ResourceExists));
                    continue;
                }

                Instance? holder = await DescribeInstanceAsync(h.InstanceId, ct).ConfigureAwait(false);
                string state = holder?.State?.Name?.Value ?? "unknown";
                IReadOnlyDictionary<string, string> tags = holder?.Tags.ToDictionary() ?? new Dictionary<string, string>();
                tags.TryGetValue("Name", out string? name);
                string who = $"{h.InstanceId} ({state}{(name is null ? string.Empty : ", Name=" + name)})";
                if (state is "shutting-down" or "terminated")
                {
                    plan.InstanceToReplace ??= new IpHolder(addresses, h.NetworkInterfaceId, h.InstanceId, state, name);
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Warning, $"{addresses} is still held by {who}, which is terminating; the restore waits until the address is released"));
                    continue;
                }

                if (state is "pending" or "running"
                    && tags.TryGetValue(RestoreNaming.RestoredFromTag, out string? from) && string.Equals(from, t.RecoveryPointId, StringComparison.Ordinal)
                    && string.Equals(h.IpAddress, t.PrivateIpAddress, StringComparison.Ordinal))
                {
                    // An earlier run of this very restore launched it (its tag query just did not show it yet).
                    plan.ExistingInstance = new ExistingResource(h.InstanceId, state, h.IpAddress);
                    plan.Findings.Add(new PreflightFinding("earlier-run", PreflightStatus.Ok, $"resuming: instance {h.InstanceId} ({state}, {h.IpAddress}) was launched by an earlier run of this restore and is reused"));
                    continue;
                }

                bool isBox = string.Equals(h.InstanceId, t.SourceInstanceId, StringComparison.Ordinal)
                    || string.Equals(name, t.Name, StringComparison.Ordinal)
                    || string.Equals(name, plan.Request.RecoveryPoint.Identity.Name, StringComparison.Ordinal)
                    || tags.ContainsKey(RestoreNaming.RestoredFromTag);
                string role = string.Equals(h.InstanceId, t.SourceInstanceId, StringComparison.Ordinal) ? "the box this point was taken from" : isBox ? "a Services box" : "not a Services box";
                if (!plan.Request.ReplaceExisting)
                {
                    string replace = isBox
                        ? $"If it is broken beyond repair, rerun with -ReplaceExisting: that terminates {h.InstanceId} (its volumes marked DeleteOnTermination go with it; the recovery point's snapshots stay) and waits until {addresses} is free."
                        : $"CcieDr will not terminate it, because it is {role}.";
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Blocker, $"{addresses} is held by instance {who}, {role}. Nothing was changed. {replace} Or restore next to it with -PrivateIpAddress or -SubnetId (builders must then be re-associated).", "PrivateIpInUse", h.InstanceId, CcieErrorCategory.ResourceExists));
                }
                else if (!isBox)
                {
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Blocker, $"{addresses} is held by instance {who}, which is not a Services box (not {t.SourceInstanceId ?? "the source box"}, no Name={t.Name}, no {RestoreNaming.RestoredFromTag} tag); -ReplaceExisting only terminates a Services box. Free the address yourself, or restore with -PrivateIpAddress or -SubnetId.", "PrivateIpHeldByOtherInstance", h.InstanceId, CcieErrorCategory.ResourceExists));
                }
                else
                {
                    plan.InstanceToReplace = new IpHolder(addresses, h.NetworkInterfaceId, h.InstanceId, state, name);
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Warning, $"{addresses} is held by {who}, {role}: -ReplaceExisting terminates it and waits until the address is free"));
                }
            }
        }

        private async Task<Instance?> DescribeInstanceAsync(string instanceId, CancellationToken ct)
        {
            IReadOnlyList<Instance> found = await AwsCall.RunAsync("ec2:DescribeInstances", instanceId, token => _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest { Filters = new List<Filter> { Ec2Extensions.Filter("instance-id", instanceId) } }, token), ct).ConfigureAwait(false);
            return found.Count > 0 ? found[0] : null;
        }

        private async Task CheckGroupsAsync(RestorePlan plan, Subnet subnet, CancellationToken ct)
        {
            RestoreTarget t = plan.Target;
            List<SecurityGroup> groups = (await AwsCall.RunAsync("ec2:DescribeSecurityGroups", string.Join(",", t.SecurityGroupIds), token => _ec2.DescribeAllSecurityGroupsAsync(new DescribeSecurityGroupsRequest { Filters = new List<Filter> { Ec2Extensions.Filter("group-id", t.SecurityGroupIds.ToArray()) } }, token), ct).ConfigureAwait(false)).ToList();

            bool ok = true;
            foreach (string id in t.SecurityGroupIds)
            {
                SecurityGroup? g = groups.FirstOrDefault(x => x.GroupId == id);
                if (g is null)
                {
                    ok = false;
                    plan.Findings.Add(new PreflightFinding("security-group", PreflightStatus.Blocker, $"Security group {id} does not exist in {_region}. Recreate it (ports 80, 443, 4434, 8800 and SSH as before) or give existing groups with -SecurityGroupId.", "SecurityGroupNotFound", id, CcieErrorCategory.ObjectNotFound));
                }
                else if (!string.Equals(g.VpcId, subnet.VpcId, StringComparison.Ordinal))
                {
                    ok = false;
                    plan.Findings.Add(new PreflightFinding("security-group", PreflightStatus.Blocker, $"Security group {id} belongs to {g.VpcId}, but subnet {subnet.SubnetId} is in {subnet.VpcId}. Give groups of {subnet.VpcId} with -SecurityGroupId.", "SecurityGroupWrongVpc", id, CcieErrorCategory.InvalidArgument));
                }
            }

            if (ok)
            {
                plan.Findings.Add(new PreflightFinding("security-group", PreflightStatus.Ok, $"security groups {string.Join(", ", t.SecurityGroupIds.Select(id => id + " (" + groups.First(g => g.GroupId == id).GroupName + ")"))} exist in {subnet.VpcId}"));
            }
        }

        private async Task CheckKeyPairAsync(RestorePlan plan, CancellationToken ct)
        {
            RestoreTarget t = plan.Target;
            if (string.IsNullOrEmpty(t.KeyName))
            {
                plan.Findings.Add(new PreflightFinding("key-pair", PreflightStatus.Ok, "no key pair (the box had none)"));
                return;
            }

            DescribeKeyPairsResponse keyResponse = await AwsCall.RunAsync("ec2:DescribeKeyPairs", t.KeyName, token => _ec2.DescribeKeyPairsAsync(new DescribeKeyPairsRequest { Filters = new List<Filter> { Ec2Extensions.Filter("key-name", t.KeyName!) } }, token), ct).ConfigureAwait(false);
            List<KeyPairInfo> keys = keyResponse.KeyPairs ?? new List<KeyPairInfo>();

            plan.Findings.Add(keys.Any(k => k.KeyName == t.KeyName)
                ? new PreflightFinding("key-pair", PreflightStatus.Ok, $"key pair {t.KeyName} exists")
                : new PreflightFinding("key-pair", PreflightStatus.Blocker, $"Key pair {t.KeyName} does not exist in {_region}. Import it (aws ec2 import-key-pair --key-name {t.KeyName} ...) or give another with -KeyName.", "KeyPairNotFound", t.KeyName, CcieErrorCategory.ObjectNotFound));
        }

        private static void CheckProfileAndKeys(RestorePlan plan)
        {
            RestoreTarget t = plan.Target;
            if (!string.IsNullOrEmpty(t.IamInstanceProfile))
            {
                plan.Findings.Add(new PreflightFinding("iam-instance-profile", PreflightStatus.Unchecked, $"instance profile {t.IamInstanceProfile} not checked (CcieDr does not call IAM); RunInstances rejects it if it is gone"));
            }
        }

        // ------------------------------------------------------------------ shared lookups

        /// <summary>Who holds which of <paramref name="addresses"/> in a subnet (network interfaces, attached or not).</summary>
        internal static async Task<IReadOnlyList<IpHolding>> FindHoldersAsync(IAmazonEC2 ec2, string subnetId, IReadOnlyList<string> addresses, CancellationToken ct)
        {
            var result = new List<IpHolding>();
            var request = new DescribeNetworkInterfacesRequest
            {
                Filters = new List<Filter>
                {
                    Ec2Extensions.Filter("subnet-id", subnetId),
                    Ec2Extensions.Filter("addresses.private-ip-address", addresses.ToArray()),
                },
            };
            IReadOnlyList<NetworkInterface> interfaces = await AwsCall.RunAsync(
                "ec2:DescribeNetworkInterfaces",
                string.Join(",", addresses),
                token => ec2.DescribeAllNetworkInterfacesAsync(request, token),
                ct).ConfigureAwait(false);
            foreach (NetworkInterface n in interfaces)
            {
                foreach (NetworkInterfacePrivateIpAddress a in n.PrivateIpAddresses ?? new List<NetworkInterfacePrivateIpAddress>())
                {
                    if (addresses.Contains(a.PrivateIpAddress, StringComparer.Ordinal))
                    {
                        result.Add(new IpHolding(a.PrivateIpAddress, n.NetworkInterfaceId, n.Attachment?.InstanceId, n.Description, n.InterfaceType?.Value));
                    }
                }
            }

            return result;
        }

        // ------------------------------------------------------------------ the plan

        private static OperationPlan BuildOperation(RestorePlan plan)
        {
            RestoreTarget t = plan.Target;
            var op = new OperationPlan("Restore-CcieServicesBox", $"recovery point {t.RecoveryPointId} in {t.Region}");
            IpHolder? replace = plan.InstanceToReplace;

            // Nothing destructive comes before the AMI is available: the old box is terminated only once
            // the image it will be replaced from exists, so a failed registration leaves the old box running.
            if (plan.ExistingInstance is null)
            {
                if (plan.ExistingImage is { State: "available" or "pending" } reuse)
                {
                    op.Add(RestoreSteps.RegisterImage, $"skipped: reuse {reuse.Id} ({t.ImageName}, {reuse.State}) from an earlier run", reuse.Id);
                }
                else
                {
                    if (plan.ExistingImage is { } failed)
                    {
                        op.Add(RestoreSteps.DeregisterFailedImage, $"ImageId={failed.Id} ({t.ImageName}, {failed.State}, from an earlier run)", failed.Id);
                    }

                    op.Add(RestoreSteps.RegisterImage, string.Format(
                        CultureInfo.InvariantCulture,
                        "Name={0} RootDeviceName={1} Architecture={2} EnaSupport={3} VirtualizationType={4} BlockDeviceMappings={5} Tags={6}",
                        t.ImageName,
                        t.RootDeviceName,
                        t.Architecture,
                        t.EnaSupport ? "true" : "false",
                        t.VirtualizationType,
                        string.Join(",", t.Devices.Select(d => d.ToString())),
                        RenderTags(t.Tags, RestoreNaming.RestoredFromTag, RestoreNaming.RestoreOfTag)));
                }

                op.Add(RestoreSteps.WaitImageAvailable, "until the AMI is available (ec2:DescribeImages)");
            }

            if (replace?.InstanceId is not null && replace.InstanceState is not ("shutting-down" or "terminated"))
            {
                op.Add(RestoreSteps.TerminateOld, $"InstanceIds={replace.InstanceId} (holds {replace.IpAddress}{(replace.Name is null ? string.Empty : ", Name=" + replace.Name)}, {replace.InstanceState}), only once the AMI is available", replace.InstanceId);
            }

            if (replace is not null)
            {
                op.Add(RestoreSteps.WaitIpReleased, $"until {replace.IpAddress} is free in {t.SubnetId} (ec2:DescribeNetworkInterfaces)", replace.IpAddress);
            }

            if (plan.ExistingInstance is null)
            {
                op.Add(RestoreSteps.RunInstances, string.Format(
                    CultureInfo.InvariantCulture,
                    "ImageId={0} InstanceType={1} SubnetId={2} ({3}) PrivateIpAddress={4} SecurityGroupIds={5} KeyName={6} IamInstanceProfile={7} ClientToken={8} Tags={9}",
                    plan.ExistingImage is { State: "available" or "pending" } img ? img.Id : "<the AMI>",
                    t.InstanceType,
                    t.SubnetId,
                    t.AvailabilityZone,
                    t.PrivateIpAddress ?? "<picked by AWS>",
                    string.Join(",", t.SecurityGroupIds),
                    t.KeyName ?? "<none>",
                    t.IamInstanceProfile ?? "<none>",
                    t.BaseClientToken,
                    RenderTags(t.Tags)));
            }
            else
            {
                op.Add(RestoreSteps.RunInstances, $"skipped: reuse {plan.ExistingInstance.Id} ({plan.ExistingInstance.State}, {plan.ExistingInstance.Detail}) launched by an earlier run", plan.ExistingInstance.Id);
            }

            op.Add(RestoreSteps.WaitRunning, "until the instance is running (ec2:DescribeInstances)");
            if (t.SecondaryPrivateIpAddresses.Count > 0)
            {
                op.Add(RestoreSteps.AssignSecondaryIps, "PrivateIpAddresses=" + string.Join(",", t.SecondaryPrivateIpAddresses));
            }

            op.Add(RestoreSteps.WaitStatusOk, string.Format(CultureInfo.InvariantCulture, "until system and instance status checks pass (ec2:DescribeInstanceStatus); all waits together time out after {0:0} s", plan.Request.Timeout.TotalSeconds));
            if (plan.Request.DeregisterImage)
            {
                op.Add(RestoreSteps.DeregisterImage, $"{t.ImageName} once the box runs (its snapshots are kept)");
            }

            foreach (PreflightFinding f in plan.Findings)
            {
                op.Notes.Add("pre-flight " + (f.Status == PreflightStatus.Blocker ? "BLOCKED" : f.Status.ToString().ToLowerInvariant()) + ": " + f.Message);
            }

            foreach (string w in plan.Warnings)
            {
                op.Notes.Add("warning: " + w);
            }

            return op;
        }

        private static string RenderTags(IReadOnlyDictionary<string, string> tags, params string[] only)
            => string.Join(",", tags.Where(kv => only.Length == 0 || only.Contains(kv.Key)).Select(kv => kv.Key + "=" + kv.Value));
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
