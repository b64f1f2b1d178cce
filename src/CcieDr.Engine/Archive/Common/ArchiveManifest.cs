using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;

namespace CcieDr.Engine.Archive.Common
{
    /// <summary>Kind of an archive member as recorded in the manifest.</summary>
    public enum ManifestEntryType
    {
        /// <summary>Regular file (tar type '0').</summary>
        File,

        /// <summary>Directory (tar type '5').</summary>
        Directory,

        /// <summary>Symbolic link (tar type '2'); <see cref="ManifestEntry.LinkTarget"/> is the link text.</summary>
        Symlink,

        /// <summary>Hard link (tar type '1'); <see cref="ManifestEntry.LinkTarget"/> is the archive path of the first member with the same inode.</summary>
        Hardlink,
    }

    /// <summary>One member of a data archive as described by the manifest.</summary>
    public sealed class ManifestEntry
    {
        /// <summary>Creates an entry.</summary>
        public ManifestEntry(string path, ManifestEntryType type)
        {
            Path = path ?? throw new ArgumentNullException(nameof(path));
            Type = type;
        }

        /// <summary>Archive path, relative to the data directory, '/'-separated; directories end with '/'.</summary>
        public string Path { get; }

        /// <summary>Entry kind.</summary>
        public ManifestEntryType Type { get; }

        /// <summary>Number of content bytes stored in the archive (0 for anything but files).</summary>
        public long Size { get; set; }

        /// <summary>Permission bits (e.g. 420 = 0644), including setuid/setgid/sticky.</summary>
        public int Mode { get; set; }

        /// <summary>Modification time, seconds since the Unix epoch (fractional).</summary>
        public double Mtime { get; set; }

        /// <summary>Owner user id.</summary>
        public long Uid { get; set; }

        /// <summary>Owner group id.</summary>
        public long Gid { get; set; }

        /// <summary>Lowercase hex SHA-256 of the stored content (files only), else null.</summary>
        public string? Sha256 { get; set; }

        /// <summary>Symlink text or hard-link target path, else null.</summary>
        public string? LinkTarget { get; set; }
    }

