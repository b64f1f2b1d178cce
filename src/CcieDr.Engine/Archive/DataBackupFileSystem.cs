using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;

namespace CcieDr.Engine.Archive
{
    /// <summary>Kind of a file-system object as seen by lstat (links are never followed).</summary>
    internal enum FsKind
    {
        File,
        Directory,
        Symlink,
        Fifo,
        Socket,
        CharDevice,
        BlockDevice,
        Unknown,
    }

    /// <summary>lstat-like metadata of one path.</summary>
    internal sealed class FsStat
    {
        public FsKind Kind { get; set; }

        public long Size { get; set; }

        /// <summary>Permission bits (07777).</summary>
        public int Mode { get; set; }

        public long Uid { get; set; }

        public long Gid { get; set; }

        public long MtimeSeconds { get; set; }

        public int MtimeNanoseconds { get; set; }

        public long CtimeSeconds { get; set; }

        public int CtimeNanoseconds { get; set; }

        public ulong Device { get; set; }

        public ulong Inode { get; set; }

        public long LinkCount { get; set; }

        public double Mtime => MtimeSeconds + (MtimeNanoseconds / 1e9);

        /// <summary>True when content-relevant metadata differs (size, mtime, ctime, inode).</summary>
        public bool ChangedComparedTo(FsStat other) =>
            Size != other.Size || MtimeSeconds != other.MtimeSeconds || MtimeNanoseconds != other.MtimeNanoseconds
            || CtimeSeconds != other.CtimeSeconds || CtimeNanoseconds != other.CtimeNanoseconds || Inode != other.Inode;
    }

    /// <summary>
    /// File-system access the tar writer needs and netstandard2.0 lacks: lstat with uid/gid/inode/nanosecond
    /// times (Linux statx, the same layout on every architecture), readlink and user/group names.
    /// Falls back to managed APIs (coarser metadata) where the native calls are unavailable (Windows).
    /// </summary>
    internal static class DataBackupFileSystem
    {
        private const int AtFdCwd = -100;
        private const int AtSymlinkNoFollow = 0x100;
        private const uint StatxBasicStats = 0x7ff;
        private const int ENOENT = 2;
        private const int ENOTDIR = 20;
        private const int ENOSYS = 38;

        private static readonly object NamesLock = new object();
        private static Dictionary<long, string>? s_users;
        private static Dictionary<long, string>? s_groups;
        private static int s_statxMode; // 0 unknown, 1 libc statx, 2 raw syscall, 3 managed

        [ThreadStatic]
        private static byte[]? t_statxBuffer;

        public static bool IsUnix { get; } =
            RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.IsOSPlatform(OSPlatform.OSX);

        private static bool IsLinux { get; } = RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

        /// <summary>lstat; null when the path does not exist (any more).</summary>
        /// <exception cref="IOException">Any other failure.</exception>
        public static FsStat? LStat(string path)
        {
            if (IsLinux && s_statxMode != 3)
            {
                var buf = t_statxBuffer ??= new byte[256];
                var p = ToCString(path);
                int rc;
                int errno;
                try
                {
                    if (s_statxMode == 2)
                    {
                        rc = SyscallStatx(p, buf);
                    }
                    else
                    {
                        rc = NativeMethods.statx(AtFdCwd, p, AtSymlinkNoFollow, StatxBasicStats, buf);
                        s_statxMode = 1;
                    }

                    errno = rc == 0 ? 0 : Marshal.GetLastWin32Error();
                }
                catch (EntryPointNotFoundException)
                {
                    // glibc < 2.28: no statx wrapper; use the raw system call.
                    s_statxMode = 2;
                    rc = SyscallStatx(p, buf);
                    errno = rc == 0 ? 0 : Marshal.GetLastWin32Error();
                }

                if (rc == 0)
                {
                    return FromStatx(buf);
                }

                if (errno == ENOENT || errno == ENOTDIR)
                {
                    return null;
                }

                if (errno == ENOSYS)
                {
                    s_statxMode = 3;
                    return ManagedStat(path);
                }

                throw new IOException($"Cannot stat '{path}': {new Win32Exception(errno).Message} (errno {errno}).");
            }

            return ManagedStat(path);
        }

        /// <summary>Text of a symbolic link.</summary>
        public static string ReadLink(string path)
        {
            if (!IsUnix)
            {
                throw new CcieException(
                    "BackupSymlinkNeedsLinux",
                    CcieErrorCategory.InvalidOperation,
                    $"'{path}' is a symbolic link; archiving links as links needs Linux (or macOS). Run Backup-CcieData on the Services box (Linux) itself, or exclude the link with -Exclude.",
                    path);
            }

            var p = ToCString(path);
            for (var size = 256; size <= 1 << 20; size *= 4)
            {
                var buf = new byte[size];
                var n = NativeMethods.readlink(p, buf, new IntPtr(size)).ToInt64();
                if (n < 0)
                {
                    var errno = Marshal.GetLastWin32Error();
                    if (errno == ENOENT || errno == ENOTDIR)
                    {
                        throw new FileNotFoundException($"'{path}' vanished.", path);
                    }

                    throw new IOException($"Cannot read link '{path}': {new Win32Exception(errno).Message} (errno {errno}).");
                }

                if (n < size)
                {
                    return Encoding.UTF8.GetString(buf, 0, (int)n);
                }
            }

            throw new IOException($"Link text of '{path}' is too long.");
        }

