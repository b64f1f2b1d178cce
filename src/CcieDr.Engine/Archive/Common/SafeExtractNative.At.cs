using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using Microsoft.Win32.SafeHandles;

namespace CcieDr.Engine.Archive.Common
{
    /// <summary>
    /// Descriptor-relative operations for trees that other users can change while the restore (as root)
    /// works on them: the directories below the data directory belong to archive uids, so a process
    /// running as one of them can swap a directory for a symlink, or create a name, at any moment.
    /// Nothing here resolves a path below a trusted starting directory by name twice: directories are
    /// opened with <c>O_DIRECTORY|O_NOFOLLOW</c> relative to their parent's descriptor, entries are
    /// removed with <c>unlinkat</c> relative to the descriptor that listed them, and renames never replace.
    /// </summary>
    internal static partial class SafeExtractNative
    {
        /// <summary>How often one entry or one directory may be found changed before deletion gives up.</summary>
        private const int MaxChangedRetries = 1000;

        private const int RenameNoReplaceLinux = 1;
        private const int RenameExclMac = 4;

        /// <summary>errno: no such file or directory.</summary>
        internal const int ErrnoNoEntry = 2;

        /// <summary>errno: the name exists.</summary>
        internal const int ErrnoExists = 17;

        private const int ErrnoPermission = 1;
        private const int ErrnoAccess = 13;
        private const int ErrnoNotDirectory = 20;
        private const int ErrnoIsDirectory = 21;
        private const int ErrnoInvalid = 22;

        private static readonly bool s_mac = RuntimeInformation.IsOSPlatform(OSPlatform.OSX);

        // Flags that differ between Linux architectures: arm and arm64 (like powerpc) override O_DIRECTORY and
        // O_NOFOLLOW; x86, x86-64 (and the generic table: riscv, s390x) use 0200000 and 0400000.
        private static readonly bool s_armFlags = RuntimeInformation.ProcessArchitecture == Architecture.Arm || RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

        private static readonly int s_oDirectory = s_mac ? 0x100000 : s_armFlags ? 0x4000 : 0x10000;
        private static readonly int s_oNoFollow = s_mac ? 0x100 : s_armFlags ? 0x8000 : 0x20000;
        private static readonly int s_oCloexec = s_mac ? CloseOnExecMac : CloseOnExecLinux;
        private static readonly int s_oCreat = s_mac ? 0x200 : 0x40;
        private static readonly int s_oExcl = s_mac ? 0x800 : 0x80;
        private static readonly int s_oPath = s_mac ? 0 : 0x200000;
        private static readonly int s_atFdCwd = s_mac ? -2 : -100;
        private static readonly int s_atRemoveDir = s_mac ? 0x80 : 0x200;
        private static readonly int s_atSymlinkNoFollow = s_mac ? AtSymlinkNoFollowMac : AtSymlinkNoFollowLinux;
        private static readonly int s_errnoLoop = s_mac ? 62 : 40;
        private static readonly int s_errnoNotEmpty = s_mac ? 66 : 39;
        private static readonly int s_errnoNoSys = s_mac ? 78 : 38;
        private static readonly int s_errnoNotSupported = s_mac ? 45 : 95;

        // Offset of d_name in the struct dirent64 of Linux (and musl's dirent) and in macOS's 64-bit-inode dirent.
        private static readonly int s_direntNameOffset = s_mac ? 21 : 19;

        private static readonly Lazy<bool> s_flagsVerified = new Lazy<bool>(VerifyFlags, LazyThreadSafetyMode.ExecutionAndPublication);

        /// <summary>Tests set this to take the checked fallback of <see cref="RenameNoReplace"/> (kernels without renameat2).</summary>
        internal static bool ForceRenameFallback
        {
            get => s_forceRenameFallback.Value;
            set => s_forceRenameFallback.Value = value;
        }

        private static readonly AsyncLocal<bool> s_forceRenameFallback = new AsyncLocal<bool>();

