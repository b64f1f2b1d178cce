using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text.Json;
using CcieDr.Engine.Archive.Common;

namespace CcieDr.Engine.Archive.Restore
{
    /// <summary>
    /// The restore journal, <c>&lt;Path&gt;/.ccie-restore-journal.json</c>: which step a restore has
    /// reached and the exact lists of names it moves, written atomically (temp file, fsync,
    /// rename, fsync of the directory) before each step, so that a restore killed at any point
    /// can be finished or undone from what is on disk.
    /// </summary>
    public sealed class RestoreJournal
    {
        /// <summary>File name of the journal inside the data directory.</summary>
        public const string FileName = ".ccie-restore-journal.json";

        /// <summary>Prefix of staging directories inside the data directory.</summary>
        public const string StagingPrefix = ".ccie-restore-staging-";

        /// <summary>Format identifier.</summary>
        public const string FormatId = "ccie-dr-restore-journal/1";

        private const string TempSuffix = ".tmp";

        /// <summary>Creates a journal for a new restore.</summary>
        public RestoreJournal(string path, string source, string stagingName, string asideName, DateTimeOffset started)
        {
            Path = path;
            Source = source;
            StagingName = stagingName;
            AsideName = asideName;
            Started = started;
        }

        /// <summary>Data directory.</summary>
        public string Path { get; }

        /// <summary>Archive being restored.</summary>
        public string Source { get; }

        /// <summary>Name of the staging directory inside <see cref="Path"/>.</summary>
        public string StagingName { get; }

        /// <summary>Name of the move-aside folder inside <see cref="Path"/>.</summary>
        public string AsideName { get; }

        /// <summary>When the restore started.</summary>
        public DateTimeOffset Started { get; }

        /// <summary>Current step.</summary>
        public JournalState State { get; set; }

        /// <summary>Set once a roll-back has started, so a second interruption keeps rolling back.</summary>
        public bool RollingBack { get; set; }

        /// <summary>Whether a manifest verified the staged contents.</summary>
        public bool ManifestVerified { get; set; }

        /// <summary>Top-level names of the data directory that are (to be) moved aside.</summary>
        public IList<string> MoveAside { get; } = new List<string>();

        /// <summary>Top-level names of the staging directory that are (to be) moved into place.</summary>
        public IList<string> MoveIn { get; } = new List<string>();

        /// <summary>Full path of the journal file of a data directory.</summary>
        public static string FilePath(string dataPath) => System.IO.Path.Combine(dataPath, FileName);

        /// <summary>Reads the journal of a data directory; null when there is none.</summary>
        /// <exception cref="CcieException">The journal cannot be read (RestoreJournalUnreadable).</exception>
        public static RestoreJournal? Read(string dataPath)
        {
            string file = FilePath(dataPath);
            if (SafeExtractNative.IsSymlink(file))
            {
                throw new CcieException("RestoreJournalUnreadable", CcieErrorCategory.InvalidData, $"The restore journal '{file}' is a symbolic link, which the restore never writes; it is not followed. Inspect the data directory by hand.", file);
            }

            if (!File.Exists(file))
            {
                return null;
            }

            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
                var r = doc.RootElement;
                if (r.GetProperty("format").GetString() != FormatId)
                {
                    throw new FormatException("unknown format");
                }

                var j = new RestoreJournal(
                    dataPath,
                    r.GetProperty("source").GetString() ?? string.Empty,
                    CheckName(r.GetProperty("staging").GetString()),
                    CheckName(r.GetProperty("aside").GetString()),
                    DateTimeOffset.Parse(r.GetProperty("started").GetString() ?? string.Empty, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal))
                {
                    State = ParseState(r.GetProperty("state").GetString()),
                    ManifestVerified = r.TryGetProperty("manifestVerified", out var mv) && mv.ValueKind == JsonValueKind.True,
                    RollingBack = r.TryGetProperty("rollingBack", out var rb) && rb.ValueKind == JsonValueKind.True,
                };
                foreach (var n in r.GetProperty("moveAside").EnumerateArray())
                {
                    j.MoveAside.Add(CheckName(n.GetString()));
                }

                foreach (var n in r.GetProperty("moveIn").EnumerateArray())
                {
                    j.MoveIn.Add(CheckName(n.GetString()));
                }

                return j;
            }
            catch (Exception ex) when (ex is JsonException || ex is KeyNotFoundException || ex is InvalidOperationException || ex is FormatException)
            {
                throw new CcieException("RestoreJournalUnreadable", CcieErrorCategory.InvalidData, $"The restore journal '{file}' is unreadable ({ex.Message}); inspect the data directory by hand.", file, ex);
            }
        }

