#pragma warning disable CA1416 // POSIX-only tests: restore targets Linux
using System.Text;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Restore;
using Xunit;

namespace CcieDr.Engine.Tests.ArchiveRestore;

/// <summary>The extractor's on-disk model of the members: same answers as a dictionary, memory that does not hold the paths.</summary>
public sealed class SafeExtractIndexTests : IDisposable
{
    private readonly string _dir = RestoreTestKit.NewTempDir("sxi");

    public void Dispose() => RestoreTestKit.DeleteTree(_dir);

    private static SafeExtractor.Node File(long size, byte fill) =>
        new(SafeExtractor.NodeKind.File) { Size = size, Mode = 420, Hash = Enumerable.Repeat(fill, 32).ToArray() };

    [Fact]
    public void Finds_replaces_and_removes_like_a_dictionary_and_leaves_no_file()
    {
        var model = new Dictionary<string, (SafeExtractor.NodeKind Kind, long Size)>(StringComparer.Ordinal);
        using (var index = new SafeExtractIndex(_dir))
        {
            Assert.Empty(Directory.EnumerateFileSystemEntries(_dir)); // the spool has no name
            var rng = new Random(7);
            for (int i = 0; i < 30_000; i++)
            {
                // Few distinct names (so replacements and removals happen), non-ASCII, long ones, parents and children.
                int n = rng.Next(12_000);
                string rel = n % 97 == 0 ? "d\u00e9j\u00e0/" + new string('x', 200) + n : $"d{n % 40}/s{n % 7}/f{n}";
                int op = rng.Next(10);
                if (op == 0)
                {
                    index.Remove(rel);
                    model.Remove(rel);
                }
                else if (op == 1)
                {
                    index.Add(rel, new SafeExtractor.Node(SafeExtractor.NodeKind.Symlink) { LinkTarget = "../t\u00fc" + n }, inOrder: true);
                    model[rel] = (SafeExtractor.NodeKind.Symlink, 0);
                }
                else
                {
                    index.Add(rel, File(i, (byte)i), inOrder: true);
                    model[rel] = (SafeExtractor.NodeKind.File, i);
                }
            }

            foreach (var (rel, want) in model)
            {
                Assert.True(index.TryGet(rel, out var kind, out var id), rel);
                Assert.Equal(want.Kind, kind);
                var node = index.Read(id, out var stored);
                Assert.Equal(rel, stored);
                Assert.Equal(want.Size, node.Size);
                if (kind == SafeExtractor.NodeKind.File)
                {
                    Assert.Equal((byte)want.Size, node.Hash![0]);
                }
                else
                {
                    Assert.StartsWith("../t\u00fc", node.LinkTarget);
                }
            }

            for (int n = 0; n < 12_000; n++)
            {
                var rel = $"d{n % 40}/s{n % 7}/f{n}";
                Assert.Equal(model.ContainsKey(rel), index.TryGet(rel, out _, out _));
            }

            // The scan walks every record in order and reports the node now at its path.
            var current = index.Scan(inOrderOnly: true).Where(r => r.Current != null).Select(r => r.Rel).Distinct().ToHashSet();
            Assert.Equal(model.Keys.ToHashSet(), current);
            Assert.All(index.Scan(inOrderOnly: true).Where(r => r.Current != null), r => Assert.Equal(model[r.Rel].Kind, r.Current!.Kind));
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));
    }

    [Fact]
    public void Memory_held_is_a_few_bytes_a_member_and_no_paths()
    {
        using var index = new SafeExtractIndex(_dir);
        for (int i = 0; i < 200_000; i++)
        {
            index.Add($"data/dir-{i / 250:D4}/a-rather-long-file-name-{i:D7}.json", File(i, 1), inOrder: true);
            if (i % 250 == 0)
            {
                Assert.True(index.TryGet($"data/dir-{i / 250:D4}/a-rather-long-file-name-{i:D7}.json", out _, out _));
            }
        }

        Assert.Equal(200_000, index.RecordCount);
        Assert.True(index.CachedPaths <= 512, $"{index.CachedPaths} paths cached");
        // 8-byte slots at most 70 % full (x2 after a doubling), 4-byte offsets, 3 flag bits, fixed buffers: no path bytes.
        long perMember = (index.InMemoryBytes - (2 << 20)) / index.RecordCount;
        Assert.True(perMember <= 32, $"{perMember} bytes a member");
    }

    [Fact]
    public void Extraction_of_many_files_keeps_the_model_out_of_memory_and_verifies_the_manifest()
    {
        const int Files = 20_000;
        var b = new TarBuilder();
        var m = new ArchiveManifest { SourcePath = "/data", Created = DateTimeOffset.UtcNow };
        for (int i = 0; i < Files; i++)
        {
            var name = $"d{i / 500}/f{i}.txt";
            var content = Encoding.UTF8.GetBytes("c" + i);
            b.File(name, content);
            m.Entries.Add(new ManifestEntry(name, ManifestEntryType.File) { Size = content.Length, Mode = 420, Sha256 = RestoreTestKit.Sha(content) });
        }

        var archive = b.Manifest(m).Bz2();
        var target = Path.Combine(_dir, "t");
        Directory.CreateDirectory(target);
        SafeExtractIndex? seen = null;
        long bytes = 0, cached = 0, records = 0;
        using var ms = new MemoryStream(archive);
        var r = SafeExtractor.Run(ms, new SafeExtractOptions
        {
            TargetDirectory = target,
            IndexInspector = i =>
            {
                seen = i;
                bytes = i.InMemoryBytes;
                cached = i.CachedPaths;
                records = i.RecordCount;
            },
        }, CancellationToken.None);

        Assert.True(r.ManifestVerified);
        Assert.Equal(Files, r.Files);
        Assert.NotNull(seen);
        Assert.Equal(Files + (Files / 500), records); // one record a member plus one a parent directory, nothing else
        Assert.True(cached <= 512);
        Assert.True((bytes - (2 << 20)) / records <= 32, $"{bytes} bytes for {records} records");
        Assert.Equal(new[] { "d0", "d1", "d10" }, r.TopLevelEntries.Take(3));
        Assert.Equal(Files / 500, Directory.GetDirectories(target).Length); // the spools left nothing in the target
        Assert.Equal(500, Directory.GetFiles(Path.Combine(target, "d3")).Length);
    }

    [Fact]
    public void Mismatch_found_by_the_streaming_comparison_is_reported_like_before()
    {
        var m = new ArchiveManifest { SourcePath = "/data", Created = DateTimeOffset.UtcNow };
        m.Entries.Add(new ManifestEntry("a.txt", ManifestEntryType.File) { Size = 1, Mode = 420, Sha256 = RestoreTestKit.Sha("a"u8.ToArray()) });
        m.Entries.Add(new ManifestEntry("b.txt", ManifestEntryType.File) { Size = 1, Mode = 420, Sha256 = RestoreTestKit.Sha("x"u8.ToArray()) });
        var archive = new TarBuilder().File("a.txt", "a").File("b.txt", "b").File("c.txt", "c").Manifest(m).Bz2();
        using var ms = new MemoryStream(archive);
        var r = SafeExtractor.Run(ms, new SafeExtractOptions { CollectProblems = true }, CancellationToken.None);
        Assert.False(r.ManifestVerified);
        Assert.Equal(2, r.ProblemCount);
        Assert.StartsWith("'b.txt' SHA-256 mismatch", r.Problems[0]);
        Assert.Equal("'c.txt' is in the archive but not in the manifest", r.Problems[1]);
        Assert.Empty(r.Manifest!.Entries); // the result holds the header, not the entries
        Assert.Equal(2, r.Manifest.EntryCount);
    }
}