        /// <summary>
        /// Deletes <paramref name="path"/> and everything below it without ever following a symbolic link,
        /// even one swapped in for a directory while the deletion runs: the parent of <paramref name="path"/>
        /// is opened by name (it must be trusted, e.g. the data directory), everything below it only relative to
        /// an open descriptor. A symlink is removed as an entry; a directory is opened with
        /// <c>O_DIRECTORY|O_NOFOLLOW</c>, made writable with fchmod, emptied through its descriptor and
        /// removed with <c>unlinkat(AT_REMOVEDIR)</c>; a name found changed is looked at again. Nothing there is a no-op.
        /// </summary>
        /// <exception cref="IOException">An entry cannot be removed, or the tree kept changing.</exception>
        internal static void DeleteTree(string path)
        {
            RequireVerifiedFlags();
            string full = Path.GetFullPath(path).TrimEnd('/');
            string name = Path.GetFileName(full);
            string? parent = Path.GetDirectoryName(full);
            if (full.Length == 0 || name.Length == 0 || name == "." || name == ".." || parent is null)
            {
                throw new ArgumentException($"Refusing to delete '{path}'.", nameof(path));
            }

            int dfd = openat(s_atFdCwd, Z(parent), OpenDirectoryFlags(followLast: true));
            if (dfd < 0)
            {
                int errno = Marshal.GetLastWin32Error();
                if (errno == ErrnoNoEntry)
                {
                    return;
                }

                throw Error("open the directory", parent, errno);
            }

            try
            {
                RemoveEntryAt(dfd, Z(name), full);
            }
            finally
            {
                _ = close(dfd);
            }
        }

        /// <summary>Removes an empty directory (never a symlink to one); false when it is not there, not empty or not a directory.</summary>
        internal static bool TryRemoveEmptyDirectory(string path)
        {
            if (unlinkat(s_atFdCwd, Z(path), s_atRemoveDir) == 0)
            {
                return true;
            }

            int errno = Marshal.GetLastWin32Error();
            if (errno == ErrnoNoEntry || errno == ErrnoExists || errno == s_errnoNotEmpty || errno == ErrnoNotDirectory)
            {
                return false;
            }

            throw Error("remove the directory", path, errno);
        }

        /// <summary>
        /// Renames <paramref name="from"/> to <paramref name="to"/> only if <paramref name="to"/> does not exist:
        /// 0 when moved, else the errno (<see cref="ErrnoExists"/> when <paramref name="to"/> exists,
        /// <see cref="ErrnoNoEntry"/> when <paramref name="from"/> does not). Uses renameat2(RENAME_NOREPLACE)
        /// (renamex_np(RENAME_EXCL) on macOS), atomic. Where the kernel or filesystem lacks it (ENOSYS, EINVAL,
        /// ENOTSUP) the fallback is still atomic for a non-directory (link, which fails on an existing name, then
        /// unlink of the old name); for a directory it checks then renames, and rename(2) itself refuses every
        /// destination but an empty directory created in between (and a non-empty one is never lost).
        /// </summary>
        internal static int RenameNoReplace(string from, string to)
        {
            if (!ForceRenameFallback)
            {
                int rc = RenameNoReplaceNative(from, to);
                if (rc != s_errnoNoSys && rc != ErrnoInvalid && rc != s_errnoNotSupported)
                {
                    return rc;
                }
            }

            return RenameNoReplaceFallback(from, to);
        }

        /// <summary>
        /// Creates a new file readable and writable by the owner only, never through a symbolic link:
        /// open(2) with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 (a name that exists, symlink or not, fails with EEXIST).
        /// </summary>
        internal static FileStream CreatePrivateFileNoFollow(string path, int bufferSize)
        {
            RequireVerifiedFlags();
            int fd = openMode(Z(path), 1 /* O_WRONLY */ | s_oCreat | s_oExcl | s_oNoFollow | s_oCloexec, PrivateFileMode);
            if (fd < 0)
            {
                throw Error("create", path, Marshal.GetLastWin32Error());
            }

            return new FileStream(new SafeFileHandle((IntPtr)fd, ownsHandle: true), FileAccess.Write, Math.Max(1, bufferSize));
        }