    /// <summary>
    /// The manifest stored as the last member (<see cref="MemberPath"/>) of every CcieDr data archive:
    /// a UTF-8 JSON document listing each member with its size, mode, mtime, owner and SHA-256.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
        Justification = "The only disposable field is the spool's Utf8JsonWriter: no unmanaged resource, dropped by ReleaseEntries; the spool file itself belongs to the caller.")]
    public sealed class ArchiveManifest
    {
        /// <summary>Value of the "format" property.</summary>
        public const string FormatId = "ccie-dr-manifest/1";

        /// <summary>Archive path of the manifest member.</summary>
        public const string MemberPath = ".ccie-dr/manifest.json";

        /// <summary>Top-level folder reserved for CcieDr metadata; excluded from every backup.</summary>
        public const string MetadataFolder = ".ccie-dr";

        /// <summary>Prefix of the move-aside folders a restore creates; excluded from every backup.</summary>
        public const string RestoreFolderPrefix = "circleci-restore-";

        /// <summary>Largest manifest a reader should accept (bytes).</summary>
        public const long MaxManifestBytes = 1L << 30;

        private readonly List<ManifestEntry> _entries = new List<ManifestEntry>();
        private readonly List<string> _warnings = new List<string>();
        private Stream? _spool;
        // One writer for every spooled entry (Reset after each): a new one costs a 4 KB buffer an entry.
        // It holds no unmanaged resource; ReleaseEntries drops it.
        private Utf8JsonWriter? _spoolWriter;
        private long _spooled;
        private long _spooledFiles;
        private long _spooledBytes;
        private long _entryCount = -1;
        private bool _entriesReleased;

        /// <summary>Format identifier (always <see cref="FormatId"/> for manifests this version writes).</summary>
        public string Format { get; set; } = FormatId;

        /// <summary>"CcieDr &lt;version&gt;".</summary>
        public string Tool { get; set; } = "CcieDr";

        /// <summary>Host name the backup was taken on.</summary>
        public string Host { get; set; } = string.Empty;

        /// <summary>Absolute source directory that was backed up (e.g. /data).</summary>
        public string SourcePath { get; set; } = string.Empty;

        /// <summary>When the backup was taken (UTC).</summary>
        public DateTimeOffset Created { get; set; }

        /// <summary>Members in archive order (the manifest itself is not listed); empty when they were spooled or streamed (see <see cref="EntryCount"/>).</summary>
        public IList<ManifestEntry> Entries => _entries;

        /// <summary>Number of members listed: those in <see cref="Entries"/>, spooled by <see cref="Add"/>, or read by <see cref="Read"/>.</summary>
        public long EntryCount
        {
            get => _entryCount >= 0 ? _entryCount : _entries.Count + _spooled;
            internal set => _entryCount = value;
        }

        /// <summary>
        /// False for a backup's manifest once written into the archive: its entries are not kept in memory (they grow
        /// with the file count); read them from the archive's <see cref="MemberPath"/> member.
        /// </summary>
        public bool EntriesAvailable => !_entriesReleased;

        /// <summary>Number of regular files (type file) in <see cref="Entries"/>.</summary>
        public long FileCount { get; set; }

        /// <summary>Sum of the sizes of the regular files.</summary>
        public long TotalBytes { get; set; }

        /// <summary>Warnings raised while the backup was taken (files changed or vanished, unsupported types skipped).</summary>
        public IList<string> Warnings => _warnings;

        /// <summary>
        /// From now on <see cref="Add"/> serializes each entry into <paramref name="spool"/> (a private temporary file the
        /// caller owns and deletes) instead of keeping it: <see cref="WriteTo"/> copies them back, in order.
        /// </summary>
        internal void SpoolEntriesTo(Stream spool)
        {
            _spool = spool ?? throw new ArgumentNullException(nameof(spool));
            _spoolWriter = new Utf8JsonWriter(spool, new JsonWriterOptions { Indented = false });
        }

        /// <summary>Drops the spool (its owner deletes it): the entries are in the archive, not here (<see cref="EntriesAvailable"/> false).</summary>
        internal void ReleaseEntries()
        {
            _entryCount = EntryCount;
            _spoolWriter?.Dispose();
            _spoolWriter = null;
            _spool = null;
            _entriesReleased = true;
        }

        /// <summary>Adds an entry: to <see cref="Entries"/>, or to the spool when one was set.</summary>
        public void Add(ManifestEntry entry)
        {
            if (entry is null)
            {
                throw new ArgumentNullException(nameof(entry));
            }

            if (_spool is null)
            {
                _entries.Add(entry);
                return;
            }

            var w = _spoolWriter!;
            WriteEntry(w, entry);
            w.Flush();
            w.Reset(); // the next entry is a new document on the same line-per-entry spool
            _spool.WriteByte((byte)'\n'); // one entry a line: a JSON string never holds a raw newline
            _spooled++;
            if (entry.Type == ManifestEntryType.File)
            {
                _spooledFiles++;
                _spooledBytes += entry.Size;
            }
        }

        /// <summary>Recomputes <see cref="FileCount"/> and <see cref="TotalBytes"/> from <see cref="Entries"/> (and the spooled entries).</summary>
        public void UpdateTotals()
        {
            long count = _spooledFiles, bytes = _spooledBytes;
            foreach (var e in _entries)
            {
                if (e.Type == ManifestEntryType.File)
                {
                    count++;
                    bytes += e.Size;
                }
            }

            FileCount = count;
            TotalBytes = bytes;
        }

        /// <summary>Serializes to UTF-8 JSON (no BOM).</summary>
        public byte[] Serialize()
        {
            using var ms = new MemoryStream();
            WriteTo(ms);
            return ms.ToArray();
        }

        /// <summary>Length in bytes of <see cref="Serialize"/>'s output, measured without keeping the document.</summary>
        public long SerializedLength()
        {
            using var counter = new WriteCountingStream();
            WriteTo(counter);
            return counter.BytesWritten;
        }

        /// <summary>Serializes as UTF-8 JSON to <paramref name="stream"/>.</summary>
        public void WriteTo(Stream stream)
        {
            if (stream is null)
            {
                throw new ArgumentNullException(nameof(stream));
            }

            if (_entriesReleased)
            {
                throw new InvalidOperationException("This manifest's entries were written into the archive and are not kept in memory; read the manifest from the archive.");
            }

            using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
            w.WriteStartObject();
            w.WriteString("format", Format);
            w.WriteString("tool", Tool);
            w.WriteString("host", Host);
            w.WriteString("sourcePath", SourcePath);
            w.WriteString("created", Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            w.WriteStartArray("entries");
            foreach (var e in _entries)
            {
                WriteEntry(w, e);
                if (w.BytesPending > 64 * 1024)
                {
                    w.Flush(); // Utf8JsonWriter buffers until flushed: keep the document out of memory
                }
            }

            if (_spool != null)
            {
                CopySpooled(w);
            }

            w.WriteEndArray();
            w.WriteNumber("fileCount", FileCount);
            w.WriteNumber("totalBytes", TotalBytes);
            w.WriteStartArray("warnings");
            foreach (var s in _warnings)
            {
                w.WriteStringValue(s);
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.Flush();
        }

        private static void WriteEntry(Utf8JsonWriter w, ManifestEntry e)
        {
            w.WriteStartObject();
            w.WriteString("path", e.Path);
            w.WriteString("type", TypeToString(e.Type));
            w.WriteNumber("size", e.Size);
            w.WriteNumber("mode", e.Mode);
            w.WritePropertyName("mtime");
            WriteMtime(w, e.Mtime);
            w.WriteNumber("uid", e.Uid);
            w.WriteNumber("gid", e.Gid);
            if (e.Sha256 is null)
            {
                w.WriteNull("sha256");
            }
            else
            {
                w.WriteString("sha256", e.Sha256);
            }

            if (e.LinkTarget is null)
            {
                w.WriteNull("linkTarget");
            }
            else
            {
                w.WriteString("linkTarget", e.LinkTarget);
            }

            w.WriteEndObject();
        }

        // The spooled entries, one serialized object a line, written back as raw values in order.
        private void CopySpooled(Utf8JsonWriter w)
        {
            var spool = _spool!;
            spool.Flush();
            long end = spool.Position;
            spool.Position = 0;
            var buf = new byte[64 * 1024];
            int start = 0, len = 0;
            long left = end;
            while (true)
            {
                int nl = Array.IndexOf(buf, (byte)'\n', start, len - start);
                if (nl >= 0)
                {
                    w.WriteRawValue(new ReadOnlySpan<byte>(buf, start, nl - start), skipInputValidation: true);
                    start = nl + 1;
                    if (w.BytesPending > 64 * 1024)
                    {
                        w.Flush();
                    }

                    continue;
                }

                if (left == 0)
                {
                    break;
                }

                int pending = len - start;
                Buffer.BlockCopy(buf, start, buf, 0, pending);
                if (pending == buf.Length)
                {
                    Array.Resize(ref buf, buf.Length * 2);
                }

                int n = spool.Read(buf, pending, (int)Math.Min(buf.Length - pending, left));
                if (n <= 0)
                {
                    throw new IOException("The manifest spool file ended early.");
                }

                left -= n;
                start = 0;
                len = pending + n;
            }

            spool.Position = end;
        }

        /// <summary>Parses a manifest from UTF-8 JSON bytes.</summary>
        /// <exception cref="FormatException">The document is not a valid ccie-dr manifest.</exception>
        public static ArchiveManifest Parse(byte[] utf8Json)
        {
            if (utf8Json is null)
            {
                throw new ArgumentNullException(nameof(utf8Json));
            }

            var entries = new List<ManifestEntry>();
            using var ms = new MemoryStream(utf8Json, writable: false);
            var m = ArchiveManifestReader.Read(ms, entries.Add);
            m._entries.AddRange(entries);
            return m;
        }

        /// <summary>
        /// Reads a manifest from a stream without holding its entries: the header, totals and warnings are in the
        /// result (its <see cref="Entries"/> empty, <see cref="EntryCount"/> set); each entry, validated, goes to
        /// <paramref name="onEntry"/> in document order (null: only validate).
        /// </summary>
        /// <exception cref="FormatException">The document is not a valid ccie-dr manifest.</exception>
        public static ArchiveManifest Read(Stream utf8Json, Action<ManifestEntry>? onEntry)
        {
            if (utf8Json is null)
            {
                throw new ArgumentNullException(nameof(utf8Json));
            }

            return ArchiveManifestReader.Read(utf8Json, onEntry);
        }

        /// <summary>Parses a manifest from a JSON string.</summary>
        public static ArchiveManifest Parse(string json)
        {
            if (json is null)
            {
                throw new ArgumentNullException(nameof(json));
            }

            return Parse(Encoding.UTF8.GetBytes(json));
        }

        /// <summary>Maps a manifest type name ("file", "directory", "symlink", "hardlink").</summary>
        public static string TypeToString(ManifestEntryType type) => type switch
        {
            ManifestEntryType.File => "file",
            ManifestEntryType.Directory => "directory",
            ManifestEntryType.Symlink => "symlink",
            ManifestEntryType.Hardlink => "hardlink",
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };

        internal static ManifestEntryType ParseType(string? s) => s switch
        {
            "file" => ManifestEntryType.File,
            "directory" => ManifestEntryType.Directory,
            "symlink" => ManifestEntryType.Symlink,
            "hardlink" => ManifestEntryType.Hardlink,
            _ => throw new FormatException($"Unknown manifest entry type '{s}'."),
        };

        private static void WriteMtime(Utf8JsonWriter w, double mtime)
        {
            // Whole seconds print as integers; fractions keep microseconds (a double holds no more at today's epoch).
            var whole = Math.Floor(mtime);
            var micros = (long)Math.Round((mtime - whole) * 1e6);
            if (micros >= 1_000_000)
            {
                whole += 1;
                micros -= 1_000_000;
            }

            if (micros == 0)
            {
                w.WriteNumberValue((long)whole);
            }
            else
            {
                var text = ((long)whole).ToString(CultureInfo.InvariantCulture) + "." + micros.ToString("D6", CultureInfo.InvariantCulture).TrimEnd('0');
                w.WriteRawValue(text, skipInputValidation: true);
            }
        }

        /// <summary>Checks one entry's values (size, mode, sha256) as a reader must.</summary>
        /// <exception cref="FormatException">A value is out of range.</exception>
        internal static void Validate(ManifestEntry e)
        {
            if (e.Size < 0)
            {
                throw new FormatException($"Manifest entry '{e.Path}' has a negative size.");
            }

            if (e.Mode < 0 || e.Mode > 0xFFF)
            {
                throw new FormatException($"Manifest entry '{e.Path}' has an invalid mode {e.Mode}.");
            }

            if (e.Sha256 != null && !IsLowerHex64(e.Sha256))
            {
                throw new FormatException($"Manifest entry '{e.Path}' has an invalid sha256.");
            }
        }

        private static bool IsLowerHex64(string s)
        {
            if (s.Length != 64)
            {
                return false;
            }

            foreach (var ch in s)
            {
                if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
