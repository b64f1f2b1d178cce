using System;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CcieDr.Engine.Archive.Common
{
    /// <summary>
    /// Temporary files that keep per-entry state (the backup's scan list and manifest entries, the extractor's
    /// index of members) on disk instead of in memory, so memory does not grow with the number of files.
    /// A spool is created 0600 and its name removed at once: it lives only as long as its stream, whatever
    /// ends the run (success, error, cancellation, a killed process), and nobody else can open it.
    /// </summary>
    internal static class SpoolFile
    {
        /// <summary>Creates an anonymous read/write spool in <paramref name="directory"/> (the system temp directory when null).</summary>
        internal static FileStream Create(string? directory, string purpose, int bufferSize = 64 * 1024)
        {
            var dir = string.IsNullOrEmpty(directory) ? Path.GetTempPath() : directory!;
            var path = Path.Combine(dir, ".ccie-dr-" + purpose + "-" + Guid.NewGuid().ToString("N").Substring(0, 12) + ".spool");
            if (!SafeExtractNative.IsSupported)
            {
                return new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize, FileOptions.DeleteOnClose);
            }

            var fs = SafeExtractNative.CreatePrivateReadWriteFile(path, bufferSize);
            try
            {
                File.Delete(path); // the open descriptor keeps the data; the name is gone
            }
            catch
            {
                fs.Dispose();
                throw;
            }

            return fs;
        }
    }

    internal static partial class SafeExtractNative
    {
        /// <summary>Like <see cref="CreatePrivateFile"/> (O_CREAT|O_EXCL, 0600 from the start) but open for reading too.</summary>
        internal static FileStream CreatePrivateReadWriteFile(string path, int bufferSize)
        {
            bool mac = RuntimeInformation.IsOSPlatform(OSPlatform.OSX);
            int flags = 2 /* O_RDWR */ | (mac ? 0x200 | 0x800 | CloseOnExecMac : 0x40 | 0x80 | CloseOnExecLinux);
            int fd = openMode(Z(path), flags, PrivateFileMode);
            if (fd < 0)
            {
                int errno = Marshal.GetLastWin32Error();
                throw new IOException($"Cannot create '{path}': {Describe(errno)} (errno {errno}).", errno);
            }

            return new FileStream(new SafeFileHandle((IntPtr)fd, ownsHandle: true), FileAccess.ReadWrite, Math.Max(1, bufferSize));
        }
    }
}
