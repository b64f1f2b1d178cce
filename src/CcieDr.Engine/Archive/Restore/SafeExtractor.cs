using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using CcieDr.Engine.Archive.Bzip2;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Tar;
using CcieDr.Engine.Archive.Zstd;

namespace CcieDr.Engine.Archive.Restore
{
    /// <summary>
    /// Reads a bzip2-compressed tar archive member by member, refuses hostile or broken content,
    /// computes the SHA-256 of every file while reading, checks everything against the manifest
    /// (the last member, <see cref="ArchiveManifest.MemberPath"/>), and optionally extracts into
    /// an empty staging directory.
    /// </summary>
    /// <remarks>
    /// Safety rests on an in-memory model of everything extracted so far: a member whose parent
    /// is a symlink is refused (nothing is ever written through a link), files are created with
    /// O_EXCL semantics, links may only point inside the tree, and after the last member every
    /// symlink is resolved through the model the way the kernel would, so chains cannot escape.
    /// </remarks>
    public sealed class SafeExtractor : IDisposable
    {
        private const int BufferSize = 256 * 1024;
        private const int MaxSymlinkHops = 40;

        private readonly SafeExtractOptions _o;
        // The model of what was extracted, on disk (memory does not grow with the member count); top-level names.
        private readonly SafeExtractIndex _index;
        private readonly SortedSet<string> _top = new SortedSet<string>(StringComparer.Ordinal);
        private readonly List<string> _problems = new List<string>();
        private readonly HeapTrim _heapTrim = new HeapTrim();
        private readonly List<string> _warnings = new List<string>();
        private readonly List<string> _setidStripped = new List<string>();
        private readonly byte[] _buffer = new byte[BufferSize];
        // One SHA-256 for every file, reset by GetHashAndReset at each file's end: not a native hash context a member.
        // A file that stops midway ends the whole run (an extractor reads one archive), so it is clean at each start.
        private readonly IncrementalHash _fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly bool _extract;
        private readonly bool _chown;
        private readonly Stopwatch _progressClock = Stopwatch.StartNew();
        private long _problemCount;
        private long _files;
        private long _dirs;
        private long _symlinks;
        private long _hardlinks;
        private long _bytes;
        private long _members;
        private long _freeSpace = long.MaxValue;
        private ArchiveManifest? _manifest;
        private FileStream? _manifestSpool; // the manifest member's bytes, compared entry by entry at the end
        private bool _manifestSeen;
        private Bzip2DecompressStream? _bz;
        private Func<long>? _zstdCompressedBytes;
        private CompressionKind? _compression;

        private SafeExtractor(SafeExtractOptions options)
        {
            _o = options;
            _extract = options.TargetDirectory != null;
            _chown = _extract && (options.RestoreOwnership ?? SafeExtractNative.IsRoot);
            _index = new SafeExtractIndex(options.TargetDirectory);
        }

        internal enum NodeKind
        {
            File,
            Directory,
            Symlink,
            HardLink,
            Implicit,
        }

