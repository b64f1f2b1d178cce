using System;

namespace CcieDr.Engine.Archive.Tar
{
    /// <summary>Kind of a tar member, after PAX and GNU extension headers are folded in.</summary>
    public enum TarEntryKind
    {
        /// <summary>Regular file ('0', '\0', '7').</summary>
        File,

        /// <summary>Hard link to an earlier member ('1').</summary>
        HardLink,

        /// <summary>Symbolic link ('2').</summary>
        SymbolicLink,

        /// <summary>Character device ('3').</summary>
        CharacterDevice,

        /// <summary>Block device ('4').</summary>
        BlockDevice,

        /// <summary>Directory ('5').</summary>
        Directory,

        /// <summary>FIFO ('6').</summary>
        Fifo,

        /// <summary>Any other type flag (GNU sparse, multi-volume, dump dir, vendor types).</summary>
        Unsupported,
    }

    /// <summary>One member header as read by <see cref="TarReader"/>.</summary>
    public sealed class TarReaderEntry
    {
        internal TarReaderEntry(string name, TarEntryKind kind, char typeFlag, long size, int mode, long uid, long gid, long mtimeSeconds, int mtimeNanoseconds, string? linkName, long headerOffset)
        {
            Name = name;
            Kind = kind;
            TypeFlag = typeFlag;
            Size = size;
            Mode = mode;
            Uid = uid;
            Gid = gid;
            MtimeSeconds = mtimeSeconds;
            MtimeNanoseconds = mtimeNanoseconds;
            LinkName = linkName;
            HeaderOffset = headerOffset;
        }

        /// <summary>Member name exactly as stored (PAX path, GNU long name or ustar prefix/name).</summary>
        public string Name { get; }

        /// <summary>Member kind.</summary>
        public TarEntryKind Kind { get; }

        /// <summary>Raw type flag.</summary>
        public char TypeFlag { get; }

        /// <summary>Content bytes that follow the header (0 for links and directories).</summary>
        public long Size { get; }

        /// <summary>Permission bits (07777).</summary>
        public int Mode { get; }

        /// <summary>Owner user id.</summary>
        public long Uid { get; }

        /// <summary>Owner group id.</summary>
        public long Gid { get; }

        /// <summary>Modification time, whole seconds since the epoch.</summary>
        public long MtimeSeconds { get; }

        /// <summary>Sub-second part of the modification time (PAX only).</summary>
        public int MtimeNanoseconds { get; }

        /// <summary>Link target (symlink text or hard-link member name).</summary>
        public string? LinkName { get; }

        /// <summary>Offset of the header in the uncompressed stream (for error messages).</summary>
        public long HeaderOffset { get; }

        /// <summary>Modification time as fractional seconds.</summary>
        public double Mtime => MtimeSeconds + (MtimeNanoseconds / 1e9);
    }
}
