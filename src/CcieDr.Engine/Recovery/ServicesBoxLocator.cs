using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;

namespace CcieDr.Engine.Recovery
{
    /// <summary>What to look for: the Name tag (default circleci_services) or explicit instance ids.</summary>
    public sealed class ServicesBoxQuery
    {
        public const string DefaultName = "circleci_services";

        public string Name { get; set; } = DefaultName;

        public IReadOnlyList<string> InstanceIds { get; set; } = Array.Empty<string>();

        public bool IncludeTerminated { get; set; }
    }

    /// <summary>Finds the Services box and describes it with everything a restore or a failover needs.</summary>
    public sealed class ServicesBoxLocator
    {
        private static readonly string[] LiveStates = { "pending", "running", "stopping", "stopped", "shutting-down" };
        private readonly IAmazonEC2 _ec2;
        private readonly string _region;

        public ServicesBoxLocator(IAmazonEC2 ec2, string region)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
        }

        /// <summary>
        /// Exactly one Services box for <paramref name="query"/>: the box an operation (a snapshot, a health
        /// check) acts on. An unknown instance id counts as none found.
        /// </summary>
        /// <exception cref="CcieException">ServicesBoxNotFound (ObjectNotFound) or ServicesBoxAmbiguous (InvalidArgument), naming the fix.</exception>
        public async Task<ServicesBox> FindOneAsync(ServicesBoxQuery query, CancellationToken ct)
        {
            if (query is null)
            {
                throw new ArgumentNullException(nameof(query));
            }

            bool byId = query.InstanceIds.Count > 0;
            object target = byId ? string.Join(",", query.InstanceIds) : query.Name;
            IReadOnlyList<ServicesBox> boxes;
            try
            {
                boxes = await FindAsync(query, ct).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.Category == CcieErrorCategory.ObjectNotFound)
            {
                boxes = Array.Empty<ServicesBox>(); // DescribeInstances of an unknown id: InvalidInstanceID.NotFound
            }

            if (boxes.Count == 0)
            {
                throw new CcieException(
                    "ServicesBoxNotFound",
                    CcieErrorCategory.ObjectNotFound,
                    $"No Services box found in {_region} with {(byId ? "instance id " + target : "tag Name=" + query.Name)}. Check -Region, or pipe the box from Get-CcieServicesBox.",
                    target);
            }

            if (boxes.Count > 1)
            {
                throw new CcieException(
                    "ServicesBoxAmbiguous",
                    CcieErrorCategory.InvalidArgument,
                    $"{boxes.Count} instances in {_region} are tagged Name={query.Name} ({string.Join(", ", boxes.Select(b => b.InstanceId + " " + b.State))}). Name the box with -InstanceId.",
                    target);
            }

            return boxes[0];
        }

        /// <summary>Matching boxes, newest launch first. Empty when none match (the caller decides if that is an error).</summary>
        public async Task<IReadOnlyList<ServicesBox>> FindAsync(ServicesBoxQuery query, CancellationToken ct)
        {
            if (query is null)
            {
                throw new ArgumentNullException(nameof(query));
            }

            var request = new DescribeInstancesRequest { Filters = new List<Filter>() };
            object target;
            if (query.InstanceIds.Count > 0)
            {
                request.InstanceIds = query.InstanceIds.ToList();
                target = string.Join(",", query.InstanceIds);
            }
            else
            {
                request.Filters.Add(Ec2Extensions.Filter("tag:Name", query.Name));
                target = "tag Name=" + query.Name;
            }

            if (!query.IncludeTerminated)
            {
                request.Filters.Add(Ec2Extensions.Filter("instance-state-name", LiveStates));
            }

            if (request.Filters.Count == 0)
            {
                request.Filters = null;
            }

            IReadOnlyList<Instance> instances = await AwsCall.RunAsync("ec2:DescribeInstances", target, token => _ec2.DescribeAllInstancesAsync(request, token), ct).ConfigureAwait(false);

            if (instances.Count == 0)
            {
                return Array.Empty<ServicesBox>();
            }

            IReadOnlyList<Volume> volumes = await DescribeVolumesAsync(instances, ct).ConfigureAwait(false);
            return instances
                .OrderByDescending(i => i.LaunchTime ?? DateTime.MinValue)
                .Select(i => Describe(i, volumes))
                .ToList();
        }

