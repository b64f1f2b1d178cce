using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Archive.Restore
{
    /// <summary>
    /// Atomic restore of a data archive into a data directory: extract and verify into a staging
    /// directory on the same filesystem, then, under a journal, rename every existing top-level
    /// entry into <c>&lt;Path&gt;/circleci-restore-&lt;timestamp&gt;/</c> and the staged entries into
    /// place. An interrupted restore is finished or undone on the next run (or by
    /// <see cref="Recover"/>), so the directory always holds the old data or the new data.
    /// </summary>
    public sealed class DataRestore
    {
        /// <summary>Prefix of the folders the previous data is moved into.</summary>
        public const string AsidePrefix = "circleci-restore-";

        private const string LostAndFound = "lost+found";

        private readonly IAmazonS3? _s3;

        /// <summary>Creates the operation; <paramref name="s3"/> is needed only for s3:// sources.</summary>
        public DataRestore(IAmazonS3? s3 = null)
        {
            _s3 = s3;
            StepHook = HoldAtStepFromEnvironment();
        }

        /// <summary>Test hook: called at every durable step ("staging", "staged", "aside:&lt;name&gt;", ...).</summary>
        internal Action<string>? StepHook { get; set; }

        /// <summary>
        /// For process-level crash tests only: with CCIEDR_TEST_HOLD_AT_STEP=&lt;step&gt; (for example "staged" or
        /// "moving-aside") the restore stops for up to 120 s right after that step is durable, so a test can kill -9
        /// the process in exactly that journal state. Unset (always, outside those tests) it does nothing.
        /// </summary>
        private static Action<string>? HoldAtStepFromEnvironment()
        {
            string? hold = Environment.GetEnvironmentVariable("CCIEDR_TEST_HOLD_AT_STEP");
            if (string.IsNullOrEmpty(hold))
            {
                return null;
            }

            return step =>
            {
                if (string.Equals(step, hold, StringComparison.Ordinal))
                {
                    System.Threading.Thread.Sleep(TimeSpan.FromSeconds(120));
                }
            };
        }

        /// <summary>Test hook: each staged file while it is being written (see <see cref="SafeExtractOptions.FileWriting"/>).</summary>
        internal Action<string>? FileWritingHook { get; set; }

        /// <summary>Test hook: the clock (names of the staging and move-aside folders).</summary>
        internal Func<DateTimeOffset> Clock { get; set; } = () => DateTimeOffset.UtcNow;

        /// <summary>Restores the archive into the data directory.</summary>
        /// <exception cref="UnsafeArchiveException">Hostile archive; the data directory is untouched.</exception>
        /// <exception cref="ArchiveCorruptException">Damaged archive or manifest mismatch; the data directory is untouched.</exception>
        /// <exception cref="OperationCanceledException">Cancelled before the swap; the data directory is untouched.</exception>
        public async Task<DataRestoreResult> RestoreAsync(DataRestoreOptions options, CancellationToken cancellationToken)
        {
            if (options is null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            RequirePosix();
            var started = Clock();
            var clock = Stopwatch.StartNew();
            var timeline = new Timeline(() => Clock().UtcDateTime);
            var warnings = new List<string>();
            void Log(string what) => timeline.Complete(timeline.Begin(what));

            string path = NormalizeDataPath(options.Path);
            if (!Directory.Exists(path))
            {
                Directory.CreateDirectory(path);
                Log("created " + path);
            }

            using var dataLock = AcquireLock(path);
            Log($"restore of {options.Source} into {path} started");

            var recovered = RecoverLocked(path, RecoveryMode.Auto, StepHook);
            if (recovered != null)
            {
                warnings.Add("An interrupted restore was found and finished first: " + recovered.Message);
                Log(recovered.Message);
            }

            RemoveStaleStaging(path, warnings);

            string ts = started.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            string stagingName = Unique(path, RestoreJournal.StagingPrefix + ts);
            string asideName = Unique(path, AsidePrefix + ts);
            string staging = Path.Combine(path, stagingName);
            var journal = new RestoreJournal(path, options.Source, stagingName, asideName, started) { State = JournalState.Staging };
            journal.Write();
            Hook("staging");

            SafeExtractResult extracted = await StageAsync(options, path, staging, journal, timeline, warnings, cancellationToken).ConfigureAwait(false);

            // From here on the restore completes, or is undone; cancellation no longer applies.
            Swap(journal, path, timeline, extracted, options);

            Log("restore complete" + (journal.MoveAside.Count > 0 ? "; previous data in " + Path.Combine(path, asideName) : "; the directory was empty"));
            return new DataRestoreResult(
                options.Source,
                path,
                journal.MoveAside.Count > 0 ? Path.Combine(path, asideName) : null,
                journal.MoveAside.ToList(),
                journal.MoveIn.ToList(),
                extracted.Files,
                extracted.ContentBytes,
                extracted.CompressedBytes,
                started,
                clock.Elapsed,
                extracted.ManifestVerified,
                warnings,
                timeline.Entries);
        }

        /// <summary>
        /// Extracts and verifies the archive into the staging directory and fills the journal's swap lists. Nothing in
        /// the data directory moves; on any failure the staging directory and the journal are removed.
        /// </summary>
        private async Task<SafeExtractResult> StageAsync(DataRestoreOptions options, string path, string staging, RestoreJournal journal, Timeline timeline, List<string> warnings, CancellationToken cancellationToken)
        {
            void Log(string what) => timeline.Complete(timeline.Begin(what));
            SafeExtractResult extracted;
            TimelineEntry? reading = null;
            try
            {
                SafeExtractNative.CreatePrivateDirectory(staging); // 0700: nobody else reads the data while it is staged
                using (var source = await DataRestoreSource.OpenAsync(options.Source, _s3, cancellationToken).ConfigureAwait(false))
                {
                    reading = timeline.Begin($"reading {options.Source}" + (source.Length is long len ? $" ({len} bytes)" : string.Empty) + ", extracting into the staging directory and verifying");
                    var xo = new SafeExtractOptions
                    {
                        TargetDirectory = staging,
                        FinalPath = path,
                        Progress = options.Progress,
                        CompressedLength = source.Length,
                        Bzip2 = options.Bzip2,
                        ReadAhead = options.ReadAhead,
                        PreservePermissions = options.PreservePermissions,
                        Phase = "Extracting and verifying",
                        FileWriting = FileWritingHook,
                    };
                    extracted = await Task.Run(() => SafeExtractor.Run(source.Stream, xo, cancellationToken), cancellationToken).ConfigureAwait(false);
                }

                if (extracted.Manifest is null && (options.RequireManifest || !options.AllowNoManifest))
                {
                    throw new CcieException(
                        "ArchiveManifestMissing",
                        CcieErrorCategory.InvalidData,
                        options.RequireManifest
                            ? $"The archive '{options.Source}' has no manifest and a verified restore was required; nothing was changed."
                            : $"The archive '{options.Source}' has no CcieDr manifest, so its contents cannot be verified; nothing was changed. Pass -AllowNoManifest (DataRestoreOptions.AllowNoManifest) to restore it unverified.",
                        options.Source);
                }

                warnings.AddRange(extracted.Warnings);
                if (reading != null)
                {
                    timeline.Complete(reading);
                }

                Log($"staged {extracted.Files} files, {extracted.Directories} directories, {extracted.Symlinks} symlinks, {extracted.HardLinks} hard links, {extracted.ContentBytes} bytes" + (extracted.ManifestVerified ? "; verified against the manifest" : "; no manifest"));
                SafeExtractNative.SyncFilesystem(staging);
                cancellationToken.ThrowIfCancellationRequested();

                // The swap lists.
                foreach (var name in TopLevel(path))
                {
                    if (!IsKept(name))
                    {
                        journal.MoveAside.Add(name);
                    }
                }

                foreach (var name in TopLevel(staging))
                {
                    if (name != LostAndFound && IsKept(name))
                    {
                        // Never silently dropped: an archive carrying the restore's own journal, staging or
                        // move-aside names is refused whole, before anything in the data directory moves.
                        throw new UnsafeArchiveException(
                            $"The archive '{options.Source}' was refused: its member '{name}' would land on a name the restore reserves for itself "
                            + $"(the journal {RestoreJournal.FileName}, a {RestoreJournal.StagingPrefix}* staging directory or a {AsidePrefix}* folder). Nothing was changed.",
                            name);
                    }

                    if (name == LostAndFound && SafeExtractNative.Lexists(Path.Combine(path, name)))
                    {
                        warnings.Add($"The archive's top-level entry '{name}' was not restored: the name is reserved or kept in place.");
                        continue;
                    }

                    journal.MoveIn.Add(name);
                }

                journal.ManifestVerified = extracted.ManifestVerified;
                cancellationToken.ThrowIfCancellationRequested();
            }
            catch (Exception ex) when (!(ex is RestoreCrashSimulation))
            {
                // Nothing in the data directory has moved: drop the staging and the journal.
                DeleteTree(staging);
                RestoreJournal.Delete(path);
                if (cancellationToken.IsCancellationRequested && !(ex is OperationCanceledException))
                {
                    // Cancelling closes an S3 body mid-read; report the cancellation, not the read error.
                    throw new OperationCanceledException("The restore was cancelled before the swap; the data directory is unchanged.", ex, cancellationToken);
                }

                throw;
            }

            return extracted;
        }

        /// <summary>
        /// Swaps the staged entries into place under the journal: from here on the restore completes, or is undone
        /// (cancellation no longer applies).
        /// </summary>
        private void Swap(RestoreJournal journal, string path, Timeline timeline, SafeExtractResult extracted, DataRestoreOptions options)
        {
            journal.State = JournalState.Staged;
            journal.Write();
            Hook("staged");
            var swap = timeline.Begin($"moving {journal.MoveAside.Count} entries aside and {journal.MoveIn.Count} into place");
            options.Progress?.Report(new ArchiveReadProgress("Swapping", null, extracted.CompressedBytes, extracted.CompressedBytes, extracted.Members, extracted.ContentBytes));
            try
            {
                RollForward(journal, StepHook);
                timeline.Complete(swap);
            }
            catch (Exception ex) when (!(ex is RestoreCrashSimulation))
            {
                timeline.Fail(swap, ex);
                try
                {
                    RollBack(journal, StepHook);
                }
                catch (Exception back) when (!(back is RestoreCrashSimulation))
                {
                    throw new CcieException("RestoreRollBackFailed", CcieErrorCategory.WriteError, $"The restore failed while swapping ({ex.Message}) and putting the previous data back failed too ({back.Message}). The journal {RestoreJournal.FilePath(path)} is kept: run Restore-CcieData -Path {path} -Recover RollBack after fixing the cause.", path, ex);
                }

                throw new CcieException("RestoreSwapFailed", CcieErrorCategory.WriteError, $"The restore failed while swapping ({ex.Message}); the previous data was put back in place and the staged data removed.", path, ex);
            }

        }

        /// <summary>
        /// Computes what <see cref="RestoreAsync"/> would do, changing nothing. With
        /// <paramref name="readArchive"/> the whole archive is read and checked (no extraction).
        /// </summary>
        public async Task<DataRestorePlan> PlanAsync(DataRestoreOptions options, bool readArchive, CancellationToken cancellationToken)
        {
            if (options is null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            RequirePosix();

            string path = NormalizeDataPath(options.Path);
            var started = Clock();
            string ts = started.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            bool exists = Directory.Exists(path);
            string staging = Path.Combine(path, exists ? Unique(path, RestoreJournal.StagingPrefix + ts) : RestoreJournal.StagingPrefix + ts);
            string aside = Path.Combine(path, exists ? Unique(path, AsidePrefix + ts) : AsidePrefix + ts);
            var moveAside = new List<string>();
            var keep = new List<string>();
            var steps = new List<string>();
            JournalState? interrupted = null;
            if (exists)
            {
                var journal = RestoreJournal.Read(path);
                if (journal != null)
                {
                    interrupted = journal.State;
                    var mode = AutoMode(journal);
                    steps.Add($"Recover the interrupted restore of {journal.Source} (journal state {RestoreJournal.StateName(journal.State)}): {(mode == RecoveryMode.RollForward ? "roll forward" : "roll back")}");
                    if (mode == RecoveryMode.RollForward)
                    {
                        // After a roll-forward its staged entries are what will be moved aside.
                        moveAside.AddRange(journal.MoveIn);
                    }
                }

                foreach (var name in TopLevel(path))
                {
                    if (name == RestoreJournal.FileName || name.StartsWith(RestoreJournal.StagingPrefix, StringComparison.Ordinal))
                    {
                        continue;
                    }

                    if (IsKept(name))
                    {
                        keep.Add(name);
                    }
                    else if (interrupted is null || !moveAside.Contains(name))
                    {
                        moveAside.Add(name);
                    }
                }
            }

            SafeExtractResult? scan = null;
            long? length;
            using (var source = await DataRestoreSource.OpenAsync(options.Source, _s3, cancellationToken).ConfigureAwait(false))
            {
                length = source.Length;
                if (readArchive)
                {
                    var xo = new SafeExtractOptions
                    {
                        FinalPath = path,
                        CollectProblems = true,
                        Progress = options.Progress,
                        CompressedLength = source.Length,
                        Bzip2 = options.Bzip2,
                        ReadAhead = options.ReadAhead,
                        Phase = "Reading (WhatIf)",
                    };
                    scan = await Task.Run(() => SafeExtractor.Run(source.Stream, xo, cancellationToken), cancellationToken).ConfigureAwait(false);
                }
            }

            if (!exists)
            {
                steps.Add($"Create {path}");
            }

            steps.Add($"Extract {options.Source}" + (length is long l ? $" ({l} bytes)" : string.Empty) + $" into {staging} and verify it" + (scan is null ? string.Empty : scan.Manifest is null ? " (no manifest: contents not verified against a manifest)" : " against its manifest"));
            if (scan != null && scan.ProblemCount > 0)
            {
                steps.Add($"Stop: the archive would be refused ({scan.ProblemCount} problems; first: {(scan.Problems.Count > 0 ? scan.Problems[0] : string.Empty)})");
            }

            steps.Add(moveAside.Count == 0
                ? $"Move nothing aside: {path} holds no data"
                : $"Move {moveAside.Count} existing entries into {aside}: {string.Join(", ", moveAside)}");
            steps.Add(scan is null
                ? $"Move the staged entries into {path}"
                : $"Move {scan.TopLevelEntries.Count} restored entries into {path}: {string.Join(", ", scan.TopLevelEntries)} ({scan.Files} files, {scan.ContentBytes} bytes)");
            return new DataRestorePlan(options.Source, path, staging, aside, moveAside, keep, scan?.TopLevelEntries, scan, interrupted, steps);
        }

        /// <summary>
        /// Finishes (roll forward) or undoes (roll back) an interrupted restore of
        /// <paramref name="path"/>; null when there is none.
        /// </summary>
        public static RestoreRecoveryResult? Recover(string path, RecoveryMode mode = RecoveryMode.Auto)
        {
            RequirePosix();
            string full = NormalizeDataPath(path);
            if (!Directory.Exists(full))
            {
                throw new CcieException("DataPathNotFound", CcieErrorCategory.ObjectNotFound, $"The data directory '{full}' does not exist.", full);
            }

            using var dataLock = AcquireLock(full);
            return RecoverLocked(full, mode, null);
        }

        /// <summary>The state of an interrupted restore of <paramref name="path"/>, or null.</summary>
        public static JournalState? FindInterrupted(string path)
        {
            RequirePosix();
            string full = NormalizeDataPath(path);
            return Directory.Exists(full) ? RestoreJournal.Read(full)?.State : null;
        }

        internal static RestoreRecoveryResult? RecoverLocked(string path, RecoveryMode mode, Action<string>? hook)
        {
            var journal = RestoreJournal.Read(path);
            if (journal is null)
            {
                // A process killed inside the very first journal write leaves only the temp file: nothing else
                // had changed yet (the staging folder comes after the journal), so it is simply removed.
                RestoreJournal.RemoveOrphanTemp(path);
                return null;
            }

            var found = journal.State;
            var apply = mode == RecoveryMode.Auto ? AutoMode(journal) : mode;
            string aside = Path.Combine(path, journal.AsideName);
            if (apply == RecoveryMode.RollForward)
            {
                if (journal.State == JournalState.Staging)
                {
                    throw new CcieException("RestoreCannotRollForward", CcieErrorCategory.InvalidOperation, $"The interrupted restore of {journal.Source} had not finished staging and verifying the archive, so it cannot be rolled forward; recover with RollBack.", path);
                }

                journal.RollingBack = false;
                RollForward(journal, hook);
                return new RestoreRecoveryResult(path, journal.Source, found, RecoveryMode.RollForward, journal.MoveAside.Count > 0 ? aside : null,
                    $"rolled forward the interrupted restore of {journal.Source} (it had reached '{RestoreJournal.StateName(found)}'): the restored data is in place" + (journal.MoveAside.Count > 0 ? ", the previous data in " + aside : string.Empty));
            }

            if (journal.State == JournalState.Done)
            {
                RollForward(journal, hook);
                return new RestoreRecoveryResult(path, journal.Source, found, RecoveryMode.RollForward, journal.MoveAside.Count > 0 ? aside : null,
                    $"the interrupted restore of {journal.Source} had already put the restored data in place; cleaned up");
            }

            RollBack(journal, hook);
            return new RestoreRecoveryResult(path, journal.Source, found, RecoveryMode.RollBack, null,
                $"rolled back the interrupted restore of {journal.Source} (it had reached '{RestoreJournal.StateName(found)}'): the previous data is in place");
        }

        private static RecoveryMode AutoMode(RestoreJournal j) =>
            j.RollingBack || j.State == JournalState.Staging ? RecoveryMode.RollBack : RecoveryMode.RollForward;

        /// <summary>Completes the swap from whatever step the journal records; every step is idempotent.</summary>
        internal static void RollForward(RestoreJournal j, Action<string>? hook)
        {
            string path = j.Path;
            string staging = Path.Combine(path, j.StagingName);
            string aside = Path.Combine(path, j.AsideName);

            if (j.State == JournalState.Staged)
            {
                j.State = JournalState.MovingAside;
                j.Write();
                hook?.Invoke("moving-aside");
            }

            if (j.State == JournalState.MovingAside)
            {
                if (j.MoveAside.Count > 0)
                {
                    SafeExtractNative.EnsurePrivateDirectory(aside); // a real directory, never a symlink planted at its name
                    SafeExtractNative.FsyncDirectory(path);
                }

                foreach (var name in j.MoveAside)
                {
                    string from = Path.Combine(path, name);
                    string to = Path.Combine(aside, name);
                    if (SafeExtractNative.Lexists(to))
                    {
                        if (SafeExtractNative.Lexists(from))
                        {
                            throw new CcieException("RestoreJournalConflict", CcieErrorCategory.InvalidOperation, $"Both '{from}' and '{to}' exist: the data directory changed during the restore; inspect it by hand (journal {RestoreJournal.FilePath(path)}).", path);
                        }

                        continue; // moved before the interruption
                    }

                    if (MoveNoReplace(from, to, path))
                    {
                        hook?.Invoke("aside:" + name);
                    }
                }

                SafeExtractNative.FsyncDirectory(path);
                if (Directory.Exists(aside))
                {
                    SafeExtractNative.FsyncDirectory(aside);
                }

                j.State = JournalState.MovingIn;
                j.Write();
                hook?.Invoke("moving-in");
            }

            if (j.State == JournalState.MovingIn)
            {
                foreach (var name in j.MoveIn)
                {
                    string from = Path.Combine(staging, name);
                    string to = Path.Combine(path, name);
                    if (SafeExtractNative.Lexists(from))
                    {
                        if (SafeExtractNative.Lexists(to))
                        {
                            throw new CcieException("RestoreJournalConflict", CcieErrorCategory.InvalidOperation, $"'{to}' exists, so the staged '{name}' cannot be moved into place: the data directory changed during the restore; inspect it by hand (journal {RestoreJournal.FilePath(path)}).", path);
                        }

                        if (MoveNoReplace(from, to, path))
                        {
                            hook?.Invoke("in:" + name);
                        }
                        else if (!SafeExtractNative.Lexists(to))
                        {
                            throw new CcieException("RestoreJournalConflict", CcieErrorCategory.InvalidOperation, $"The staged entry '{name}' vanished from '{staging}' while it was being moved into place; inspect the data directory by hand (journal {RestoreJournal.FilePath(path)}).", path);
                        }
                    }
                    else if (!SafeExtractNative.Lexists(to))
                    {
                        throw new CcieException("RestoreJournalConflict", CcieErrorCategory.InvalidOperation, $"The staged entry '{name}' is neither in '{staging}' nor in '{path}'; inspect the data directory by hand (journal {RestoreJournal.FilePath(path)}).", path);
                    }
                }

                SafeExtractNative.FsyncDirectory(path);
                j.State = JournalState.Done;
                j.Write();
                hook?.Invoke("done");
            }

            DeleteTree(staging);
            RestoreJournal.Delete(path);
            hook?.Invoke("cleaned");
        }

        /// <summary>Undoes the swap from whatever step the journal records; every step is idempotent.</summary>
        internal static void RollBack(RestoreJournal j, Action<string>? hook)
        {
            string path = j.Path;
            string staging = Path.Combine(path, j.StagingName);
            string aside = Path.Combine(path, j.AsideName);
            if (j.State == JournalState.Done)
            {
                throw new CcieException("RestoreCannotRollBack", CcieErrorCategory.InvalidOperation, "The restore had completed; it cannot be rolled back (the previous data is in " + aside + ").", path);
            }

            if (!j.RollingBack && j.State != JournalState.Staging)
            {
                j.RollingBack = true;
                j.Write();
                hook?.Invoke("rolling-back");
            }

            if (j.State == JournalState.MovingIn)
            {
                // Every old entry is aside, so whatever of MoveIn is in the data directory is new.
                SafeExtractNative.EnsurePrivateDirectory(staging);
                foreach (var name in j.MoveIn)
                {
                    string from = Path.Combine(path, name);
                    string to = Path.Combine(staging, name);
                    if (SafeExtractNative.Lexists(from) && !SafeExtractNative.Lexists(to))
                    {
                        BeforeSwapRename?.Invoke(from, to);
                        int rc = SafeExtractNative.RenameNoReplace(from, to);
                        if (rc == 0)
                        {
                            hook?.Invoke("back-out:" + name);
                        }
                        else if (rc != SafeExtractNative.ErrnoExists && rc != SafeExtractNative.ErrnoNoEntry)
                        {
                            // EEXIST: still staged, so what is in the data directory is not ours; ENOENT: gone. Either way it stays.
                            throw new IOException($"Cannot move '{from}' -> '{to}' (errno {rc}).", rc);
                        }
                    }
                }

                SafeExtractNative.FsyncDirectory(path);
                j.State = JournalState.MovingAside;
                j.Write();
                hook?.Invoke("back-moving-aside");
            }

            if (j.State == JournalState.MovingAside || j.State == JournalState.Staged)
            {
                foreach (var name in j.MoveAside)
                {
                    string from = Path.Combine(aside, name);
                    string to = Path.Combine(path, name);
                    if (SafeExtractNative.Lexists(from))
                    {
                        if (SafeExtractNative.Lexists(to))
                        {
                            throw new CcieException("RestoreJournalConflict", CcieErrorCategory.InvalidOperation, $"Both '{from}' and '{to}' exist: cannot put the previous entry back; inspect the data directory by hand (journal {RestoreJournal.FilePath(path)}).", path);
                        }

                        if (MoveNoReplace(from, to, path))
                        {
                            hook?.Invoke("back-in:" + name);
                        }
                    }
                }

                SafeExtractNative.FsyncDirectory(path);
                j.State = JournalState.Staging;
                j.Write();
                hook?.Invoke("back-staging");
            }

            DeleteTree(staging);
            _ = SafeExtractNative.TryRemoveEmptyDirectory(aside); // rmdir: only when empty, never through a symlink

            RestoreJournal.Delete(path);
            hook?.Invoke("cleaned");
        }

        /// <summary>
        /// Deletes a tree descriptor-relatively: never follows a symlink, even one swapped in for a directory
        /// while it runs (see <see cref="SafeExtractNative.DeleteTree"/>); read-only directories are made writable first.
        /// </summary>
        internal static void DeleteTree(string dir) => SafeExtractNative.DeleteTree(dir);

        /// <summary>
        /// One rename of the swap that never replaces an existing name (renameat2 RENAME_NOREPLACE or its checked
        /// fallback); false when <paramref name="from"/> is not there.
        /// </summary>
        /// <exception cref="CcieException">RestoreJournalConflict: <paramref name="to"/> was created meanwhile (it is left as it is).</exception>
        private static bool MoveNoReplace(string from, string to, string path)
        {
            BeforeSwapRename?.Invoke(from, to);
            int rc = SafeExtractNative.RenameNoReplace(from, to);
            if (rc == 0)
            {
                return true;
            }

            if (rc == SafeExtractNative.ErrnoExists)
            {
                throw new CcieException("RestoreJournalConflict", CcieErrorCategory.InvalidOperation, $"'{to}' was created while the restore was moving '{from}' there, so it was not replaced: something is writing to the data directory during the restore (stop the application first); inspect it by hand (journal {RestoreJournal.FilePath(path)}).", to);
            }

            if (rc == SafeExtractNative.ErrnoNoEntry && !SafeExtractNative.Lexists(from))
            {
                return false;
            }

            throw new IOException($"Cannot move '{from}' -> '{to}' (errno {rc}).", rc);
        }

        private static bool IsKept(string name) =>
            name == LostAndFound
            || name.StartsWith(AsidePrefix, StringComparison.Ordinal)
            || name.StartsWith(RestoreJournal.StagingPrefix, StringComparison.Ordinal)
            || name == RestoreJournal.FileName
            || name == RestoreJournal.FileName + ".tmp";

        private static List<string> TopLevel(string dir) =>
            Directory.EnumerateFileSystemEntries(dir).Select(p => Path.GetFileName(p)).OrderBy(n => n, StringComparer.Ordinal).ToList();

        private static string Unique(string dir, string name)
        {
            string candidate = name;
            for (int i = 2; SafeExtractNative.Lexists(Path.Combine(dir, candidate)); i++)
            {
                candidate = name + "-" + i.ToString(CultureInfo.InvariantCulture);
            }

            return candidate;
        }

        private static string NormalizeDataPath(string path)
        {
            if (string.IsNullOrWhiteSpace(path))
            {
                throw new ArgumentException("A data directory is required.", nameof(path));
            }

            string full = Path.GetFullPath(path).TrimEnd('/');
            if (full.Length == 0)
            {
                throw new ArgumentException("Refusing to restore into the root directory '/'; give the data directory (for example /data).", nameof(path));
            }

            return full;
        }

        /// <summary>Tests set this to act as on Windows (no libc): every entry point must refuse before any work.</summary>
        internal static bool SimulateUnsupportedPlatform
        {
            get => s_simulateUnsupported.Value;
            set => s_simulateUnsupported.Value = value;
        }

        private static readonly AsyncLocal<bool> s_simulateUnsupported = new AsyncLocal<bool>();

        /// <summary>
        /// Test hook: called with (from, to) right before each rename of the swap, after its checks, so a
        /// test can create the destination "concurrently" at the worst moment.
        /// </summary>
        internal static Action<string, string>? BeforeSwapRename
        {
            get => s_beforeSwapRename.Value;
            set => s_beforeSwapRename.Value = value;
        }

        private static readonly AsyncLocal<Action<string, string>?> s_beforeSwapRename = new AsyncLocal<Action<string, string>?>();

        /// <summary>
        /// Restores write POSIX modes, owners and links with libc: on Windows every entry point refuses with a
        /// clear error before it touches a file, reads an archive or calls libc (so before any prompt too).
        /// </summary>
        internal static void RequirePosix()
        {
            if (SimulateUnsupportedPlatform || !SafeExtractNative.IsSupported)
            {
                throw new CcieException(
                    "RestoreNeedsLinux",
                    CcieErrorCategory.InvalidOperation,
                    "Restore-CcieData restores /data on the Services box itself and needs Linux (or macOS); it cannot run on Windows. Run it on the Services box (Linux), for example over SSH or as a runbook there; from Windows, restore a whole box from a recovery point with Restore-CcieServicesBox instead.");
            }
        }

        private static IDisposable AcquireLock(string path)
        {
            var held = SafeExtractNative.TryLockDirectory(path);
            if (held is null)
            {
                throw new CcieException("RestoreInProgress", CcieErrorCategory.ResourceBusy, $"Another restore or recovery of '{path}' is running (it holds a lock on the directory); wait for it to finish.", path);
            }

            return held;
        }

        private static void RemoveStaleStaging(string path, List<string> warnings)
        {
            foreach (var name in TopLevel(path))
            {
                if (name.StartsWith(RestoreJournal.StagingPrefix, StringComparison.Ordinal))
                {
                    DeleteTree(Path.Combine(path, name));
                    warnings.Add($"Removed the stale staging directory '{name}' left by an earlier run.");
                }
            }
        }

        private void Hook(string step) => StepHook?.Invoke(step);
    }

    /// <summary>Thrown by test hooks to stop a restore dead, as kill -9 would (no clean-up runs).</summary>
    internal sealed class RestoreCrashSimulation : Exception
    {
        public RestoreCrashSimulation()
            : base("simulated crash")
        {
        }

        public RestoreCrashSimulation(string message)
            : base(message)
        {
        }

        public RestoreCrashSimulation(string message, Exception inner)
            : base(message, inner)
        {
        }
    }
}
