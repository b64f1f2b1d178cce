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

namespace CcieDr.Engine.Recovery.Restore
{
    // RestorePlanner, what an earlier run of the same restore created, and the plan of AWS calls the executor makes.
    public sealed partial class RestorePlanner
    {
        private static IEnumerable<KeyValuePair<string, string>> TagPairs(List<Tag>? tags) =>
            (tags ?? new List<Tag>()).Select(x => new KeyValuePair<string, string>(x.Key ?? string.Empty, x.Value ?? string.Empty));

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

            // A drill resumes only its own box; a real restore never takes over a drill's box.
            Instance? earlier = instances
                .Where(i => t.DrillId is null
                    ? !RestoreNaming.IsDrillResource(TagPairs(i.Tags))
                    : TagPairs(i.Tags).Any(p => p.Key == RestoreNaming.DrillTag && p.Value == t.DrillId))
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
}
