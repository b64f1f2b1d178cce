using Amazon.EC2.Model;
using CcieDr.Engine.Recovery;
using Xunit;

namespace CcieDr.Engine.Tests.Snapshots;

public class RecoveryPointCatalogTests
{
    private const string Rp1 = "rp-20261128T140000Z-0a1b2c3d";
    private const string Rp2 = "rp-20261129T140000Z-1a1b2c3d";

    private static List<Snapshot> Point(string rp, string rootState = "completed", string dataState = "completed", bool withData = true, string box = "circleci_services")
    {
        ServicesBox b = RecoveryTagsTests.Box(box);
        var list = new List<Snapshot> { RecoveryTagsTests.SnapshotOf(b, b.Volumes[0], rp, rootState, id: "snap-r" + rp[^8..]) };
        if (withData)
        {
            list.Add(RecoveryTagsTests.SnapshotOf(b, b.Volumes[1], rp, dataState, id: "snap-d" + rp[^8..]));
        }

        return list;
    }

    private static Snapshot Seed(string id, DateTime start, string description = "CircleCI Services box Backup taken at Sat Nov 28 14:00:00 UTC 2026") => new()
    {
        SnapshotId = id,
        VolumeId = "vol-root",
        VolumeSize = 50,
        State = "completed",
        Progress = "100%",
        StartTime = start,
        Description = description,
    };

    [Fact]
    public void Snapshots_group_into_points_newest_first_with_identity()
    {
        IReadOnlyList<RecoveryPoint> points = RecoveryPointCatalog.Group(Point(Rp1).Concat(Point(Rp2)), "us-east-1");

        Assert.Equal(new[] { Rp2, Rp1 }, points.Select(p => p.RecoveryPointId));
        RecoveryPoint p = points[0];
        Assert.Equal("completed", p.State);
        Assert.True(p.IsComplete);
        Assert.Equal(100, p.Progress);
        Assert.Equal(new DateTime(2026, 11, 29, 14, 0, 0, DateTimeKind.Utc), p.Created);
        Assert.Equal("us-east-1", p.Region);
        Assert.Equal("CcieDr", p.Origin);
        Assert.Equal(2, p.Snapshots.Count);
        Assert.Equal("/dev/sda1", p.Snapshots[0].DeviceName);
        Assert.True(p.Snapshots[0].IsRootDevice);
        Assert.Equal("/dev/xvdf", p.Snapshots[1].DeviceName);
        Assert.Equal("10.0.1.10", p.Identity.PrivateIpAddress);
        Assert.Equal("circleci_services", p.BoxName);
        Assert.Equal(2, p.ExpectedVolumeCount);
        Assert.StartsWith("CcieDr ", p.CreatedBy, StringComparison.Ordinal);
        Assert.Null(p.CopiedFrom);
    }

