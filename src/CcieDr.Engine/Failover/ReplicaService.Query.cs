using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;

namespace CcieDr.Engine.Failover
{
    public sealed partial class ReplicaService
    {
        /// <summary>Replicas (not terminated), of one primary when <paramref name="primaryInstanceId"/> is given, newest first.</summary>
        public async Task<IReadOnlyList<Replica>> ListAsync(string? primaryInstanceId, CancellationToken ct)
        {
            var filters = new List<Filter>
            {
                Ec2Extensions.Filter("tag:" + FailoverTags.Role, FailoverTags.RoleReplica),
                Ec2Extensions.Filter("instance-state-name", "pending", "running", "stopping", "stopped"),
            };
            if (!string.IsNullOrEmpty(primaryInstanceId))
            {
                filters.Add(Ec2Extensions.Filter("tag:" + FailoverTags.PrimaryInstanceId, primaryInstanceId!));
            }

            IReadOnlyList<Instance> instances = await AwsCall.RunAsync("ec2:DescribeInstances", "tag ccie:role=replica", token => _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest { Filters = filters }, token), ct).ConfigureAwait(false);
            var result = new List<Replica>();
            var primaries = new Dictionary<string, Instance?>(StringComparer.Ordinal);
            IReadOnlyList<AvailabilityZone> zones = instances.Count == 0 ? Array.Empty<AvailabilityZone>() : (await AwsCall.RunAsync("ec2:DescribeAvailabilityZones", _region, token => _ec2.DescribeAvailabilityZonesAsync(new DescribeAvailabilityZonesRequest(), token), ct).ConfigureAwait(false)).AvailabilityZones ?? new List<AvailabilityZone>();
            foreach (Instance i in instances.OrderByDescending(i => i.LaunchTime ?? DateTime.MinValue))
            {
                string primaryId = FailoverEc2.Tag(i, FailoverTags.PrimaryInstanceId);
                if (!primaries.TryGetValue(primaryId, out Instance? primary))
                {
                    primary = primaryId.Length == 0 ? null : await FailoverEc2.FindInstanceAsync(_ec2, primaryId, ct).ConfigureAwait(false);
                    primaries[primaryId] = primary;
                }

                result.Add(await ReadAsync(i, primary, zones, ct).ConfigureAwait(false));
            }

            return result;
        }

        /// <summary>One replica by instance id.</summary>
        public async Task<Replica> GetOneAsync(string instanceId, CancellationToken ct)
        {
            Instance i = await FailoverEc2.GetInstanceAsync(_ec2, instanceId, ct).ConfigureAwait(false);
            if (FailoverEc2.Tag(i, FailoverTags.Role) != FailoverTags.RoleReplica)
            {
                throw new CcieException("NotAReplica", CcieErrorCategory.InvalidArgument, $"Instance {instanceId} is not tagged ccie:role=replica. List replicas with Get-CcieReplica.", instanceId);
            }

            string primaryId = FailoverEc2.Tag(i, FailoverTags.PrimaryInstanceId);
            Instance? primary = primaryId.Length == 0 ? null : await FailoverEc2.FindInstanceAsync(_ec2, primaryId, ct).ConfigureAwait(false);
            IReadOnlyList<AvailabilityZone> zones = (await AwsCall.RunAsync("ec2:DescribeAvailabilityZones", _region, token => _ec2.DescribeAvailabilityZonesAsync(new DescribeAvailabilityZonesRequest(), token), ct).ConfigureAwait(false)).AvailabilityZones ?? new List<AvailabilityZone>();
            return await ReadAsync(i, primary, zones, ct).ConfigureAwait(false);
        }

