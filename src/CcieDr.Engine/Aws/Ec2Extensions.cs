using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;

namespace CcieDr.Engine.Aws
{
    /// <summary>Paginated EC2 reads (the SDK v4 leaves empty lists null; these never return null).</summary>
    public static class Ec2Extensions
    {
        public static Filter Filter(string name, params string[] values) => new Filter { Name = name, Values = values.ToList() };

        public static async Task<IReadOnlyList<Instance>> DescribeAllInstancesAsync(this IAmazonEC2 ec2, DescribeInstancesRequest request, CancellationToken ct)
        {
            var result = new List<Instance>();
            string? token = null;
            do
            {
                request.NextToken = token;
                DescribeInstancesResponse page = await ec2.DescribeInstancesAsync(request, ct).ConfigureAwait(false);
                foreach (Reservation r in page.Reservations ?? new List<Reservation>())
                {
                    result.AddRange(r.Instances ?? new List<Instance>());
                }

                token = page.NextToken;
            }
            while (!string.IsNullOrEmpty(token));
            return result;
        }

        public static async Task<IReadOnlyList<Volume>> DescribeAllVolumesAsync(this IAmazonEC2 ec2, DescribeVolumesRequest request, CancellationToken ct)
        {
            var result = new List<Volume>();
            string? token = null;
            do
            {
                request.NextToken = token;
                DescribeVolumesResponse page = await ec2.DescribeVolumesAsync(request, ct).ConfigureAwait(false);
                result.AddRange(page.Volumes ?? new List<Volume>());
                token = page.NextToken;
            }
            while (!string.IsNullOrEmpty(token));
            return result;
        }

        public static async Task<IReadOnlyList<Snapshot>> DescribeAllSnapshotsAsync(this IAmazonEC2 ec2, DescribeSnapshotsRequest request, CancellationToken ct)
        {
            var result = new List<Snapshot>();
            string? token = null;
            do
            {
                request.NextToken = token;
                DescribeSnapshotsResponse page = await ec2.DescribeSnapshotsAsync(request, ct).ConfigureAwait(false);
                result.AddRange(page.Snapshots ?? new List<Snapshot>());
                token = page.NextToken;
            }
            while (!string.IsNullOrEmpty(token));
            return result;
        }

        public static async Task<IReadOnlyList<Image>> DescribeAllImagesAsync(this IAmazonEC2 ec2, DescribeImagesRequest request, CancellationToken ct)
        {
            var result = new List<Image>();
            string? token = null;
            do
            {
                request.NextToken = token;
                DescribeImagesResponse page = await ec2.DescribeImagesAsync(request, ct).ConfigureAwait(false);
                result.AddRange(page.Images ?? new List<Image>());
                token = page.NextToken;
            }
            while (!string.IsNullOrEmpty(token));
            return result;
        }

        public static IReadOnlyDictionary<string, string> ToDictionary(this List<Tag>? tags)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Tag t in tags ?? new List<Tag>())
            {
                if (t.Key is not null)
                {
                    result[t.Key] = t.Value ?? string.Empty;
                }
            }

            return result;
        }
    }
}