        private async Task<IReadOnlyList<Volume>> DescribeVolumesAsync(IReadOnlyList<Instance> instances, CancellationToken ct)
        {
            List<string> ids = instances
                .SelectMany(i => i.BlockDeviceMappings ?? new List<InstanceBlockDeviceMapping>())
                .Select(m => m.Ebs?.VolumeId)
                .Where(id => !string.IsNullOrEmpty(id))
                .Select(id => id!)
                .Distinct(StringComparer.Ordinal)
                .ToList();
            if (ids.Count == 0)
            {
                return Array.Empty<Volume>();
            }

            return await AwsCall.RunAsync(
                "ec2:DescribeVolumes",
                string.Join(",", ids),
                token => _ec2.DescribeAllVolumesAsync(new DescribeVolumesRequest { Filters = new List<Filter> { Ec2Extensions.Filter("volume-id", ids.ToArray()) } }, token),
                ct).ConfigureAwait(false);
        }

        internal ServicesBox Describe(Instance i, IReadOnlyList<Volume> volumes)
        {
            IReadOnlyDictionary<string, string> tags = i.Tags.ToDictionary();
            List<InstanceNetworkInterface> nics = i.NetworkInterfaces ?? new List<InstanceNetworkInterface>();
            InstanceNetworkInterface? primaryNic = nics.FirstOrDefault(n => n.Attachment?.DeviceIndex == 0) ?? nics.FirstOrDefault();
            var secondary = nics
                .SelectMany(n => n.PrivateIpAddresses ?? new List<InstancePrivateIpAddress>())
                .Where(a => a.Primary != true || !string.Equals(a.PrivateIpAddress, i.PrivateIpAddress, StringComparison.Ordinal))
                .Select(a => a.PrivateIpAddress)
                .Where(a => !string.IsNullOrEmpty(a) && !string.Equals(a, i.PrivateIpAddress, StringComparison.Ordinal))
                .Distinct(StringComparer.Ordinal)
                .ToList();
            List<GroupIdentifier> groups = i.SecurityGroups ?? primaryNic?.Groups ?? new List<GroupIdentifier>();

            var boxVolumes = new List<ServicesBoxVolume>();
            foreach (InstanceBlockDeviceMapping m in i.BlockDeviceMappings ?? new List<InstanceBlockDeviceMapping>())
            {
                string? volumeId = m.Ebs?.VolumeId;
                if (string.IsNullOrEmpty(volumeId))
                {
                    continue;
                }

                Volume? v = volumes.FirstOrDefault(x => x.VolumeId == volumeId);
                boxVolumes.Add(new ServicesBoxVolume
                {
                    DeviceName = m.DeviceName ?? string.Empty,
                    VolumeId = volumeId!,
                    IsRootDevice = string.Equals(m.DeviceName, i.RootDeviceName, StringComparison.Ordinal),
                    SizeGiB = v?.Size ?? 0,
                    VolumeType = v?.VolumeType?.Value,
                    Iops = v?.Iops,
                    Throughput = v?.Throughput,
                    Encrypted = v?.Encrypted ?? false,
                    KmsKeyId = v?.KmsKeyId,
                    DeleteOnTermination = m.Ebs?.DeleteOnTermination ?? false,
                    SnapshotId = string.IsNullOrEmpty(v?.SnapshotId) ? null : v!.SnapshotId,
                });
            }

            return new ServicesBox
            {
                Region = _region,
                Name = tags.TryGetValue("Name", out string? name) ? name : null,
                InstanceId = i.InstanceId ?? string.Empty,
                State = i.State?.Name?.Value ?? "unknown",
                StateReason = i.StateReason?.Message,
                PrivateIpAddress = i.PrivateIpAddress,
                SecondaryPrivateIpAddresses = secondary,
                PublicIpAddress = i.PublicIpAddress,
                SubnetId = i.SubnetId,
                VpcId = i.VpcId,
                AvailabilityZone = i.Placement?.AvailabilityZone,
                SecurityGroupIds = groups.Select(g => g.GroupId).Where(g => g is not null).Select(g => g!).ToList(),
                SecurityGroupNames = groups.Select(g => g.GroupName).Where(g => g is not null).Select(g => g!).ToList(),
                InstanceType = i.InstanceType?.Value,
                KeyName = i.KeyName,
                IamInstanceProfileArn = i.IamInstanceProfile?.Arn,
                ImageId = i.ImageId,
                RootDeviceName = i.RootDeviceName,
                RootDeviceType = i.RootDeviceType?.Value,
                Architecture = i.Architecture?.Value,
                EnaSupport = i.EnaSupport ?? false,
                VirtualizationType = i.VirtualizationType?.Value,
                Volumes = boxVolumes.OrderBy(v => v.IsRootDevice ? 0 : 1).ThenBy(v => v.DeviceName, StringComparer.Ordinal).ToList(),
                NetworkInterfaceIds = nics.OrderBy(n => n.Attachment?.DeviceIndex ?? 99).Select(n => n.NetworkInterfaceId).Where(n => n is not null).Select(n => n!).ToList(),
                Tags = tags,
                LaunchTime = i.LaunchTime?.ToUniversalTime(),
            };
        }
    }
}