        private async Task<Replica> ReadAsync(Instance i, Instance? primary, IReadOnlyList<AvailabilityZone> zones, CancellationToken ct)
        {
            var facts = new AddressingFacts
            {
                ReplicaSubnetId = i.SubnetId,
                ReplicaAvailabilityZone = i.Placement?.AvailabilityZone,
                ReplicaIp = i.PrivateIpAddress,
            };
            if (primary is not null)
            {
                ReplicaModes.ReadPrimary(facts, primary);
            }

            ReplicaMode mode = FailoverEc2.TagOrNull(i, FailoverTags.FailoverMode) is { } recorded && Enum.TryParse(recorded, out ReplicaMode m) ? m : ReplicaModes.Determine(facts);
            string state = i.State?.Name?.Value ?? "unknown";
            string dataFrom = FailoverEc2.TagOrNull(i, FailoverTags.DataFrom) ?? nameof(ReplicaDataSource.Replication);
            DateTime? dataCreated = RecoveryTags.ParseCreatedAt(FailoverEc2.TagOrNull(i, FailoverTags.DataCreatedAt));
            string? device = FailoverEc2.TagOrNull(i, FailoverTags.DataDevice);
            var readiness = new List<string>();
            bool ready = true;
            if (state is not ("stopped" or "running"))
            {
                ready = false;
                readiness.Add($"instance is {state}: wait until it is stopped (cold) or running (warm)");
            }
            else
            {
                readiness.Add(state == "stopped" ? "cold: stopped, starts at failover" : "warm: running");
            }

            AvailabilityZone? zone = zones.FirstOrDefault(z => z.ZoneName == i.Placement?.AvailabilityZone);
            if (zone is not null && zone.State?.Value != "available")
            {
                ready = false;
                readiness.Add($"its AZ {zone.ZoneName} is {zone.State?.Value}");
            }

            if (primary is null)
            {
                readiness.Add("its primary is gone (terminated): a failover to it needs -InstanceId of the current box");
            }
            else if (FailoverEc2.TagOrNull(primary, FailoverTags.Fenced) is { } fenced && primary.State?.Name?.Value is "running" or "pending")
            {
                readiness.Add($"WARNING: the old primary {primary.InstanceId} is fenced ({fenced}) but {primary.State?.Name?.Value}: stop it, it may serve the builders");
            }

            if (dataFrom == nameof(ReplicaDataSource.RecoveryPoint))
            {
                if (dataCreated is null)
                {
                    ready = false;
                    readiness.Add("recovery-point data of unknown age (no ccie:data-created-at tag): run Update-CcieReplica");
                }
                else
                {
                    RecoveryPoint? newest = primary is null ? null : await NewestPointAsync(primary.InstanceId, ct).ConfigureAwait(false);
                    if (newest is not null && (newest.CreatedAt ?? newest.Created) > dataCreated.Value.AddSeconds(1))
                    {
                        readiness.Add($"a newer recovery point {newest.RecoveryPointId} exists: Update-CcieReplica -InstanceId {i.InstanceId} refreshes /data");
                    }
                }
            }
            else if (FailoverEc2.TagOrNull(i, ReplicationCheckTag) is null)
            {
                readiness.Add("no -ReplicationCheckCommand recorded: the failover cannot prove /data is in sync");
            }

            string? dataVolume = device is null ? null : i.BlockDeviceMappings?.FirstOrDefault(b => b.DeviceName == device)?.Ebs?.VolumeId;
            return new Replica
            {
                InstanceId = i.InstanceId,
                Region = _region,
                PrimaryInstanceId = FailoverEc2.TagOrNull(i, FailoverTags.PrimaryInstanceId),
                State = state,
                AvailabilityZone = i.Placement?.AvailabilityZone,
                SubnetId = i.SubnetId,
                PrivateIpAddress = i.PrivateIpAddress,
                Mode = mode.ToString(),
                ModeDescription = ReplicaModes.Describe(facts, mode),
                DataFrom = dataFrom,
                DataRecoveryPointId = FailoverEc2.TagOrNull(i, FailoverTags.DataRecoveryPoint),
                DataCreated = dataCreated,
                DataAge = dataCreated is null ? null : Clock() - dataCreated.Value,
                DataVolumeId = dataVolume,
                ImageId = FailoverEc2.TagOrNull(i, FailoverTags.LaunchedFromImage),
                Ready = ready,
                Readiness = readiness,
            };
        }