    [Fact]
    public void A_failed_snapshot_makes_the_point_error_and_not_complete()
    {
        List<Snapshot> snaps = Point(Rp1, dataState: "error");
        snaps[1].StateMessage = "internal error";
        RecoveryPoint p = Assert.Single(RecoveryPointCatalog.Group(snaps, "us-east-1"));
        Assert.Equal("error", p.State);
        Assert.False(p.IsComplete);
        Assert.Contains("/dev/xvdf", p.StateMessage, StringComparison.Ordinal);
        Assert.Contains("internal error", p.StateMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_volume_makes_the_point_incomplete_even_when_its_snapshots_completed()
    {
        RecoveryPoint p = Assert.Single(RecoveryPointCatalog.Group(Point(Rp1, withData: false), "us-east-1"));
        Assert.Equal("incomplete", p.State);
        Assert.False(p.IsComplete);
        Assert.Contains("1 of 2 volumes", p.StateMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pending_snapshot_makes_the_point_pending_with_average_progress()
    {
        RecoveryPoint p = Assert.Single(RecoveryPointCatalog.Group(Point(Rp1, rootState: "pending"), "us-east-1"));
        Assert.Equal("pending", p.State);
        Assert.False(p.IsComplete);
        Assert.Equal(70, p.Progress);
    }

    [Fact]
    public void Seed_snapshots_are_single_volume_points_and_ami_base_snapshots_are_not_points()
    {
        var start = new DateTime(2026, 11, 1, 3, 0, 0, DateTimeKind.Utc);
        IReadOnlyList<RecoveryPoint> points = RecoveryPointCatalog.Group(
            new[] { Seed("snap-0seed0001", start), Seed("snap-0base0001", start, "CircleCI Services base root") },
            "us-east-1");

        RecoveryPoint p = Assert.Single(points);
        Assert.Equal("snap-0seed0001", p.RecoveryPointId);
        Assert.Equal("Seed", p.Origin);
        Assert.Equal(start, p.Created);
        Assert.True(p.IsComplete);
        Assert.Null(p.Identity.SourceInstanceId);
        Assert.Null(p.ExpectedVolumeCount);
        Assert.Equal("vol-root", Assert.Single(p.Snapshots).VolumeId);
    }

    [Fact]
    public void Copies_know_where_they_came_from()
    {
        List<Snapshot> snaps = Point(Rp1);
        foreach (Snapshot s in snaps)
        {
            s.Tags.Add(new Tag { Key = RecoveryTags.SourceRegion, Value = "us-east-1" });
            s.Tags.Add(new Tag { Key = RecoveryTags.SourceSnapshotId, Value = "snap-src" });
            s.VolumeId = "vol-ffffffff";
        }

        RecoveryPoint p = Assert.Single(RecoveryPointCatalog.Group(snaps, "us-west-2"));
        Assert.Equal("us-east-1/" + Rp1, p.CopiedFrom);
        Assert.Equal("us-west-2", p.Region);
        Assert.All(p.Snapshots, s => Assert.Null(s.VolumeId));
        Assert.All(p.Snapshots, s => Assert.Equal("snap-src", s.SourceSnapshotId));
        Assert.True(p.IsComplete);
    }

    [Fact]
    public void Filters_select_by_state_time_box_and_latest()
    {
        List<Snapshot> all = Point(Rp1)
            .Concat(Point(Rp2, dataState: "error"))
            .Concat(Point("rp-20261127T140000Z-2a1b2c3d", box: "staging"))
            .Append(Seed("snap-0seed0001", new DateTime(2026, 11, 1, 3, 0, 0, DateTimeKind.Utc)))
            .ToList();
        IReadOnlyList<RecoveryPoint> points = RecoveryPointCatalog.Group(all, "us-east-1");
        Assert.Equal(4, points.Count);

        Assert.Equal(Rp1, Assert.Single(RecoveryPointCatalog.Apply(points, new RecoveryPointFilter { Latest = true })).RecoveryPointId);
        Assert.Equal(Rp2, Assert.Single(RecoveryPointCatalog.Apply(points, new RecoveryPointFilter { Latest = true, States = ["error"] })).RecoveryPointId);
        Assert.Equal(new[] { Rp1, "rp-20261127T140000Z-2a1b2c3d", "snap-0seed0001" }, RecoveryPointCatalog.Apply(points, new RecoveryPointFilter { States = ["completed"] }).Select(p => p.RecoveryPointId));
        Assert.Equal(new[] { "rp-20261127T140000Z-2a1b2c3d", "snap-0seed0001" }, RecoveryPointCatalog.Apply(points, new RecoveryPointFilter { Before = new DateTime(2026, 11, 28, 0, 0, 0, DateTimeKind.Utc) }).Select(p => p.RecoveryPointId));
        Assert.Equal(new[] { Rp2 }, RecoveryPointCatalog.Apply(points, new RecoveryPointFilter { After = new DateTime(2026, 11, 28, 14, 0, 0, DateTimeKind.Utc) }).Select(p => p.RecoveryPointId));
        Assert.Equal(new[] { "rp-20261127T140000Z-2a1b2c3d" }, RecoveryPointCatalog.Apply(points, new RecoveryPointFilter { BoxName = "staging" }).Select(p => p.RecoveryPointId));
        Assert.DoesNotContain(RecoveryPointCatalog.Apply(points, new RecoveryPointFilter { IncludeSeed = false }), p => p.Origin == "Seed");
        Assert.Equal(new[] { Rp1 }, RecoveryPointCatalog.Apply(points, new RecoveryPointFilter { RecoveryPointId = Rp1 }).Select(p => p.RecoveryPointId));
    }
}
