using System.Text;
using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Bzip2;
using CcieDr.Engine.Archive.Tar;
using Xunit;
using static CcieDr.Engine.Tests.Archive.BackupTestSupport;

namespace CcieDr.Engine.Tests.Archive
{
    public class TarWriterTests
    {
        private static TarEntryMetadata Meta(long mtime = 1_700_000_000, int ns = 0) => new() { Mode = 420, Uid = 1000, Gid = 1000, UserName = "circle", GroupName = "circle", MtimeSeconds = mtime, MtimeNanoseconds = ns };

        private static string Octal(byte[] h, int offset, int length) => Encoding.ASCII.GetString(h, offset, length).TrimEnd('\0', ' ');

        [Fact]
        public void Streamed_Member_Matches_The_Buffered_One_And_Refuses_A_Wrong_Size()
        {
            var content = Encoding.UTF8.GetBytes(new string('m', 1500) + "\u00e9");
            byte[] Archive(Action<TarWriter> write)
            {
                var ms = new MemoryStream();
                using (var w = new TarWriter(ms, leaveOpen: true))
                {
                    write(w);
                    w.Finish();
                }

                return ms.ToArray();
            }

            var buffered = Archive(w => w.WriteFile("m.json", Meta(), content));
            var streamed = Archive(w => w.WriteFile("m.json", Meta(), content.Length, s => s.Write(content, 0, content.Length)));
            Assert.Equal(buffered, streamed);

            var shortWrite = Assert.Throws<InvalidOperationException>(() => Archive(w => w.WriteFile("m.json", Meta(), content.Length, s => s.Write(content, 0, 10))));
            Assert.Contains("declared " + content.Length, shortWrite.Message, StringComparison.Ordinal);
            Assert.Throws<InvalidOperationException>(() => Archive(w => w.WriteFile("m.json", Meta(), 10, s => s.Write(content, 0, content.Length))));
        }

        [Fact]
        public void Ustar_Header_Fields_And_Checksum_Are_Standard()
        {
            var ms = new MemoryStream();
            using (var w = new TarWriter(ms, leaveOpen: true))
            {
                w.WriteFile("dir/a.txt", Meta(), Encoding.ASCII.GetBytes("hello"));
                w.Finish();
            }

            var t = ms.ToArray();
            Assert.Equal(0, t.Length % TarWriter.RecordSize);
            Assert.Equal("dir/a.txt", Encoding.ASCII.GetString(t, 0, 9));
            Assert.Equal("0000644", Octal(t, 100, 8));
            Assert.Equal("0001750", Octal(t, 108, 8));
            Assert.Equal("00000000005", Octal(t, 124, 12));
            Assert.Equal(Convert.ToString(1_700_000_000, 8).PadLeft(11, '0'), Octal(t, 136, 12));
            Assert.Equal((byte)'0', t[156]);
            Assert.Equal("ustar\000", Encoding.ASCII.GetString(t, 257, 8));
            Assert.Equal("circle", Octal(t, 265, 32));
            var sum = 0;
            for (var i = 0; i < 512; i++)
            {
                sum += i is >= 148 and < 156 ? ' ' : t[i];
            }

            Assert.Equal(Convert.ToString(sum, 8).PadLeft(6, '0'), Encoding.ASCII.GetString(t, 148, 6));
            Assert.Equal("hello", Encoding.ASCII.GetString(t, 512, 5));
            Assert.All(t[517..1024], b => Assert.Equal(0, b));
            Assert.All(t[1024..], b => Assert.Equal(0, b)); // end-of-archive blocks and record padding
        }

        [Fact]
        public void Path_Of_200_Bytes_Uses_The_Ustar_Prefix_And_Longer_Uses_Pax()
        {
            var fits = new string('a', 120) + "/" + new string('b', 79);
            var tooLong = new string('c', 160) + "/" + new string('d', 110);
            var ms = new MemoryStream();
            using (var w = new TarWriter(ms, leaveOpen: true))
            {
                w.WriteFile(fits, Meta(), new byte[] { 1 });
                w.WriteFile(tooLong, Meta(), new byte[] { 2 });
                w.WriteSymlink("l", new string('t', 150), Meta());
                w.Finish();
            }

            var t = ms.ToArray();
            Assert.Equal(new string('b', 79), Octal(t, 0, 100));
            Assert.Equal(new string('a', 120), Octal(t, 345, 155));
            // Second member: a PAX header first.
            Assert.Equal((byte)'x', t[1024 + 156]);
            var pax = Encoding.UTF8.GetString(t, 1536, 512);
            Assert.Contains($"path={tooLong}\n", pax);
            var recLen = pax.IndexOf(' ');
            Assert.Equal(int.Parse(pax[..recLen]), Encoding.UTF8.GetByteCount(pax[..(pax.IndexOf('\n') + 1)]));
            // GNU tar agrees on the names.
            var file = Path.GetTempFileName();
            try
            {
                File.WriteAllBytes(file, t);
                var list = Run("tar", "-tvf", file).StdoutText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.EndsWith(" " + fits, list[0]);
                Assert.EndsWith(" " + tooLong, list[1]);
                Assert.EndsWith(" l -> " + new string('t', 150), list[2]);
            }
            finally
            {
                File.Delete(file);
            }
        }