        /// <summary>The -WhatIf plan of an update.</summary>
        public async Task<(OperationPlan Plan, Replica Replica, RecoveryPoint? Point)> PlanUpdateAsync(UpdateReplicaRequest request, CancellationToken ct)
        {
            Replica replica = await GetOneAsync(request.InstanceId, ct).ConfigureAwait(false);
            var plan = new OperationPlan("Update-CcieReplica", replica.InstanceId);
            if (request.Replace)
            {
                string image = request.ImageId ?? (replica.PrimaryInstanceId is null ? null : await NewestImageAsync(replica.PrimaryInstanceId, ct).ConfigureAwait(false))
                    ?? throw new CcieException("NoServicesBoxImage", CcieErrorCategory.ObjectNotFound, $"No available image of {replica.PrimaryInstanceId} to rebuild {replica.InstanceId} from. Make one: New-CcieServicesBoxImage", replica.InstanceId);
                plan.Add("ec2:RunInstances", $"a new replica from {image} in {replica.SubnetId} (same data source {replica.DataFrom})");
                plan.Add("ec2:TerminateInstances", $"{replica.InstanceId} once the new replica is up");
                return (plan, replica, null);
            }

            if (replica.DataFrom != nameof(ReplicaDataSource.RecoveryPoint))
            {
                throw new CcieException("ReplicaUsesReplication", CcieErrorCategory.InvalidOperation, $"{replica.InstanceId} gets /data from your replication, not from recovery points: nothing to refresh. Use -Replace to rebuild it from a newer image.", replica.InstanceId);
            }

            RecoveryPoint point = request.RecoveryPointId is { } id
                ? await RecoveryPointCatalog.GetRequiredAsync(_ec2, _region, id, ct).ConfigureAwait(false)
                : await NewestPointAsync(replica.PrimaryInstanceId ?? string.Empty, ct).ConfigureAwait(false)
                    ?? throw new CcieException("NoRecoveryPoint", CcieErrorCategory.ObjectNotFound, $"No complete recovery point of {replica.PrimaryInstanceId}. Take one: New-CcieSnapshot", replica.InstanceId);
            RecoveryPointSnapshot snap = DataSnapshotOf(point);
            plan.Add("ec2:CreateVolume", $"from {snap.SnapshotId} ({point.RecoveryPointId}) in {replica.AvailabilityZone}");
            plan.Add("ec2:DetachVolume", $"{replica.DataVolumeId ?? "(the data volume)"} at {snap.DeviceName}");
            plan.Add("ec2:AttachVolume", $"the new volume at {snap.DeviceName}");
            plan.Add("ec2:DeleteVolume", $"{replica.DataVolumeId ?? "(the old data volume)"}");
            return (plan, replica, point);
        }

