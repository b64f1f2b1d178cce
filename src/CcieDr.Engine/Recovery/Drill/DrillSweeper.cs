using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery.Restore;

namespace CcieDr.Engine.Recovery.Drill
{
    /// <summary>
    /// Finds and removes what recovery drills created (everything tagged ccie:drill): the drill's instance, its
    /// volumes, the AMI it registered and its temporary security group, in the order AWS allows. Test-CcieRecovery
    /// tears down with it; Remove-CcieDrill sweeps what a killed drill left.
    /// Never touches a resource without the ccie:drill tag, and never deletes snapshots (they are the recovery point's).
    /// </summary>
    public sealed class DrillSweeper
    {
        private static readonly string[] LiveInstanceStates = { "pending", "running", "stopping", "stopped", "shutting-down" };

        private readonly IAmazonEC2 _ec2;
        private readonly string _region;
        private readonly WaitOptions _wait;

        public DrillSweeper(IAmazonEC2 ec2, string region, WaitOptions? wait = null)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
            _wait = wait ?? WaitOptions.Default(TimeSpan.FromMinutes(15));
        }

        /// <summary>Every live resource of the drill <paramref name="drillId"/> (null: of any drill), instances first.</summary>
        public async Task<IReadOnlyList<RecoveryDrillResource>> FindAsync(string? drillId, CancellationToken ct)
        {
            Filter tag = drillId is null ? Ec2Extensions.Filter("tag-key", RestoreNaming.DrillTag) : Ec2Extensions.Filter("tag:" + RestoreNaming.DrillTag, drillId);
            var found = new List<RecoveryDrillResource>();
            string what = drillId is null ? "tag-key=" + RestoreNaming.DrillTag : RestoreNaming.DrillTag + "=" + drillId;

            IReadOnlyList<Instance> instances = await AwsCall.RunAsync("ec2:DescribeInstances", what, token => _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest
            {
                Filters = new List<Filter> { tag, Ec2Extensions.Filter("instance-state-name", LiveInstanceStates) },
            }, token), ct).ConfigureAwait(false);
            found.AddRange(instances.Select(i => Resource("instance", i.InstanceId, i.State?.Name?.Value, i.Tags)));

            IReadOnlyList<Volume> volumes = await AwsCall.RunAsync("ec2:DescribeVolumes", what, token => _ec2.DescribeAllVolumesAsync(new DescribeVolumesRequest { Filters = new List<Filter> { tag } }, token), ct).ConfigureAwait(false);
            found.AddRange(volumes.Where(v => v.State?.Value != "deleted").Select(v => Resource("volume", v.VolumeId, v.State?.Value, v.Tags)));

            IReadOnlyList<Image> images = await AwsCall.RunAsync("ec2:DescribeImages", what, token => _ec2.DescribeAllImagesAsync(new DescribeImagesRequest { Owners = new List<string> { "self" }, Filters = new List<Filter> { tag } }, token), ct).ConfigureAwait(false);
            found.AddRange(images.Where(i => i.State?.Value != "deregistered").Select(i => Resource("image", i.ImageId, i.State?.Value, i.Tags)));