        [Fact]
        public void Sizes_Of_8_GiB_And_More_Use_Pax_Size_And_Base256()
        {
            const long size = (8L << 30) + 1;
            var ms = new HeaderOnlyStream(4096);
            using var w = new TarWriter(ms, leaveOpen: true);
            Assert.Throws<HeaderOnlyStream.EnoughException>(() => w.WriteFile("big.img", Meta(), size, new ZeroStream(), null, CancellationToken.None));
            var t = ms.Captured;
            Assert.Equal((byte)'x', t[156]);
            Assert.Contains($"size={size}\n", Encoding.ASCII.GetString(t, 512, 512));
            Assert.Equal(0x80, t[1024 + 124]);
            long v = 0;
            for (var i = 1; i < 12; i++)
            {
                v = (v << 8) | t[1024 + 124 + i];
            }

            Assert.Equal(size, v);

            // GNU tar lists the member with its real size.
            var file = Path.GetTempFileName();
            try
            {
                File.WriteAllBytes(file, t);
                var list = Run("tar", "-tvf", file);
                Assert.Contains(" " + size + " ", list.StdoutText);
            }
            finally
            {
                File.Delete(file);
            }
        }

        [Fact]
        public void Subsecond_Mtime_Large_Ids_And_Long_Names_Go_To_Pax()
        {
            var ms = new MemoryStream();
            using (var w = new TarWriter(ms, leaveOpen: true))
            {
                var m = Meta(1_700_000_000, 120_000_000);
                m.Uid = 3_000_000;
                m.Gid = 4_000_000;
                m.UserName = new string('u', 40);
                w.WriteFile("f", m, new byte[] { 1 });
                w.Finish();
            }

            var pax = Encoding.UTF8.GetString(ms.ToArray(), 512, 512);
            Assert.Contains(" mtime=1700000000.12\n", pax);
            Assert.Contains(" uid=3000000\n", pax);
            Assert.Contains(" gid=4000000\n", pax);
            Assert.Contains($" uname={new string('u', 40)}\n", pax);
        }

        [Fact]
        public void Short_Source_Is_Padded_And_Long_Source_Truncated_To_The_Header_Size()
        {
            var ms = new MemoryStream();
            TarFileWriteResult shortR, longR;
            using (var w = new TarWriter(ms, leaveOpen: true))
            {
                shortR = w.WriteFile("short", Meta(), 1000, new MemoryStream(new byte[] { 7, 7, 7 }), null, CancellationToken.None);
                longR = w.WriteFile("long", Meta(), 2, new MemoryStream(new byte[] { 9, 9, 9, 9 }), null, CancellationToken.None);
                w.WriteFile("after", Meta(), Encoding.ASCII.GetBytes("intact"));
                w.Finish();
            }

            Assert.True(shortR.Padded);
            Assert.Equal(3, shortR.BytesFromSource);
            var expectShort = new byte[1000];
            expectShort[0] = expectShort[1] = expectShort[2] = 7;
            Assert.Equal(Sha256Hex(expectShort), shortR.Sha256);
            Assert.True(longR.SourceHadMore);
            Assert.Equal(Sha256Hex(new byte[] { 9, 9 }), longR.Sha256);

            using var tmp = new TempDir("pad");
            var file = Path.Combine(tmp.Path, "t.tar");
            File.WriteAllBytes(file, ms.ToArray());
            Assert.Equal(0, Run("tar", "-xf", file, "-C", tmp.Path).ExitCode);
            Assert.Equal(expectShort, File.ReadAllBytes(Path.Combine(tmp.Path, "short")));
            Assert.Equal(new byte[] { 9, 9 }, File.ReadAllBytes(Path.Combine(tmp.Path, "long")));
            Assert.Equal("intact", File.ReadAllText(Path.Combine(tmp.Path, "after")));
        }

        [Fact]
        public void Writing_After_Finish_Is_Refused()
        {
            var w = new TarWriter(new MemoryStream());
            w.Finish();
            Assert.Throws<InvalidOperationException>(() => w.WriteDirectory("d", Meta()));
        }

