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
    /// <summary>What New-CcieServicesBoxImage makes.</summary>
    public sealed class ServicesBoxImageRequest
    {
        public ServicesBox Box { get; set; } = null!;

        /// <summary>Skip the reboot: the image is crash-consistent only.</summary>
        public bool NoReboot { get; set; }

        /// <summary>AMI name; default circleci-services-&lt;instance&gt;-&lt;UTC time&gt;.</summary>
        public string? Name { get; set; }

        /// <summary>App version to record (from Get-CcieApp), if known.</summary>
        public string? AppVersion { get; set; }

        public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(60);

        /// <summary>Return once CreateImage answered, without waiting for available.</summary>
        public bool NoWait { get; set; }
    }

    /// <summary>Images of the configured Services box: create (tagged like recovery points), list, remove safely.</summary>
    public sealed class ServicesBoxImageService
    {
        private readonly IAmazonEC2 _ec2;
        private readonly string _region;
        private readonly IOperationReporter _reporter;

        public ServicesBoxImageService(IAmazonEC2 ec2, string region, IOperationReporter? reporter = null)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
            _reporter = reporter ?? NullReporter.Instance;
        }

        internal WaitOptions? Polling { get; set; }

        internal Func<DateTime> Clock { get; set; } = () => DateTime.UtcNow;

        public static string DefaultName(ServicesBox box, DateTime utc)
            => "circleci-services-" + box.InstanceId + "-" + utc.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);

        /// <summary>The -WhatIf plan.</summary>
        public OperationPlan Plan(ServicesBoxImageRequest request)
        {
            ServicesBox box = request.Box;
            string name = request.Name ?? DefaultName(box, Clock());
            var plan = new OperationPlan("New-CcieServicesBoxImage", box.InstanceId);
            plan.Add("ec2:CreateImage", $"InstanceId={box.InstanceId} Name={name} NoReboot={(request.NoReboot ? "true" : "false")} volumes={string.Join(",", box.Volumes.Select(v => v.DeviceName + "=" + v.VolumeId))}", box.InstanceId);
            if (!request.NoReboot && box.State == "running")
            {
                plan.Notes.Add($"{box.InstanceId} reboots for a consistent file system: the app is unavailable for a few minutes.");
            }

            plan.Add("ec2:CreateTags", "image and its snapshots: the box's identity (as on recovery points), ccie:image-kind=services-box");
            if (!request.NoWait)
            {
                plan.Add("wait:image-available", $"timeout {request.Timeout.TotalMinutes:0} min");
            }

            return plan;
        }

        /// <summary>Tags of an image of <paramref name="box"/>: the recovery identity (no recovery-point id), kind, reboot and app version.</summary>
        public static IDictionary<string, string> ImageTags(ServicesBox box, string name, bool noReboot, string? appVersion, DateTime createdUtc)
        {
            IDictionary<string, string> tags = RecoveryTags.ForPoint(box, string.Empty, null, createdUtc);
            tags.Remove(RecoveryTags.RecoveryPoint);
            tags[FailoverTags.ImageKind] = FailoverTags.ImageKindValue;
            tags[FailoverTags.NoReboot] = noReboot ? "true" : "false";
            tags[RecoveryTags.Name] = name;
            if (!string.IsNullOrEmpty(appVersion))
            {
                tags[FailoverTags.AppVersion] = appVersion!;
            }

            return tags;
        }

        public async Task<ServicesBoxImage> CreateAsync(ServicesBoxImageRequest request, CancellationToken ct)
        {
            if (request?.Box is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            ServicesBox box = request.Box;
            if (box.State is not ("running" or "stopped"))
            {
                throw new CcieException("ServicesBoxNotImageable", CcieErrorCategory.InvalidOperation, $"{box.InstanceId} is {box.State}: an image can be made of a running or stopped box only. Wait until it is running or stopped, then rerun.", box.InstanceId);
            }

            if (request.NoReboot && box.State == "running")
            {
                _reporter.Warning($"-NoReboot: the image of {box.InstanceId} is taken while the app writes to /data; its file systems are crash-consistent only (like a power cut). Prefer the default reboot for a replica image, or stop the app first (Stop-CcieApp).");
            }

            var timeline = new Timeline(Clock);
            DateTime created = Clock();
            string name = request.Name ?? DefaultName(box, created);
            IDictionary<string, string> tags = ImageTags(box, name, request.NoReboot, request.AppVersion, created);
            var snapshotTags = new Dictionary<string, string>(tags, StringComparer.Ordinal);
            snapshotTags[RecoveryTags.Name] = name + " volume";
            tags[FailoverTags.Creation] = FailoverTags.CreationInProgress;

            string imageId = await timeline.RunAsync("ec2:CreateImage", box.InstanceId, async entry =>
            {
                // An image an earlier run began and did not finish (its answer lost, or the run stopped) is finished, not made again.
                Image? begun = await UnfinishedAsync(box.InstanceId, request, ct).ConfigureAwait(false);
                if (begun is not null)
                {
                    timeline.Complete(entry, "Reused", begun.ImageId, $"{begun.Name} ({begun.State?.Value}), begun by an earlier run");
                    return begun.ImageId;
                }

                CreateImageResponse r;
                try
                {
                    r = await CreateImageAsync(box, name, request.NoReboot, tags, snapshotTags, ct).ConfigureAwait(false);
                }
                catch (CcieException e) when (IsDuplicateOrUnanswered(e))
                {
                    // A retried call whose first try went through is refused as a duplicate name (or every answer was
                    // lost): the image of that name is the one this run made.
                    Image? made = await NamedAsync(name, ct).ConfigureAwait(false);
                    if (made is null)
                    {
                        throw;
                    }

                    timeline.Complete(entry, "Succeeded", made.ImageId, $"found by its name after: {e.Message.TrimEnd()}");
                    return made.ImageId;
                }

                timeline.Complete(entry, "Succeeded", r.ImageId, request.NoReboot ? "no reboot" : "rebooted");
                return r.ImageId;
            }).ConfigureAwait(false);

            Image image = request.NoWait
                ? await DescribeAsync(imageId, ct).ConfigureAwait(false) ?? new Image { ImageId = imageId, State = ImageState.Pending }
                : await timeline.RunAsync("wait:image-available", imageId, _ => WaitAvailableAsync(imageId, request.Timeout, ct)).ConfigureAwait(false);

            // The snapshots say whose they are, and the image is marked done (the last step: a rerun before it finishes it).
            List<string> snaps = SnapshotsOf(image);
            await timeline.RunAsync("ec2:CreateTags", string.Join(",", snaps.Concat(new[] { imageId })), async _ =>
            {
                if (snaps.Count > 0)
                {
                    await FailoverEc2.TagAsync(_ec2, snaps, new Dictionary<string, string> { [FailoverTags.ImageOf] = imageId }, ct).ConfigureAwait(false);
                }

                await FailoverEc2.TagAsync(_ec2, imageId, new Dictionary<string, string> { [FailoverTags.Creation] = FailoverTags.CreationDone }, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
            image = request.NoWait ? image : await DescribeAsync(imageId, ct).ConfigureAwait(false) ?? image;

            if (!request.NoWait && snaps.Count < box.Volumes.Count)
            {
                _reporter.Warning($"Image {imageId} has {snaps.Count} EBS snapshots but {box.InstanceId} has {box.Volumes.Count} volumes: a volume attached after the image began is not in it.");
            }

            ServicesBoxImage result = Read(image, Array.Empty<Instance>(), true);
            result.Timeline = timeline.Entries;
            return result;
        }

        private Task<CreateImageResponse> CreateImageAsync(ServicesBox box, string name, bool noReboot, IDictionary<string, string> tags, IDictionary<string, string> snapshotTags, CancellationToken ct)
            => AwsCall.RunAsync("ec2:CreateImage", box.InstanceId, token => _ec2.CreateImageAsync(new CreateImageRequest
                {
                    InstanceId = box.InstanceId,
                    Name = name,
                    Description = $"CircleCI Services box {box.InstanceId} ({box.Name}) for replicas, made by {RecoveryTags.CreatedByValue}",
                    NoReboot = noReboot,
                    TagSpecifications = new List<TagSpecification>
                    {
                        new TagSpecification { ResourceType = ResourceType.Image, Tags = RecoveryTags.ToTagList(tags) },
                        new TagSpecification { ResourceType = ResourceType.Snapshot, Tags = RecoveryTags.ToTagList(snapshotTags) },
                    },
                }, token), ct);

        /// <summary>A duplicate name (a retried call's first try went through) or a call whose answer never came.</summary>
        internal static bool IsDuplicateOrUnanswered(CcieException e)
            => e.InnerException is Amazon.Runtime.AmazonServiceException { ErrorCode: "InvalidAMIName.Duplicate" }
                || (e.InnerException is not Amazon.Runtime.AmazonServiceException { StatusCode: not 0 } && AwsRetry.IsTransient(e));

        /// <summary>This account's image named <paramref name="name"/> that is not deregistered or failed; null if none.</summary>
        internal static async Task<Image?> NamedAsync(IAmazonEC2 ec2, string name, CancellationToken ct)
        {
            IReadOnlyList<Image> found = await AwsCall.RunAsync("ec2:DescribeImages", "name " + name, token => ec2.DescribeAllImagesAsync(new DescribeImagesRequest { Owners = new List<string> { "self" }, Filters = new List<Filter> { Ec2Extensions.Filter("name", name) } }, token), ct).ConfigureAwait(false);
            return found.FirstOrDefault(i => i.Name == name && i.State?.Value is not ("deregistered" or "failed" or "error" or "invalid"));
        }

        private Task<Image?> NamedAsync(string name, CancellationToken ct) => NamedAsync(_ec2, name, ct);

        /// <summary>An image of the box an earlier run began and did not finish, made as <paramref name="request"/> asks; null if none.</summary>
        private async Task<Image?> UnfinishedAsync(string boxId, ServicesBoxImageRequest request, CancellationToken ct)
        {
            IReadOnlyList<Image> found = await AwsCall.RunAsync("ec2:DescribeImages", "unfinished images of " + boxId, token => _ec2.DescribeAllImagesAsync(new DescribeImagesRequest
            {
                Owners = new List<string> { "self" },
                Filters = new List<Filter>
                {
                    Ec2Extensions.Filter("tag:" + FailoverTags.ImageKind, FailoverTags.ImageKindValue),
                    Ec2Extensions.Filter("tag:" + RecoveryTags.SourceInstanceId, boxId),
                    Ec2Extensions.Filter("tag:" + FailoverTags.Creation, FailoverTags.CreationInProgress),
                },
            }, token), ct).ConfigureAwait(false);
            return found
                .Where(i => i.State?.Value is "pending" or "available")
                .Where(i => Tag(i, FailoverTags.NoReboot) == (request.NoReboot ? "true" : "false"))
                .Where(i => request.Name is null || i.Name == request.Name)
                .OrderByDescending(Created)
                .FirstOrDefault();
        }

        private async Task<Image> WaitAvailableAsync(string imageId, TimeSpan timeout, CancellationToken ct)
        {
            using var progress = new ProgressActivity(_reporter, "Image " + imageId, "Waiting for available");
            Image image = await Waiter.UntilAsync(
                async token => await DescribeAsync(imageId, token).ConfigureAwait(false) ?? throw new CcieException("ImageNotFound", CcieErrorCategory.ObjectNotFound, $"Image {imageId} disappeared while it was being made.", imageId),
                i => i.State?.Value is "available" or "failed" or "error" or "invalid" or "deregistered",
                (Polling ?? WaitOptions.Default()).WithTimeout(timeout),
                $"image {imageId} to become available",
                imageId,
                ct,
                i => i.State?.Value ?? "unknown",
                p => progress.Update($"{imageId}: {p.Last?.State?.Value ?? "…"} ({p.Elapsed.TotalSeconds:0}s)"),
                AwsRetry.IsNotFound).ConfigureAwait(false);
            if (image.State?.Value != "available")
            {
                throw new CcieException("ImageFailed", CcieErrorCategory.InvalidData, $"Image {imageId} ended {image.State?.Value}: {image.StateReason?.Message}. Remove it (Remove-CcieServicesBoxImage -ImageId {imageId} -Force) and make a new one.", imageId);
            }

            return image;
        }

        private async Task<Image?> DescribeAsync(string imageId, CancellationToken ct)
        {
            DescribeImagesResponse r = await AwsCall.RunAsync("ec2:DescribeImages", imageId, token => _ec2.DescribeImagesAsync(new DescribeImagesRequest { ImageIds = new List<string> { imageId } }, token), ct).ConfigureAwait(false);
            return r.Images?.FirstOrDefault();
        }

        /// <summary>Images made by New-CcieServicesBoxImage, newest first (of one box when <paramref name="sourceInstanceId"/> is given).</summary>
        public async Task<IReadOnlyList<ServicesBoxImage>> ListAsync(string? sourceInstanceId, CancellationToken ct)
        {
            var filters = new List<Filter> { Ec2Extensions.Filter("tag:" + FailoverTags.ImageKind, FailoverTags.ImageKindValue) };
            if (!string.IsNullOrEmpty(sourceInstanceId))
            {
                filters.Add(Ec2Extensions.Filter("tag:" + RecoveryTags.SourceInstanceId, sourceInstanceId!));
            }

            IReadOnlyList<Image> images = await AwsCall.RunAsync("ec2:DescribeImages", "ccie:image-kind=services-box", token => _ec2.DescribeAllImagesAsync(new DescribeImagesRequest { Owners = new List<string> { "self" }, Filters = filters }, token), ct).ConfigureAwait(false);
            IReadOnlyList<Instance> replicas = images.Count == 0 ? Array.Empty<Instance>() : await AwsCall.RunAsync("ec2:DescribeInstances", "replicas", token => _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest
            {
                Filters = new List<Filter>
                {
                    Ec2Extensions.Filter("tag:" + FailoverTags.LaunchedFromImage, images.Select(i => i.ImageId).ToArray()),
                    Ec2Extensions.Filter("instance-state-name", "pending", "running", "stopping", "stopped"),
                },
            }, token), ct).ConfigureAwait(false);

            var newest = images
                .Where(i => i.State?.Value == "available")
                .GroupBy(i => Tag(i, RecoveryTags.SourceInstanceId) ?? string.Empty)
                .Select(g => g.OrderByDescending(Created).First().ImageId)
                .ToList();
            return images
                .OrderByDescending(Created)
                .Select(i => Read(i, replicas, newest.Contains(i.ImageId)))
                .ToList();
        }

        /// <summary>
        /// Deregisters the image and deletes its snapshots. Refuses the newest image of a box and one a live replica
        /// was launched from unless <paramref name="force"/>.
        /// </summary>
        public async Task<ServicesBoxImage> RemoveAsync(ServicesBoxImage image, bool force, CancellationToken ct)
        {
            if (image is null)
            {
                throw new ArgumentNullException(nameof(image));
            }

            if (!force && image.IsNewest)
            {
                throw new CcieException("ImageIsNewest", CcieErrorCategory.InvalidOperation, $"{image.ImageId} is the newest image of {image.SourceInstanceId}: a replica rebuild needs it. Make a newer one first (New-CcieServicesBoxImage), or pass -Force (and confirm) to remove it anyway.", image.ImageId);
            }

            if (!force && image.ReplicaInstanceIds.Count > 0)
            {
                throw new CcieException("ImageInUse", CcieErrorCategory.InvalidOperation, $"{image.ImageId} is the image replica(s) {string.Join(", ", image.ReplicaInstanceIds)} were launched from (Update-CcieReplica -Replace rebuilds from it). Rebuild them from a newer image first, or pass -Force (and confirm).", image.ImageId);
            }

            var timeline = new Timeline(Clock);
            await timeline.RunAsync("ec2:DeregisterImage", image.ImageId, _ => AwsCall.RunAsync("ec2:DeregisterImage", image.ImageId, token => _ec2.DeregisterImageAsync(new DeregisterImageRequest { ImageId = image.ImageId }, token), ct)).ConfigureAwait(false);
            var failures = new List<CcieException>();
            foreach (string snap in image.SnapshotIds)
            {
                TimelineEntry entry = timeline.Begin("ec2:DeleteSnapshot", snap);
                CcieException? error = await AwsCall.TryRunAsync("ec2:DeleteSnapshot", snap, token => _ec2.DeleteSnapshotAsync(new DeleteSnapshotRequest { SnapshotId = snap }, token), ct).ConfigureAwait(false);
                if (error is null || error.Category == CcieErrorCategory.ObjectNotFound)
                {
                    timeline.Complete(entry, error is null ? "Succeeded" : "Skipped", snap, error is null ? null : "already gone");
                }
                else
                {
                    timeline.Fail(entry, error);
                    failures.Add(error);
                }
            }

            image.Timeline = timeline.Entries;
            if (failures.Count > 0)
            {
                throw new CcieException("ImageSnapshotsLeft", failures[0].Category, $"{image.ImageId} is deregistered but {failures.Count} of its snapshots could not be deleted ({failures[0].Message}). Delete them with: aws ec2 delete-snapshot --snapshot-id <id> (ids in the timeline).", image);
            }

            image.Removed = true;
            image.State = "deregistered";
            return image;
        }

        private ServicesBoxImage Read(Image i, IReadOnlyList<Instance> replicas, bool newest)
        {
            IReadOnlyDictionary<string, string> tags = (i.Tags ?? new List<Tag>()).ToDictionary();
            return new ServicesBoxImage
            {
                ImageId = i.ImageId,
                Region = _region,
                Name = i.Name,
                State = i.State?.Value ?? "unknown",
                SourceInstanceId = Tag(i, RecoveryTags.SourceInstanceId),
                BoxName = Tag(i, RecoveryTags.BoxName),
                AppVersion = Tag(i, FailoverTags.AppVersion),
                Created = Created(i),
                NoReboot = Tag(i, FailoverTags.NoReboot) == "true",
                IsNewest = newest,
                SnapshotIds = SnapshotsOf(i),
                ReplicaInstanceIds = replicas.Where(r => FailoverEc2.Tag(r, FailoverTags.LaunchedFromImage) == i.ImageId).Select(r => r.InstanceId).ToList(),
                Identity = RecoveryTags.ReadIdentity(tags),
            };
        }

        private static List<string> SnapshotsOf(Image i)
            => (i.BlockDeviceMappings ?? new List<BlockDeviceMapping>()).Select(b => b.Ebs?.SnapshotId).Where(s => !string.IsNullOrEmpty(s)).Select(s => s!).ToList();

        private static string? Tag(Image i, string key) => i.Tags?.FirstOrDefault(t => t.Key == key)?.Value is { Length: > 0 } v ? v : null;

        private static DateTime Created(Image i)
            => RecoveryTags.ParseCreatedAt(Tag(i, RecoveryTags.CreatedAt))
                ?? (DateTime.TryParse(i.CreationDate, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime t) ? DateTime.SpecifyKind(t, DateTimeKind.Utc) : DateTime.MinValue);
    }
}
