using Amazon.EC2;
using CcieDr.Engine.Recovery;
using Xunit;

namespace CcieDr.Engine.Tests.Snapshots;

/// <summary>
/// A year of daily recovery points taken through the real SDK on a simulator whose clock moves a day at a time,
/// then retention applied and executed: exactly the points the policy names survive, and the newest good one
/// survives even when the newest points failed.
/// </summary>
public class SnapshotYearSimTests
{
    private static readonly DateTime FirstDay = new(2025, 11, 29, 2, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task A_year_of_daily_points_keeps_exactly_what_daily_weekly_monthly_retention_names()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync(transitionSeconds: 60, manualClockStart: FirstDay);
        IAmazonEC2 ec2 = sim.Ec2();
        ServicesBox box = await sim.BoxAsync(ec2);
        var creator = new SnapshotCreator(ec2, SnapshotSim.Region, clock: () => sim.Control.Now);
        var taken = new List<RecoveryPoint>();
        for (int day = 0; day < 365; day++)
        {
            if (day == 364)
            {
                sim.Control.FailNextSnapshots(1); // the newest point fails: the newest *good* one is a day older
            }

            taken.Add(await creator.CreateAsync(box, new NewSnapshotRequest { ReusePending = false }, CancellationToken.None));
            sim.Control.AdvanceClock(day < 364 ? TimeSpan.FromDays(1) : TimeSpan.FromHours(1)); // now: an hour after the last point
        }

        Assert.Equal(365, taken.Select(p => p.RecoveryPointId).Distinct().Count());
        IReadOnlyList<RecoveryPoint> listed = await RecoveryPointCatalog.ListAsync(ec2, SnapshotSim.Region, new RecoveryPointFilter(), CancellationToken.None);
        Assert.Equal(365, listed.Count);
        Assert.Equal(364, listed.Count(p => p.IsComplete));
        Assert.Equal("error", listed[0].State);

        // The policy decides over the points in EC2.
        var remover = new SnapshotRemover(ec2, SnapshotSim.Region, clock: () => sim.Control.Now);
        var request = new SnapshotRetentionRequest { KeepDaily = 7, KeepWeekly = 4, KeepMonthly = 12 };
        IReadOnlyList<RecoveryPointDecision> plan = await remover.PlanPolicyAsync(request, CancellationToken.None);

        // The pure function over the same points decides the same.
        IReadOnlyList<RecoveryPointDecision> pure = SnapshotRemover.Evaluate(listed, request, sim.Control.Now, new Dictionary<string, IReadOnlyList<string>>());
        Assert.Equal(pure.Select(d => d.RecoveryPointId + d.Action), plan.Select(d => d.RecoveryPointId + d.Action));

        var kept = plan.Where(d => d.Action == "Keep").Select(d => d.Created.Date).ToHashSet();
        var expected = new HashSet<DateTime>();
        for (int i = 1; i <= 7; i++)
        {
            expected.Add(new DateTime(2026, 11, 28).AddDays(-i)); // seven good days: 11-21 .. 11-27 (11-28 failed)
        }

        expected.UnionWith(new[] { new DateTime(2026, 11, 15), new DateTime(2026, 11, 8) }); // Sundays of the 2 weeks before the 7 days' weeks
        for (int m = 1; m <= 10; m++)
        {
            expected.Add(new DateTime(2026, m, 1).AddMonths(1).AddDays(-1)); // month ends Jan..Oct 2026
        }

        expected.Add(new DateTime(2025, 12, 31));
        Assert.Equal(expected.OrderBy(d => d), kept.OrderBy(d => d));
        Assert.Equal("not usable (error)", plan[0].Reason);
        Assert.Equal(new[] { "keep-daily 2026-11-27", "keep-weekly 2026-W48", "keep-monthly 2026-11" }, plan[1].Reasons);

        foreach (RecoveryPointDecision d in plan.Where(d => d.Action == "Remove"))
        {
            Assert.Equal("Removed", (await remover.RemoveAsync(d, CancellationToken.None)).Outcome);
        }

        IReadOnlyList<RecoveryPoint> left = await RecoveryPointCatalog.ListAsync(ec2, SnapshotSim.Region, new RecoveryPointFilter(), CancellationToken.None);
        Assert.Equal(expected.Count, left.Count);
        Assert.Equal(expected.OrderByDescending(d => d), left.Select(p => p.Created.Date));
        Assert.All(left, p => Assert.True(p.IsComplete));

        // Only OlderThan: nothing within a day is good, so the newest good point is what survives.
        IReadOnlyList<RecoveryPointDecision> olderThan = await remover.PlanPolicyAsync(new SnapshotRetentionRequest { OlderThan = TimeSpan.FromHours(2) }, CancellationToken.None);
        RecoveryPointDecision guaranteed = Assert.Single(olderThan, d => d.Action == "Keep");
        Assert.Equal(new DateTime(2026, 11, 27), guaranteed.Created.Date);
        Assert.StartsWith("newest completed", guaranteed.Reason, StringComparison.Ordinal);
    }
}