        /// <summary>Refreshes the data volume of a stopped replica from a newer point, or rebuilds it (-Replace).</summary>
        public async Task<Replica> UpdateAsync(UpdateReplicaRequest request, CancellationToken ct)
        {
            (OperationPlan _, Replica replica, RecoveryPoint? point) = await PlanUpdateAsync(request, ct).ConfigureAwait(false);
            var timeline = new Timeline(Clock);
            if (request.Replace)
            {
                Instance old = await FailoverEc2.GetInstanceAsync(_ec2, replica.InstanceId, ct).ConfigureAwait(false);
                ServicesBox primary = await new ServicesBoxLocator(_ec2, _region).FindOneAsync(new ServicesBoxQuery { InstanceIds = new[] { replica.PrimaryInstanceId ?? string.Empty } }, ct).ConfigureAwait(false);
                ReplicaLaunchPlan launch = await PlanAsync(new NewReplicaRequest
                {
                    Primary = primary,
                    ImageId = request.ImageId,
                    SubnetId = replica.SubnetId,
                    Running = replica.State == "running",
                    DataFrom = (ReplicaDataSource)Enum.Parse(typeof(ReplicaDataSource), replica.DataFrom),
                    ReplicationCheckCommand = FailoverEc2.TagOrNull(old, ReplicationCheckTag),
                    Name = FailoverEc2.TagOrNull(old, RecoveryTags.Name),
                }, ct).ConfigureAwait(false);
                Replica fresh = await LaunchAsync(launch, ct).ConfigureAwait(false);
                await timeline.RunAsync("ec2:TerminateInstances", replica.InstanceId, _ => AwsCall.RunAsync("ec2:TerminateInstances", replica.InstanceId, token => _ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = new List<string> { replica.InstanceId } }, token), ct)).ConfigureAwait(false);
                fresh.Timeline = fresh.Timeline.Concat(timeline.Entries).ToList();
                return fresh;
            }

            if (replica.State != "stopped")
            {
                throw new CcieException("ReplicaNotStopped", CcieErrorCategory.InvalidOperation, $"{replica.InstanceId} is {replica.State}: /data is swapped on a stopped (cold) replica only. Stop it first: aws ec2 stop-instances --instance-ids {replica.InstanceId}", replica.InstanceId);
            }

            await RefreshDataVolumeAsync(replica.InstanceId, replica.AvailabilityZone!, point!, timeline, ct).ConfigureAwait(false);
            Replica updated = await GetOneAsync(replica.InstanceId, ct).ConfigureAwait(false);
            updated.Timeline = timeline.Entries;
            return updated;
        }

        /// <summary>Replaces the data volume of a stopped instance by a new one from <paramref name="point"/>, created in its AZ; tags record the point.</summary>
        internal async Task RefreshDataVolumeAsync(string instanceId, string zone, RecoveryPoint point, Timeline timeline, CancellationToken ct)
        {
            RecoveryPointSnapshot snap = DataSnapshotOf(point);
            Instance inst = await FailoverEc2.GetInstanceAsync(_ec2, instanceId, ct).ConfigureAwait(false);
            string? oldVolume = inst.BlockDeviceMappings?.FirstOrDefault(b => b.DeviceName == snap.DeviceName)?.Ebs?.VolumeId;
            var create = new CreateVolumeRequest { AvailabilityZone = zone, SnapshotId = snap.SnapshotId, Size = snap.SizeGiB };
            if (snap.VolumeType is not null)
            {
                create.VolumeType = Amazon.EC2.VolumeType.FindValue(snap.VolumeType);
            }

            create.TagSpecifications = new List<TagSpecification>
            {
                new TagSpecification { ResourceType = Amazon.EC2.ResourceType.Volume, Tags = new List<Tag> { new Tag(FailoverTags.DataRecoveryPoint, point.RecoveryPointId), new Tag(FailoverTags.PrimaryInstanceId, FailoverEc2.Tag(inst, FailoverTags.PrimaryInstanceId)) } },
            };
            string volumeId = await timeline.RunAsync("ec2:CreateVolume", snap.SnapshotId, async entry =>
            {
                CreateVolumeResponse r = await AwsCall.RunAsync("ec2:CreateVolume", snap.SnapshotId, token => _ec2.CreateVolumeAsync(create, token), ct).ConfigureAwait(false);
                timeline.Complete(entry, "Succeeded", r.Volume.VolumeId, $"{point.RecoveryPointId} in {zone}");
                return r.Volume.VolumeId;
            }).ConfigureAwait(false);
            await timeline.RunAsync("wait:volume-available", volumeId, _ => WaitVolumeAsync(volumeId, "available", ct)).ConfigureAwait(false);
            if (oldVolume is not null)
            {
                await timeline.RunAsync("ec2:DetachVolume", oldVolume, _ => AwsCall.RunAsync("ec2:DetachVolume", oldVolume, token => _ec2.DetachVolumeAsync(new DetachVolumeRequest { VolumeId = oldVolume, InstanceId = instanceId }, token), ct)).ConfigureAwait(false);
                await timeline.RunAsync("wait:volume-available", oldVolume, _ => WaitVolumeAsync(oldVolume, "available", ct)).ConfigureAwait(false);
            }

            await timeline.RunAsync("ec2:AttachVolume", volumeId, _ => AwsCall.RunAsync("ec2:AttachVolume", volumeId, token => _ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = volumeId, InstanceId = instanceId, Device = snap.DeviceName }, token), ct)).ConfigureAwait(false);
            await timeline.RunAsync("wait:volume-in-use", volumeId, _ => WaitVolumeAsync(volumeId, "in-use", ct)).ConfigureAwait(false);
            await FailoverEc2.TagAsync(_ec2, instanceId, new Dictionary<string, string>
            {
                [FailoverTags.DataRecoveryPoint] = point.RecoveryPointId,
                [FailoverTags.DataCreatedAt] = RecoveryTags.FormatCreatedAt(point.CreatedAt ?? point.Created),
                [FailoverTags.DataDevice] = snap.DeviceName ?? string.Empty,
            }, ct).ConfigureAwait(false);
            if (oldVolume is not null)
            {
                await timeline.RunAsync("ec2:DeleteVolume", oldVolume, _ => AwsCall.RunAsync("ec2:DeleteVolume", oldVolume, token => _ec2.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = oldVolume }, token), ct)).ConfigureAwait(false);
            }
        }

        private Task<Volume> WaitVolumeAsync(string volumeId, string state, CancellationToken ct)
            => Waiter.UntilAsync(
                async token => (await AwsCall.RunAsync("ec2:DescribeVolumes", volumeId, t => _ec2.DescribeVolumesAsync(new DescribeVolumesRequest { VolumeIds = new List<string> { volumeId } }, t), token).ConfigureAwait(false)).Volumes?.FirstOrDefault() ?? throw new CcieException("VolumeNotFound", CcieErrorCategory.ObjectNotFound, $"Volume {volumeId} was not found.", volumeId),
                v => v.State?.Value == state && (state != "in-use" || v.Attachments?.FirstOrDefault()?.State?.Value == "attached"),
                Wait(TimeSpan.FromMinutes(15)),
                $"volume {volumeId} to be {state}",
                volumeId,
                ct,
                v => v.State?.Value ?? "unknown",
                null,
                AwsRetry.IsNotFound);
    }
}
