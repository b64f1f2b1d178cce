#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using CcieDr.Engine.Archive.Restore;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>A data directory with old data, an archive of new data, and a sentinel folder outside.</summary>
internal sealed class DataRestoreFixture : IDisposable
{
    public DataRestoreFixture(bool oldData = true)
    {
        Root = RestoreTestKit.NewTempDir("dr");
        Data = Path.Combine(Root, "data");
        Outside = Path.Combine(Root, "outside");
        NewTree = Path.Combine(Root, "new");
        Directory.CreateDirectory(Data);
        Directory.CreateDirectory(Outside);
        File.WriteAllText(Path.Combine(Outside, "file"), "outside");
        Directory.CreateDirectory(NewTree);
        RestoreTestKit.MakeSampleTree(NewTree, seed: 2);
        if (oldData)
        {
            Directory.CreateDirectory(Path.Combine(Data, "postgres"));
            File.WriteAllText(Path.Combine(Data, "postgres/old.db"), "old database");
            File.WriteAllText(Path.Combine(Data, "README.txt"), "old readme");
            File.WriteAllText(Path.Combine(Data, "only-old.txt"), "x");
            File.CreateSymbolicLink(Path.Combine(Data, "dangling"), "nowhere");
            Directory.CreateDirectory(Path.Combine(Data, "circleci-restore-20200101T000000Z"));
            File.WriteAllText(Path.Combine(Data, "circleci-restore-20200101T000000Z/kept.txt"), "earlier move-aside");
        }

        OldSnapshot = DataSnapshot();
        OutsideSnapshot = RestoreTestKit.Describe(RestoreTestKit.Snapshot(Outside));
    }

    public string Root { get; }

    public string Data { get; }

    public string Outside { get; }

    public string NewTree { get; }

    private string? _archive;

    /// <summary>GNU tar's archive of <see cref="NewTree"/> (made on first use).</summary>
    public string Archive
    {
        get
        {
            if (_archive is null)
            {
                _archive = Path.Combine(Root, "circleci-data-export.tar.bz2");
                File.WriteAllBytes(_archive, RestoreTestKit.SampleArchive(2));
            }

            return _archive;
        }
    }

    public string OldSnapshot { get; }

    public string OutsideSnapshot { get; }

    public string NewSnapshot => RestoreTestKit.Describe(RestoreTestKit.Snapshot(NewTree));

    /// <summary>The data directory minus move-aside folders made by this test (earlier ones stay).</summary>
    public string DataSnapshot()
    {
        var s = RestoreTestKit.Snapshot(Data);
        foreach (var k in s.Keys.ToList())
        {
            var top = k.Split('/')[0];
            if (top.StartsWith("circleci-restore-", StringComparison.Ordinal) && top != "circleci-restore-20200101T000000Z")
            {
                s.Remove(k);
            }
        }

        return RestoreTestKit.Describe(s);
    }

    /// <summary>What the data directory should be after a restore: the new tree plus the kept earlier move-aside folder.</summary>
    public string ExpectedNew()
    {
        var s = RestoreTestKit.Snapshot(NewTree);
        var old = RestoreTestKit.Snapshot(Data);
        foreach (var kv in old.Where(kv => kv.Key.StartsWith("circleci-restore-20200101T000000Z", StringComparison.Ordinal)))
        {
            s[kv.Key] = kv.Value;
        }

        return RestoreTestKit.Describe(s);
    }

    public string? AsideFolder() => Directory.EnumerateDirectories(Data, "circleci-restore-*").FirstOrDefault(d => !d.EndsWith("20200101T000000Z", StringComparison.Ordinal));

    /// <summary>Old data as found in the move-aside folder, in the same shape as <see cref="OldSnapshot"/>.</summary>
    public string AsideSnapshot()
    {
        var aside = AsideFolder()!;
        var s = RestoreTestKit.Snapshot(aside);
        foreach (var kv in RestoreTestKit.Snapshot(Data).Where(kv => kv.Key.StartsWith("circleci-restore-20200101T000000Z", StringComparison.Ordinal)))
        {
            s[kv.Key] = kv.Value;
        }

        return RestoreTestKit.Describe(s);
    }

    public void AssertNoLeftovers()
    {
        Xunit.Assert.Empty(Directory.EnumerateFileSystemEntries(Data, ".ccie-restore-*"));
        Xunit.Assert.Equal(OutsideSnapshot, RestoreTestKit.Describe(RestoreTestKit.Snapshot(Outside)));
    }

    /// <summary>Restores with AllowNoManifest (GNU tar archives have no manifest).</summary>
    public Task<CcieDr.DataRestoreResult> Restore(string? source = null, DataRestore? op = null, CancellationToken ct = default) =>
        (op ?? new DataRestore()).RestoreAsync(new DataRestoreOptions(source ?? Archive, Data) { AllowNoManifest = true }, ct);

    /// <summary>Restores with the default options (a manifest is required).</summary>
    public Task<CcieDr.DataRestoreResult> RestoreWithDefaults(string? source = null) =>
        new DataRestore().RestoreAsync(new DataRestoreOptions(source ?? Archive, Data), CancellationToken.None);

    public string WriteArchive(byte[] bytes, string name = "crafted.tar.bz2")
    {
        var p = Path.Combine(Root, name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    public void Dispose() => RestoreTestKit.DeleteTree(Root);
}
