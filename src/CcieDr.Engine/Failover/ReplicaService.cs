using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;

namespace CcieDr.Engine.Failover
{
    /// <summary>Replicas of the Services box: launch (cold by default), list with readiness, refresh or rebuild.</summary>
    public sealed partial class ReplicaService
    {
        private readonly IAmazonEC2 _ec2;
        private readonly string _region;
        private readonly IOperationReporter _reporter;

        public ReplicaService(IAmazonEC2 ec2, string region, IOperationReporter? reporter = null)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
            _reporter = reporter ?? NullReporter.Instance;
        }

        internal WaitOptions? Polling { get; set; }

        internal Func<DateTime> Clock { get; set; } = () => DateTime.UtcNow;

        private WaitOptions Wait(TimeSpan timeout) => (Polling ?? WaitOptions.Default()).WithTimeout(timeout);

        /// <summary>Resolves image, subnet, data source and mode, read-only: the -WhatIf plan.</summary>
        public async Task<ReplicaLaunchPlan> PlanAsync(NewReplicaRequest request, CancellationToken ct)
        {
            if (request?.Primary is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            ServicesBox box = request.Primary;
            var plan = new ReplicaLaunchPlan { Primary = box, DataFrom = request.DataFrom, Running = request.Running, ReplicationCheckCommand = request.ReplicationCheckCommand };
            if (request.ReplicationCheckCommand is { Length: > 256 })
            {
                throw new CcieException("ReplicationCheckCommandTooLong", CcieErrorCategory.InvalidArgument, "-ReplicationCheckCommand is kept in a tag (at most 256 characters). Put the check in a script on the replica and give its path.", request.ReplicationCheckCommand.Substring(0, 40) + "…");
            }

            Subnet subnet = await ChooseSubnetAsync(box, request.SubnetId, request.AvailabilityZone, ct).ConfigureAwait(false);
            plan.SubnetId = subnet.SubnetId;
            plan.AvailabilityZone = subnet.AvailabilityZone;

            if (request.RecoveryPoint is { } from)
            {
                if (!from.IsComplete)
                {
                    throw new CcieException("RecoveryPointNotComplete", CcieErrorCategory.InvalidOperation, $"Recovery point {from.RecoveryPointId} is {from.State}: a replica needs a complete point. Wait for it (Wait-CcieSnapshot) or pick another.", from.RecoveryPointId);
                }

                plan.FromRecoveryPoint = from;
            }
            else
            {
                plan.ImageId = request.ImageId ?? await NewestImageAsync(box.InstanceId, ct).ConfigureAwait(false)
                    ?? throw new CcieException("NoServicesBoxImage", CcieErrorCategory.ObjectNotFound, $"No available image of {box.InstanceId} in {_region}. Make one first: New-CcieServicesBoxImage -InstanceId {box.InstanceId}", box.InstanceId);
            }

            if (request.DataFrom == ReplicaDataSource.RecoveryPoint)
            {
                plan.DataPoint = request.RecoveryPoint ?? await NewestPointAsync(box.InstanceId, ct).ConfigureAwait(false)
                    ?? throw new CcieException("NoRecoveryPoint", CcieErrorCategory.ObjectNotFound, $"-DataFrom RecoveryPoint needs a complete recovery point of {box.InstanceId}; there is none in {_region}. Take one: New-CcieSnapshot -InstanceId {box.InstanceId}", box.InstanceId);
                plan.DataSnapshot = DataSnapshotOf(plan.DataPoint);
            }

            var facts = new AddressingFacts
            {
                PrimarySubnetId = box.SubnetId,
                PrimaryAvailabilityZone = box.AvailabilityZone,
                PrimaryIp = box.PrivateIpAddress,
                ReplicaSubnetId = subnet.SubnetId,
                ReplicaAvailabilityZone = subnet.AvailabilityZone,
            };
            Instance? primary = await FailoverEc2.FindInstanceAsync(_ec2, box.InstanceId, ct).ConfigureAwait(false);
            if (primary is not null)
            {
                ReplicaModes.ReadPrimary(facts, primary);
            }

            plan.Mode = ReplicaModes.Determine(facts);
            plan.ModeDescription = ReplicaModes.Describe(facts, plan.Mode);
            plan.Name = request.Name ?? (box.Name ?? ServicesBoxQuery.DefaultName) + FailoverTags.ReplicaNameSuffix;

            var op = new OperationPlan("New-CcieReplica", box.InstanceId);
            if (plan.FromRecoveryPoint is { } rp)
            {
                op.Add("ec2:RegisterImage", $"from recovery point {rp.RecoveryPointId} ({string.Join(",", rp.Snapshots.Select(s => s.DeviceName + "=" + s.SnapshotId))})");
                op.Add("wait:image-available", "");
            }

            string data = plan.DataSnapshot is { } ds ? $" {ds.DeviceName}={ds.SnapshotId} (from {plan.DataPoint!.RecoveryPointId})" : string.Empty;
            op.Add("ec2:RunInstances", $"ImageId={plan.ImageId ?? "(registered)"} SubnetId={plan.SubnetId} ({plan.AvailabilityZone}) InstanceType={box.InstanceType} SecurityGroupIds={string.Join(",", box.SecurityGroupIds)} KeyName={box.KeyName} IamInstanceProfile={box.IamInstanceProfileArn}{data} tags Name={plan.Name} ccie:role=replica ccie:primary-instance-id={box.InstanceId}");
            op.Add("wait:instance-running", "");
            if (!request.Running)
            {
                op.Add("ec2:StopInstances", "leave the replica stopped (cold)");
                op.Add("wait:instance-stopped", "");
            }

            op.Notes.Add(plan.ModeDescription);
            if (request.DataFrom == ReplicaDataSource.Replication)
            {
                op.Notes.Add("/data comes from your replication (DRBD, GlusterFS or NFS, as the CircleCI guide describes); CcieDr checks it with -ReplicationCheckCommand at failover" + (request.ReplicationCheckCommand is null ? " (none given: the failover cannot prove /data is in sync)." : "."));
            }
            else
            {
                op.Notes.Add($"/data comes from recovery point {plan.DataPoint!.RecoveryPointId} taken {plan.DataPoint.Created:u}: RPO = its age; Update-CcieReplica refreshes it from a newer point.");
            }

            plan.Operation = op;
            return plan;
        }

        /// <summary>Carries out a plan from <see cref="PlanAsync"/>.</summary>
        public async Task<Replica> LaunchAsync(ReplicaLaunchPlan plan, CancellationToken ct)
        {
            if (plan is null)
            {
                throw new ArgumentNullException(nameof(plan));
            }

            var timeline = new Timeline(Clock);
            ServicesBox box = plan.Primary;
            string imageId = plan.ImageId ?? await timeline.RunAsync("ec2:RegisterImage", plan.FromRecoveryPoint!.RecoveryPointId, _ => RegisterFromPointAsync(plan.FromRecoveryPoint!, ct)).ConfigureAwait(false);
            if (plan.FromRecoveryPoint is not null)
            {
                await timeline.RunAsync("wait:image-available", imageId, _ => WaitImageAsync(imageId, ct)).ConfigureAwait(false);
            }

            var tags = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [RecoveryTags.Name] = plan.Name,
                [FailoverTags.Role] = FailoverTags.RoleReplica,
                [FailoverTags.PrimaryInstanceId] = box.InstanceId,
                [FailoverTags.LaunchedFromImage] = imageId,
                [FailoverTags.DataFrom] = plan.DataFrom.ToString(),
                [RecoveryTags.CreatedBy] = RecoveryTags.CreatedByValue,
                [FailoverTags.Creation] = FailoverTags.CreationInProgress,
            };
            if (plan.DataPoint is { } point)
            {
                tags[FailoverTags.DataRecoveryPoint] = point.RecoveryPointId;
                tags[FailoverTags.DataCreatedAt] = RecoveryTags.FormatCreatedAt(point.CreatedAt ?? point.Created);
                tags[FailoverTags.DataDevice] = plan.DataSnapshot?.DeviceName ?? string.Empty;
            }

            if (!string.IsNullOrEmpty(plan.ReplicationCheckCommand))
            {
                tags[ReplicationCheckTag] = plan.ReplicationCheckCommand!;
            }

            var request = new RunInstancesRequest
            {
                ImageId = imageId,
                InstanceType = InstanceType.FindValue(box.InstanceType),
                MinCount = 1,
                MaxCount = 1,
                SubnetId = plan.SubnetId,
                SecurityGroupIds = box.SecurityGroupIds.ToList(),
                ClientToken = ReplicaToken(box.InstanceId, imageId, plan.SubnetId, plan.DataPoint?.RecoveryPointId),
                TagSpecifications = new List<TagSpecification>
                {
                    new TagSpecification { ResourceType = ResourceType.Instance, Tags = RecoveryTags.ToTagList(tags) },
                    new TagSpecification { ResourceType = ResourceType.Volume, Tags = RecoveryTags.ToTagList(tags.Where(t => t.Key != FailoverTags.Creation)) },
                },
            };
            if (!string.IsNullOrEmpty(box.KeyName))
            {
                request.KeyName = box.KeyName;
            }

            if (!string.IsNullOrEmpty(box.IamInstanceProfileArn))
            {
                request.IamInstanceProfile = new IamInstanceProfileSpecification { Arn = box.IamInstanceProfileArn };
            }

            if (plan.DataSnapshot is { } snap)
            {
                request.BlockDeviceMappings = new List<BlockDeviceMapping> { DataMapping(snap) };
            }

            Instance launched = await timeline.RunAsync("ec2:RunInstances", plan.SubnetId, async entry =>
            {
                // A replica an earlier run launched and did not finish (its answer lost, or the run stopped) is
                // finished, not launched again: the client token only holds within the call's minute.
                Instance? begun = await UnfinishedAsync(box.InstanceId, imageId, plan, ct).ConfigureAwait(false);
                if (begun is not null)
                {
                    timeline.Complete(entry, "Reused", begun.InstanceId, $"{begun.State?.Name?.Value}, launched by an earlier run");
                    return begun;
                }

                RunInstancesResponse r = await AwsCall.RunAsync("ec2:RunInstances", plan.SubnetId, token => _ec2.RunInstancesAsync(request, token), ct).ConfigureAwait(false);
                Instance i = r.Reservation.Instances[0];
                timeline.Complete(entry, "Succeeded", i.InstanceId, $"{i.PrivateIpAddress} in {plan.AvailabilityZone}");
                return i;
            }).ConfigureAwait(false);

            string id = launched.InstanceId;
            string state = launched.State?.Name?.Value ?? "pending";
            if (state is "stopping" or "stopped")
            {
                await timeline.RunAsync("wait:instance-stopped", id, _ => FailoverEc2.WaitStateAsync(_ec2, id, "stopped", Wait(TimeSpan.FromMinutes(30)), _reporter, "Replica " + id, ct)).ConfigureAwait(false);
                if (plan.Running)
                {
                    await timeline.RunAsync("ec2:StartInstances", id, _ => AwsCall.RunAsync("ec2:StartInstances", id, token => _ec2.StartInstancesAsync(new StartInstancesRequest { InstanceIds = new List<string> { id } }, token), ct)).ConfigureAwait(false);
                    state = "pending";
                }
            }

            if (state is not ("stopping" or "stopped"))
            {
                await timeline.RunAsync("wait:instance-running", id, _ => FailoverEc2.WaitStateAsync(_ec2, id, "running", Wait(TimeSpan.FromMinutes(30)), _reporter, "Replica " + id, ct)).ConfigureAwait(false);
                if (!plan.Running)
                {
                    await timeline.RunAsync("ec2:StopInstances", id, _ => StopAsync(id, ct)).ConfigureAwait(false);
                    await timeline.RunAsync("wait:instance-stopped", id, _ => FailoverEc2.WaitStateAsync(_ec2, id, "stopped", Wait(TimeSpan.FromMinutes(30)), _reporter, "Replica " + id, ct)).ConfigureAwait(false);
                }
            }

            // The last step: a rerun before it finishes this replica instead of launching another.
            await timeline.RunAsync("ec2:CreateTags", id, _ => FailoverEc2.TagAsync(_ec2, id, new Dictionary<string, string> { [FailoverTags.Creation] = FailoverTags.CreationDone }, ct)).ConfigureAwait(false);

            Replica replica = await GetOneAsync(launched.InstanceId, ct).ConfigureAwait(false);
            replica.Timeline = timeline.Entries;
            return replica;
        }

