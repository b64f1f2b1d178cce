using System.Text;
using CcieDr.Engine.Archive.Zstd;
using Xunit;
using static CcieDr.Engine.Tests.Compression.ZstdTestKit;

namespace CcieDr.Engine.Tests.Compression;

public sealed class ZstdTailTests
{
    [Fact]
    public void TheLastFrame_DecodesFromTheTailAlone()
    {
        var body = Random(3_000_000, 1);
        var manifest = Encoding.UTF8.GetBytes("{\"manifest\":true}" + new string(' ', 1000));
        var ms = new MemoryStream();
        using (var z = new ZstdCompressStream(ms, new ZstdCompressOptions { Threads = 2 }, leaveOpen: true))
        {
            z.Write(body, 0, body.Length);
            z.EndFrame();
            z.Write(manifest, 0, manifest.Length);
            z.Complete();
        }

        var all = ms.ToArray();
        var tail = all[^(64 * 1024)..];
        var decoded = ZstdTail.Decode(tail, d => Encoding.UTF8.GetString(d).Contains("\"manifest\""));
        Assert.NotNull(decoded);
        Assert.Equal(manifest, decoded);
    }

    [Fact]
    public void MovesBackToEarlierFrames_UntilAccepted()
    {
        var parts = new[] { "alpha-part ", "beta-part ", "gamma-part " };
        var ms = new MemoryStream();
        using (var z = new ZstdCompressStream(ms, new ZstdCompressOptions { Threads = 0 }, leaveOpen: true))
        {
            foreach (var p in parts)
            {
                var b = Encoding.ASCII.GetBytes(p);
                z.Write(b, 0, b.Length);
                z.EndFrame();
            }

            z.Complete();
        }

        var decoded = ZstdTail.Decode(ms.ToArray(), d => Encoding.ASCII.GetString(d).Contains("beta"));
        Assert.Equal("beta-part gamma-part ", Encoding.ASCII.GetString(decoded!));
    }

    [Fact]
    public void ASingleFrameArchive_OrATruncatedOne_GivesNull()
    {
        var single = Compress(Random(2_000_000, 2), 2);
        Assert.Null(ZstdTail.Decode(single[^(256 * 1024)..], _ => true));

        var ms = new MemoryStream();
        using (var z = new ZstdCompressStream(ms, new ZstdCompressOptions { Threads = 0 }, leaveOpen: true))
        {
            z.Write(Mixed(100_000, 3), 0, 100_000);
            z.EndFrame();
            z.Write(Mixed(50_000, 4), 0, 50_000);
            z.Complete();
        }

        var truncated = ms.ToArray()[..^3];
        Assert.Null(ZstdTail.Decode(truncated, _ => true));
    }
}