        /// <summary>Reads (and extracts) the archive. Throws at the first problem unless collecting.</summary>
        /// <exception cref="UnsafeArchiveException">A hostile member.</exception>
        /// <exception cref="ArchiveCorruptException">Truncated/corrupt data or a manifest mismatch.</exception>
        public static SafeExtractResult Run(Stream compressed, SafeExtractOptions options, CancellationToken cancellationToken)
        {
            if (compressed is null)
            {
                throw new ArgumentNullException(nameof(compressed));
            }

            if (options is null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            options.CancellationToken = cancellationToken;
            if (options.TargetDirectory != null)
            {
                if (!SafeExtractNative.IsSupported)
                {
                    throw new PlatformNotSupportedException("Extraction needs Linux or macOS (symlinks, modes and owners are POSIX).");
                }

                if (!Directory.Exists(options.TargetDirectory) || Directory.EnumerateFileSystemEntries(options.TargetDirectory).Any())
                {
                    throw new ArgumentException($"The extraction target '{options.TargetDirectory}' must be an existing empty directory.", nameof(options));
                }
            }

            using var extractor = new SafeExtractor(options);
            return extractor.Execute(compressed);
        }

        /// <summary>Deletes the spool files of a run (its index and the manifest copy).</summary>
        public void Dispose()
        {
            _index.Dispose();
            _manifestSpool?.Dispose();
            _fileHash.Dispose();
        }

        /// <summary>
        /// Normalizes a member name to a '/'-separated relative path without '.', '' or trailing '/'
        /// components. Returns "" for the archive root. Returns null (and a reason) for absolute
        /// paths and '..' components.
        /// </summary>
        public static string? NormalizeMemberPath(string name, out string? reason)
        {
            const int MaxNameBytes = 255;
            reason = null;
            if (name is null)
            {
                throw new ArgumentNullException(nameof(name));
            }

            if (name.StartsWith("/", StringComparison.Ordinal))
            {
                reason = "absolute path";
                return null;
            }

            if (name.IndexOf('\0') >= 0)
            {
                reason = "NUL in path";
                return null;
            }

            var parts = new List<string>();
            foreach (var p in name.Split('/'))
            {
                if (p.Length == 0 || p == ".")
                {
                    continue;
                }

                if (p == "..")
                {
                    reason = "'..' in path";
                    return null;
                }

                // No Linux file system takes a name longer than NAME_MAX (255 bytes): refuse it here, as a
                // hostile member, instead of failing mid-extraction with a raw I/O error.
                if (System.Text.Encoding.UTF8.GetByteCount(p) > MaxNameBytes)
                {
                    reason = $"a path component is longer than {MaxNameBytes} bytes";
                    return null;
                }

                parts.Add(p);
            }

            return string.Join("/", parts);
        }

        private static string Parent(string rel)
        {
            int i = rel.LastIndexOf('/');
            return i < 0 ? string.Empty : rel.Substring(0, i);
        }

        private static string TopLevel(string rel)
        {
            int i = rel.IndexOf('/');
            return i < 0 ? rel : rel.Substring(0, i);
        }

        // Whether hex (either case) spells hash, without building the string.
        private static bool HexEquals(byte[] hash, string? hex)
        {
            if (hex is null || hex.Length != hash.Length * 2)
            {
                return false;
            }

            for (int i = 0; i < hash.Length; i++)
            {
                if (HexDigit(hex[2 * i]) != (hash[i] >> 4) || HexDigit(hex[(2 * i) + 1]) != (hash[i] & 0xF))
                {
                    return false;
                }
            }

            return true;
        }

        private static int HexDigit(char c) =>
            c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

        private static string Hex(byte[] hash)
        {
            var sb = new StringBuilder(hash.Length * 2);
            foreach (var b in hash)
            {
                sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }

            return sb.ToString();
        }

        private static string ManifestTypeName(NodeKind k) => k switch
        {
            NodeKind.File => "file",
            NodeKind.Directory => "directory",
            NodeKind.Implicit => "directory",
            NodeKind.Symlink => "symlink",
            _ => "hardlink",
        };

        private SafeExtractResult Execute(Stream compressed)
        {
            var ct = _o.CancellationToken;
            ct.ThrowIfCancellationRequested();
            if (_extract && _o.CheckFreeSpace)
            {
                _freeSpace = FreeSpace(_o.TargetDirectory!);
            }

            // bzip2 or zstd by content (the first bytes), whatever the archive is called.
            DetectedArchive detected;
            try
            {
                detected = ArchiveFormatDetector.Detect(compressed, null, leaveOpen: true);
            }
            catch (ArchiveCorruptException ex) when (_o.CollectProblems)
            {
                Problem(unsafeMember: false, ex.Message, ex.Member);
                return Finish(corruptStream: true);
            }

            _compression = detected.Kind;
            Stream decoder;
            if (detected.Kind == CompressionKind.Zstd)
            {
                var zstd = new ZstdDecompressStream(detected.Stream, leaveOpen: true);
                _zstdCompressedBytes = () => zstd.CompressedBytesRead;
                decoder = zstd;
            }
            else
            {
                decoder = _bz = Bzip2DecompressStream.Open(detected.Stream, leaveOpen: true, _o.Bzip2);
            }

            Stream tarStream = _o.ReadAhead && !(decoder is ParallelBzip2DecompressStream) ? new Bzip2DecompressReadAhead(decoder, ct) : decoder;
            try
            {
                var tar = new TarReader(tarStream);
                try
                {
                    ReadMembers(tar, ct);
                    if (tar.LoneZeroBlock)
                    {
                        _warnings.Add("The archive ends with a single zero block instead of two.");
                    }

                    tar.Drain();
                }
                catch (ArchiveCorruptException ex) when (_o.CollectProblems)
                {
                    Problem(unsafeMember: false, ex.Message, ex.Member);
                    return Finish(corruptStream: true);
                }
                catch (UnsafeArchiveException ex) when (_o.CollectProblems)
                {
                    // Raised by the tar layer (sizes, names): cannot read on past it.
                    Problem(unsafeMember: true, ex.Message, ex.Member);
                    return Finish(corruptStream: true);
                }

                return Finish(corruptStream: false);
            }
            finally
            {
                tarStream.Dispose();
                decoder.Dispose();
            }
        }

        private long CompressedBytesRead => _bz?.CompressedBytesRead ?? _zstdCompressedBytes?.Invoke() ?? 0;

        private void ReadMembers(TarReader tar, CancellationToken ct)
        {
            TarReaderEntry? e;
            while ((e = tar.Next()) != null)
            {
                ct.ThrowIfCancellationRequested();
                _members++;
                _heapTrim.Member();
                Report(e.Name, force: false);
                string? rel = NormalizeMemberPath(e.Name, out var why);
                if (rel is null)
                {
                    Problem(true, $"refused member '{e.Name}': {why}", e.Name);
                    continue;
                }

                if (rel == ArchiveManifest.MemberPath)
                {
                    ReadManifest(tar, e);
                    continue;
                }

                if (_manifestSeen)
                {
                    Problem(false, $"member '{e.Name}' follows the manifest, which must be the last member", e.Name);
                }

                if (rel.Length == 0 || (rel == ArchiveManifest.MetadataFolder && e.Kind == TarEntryKind.Directory))
                {
                    continue; // the archive root ('./') and our metadata folder are not restored
                }

                switch (e.Kind)
                {
                    case TarEntryKind.File:
                        AddFile(tar, e, rel, ct);
                        break;
                    case TarEntryKind.Directory:
                        AddDirectory(e, rel);
                        break;
                    case TarEntryKind.SymbolicLink:
                        AddSymlink(e, rel);
                        break;
                    case TarEntryKind.HardLink:
                        AddHardLink(e, rel);
                        break;
                    case TarEntryKind.CharacterDevice:
                    case TarEntryKind.BlockDevice:
                        Problem(true, $"refused member '{e.Name}': device nodes are not restored", e.Name);
                        break;
                    case TarEntryKind.Fifo:
                        Problem(true, $"refused member '{e.Name}': FIFOs are not restored", e.Name);
                        break;
                    default:
                        Problem(true, $"refused member '{e.Name}': unsupported member type '{(e.TypeFlag == '\0' ? "NUL" : e.TypeFlag.ToString())}'{(e.TypeFlag == 'S' || e.TypeFlag == '0' ? " (sparse files are not supported)" : string.Empty)}", e.Name);
                        break;
                }
            }
        }

        private void ReadManifest(TarReader tar, TarReaderEntry e)
        {
            if (_manifestSeen)
            {
                Problem(false, "the archive holds more than one manifest", e.Name);
                return;
            }

            _manifestSeen = true;
            if (e.Kind != TarEntryKind.File)
            {
                Problem(false, "the manifest member is not a regular file", e.Name);
                return;
            }

            if (e.Size > ArchiveManifest.MaxManifestBytes)
            {
                Problem(true, $"the manifest is {e.Size} bytes, more than the {ArchiveManifest.MaxManifestBytes} allowed", e.Name);
                return;
            }

            // Spooled, not held: it lists every member. Read once now (header, validity), once at the end (comparison).
            var spool = SpoolFile.Create(_o.TargetDirectory, "manifest");
            int n;
            while ((n = tar.Read(_buffer, 0, _buffer.Length)) > 0)
            {
                spool.Write(_buffer, 0, n);
            }

            spool.Position = 0;
            try
            {
                _manifest = ArchiveManifest.Read(spool, null);
                _manifestSpool = spool;
            }
            catch (FormatException ex)
            {
                spool.Dispose();
                Problem(false, "the manifest cannot be read: " + ex.Message, e.Name);
            }
        }

        private bool CheckParents(string rel, string member)
        {
            string parent = Parent(rel);
            var chain = new List<string>();
            while (parent.Length > 0)
            {
                chain.Add(parent);
                parent = Parent(parent);
            }

            for (int i = chain.Count - 1; i >= 0; i--)
            {
                if (_index.TryGet(chain[i], out var kind, out _))
                {
                    if (kind == NodeKind.Symlink)
                    {
                        Problem(true, $"refused member '{member}': its parent '{chain[i]}' is a symbolic link (writing through links is never done)", member);
                        return false;
                    }

                    if (kind != NodeKind.Directory && kind != NodeKind.Implicit)
                    {
                        Problem(true, $"refused member '{member}': its parent '{chain[i]}' is not a directory", member);
                        return false;
                    }
                }
                else
                {
                    if (_extract)
                    {
                        Directory.CreateDirectory(Full(chain[i]));
                    }

                    AddNode(chain[i], new Node(NodeKind.Implicit), inOrder: false);
                }
            }

            return true;
        }

        /// <summary>Clears the way for a new member at <paramref name="rel"/>; false when it would replace a directory.</summary>
        private bool Replace(string rel, string member, bool newIsDirectory)
        {
            if (!_index.TryGet(rel, out var old, out _))
            {
                return true;
            }

            if (old == NodeKind.Directory || old == NodeKind.Implicit)
            {
                if (newIsDirectory)
                {
                    return true;
                }

                Problem(true, $"refused member '{member}': it would replace the directory '{rel}'", member);
                return false;
            }

            if (_extract)
            {
                File.Delete(Full(rel)); // unlink: never follows a symlink
            }

            CountRemoved(old);
            _index.Remove(rel);
            return true;
        }

        private void CountRemoved(NodeKind old)
        {
            switch (old)
            {
                case NodeKind.File:
                    _files--;
                    break;
                case NodeKind.Symlink:
                    _symlinks--;
                    break;
                case NodeKind.HardLink:
                    _hardlinks--;
                    break;
            }
        }

        private void AddFile(TarReader tar, TarReaderEntry e, string rel, CancellationToken ct)
        {
            if (e.Size > _o.MaxMemberSize)
            {
                Problem(true, $"refused member '{e.Name}': its size {e.Size} exceeds the {_o.MaxMemberSize} bytes allowed", e.Name);
                return;
            }

            if (_extract && e.Size > _freeSpace)
            {
                Problem(true, $"refused member '{e.Name}': its size {e.Size} exceeds the free space left on the target filesystem ({_freeSpace} bytes)", e.Name);
                return;
            }

            if (!CheckParents(rel, e.Name) || !Replace(rel, e.Name, newIsDirectory: false))
            {
                return;
            }

            var sha = _fileHash;
            string? full = _extract ? Full(rel) : null;
            // 0600 while written; the member's own mode is applied with the rest of its metadata at the end.
            FileStream? fs = full != null ? SafeExtractNative.CreatePrivateFile(full, 1) : null;
            long total = 0;
            try
            {
                int n;
                while ((n = tar.Read(_buffer, 0, _buffer.Length)) > 0)
                {
                    sha.AppendData(_buffer, 0, n);
                    fs?.Write(_buffer, 0, n);
                    if (total == 0 && fs != null)
                    {
                        fs.Flush();
                        _o.FileWriting?.Invoke(full!);
                    }

                    total += n;
                    _bytes += n;
                    if ((total & 0xFFFFF) < n)
                    {
                        ct.ThrowIfCancellationRequested();
                        Report(e.Name, force: false);
                    }
                }
            }
            finally
            {
                fs?.Dispose();
            }

            _freeSpace -= total;
            var node = new Node(NodeKind.File) { Size = total, Hash = sha.GetHashAndReset(), Mode = e.Mode };
            AddNode(rel, node, inOrder: true);
            _files++;
            if (_extract)
            {
                ApplyMetadata(rel, e, symlink: false, mode: FileModeToApply(rel, e.Mode));
            }
        }

        /// <summary>The mode a regular file gets: setuid/setgid stripped (and noted) unless full preservation was asked for.</summary>
        private int FileModeToApply(string rel, int mode)
        {
            const int SetId = 0xC00; // 04000 | 02000
            if ((mode & SetId) == 0 || _o.PreservePermissions == PermissionPreservation.Full)
            {
                return mode;
            }

            _setidStripped.Add(rel);
            return mode & ~SetId;
        }

        private void AddDirectory(TarReaderEntry e, string rel)
        {
            if (!CheckParents(rel, e.Name) || !Replace(rel, e.Name, newIsDirectory: true))
            {
                return;
            }

            if (_extract)
            {
                Directory.CreateDirectory(Full(rel));
            }

            bool isNew = !_index.TryGet(rel, out var kind, out _) || kind == NodeKind.Implicit;
            if (isNew)
            {
                _dirs++;
            }

            AddNode(
                rel,
                new Node(NodeKind.Directory) { Mode = e.Mode, HasMetadata = true, Uid = e.Uid, Gid = e.Gid, MtimeSeconds = e.MtimeSeconds, MtimeNanoseconds = e.MtimeNanoseconds },
                inOrder: isNew);
        }

        private void AddSymlink(TarReaderEntry e, string rel)
        {
            string target = e.LinkName ?? string.Empty;
            if (target.Length == 0)
            {
                Problem(true, $"refused member '{e.Name}': symbolic link with an empty target", e.Name);
                return;
            }

            if (!CheckParents(rel, e.Name))
            {
                return;
            }

            if (LexicallyEscapes(rel, target, _o.FinalPath, deferAbsolute: _o.FinalPath is null, out var why))
            {
                Problem(true, $"refused member '{e.Name}': symbolic link to '{target}' points outside the target ({why})", e.Name);
                return;
            }

            if (!Replace(rel, e.Name, newIsDirectory: false))
            {
                return;
            }

            if (_extract)
            {
                SafeExtractNative.Symlink(target, Full(rel));
                ApplyMetadata(rel, e, symlink: true);
            }

            AddNode(rel, new Node(NodeKind.Symlink) { LinkTarget = target }, inOrder: true);
            _symlinks++;
        }

        private void AddHardLink(TarReaderEntry e, string rel)
        {
            string? target = e.LinkName is null ? null : NormalizeMemberPath(e.LinkName, out _);
            if (target is null || target.Length == 0 || !_index.TryGet(target, out var tk, out var tid) || (tk != NodeKind.File && tk != NodeKind.HardLink))
            {
                Problem(true, $"refused member '{e.Name}': hard link to '{e.LinkName}', which is not a file extracted earlier from this archive (links outside the target are refused)", e.Name);
                return;
            }

            if (!CheckParents(rel, e.Name) || target == rel)
            {
                if (target == rel)
                {
                    Problem(true, $"refused member '{e.Name}': hard link to itself", e.Name);
                }

                return;
            }

            if (!Replace(rel, e.Name, newIsDirectory: false))
            {
                return;
            }

            if (_extract)
            {
                SafeExtractNative.Link(Full(target), Full(rel));
            }

            var t = _index.Read(tid, out _);
            AddNode(rel, new Node(NodeKind.HardLink) { LinkTarget = target, Size = t.Size, Hash = t.Hash, Mode = t.Mode }, inOrder: true);
            _hardlinks++;
        }

        private void AddNode(string rel, Node node, bool inOrder)
        {
            _index.Add(rel, node, inOrder);
            _top.Add(TopLevel(rel));
        }

        private void ApplyMetadata(string rel, TarReaderEntry e, bool symlink, int? mode = null) =>
            ApplyMetadata(rel, e.Uid, e.Gid, mode ?? e.Mode, e.MtimeSeconds, e.MtimeNanoseconds, symlink);

        private void ApplyMetadata(string rel, long uid, long gid, int mode, long mtimeSeconds, int mtimeNanoseconds, bool symlink)
        {
            string full = Full(rel);
            if (_chown)
            {
                SafeExtractNative.Lchown(full, uid, gid);
            }

            if (!symlink)
            {
                SafeExtractNative.Chmod(full, mode);
            }

            SafeExtractNative.SetMtime(full, mtimeSeconds, mtimeNanoseconds, noFollow: symlink);
        }

        /// <summary>
        /// First check of a symlink target, when it arrives: an absolute target must lie inside the
        /// final path; a relative one must not climb above the root, component by component.
        /// </summary>
        private static bool LexicallyEscapes(string rel, string target, string? finalPath, bool deferAbsolute, out string why)
        {
            why = string.Empty;
            var cur = new List<string>();
            string rest = target;
            if (target.StartsWith("/", StringComparison.Ordinal))
            {
                if (deferAbsolute)
                {
                    return false;
                }

                if (!TryRelativeToFinal(target, finalPath, out rest))
                {
                    why = "absolute target outside the data directory";
                    return true;
                }
            }
            else
            {
                string parent = Parent(rel);
                if (parent.Length > 0)
                {
                    cur.AddRange(parent.Split('/'));
                }
            }

            foreach (var c in rest.Split('/'))
            {
                if (c.Length == 0 || c == ".")
                {
                    continue;
                }

                if (c == "..")
                {
                    if (cur.Count == 0)
                    {
                        why = "'..' climbs above the data directory";
                        return true;
                    }

                    cur.RemoveAt(cur.Count - 1);
                }
                else
                {
                    cur.Add(c);
                }
            }

            return false;
        }

        private static bool TryRelativeToFinal(string absolute, string? finalPath, out string relative)
        {
            relative = string.Empty;
            if (string.IsNullOrEmpty(finalPath))
            {
                return false;
            }

            string root = finalPath!.TrimEnd('/');
            if (absolute == root || absolute == root + "/")
            {
                return true;
            }

            if (!absolute.StartsWith(root + "/", StringComparison.Ordinal))
            {
                return false;
            }

            relative = absolute.Substring(root.Length + 1);
            return true;
        }

        /// <summary>Resolves a symlink through the model the way the kernel would; true when it leaves the root.</summary>
        private bool ResolvesOutside(string rel, string target, string? finalPath, out string why)
        {
            why = string.Empty;
            var cur = new List<string>();
            var pending = new LinkedList<string>();
            int hops = 0;

            string linkDir = Parent(rel);
            if (linkDir.Length > 0)
            {
                cur.AddRange(linkDir.Split('/'));
            }

            if (!Enqueue(target))
            {
                why = "absolute target outside the data directory";
                return true;
            }

            while (pending.Count > 0)
            {
                string c = pending.First!.Value;
                pending.RemoveFirst();
                if (c.Length == 0 || c == ".")
                {
                    continue;
                }

                if (c == "..")
                {
                    if (cur.Count == 0)
                    {
                        why = "after following links it climbs above the data directory";
                        return true;
                    }

                    cur.RemoveAt(cur.Count - 1);
                    continue;
                }

                cur.Add(c);
                if (_index.TryGet(string.Join("/", cur), out var kind, out var id) && kind == NodeKind.Symlink)
                {
                    var node = _index.Read(id, out _);
                    if (++hops > MaxSymlinkHops)
                    {
                        return false; // a loop: resolves to nothing, harmless
                    }

                    cur.RemoveAt(cur.Count - 1);
                    if (!Enqueue(node.LinkTarget!))
                    {
                        why = $"it leads through '{string.Join("/", cur)}/{c}' to an absolute target outside the data directory";
                        return true;
                    }
                }
            }

            return false;

            // A relative target continues from the link's directory (cur); an absolute one from the root.
            bool Enqueue(string t)
            {
                string rest = t;
                if (t.StartsWith("/", StringComparison.Ordinal))
                {
                    if (!TryRelativeToFinal(t, finalPath, out rest))
                    {
                        return false;
                    }

                    cur.Clear();
                }

                var parts = rest.Split('/');
                for (int i = parts.Length - 1; i >= 0; i--)
                {
                    pending.AddFirst(parts[i]);
                }

                return true;
            }
        }

        private SafeExtractResult Finish(bool corruptStream)
        {
            string? finalPath = _o.FinalPath ?? (_manifest != null && _manifest.SourcePath.Length > 0 ? _manifest.SourcePath : null);
            foreach (var (_, rel, _, node, _) in _index.Scan(inOrderOnly: true, (id, kind, live) => !live || kind == NodeKind.Symlink))
            {
                if (node != null && node.Kind == NodeKind.Symlink && ResolvesOutside(rel, node.LinkTarget!, finalPath, out var why))
                {
                    Problem(true, $"refused member '{rel}': symbolic link to '{node.LinkTarget}' points outside the target ({why})", rel);
                }
            }

            bool verified = false;
            if (_manifest != null)
            {
                verified = CompareWithManifest() && !corruptStream;
            }
            else if (!corruptStream)
            {
                _warnings.Add("no manifest: contents not verified against a manifest");
            }

            if (_extract && !corruptStream && _problemCount == 0)
            {
                ApplyDirectoryMetadata();
            }

            var stripped = _setidStripped.Where(r => _index.TryGet(r, out var k, out _) && k == NodeKind.File).Distinct(StringComparer.Ordinal).ToList();
            if (stripped.Count > 0)
            {
                const int MaxListed = 20;
                _warnings.Add($"setuid/setgid removed from {stripped.Count} file(s) (restore with -PreservePermissions Full to keep them): "
                    + string.Join(", ", stripped.Take(MaxListed)) + (stripped.Count > MaxListed ? $", and {stripped.Count - MaxListed} more" : string.Empty));
            }

            var top = _top;
            _o.IndexInspector?.Invoke(_index);
            Report(null, force: true);
            return new SafeExtractResult(
                _manifest,
                verified && _problemCount == 0,
                _members,
                _files,
                _dirs,
                _symlinks,
                _hardlinks,
                _bytes,
                CompressedBytesRead,
                _bz?.StreamsCompleted ?? 0,
                top.ToList(),
                _problems.ToList(),
                _problemCount,
                _warnings.ToList(),
                _bz?.ImplementationName ?? (_compression == CompressionKind.Zstd ? "zstd" : string.Empty))
            {
                Compression = _compression,
            };
        }

        private bool CompareWithManifest()
        {
            long before = _problemCount;
            var spool = _manifestSpool!;
            spool.Position = 0;
            ArchiveManifest.Read(spool, CompareEntry);
            foreach (var (_, rel, _, node, id) in _index.Scan(inOrderOnly: true, (id, kind, live) => !live || (kind != NodeKind.Implicit && !_index.IsListed(id))))
            {
                if (node != null && !_index.IsListed(id) && node.Kind != NodeKind.Implicit)
                {
                    Problem(false, $"'{rel}' is in the archive but not in the manifest", rel);
                }
            }

            return _problemCount == before;
        }

        private void CompareEntry(ManifestEntry me)
        {
            string? rel = NormalizeMemberPath(me.Path, out _);
            if (rel is null || rel.Length == 0)
            {
                Problem(false, $"manifest entry '{me.Path}' has an invalid path", me.Path);
                return;
            }

            bool found = _index.TryGet(rel, out var kind, out var id);
            if (found)
            {
                _index.MarkListed(id);
            }

            if (!found || kind == NodeKind.Implicit)
            {
                Problem(false, $"'{me.Path}' is listed in the manifest but missing from the archive", me.Path);
                return;
            }

            var node = _index.Read(id, out _);
            string actualType = ManifestTypeName(node.Kind);
            string expectedType = ArchiveManifest.TypeToString(me.Type);
            if (actualType != expectedType)
            {
                Problem(false, $"'{me.Path}' is a {actualType} in the archive but a {expectedType} in the manifest", me.Path);
                return;
            }

            switch (me.Type)
            {
                case ManifestEntryType.File:
                    if (node.Size != me.Size)
                    {
                        Problem(false, $"'{me.Path}' has {node.Size} bytes in the archive but {me.Size} in the manifest", me.Path);
                    }
                    else if (node.Hash is null || !HexEquals(node.Hash, me.Sha256))
                    {
                        Problem(false, $"'{me.Path}' SHA-256 mismatch: archive {(node.Hash is null ? "(none)" : Hex(node.Hash))}, manifest {me.Sha256 ?? "(none)"}", me.Path);
                    }

                    break;
                case ManifestEntryType.Symlink:
                    if (!string.Equals(node.LinkTarget, me.LinkTarget, StringComparison.Ordinal))
                    {
                        Problem(false, $"'{me.Path}' links to '{node.LinkTarget}' in the archive but to '{me.LinkTarget}' in the manifest", me.Path);
                    }

                    break;
                case ManifestEntryType.Hardlink:
                    string? expected = me.LinkTarget is null ? null : NormalizeMemberPath(me.LinkTarget, out _);
                    if (!string.Equals(node.LinkTarget, expected, StringComparison.Ordinal))
                    {
                        Problem(false, $"'{me.Path}' is a hard link to '{node.LinkTarget}' in the archive but to '{me.LinkTarget}' in the manifest", me.Path);
                    }

                    break;
            }

            if (me.Type != ManifestEntryType.Symlink && me.Type != ManifestEntryType.Hardlink && (node.Mode & 0xFFF) != (me.Mode & 0xFFF))
            {
                Problem(false, $"'{me.Path}' has mode {Convert.ToString(node.Mode, 8)} in the archive but {Convert.ToString(me.Mode, 8)} in the manifest", me.Path);
            }
        }

        private void ApplyDirectoryMetadata()
        {
            // Deepest first, after all content: writing into a directory changes its mtime, and a
            // read-only mode would block the writes.
            // One pass over the index per depth: no list of every directory in memory.
            for (int depth = _index.MaxDepth; depth >= 0; depth--)
            {
                foreach (var (id, rel, node, _, _) in _index.Scan(inOrderOnly: false, (id, kind, live) => live && kind == NodeKind.Directory))
                {
                    if (node.Kind == NodeKind.Directory && node.HasMetadata && _index.IsLive(id) && rel.Count(c => c == '/') == depth)
                    {
                        ApplyMetadata(rel, node.Uid, node.Gid, node.Mode, node.MtimeSeconds, node.MtimeNanoseconds, symlink: false);
                    }
                }
            }
        }

        private string Full(string rel) => Path.Combine(_o.TargetDirectory!, rel);

        private void Problem(bool unsafeMember, string message, string? member)
        {
            _problemCount++;
            if (!_o.CollectProblems)
            {
                if (unsafeMember)
                {
                    throw new UnsafeArchiveException(message, member);
                }

                throw new ArchiveCorruptException(message, member);
            }

            if (_problems.Count < _o.MaxProblems)
            {
                _problems.Add(message);
            }
        }

        private void Report(string? member, bool force)
        {
            if (_o.Progress is null || (!force && _progressClock.ElapsedMilliseconds < 250))
            {
                return;
            }

            _progressClock.Restart();
            _o.Progress.Report(new ArchiveReadProgress(_o.Phase, member, CompressedBytesRead, _o.CompressedLength, _members, _bytes));
        }

        private static long FreeSpace(string dir)
        {
            try
            {
                return new DriveInfo(dir).AvailableFreeSpace;
            }
            catch (Exception ex) when (ex is IOException || ex is ArgumentException || ex is UnauthorizedAccessException)
            {
                return long.MaxValue;
            }
        }

        internal sealed class Node
        {
            internal Node(NodeKind kind)
            {
                Kind = kind;
            }

            internal NodeKind Kind { get; }

            internal long Size { get; set; }

            internal byte[]? Hash { get; set; }

            internal int Mode { get; set; }

            internal string? LinkTarget { get; set; }

            internal bool HasMetadata { get; set; }

            internal long Uid { get; set; }

            internal long Gid { get; set; }

            internal long MtimeSeconds { get; set; }

            internal int MtimeNanoseconds { get; set; }
        }
    }
}
