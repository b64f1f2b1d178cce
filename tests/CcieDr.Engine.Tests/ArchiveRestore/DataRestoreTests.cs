#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

public class DataRestoreTests
{
    [Fact]
    public async Task Restores_and_moves_old_data_aside()
    {
        using var f = new DataRestoreFixture();
        var r = await f.Restore();
        Assert.Equal(f.ExpectedNew(), f.DataSnapshot());
        Assert.NotNull(r.MovedAsideTo);
        Assert.Equal(f.AsideFolder(), r.MovedAsideTo);
        Assert.Equal(f.OldSnapshot, f.AsideSnapshot());
        Assert.Equal(new[] { "README.txt", "dangling", "only-old.txt", "postgres" }, r.MovedAside);
        Assert.False(r.ManifestVerified);
        Assert.Contains("no manifest: contents not verified against a manifest", r.Warnings);
        Assert.Equal(f.Data, r.Path);
        Assert.True(r.FileCount >= 6);
        Assert.NotEmpty(r.Timeline);
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task Restores_into_an_empty_directory_without_moving_anything()
    {
        using var f = new DataRestoreFixture(oldData: false);
        var r = await f.Restore();
        Assert.Null(r.MovedAsideTo);
        Assert.Empty(r.MovedAside);
        Assert.Null(f.AsideFolder());
        Assert.Equal(f.NewSnapshot, f.DataSnapshot());
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task Restores_a_manifest_archive_and_reports_it_verified()
    {
        using var f = new DataRestoreFixture();
        var m = new ArchiveManifest { SourcePath = "/data", Host = "box", Created = DateTimeOffset.UtcNow };
        byte[] content = "hello"u8.ToArray();
        m.Entries.Add(new ManifestEntry("app/", ManifestEntryType.Directory) { Mode = 493 });
        m.Entries.Add(new ManifestEntry("app/a.txt", ManifestEntryType.File) { Mode = 420, Size = 5, Sha256 = RestoreTestKit.Sha(content) });
        m.Entries.Add(new ManifestEntry("app/abs", ManifestEntryType.Symlink) { LinkTarget = "/data/app/a.txt" });
        m.Entries.Add(new ManifestEntry("app/b.txt", ManifestEntryType.Hardlink) { LinkTarget = "app/a.txt" });
        m.UpdateTotals();
        var bytes = new TarBuilder().Dir("app/").File("app/a.txt", content).Symlink("app/abs", "/data/app/a.txt").HardLink("app/b.txt", "app/a.txt").Manifest(m).Bz2();
        // The archive says /data; restore into the fixture's directory: an absolute link into the data directory is accepted only there.
        var op = new DataRestore();
        var ex = await Assert.ThrowsAsync<UnsafeArchiveException>(() => f.Restore(f.WriteArchive(bytes), op));
        Assert.Contains("/data/app/a.txt", ex.Message);
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());

        m.Entries[2].LinkTarget = f.Data + "/app/a.txt";
        bytes = new TarBuilder().Dir("app/").File("app/a.txt", content).Symlink("app/abs", f.Data + "/app/a.txt").HardLink("app/b.txt", "app/a.txt").Manifest(m).Bz2();
        var r = await f.Restore(f.WriteArchive(bytes));
        Assert.True(r.ManifestVerified);
        Assert.DoesNotContain(r.Warnings, w => w.Contains("no manifest"));
        Assert.Equal("hello", File.ReadAllText(Path.Combine(f.Data, "app/abs")));
        Assert.False(Directory.Exists(Path.Combine(f.Data, ".ccie-dr")));
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task Cancel_before_the_swap_leaves_old_data_and_no_staging()
    {
        using var f = new DataRestoreFixture();
        using var cts = new CancellationTokenSource();
        var op = new DataRestore { StepHook = s => { if (s == "staging") cts.Cancel(); } };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => f.Restore(op: op, ct: cts.Token));
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        Assert.Null(f.AsideFolder());
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task WhatIf_plan_changes_nothing_and_lists_the_moves()
    {
        using var f = new DataRestoreFixture();
        var before = RestoreTestKit.Describe(RestoreTestKit.Snapshot(f.Data));
        var plan = await new DataRestore().PlanAsync(new DataRestoreOptions(f.Archive, f.Data) { AllowNoManifest = true }, readArchive: true, CancellationToken.None);
        Assert.Equal(before, RestoreTestKit.Describe(RestoreTestKit.Snapshot(f.Data)));
        Assert.Equal(new[] { "README.txt", "dangling", "only-old.txt", "postgres" }, plan.MoveAside);
        Assert.Equal(new[] { "circleci-restore-20200101T000000Z" }, plan.Keep);
        Assert.Contains("mongo", plan.Restore!);
        Assert.Contains(plan.Steps, s => s.Contains("Move 4 existing entries into"));
        Assert.Equal(0, plan.Archive!.ProblemCount);
    }

    [Fact]
    public async Task Timeline_times_the_extraction_and_the_swap()
    {
        using var f = new DataRestoreFixture();
        var t = DateTimeOffset.Parse("2026-01-01T00:00:00Z");
        var op = new DataRestore { Clock = () => t };
        // The clock moves only while the archive is being read (progress reports) and while swapping (step hook).
        op.StepHook = step => t = t.AddMinutes(1);
        var options = new DataRestoreOptions(f.Archive, f.Data) { AllowNoManifest = true, Progress = new SyncProgress(_ => t = t.AddSeconds(10)) };
        var r = await op.RestoreAsync(options, CancellationToken.None);
        var reading = Assert.Single(r.Timeline, e => e.Action.StartsWith("reading ", StringComparison.Ordinal));
        Assert.Equal("Succeeded", reading.Outcome);
        Assert.True(reading.Ended - reading.Started >= TimeSpan.FromSeconds(10), $"reading took {reading.Ended - reading.Started}");
        var swap = Assert.Single(r.Timeline, e => e.Action.StartsWith("moving ", StringComparison.Ordinal));
        Assert.True(swap.Ended - swap.Started >= TimeSpan.FromMinutes(1), $"swap took {swap.Ended - swap.Started}");
    }

    private sealed class SyncProgress : IProgress<ArchiveReadProgress>
    {
        private readonly Action<ArchiveReadProgress> _report;

        public SyncProgress(Action<ArchiveReadProgress> report) => _report = report;

        public void Report(ArchiveReadProgress value) => _report(value);
    }

    [Fact]
    public async Task A_second_restore_moves_the_first_one_aside_and_keeps_earlier_folders()
    {
        using var f = new DataRestoreFixture();
        var op = new DataRestore();
        var t = DateTimeOffset.Parse("2026-01-01T00:00:00Z");
        op.Clock = () => t;
        var first = await f.Restore(op: op);
        t = t.AddHours(1);
        var second = await f.Restore(op: op);
        Assert.Equal(Path.Combine(f.Data, "circleci-restore-20260101T010000Z"), second.MovedAsideTo);
        Assert.True(Directory.Exists(first.MovedAsideTo));
        Assert.DoesNotContain(second.MovedAside, n => n.StartsWith("circleci-restore-"));
    }
}
