using System;
using System.Collections.Generic;
using CcieDr.Engine.Archive.Bzip2;

namespace CcieDr.Engine.Archive.Restore
{
    /// <summary>What to restore and where.</summary>
    public sealed class DataRestoreOptions
    {
        /// <summary>Creates options.</summary>
        public DataRestoreOptions(string source, string path)
        {
            Source = source ?? throw new ArgumentNullException(nameof(source));
            Path = path ?? throw new ArgumentNullException(nameof(path));
        }

        /// <summary>Archive: a local file or s3://bucket/key.</summary>
        public string Source { get; }

        /// <summary>Data directory (e.g. /data).</summary>
        public string Path { get; }

        /// <summary>Refuse archives without a manifest, even with <see cref="AllowNoManifest"/>.</summary>
        public bool RequireManifest { get; set; }

        /// <summary>
        /// Restore an archive that has no manifest (GNU tar's own), with a warning that its contents were not
        /// verified. Default false: such archives are refused (ErrorId ArchiveManifestMissing), nothing changed.
        /// </summary>
        public bool AllowNoManifest { get; set; }

        /// <summary>Progress callback.</summary>
        public IProgress<ArchiveReadProgress>? Progress { get; set; }

        /// <summary>bzip2 decoder choice.</summary>
        public Bzip2Implementation Bzip2 { get; set; } = Bzip2Implementation.Auto;

        /// <summary>Decompress on a second thread.</summary>
        public bool ReadAhead { get; set; } = true;

        /// <summary>
        /// Which mode bits of regular files are restored: <see cref="PermissionPreservation.Standard"/> (default)
        /// strips setuid and setgid, with a warning naming the files; <see cref="PermissionPreservation.Full"/> keeps them.
        /// </summary>
        public PermissionPreservation PreservePermissions { get; set; } = PermissionPreservation.Standard;
    }

    /// <summary>How much of the archived mode of regular files a restore applies (like GNU tar's --no-same-permissions and -p).</summary>
    public enum PermissionPreservation
    {
        /// <summary>Permission bits and the sticky bit; setuid and setgid are stripped from regular files (with a warning).</summary>
        Standard = 0,

        /// <summary>The whole mode, setuid and setgid included.</summary>
        Full = 1,
    }

    /// <summary>What a restore would do (for -WhatIf); computing it changes nothing.</summary>
    public sealed class DataRestorePlan
    {
        internal DataRestorePlan(
            string source,
            string path,
            string stagingDirectory,
            string asideDirectory,
            IReadOnlyList<string> moveAside,
            IReadOnlyList<string> keep,
            IReadOnlyList<string>? restore,
            SafeExtractResult? archive,
            JournalState? interrupted,
            IReadOnlyList<string> steps)
        {
            Source = source;
            Path = path;
            StagingDirectory = stagingDirectory;
            AsideDirectory = asideDirectory;
            MoveAside = moveAside;
            Keep = keep;
            Restore = restore;
            Archive = archive;
            InterruptedRestore = interrupted;
            Steps = steps;
        }

        /// <summary>Archive.</summary>
        public string Source { get; }

        /// <summary>Data directory.</summary>
        public string Path { get; }

        /// <summary>Where the archive would be staged.</summary>
        public string StagingDirectory { get; }

        /// <summary>Where the existing data would go.</summary>
        public string AsideDirectory { get; }

        /// <summary>Existing top-level entries that would be moved aside.</summary>
        public IReadOnlyList<string> MoveAside { get; }

        /// <summary>Existing top-level entries left alone (earlier move-aside folders, lost+found).</summary>
        public IReadOnlyList<string> Keep { get; }

        /// <summary>Top-level entries the archive would restore (null when the archive was not read).</summary>
        public IReadOnlyList<string>? Restore { get; }

        /// <summary>Result of reading the archive without extracting (null when not read).</summary>
        public SafeExtractResult? Archive { get; }

        /// <summary>State of an interrupted restore that would be recovered first, if any.</summary>
        public JournalState? InterruptedRestore { get; }

        /// <summary>The ordered steps, in words.</summary>
        public IReadOnlyList<string> Steps { get; }
    }

    /// <summary>What recovering an interrupted restore did.</summary>
    public sealed class RestoreRecoveryResult
    {
        internal RestoreRecoveryResult(string path, string source, JournalState foundState, RecoveryMode applied, string? movedAsideTo, string message)
        {
            Path = path;
            Source = source;
            FoundState = foundState;
            Applied = applied;
            MovedAsideTo = movedAsideTo;
            Message = message;
        }

        /// <summary>Data directory.</summary>
        public string Path { get; }

        /// <summary>Archive the interrupted restore was restoring.</summary>
        public string Source { get; }

        /// <summary>Step the journal recorded.</summary>
        public JournalState FoundState { get; }

        /// <summary>RollForward (new data in place) or RollBack (old data in place).</summary>
        public RecoveryMode Applied { get; }

        /// <summary>Where the old data is after a roll-forward.</summary>
        public string? MovedAsideTo { get; }

        /// <summary>One line for logs.</summary>
        public string Message { get; }
    }
}
