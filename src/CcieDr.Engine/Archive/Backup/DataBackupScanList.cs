using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using CcieDr.Engine.Archive.Common;

namespace CcieDr.Engine.Archive.Backup
{
    /// <summary>
    /// The backup's scan result (relative name and kind of every entry, in walk order) kept in a spool file, not in
    /// memory: the archiving step reads it back once, in order. Memory stays the same for 60,000 or 250,000 files.
    /// </summary>
    internal sealed class DataBackupScanList : IDisposable
    {
        private readonly FileStream _spool;
        private readonly BinaryWriter _writer;

        /// <summary>Creates the list in a spool file in <paramref name="directory"/> (the temp directory when null).</summary>
        internal DataBackupScanList(string? directory)
        {
            _spool = SpoolFile.Create(directory, "scan");
            _writer = new BinaryWriter(_spool, new UTF8Encoding(false), leaveOpen: true);
        }

        /// <summary>Entries added.</summary>
        internal long Count { get; private set; }

        /// <summary>Appends an entry.</summary>
        internal void Add(string rel, FsKind kind)
        {
            _writer.Write((byte)kind);
            _writer.Write(rel);
            Count++;
        }

        /// <summary>The entries in the order they were added (read once, after the last <see cref="Add"/>).</summary>
        internal IEnumerable<(string Rel, FsKind Kind)> Read()
        {
            _writer.Flush();
            long end = _spool.Position;
            _spool.Position = 0;
            using var reader = new BinaryReader(_spool, new UTF8Encoding(false), leaveOpen: true);
            for (long i = 0; i < Count; i++)
            {
                var kind = (FsKind)reader.ReadByte();
                var rel = reader.ReadString();
                yield return (rel, kind);
            }

            _spool.Position = end;
        }

        public void Dispose()
        {
            _writer.Dispose();
            _spool.Dispose();
        }
    }
}