            IReadOnlyList<SecurityGroup> groups = await AwsCall.RunAsync("ec2:DescribeSecurityGroups", what, token => _ec2.DescribeAllSecurityGroupsAsync(new DescribeSecurityGroupsRequest { Filters = new List<Filter> { tag } }, token), ct).ConfigureAwait(false);
            found.AddRange(groups.Select(g => Resource("security-group", g.GroupId, null, g.Tags)));
            return found;
        }

        /// <summary>
        /// Removes <paramref name="resources"/>: terminates the instances and waits until they are gone, deletes the
        /// volumes once detached, deregisters the AMIs, deletes the security groups once no interface uses them.
        /// Each failure is recorded on its resource (<see cref="RecoveryDrillResource.Error"/>) and the sweep goes on.
        /// </summary>
        public async Task RemoveAsync(IReadOnlyList<RecoveryDrillResource> resources, IOperationReporter reporter, CancellationToken ct)
        {
            using var progress = new ProgressActivity(reporter, "Removing recovery drill resources", $"{resources.Count} resource(s)");
            List<RecoveryDrillResource> instances = resources.Where(r => r.Kind == "instance" && !r.Removed).ToList();
            if (instances.Count > 0)
            {
                progress.Update("Terminating " + string.Join(", ", instances.Select(i => i.Id)), 10);
                CcieException? error = await AwsCall.TryRunAsync("ec2:TerminateInstances", instances.Select(i => i.Id).ToList(), token => _ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = instances.Select(i => i.Id).ToList() }, token), ct).ConfigureAwait(false);
                if (error is not null && !AwsRetry.IsNotFound(error))
                {
                    instances.ForEach(i => i.Error = error.Message);
                }
                else
                {
                    await WaitTerminatedAsync(instances, progress, ct).ConfigureAwait(false);
                }
            }

            // Volumes the drill created: the ones not deleted with the instance (data volumes are not DeleteOnTermination).
            foreach (RecoveryDrillResource volume in resources.Where(r => r.Kind == "volume" && !r.Removed))
            {
                progress.Update("Deleting volume " + volume.Id, 50);
                await RemoveOneAsync(volume, "ec2:DeleteVolume", token => _ec2.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = volume.Id }, token), "VolumeInUse", ct).ConfigureAwait(false);
            }

            foreach (RecoveryDrillResource image in resources.Where(r => r.Kind == "image" && !r.Removed))
            {
                progress.Update("Deregistering AMI " + image.Id, 70);
                await RemoveOneAsync(image, "ec2:DeregisterImage", token => _ec2.DeregisterImageAsync(new DeregisterImageRequest { ImageId = image.Id }, token), null, ct).ConfigureAwait(false);
            }

            foreach (RecoveryDrillResource group in resources.Where(r => r.Kind == "security-group" && !r.Removed))
            {
                progress.Update("Deleting security group " + group.Id, 90);
                await RemoveOneAsync(group, "ec2:DeleteSecurityGroup", token => _ec2.DeleteSecurityGroupAsync(new DeleteSecurityGroupRequest { GroupId = group.Id }, token), "DependencyViolation", ct).ConfigureAwait(false);
            }
        }

        private async Task WaitTerminatedAsync(List<RecoveryDrillResource> instances, ProgressActivity progress, CancellationToken ct)
        {
            try
            {
                await Waiter.UntilAsync(
                    async token =>
                    {
                        IReadOnlyList<Instance> now = await AwsCall.RunAsync("ec2:DescribeInstances", instances.Select(i => i.Id).ToList(), t => _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest { InstanceIds = instances.Select(i => i.Id).ToList() }, t), token).ConfigureAwait(false);
                        return now;
                    },
                    now =>
                    {
                        foreach (RecoveryDrillResource r in instances)
                        {
                            string? state = now.FirstOrDefault(i => i.InstanceId == r.Id)?.State?.Name?.Value;
                            r.State = state ?? "terminated";
                            r.Removed = r.State == "terminated";
                        }

                        progress.Update("Waiting for " + string.Join(", ", instances.Select(i => i.Id + " " + i.State)), 30);
                        return instances.All(i => i.Removed);
                    },
                    _wait,
                    "the drill's instances to terminate",
                    instances.Select(i => i.Id).ToList(),
                    ct,
                    notYet: AwsRetry.IsNotFound).ConfigureAwait(false);
            }
            catch (CcieException e)
            {
                foreach (RecoveryDrillResource r in instances.Where(i => !i.Removed))
                {
                    r.Error = e.Message;
                }
            }
        }

        // One delete, retried while AWS says the resource is still in use (a volume detaching, an interface going away).
        private async Task RemoveOneAsync(RecoveryDrillResource resource, string operation, Func<CancellationToken, Task> call, string? busyCode, CancellationToken ct)
        {
            try
            {
                await Waiter.UntilAsync(
                    async token =>
                    {
                        CcieException? error = await AwsCall.TryRunAsync(operation, resource.Id, call, token).ConfigureAwait(false);
                        if (error is null || AwsRetry.IsNotFound(error))
                        {
                            return true;
                        }

                        if (busyCode is not null && CodeOf(error) == busyCode)
                        {
                            return false;
                        }

                        throw error;
                    },
                    done => done,
                    _wait,
                    $"{resource.Kind} {resource.Id} to be deleted",
                    resource.Id,
                    ct).ConfigureAwait(false);
                resource.Removed = true;
                resource.Error = null;
            }
            catch (CcieException e)
            {
                resource.Error = e.Message;
            }
        }

        private static string? CodeOf(Exception e) => e is AmazonServiceException s ? s.ErrorCode : e.InnerException is null ? null : CodeOf(e.InnerException);

        private RecoveryDrillResource Resource(string kind, string id, string? state, List<Tag>? tags) => new RecoveryDrillResource
        {
            Kind = kind,
            Id = id,
            State = state,
            Region = _region,
            DrillId = tags?.FirstOrDefault(t => t.Key == RestoreNaming.DrillTag)?.Value ?? string.Empty,
        };
    }
}