        /// <summary>
        /// Writes the journal atomically and durably: a new temp file (O_CREAT|O_EXCL|O_NOFOLLOW, 0600; a stale
        /// one, or a symlink planted at its name, is unlinked first, never written through), fsync, rename over
        /// the journal, fsync of the directory.
        /// </summary>
        /// <exception cref="CcieException">The temp file cannot be created (RestoreJournalWriteFailed).</exception>
        public void Write()
        {
            string file = FilePath(Path);
            string tmp = file + TempSuffix;
            FileStream created;
            try
            {
                if (SafeExtractNative.Lexists(tmp))
                {
                    File.Delete(tmp); // unlink(2): removes a symlink itself, never its target
                }

                created = SafeExtractNative.CreatePrivateFileNoFollow(tmp, 1 << 12);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new CcieException("RestoreJournalWriteFailed", CcieErrorCategory.WriteError, $"Cannot write the restore journal's temp file '{tmp}' ({ex.Message}); if something else is creating files in {Path}, stop it, then run Restore-CcieData -Path {Path} -Recover.", tmp, ex);
            }

            using (var fs = created)
            {
                using (var w = new Utf8JsonWriter(fs, new JsonWriterOptions { Indented = true }))
                {
                    w.WriteStartObject();
                    w.WriteString("format", FormatId);
                    w.WriteString("state", StateName(State));
                    w.WriteString("path", Path);
                    w.WriteString("source", Source);
                    w.WriteString("started", Started.UtcDateTime.ToString("o", CultureInfo.InvariantCulture));
                    w.WriteString("updated", DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture));
                    w.WriteString("staging", StagingName);
                    w.WriteString("aside", AsideName);
                    w.WriteBoolean("manifestVerified", ManifestVerified);
                    w.WriteBoolean("rollingBack", RollingBack);
                    w.WriteStartArray("moveAside");
                    foreach (var n in MoveAside)
                    {
                        w.WriteStringValue(n);
                    }

                    w.WriteEndArray();
                    w.WriteStartArray("moveIn");
                    foreach (var n in MoveIn)
                    {
                        w.WriteStringValue(n);
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }

                fs.Flush(true);
            }

            SafeExtractNative.Rename(tmp, file);
            SafeExtractNative.FsyncDirectory(Path);
        }

        /// <summary>Removes a journal temp file left by a process killed in its first write, when no journal exists.</summary>
        public static void RemoveOrphanTemp(string dataPath)
        {
            string file = FilePath(dataPath);
            if (!SafeExtractNative.Lexists(file) && SafeExtractNative.Lexists(file + TempSuffix))
            {
                File.Delete(file + TempSuffix); // unlink(2): a symlink itself, never its target
                SafeExtractNative.FsyncDirectory(dataPath);
            }
        }

        /// <summary>Removes the journal (and a stray temp file) durably.</summary>
        public static void Delete(string dataPath)
        {
            string file = FilePath(dataPath);
            File.Delete(file + TempSuffix);
            File.Delete(file);
            SafeExtractNative.FsyncDirectory(dataPath);
        }

        /// <summary>Journal state name as written ("staging", "moving-aside", ...).</summary>
        public static string StateName(JournalState s) => s switch
        {
            JournalState.Staging => "staging",
            JournalState.Staged => "staged",
            JournalState.MovingAside => "moving-aside",
            JournalState.MovingIn => "moving-in",
            _ => "done",
        };

        private static JournalState ParseState(string? s) => s switch
        {
            "staging" => JournalState.Staging,
            "staged" => JournalState.Staged,
            "moving-aside" => JournalState.MovingAside,
            "moving-in" => JournalState.MovingIn,
            "done" => JournalState.Done,
            _ => throw new FormatException($"unknown state '{s}'"),
        };

        private static string CheckName(string? name)
        {
            // Names are single top-level entries: never a path that could leave the data directory.
            if (string.IsNullOrEmpty(name) || name == "." || name == ".." || name!.IndexOf('/') >= 0 || name.IndexOf('\0') >= 0)
            {
                throw new FormatException($"invalid entry name '{name}'");
            }

            return name;
        }
    }
}
