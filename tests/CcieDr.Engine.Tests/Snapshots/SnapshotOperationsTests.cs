using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;
using CcieDr.Engine.Tests.Restore;
using Xunit;

namespace CcieDr.Engine.Tests.Snapshots;

/// <summary>
/// The orchestration the snapshot cmdlets used to hold, now engine operations: per-region clients, waiting for
/// many points at once, the one "no such point" error, and finding exactly one Services box.
/// </summary>
public class SnapshotOperationsTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private sealed class Counted : IDisposable
    {
        public Counted(string region) => Region = region;

        public string Region { get; }

        public int Disposed { get; private set; }

        public void Dispose() => Disposed++;
    }

    [Fact]
    public void Regional_clients_make_one_client_per_region_and_dispose_each_once()
    {
        var made = new List<Counted>();
        var clients = new RegionalClients<Counted>(r => { var c = new Counted(r); lock (made) { made.Add(c); } return c; });
        Parallel.For(0, 200, i => Assert.Equal(i % 2 == 0 ? "us-east-1" : "us-west-2", clients.For(i % 2 == 0 ? "us-east-1" : "us-west-2").Region));
        Assert.Equal(new[] { "us-east-1", "us-west-2" }, made.Select(c => c.Region).OrderBy(r => r, StringComparer.Ordinal));
        Assert.Same(clients.For("us-east-1"), clients.For("us-east-1"));
        clients.Dispose();
        clients.Dispose();
        Assert.All(made, c => Assert.Equal(1, c.Disposed));
        Assert.Throws<ObjectDisposedException>(() => clients.For("us-east-1"));
        Assert.Throws<ArgumentException>(() => new RegionalClients<Counted>(r => new Counted(r)).For(string.Empty));
    }

    [Fact]
    public async Task Waits_for_every_point_once_reports_unknown_ids_and_keeps_going()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 ec2 = sim.Ec2();
        ServicesBox box = await sim.BoxAsync(ec2);
        var creator = new SnapshotCreator(ec2, SnapshotSim.Region);
        RecoveryPoint a = await creator.CreateAsync(box, new NewSnapshotRequest { Label = "a" }, Ct);
        RecoveryPoint b = await creator.CreateAsync(box, new NewSnapshotRequest { Label = "b" }, Ct);
        const string Unknown = "rp-20200101T000000Z-00000000";
        var items = new[]
        {
            new RecoveryPointWaitItem(SnapshotSim.Region, a.RecoveryPointId, a),
            new RecoveryPointWaitItem(SnapshotSim.Region, b.RecoveryPointId),
            new RecoveryPointWaitItem(SnapshotSim.Region, a.RecoveryPointId), // the same point twice: waited for once
            new RecoveryPointWaitItem(SnapshotSim.Region, Unknown),
        };
        var completed = new List<RecoveryPoint>();
        var failed = new List<CcieException>();
        var reporter = new RecordingReporter();

        await RecoveryPointWaits.WaitAllAsync(items, _ => ec2, SnapshotSim.FastWait(), reporter, p => { lock (completed) { completed.Add(p); } }, e => { lock (failed) { failed.Add(e); } }, Ct);

        Assert.Equal(new[] { a.RecoveryPointId, b.RecoveryPointId }.OrderBy(x => x, StringComparer.Ordinal), completed.Select(p => p.RecoveryPointId).OrderBy(x => x, StringComparer.Ordinal));
        Assert.All(completed, p => Assert.True(p.IsComplete));
        CcieException e = Assert.Single(failed);
        Assert.Equal("RecoveryPointNotFound", e.ErrorId);
        Assert.Equal(CcieErrorCategory.ObjectNotFound, e.Category);
        Assert.Equal(Unknown, e.Target);
        Assert.Contains("Get-CcieSnapshot -Region us-east-1", e.Message);
        Assert.Contains(reporter.Progress, u => u.Completed && u.Activity == "Wait-CcieSnapshot");
    }

    [Fact]
    public async Task Get_required_names_the_region_and_how_to_list_points()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        var e = await Assert.ThrowsAsync<CcieException>(() => RecoveryPointCatalog.GetRequiredAsync(sim.Ec2(), SnapshotSim.Region, "rp-20200101T000000Z-0000abcd", Ct));
        Assert.Equal("RecoveryPointNotFound", e.ErrorId);
        Assert.Contains("us-east-1", e.Message);
    }

    [Fact]
    public async Task Find_one_box_refuses_none_and_two_with_the_fix_in_the_message()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 ec2 = sim.Ec2();
        var locator = new ServicesBoxLocator(ec2, SnapshotSim.Region);
        Assert.Equal(sim.Seed.ServicesInstanceId, (await locator.FindOneAsync(new ServicesBoxQuery(), Ct)).InstanceId);

        var none = await Assert.ThrowsAsync<CcieException>(() => locator.FindOneAsync(new ServicesBoxQuery { InstanceIds = new[] { "i-0123456789abcdef0" } }, Ct));
        Assert.Equal("ServicesBoxNotFound", none.ErrorId);
        Assert.Contains("i-0123456789abcdef0", none.Message);
        var noName = await Assert.ThrowsAsync<CcieException>(() => locator.FindOneAsync(new ServicesBoxQuery { Name = "no-such-box" }, Ct));
        Assert.Contains("tag Name=no-such-box", noName.Message);

        await ec2.CreateTagsAsync(new CreateTagsRequest { Resources = new List<string> { sim.Seed.BuilderInstanceIds[0] }, Tags = new List<Tag> { new("Name", ServicesBoxQuery.DefaultName) } }, Ct);
        var two = await Assert.ThrowsAsync<CcieException>(() => locator.FindOneAsync(new ServicesBoxQuery(), Ct));
        Assert.Equal("ServicesBoxAmbiguous", two.ErrorId);
        Assert.Equal(CcieErrorCategory.InvalidArgument, two.Category);
        Assert.Contains(sim.Seed.ServicesInstanceId, two.Message);
        Assert.Contains(sim.Seed.BuilderInstanceIds[0], two.Message);
        Assert.Contains("-InstanceId", two.Message);
    }

    [Fact]
    public async Task A_retention_policy_without_rules_or_with_a_negative_span_is_refused_before_any_call()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        var remover = new SnapshotRemover(sim.Ec2(), SnapshotSim.Region);
        int before = sim.Control.RequestLog("DescribeSnapshots").Count;

        var empty = await Assert.ThrowsAsync<CcieException>(() => remover.PlanPolicyAsync(new SnapshotRetentionRequest(), Ct));
        Assert.Equal("RetentionPolicyEmpty", empty.ErrorId);
        var negative = await Assert.ThrowsAsync<CcieException>(() => remover.PlanPolicyAsync(new SnapshotRetentionRequest { OlderThan = TimeSpan.FromDays(-1) }, Ct));
        Assert.Equal("InvalidOlderThan", negative.ErrorId);
        Assert.Equal(CcieErrorCategory.InvalidArgument, negative.Category);
        Assert.Equal(before, sim.Control.RequestLog("DescribeSnapshots").Count);
    }
}