        /// <summary>
        /// Creates the directory (mode 0700) unless a real directory is already there; a symlink, or any
        /// other kind of entry, at the path is refused.
        /// </summary>
        internal static void EnsurePrivateDirectory(string path)
        {
            RequireVerifiedFlags();
            if (mkdir(Z(path), PrivateDirectoryMode) == 0)
            {
                return;
            }

            int errno = Marshal.GetLastWin32Error();
            if (errno != ErrnoExists)
            {
                throw Error("create the directory", path, errno);
            }

            int fd = openat(s_atFdCwd, Z(path), OpenDirectoryFlags(followLast: false));
            if (fd < 0)
            {
                errno = Marshal.GetLastWin32Error();
                throw new IOException($"Cannot use '{path}': it exists and is not a directory (a symbolic link or a file; errno {errno}, {Describe(errno)}).", errno);
            }

            _ = close(fd);
        }

        private static void RemoveEntryAt(int dfd, byte[] name, string display)
        {
            for (int attempt = 0; attempt < MaxChangedRetries; attempt++)
            {
                // Anything but a directory (a file, a symlink wherever it points, a fifo, ...) goes with one unlink.
                if (unlinkat(dfd, name, 0) == 0)
                {
                    return;
                }

                int errno = Marshal.GetLastWin32Error();
                if (errno == ErrnoNoEntry)
                {
                    return;
                }

                if (errno != ErrnoIsDirectory && !(s_mac && errno == ErrnoPermission))
                {
                    throw Error("remove", display, errno);
                }

                int fd = openat(dfd, name, OpenDirectoryFlags(followLast: false));
                if (fd < 0)
                {
                    errno = Marshal.GetLastWin32Error();
                    if (errno == ErrnoNoEntry || errno == ErrnoNotDirectory || errno == s_errnoLoop)
                    {
                        continue; // swapped for something else (a symlink) since the unlink: look again
                    }

                    if (errno == ErrnoAccess && MakeOwnerAccessible(dfd, name))
                    {
                        continue;
                    }

                    throw Error("open the directory", display, errno);
                }

                try
                {
                    // The descriptor is this directory, whatever happens to its name: 0700 so it can be emptied when not root.
                    if (fchmod(fd, PrivateDirectoryMode) != 0)
                    {
                        throw Error("set the mode of", display, Marshal.GetLastWin32Error());
                    }

                    EmptyDirectoryAt(fd, display);
                }
                finally
                {
                    _ = close(fd);
                }

                if (unlinkat(dfd, name, s_atRemoveDir) == 0)
                {
                    return;
                }

                errno = Marshal.GetLastWin32Error();
                if (errno == ErrnoNoEntry)
                {
                    return;
                }

                if (errno != ErrnoNotDirectory && errno != s_errnoNotEmpty && errno != ErrnoExists)
                {
                    throw Error("remove the directory", display, errno);
                }

                // Refilled, or swapped for something else, since it was emptied: look again.
            }

            throw new IOException($"Cannot remove '{display}': it kept changing while it was being deleted (something is writing to it; stop it and retry).");
        }

        private static void EmptyDirectoryAt(int fd, string display)
        {
            for (int pass = 0; pass < MaxChangedRetries; pass++)
            {
                var names = ListAt(fd, display);
                if (names.Count == 0)
                {
                    return;
                }

                foreach (var n in names)
                {
                    RemoveEntryAt(fd, n, display + "/" + Encoding.UTF8.GetString(n, 0, n.Length - 1));
                }
            }

            throw new IOException($"Cannot empty '{display}': entries kept appearing while it was being deleted (something is writing to it; stop it and retry).");
        }

