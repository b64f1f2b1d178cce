using Amazon.EC2.Model;
using CcieDr.Engine.Recovery;
using Xunit;

namespace CcieDr.Engine.Tests.Snapshots;

/// <summary>Retention over recovery points: a year of synthetic daily points, per policy, with the guarantees.</summary>
public class SnapshotRetentionTests
{
    // "Now" is one hour after the newest daily point (taken at 02:00 every day of the year up to 2026-11-28).
    private static readonly DateTime Now = new(2026, 11, 28, 3, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime First = new(2025, 11, 29, 2, 0, 0, DateTimeKind.Utc);

    private static string Id(DateTime t, int n = 0) => $"rp-{t:yyyyMMdd'T'HHmmss'Z'}-{n:x8}";

    private static RecoveryPoint Point(DateTime t, string state = "completed", string box = "circleci_services", int n = 0, string? drill = null)
    {
        ServicesBox b = RecoveryTagsTests.Box(box);
        string rp = Id(t, n);
        var snaps = new List<Snapshot>
        {
            RecoveryTagsTests.SnapshotOf(b, b.Volumes[0], rp, state == "pending" ? "pending" : "completed", id: $"snap-r{n:x4}{t:MMddHH}"),
        };
        if (state != "incomplete")
        {
            snaps.Add(RecoveryTagsTests.SnapshotOf(b, b.Volumes[1], rp, state == "error" ? "error" : state == "pending" ? "pending" : "completed", id: $"snap-d{n:x4}{t:MMddHH}"));
        }

        if (drill is not null)
        {
            foreach (Snapshot s in snaps)
            {
                s.Tags.Add(new Tag(RecoveryTags.DrillVerdict, drill));
                s.Tags.Add(new Tag(RecoveryTags.DrillAt, t.AddHours(1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture)));
                s.Tags.Add(new Tag(RecoveryTags.DrillRtoSeconds, "420"));
            }
        }

        return RecoveryPointCatalog.BuildPoint(rp, snaps, "us-east-1");
    }

    [Fact]
    public void The_newest_verified_point_is_kept_by_every_policy_unless_IncludeNewest()
    {
        List<RecoveryPoint> year = Year();
        DateTime verifiedAt = Now.AddDays(-40).Date.AddHours(2);
        DateTime olderVerified = Now.AddDays(-60).Date.AddHours(2);
        DateTime failedAt = Now.AddDays(-20).Date.AddHours(2);
        year.RemoveAll(p => p.Created == verifiedAt || p.Created == olderVerified || p.Created == failedAt);
        year.Add(Point(verifiedAt, drill: "Passed"));
        year.Add(Point(olderVerified, drill: "Passed"));
        year.Add(Point(failedAt, drill: "Failed"));

        RecoveryPoint verified = year.Single(p => p.Created == verifiedAt);
        Assert.True(verified.Verified);
        Assert.Equal(TimeSpan.FromSeconds(420), verified.LastDrillRto);
        Assert.False(year.Single(p => p.Created == failedAt).Verified);

        IReadOnlyList<RecoveryPointDecision> d = Evaluate(year, new SnapshotRetentionRequest { KeepDaily = 7 });
        RecoveryPointDecision keep = d.Single(x => x.RecoveryPointId == verified.RecoveryPointId);
        Assert.Equal("Keep", keep.Action);
        Assert.StartsWith("newest verified (drill passed ", keep.Reason, StringComparison.Ordinal);
        Assert.Equal("Remove", d.Single(x => x.Created == olderVerified).Action);
        Assert.Equal("Remove", d.Single(x => x.Created == failedAt).Action);
        Assert.Equal(8, d.Count(x => x.Action == "Keep"));

        IReadOnlyList<RecoveryPointDecision> all = Evaluate(year, new SnapshotRetentionRequest { KeepDaily = 7, IncludeNewest = true });
        Assert.Equal("Remove", all.Single(x => x.RecoveryPointId == verified.RecoveryPointId).Action);
    }

    private static List<RecoveryPoint> Year()
    {
        var points = new List<RecoveryPoint>();
        for (DateTime t = First; t <= Now; t = t.AddDays(1))
        {
            points.Add(Point(t));
        }

        return points;
    }

    private static IReadOnlyList<RecoveryPointDecision> Evaluate(IReadOnlyList<RecoveryPoint> points, SnapshotRetentionRequest request, IReadOnlyDictionary<string, IReadOnlyList<string>>? images = null)
        => SnapshotRemover.Evaluate(points, request, Now, images ?? new Dictionary<string, IReadOnlyList<string>>());

    private static HashSet<DateTime> KeptDays(IReadOnlyList<RecoveryPointDecision> decisions)
        => decisions.Where(d => d.Action == "Keep").Select(d => d.Created.Date).ToHashSet();

    [Fact]
    public void A_year_has_365_daily_points()
    {
        List<RecoveryPoint> year = Year();
        Assert.Equal(365, year.Count);
        Assert.All(year, p => Assert.True(p.IsComplete));
    }

    [Fact]
    public void Keep_daily_7_keeps_the_last_seven_days()
    {
        IReadOnlyList<RecoveryPointDecision> d = Evaluate(Year(), new SnapshotRetentionRequest { KeepDaily = 7 });
        Assert.Equal(365, d.Count);
        HashSet<DateTime> kept = KeptDays(d);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => new DateTime(2026, 11, 28).AddDays(-i)).ToHashSet(), kept);
        Assert.All(d.Where(x => x.Action == "Keep"), x => Assert.Contains(x.Reasons, r => r.StartsWith("keep-daily ", StringComparison.Ordinal)));
        Assert.All(d.Where(x => x.Action == "Remove"), x => Assert.Equal("not kept by any rule", x.Reason));
    }

    [Fact]
    public void Keep_weekly_4_keeps_the_newest_point_of_each_of_the_last_four_iso_weeks()
    {
        HashSet<DateTime> kept = KeptDays(Evaluate(Year(), new SnapshotRetentionRequest { KeepWeekly = 4 }));

        // 2026-11-28 is a Saturday: the newest of its week (Mon 11-23 .. Sat); then the Sundays before.
        Assert.Equal(new HashSet<DateTime> { new(2026, 11, 28), new(2026, 11, 22), new(2026, 11, 15), new(2026, 11, 8) }, kept);
    }

    [Fact]
    public void Keep_monthly_12_keeps_the_last_day_of_each_month_and_the_newest_point()
    {
        HashSet<DateTime> kept = KeptDays(Evaluate(Year(), new SnapshotRetentionRequest { KeepMonthly = 12 }));

        var expected = new HashSet<DateTime> { new(2026, 11, 28) };
        for (int m = 10; expected.Count < 12; m--)
        {
            var month = new DateTime(2026, 1, 1).AddMonths(m - 1);
            expected.Add(month.AddMonths(1).AddDays(-1));
        }

        Assert.Equal(expected, kept);
        Assert.Contains(new DateTime(2025, 12, 31), kept);
    }

    [Fact]
    public void Keep_last_3_keeps_exactly_the_three_newest()
    {
        IReadOnlyList<RecoveryPointDecision> d = Evaluate(Year(), new SnapshotRetentionRequest { KeepLast = 3 });
        Assert.Equal(new[] { "keep-last #1", "keep-last #2", "keep-last #3" }, d.Where(x => x.Action == "Keep").Select(x => x.Reason));
        Assert.Equal(362, d.Count(x => x.Action == "Remove"));
    }

    [Fact]
    public void Older_than_30_days_keeps_everything_within_30_days()
    {
        IReadOnlyList<RecoveryPointDecision> d = Evaluate(Year(), new SnapshotRetentionRequest { OlderThan = TimeSpan.FromDays(30) });
        Assert.Equal(30, d.Count(x => x.Action == "Keep"));
        Assert.All(d.Where(x => x.Action == "Keep"), x => Assert.True(Now - x.Created < TimeSpan.FromDays(30)));
        Assert.All(d.Where(x => x.Action == "Remove"), x => Assert.True(Now - x.Created >= TimeSpan.FromDays(30)));
    }

    [Fact]
    public void Combined_rules_keep_the_union_and_say_which_rule_keeps_each()
    {
        IReadOnlyList<RecoveryPointDecision> d = Evaluate(Year(), new SnapshotRetentionRequest { KeepDaily = 7, KeepWeekly = 4, KeepMonthly = 12 });
        HashSet<DateTime> kept = KeptDays(d);
        HashSet<DateTime> union = KeptDays(Evaluate(Year(), new SnapshotRetentionRequest { KeepDaily = 7 }));
        union.UnionWith(KeptDays(Evaluate(Year(), new SnapshotRetentionRequest { KeepWeekly = 4 })));
        union.UnionWith(KeptDays(Evaluate(Year(), new SnapshotRetentionRequest { KeepMonthly = 12 })));
        Assert.Equal(union, kept);
        Assert.Equal(7 + 2 + 11, kept.Count); // weeks 11-22/11-15/11-08 -> 2 beyond the 7 days; 11 month-ends beyond

        RecoveryPointDecision newest = d[0];
        Assert.Equal(new[] { "keep-daily 2026-11-28", "keep-weekly 2026-W48", "keep-monthly 2026-11" }, newest.Reasons);
    }

    [Fact]
    public void The_newest_completed_point_survives_any_policy_unless_forced()
    {
        List<RecoveryPoint> year = Year();
        IReadOnlyList<RecoveryPointDecision> d = Evaluate(year, new SnapshotRetentionRequest { OlderThan = TimeSpan.FromHours(1) });
        RecoveryPointDecision kept = Assert.Single(d, x => x.Action == "Keep");
        Assert.Equal(year[^1].RecoveryPointId, kept.RecoveryPointId);
        Assert.Equal("newest completed (use -IncludeNewest to remove it)", kept.Reason);

        IReadOnlyList<RecoveryPointDecision> forced = Evaluate(year, new SnapshotRetentionRequest { OlderThan = TimeSpan.FromHours(1), IncludeNewest = true });
        Assert.All(forced, x => Assert.Equal("Remove", x.Action));
    }

    [Fact]
    public void Failed_and_incomplete_points_never_count_as_good_and_the_newest_good_is_kept_instead()
    {
        List<RecoveryPoint> points = Year();

        // The three newest days failed: one error, one incomplete, one that lost a volume a day ago.
        points[^1] = Point(Now.AddHours(-1), "error");
        points[^2] = Point(Now.AddHours(-1).AddDays(-1), "incomplete");
        points[^3] = Point(Now.AddHours(-1).AddDays(-2), "error");
        IReadOnlyList<RecoveryPointDecision> d = Evaluate(points, new SnapshotRetentionRequest { KeepLast = 2 });

        Assert.Equal(new[] { "remove", "remove", "remove" }, d.Take(3).Select(x => x.Action.ToLowerInvariant()));
        Assert.Equal("not usable (error)", d[0].Reason);
        Assert.Equal("not usable (incomplete)", d[1].Reason);
        Assert.Equal(new[] { points[^4].RecoveryPointId, points[^5].RecoveryPointId }, d.Where(x => x.Action == "Keep").Select(x => x.RecoveryPointId));

        // With only OlderThan, the newest *good* point (four days old) is what the guarantee keeps.
        IReadOnlyList<RecoveryPointDecision> g = Evaluate(points, new SnapshotRetentionRequest { OlderThan = TimeSpan.FromHours(2) });
        RecoveryPointDecision kept = Assert.Single(g, x => x.Action == "Keep");
        Assert.Equal(points[^4].RecoveryPointId, kept.RecoveryPointId);
    }

    [Fact]
    public void Points_in_progress_are_kept()
    {
        List<RecoveryPoint> points = Year();
        RecoveryPoint pending = Point(Now.AddMinutes(-5), "pending", n: 1);
        RecoveryPoint young = Point(Now.AddMinutes(-10), "incomplete", n: 2);
        points.Add(pending);
        points.Add(young);
        IReadOnlyList<RecoveryPointDecision> d = Evaluate(points, new SnapshotRetentionRequest { KeepLast = 1 });

        Assert.Equal("in progress (pending)", Assert.Single(d, x => x.RecoveryPointId == pending.RecoveryPointId).Reason);
        RecoveryPointDecision y = Assert.Single(d, x => x.RecoveryPointId == young.RecoveryPointId);
        Assert.Equal("Keep", y.Action);
        Assert.StartsWith("in progress (incomplete", y.Reason, StringComparison.Ordinal);
        Assert.Equal(3, d.Count(x => x.Action == "Keep"));
    }

    [Fact]
    public void A_point_an_ami_uses_is_kept_and_says_so()
    {
        List<RecoveryPoint> points = Year();
        RecoveryPoint used = points[100];
        var images = new Dictionary<string, IReadOnlyList<string>> { [used.Snapshots[0].SnapshotId] = ["ami-0123"] };
        IReadOnlyList<RecoveryPointDecision> d = Evaluate(points, new SnapshotRetentionRequest { KeepLast = 1 }, images);

        RecoveryPointDecision u = Assert.Single(d, x => x.RecoveryPointId == used.RecoveryPointId);
        Assert.Equal("Keep", u.Action);
        Assert.Equal(new[] { "ami-0123" }, u.ImageIds);
        Assert.Contains("used by AMI ami-0123", u.Reason, StringComparison.Ordinal);
        Assert.Equal(2, d.Count(x => x.Action == "Keep"));
    }

    [Fact]
    public void Retention_applies_per_box()
    {
        var points = new List<RecoveryPoint>();
        for (int i = 0; i < 5; i++)
        {
            points.Add(Point(Now.AddDays(-i).AddHours(-1), box: "circleci_services", n: 10 + i));
            points.Add(Point(Now.AddDays(-i - 10).AddHours(-1), box: "staging", n: 20 + i));
        }

        IReadOnlyList<RecoveryPointDecision> d = Evaluate(points, new SnapshotRetentionRequest { KeepLast = 2 });
        Assert.Equal(2, d.Count(x => x.Action == "Keep" && x.BoxName == "circleci_services"));
        Assert.Equal(2, d.Count(x => x.Action == "Keep" && x.BoxName == "staging"));
    }

    [Fact]
    public void The_what_if_text_lists_every_point_with_its_reason_and_the_calls()
    {
        List<RecoveryPoint> points = Year().TakeLast(3).ToList();
        IReadOnlyList<RecoveryPointDecision> d = Evaluate(points, new SnapshotRetentionRequest { KeepLast = 2 });
        string text = SnapshotRemover.Render("Remove-CcieSnapshot in us-east-1 (policy: keep-last 2)", d);

        Assert.Contains("remove 1 of 3 recovery points", text, StringComparison.Ordinal);
        Assert.Contains("KEEP   " + points[2].RecoveryPointId, text, StringComparison.Ordinal);
        Assert.Contains("keep-last #1", text, StringComparison.Ordinal);
        Assert.Contains("REMOVE " + points[0].RecoveryPointId, text, StringComparison.Ordinal);
        Assert.Contains("ec2:DeleteSnapshot " + string.Join(", ", points[0].SnapshotIds), text, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_policy_is_refused()
        => Assert.Throws<ArgumentException>(() => Evaluate(Year(), new SnapshotRetentionRequest()));
}
