#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using CcieDr.Engine.Archive.Restore;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>
/// A restore stopped dead (as by kill -9) at every durable step, then recovered: the data
/// directory is exactly the old data or exactly the new data, never a mix.
/// </summary>
public class JournalRecoveryTests
{
    private static readonly Lazy<List<string>> Steps = new(() =>
    {
        using var f = new DataRestoreFixture();
        var steps = new List<string>();
        var op = new DataRestore { StepHook = steps.Add };
        f.Restore(op: op).GetAwaiter().GetResult();
        return steps;
    });

    public static TheoryData<string> StepNames()
    {
        var d = new TheoryData<string>();
        foreach (var s in Steps.Value)
        {
            d.Add(s);
        }

        return d;
    }

    /// <summary>The steps after which a roll back still has old data to put back (not "done"/"cleaned").</summary>
    public static TheoryData<string> StepsBeforeDone()
    {
        var d = new TheoryData<string>();
        foreach (var s in Steps.Value)
        {
            if (s is not ("done" or "cleaned"))
            {
                d.Add(s);
            }
        }

        return d;
    }

    [Fact]
    public void A_restore_passes_every_step()
    {
        var s = Steps.Value;
        Assert.Equal(new[] { "staging", "staged", "moving-aside" }, s.Take(3));
        Assert.Contains("aside:postgres", s);
        Assert.Contains("moving-in", s);
        Assert.Contains("in:mongo", s);
        Assert.Equal(new[] { "done", "cleaned" }, s.TakeLast(2));
    }

    private static async Task Crash(DataRestoreFixture f, string at)
    {
        var op = new DataRestore { StepHook = s => { if (s == at) throw new RestoreCrashSimulation(at); } };
        await Assert.ThrowsAsync<RestoreCrashSimulation>(() => f.Restore(op: op));
    }

    private static bool ForwardExpected(string step) => step != "staging";

    [Theory]
    [MemberData(nameof(StepNames))]
    public async Task Auto_recovery_gives_old_or_new_exactly(string step)
    {
        using var f = new DataRestoreFixture();
        await Crash(f, step);
        var found = DataRestore.FindInterrupted(f.Data);
        var r = DataRestore.Recover(f.Data);
        if (step == "cleaned")
        {
            Assert.Null(found);
            Assert.Null(r);
        }
        else
        {
            Assert.NotNull(r);
            Assert.Equal(ForwardExpected(step) ? RecoveryMode.RollForward : RecoveryMode.RollBack, r!.Applied);
        }

        if (ForwardExpected(step))
        {
            Assert.Equal(f.ExpectedNew(), f.DataSnapshot());
            Assert.Equal(f.OldSnapshot, f.AsideSnapshot());
        }
        else
        {
            Assert.Equal(f.OldSnapshot, f.DataSnapshot());
            Assert.Null(f.AsideFolder());
        }

        f.AssertNoLeftovers();
        Assert.Null(DataRestore.Recover(f.Data));
    }

    [Theory]
    [MemberData(nameof(StepsBeforeDone))]
    public async Task Explicit_roll_back_restores_the_old_data_exactly(string step)
    {

        using var f = new DataRestoreFixture();
        await Crash(f, step);
        var r = DataRestore.Recover(f.Data, RecoveryMode.RollBack);
        Assert.Equal(RecoveryMode.RollBack, r!.Applied);
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        Assert.Null(f.AsideFolder());
        f.AssertNoLeftovers();
    }