        /// <summary>The entry names (NUL-terminated bytes, never decoded and re-encoded) of an open directory.</summary>
        private static List<byte[]> ListAt(int fd, string display)
        {
            int copy = dup(fd);
            if (copy < 0)
            {
                throw Error("list", display, Marshal.GetLastWin32Error());
            }

            IntPtr dir = fdopendir(copy);
            if (dir == IntPtr.Zero)
            {
                int errno = Marshal.GetLastWin32Error();
                _ = close(copy);
                throw Error("list", display, errno);
            }

            var names = new List<byte[]>();
            try
            {
                rewinddir(dir); // the copy shares the file offset with fd: always list from the start
                while (true)
                {
                    IntPtr entry = ReadDir(dir);
                    if (entry == IntPtr.Zero)
                    {
                        break; // end (or an error: the caller lists again until the directory is empty and removed)
                    }

                    int len = 0;
                    while (Marshal.ReadByte(entry, s_direntNameOffset + len) != 0)
                    {
                        len++;
                    }

                    if ((len == 1 && Marshal.ReadByte(entry, s_direntNameOffset) == (byte)'.')
                        || (len == 2 && Marshal.ReadByte(entry, s_direntNameOffset) == (byte)'.' && Marshal.ReadByte(entry, s_direntNameOffset + 1) == (byte)'.'))
                    {
                        continue;
                    }

                    var name = new byte[len + 1];
                    Marshal.Copy(entry + s_direntNameOffset, name, 0, len);
                    names.Add(name);
                }
            }
            finally
            {
                _ = closedir(dir); // closes copy
            }

            return names;
        }

        /// <summary>Non-root only: gives the owner access to a directory it cannot read, without following a symlink.</summary>
        private static bool MakeOwnerAccessible(int dfd, byte[] name)
        {
            if (s_mac)
            {
                return fchmodat(dfd, name, PrivateDirectoryMode, s_atSymlinkNoFollow) == 0;
            }

            // O_PATH needs no permission on the directory itself; chmod through /proc/self/fd/N reaches exactly that inode.
            int pfd = openat(dfd, name, s_oPath | OpenDirectoryFlags(followLast: false));
            if (pfd < 0)
            {
                return false;
            }

            try
            {
                return chmod(Z("/proc/self/fd/" + pfd.ToString(System.Globalization.CultureInfo.InvariantCulture)), PrivateDirectoryMode) == 0;
            }
            finally
            {
                _ = close(pfd);
            }
        }

        private static int OpenDirectoryFlags(bool followLast) =>
            s_oDirectory | s_oCloexec | (followLast ? 0 : s_oNoFollow); // O_RDONLY is 0

        private static IntPtr ReadDir(IntPtr dir)
        {
            if (s_mac)
            {
                return RuntimeInformation.ProcessArchitecture == Architecture.X64 ? readdirInode64(dir) : readdir(dir);
            }

            try
            {
                return readdir64(dir);
            }
            catch (EntryPointNotFoundException)
            {
                return readdir(dir); // musl: struct dirent has the dirent64 layout
            }
        }

        private static int RenameNoReplaceNative(string from, string to)
        {
            try
            {
                int rc = s_mac
                    ? renamex_np(Z(from), Z(to), RenameExclMac)
                    : renameat2(s_atFdCwd, Z(from), s_atFdCwd, Z(to), RenameNoReplaceLinux);
                return rc == 0 ? 0 : Marshal.GetLastWin32Error();
            }
            catch (EntryPointNotFoundException)
            {
                if (s_mac)
                {
                    return s_errnoNoSys;
                }
            }

            // glibc before 2.28 has no wrapper: the system call itself.
            long number = RuntimeInformation.ProcessArchitecture switch
            {
                Architecture.X64 => 316,
                Architecture.Arm64 => 276,
                _ => -1,
            };
            if (number < 0)
            {
                return s_errnoNoSys;
            }

            long r = syscall(number, s_atFdCwd, Z(from), s_atFdCwd, Z(to), RenameNoReplaceLinux);
            return r == 0 ? 0 : Marshal.GetLastWin32Error();
        }

