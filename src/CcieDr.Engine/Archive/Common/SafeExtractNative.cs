using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace CcieDr.Engine.Archive.Common
{
    /// <summary>The few POSIX calls extraction and the restore swap need (Linux and macOS).</summary>
    internal static partial class SafeExtractNative
    {
        private const string Libc = "libc";
        private const int AtFdCwd = -100;
        private const int AtSymlinkNoFollowLinux = 0x100;
        private const int AtSymlinkNoFollowMac = 0x20;
        private const long UtimeOmit = (1L << 30) - 2;
        private const int LockExclusive = 2;
        private const int CloseOnExecLinux = 0x80000;
        private const int CloseOnExecMac = 0x1000000;
        private const int LockNonBlocking = 4;

        // O_RDONLY | O_CLOEXEC: child processes (tar, ssh, ...) must not inherit a descriptor, or its flock.
        private static int OpenReadCloseOnExec => RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? CloseOnExecMac : CloseOnExecLinux;

        internal static bool IsSupported =>
            RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.IsOSPlatform(OSPlatform.OSX);

        internal static bool IsRoot
        {
            get
            {
                try
                {
                    return IsSupported && geteuid() == 0;
                }
                catch (EntryPointNotFoundException)
                {
                    return false;
                }
            }
        }

        internal static void Symlink(string target, string linkPath) =>
            Check(symlink(Z(target), Z(linkPath)), "create the symbolic link", linkPath);

        internal static void Link(string existing, string newPath) =>
            Check(link(Z(existing), Z(newPath)), "create the hard link", newPath);

        /// <summary>rename(2): atomic within one filesystem; fails across filesystems (no copy fallback).</summary>
        internal static void Rename(string from, string to) =>
            Check(rename(Z(from), Z(to)), "move", from + " -> " + to);

        internal static void Chmod(string path, int mode) =>
            Check(chmod(Z(path), (uint)mode), "set the mode of", path);

        internal static void Lchown(string path, long uid, long gid) =>
            Check(lchown(Z(path), (uint)uid, (uint)gid), "set the owner of", path);

        internal static void SetMtime(string path, long seconds, int nanoseconds, bool noFollow)
        {
            var times = new Timespec[2];
            times[0].Sec = 0;
            times[0].Nsec = UtimeOmit;
            times[1].Sec = seconds;
            times[1].Nsec = nanoseconds;
            int flags = noFollow ? (RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? AtSymlinkNoFollowMac : AtSymlinkNoFollowLinux) : 0;
            Check(utimensat(AtFdCwd, Z(path), times, flags), "set the modification time of", path);
        }

        /// <summary>Whether <paramref name="path"/> is a symbolic link (never follows it).</summary>
        internal static bool IsSymlink(string path) => ReadLink(path) != null;

        /// <summary>The text of a symbolic link, or null when the path is not one.</summary>
        internal static string? ReadLink(string path)
        {
            var buf = new byte[4096];
            long n = (long)readlink(Z(path), buf, (IntPtr)buf.Length);
            if (n < 0)
            {
                return null;
            }

            return Encoding.UTF8.GetString(buf, 0, (int)n);
        }

        /// <summary>fsync(2) a directory so renames and creations in it are durable.</summary>
        internal static void FsyncDirectory(string path)
        {
            int fd = open(Z(path), OpenReadCloseOnExec);
            if (fd < 0)
            {
                return;
            }

            try
            {
                Check(fsync(fd), "flush (fsync)", path);
            }
            finally
            {
                _ = close(fd);
            }
        }

        /// <summary>
        /// Starts writing <paramref name="length"/> bytes of the file at <paramref name="offset"/> back to disk and
        /// returns at once (Linux sync_file_range, SYNC_FILE_RANGE_WRITE), so that the fsync which ends a large file
        /// finds little left to write. Only a hint: elsewhere, or when the call fails, it does nothing (the fsync
        /// still makes the file durable).
        /// </summary>
        internal static void StartWriteback(SafeFileHandle file, long offset, long length)
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || file is null || file.IsInvalid || file.IsClosed || length <= 0)
            {
                return;
            }

            const uint SyncFileRangeWrite = 2;
            _ = sync_file_range((int)file.DangerousGetHandle(), offset, length, SyncFileRangeWrite);
        }

        /// <summary>Flushes the filesystem holding <paramref name="path"/> (syncfs, else sync) so staged files are durable before the swap.</summary>
        internal static void SyncFilesystem(string path)
        {
            int fd = open(Z(path), OpenReadCloseOnExec);
            if (fd >= 0)
            {
                try
                {
                    if (syncfs(fd) == 0)
                    {
                        return;
                    }
                }
                catch (EntryPointNotFoundException)
                {
                }
                finally
                {
                    _ = close(fd);
                }
            }

            sync();
        }

        /// <summary>
        /// Takes an exclusive, non-blocking flock on a directory (released when disposed, or when
        /// the process dies); null when another process holds it. Leaves no file behind.
        /// </summary>
        internal static IDisposable? TryLockDirectory(string path)
        {
            int fd = open(Z(path), OpenReadCloseOnExec);
            if (fd < 0)
            {
                int errno = Marshal.GetLastWin32Error();
                throw new IOException($"Cannot open '{path}': {Describe(errno)} (errno {errno}).", errno);
            }

            if (flock(fd, LockExclusive | LockNonBlocking) != 0)
            {
                _ = close(fd);
                return null;
            }

            return new FdHandle(fd);
        }

        /// <summary>
        /// Creates a new file (fails when it exists) readable and writable by the owner only (0600 from
        /// the start: open(2) with O_CREAT|O_EXCL and mode 0600, never a default mode chmod'd later).
        /// </summary>
        internal static FileStream CreatePrivateFile(string path, int bufferSize)
        {
            bool mac = RuntimeInformation.IsOSPlatform(OSPlatform.OSX);
            int flags = 1 /* O_WRONLY */ | (mac ? 0x200 | 0x800 | CloseOnExecMac : 0x40 | 0x80 | CloseOnExecLinux);
            int fd = openMode(Z(path), flags, PrivateFileMode);
            if (fd < 0)
            {
                int errno = Marshal.GetLastWin32Error();
                throw new IOException($"Cannot create '{path}': {Describe(errno)} (errno {errno}).", errno);
            }

            return new FileStream(new SafeFileHandle((IntPtr)fd, ownsHandle: true), FileAccess.Write, Math.Max(1, bufferSize));
        }

        /// <summary>Creates a new directory accessible by the owner only (mkdir(2) with mode 0700).</summary>
        internal static void CreatePrivateDirectory(string path) =>
            Check(mkdir(Z(path), PrivateDirectoryMode), "create the directory", path);

        /// <summary>Mode of files created by <see cref="CreatePrivateFile"/>.</summary>
        internal const uint PrivateFileMode = 0x180; // 0600

        /// <summary>Mode of directories created by <see cref="CreatePrivateDirectory"/>.</summary>
        internal const uint PrivateDirectoryMode = 0x1C0; // 0700

        /// <summary>Whether something exists at the path, without following a final symlink.</summary>
        internal static bool Lexists(string path) => IsSymlink(path) || File.Exists(path) || Directory.Exists(path);

        private static byte[] Z(string s)
        {
            var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        private static void Check(int rc, string what, string path)
        {
            if (rc != 0)
            {
                int errno = Marshal.GetLastWin32Error();
                throw new IOException($"Cannot {what} '{path}': {Describe(errno)} (errno {errno}).", errno);
            }
        }

        private static string Describe(int errno)
        {
            try
            {
                return Marshal.PtrToStringAnsi(strerror(errno)) ?? "error";
            }
            catch (EntryPointNotFoundException)
            {
                return "error";
            }
        }

        private sealed class FdHandle : IDisposable
        {
            private int _fd;

            internal FdHandle(int fd)
            {
                _fd = fd;
            }

            public void Dispose()
            {
                if (_fd >= 0)
                {
                    _ = close(_fd);
                    _fd = -1;
                }
            }
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct Timespec
        {
            public long Sec;
            public long Nsec;
        }

        [DllImport(Libc, SetLastError = true)]
        private static extern int symlink(byte[] target, byte[] linkpath);

        [DllImport(Libc, SetLastError = true)]
        private static extern int link(byte[] oldpath, byte[] newpath);

        [DllImport(Libc, SetLastError = true)]
        private static extern int rename(byte[] oldpath, byte[] newpath);

        [DllImport(Libc, SetLastError = true)]
        private static extern int chmod(byte[] path, uint mode);

        [DllImport(Libc, SetLastError = true)]
        private static extern int lchown(byte[] path, uint uid, uint gid);

        [DllImport(Libc, SetLastError = true)]
        private static extern int utimensat(int dirfd, byte[] path, [In] Timespec[] times, int flags);

        [DllImport(Libc, SetLastError = true)]
        private static extern IntPtr readlink(byte[] path, byte[] buf, IntPtr bufsiz);

        [DllImport(Libc, SetLastError = true)]
        private static extern int open(byte[] path, int flags);

        [DllImport(Libc, SetLastError = true, EntryPoint = "open")]
        private static extern int openMode(byte[] path, int flags, uint mode);

        [DllImport(Libc, SetLastError = true)]
        private static extern int mkdir(byte[] path, uint mode);

        [DllImport(Libc, SetLastError = true)]
        private static extern int fsync(int fd);

        [DllImport(Libc, SetLastError = true)]
        private static extern int sync_file_range(int fd, long offset, long nbytes, uint flags);

        [DllImport(Libc, SetLastError = true)]
        private static extern int close(int fd);

        [DllImport(Libc)]
        private static extern uint geteuid();

        [DllImport(Libc, SetLastError = true)]
        private static extern int syncfs(int fd);

        [DllImport(Libc, SetLastError = true)]
        private static extern int flock(int fd, int operation);

        [DllImport(Libc)]
        private static extern void sync();

        [DllImport(Libc)]
        private static extern IntPtr strerror(int errnum);
    }
}
