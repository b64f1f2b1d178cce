#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using CcieDr.Engine;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>Issue #12 item 6: reserved names refuse the whole archive; a manifest is required unless allowed.</summary>
public class ReservedNameRestoreTests
{
    [Theory]
    [InlineData("circleci-restore-20990101T000000Z/evil.txt", "circleci-restore-20990101T000000Z")]
    [InlineData(".ccie-restore-journal.json", ".ccie-restore-journal.json")]
    [InlineData(".ccie-restore-staging-20990101T000000Z/evil.txt", ".ccie-restore-staging-20990101T000000Z")]
    public async Task A_member_on_a_reserved_name_refuses_the_whole_archive_and_nothing_moves(string member, string top)
    {
        using var f = new DataRestoreFixture();
        var archive = f.WriteArchive(new TarBuilder()
            .File("README.txt", "new readme")
            .File(member, "{}")
            .File("zz-last.txt", "new")
            .Bz2());

        var ex = await Assert.ThrowsAsync<UnsafeArchiveException>(() => f.Restore(archive));

        Assert.Equal(top, ex.Member);
        Assert.Contains("'" + top + "'", ex.Message);
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        Assert.Equal("old readme", File.ReadAllText(Path.Combine(f.Data, "README.txt")));
        Assert.False(File.Exists(Path.Combine(f.Data, "zz-last.txt")));
        Assert.Equal(new[] { Path.Combine(f.Data, "circleci-restore-20200101T000000Z") }, Directory.GetDirectories(f.Data, "circleci-restore-*"));
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task A_manifest_less_archive_is_refused_by_default_naming_AllowNoManifest_and_nothing_moves()
    {
        using var f = new DataRestoreFixture();

        var ex = await Assert.ThrowsAsync<CcieException>(() => f.RestoreWithDefaults());

        Assert.Equal("ArchiveManifestMissing", ex.ErrorId);
        Assert.Contains("-AllowNoManifest", ex.Message);
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
        f.AssertNoLeftovers();
    }

    [Fact]
    public async Task RequireManifest_wins_over_AllowNoManifest()
    {
        using var f = new DataRestoreFixture();

        var ex = await Assert.ThrowsAsync<CcieException>(() => new DataRestore().RestoreAsync(new DataRestoreOptions(f.Archive, f.Data) { AllowNoManifest = true, RequireManifest = true }, CancellationToken.None));

        Assert.Equal("ArchiveManifestMissing", ex.ErrorId);
        Assert.Equal(f.OldSnapshot, f.DataSnapshot());
    }
}