    [Theory]
    [InlineData("aside:postgres", "back-in:README.txt")]
    [InlineData("in:mongo", "back-out:README.txt")]
    [InlineData("in:mongo", "back-moving-aside")]
    public async Task A_crash_during_roll_back_keeps_rolling_back(string first, string second)
    {
        using var f = new DataRestoreFixture();
        await Crash(f, first);
        var j = RestoreJournal.Read(f.Data)!;
        Assert.Throws<RestoreCrashSimulation>(() => DataRestore.RollBack(j, s => { if (s == second) throw new RestoreCrashSimulation(s); }));
        var r = DataRestore.Recover(f.Data);
        Assert.Equal(RecoveryMode.RollBack, r!.Applied);
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task The_next_restore_finishes_an_interrupted_one_first()
    {
        using var f = new DataRestoreFixture();
        await Crash(f, "in:mongo");
        var r = await f.Restore();
        Assert.Contains(r.Warnings, w => w.Contains("rolled forward"));
        Assert.Equal(f.NewSnapshot, RestoreTestKit.Describe(new SortedDictionary<string, string>(RestoreTestKit.Snapshot(f.Data).Where(kv => !kv.Key.StartsWith("circleci-restore-")).ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal)));
        Assert.Equal(2, Directory.EnumerateDirectories(f.Data, "circleci-restore-2*").Count(d => !d.EndsWith("20200101T000000Z")));
        f.AssertNoLeftovers();
    }

    [Fact]
    public void A_hand_written_journal_in_moving_aside_rolls_forward()
    {
        // Written as if the process died right after moving one of two entries aside.
        using var f = new DataRestoreFixture(oldData: false);
        Directory.CreateDirectory(Path.Combine(f.Data, "a"));
        File.WriteAllText(Path.Combine(f.Data, "b"), "old b");
        var staging = Path.Combine(f.Data, ".ccie-restore-staging-x");
        Directory.CreateDirectory(staging);
        File.WriteAllText(Path.Combine(staging, "b"), "new b");
        File.WriteAllText(Path.Combine(staging, "c"), "new c");
        var aside = Path.Combine(f.Data, "circleci-restore-x");
        Directory.CreateDirectory(aside);
        Directory.Move(Path.Combine(f.Data, "a"), Path.Combine(aside, "a"));
        var j = new RestoreJournal(f.Data, "test.tar.bz2", ".ccie-restore-staging-x", "circleci-restore-x", DateTimeOffset.UtcNow) { State = JournalState.MovingAside };
        j.MoveAside.Add("a");
        j.MoveAside.Add("b");
        j.MoveIn.Add("b");
        j.MoveIn.Add("c");
        j.Write();

        var r = DataRestore.Recover(f.Data);
        Assert.Equal(RecoveryMode.RollForward, r!.Applied);
        Assert.Equal("new b", File.ReadAllText(Path.Combine(f.Data, "b")));
        Assert.Equal("new c", File.ReadAllText(Path.Combine(f.Data, "c")));
        Assert.Equal("old b", File.ReadAllText(Path.Combine(aside, "b")));
        Assert.True(Directory.Exists(Path.Combine(aside, "a")));
        Assert.False(Directory.Exists(Path.Combine(f.Data, "a")));
        f.AssertNoLeftovers();
    }

    [Fact]
    public void A_temp_file_from_a_kill_inside_the_first_journal_write_is_removed_and_the_data_left_alone()
    {
        using var f = new DataRestoreFixture();
        string tmp = RestoreJournal.FilePath(f.Data) + ".tmp";
        File.WriteAllText(tmp, "{\"format\":\"ccie-dr-rest");
        Assert.Null(DataRestore.Recover(f.Data));
        Assert.False(File.Exists(tmp));
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        f.AssertNoLeftovers();
    }

    [Fact]
    public void A_journal_naming_a_path_outside_is_rejected()
    {
        using var f = new DataRestoreFixture(oldData: false);
        File.WriteAllText(RestoreJournal.FilePath(f.Data), """{"format":"ccie-dr-restore-journal/1","state":"moving-in","path":"x","source":"s","started":"2026-01-01T00:00:00Z","staging":"../../etc","aside":"a","moveAside":[],"moveIn":["passwd"]}""");
        Assert.Equal("RestoreJournalUnreadable", Assert.Throws<CcieException>(() => DataRestore.Recover(f.Data)).ErrorId);
    }
}
