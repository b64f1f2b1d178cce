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

        /// <summary>Every instance of every page (reservations flattened).</summary>
        public static Task<IReadOnlyList<Instance>> DescribeAllInstancesAsync(this IAmazonEC2 ec2, DescribeInstancesRequest request, CancellationToken ct)
            => AwsPager.AllAsync(request, ec2.DescribeInstancesAsync, p => p.Reservations?.SelectMany(r => r.Instances ?? new List<Instance>()), p => p.NextToken, (r, t) => r.NextToken = t, ct);

        /// <summary>Every volume of every page.</summary>
        public static Task<IReadOnlyList<Volume>> DescribeAllVolumesAsync(this IAmazonEC2 ec2, DescribeVolumesRequest request, CancellationToken ct)
            => AwsPager.AllAsync(request, ec2.DescribeVolumesAsync, p => p.Volumes, p => p.NextToken, (r, t) => r.NextToken = t, ct);

        /// <summary>Every snapshot of every page.</summary>
        public static Task<IReadOnlyList<Snapshot>> DescribeAllSnapshotsAsync(this IAmazonEC2 ec2, DescribeSnapshotsRequest request, CancellationToken ct)
            => AwsPager.AllAsync(request, ec2.DescribeSnapshotsAsync, p => p.Snapshots, p => p.NextToken, (r, t) => r.NextToken = t, ct);

        /// <summary>Every image of every page.</summary>
        public static Task<IReadOnlyList<Image>> DescribeAllImagesAsync(this IAmazonEC2 ec2, DescribeImagesRequest request, CancellationToken ct)
            => AwsPager.AllAsync(request, ec2.DescribeImagesAsync, p => p.Images, p => p.NextToken, (r, t) => r.NextToken = t, ct);

        /// <summary>Every subnet of every page.</summary>
        public static Task<IReadOnlyList<Subnet>> DescribeAllSubnetsAsync(this IAmazonEC2 ec2, DescribeSubnetsRequest request, CancellationToken ct)
            => AwsPager.AllAsync(request, ec2.DescribeSubnetsAsync, p => p.Subnets, p => p.NextToken, (r, t) => r.NextToken = t, ct);

        /// <summary>Every security group of every page.</summary>
        public static Task<IReadOnlyList<SecurityGroup>> DescribeAllSecurityGroupsAsync(this IAmazonEC2 ec2, DescribeSecurityGroupsRequest request, CancellationToken ct)
            => AwsPager.AllAsync(request, ec2.DescribeSecurityGroupsAsync, p => p.SecurityGroups, p => p.NextToken, (r, t) => r.NextToken = t, ct);

        /// <summary>Every network interface of every page.</summary>
        public static Task<IReadOnlyList<NetworkInterface>> DescribeAllNetworkInterfacesAsync(this IAmazonEC2 ec2, DescribeNetworkInterfacesRequest request, CancellationToken ct)
            => AwsPager.AllAsync(request, ec2.DescribeNetworkInterfacesAsync, p => p.NetworkInterfaces, p => p.NextToken, (r, t) => r.NextToken = t, ct);

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
