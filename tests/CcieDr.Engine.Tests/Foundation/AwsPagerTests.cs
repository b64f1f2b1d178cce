using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2.Model;
using Amazon.S3.Model;
using CcieDr.Engine;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Tests.Snapshots;
using Xunit;

namespace CcieDr.Engine.Tests.Foundation;

/// <summary>The one pagination helper: a fake service with scripted pages, and the simulator with small pages.</summary>
public class AwsPagerTests
{
    private sealed class FakeRequest
    {
        public string? Token { get; set; }
    }

    private sealed record FakePage(List<int>? Items, string? Next);

    [Fact]
    public async Task Follows_tokens_across_pages_and_treats_null_lists_as_empty()
    {
        var pages = new Dictionary<string, FakePage>
        {
            [""] = new FakePage(new List<int> { 1, 2 }, "t1"),
            ["t1"] = new FakePage(null, "t2"),
            ["t2"] = new FakePage(new List<int> { 3 }, ""),
        };
        var asked = new List<string?>();
        var request = new FakeRequest();
        IReadOnlyList<int> all = await AwsPager.AllAsync(
            request,
            (r, _) =>
            {
                asked.Add(r.Token);
                return Task.FromResult(pages[r.Token ?? string.Empty]);
            },
            p => p.Items,
            p => p.Next,
            (r, t) => r.Token = t,
            CancellationToken.None);
        Assert.Equal(new[] { 1, 2, 3 }, all);
        Assert.Equal(new string?[] { null, "t1", "t2" }, asked);
        Assert.Null(request.Token);
    }

    [Fact]
    public async Task A_token_handed_back_twice_is_a_clear_error_not_a_hang()
    {
        int calls = 0;
        var e = await Assert.ThrowsAsync<CcieException>(() => AwsPager.AllAsync(
            new FakeRequest(),
            (_, _) => Task.FromResult(new FakePage(new List<int> { ++calls }, "same")),
            p => p.Items,
            p => p.Next,
            (r, t) => r.Token = t,
            CancellationToken.None));
        Assert.Equal("AwsPaginationLoop", e.ErrorId);
        Assert.Equal(CcieErrorCategory.InvalidData, e.Category);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Cancellation_stops_between_pages()
    {
        using var cts = new CancellationTokenSource();
        int calls = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => AwsPager.AllAsync(
            new FakeRequest(),
            (_, _) =>
            {
                calls++;
                cts.Cancel();
                return Task.FromResult(new FakePage(new List<int> { calls }, "next" + calls));
            },
            p => p.Items,
            p => p.Next,
            (r, t) => r.Token = t,
            cts.Token));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task S3_continuation_tokens_are_followed_only_while_truncated()
    {
        var asked = new List<string?>();
        IReadOnlyList<S3Object> all = await AwsPager.AllAsync(
            new ListObjectsV2Request { BucketName = "b" },
            (r, _) =>
            {
                asked.Add(r.ContinuationToken);
                return Task.FromResult(r.ContinuationToken is null
                    ? new ListObjectsV2Response { S3Objects = new List<S3Object> { new() { Key = "a" } }, IsTruncated = true, NextContinuationToken = "c1" }
                    : new ListObjectsV2Response { S3Objects = new List<S3Object> { new() { Key = "b" } }, IsTruncated = false, NextContinuationToken = "ignored" });
            },
            p => p.S3Objects,
            p => p.IsTruncated == true ? p.NextContinuationToken : null,
            (r, t) => r.ContinuationToken = t,
            CancellationToken.None);
        Assert.Equal(new[] { "a", "b" }, all.Select(o => o.Key));
        Assert.Equal(new string?[] { null, "c1" }, asked);
    }

    [Fact]
    public async Task Ec2_reads_on_the_simulator_with_one_item_pages_return_everything()
    {
        await using var sim = await SnapshotSim.StartAsync();
        var whole = (await sim.Ec2().DescribeAllVolumesAsync(new DescribeVolumesRequest(), CancellationToken.None)).Select(v => v.VolumeId).OrderBy(v => v).ToList();
        var subnets = (await sim.Ec2().DescribeAllSubnetsAsync(new DescribeSubnetsRequest(), CancellationToken.None)).Count;
        var instances = (await sim.Ec2().DescribeAllInstancesAsync(new DescribeInstancesRequest(), CancellationToken.None)).Count;
        Assert.True(whole.Count >= 2, $"seed has {whole.Count} volumes");
        Assert.True(subnets >= 2, $"seed has {subnets} subnets");

        sim.Control.PageSize = 1;
        var (ec2, proxy) = Ec2Interceptor.Wrap(sim.Ec2(), (_, _) => null);
        var paged = (await ec2.DescribeAllVolumesAsync(new DescribeVolumesRequest(), CancellationToken.None)).Select(v => v.VolumeId).OrderBy(v => v).ToList();
        Assert.Equal(whole, paged);
        Assert.Equal(whole.Count, proxy.Calls.Count(c => c == "DescribeVolumesAsync"));
        Assert.Equal(subnets, (await ec2.DescribeAllSubnetsAsync(new DescribeSubnetsRequest(), CancellationToken.None)).Count);
        Assert.Equal(instances, (await ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest(), CancellationToken.None)).Count);
        Assert.True(proxy.Calls.Count(c => c == "DescribeSubnetsAsync") >= 2);
    }
}
