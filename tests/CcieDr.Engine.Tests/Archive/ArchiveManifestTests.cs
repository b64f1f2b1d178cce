using System.Text;
using CcieDr.Engine.Archive.Common;
using Xunit;

namespace CcieDr.Engine.Tests.Archive
{
    public class ArchiveManifestTests
    {
        [Fact]
        public void SerializedLength_Is_The_Length_Of_The_Document()
        {
            var m = new ArchiveManifest { Host = "h\u00f6st", SourcePath = "/data", Created = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000) };
            for (var i = 0; i < 500; i++)
            {
                m.Entries.Add(new ManifestEntry($"d/f\u00fc{i}", ManifestEntryType.File) { Size = i, Sha256 = new string('a', 64), Mtime = 1.5 + i });
            }

            m.Warnings.Add("w \"quoted\"");
            m.UpdateTotals();
            Assert.Equal(m.Serialize().LongLength, m.SerializedLength());
            Assert.True(m.SerializedLength() > 500 * 64);
        }

        [Fact]
        public void Serialize_Then_Parse_RoundTrips_Every_Field()
        {
            var m = new ArchiveManifest
            {
                Tool = "CcieDr 0.1.0",
                Host = "services-box",
                SourcePath = "/data",
                Created = new DateTimeOffset(2026, 11, 28, 13, 0, 0, 250, TimeSpan.Zero),
            };
            m.Entries.Add(new ManifestEntry("dir/", ManifestEntryType.Directory) { Mode = 493, Mtime = 1700000000, Uid = 1000, Gid = 1000 });
            m.Entries.Add(new ManifestEntry("dir/a.txt", ManifestEntryType.File) { Size = 3, Mode = 420, Mtime = 1700000000.5, Sha256 = new string('a', 64) });
            m.Entries.Add(new ManifestEntry("dir/link", ManifestEntryType.Symlink) { Mode = 511, LinkTarget = "a.txt" });
            m.Entries.Add(new ManifestEntry("dir/hard", ManifestEntryType.Hardlink) { Mode = 420, LinkTarget = "dir/a.txt" });
            m.Warnings.Add("dir/b changed while being read");
            m.UpdateTotals();

            var json = Encoding.UTF8.GetString(m.Serialize());
            Assert.StartsWith("{\"format\":\"ccie-dr-manifest/1\",\"tool\":\"CcieDr 0.1.0\"", json);
            Assert.Contains("\"created\":\"2026-11-28T13:00:00.250Z\"", json);
            Assert.Contains("\"mtime\":1700000000.5", json);
            Assert.Contains("\"mode\":493", json);

            var p = ArchiveManifest.Parse(json);
            Assert.Equal("services-box", p.Host);
            Assert.Equal("/data", p.SourcePath);
            Assert.Equal(m.Created, p.Created);
            Assert.Equal(1, p.FileCount);
            Assert.Equal(3, p.TotalBytes);
            Assert.Equal(4, p.Entries.Count);
            Assert.Equal(ManifestEntryType.Hardlink, p.Entries[3].Type);
            Assert.Equal("dir/a.txt", p.Entries[3].LinkTarget);
            Assert.Equal(1700000000.5, p.Entries[1].Mtime);
            Assert.Equal(new string('a', 64), p.Entries[1].Sha256);
            Assert.Null(p.Entries[0].Sha256);
            Assert.Equal("dir/b changed while being read", Assert.Single(p.Warnings));
        }

