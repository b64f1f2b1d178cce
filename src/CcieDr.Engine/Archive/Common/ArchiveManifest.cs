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

        /// <summary>Members in archive order (the manifest itself is not listed).</summary>
        public IList<ManifestEntry> Entries => _entries;

        /// <summary>Number of regular files (type file) in <see cref="Entries"/>.</summary>
        public long FileCount { get; set; }

        /// <summary>Sum of the sizes of the regular files.</summary>
        public long TotalBytes { get; set; }

        /// <summary>Warnings raised while the backup was taken (files changed or vanished, unsupported types skipped).</summary>
        public IList<string> Warnings => _warnings;

        /// <summary>Recomputes <see cref="FileCount"/> and <see cref="TotalBytes"/> from <see cref="Entries"/>.</summary>
        public void UpdateTotals()
        {
            long count = 0, bytes = 0;
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
                if (w.BytesPending > 64 * 1024)
                {
                    w.Flush(); // Utf8JsonWriter buffers until flushed: keep the document out of memory
                }
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

        /// <summary>Parses a manifest from UTF-8 JSON bytes.</summary>
        /// <exception cref="FormatException">The document is not a valid ccie-dr manifest.</exception>
        public static ArchiveManifest Parse(byte[] utf8Json)
        {
            if (utf8Json is null)
            {
                throw new ArgumentNullException(nameof(utf8Json));
            }

            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(utf8Json, new JsonDocumentOptions { MaxDepth = 16 });
            }
            catch (JsonException ex)
            {
                throw new FormatException("The archive manifest is not valid JSON: " + ex.Message, ex);
            }

            using (doc)
            {
                return FromDocument(doc.RootElement);
            }
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

        private static ManifestEntryType ParseType(string? s) => s switch
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

        private static ArchiveManifest FromDocument(JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("The archive manifest is not a JSON object.");
            }

            var m = new ArchiveManifest
            {
                Format = RequiredString(root, "format"),
            };
            if (!string.Equals(m.Format, FormatId, StringComparison.Ordinal))
            {
                throw new FormatException($"Unsupported manifest format '{m.Format}' (expected '{FormatId}').");
            }

            m.Tool = OptionalString(root, "tool") ?? string.Empty;
            m.Host = OptionalString(root, "host") ?? string.Empty;
            m.SourcePath = OptionalString(root, "sourcePath") ?? string.Empty;
            var created = OptionalString(root, "created");
            if (created != null)
            {
                if (!DateTimeOffset.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var c))
                {
                    throw new FormatException($"Manifest 'created' is not an ISO-8601 time: '{created}'.");
                }

                m.Created = c;
            }

            if (!root.TryGetProperty("entries", out var entries) || entries.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("The archive manifest has no 'entries' array.");
            }

            foreach (var el in entries.EnumerateArray())
            {
                if (el.ValueKind != JsonValueKind.Object)
                {
                    throw new FormatException("A manifest entry is not a JSON object.");
                }

                var path = RequiredString(el, "path");
                var e = new ManifestEntry(path, ParseType(RequiredString(el, "type")))
                {
                    Size = OptionalInt64(el, "size"),
                    Mode = (int)OptionalInt64(el, "mode"),
                    Uid = OptionalInt64(el, "uid"),
                    Gid = OptionalInt64(el, "gid"),
                    Sha256 = OptionalString(el, "sha256"),
                    LinkTarget = OptionalString(el, "linkTarget"),
                };
                if (el.TryGetProperty("mtime", out var mt) && mt.ValueKind == JsonValueKind.Number)
                {
                    e.Mtime = mt.GetDouble();
                }

                if (e.Size < 0)
                {
                    throw new FormatException($"Manifest entry '{path}' has a negative size.");
                }

                if (e.Mode < 0 || e.Mode > 0xFFF)
                {
                    throw new FormatException($"Manifest entry '{path}' has an invalid mode {e.Mode}.");
                }

                if (e.Sha256 != null && !IsLowerHex64(e.Sha256))
                {
                    throw new FormatException($"Manifest entry '{path}' has an invalid sha256.");
                }

                m._entries.Add(e);
            }

            m.FileCount = OptionalInt64(root, "fileCount");
            m.TotalBytes = OptionalInt64(root, "totalBytes");
            if (root.TryGetProperty("warnings", out var warnings) && warnings.ValueKind == JsonValueKind.Array)
            {
                foreach (var w in warnings.EnumerateArray())
                {
                    if (w.ValueKind == JsonValueKind.String)
                    {
                        m._warnings.Add(w.GetString() ?? string.Empty);
                    }
                }
            }

            return m;
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

        private static string RequiredString(JsonElement obj, string name)
        {
            if (!obj.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.String)
            {
                throw new FormatException($"The archive manifest is missing the string property '{name}'.");
            }

            return v.GetString() ?? string.Empty;
        }

        private static string? OptionalString(JsonElement obj, string name)
        {
            if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (v.ValueKind != JsonValueKind.String)
            {
                throw new FormatException($"Manifest property '{name}' must be a string.");
            }

            return v.GetString();
        }

        private static long OptionalInt64(JsonElement obj, string name)
        {
            if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            {
                return 0;
            }

            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var n))
            {
                throw new FormatException($"Manifest property '{name}' must be an integer.");
            }

            return n;
        }
    }
}