        private static int RenameNoReplaceFallback(string from, string to)
        {
            int fd = openat(s_atFdCwd, Z(from), OpenDirectoryFlags(followLast: false));
            if (fd >= 0)
            {
                _ = close(fd);

                // A directory: rename(2) fails on an existing non-directory or non-empty directory; only an empty
                // directory created between this check and the rename could be replaced.
                if (Lexists(to))
                {
                    return ErrnoExists;
                }

                return rename(Z(from), Z(to)) == 0 ? 0 : Marshal.GetLastWin32Error();
            }

            int errno = Marshal.GetLastWin32Error();
            if (errno == ErrnoNoEntry)
            {
                return ErrnoNoEntry;
            }

            // Not a directory (a file, a symlink, ...): link(2) fails with EEXIST on any existing name, then unlink the old name.
            if (linkat(s_atFdCwd, Z(from), s_atFdCwd, Z(to), 0) != 0)
            {
                return Marshal.GetLastWin32Error();
            }

            if (unlinkat(s_atFdCwd, Z(from), 0) != 0)
            {
                errno = Marshal.GetLastWin32Error();
                _ = unlinkat(s_atFdCwd, Z(to), 0);
                return errno;
            }

            return 0;
        }

        private static void RequireVerifiedFlags()
        {
            if (!s_flagsVerified.Value)
            {
                throw new IOException("The open(2) flags O_DIRECTORY/O_NOFOLLOW could not be verified on this platform, so files cannot be changed safely; restore on x86-64 or arm64 Linux.");
            }
        }

        /// <summary>Checks once that O_DIRECTORY and O_NOFOLLOW mean what this build thinks they mean on this kernel.</summary>
        private static bool VerifyFlags()
        {
            int fd = openat(s_atFdCwd, Z("/dev/null"), OpenDirectoryFlags(followLast: true));
            if (fd >= 0)
            {
                _ = close(fd);
                return false; // O_DIRECTORY ignored
            }

            if (s_mac)
            {
                return true;
            }

            // /proc/self/cwd is a symbolic link to a directory: with O_NOFOLLOW it must not open (ENOTDIR or ELOOP).
            fd = openat(s_atFdCwd, Z("/proc/self/cwd"), OpenDirectoryFlags(followLast: false));
            if (fd >= 0)
            {
                _ = close(fd);
                return false;
            }

            int errno = Marshal.GetLastWin32Error();
            return errno == ErrnoNotDirectory || errno == s_errnoLoop || (errno == ErrnoNoEntry && !Directory.Exists("/proc/self"));
        }

        private static IOException Error(string what, string path, int errno) =>
            new IOException($"Cannot {what} '{path}': {Describe(errno)} (errno {errno}).", errno);

        [DllImport(Libc, SetLastError = true)]
        private static extern int openat(int dirfd, byte[] path, int flags);

        [DllImport(Libc, SetLastError = true)]
        private static extern int unlinkat(int dirfd, byte[] path, int flags);

        [DllImport(Libc, SetLastError = true)]
        private static extern int linkat(int olddirfd, byte[] oldpath, int newdirfd, byte[] newpath, int flags);

        [DllImport(Libc, SetLastError = true)]
        private static extern int fchmod(int fd, uint mode);

        [DllImport(Libc, SetLastError = true)]
        private static extern int fchmodat(int dirfd, byte[] path, uint mode, int flags);

        [DllImport(Libc, SetLastError = true)]
        private static extern int dup(int fd);

        [DllImport(Libc, SetLastError = true)]
        private static extern IntPtr fdopendir(int fd);

        [DllImport(Libc)]
        private static extern void rewinddir(IntPtr dir);

        [DllImport(Libc, SetLastError = true)]
        private static extern IntPtr readdir(IntPtr dir);

        [DllImport(Libc, SetLastError = true)]
        private static extern IntPtr readdir64(IntPtr dir);

        [DllImport(Libc, SetLastError = true, EntryPoint = "readdir$INODE64")]
        private static extern IntPtr readdirInode64(IntPtr dir);

        [DllImport(Libc, SetLastError = true)]
        private static extern int closedir(IntPtr dir);

        [DllImport(Libc, SetLastError = true)]
        private static extern int renameat2(int olddirfd, byte[] oldpath, int newdirfd, byte[] newpath, uint flags);

        [DllImport(Libc, SetLastError = true)]
        private static extern int renamex_np(byte[] from, byte[] to, uint flags);

        [DllImport(Libc, SetLastError = true)]
        private static extern long syscall(long number, long olddirfd, byte[] oldpath, long newdirfd, byte[] newpath, long flags);
    }
}
