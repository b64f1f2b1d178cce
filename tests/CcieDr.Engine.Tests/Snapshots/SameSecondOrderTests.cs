using Amazon.EC2.Model;
using CcieDr.Engine.Recovery;
using Xunit;

namespace CcieDr.Engine.Tests.Snapshots;

/// <summary>
/// Points taken within one second: their ids (to the second, then a random suffix) and their snapshots' start
/// times (here to the second, as EC2 may report them) cannot tell them apart; the ccie:created-at tag does.
/// The ids below sort opposite to the order the points were taken in.
/// </summary>
public class SameSecondOrderTests
{
    private static readonly DateTime Second = new(2026, 11, 28, 14, 0, 0, DateTimeKind.Utc);

    // Taken first, second, third: the suffixes sort the other way round.
    private const string Oldest = "rp-20261128T140000Z-ffffffff";
    private const string Middle = "rp-20261128T140000Z-88888888";
    private const string Newest = "rp-20261128T140000Z-00000000";

    private static IEnumerable<Snapshot> Point(string rp, int milliseconds, int n)
    {
        ServicesBox box = RecoveryTagsTests.Box();
        DateTime createdAt = Second.AddMilliseconds(milliseconds);
        foreach ((ServicesBoxVolume v, int i) in box.Volumes.Select((v, i) => (v, i)))
        {
            Snapshot s = RecoveryTagsTests.SnapshotOf(box, v, rp, id: $"snap-{n:x4}{i:x4}");
            s.Tags = RecoveryTags.ToTagList(RecoveryTags.ForSnapshot(box, v, rp, null, createdAt));
            s.StartTime = Second;
            yield return s;
        }
    }

    private static List<Snapshot> ThreeInOneSecond()
        => Point(Oldest, 100, 1).Concat(Point(Middle, 500, 2)).Concat(Point(Newest, 900, 3)).ToList();

    [Fact]
    public void The_created_at_tag_is_written_to_the_100_ns_and_read_back()
    {
        DateTime t = Second.AddTicks(1234567);
        IDictionary<string, string> tags = RecoveryTags.ForPoint(RecoveryTagsTests.Box(), Newest, null, t);
        Assert.Equal("2026-11-28T14:00:00.1234567Z", tags[RecoveryTags.CreatedAt]);
        Assert.Contains(RecoveryTags.CreatedAt, RecoveryTags.PointKeys);
        DateTime? back = RecoveryTags.ParseCreatedAt(tags[RecoveryTags.CreatedAt]);
        Assert.Equal(t, back);
        Assert.Equal(DateTimeKind.Utc, back!.Value.Kind);
        Assert.Null(RecoveryTags.ParseCreatedAt("not a time"));
        Assert.Null(RecoveryTags.ParseCreatedAt(null));
    }

    [Fact]
    public void Points_of_one_second_are_listed_in_the_order_they_were_taken()
    {
        IReadOnlyList<RecoveryPoint> points = RecoveryPointCatalog.Group(ThreeInOneSecond(), "us-east-1");
        Assert.Equal(new[] { Newest, Middle, Oldest }, points.Select(p => p.RecoveryPointId));
        Assert.Equal(Second.AddMilliseconds(900), points[0].CreatedAt);
    }

    [Fact]
    public void Latest_picks_the_point_taken_last_within_the_second()
    {
        RecoveryPoint latest = Assert.Single(RecoveryPointCatalog.Apply(
            RecoveryPointCatalog.Group(ThreeInOneSecond(), "us-east-1"),
            new RecoveryPointFilter { Latest = true }));
        Assert.Equal(Newest, latest.RecoveryPointId);
    }

    [Fact]
    public void Keep_last_1_keeps_the_point_taken_last_within_the_second()
    {
        IReadOnlyList<RecoveryPoint> points = RecoveryPointCatalog.Group(ThreeInOneSecond(), "us-east-1");
        IReadOnlyList<RecoveryPointDecision> plan = SnapshotRemover.Evaluate(
            points,
            new SnapshotRetentionRequest { KeepLast = 1 },
            Second.AddHours(1),
            new Dictionary<string, IReadOnlyList<string>>());
        Assert.Equal(new[] { Newest }, plan.Where(d => d.Action == "Keep").Select(d => d.RecoveryPointId));
        Assert.Equal(new[] { Middle, Oldest }, plan.Where(d => d.Action == "Remove").Select(d => d.RecoveryPointId).OrderByDescending(x => x == Middle));
    }

    [Fact]
    public void Without_the_tag_start_time_orders_and_the_id_breaks_only_a_full_tie()
    {
        ServicesBox box = RecoveryTagsTests.Box();
        Snapshot later = RecoveryTagsTests.SnapshotOf(box, box.Volumes[0], Oldest, id: "snap-a");
        later.StartTime = Second.AddMilliseconds(700);
        Snapshot earlier = RecoveryTagsTests.SnapshotOf(box, box.Volumes[0], Newest, id: "snap-b");
        earlier.StartTime = Second.AddMilliseconds(200);
        IReadOnlyList<RecoveryPoint> points = RecoveryPointCatalog.Group(new[] { later, earlier }, "us-east-1");
        Assert.Equal(new[] { Oldest, Newest }, points.Select(p => p.RecoveryPointId));
        Assert.All(points, p => Assert.Null(p.CreatedAt));
    }

    [Fact]
    public void A_copy_keeps_the_tag_and_is_dated_by_it()
    {
        ServicesBox box = RecoveryTagsTests.Box();
        DateTime createdAt = Second.AddMilliseconds(640);
        Snapshot copy = RecoveryTagsTests.SnapshotOf(box, box.Volumes[0], Newest, id: "snap-copy");
        var tags = RecoveryTags.ForSnapshot(box, box.Volumes[0], Newest, null, createdAt);
        tags[RecoveryTags.SourceRegion] = "us-east-1";
        tags[RecoveryTags.SourceSnapshotId] = "snap-orig";
        copy.Tags = RecoveryTags.ToTagList(tags);
        copy.StartTime = Second.AddMinutes(5);
        RecoveryPoint p = RecoveryPointCatalog.BuildPoint(Newest, new[] { copy }, "us-west-2");
        Assert.Equal(createdAt, p.CreatedAt);
        Assert.Equal(createdAt, p.Created);
    }
}