        [Fact]
        public void Spooled_Entries_Serialize_Like_Listed_Ones_And_Read_Streams_Them_Back()
        {
            ArchiveManifest Make() => new ArchiveManifest { Host = "h", SourcePath = "/data", Created = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000) };
            var listed = Make();
            var spooled = Make();
            using var spool = new MemoryStream();
            spooled.SpoolEntriesTo(spool);
            for (var i = 0; i < 3000; i++)
            {
                // One path longer than the reader's 64 KiB buffer: a token that needs the buffer to grow.
                var path = i == 1500 ? new string('p', 100_000) : $"d/f\u00fc \"{i}\"\n";
                var e = new ManifestEntry(path, i % 3 == 0 ? ManifestEntryType.Directory : ManifestEntryType.File) { Size = i, Mode = 420, Sha256 = i % 3 == 0 ? null : new string('b', 64), Mtime = 1.25 + i };
                listed.Entries.Add(e);
                spooled.Add(e);
            }

            listed.Warnings.Add("w");
            spooled.Warnings.Add("w");
            listed.UpdateTotals();
            spooled.UpdateTotals();
            Assert.Empty(spooled.Entries);
            Assert.Equal(3000, spooled.EntryCount);
            Assert.Equal(listed.FileCount, spooled.FileCount);
            Assert.Equal(listed.TotalBytes, spooled.TotalBytes);
            var json = listed.Serialize();
            Assert.Equal(json, spooled.Serialize());
            Assert.Equal(json.LongLength, spooled.SerializedLength());

            var seen = new List<ManifestEntry>();
            var header = ArchiveManifest.Read(new TrickleStream(json), seen.Add);
            Assert.Empty(header.Entries);
            Assert.Equal(3000, header.EntryCount);
            Assert.Equal(listed.FileCount, header.FileCount);
            Assert.Equal("w", Assert.Single(header.Warnings));
            Assert.Equal(listed.Entries.Select(e => (e.Path, e.Type, e.Size, e.Sha256, e.Mtime)), seen.Select(e => (e.Path, e.Type, e.Size, e.Sha256, e.Mtime)));

            spooled.ReleaseEntries();
            Assert.False(spooled.EntriesAvailable);
            Assert.Equal(3000, spooled.EntryCount);
            Assert.Throws<InvalidOperationException>(() => spooled.Serialize());
        }

        [Theory]
        [InlineData("{\"format\":\"ccie-dr-manifest/1\",\"entries\":[]} trailing")]
        [InlineData("{\"format\":\"ccie-dr-manifest/1\",\"entries\":[{\"path\":\"a\"")]
        [InlineData("{\"format\":\"ccie-dr-manifest/1\",\"entries\":[{\"type\":\"file\"}]}")]
        [InlineData("{\"format\":\"ccie-dr-manifest/1\",\"entries\":[],\"fileCount\":1.5}")]
        public void Read_Rejects_What_Parse_Rejects(string json)
        {
            Assert.Throws<FormatException>(() => ArchiveManifest.Read(new TrickleStream(Encoding.UTF8.GetBytes(json)), null));
            Assert.Throws<FormatException>(() => ArchiveManifest.Parse(json));
        }

        /// <summary>Hands out a few bytes a read, so every token boundary falls between two reads somewhere.</summary>
        private sealed class TrickleStream : MemoryStream
        {
            public TrickleStream(byte[] data)
                : base(data)
            {
            }

            public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 7));
        }

        [Theory]
        [InlineData("[]")]
        [InlineData("{\"format\":\"other/1\",\"entries\":[]}")]
        [InlineData("{\"format\":\"ccie-dr-manifest/1\"}")]
        [InlineData("{\"format\":\"ccie-dr-manifest/1\",\"entries\":[{\"path\":\"a\",\"type\":\"fifo\"}]}")]
        [InlineData("{\"format\":\"ccie-dr-manifest/1\",\"entries\":[{\"path\":\"a\",\"type\":\"file\",\"size\":-1}]}")]
        [InlineData("{\"format\":\"ccie-dr-manifest/1\",\"entries\":[{\"path\":\"a\",\"type\":\"file\",\"sha256\":\"XYZ\"}]}")]
        [InlineData("not json")]
        public void Parse_Rejects_Invalid_Manifests(string json)
        {
            Assert.Throws<FormatException>(() => ArchiveManifest.Parse(json));
        }
    }
}
