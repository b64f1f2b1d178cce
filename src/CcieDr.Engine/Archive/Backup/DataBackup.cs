using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Net;
using System.Reflection;
using System.Threading.Tasks;
using System.Threading;
using System;
using Amazon.S3;
using CcieDr.Engine.Archive.Bzip2;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Archive.Tar;
using CcieDr.Engine.Archive.Zstd;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Archive.Backup
{
    /// <summary>
    /// Backs up a data directory (default /data) into circleci-data-export.tar.bz2: a POSIX tar (PAX where
    /// needed) compressed as concatenated independent bzip2 streams on all cores (or, with
    /// <see cref="DataBackupOptions.Compression"/> zstd, multi-threaded zstd into .tar.zst), with a manifest as the last
    /// member, written to a local directory (temp name, renamed at the end) or straight to S3 (multipart upload,
    /// aborted on failure). Nothing is left at the destination when it fails or is cancelled.
    /// </summary>
    public sealed class DataBackup
    {
        private readonly IAmazonS3? _s3;

        /// <summary>Creates the operation; <paramref name="s3"/> is needed for s3:// destinations only.</summary>
        public DataBackup(IAmazonS3? s3 = null)
        {
            _s3 = s3;
        }

        /// <summary>"CcieDr &lt;version&gt;" as recorded in manifests.</summary>
        public static string ToolName
        {
            get
            {
                var asm = typeof(DataBackup).Assembly;
                var v = asm.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                    ?? asm.GetName().Version?.ToString() ?? "0.0.0";
                var plus = v.IndexOf('+');
                return "CcieDr " + (plus > 0 ? v.Substring(0, plus) : v);
            }
        }

        /// <summary>The archive file name for a backup taken at <paramref name="time"/>.</summary>
        public static string ArchiveFileName(DateTimeOffset time, bool timestamped) =>
            timestamped
                ? "circleci-data-export-" + time.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture) + ".tar.bz2"
                : DataBackupOptions.DefaultFileName;

        /// <summary>The archive file name for a backup taken at <paramref name="time"/> with <paramref name="compression"/> (.tar.bz2 or .tar.zst).</summary>
        public static string ArchiveFileName(DateTimeOffset time, bool timestamped, CompressionKind compression) =>
            CompressionKinds.WithArchiveExtension(ArchiveFileName(time, timestamped), compression);

        /// <summary>Runs the backup.</summary>
        /// <exception cref="DataBackupException">It failed; nothing was left at the destination.</exception>
        /// <exception cref="OperationCanceledException">It was cancelled; nothing was left at the destination.</exception>
        public async Task<DataBackupResult> RunAsync(DataBackupOptions options, CancellationToken cancellationToken = default)
        {
            if (options is null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            var clock = options.Clock ?? (() => DateTimeOffset.UtcNow);
            var started = clock();
            var source = Path.GetFullPath(string.IsNullOrEmpty(options.SourcePath) ? "/data" : options.SourcePath);
            if (!Directory.Exists(source))
            {
                throw new DataBackupException(DataBackupErrorKind.SourceNotFound, $"The data directory '{source}' does not exist or is not a directory.");
            }

            source = source.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
            if (source.Length == 0)
            {
                source = "/";
            }

            var fileName = options.FileName ?? ArchiveFileName(started, options.TimestampedName, options.Compression);
            if (fileName.Length == 0 || fileName != Path.GetFileName(fileName) || fileName is "." or "..")
            {
                throw new DataBackupException(DataBackupErrorKind.InvalidDestination, $"The archive file name '{fileName}' must be a bare file name, not a path.");
            }
            S3UploadLocation? s3Location = null;
            string? localDir = null;
            if (S3UploadLocation.IsS3Uri(options.Destination))
            {
                try
                {
                    s3Location = S3UploadLocation.Parse(options.Destination);
                }
                catch (FormatException ex)
                {
                    throw new DataBackupException(DataBackupErrorKind.InvalidDestination, ex.Message, ex);
                }

                if (_s3 is null)
                {
                    throw new DataBackupException(DataBackupErrorKind.InvalidDestination, "An S3 destination needs an S3 client.");
                }
            }
            else
            {
                if (string.IsNullOrWhiteSpace(options.Destination))
                {
                    throw new DataBackupException(DataBackupErrorKind.InvalidDestination, "A destination directory or s3://bucket/prefix/ is required.");
                }

                localDir = Path.GetFullPath(options.Destination);
                if (!Directory.Exists(localDir))
                {
                    throw new DataBackupException(DataBackupErrorKind.InvalidDestination, $"The destination directory '{localDir}' does not exist.");
                }
            }

            var location = s3Location != null ? s3Location.UriFor(s3Location.Prefix + fileName) : Path.Combine(localDir!, fileName);
            var hookEnv = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["CCIE_BACKUP_SOURCE"] = source,
                ["CCIE_BACKUP_DESTINATION"] = location,
            };

            BackupHookResult? pre = null;
            BackupHookResult? post = null;
            var warnings = new List<string>();
            var status = "failed";
            try
            {
                if (!string.IsNullOrWhiteSpace(options.PreBackupCommand))
                {
                    Report(options, new DataBackupProgress(DataBackupPhase.PreBackupCommand, 0, 0, 0, 0, null, 0));
                    pre = await DataBackupHooks.RunAsync(options.PreBackupCommand!, hookEnv, source, options.HookTimeout, cancellationToken).ConfigureAwait(false);
                    if (!pre.Succeeded)
                    {
                        throw new DataBackupException(
                            DataBackupErrorKind.PreBackupCommandFailed,
                            $"The pre-backup command {(pre.TimedOut ? "timed out" : "exited with code " + pre.ExitCode.ToString(CultureInfo.InvariantCulture))}; no backup was written. Output: {Tail(pre.Output)}")
                        { PreBackupCommand = pre };
                    }
                }

                var core = new BackupRun(options, source, s3Location, localDir, fileName, location, _s3, warnings, started, cancellationToken);
                var (manifest, archiveSize, sha256, bytesRead) = await Task.Factory.StartNew(
                    core.Run,
                    cancellationToken,
                    TaskCreationOptions.LongRunning,
                    TaskScheduler.Default).ConfigureAwait(false);
                status = "succeeded";
                post = await RunPostHookAsync(options, hookEnv, source, status, warnings).ConfigureAwait(false);
                return new DataBackupResult(
                    location,
                    s3Location?.BucketName,
                    s3Location != null ? s3Location.Prefix + fileName : null,
                    fileName,
                    archiveSize,
                    sha256,
                    manifest,
                    bytesRead,
                    started,
                    clock(),
                    warnings,
                    options.Compression == CompressionKind.Zstd
                        ? $"zstd level {options.ZstdLevel.ToString(CultureInfo.InvariantCulture)}, {ZstdThreads(options).ToString(CultureInfo.InvariantCulture)} threads, "
                          + new ZstdCompressOptions { Threads = ZstdThreads(options) }.ImplementationName
                        : Bzip2BlockCompressor.Implementation,
                    pre,
                    post)
                {
                    Compression = options.Compression,
                };
            }
            catch (Exception ex) when (status != "succeeded")
            {
                if (ex is OperationCanceledException)
                {
                    status = "cancelled";
                }

                // The post-backup command runs whatever happened (e.g. to un-quiesce a database).
                post = await RunPostHookAsync(options, hookEnv, source, status, warnings).ConfigureAwait(false);
                if (ex is DataBackupException dbe)
                {
                    dbe.PreBackupCommand ??= pre;
                    dbe.PostBackupCommand = post;
                    throw;
                }

                if (ex is OperationCanceledException)
                {
                    throw;
                }

                var kind = ex is InsufficientDiskSpaceException ? DataBackupErrorKind.InsufficientSpace : DataBackupErrorKind.WriteFailed;
                var message = ex is InsufficientDiskSpaceException
                    ? ex.Message
                    : $"The backup of '{source}' to '{location}' failed: {ex.Message} {(PartsLeft(ex) ? "No object was written, but the upload's parts remain until removed." : "Nothing was left at the destination.")}";
                throw new DataBackupException(kind, message, ex) { PreBackupCommand = pre, PostBackupCommand = post };
            }
        }

        /// <summary>True when the failure (or one it wraps) is an S3 upload whose abort failed: its parts remain.</summary>
        private static bool PartsLeft(Exception? e)
        {
            for (; e != null; e = e.InnerException)
            {
                if (e is S3UploadNotAbortedException)
                {
                    return true;
                }
            }

            return false;
        }

        private static async Task<BackupHookResult?> RunPostHookAsync(DataBackupOptions options, Dictionary<string, string> env, string source, string status, List<string> warnings)
        {
            if (string.IsNullOrWhiteSpace(options.PostBackupCommand))
            {
                return null;
            }

            Report(options, new DataBackupProgress(DataBackupPhase.PostBackupCommand, 0, 0, 0, 0, null, 0));
            var e = new Dictionary<string, string>(env, StringComparer.Ordinal) { ["CCIE_BACKUP_STATUS"] = status };
            try
            {
                // Not cancellable: it must run after a cancelled backup too; bounded by the hook timeout.
                var r = await DataBackupHooks.RunAsync(options.PostBackupCommand!, e, source, options.HookTimeout, CancellationToken.None).ConfigureAwait(false);
                if (!r.Succeeded)
                {
                    warnings.Add($"The post-backup command {(r.TimedOut ? "timed out" : "exited with code " + r.ExitCode.ToString(CultureInfo.InvariantCulture))}: {Tail(r.Output)}");
                }

                return r;
            }
            catch (Exception ex) when (ex is IOException || ex is InvalidOperationException || ex is System.ComponentModel.Win32Exception)
            {
                warnings.Add("The post-backup command could not be started: " + ex.Message);
                return null;
            }
        }

        private static void Report(DataBackupOptions options, DataBackupProgress progress) => options.Progress?.Report(progress);

        private static int ZstdThreads(DataBackupOptions options) => options.Threads > 0 ? options.Threads : Environment.ProcessorCount;

        // Hook output may carry credentials: only its last line, with secret-looking values masked, reaches messages.
        private static string Tail(string s) => SecretMask.LastLine(s);

        /// <summary>One entry found by the scan, as read back from the scan list while archiving.</summary>
        private sealed class ScanEntry
        {
            private readonly string _root;

            public ScanEntry(string root, string rel, FsKind kind)
            {
                _root = root;
                Rel = rel;
                Kind = kind;
            }

            public string Rel { get; }

            public string Full => Path.Combine(_root, Rel);

            /// <summary>What the entry was when scanned.</summary>
            public FsKind Kind { get; }
        }

        /// <summary>One backup run on a dedicated thread (the tar/bzip2 pipeline is synchronous).</summary>
        private sealed class BackupRun
        {
            private readonly DataBackupOptions _o;
            private readonly string _source;
            private readonly S3UploadLocation? _s3Location;
            private readonly string? _localDir;
            private readonly string _fileName;
            private readonly string _location;
            private readonly IAmazonS3? _s3;
            private readonly List<string> _warnings;
            private readonly DateTimeOffset _started;
            private readonly CancellationToken _ct;
            private readonly Stopwatch _progressClock = Stopwatch.StartNew();
            private readonly DataBackupExclude _exclude;
            private TimeSpan _lastReport = TimeSpan.FromDays(-1);
            private long _bytesRead;
            private long _totalBytes;
            private long _entriesDone;
            private long _totalEntries;
            private HashingWriteStream? _hashing;

            public BackupRun(DataBackupOptions o, string source, S3UploadLocation? s3Location, string? localDir, string fileName, string location, IAmazonS3? s3, List<string> warnings, DateTimeOffset started, CancellationToken ct)
            {
                _o = o;
                _source = source;
                _s3Location = s3Location;
                _localDir = localDir;
                _fileName = fileName;
                _location = location;
                _s3 = s3;
                _warnings = warnings;
                _started = started;
                _ct = ct;
                _exclude = new DataBackupExclude(o.Exclude);
            }

            public (ArchiveManifest Manifest, long Size, string Sha256, long BytesRead) Run()
            {
                Report(DataBackupPhase.Scanning, null, force: true);
                using var entries = Scan();
                return _s3Location != null ? RunS3(entries) : RunLocal(entries);
            }

            private (ArchiveManifest, long, string, long) RunLocal(DataBackupScanList entries)
            {
                var dir = _localDir!;
                var space = _o.DiskSpace ?? DiskSpace.Default;
                var reserve = Math.Max(0, _o.SpaceReserveBytes);
                if (!_o.SkipSpaceCheck)
                {
                    var available = space.GetAvailableBytes(dir);
                    var needed = (long)Math.Ceiling(_totalBytes * Math.Max(0, _o.EstimatedCompressionRatio)) + reserve;
                    if (available < needed)
                    {
                        throw new InsufficientDiskSpaceException(
                            dir,
                            available,
                            needed,
                            $"Not enough free space in '{dir}': {available.ToString("N0", CultureInfo.InvariantCulture)} bytes free, about {needed.ToString("N0", CultureInfo.InvariantCulture)} bytes needed "
                            + $"({_o.EstimatedCompressionRatio.ToString("P0", CultureInfo.InvariantCulture)} of {_totalBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes of data plus a {reserve.ToString("N0", CultureInfo.InvariantCulture)}-byte reserve). "
                            + "Free some space, choose another destination, or back up straight to S3.");
                    }
                }

                var final = Path.Combine(dir, _fileName);
                var temp = Path.Combine(dir, "." + _fileName + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".partial");
                var nextSpaceCheck = 64L * 1024 * 1024;
                const long WritebackStep = 8L * 1024 * 1024;
                var writebackFrom = 0L;
                var ok = false;
                try
                {
                    // 0600 from the start (the temp name too): an archive holds the whole data directory.
                    using (var file = SafeExtractNative.IsSupported
                        ? SafeExtractNative.CreatePrivateFile(temp, 1 << 16)
                        : new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                    {
                        using var hashing = new HashingWriteStream(file, written =>
                        {
                            // Every 8 MB, start writing the archive back to disk while the backup goes on, so the
                            // fsync that ends it is short (the bytes still in the FileStream's buffer follow later).
                            if (written - writebackFrom >= WritebackStep)
                            {
                                SafeExtractNative.StartWriteback(file.SafeFileHandle, writebackFrom, written - writebackFrom);
                                writebackFrom = written;
                            }

                            if (!_o.SkipSpaceCheck && written >= nextSpaceCheck)
                            {
                                nextSpaceCheck = written + (64L * 1024 * 1024);
                                var free = space.GetAvailableBytes(dir);
                                if (free < reserve / 2)
                                {
                                    throw new InsufficientDiskSpaceException(dir, free, reserve / 2, $"Stopped: free space in '{dir}' fell to {free.ToString("N0", CultureInfo.InvariantCulture)} bytes while writing the archive (the data compresses less than estimated). The partial archive was removed; free space or choose another destination.");
                                }
                            }
                        });
                        _hashing = hashing;
                        var manifest = WriteArchive(entries, hashing);
                        file.Flush(true);
                        var size = hashing.BytesWritten;
                        var sha = hashing.FinishHash();
                        file.Dispose();
                        if (File.Exists(final))
                        {
                            File.Replace(temp, final, null);
                        }
                        else
                        {
                            File.Move(temp, final);
                        }

                        ok = true;
                        return (manifest, size, sha, _bytesRead);
                    }
                }
                finally
                {
                    if (!ok)
                    {
                        TryDelete(temp);
                    }
                }
            }

            private (ArchiveManifest, long, string, long) RunS3(DataBackupScanList entries)
            {
                var loc = _s3Location!;
                var key = loc.Prefix + _fileName;
                var uploadOptions = new S3UploadOptions
                {
                    PartSize = _o.S3PartSize,
                    KmsKeyId = _o.KmsKeyId,
                    ServerSideEncryption = _o.ServerSideEncryption,
                    ExpectedSize = (long)(_totalBytes * Math.Max(0.1, _o.EstimatedCompressionRatio)),
                };
                if (_o.Compression == CompressionKind.Zstd)
                {
                    uploadOptions.ContentType = "application/zstd";
                }

                uploadOptions.Metadata["ccie-manifest"] = "yes";
                uploadOptions.Metadata["ccie-source-host"] = HostName();
                uploadOptions.Metadata["ccie-created"] = _started.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
                var upload = new S3MultipartUploadStream(_s3!, loc.BucketName, key, uploadOptions, _ct);
                try
                {
                    using var hashing = new HashingWriteStream(upload);
                    _hashing = hashing;
                    var manifest = WriteArchive(entries, hashing);
                    Report(DataBackupPhase.Finishing, null, force: true);
                    upload.CompleteAsync(_ct).GetAwaiter().GetResult();
                    return (manifest, hashing.BytesWritten, hashing.FinishHash(), _bytesRead);
                }
                catch (Exception ex)
                {
                    try
                    {
                        upload.AbortAsync().GetAwaiter().GetResult();
                    }
                    catch (S3UploadNotAbortedException abortFailure)
                    {
                        throw new S3UploadNotAbortedException(ex.Message + " " + abortFailure.Message, ex);
                    }

                    throw;
                }
                finally
                {
                    upload.Dispose();
                }
            }

            // The scan list lives in a spool file next to the archive (the temp directory for S3): it grows with the file count.
            private DataBackupScanList Scan()
            {
                var result = new DataBackupScanList(_localDir);
                try
                {
                    ScanInto(result);
                    return result;
                }
                catch
                {
                    result.Dispose();
                    throw;
                }
            }

            private void ScanInto(DataBackupScanList result)
            {
                var stack = new Stack<(string Full, string Rel)>();
                string? destInside = null;
                if (_localDir != null && IsInside(_localDir, _source))
                {
                    destInside = _localDir;
                }

                PushChildren(stack, _source, string.Empty);
                while (stack.Count > 0)
                {
                    _ct.ThrowIfCancellationRequested();
                    var (full, rel) = stack.Pop();
                    FsStat? st;
                    try
                    {
                        st = DataBackupFileSystem.LStat(full);
                    }
                    catch (IOException ex)
                    {
                        _warnings.Add($"{rel}: skipped, cannot be read: {ex.Message}");
                        continue;
                    }

                    if (st is null)
                    {
                        continue; // Gone before the backup reached it: not part of this backup.
                    }

                    var isDir = st.Kind == FsKind.Directory;
                    if (_exclude.IsExcluded(rel, isDir))
                    {
                        continue;
                    }

                    if (isDir && destInside != null && string.Equals(full, destInside, StringComparison.Ordinal))
                    {
                        _warnings.Add($"{rel}/: excluded: it is the backup destination, inside the data directory.");
                        continue;
                    }

                    result.Add(rel, st.Kind);
                    if (st.Kind == FsKind.File)
                    {
                        _totalBytes += st.Size;
                    }

                    if (isDir)
                    {
                        PushChildren(stack, full, rel);
                    }
                }

                _totalEntries = result.Count;
            }

            private void PushChildren(Stack<(string, string)> stack, string dirFull, string dirRel)
            {
                List<string> names;
                try
                {
                    names = DataBackupFileSystem.ListDirectory(dirFull);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    if (dirRel.Length == 0)
                    {
                        throw new IOException($"Cannot list the data directory '{dirFull}': {ex.Message}", ex);
                    }

                    _warnings.Add($"{dirRel}/: contents skipped, the directory cannot be listed: {ex.Message}");
                    return;
                }

                for (var i = names.Count - 1; i >= 0; i--)
                {
                    var name = names[i];
                    if (dirRel.Length == 0 && DataBackupExclude.IsAlwaysExcluded(name))
                    {
                        continue;
                    }

                    if (name.IndexOf('\uFFFD') >= 0)
                    {
                        _warnings.Add($"{(dirRel.Length == 0 ? string.Empty : dirRel + "/")}{name}: skipped, its name is not valid UTF-8.");
                        continue;
                    }

                    stack.Push((Path.Combine(dirFull, name), dirRel.Length == 0 ? name : dirRel + "/" + name));
                }
            }

            private ArchiveManifest WriteArchive(DataBackupScanList entries, Stream sink)
            {
                var manifest = new ArchiveManifest
                {
                    Tool = ToolName,
                    Host = HostName(),
                    SourcePath = _source,
                    Created = _started,
                };
                using var bz = _o.Compression == CompressionKind.Zstd ? null : new ParallelBzip2Stream(sink, _o.Threads, _o.BlockSize, leaveOpen: true, _ct);
                using var zstd = _o.Compression == CompressionKind.Zstd
                    ? new ZstdCompressStream(sink, new ZstdCompressOptions { Level = _o.ZstdLevel, Threads = ZstdThreads(_o) }, leaveOpen: true)
                    : null;
                using var tar = new TarWriter((Stream?)bz ?? zstd!, leaveOpen: true);
                // The manifest's entries go to a spool file as they are made and are copied into the archive at the end.
                using var manifestSpool = SpoolFile.Create(_localDir, "manifest");
                manifest.SpoolEntriesTo(manifestSpool);
                var hardLinks = new Dictionary<(ulong, ulong), string>();
                Report(DataBackupPhase.Archiving, null, force: true);
                foreach (var (rel, kind) in entries.Read())
                {
                    _ct.ThrowIfCancellationRequested();
                    var e = new ScanEntry(_source, rel, kind);
                    ArchiveOne(e, tar, manifest, hardLinks);
                    _entriesDone++;
                    Report(DataBackupPhase.Archiving, e.Rel, force: false);
                }

                Report(DataBackupPhase.Finishing, null, force: true);
                foreach (var w in _warnings)
                {
                    manifest.Warnings.Add(w);
                }

                manifest.UpdateTotals();
                var now = _o.Clock?.Invoke() ?? DateTimeOffset.UtcNow;
                var unix = now.ToUnixTimeSeconds();

                // zstd: the manifest gets a frame of its own, so a listing can read it from the archive's tail.
                zstd?.EndFrame();
                // Measured, then written straight into the archive: no copy of the document in memory (it grows with the file count).
                tar.WriteFile(ArchiveManifest.MemberPath, new TarEntryMetadata { Mode = 0x1A4, MtimeSeconds = unix, UserName = "root", GroupName = "root" }, manifest.SerializedLength(), manifest.WriteTo);
                manifest.ReleaseEntries(); // the result keeps the header and counts; the entries are in the archive
                tar.Finish();
                bz?.Complete();
                zstd?.Complete();
                sink.Flush();
                return manifest;
            }

            private void ArchiveOne(ScanEntry e, TarWriter tar, ArchiveManifest manifest, Dictionary<(ulong, ulong), string> hardLinks)
            {
                var full = e.Full; // built once per entry: the scan keeps only the relative name
                FsStat? st;
                try
                {
                    st = DataBackupFileSystem.LStat(full);
                }
                catch (IOException ex)
                {
                    _warnings.Add($"{e.Rel}: skipped, cannot be read: {ex.Message}");
                    return;
                }

                if (st is null)
                {
                    _warnings.Add($"{e.Rel}: vanished before it could be archived; not in the backup.");
                    return;
                }

                if (st.Kind != e.Kind && e.Kind == FsKind.Directory)
                {
                    _warnings.Add($"{e.Rel}: was a directory, now a {st.Kind.ToString().ToLowerInvariant()}; its contents at scan time are not in the backup.");
                }

                var meta = new TarEntryMetadata
                {
                    Mode = st.Mode,
                    Uid = st.Uid,
                    Gid = st.Gid,
                    UserName = DataBackupFileSystem.UserName(st.Uid),
                    GroupName = DataBackupFileSystem.GroupName(st.Gid),
                    MtimeSeconds = st.MtimeSeconds,
                    MtimeNanoseconds = st.MtimeNanoseconds,
                };
                ManifestEntry Entry(string path, ManifestEntryType type) => new ManifestEntry(path, type)
                {
                    Mode = st.Mode,
                    Uid = st.Uid,
                    Gid = st.Gid,
                    Mtime = st.Mtime,
                };

                switch (st.Kind)
                {
                    case FsKind.Directory:
                        if (e.Kind != FsKind.Directory)
                        {
                            _warnings.Add($"{e.Rel}: became a directory while the backup ran; archived empty.");
                        }

                        tar.WriteDirectory(e.Rel + "/", meta);
                        manifest.Add(Entry(e.Rel + "/", ManifestEntryType.Directory));
                        break;

                    case FsKind.Symlink:
                        string target;
                        try
                        {
                            target = DataBackupFileSystem.ReadLink(full);
                        }
                        catch (FileNotFoundException)
                        {
                            _warnings.Add($"{e.Rel}: vanished before it could be archived; not in the backup.");
                            return;
                        }

                        tar.WriteSymlink(e.Rel, target, meta);
                        var link = Entry(e.Rel, ManifestEntryType.Symlink);
                        link.LinkTarget = target;
                        manifest.Add(link);
                        break;

                    case FsKind.File:
                        var inodeKey = (st.Device, st.Inode);
                        if (st.LinkCount > 1 && hardLinks.TryGetValue(inodeKey, out var first))
                        {
                            tar.WriteHardLink(e.Rel, first, meta);
                            var hard = Entry(e.Rel, ManifestEntryType.Hardlink);
                            hard.LinkTarget = first;
                            manifest.Add(hard);
                            break;
                        }

                        if (ArchiveFile(e.Rel, full, st, meta, tar, manifest, Entry(e.Rel, ManifestEntryType.File)) && st.LinkCount > 1)
                        {
                            hardLinks[inodeKey] = e.Rel;
                        }

                        break;

                    default:
                        _warnings.Add($"{e.Rel}: skipped, a {DescribeKind(st.Kind)} is not backed up.");
                        break;
                }
            }

            private bool ArchiveFile(string rel, string full, FsStat st, TarEntryMetadata meta, TarWriter tar, ArchiveManifest manifest, ManifestEntry entry)
            {
                FileStream fs;
                try
                {
                    fs = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
                }
                catch (Exception ex) when (ex is FileNotFoundException || ex is DirectoryNotFoundException)
                {
                    _warnings.Add($"{rel}: vanished before it could be read; not in the backup.");
                    return false;
                }
                catch (Exception ex) when (ex is UnauthorizedAccessException || ex is IOException)
                {
                    _warnings.Add($"{rel}: skipped, cannot be opened: {ex.Message}");
                    return false;
                }

                TarFileWriteResult r;
                using (fs)
                {
                    r = tar.WriteFile(rel, meta, st.Size, fs, n =>
                    {
                        _bytesRead += n;
                        Report(DataBackupPhase.Archiving, rel, force: false);
                    }, _ct);
                }

                FsStat? after = null;
                try
                {
                    after = DataBackupFileSystem.LStat(full);
                }
                catch (IOException)
                {
                    // Reported as changed below.
                }

                if (r.Padded)
                {
                    _warnings.Add($"{rel}: shrank while being read ({r.BytesFromSource.ToString(CultureInfo.InvariantCulture)} of {r.DeclaredSize.ToString(CultureInfo.InvariantCulture)} bytes); the archived copy is padded with zeros.");
                }
                else if (r.SourceHadMore)
                {
                    _warnings.Add($"{rel}: grew while being read; the archived copy holds the first {r.DeclaredSize.ToString(CultureInfo.InvariantCulture)} bytes.");
                }
                else if (after != null && after.ChangedComparedTo(st))
                {
                    _warnings.Add($"{rel}: changed while being read; the archived copy may be inconsistent.");
                }

                entry.Size = r.DeclaredSize;
                entry.Sha256 = r.Sha256;
                manifest.Add(entry);
                return true;
            }

            private void Report(DataBackupPhase phase, string? current, bool force)
            {
                if (_o.Progress is null)
                {
                    return;
                }

                var now = _progressClock.Elapsed;
                if (!force && now - _lastReport < _o.ProgressInterval)
                {
                    return;
                }

                _lastReport = now;
                _o.Progress.Report(new DataBackupProgress(phase, _bytesRead, Math.Max(_totalBytes, _bytesRead), _entriesDone, _totalEntries, current, _hashing?.BytesWritten ?? 0));
            }

            private string HostName()
            {
                if (!string.IsNullOrEmpty(_o.HostName))
                {
                    return _o.HostName!;
                }

                try
                {
                    return Dns.GetHostName();
                }
                catch (System.Net.Sockets.SocketException)
                {
                    return Environment.MachineName;
                }
            }

            private static string DescribeKind(FsKind kind) => kind switch
            {
                FsKind.Fifo => "named pipe (FIFO)",
                FsKind.Socket => "socket",
                FsKind.CharDevice => "character device",
                FsKind.BlockDevice => "block device",
                _ => "special file",
            };

            private static bool IsInside(string path, string dir)
            {
                var p = path.TrimEnd('/');
                var d = dir.TrimEnd('/');
                return p.Length > d.Length && p.StartsWith(d + "/", StringComparison.Ordinal);
            }

            private static void TryDelete(string path)
            {
                try
                {
                    File.Delete(path);
                }
                catch (IOException)
                {
                    // Best effort; the name is clearly a partial.
                }
                catch (UnauthorizedAccessException)
                {
                    // Best effort.
                }
            }
        }
    }
}
