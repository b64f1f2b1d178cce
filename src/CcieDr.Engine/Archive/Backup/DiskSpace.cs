using System;
using System.IO;
using System.Runtime.InteropServices;

namespace CcieDr.Engine.Archive.Backup
{
    /// <summary>Reports free space where an archive is written (an interface so tests can simulate a full disk).</summary>
    public interface IDiskSpaceProvider
    {
        /// <summary>Bytes available to an unprivileged writer on the file system holding <paramref name="directory"/>.</summary>
        long GetAvailableBytes(string directory);
    }

    /// <summary>The real file system: statvfs on Linux, <see cref="DriveInfo"/> elsewhere.</summary>
    public sealed class DiskSpace : IDiskSpaceProvider
    {
        private DiskSpace()
        {
        }

        /// <summary>The shared instance.</summary>
        public static DiskSpace Default { get; } = new DiskSpace();

        /// <inheritdoc/>
        public long GetAvailableBytes(string directory)
        {
            if (directory is null)
            {
                throw new ArgumentNullException(nameof(directory));
            }

            if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && IntPtr.Size == 8)
            {
                // struct statvfs on 64-bit Linux: unsigned longs; f_frsize at 8, f_bavail at 32.
                var buf = new byte[256];
                var path = System.Text.Encoding.UTF8.GetBytes(directory + "\0");
                if (NativeMethods.statvfs(path, buf) == 0)
                {
                    var frsize = BitConverter.ToUInt64(buf, 8);
                    var bavail = BitConverter.ToUInt64(buf, 32);
                    var bytes = frsize * bavail;
                    return bytes > long.MaxValue ? long.MaxValue : (long)bytes;
                }

                var errno = Marshal.GetLastWin32Error();
                throw new IOException($"Cannot read free space of '{directory}' (errno {errno}).");
            }

            var root = Path.GetPathRoot(Path.GetFullPath(directory));
            return new DriveInfo(string.IsNullOrEmpty(root) ? directory : root).AvailableFreeSpace;
        }

        private static class NativeMethods
        {
            [DllImport("libc", SetLastError = true)]
            [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
            public static extern int statvfs(byte[] path, byte[] buf);
        }
    }

    /// <summary>The destination has not enough free space for the archive.</summary>
    public sealed class InsufficientDiskSpaceException : IOException
    {
        /// <summary>Creates the exception.</summary>
        public InsufficientDiskSpaceException(string directory, long availableBytes, long neededBytes, string message)
            : base(message)
        {
            Directory = directory;
            AvailableBytes = availableBytes;
            NeededBytes = neededBytes;
        }

        /// <summary>Destination directory.</summary>
        public string Directory { get; }

        /// <summary>Free bytes found.</summary>
        public long AvailableBytes { get; }

        /// <summary>Bytes estimated to be needed.</summary>
        public long NeededBytes { get; }
    }
}
