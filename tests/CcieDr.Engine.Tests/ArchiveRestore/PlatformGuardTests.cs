#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using CcieDr.Engine.Archive.Restore;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>
/// On Windows every restore entry point refuses with one clear error before it reads the archive, touches
/// the data directory or calls libc (issue #12 item 10). Windows is simulated with the engine's test switch
/// (an AsyncLocal, so other tests running in parallel are unaffected).
/// </summary>
public sealed class PlatformGuardTests
{
    private static void AssertRefused(CcieException e)
    {
        Assert.Equal("RestoreNeedsLinux", e.ErrorId);
        Assert.Equal(CcieErrorCategory.InvalidOperation, e.Category);
        Assert.Contains("Services box (Linux)", e.Message);
    }

    [Fact]
    public async Task Every_restore_entry_point_refuses_before_any_work()
    {
        using var f = new DataRestoreFixture();
        string archive = f.WriteArchive(RestoreTestKit.SampleArchive(2));
        string before = f.DataSnapshot();
        DataRestore.SimulateUnsupportedPlatform = true;
        try
        {
            var op = new DataRestore();
            var options = new DataRestoreOptions(archive, f.Data);
            AssertRefused(await Assert.ThrowsAsync<CcieException>(() => op.PlanAsync(options, readArchive: true, CancellationToken.None)));
            AssertRefused(await Assert.ThrowsAsync<CcieException>(() => op.PlanAsync(options, readArchive: false, CancellationToken.None)));
            AssertRefused(await Assert.ThrowsAsync<CcieException>(() => op.RestoreAsync(options, CancellationToken.None)));
            AssertRefused(Assert.Throws<CcieException>(() => DataRestore.Recover(f.Data)));
            AssertRefused(Assert.Throws<CcieException>(() => DataRestore.FindInterrupted(f.Data)));
        }
        finally
        {
            DataRestore.SimulateUnsupportedPlatform = false;
        }

        Assert.Equal(before, f.DataSnapshot());
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task The_same_calls_work_when_the_platform_is_supported()
    {
        // Counter-test: the guard is what refused above, not the fixture.
        using var f = new DataRestoreFixture();
        string archive = f.WriteArchive(RestoreTestKit.SampleArchive(2));
        var plan = await new DataRestore().PlanAsync(new DataRestoreOptions(archive, f.Data), readArchive: false, CancellationToken.None);
        Assert.NotNull(plan);
        Assert.Null(DataRestore.FindInterrupted(f.Data));
    }
}