        internal const string ReplicationCheckTag = "ccie:replication-check-command";

        /// <summary>A live replica of <paramref name="primaryId"/> an earlier launch of the same plan began and did not finish; null if none.</summary>
        private async Task<Instance?> UnfinishedAsync(string primaryId, string imageId, ReplicaLaunchPlan plan, CancellationToken ct)
        {
            IReadOnlyList<Instance> found = await AwsCall.RunAsync("ec2:DescribeInstances", "unfinished replicas of " + primaryId, token => _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest
            {
                Filters = new List<Filter>
                {
                    Ec2Extensions.Filter("tag:" + FailoverTags.PrimaryInstanceId, primaryId),
                    Ec2Extensions.Filter("tag:" + FailoverTags.Creation, FailoverTags.CreationInProgress),
                    Ec2Extensions.Filter("tag:" + FailoverTags.LaunchedFromImage, imageId),
                    Ec2Extensions.Filter("subnet-id", plan.SubnetId),
                    Ec2Extensions.Filter("instance-state-name", "pending", "running", "stopping", "stopped"),
                },
            }, token), ct).ConfigureAwait(false);
            return found
                .Where(i => FailoverEc2.Tag(i, FailoverTags.Role) == FailoverTags.RoleReplica)
                .Where(i => FailoverEc2.Tag(i, FailoverTags.DataRecoveryPoint) == (plan.DataPoint?.RecoveryPointId ?? string.Empty))
                .OrderBy(i => i.LaunchTime ?? DateTime.MinValue)
                .FirstOrDefault();
        }

        private static string ReplicaToken(string primary, string image, string subnet, string? point)
        {
            using var sha = System.Security.Cryptography.SHA256.Create();
            byte[] hash = sha.ComputeHash(System.Text.Encoding.UTF8.GetBytes(string.Join("|", primary, image, subnet, point ?? string.Empty, DateTime.UtcNow.ToString("yyyyMMddHHmm", CultureInfo.InvariantCulture))));
            return "ccie-replica-" + string.Concat(hash.Take(12).Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
        }

        private static BlockDeviceMapping DataMapping(RecoveryPointSnapshot snap)
        {
            var ebs = new EbsBlockDevice { SnapshotId = snap.SnapshotId, VolumeSize = snap.SizeGiB, DeleteOnTermination = true };
            if (!string.IsNullOrEmpty(snap.VolumeType))
            {
                ebs.VolumeType = VolumeType.FindValue(snap.VolumeType);
            }

            if (snap.Iops is { } iops && snap.VolumeType is "io1" or "io2" or "gp3")
            {
                ebs.Iops = iops;
            }

            return new BlockDeviceMapping { DeviceName = snap.DeviceName, Ebs = ebs };
        }

        private Task<StopInstancesResponse> StopAsync(string instanceId, CancellationToken ct)
            => AwsCall.RunAsync("ec2:StopInstances", instanceId, token => _ec2.StopInstancesAsync(new StopInstancesRequest { InstanceIds = new List<string> { instanceId } }, token), ct);

        private async Task<string> RegisterFromPointAsync(RecoveryPoint point, CancellationToken ct)
        {
            RecoveryIdentity id = point.Identity;
            var request = new RegisterImageRequest
            {
                Name = "circleci-services-replica-" + point.RecoveryPointId,
                Description = $"Replica image from recovery point {point.RecoveryPointId}",
                RootDeviceName = id.RootDeviceName,
                Architecture = ArchitectureValues.FindValue(id.Architecture ?? "x86_64"),
                EnaSupport = id.EnaSupport ?? true,
                VirtualizationType = id.VirtualizationType ?? "hvm",
                BlockDeviceMappings = point.Snapshots.Select(s => new BlockDeviceMapping
                {
                    DeviceName = s.DeviceName,
                    Ebs = new EbsBlockDevice { SnapshotId = s.SnapshotId, VolumeSize = s.SizeGiB, DeleteOnTermination = true, VolumeType = s.VolumeType is null ? null : VolumeType.FindValue(s.VolumeType) },
                }).ToList(),
            };
            // The name is the point's: an image an earlier run (or a lost answer) registered is used, never registered twice.
            string imageId;
            if (await ServicesBoxImageService.NamedAsync(_ec2, request.Name, ct).ConfigureAwait(false) is { } earlier)
            {
                imageId = earlier.ImageId;
            }
            else
            {
                try
                {
                    imageId = (await AwsCall.RunAsync("ec2:RegisterImage", point.RecoveryPointId, token => _ec2.RegisterImageAsync(request, token), ct).ConfigureAwait(false)).ImageId;
                }
                catch (CcieException e) when (ServicesBoxImageService.IsDuplicateOrUnanswered(e))
                {
                    Image? made = await ServicesBoxImageService.NamedAsync(_ec2, request.Name, ct).ConfigureAwait(false);
                    if (made is null)
                    {
                        throw;
                    }

                    imageId = made.ImageId;
                }
            }

            await FailoverEc2.TagAsync(_ec2, imageId, new Dictionary<string, string> { [RecoveryTags.RecoveryPoint + "-source"] = point.RecoveryPointId, [RecoveryTags.CreatedBy] = RecoveryTags.CreatedByValue }, ct).ConfigureAwait(false);
            return imageId;
        }

        private async Task<Image> WaitImageAsync(string imageId, CancellationToken ct)
        {
            return await Waiter.UntilAsync(
                async token => (await AwsCall.RunAsync("ec2:DescribeImages", imageId, t => _ec2.DescribeImagesAsync(new DescribeImagesRequest { ImageIds = new List<string> { imageId } }, t), token).ConfigureAwait(false)).Images?.FirstOrDefault() ?? throw new CcieException("ImageNotFound", CcieErrorCategory.ObjectNotFound, $"Image {imageId} was not found.", imageId),
                i => i.State?.Value is "available" or "failed",
                Wait(TimeSpan.FromMinutes(30)),
                $"image {imageId} to become available",
                imageId,
                ct,
                i => i.State?.Value ?? "unknown",
                null,
                AwsRetry.IsNotFound).ConfigureAwait(false);
        }

        internal async Task<string?> NewestImageAsync(string primaryId, CancellationToken ct)
        {
            IReadOnlyList<ServicesBoxImage> images = await new ServicesBoxImageService(_ec2, _region, _reporter).ListAsync(primaryId, ct).ConfigureAwait(false);
            return images.FirstOrDefault(i => i.State == "available")?.ImageId;
        }

        internal async Task<RecoveryPoint?> NewestPointAsync(string primaryId, CancellationToken ct)
        {
            IReadOnlyList<RecoveryPoint> points = await RecoveryPointCatalog.ListAsync(_ec2, _region, new RecoveryPointFilter { SourceInstanceId = primaryId, IncludeSeed = false }, ct).ConfigureAwait(false);
            return points.Where(p => p.IsComplete).OrderByDescending(p => p.CreatedAt ?? p.Created).FirstOrDefault();
        }

        internal static RecoveryPointSnapshot DataSnapshotOf(RecoveryPoint point)
            => point.Snapshots.FirstOrDefault(s => !s.IsRootDevice && s.DeviceName is not null)
                ?? throw new CcieException("RecoveryPointHasNoDataVolume", CcieErrorCategory.InvalidData, $"Recovery point {point.RecoveryPointId} has no data volume (only the root device). Take a point of the box with its /data volume attached.", point.RecoveryPointId);

        private async Task<Subnet> ChooseSubnetAsync(ServicesBox box, string? subnetId, string? zone, CancellationToken ct)
        {
            IReadOnlyList<Subnet> subnets = await AwsCall.RunAsync("ec2:DescribeSubnets", box.VpcId, token => _ec2.DescribeAllSubnetsAsync(new DescribeSubnetsRequest { Filters = new List<Filter> { Ec2Extensions.Filter("vpc-id", box.VpcId ?? string.Empty) } }, token), ct).ConfigureAwait(false);
            if (subnetId is not null)
            {
                return subnets.FirstOrDefault(s => s.SubnetId == subnetId)
                    ?? throw new CcieException("SubnetNotInBoxVpc", CcieErrorCategory.InvalidArgument, $"Subnet {subnetId} is not in the box's VPC {box.VpcId}: the replica needs the box's security groups, which belong to that VPC. Pick one of: {string.Join(", ", subnets.Select(s => s.SubnetId + " (" + s.AvailabilityZone + ")"))}.", subnetId);
            }

            string? wanted = zone;
            IEnumerable<Subnet> candidates = wanted is not null
                ? subnets.Where(s => s.AvailabilityZone == wanted)
                : subnets.Where(s => s.AvailabilityZone != box.AvailabilityZone);
            return candidates.OrderBy(s => s.AvailabilityZone, StringComparer.Ordinal).ThenBy(s => s.SubnetId, StringComparer.Ordinal).FirstOrDefault()
                ?? throw new CcieException("NoReplicaSubnet", CcieErrorCategory.ObjectNotFound, wanted is not null
                    ? $"The box's VPC {box.VpcId} has no subnet in {wanted}. Create one, or give -SubnetId."
                    : $"The box's VPC {box.VpcId} has no subnet outside {box.AvailabilityZone}: a replica in another AZ needs one. Create one, or give -SubnetId {box.SubnetId} for a same-subnet replica (mode 1).", box.VpcId);
        }
    }
}
