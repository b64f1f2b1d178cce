using System;

namespace CcieDr.Engine.Archive.Common
{
    /// <summary>
    /// The archive is damaged: a truncated or corrupt bzip2 stream, a bad tar header checksum,
    /// a member whose content does not match the manifest. ErrorId <c>ArchiveCorrupt</c>.
    /// </summary>
    public class ArchiveCorruptException : CcieException
    {
        /// <summary>Stable error id.</summary>
        public const string Id = "ArchiveCorrupt";

        /// <summary>Creates the exception.</summary>
        public ArchiveCorruptException()
            : this("The archive is corrupt.")
        {
        }

        /// <summary>Creates the exception.</summary>
        public ArchiveCorruptException(string message)
            : base(Id, CcieErrorCategory.InvalidData, message)
        {
        }

        /// <summary>Creates the exception.</summary>
        public ArchiveCorruptException(string message, Exception innerException)
            : base(Id, CcieErrorCategory.InvalidData, message, null, innerException)
        {
        }

        /// <summary>Creates the exception for one member.</summary>
        public ArchiveCorruptException(string message, string? member)
            : base(Id, CcieErrorCategory.InvalidData, message, member)
        {
            Member = member;
        }

        /// <summary>Archive path of the member concerned, if any.</summary>
        public string? Member { get; }
    }

    /// <summary>
    /// The archive is well-formed but hostile or unsupported: an absolute path, '..' traversal,
    /// a link escaping the target, a write through a symlink, a device node or FIFO.
    /// Nothing is written outside the staging directory when this is raised. ErrorId <c>UnsafeArchive</c>.
    /// </summary>
    public class UnsafeArchiveException : CcieException
    {
        /// <summary>Stable error id.</summary>
        public const string Id = "UnsafeArchive";

        /// <summary>Creates the exception.</summary>
        public UnsafeArchiveException()
            : this("The archive is unsafe to restore.")
        {
        }

        /// <summary>Creates the exception.</summary>
        public UnsafeArchiveException(string message)
            : base(Id, CcieErrorCategory.InvalidData, message)
        {
        }

        /// <summary>Creates the exception.</summary>
        public UnsafeArchiveException(string message, Exception innerException)
            : base(Id, CcieErrorCategory.InvalidData, message, null, innerException)
        {
        }

        /// <summary>Creates the exception for one member.</summary>
        public UnsafeArchiveException(string message, string? member)
            : base(Id, CcieErrorCategory.InvalidData, message, member)
        {
            Member = member;
        }

        /// <summary>Archive path of the member concerned, if any.</summary>
        public string? Member { get; }
    }
}
