using System;
using System.IO;

namespace CcieDr.Engine.Archive
{
    /// <summary>
    /// The archive is damaged: a truncated or corrupt bzip2 stream, a bad tar header checksum,
    /// a member whose content does not match the manifest.
    /// </summary>
    
    public class ArchiveCorruptException : IOException
    {
        /// <summary>Creates the exception.</summary>
        public ArchiveCorruptException()
        {
        }

        /// <summary>Creates the exception.</summary>
        public ArchiveCorruptException(string message)
            : base(message)
        {
        }

        /// <summary>Creates the exception.</summary>
        public ArchiveCorruptException(string message, Exception innerException)
            : base(message, innerException)
        {
        }

        /// <summary>Creates the exception for one member.</summary>
        public ArchiveCorruptException(string message, string? member)
            : base(message)
        {
            Member = member;
        }

        /// <summary>Archive path of the member concerned, if any.</summary>
        public string? Member { get; }
    }

    /// <summary>
    /// The archive is well-formed but hostile or unsupported: an absolute path, '..' traversal,
    /// a link escaping the target, a write through a symlink, a device node or FIFO.
    /// Nothing is written outside the staging directory when this is raised.
    /// </summary>
    
    public class UnsafeArchiveException : IOException
    {
        /// <summary>Creates the exception.</summary>
        public UnsafeArchiveException()
        {
        }

        /// <summary>Creates the exception.</summary>
        public UnsafeArchiveException(string message)
            : base(message)
        {
        }

        /// <summary>Creates the exception.</summary>
        public UnsafeArchiveException(string message, Exception innerException)
            : base(message, innerException)
        {
        }

        /// <summary>Creates the exception for one member.</summary>
        public UnsafeArchiveException(string message, string? member)
            : base(message)
        {
            Member = member;
        }

        /// <summary>Archive path of the member concerned, if any.</summary>
        public string? Member { get; }
    }
}