        private sealed class ZeroStream : Stream
        {
            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => false;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => 0; set => throw new NotSupportedException(); }
            public override void Flush() { }
            public override int Read(byte[] buffer, int offset, int count) { Array.Clear(buffer, offset, count); return count; }
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }

        /// <summary>Captures the first bytes written, then stops the writer (headers of huge members without writing them).</summary>
        private sealed class HeaderOnlyStream : Stream
        {
            private readonly MemoryStream _ms = new();
            private readonly int _limit;

            public HeaderOnlyStream(int limit) => _limit = limit;

            public byte[] Captured => _ms.ToArray();

            public sealed class EnoughException : Exception { }

            public override bool CanRead => false;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => _ms.Length;
            public override long Position { get => _ms.Position; set => throw new NotSupportedException(); }
            public override void Flush() { }
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();

            public override void Write(byte[] buffer, int offset, int count)
            {
                _ms.Write(buffer, offset, Math.Min(count, _limit - (int)_ms.Length));
                if (_ms.Length >= _limit)
                {
                    throw new EnoughException();
                }
            }
        }
    }

    /// <summary>Tests that measure the process-wide managed heap: run alone, or other tests' allocations count against them.</summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class SerialMemoryTests
    {
        public const string Name = "Serial memory measurements";
    }

    [Collection(SerialMemoryTests.Name)]
    public class ParallelBzip2StreamTests
    {
        [Fact]
        public void Output_Is_Multi_Stream_Bzip2_Read_By_Bzip2_And_Identical()
        {
            var data = new byte[3_500_000];
            Random(1_000_000, 1).CopyTo(data, 0);
            TextLike(1_500_000, 2).CopyTo(data, 1_000_000);
            var ms = new MemoryStream();
            using (var bz = new ParallelBzip2Stream(ms, threads: 2, leaveOpen: true))
            {
                // Odd-sized writes cross block boundaries.
                for (var off = 0; off < data.Length; off += 77_777)
                {
                    bz.Write(data, off, Math.Min(77_777, data.Length - off));
                }

                bz.Complete();
                Assert.Equal(4, bz.StreamsWritten);
                Assert.Equal(data.Length, bz.BytesIn);
                Assert.Equal(ms.Length, bz.BytesOut);
            }

            using var tmp = new TempDir("bz");
            var file = Path.Combine(tmp.Path, "x.bz2");
            File.WriteAllBytes(file, ms.ToArray());
            Assert.Equal(4, DataBackupTests.CountStreams(ms.ToArray()));
            Assert.Equal(0, Run("bzip2", "-t", file).ExitCode);
            var d = Run("bzip2", "-dc", file);
            Assert.Equal(0, d.ExitCode);
            Assert.Equal(data, d.Stdout);
        }

        [Fact]
        public void Empty_Input_Is_A_Valid_Empty_Bzip2_File()
        {
            var ms = new MemoryStream();
            using (var bz = new ParallelBzip2Stream(ms, leaveOpen: true))
            {
                bz.Complete();
            }

            using var tmp = new TempDir("bz0");
            var file = Path.Combine(tmp.Path, "x.bz2");
            File.WriteAllBytes(file, ms.ToArray());
            var d = Run("bzip2", "-dc", file);
            Assert.Equal(0, d.ExitCode);
            Assert.Empty(d.Stdout);
        }

        [Fact]
        public void Native_Libbz2_Is_Used_On_Linux()
        {
            Assert.True(Bzip2BlockCompressor.IsNative, Bzip2BlockCompressor.Implementation);
            Assert.StartsWith("libbz2", Bzip2BlockCompressor.Implementation);
        }

        [Fact]
        public void Managed_Fallback_Produces_Valid_Bzip2()
        {
            var data = TextLike(300_000, 9);
            var output = new byte[Bzip2BlockCompressor.MaxCompressedSize(data.Length)];
            var n = Bzip2BlockCompressor.CompressManaged(data, data.Length, output, 9);
            using var tmp = new TempDir("bzm");
            var file = Path.Combine(tmp.Path, "x.bz2");
            File.WriteAllBytes(file, output[..n]);
            var d = Run("bzip2", "-dc", file);
            Assert.Equal(0, d.ExitCode);
            Assert.Equal(data, d.Stdout);
        }

        [Fact]
        public void Memory_Stays_Bounded_For_A_Fast_Writer()
        {
            // 60 MB of zeros through the stream: the queue never holds more than MaxBlocksInFlight blocks.
            var ms = new CountingSink();
            var block = new byte[1 << 20];
            long before = GC.GetTotalMemory(true);
            long peak = 0;
            using (var bz = new ParallelBzip2Stream(ms, threads: 2, leaveOpen: true))
            {
                for (var i = 0; i < 60; i++)
                {
                    bz.Write(block, 0, block.Length);
                    peak = Math.Max(peak, GC.GetTotalMemory(false) - before);
                }

                bz.Complete();
                Assert.Equal(8, bz.MaxBlocksInFlight);
            }

            Assert.True(peak < 40_000_000, $"peak managed growth {peak} bytes");
            Assert.True(ms.Count > 0);
        }

        [Fact]
        public void Cancellation_Stops_Writes()
        {
            using var cts = new CancellationTokenSource();
            using var bz = new ParallelBzip2Stream(new CountingSink(), threads: 1, cancellationToken: cts.Token);
            bz.Write(new byte[100], 0, 100);
            cts.Cancel();
            Assert.ThrowsAny<OperationCanceledException>(() => bz.Write(new byte[1_000_000], 0, 1_000_000));
        }

        private sealed class CountingSink : Stream
        {
            public long Count { get; private set; }
            public override bool CanRead => false;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => Count;
            public override long Position { get => Count; set => throw new NotSupportedException(); }
            public override void Flush() { }
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => Count += count;
        }
    }

    public class DataBackupExcludeTests
    {
        [Theory]
        [InlineData("*.tmp", "a.tmp", false, true)]
        [InlineData("*.tmp", "x/y/a.tmp", false, true)]
        [InlineData("*.tmp", "x/a.tmpx", false, false)]
        [InlineData("cache", "a/b/cache", true, true)]
        [InlineData("cache/", "a/b/cache", false, false)]
        [InlineData("cache/", "a/b/cache", true, true)]
        [InlineData("mongo/journal", "mongo/journal", true, true)]
        [InlineData("mongo/journal", "x/mongo/journal", true, false)]
        [InlineData("/mongo", "mongo", true, true)]
        [InlineData("postgres/*/pg_stat_tmp", "postgres/16/pg_stat_tmp", true, true)]
        [InlineData("postgres/*/pg_stat_tmp", "postgres/16/x/pg_stat_tmp", true, false)]
        [InlineData("**/logs", "a/b/c/logs", true, true)]
        [InlineData("**/logs", "logs", true, true)]
        [InlineData("a/**", "a/b/c", false, true)]
        [InlineData("file?.log", "file1.log", false, true)]
        [InlineData("file?.log", "file12.log", false, false)]
        [InlineData("weird[1].txt", "weird[1].txt", false, true)]
        public void Patterns_Match_Like_Tar_Excludes(string pattern, string path, bool isDir, bool excluded)
        {
            Assert.Equal(excluded, new DataBackupExclude(new[] { pattern }).IsExcluded(path, isDir));
        }

        [Theory]
        [InlineData(".ccie-dr", true)]
        [InlineData("circleci-restore-20261128T000000Z", true)]
        [InlineData("x/.ccie-dr", false)]
        [InlineData("x/circleci-restore-1", false)]
        [InlineData("circleci-data", false)]
        public void Metadata_And_Move_Aside_Folders_Are_Always_Excluded_At_The_Top(string path, bool excluded)
        {
            Assert.Equal(excluded, DataBackupExclude.IsAlwaysExcluded(path));
        }
    }

    public class DataBackupHooksTests
    {
        [Theory]
        [InlineData("echo 'single' \"double\" back\\slash $HOME")]
        [InlineData("printf '%s\\n' \"a b\" 'c\"d' \\\\")]
        public async Task Commands_Reach_The_Shell_Unchanged(string command)
        {
            using var tmp = new TempDir("q");
            var file = Path.Combine(tmp.Path, "cmd");
            var r = await DataBackupHooks.RunAsync($"cat > '{file}' <<'CCIE_EOF'\n{command}\nCCIE_EOF", new Dictionary<string, string>(), tmp.Path, TimeSpan.FromSeconds(30), CancellationToken.None);
            Assert.True(r.Succeeded, r.Output);
            Assert.Equal(command + "\n", File.ReadAllText(file));
        }

        [Fact]
        public async Task Timeout_Kills_The_Command()
        {
            using var tmp = new TempDir("to");
            var r = await DataBackupHooks.RunAsync("sleep 30", new Dictionary<string, string>(), tmp.Path, TimeSpan.FromMilliseconds(300), CancellationToken.None);
            Assert.True(r.TimedOut);
            Assert.False(r.Succeeded);
            Assert.True(r.Duration < TimeSpan.FromSeconds(10));
        }
    }
}