        /// <summary>Names in a directory, sorted ordinally (deterministic archives).</summary>
        public static List<string> ListDirectory(string path)
        {
            var names = Directory.EnumerateFileSystemEntries(path)
                .Select(Path.GetFileName)
                .Where(n => !string.IsNullOrEmpty(n))
                .Select(n => n!)
                .ToList();
            names.Sort(StringComparer.Ordinal);
            return names;
        }

        /// <summary>User name of a uid (from /etc/passwd), or null.</summary>
        public static string? UserName(long uid) => LookupName(ref s_users, "/etc/passwd", uid);

        /// <summary>Group name of a gid (from /etc/group), or null.</summary>
        public static string? GroupName(long gid) => LookupName(ref s_groups, "/etc/group", gid);

        private static string? LookupName(ref Dictionary<long, string>? cache, string file, long id)
        {
            if (!IsUnix)
            {
                return null;
            }

            lock (NamesLock)
            {
                if (cache is null)
                {
                    cache = new Dictionary<long, string>();
                    try
                    {
                        foreach (var line in File.ReadAllLines(file))
                        {
                            var parts = line.Split(':');
                            if (parts.Length >= 3 && long.TryParse(parts[2], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && !cache.ContainsKey(n))
                            {
                                cache[n] = parts[0];
                            }
                        }
                    }
                    catch (IOException)
                    {
                        // No names: numeric ids only.
                    }
                    catch (UnauthorizedAccessException)
                    {
                        // No names: numeric ids only.
                    }
                }

                return cache.TryGetValue(id, out var name) ? name : null;
            }
        }

        private static int SyscallStatx(byte[] path, byte[] buf)
        {
            long nr = RuntimeInformation.ProcessArchitecture switch
            {
                Architecture.X64 => 332,
                Architecture.Arm64 => 291,
                Architecture.X86 => 383,
                Architecture.Arm => 397,
                _ => -1,
            };
            if (nr < 0)
            {
                s_statxMode = 3;
                return -1;
            }

            return (int)NativeMethods.syscall(new IntPtr(nr), new IntPtr(AtFdCwd), path, new IntPtr(AtSymlinkNoFollow), new IntPtr(StatxBasicStats), buf).ToInt64();
        }

        private static FsStat FromStatx(byte[] b)
        {
            var mode = BitConverter.ToUInt16(b, 28);
            var kind = (mode & 0xF000) switch
            {
                0x8000 => FsKind.File,
                0x4000 => FsKind.Directory,
                0xA000 => FsKind.Symlink,
                0x1000 => FsKind.Fifo,
                0xC000 => FsKind.Socket,
                0x2000 => FsKind.CharDevice,
                0x6000 => FsKind.BlockDevice,
                _ => FsKind.Unknown,
            };
            var devMajor = BitConverter.ToUInt32(b, 136);
            var devMinor = BitConverter.ToUInt32(b, 140);
            return new FsStat
            {
                Kind = kind,
                Mode = mode & 0xFFF,
                LinkCount = BitConverter.ToUInt32(b, 16),
                Uid = BitConverter.ToUInt32(b, 20),
                Gid = BitConverter.ToUInt32(b, 24),
                Inode = BitConverter.ToUInt64(b, 32),
                Size = BitConverter.ToInt64(b, 40),
                CtimeSeconds = BitConverter.ToInt64(b, 96),
                CtimeNanoseconds = (int)BitConverter.ToUInt32(b, 104),
                MtimeSeconds = BitConverter.ToInt64(b, 112),
                MtimeNanoseconds = (int)BitConverter.ToUInt32(b, 120),
                Device = ((ulong)devMajor << 32) | devMinor,
            };
        }

        private static FsStat? ManagedStat(string path)
        {
            FileSystemInfo info = new FileInfo(path);
            if (!info.Exists)
            {
                info = new DirectoryInfo(path);
                if (!info.Exists)
                {
                    return null;
                }
            }

            var isDir = (info.Attributes & FileAttributes.Directory) != 0;
            var isLink = (info.Attributes & FileAttributes.ReparsePoint) != 0;
            var mtime = info.LastWriteTimeUtc - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);
            var ticks = mtime.Ticks;
            return new FsStat
            {
                Kind = isLink ? FsKind.Symlink : isDir ? FsKind.Directory : FsKind.File,
                Mode = isDir ? 0x1ED : (info.Attributes & FileAttributes.ReadOnly) != 0 ? 0x124 : 0x1A4,
                Size = isDir || isLink ? 0 : ((FileInfo)info).Length,
                MtimeSeconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rem),
                MtimeNanoseconds = (int)(rem * 100),
                CtimeSeconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out _),
                LinkCount = 1,
            };
        }

        private static byte[] ToCString(string s)
        {
            var n = Encoding.UTF8.GetByteCount(s);
            var b = new byte[n + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, b, 0);
            return b;
        }

        private static class NativeMethods
        {
            [DllImport("libc", SetLastError = true)]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int statx(int dirfd, byte[] pathname, int flags, uint mask, byte[] statxbuf);

            [DllImport("libc", SetLastError = true)]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern IntPtr syscall(IntPtr number, IntPtr dirfd, byte[] pathname, IntPtr flags, IntPtr mask, byte[] statxbuf);

            [DllImport("libc", SetLastError = true)]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern IntPtr readlink(byte[] path, byte[] buf, IntPtr bufsiz);
        }
    }
}
