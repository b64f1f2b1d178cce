using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery
{
    /// <summary>
    /// EC2 snapshot calls shared by the snapshot operations: eventual-consistency tolerant reads and tagging,
    /// AMI usage, and the clean-up of duplicates a lost response can cause (CreateSnapshot(s) has no client token).
    /// </summary>
    internal static class SnapshotCalls
    {
        /// <summary>How many times a just-created id is looked up again while EC2 still says NotFound.</summary>
        internal const int NotFoundRetries = 8;

        /// <summary>How many times the clean-up of duplicates lists a point's snapshots (tag filters lag).</summary>
        internal const int DuplicateLooks = 3;

        /// <summary>Describes snapshots by id; ids EC2 does not know yet (eventual consistency) are retried, then reported missing.</summary>
        public static async Task<(IReadOnlyList<Snapshot> Found, IReadOnlyList<string> Missing)> DescribeByIdsAsync(IAmazonEC2 ec2, IReadOnlyCollection<string> ids, int notFoundRetries, CancellationToken ct)
        {
            var found = new Dictionary<string, Snapshot>(StringComparer.Ordinal);
            var pending = new List<string>(ids.Distinct(StringComparer.Ordinal));
            if (pending.Count > 0)
            {
                await AwsRetryPolicy.Default(notFoundRetries + 1).UntilAsync(
                    async (_, token) =>
                    {
                        await DescribePassAsync(ec2, found, pending, token).ConfigureAwait(false);
                        return pending.Count;
                    },
                    left => left == 0,
                    null,
                    ct).ConfigureAwait(false);
            }

            return (found.Values.ToList(), pending);
        }

        /// <summary>One look-up of the <paramref name="pending"/> ids; what EC2 knows moves to <paramref name="found"/>.</summary>
        private static async Task DescribePassAsync(IAmazonEC2 ec2, Dictionary<string, Snapshot> found, List<string> pending, CancellationToken ct)
        {
            try
            {
                Keep(found, pending, await DescribeIdsAsync(ec2, pending.ToList(), ct).ConfigureAwait(false));
            }
            catch (CcieException e) when (AwsRetry.IsNotFound(e))
            {
                // One unknown id fails the whole call: ask for the ids one by one.
                foreach (string id in pending.ToList())
                {
                    try
                    {
                        Keep(found, pending, await DescribeIdsAsync(ec2, new List<string> { id }, ct).ConfigureAwait(false));
                    }
                    catch (CcieException inner) when (AwsRetry.IsNotFound(inner))
                    {
                        // still unknown
                    }
                }
            }
        }

        private static Task<IReadOnlyList<Snapshot>> DescribeIdsAsync(IAmazonEC2 ec2, List<string> ids, CancellationToken ct)
            => AwsCall.RunAsync("ec2:DescribeSnapshots", string.Join(",", ids), token => ec2.DescribeAllSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = ids }, token), ct);

        private static void Keep(Dictionary<string, Snapshot> found, List<string> pending, IReadOnlyList<Snapshot> page)
        {
            foreach (Snapshot s in page.Where(s => s.SnapshotId is not null))
            {
                found[s.SnapshotId!] = s;
            }

            pending.RemoveAll(found.ContainsKey);
        }

        /// <summary>Snapshots tagged with the recovery point id (a tag filter: new ones may show up late).</summary>
        public static async Task<IReadOnlyList<Snapshot>> DescribeByPointAsync(IAmazonEC2 ec2, string recoveryPointId, IEnumerable<Filter>? extra, CancellationToken ct)
        {
            var filters = new List<Filter> { Ec2Extensions.Filter("tag:" + RecoveryTags.RecoveryPoint, recoveryPointId) };
            if (extra is not null)
            {
                filters.AddRange(extra);
            }

            return await AwsCall.RunAsync(
                "ec2:DescribeSnapshots",
                recoveryPointId,
                token => ec2.DescribeAllSnapshotsAsync(new DescribeSnapshotsRequest { OwnerIds = new List<string> { "self" }, Filters = filters }, token),
                ct).ConfigureAwait(false);
        }

        /// <summary>Tags one resource, retrying while EC2 does not know the new id yet.</summary>
        public static async Task TagAsync(IAmazonEC2 ec2, string resourceId, IEnumerable<KeyValuePair<string, string>> tags, CancellationToken ct)
        {
            var request = new CreateTagsRequest { Resources = new List<string> { resourceId }, Tags = RecoveryTags.ToTagList(tags) };
            await AwsCall.RunAsync(
                "ec2:CreateTags",
                resourceId,
                token => AwsRetryPolicy.Default(NotFoundRetries + 1).RunAsync(
                    t => ec2.CreateTagsAsync(request, t),
                    e => AwsRetry.IsNotFound(e) || AwsRetry.IsTransient(e, token),
                    token),
                ct).ConfigureAwait(false);
        }

        /// <summary>AMIs (owned by this account) that use each snapshot: snapshot id → image ids.</summary>
        public static async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> ImagesUsingAsync(IAmazonEC2 ec2, IEnumerable<string> snapshotIds, CancellationToken ct)
        {
            var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            List<string> ids = snapshotIds.Distinct(StringComparer.Ordinal).ToList();
            for (int i = 0; i < ids.Count; i += 100)
            {
                List<string> chunk = ids.Skip(i).Take(100).ToList();
                IReadOnlyList<Image> images = await AwsCall.RunAsync(
                    "ec2:DescribeImages",
                    string.Join(",", chunk),
                    token => ec2.DescribeAllImagesAsync(
                        new DescribeImagesRequest { Owners = new List<string> { "self" }, Filters = new List<Filter> { Ec2Extensions.Filter("block-device-mapping.snapshot-id", chunk.ToArray()) } },
                        token),
                    ct).ConfigureAwait(false);

                foreach (Image image in images)
                {
                    foreach (BlockDeviceMapping m in image.BlockDeviceMappings ?? new List<BlockDeviceMapping>())
                    {
                        string? snap = m.Ebs?.SnapshotId;
                        if (snap is not null && chunk.Contains(snap, StringComparer.Ordinal) && image.ImageId is not null)
                        {
                            List<string> users = result.TryGetValue(snap, out IReadOnlyList<string>? existing) ? existing.ToList() : new List<string>();
                            if (!users.Contains(image.ImageId, StringComparer.Ordinal))
                            {
                                users.Add(image.ImageId);
                            }

                            result[snap] = users;
                        }
                    }
                }
            }

            return result;
        }
    }
}
