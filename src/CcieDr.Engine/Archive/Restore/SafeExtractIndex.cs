using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using CcieDr.Engine.Archive.Common;

namespace CcieDr.Engine.Archive.Restore
{
    /// <summary>
    /// The <see cref="SafeExtractor"/>'s model of everything extracted so far, kept on disk so memory does not grow
    /// with the number of members: each member is a record (kind, size, SHA-256, mode, owner, mtime, path, link
    /// target) appended to a private spool file; memory holds only an open-addressing table of 8 bytes a slot
    /// (33 bits of a keyed hash of the path, the kind, the record number) and 4 bytes a record (its offset).
    /// A hash match is confirmed by comparing the path stored in the record, so a collision is never taken for a
    /// match. Recently confirmed paths (the parents every member is checked against) are remembered in a small
    /// bounded cache.
    /// </summary>
    internal sealed class SafeExtractIndex : IDisposable
    {
        private const int HeaderBytes = 76;
        private const int IdBits = 28;
        private const int KindShift = IdBits;
        private const int TagShift = 31;
        private const ulong IdMask = (1UL << IdBits) - 1;
        private const ulong TagMask = ~((1UL << TagShift) - 1);
        private const int RemovedKind = 7;
        private const int TailBytes = 256 * 1024;
        private const int RecentMax = 512;

        private readonly FileStream _file;
        private readonly ulong _seed;
        private readonly byte[] _tail = new byte[TailBytes];
        private readonly Dictionary<string, int> _recent = new Dictionary<string, int>(StringComparer.Ordinal);
        private byte[] _scratch = new byte[1024];
        private byte[] _pathBytes = new byte[1024];
        private int _fetched;
        private ulong[] _slots = new ulong[1024];
        private int _bits = 10;
        private int _used;
        private uint[] _offsets = new uint[1024];
        private ulong[] _inOrder = new ulong[16];
        private ulong[] _dead = new ulong[16];
        private ulong[] _listed = new ulong[16];
        private int _tailLength;
        private long _flushed;
        private int _count;

        /// <summary>Creates the index in a spool file in <paramref name="directory"/> (the temp directory when null).</summary>
        internal SafeExtractIndex(string? directory)
        {
            _file = SpoolFile.Create(directory, "index", bufferSize: 1);
            var seed = new byte[8];
            using (var rng = RandomNumberGenerator.Create())
            {
                rng.GetBytes(seed);
            }

            _seed = BitConverter.ToUInt64(seed, 0);
        }

        /// <summary>Records written (every member, implicit directory and replacement).</summary>
        internal int RecordCount => _count;

        /// <summary>Table slots held in memory (a test can check it is what the count implies, nothing per path beyond it).</summary>
        internal int SlotCapacity => _slots.Length;

        /// <summary>Bytes of the arrays held in memory (table, offsets, flag bits, buffers); the cache's few paths aside.</summary>
        internal long InMemoryBytes =>
            (_slots.Length * 8L) + (_offsets.Length * 4L) + ((_inOrder.Length + _dead.Length + _listed.Length) * 8L) + _tail.Length + _scratch.Length + _pathBytes.Length;

        /// <summary>Paths held in memory by the confirmed-path cache (bounded).</summary>
        internal int CachedPaths => _recent.Count;

        /// <summary>Deepest member seen ('/' count), for the deepest-first pass over directories.</summary>
        internal int MaxDepth { get; private set; }

        /// <summary>Looks up the current node at <paramref name="rel"/>; false when there is none (or it was removed).</summary>
        internal bool TryGet(string rel, out SafeExtractor.NodeKind kind, out int id)
        {
            int slot = Find(rel, Hash(rel));
            if (slot >= 0)
            {
                ulong s = _slots[slot];
                int k = (int)((s >> KindShift) & 7);
                if (k != RemovedKind)
                {
                    kind = (SafeExtractor.NodeKind)k;
                    id = (int)(s & IdMask) - 1;
                    return true;
                }
            }

            kind = default;
            id = -1;
            return false;
        }

        /// <summary>Reads a record.</summary>
        internal SafeExtractor.Node Read(int id, out string rel)
        {
            var b = ReadRecord(id, out _, out _);
            return Decode(b, 0, out rel);
        }

        private static SafeExtractor.Node Decode(byte[] b, int at, out string rel)
        {
            int pathLen = BitConverter.ToInt32(b, at + HeaderBytes);
            int linkLen = BitConverter.ToInt32(b, at + HeaderBytes + 4 + pathLen);
            rel = Encoding.UTF8.GetString(b, at + HeaderBytes + 4, pathLen);
            var node = new SafeExtractor.Node((SafeExtractor.NodeKind)b[at])
            {
                Mode = BitConverter.ToInt32(b, at + 4),
                Size = BitConverter.ToInt64(b, at + 8),
                Uid = BitConverter.ToInt64(b, at + 48),
                Gid = BitConverter.ToInt64(b, at + 56),
                MtimeSeconds = BitConverter.ToInt64(b, at + 64),
                MtimeNanoseconds = BitConverter.ToInt32(b, at + 72),
                HasMetadata = b[at + 1] != 0,
            };
            if (b[at + 2] != 0)
            {
                var hash = new byte[32];
                Buffer.BlockCopy(b, at + 16, hash, 0, 32);
                node.Hash = hash;
            }

            if (linkLen >= 0)
            {
                node.LinkTarget = Encoding.UTF8.GetString(b, at + HeaderBytes + 8 + pathLen, linkLen);
            }

            return node;
        }

        /// <summary>
        /// Makes <paramref name="node"/> the node at <paramref name="rel"/> (a new record; the one it replaces, if any,
        /// is marked dead). <paramref name="inOrder"/>: the member counts in the archive order the final checks walk.
        /// </summary>
        internal int Add(string rel, SafeExtractor.Node node, bool inOrder)
        {
            if (_count >= (int)IdMask - 1)
            {
                throw new InvalidOperationException($"The archive holds more than {IdMask - 1} members; it cannot be extracted safely.");
            }

            ulong h = Hash(rel);
            int slot = Find(rel, h);
            if (slot >= 0)
            {
                int old = (int)(_slots[slot] & IdMask) - 1;
                SetBit(ref _dead, old);
            }

            int id = Append(rel, node);
            if (inOrder)
            {
                SetBit(ref _inOrder, id);
            }

            ulong value = (h & TagMask) | ((ulong)(byte)node.Kind << KindShift) | (uint)(id + 1);
            if (slot >= 0)
            {
                _slots[slot] = value;
            }
            else
            {
                if ((_used + 1) * 10L > _slots.Length * 7L)
                {
                    Grow();
                }

                Place(value);
                _used++;
            }

            int depth = 0;
            foreach (var c in rel)
            {
                if (c == '/')
                {
                    depth++;
                }
            }

            MaxDepth = Math.Max(MaxDepth, depth);
            return id;
        }

        /// <summary>Removes the node at <paramref name="rel"/> (its record is marked dead).</summary>
        internal void Remove(string rel)
        {
            int slot = Find(rel, Hash(rel));
            if (slot < 0)
            {
                return;
            }

            ulong s = _slots[slot];
            SetBit(ref _dead, (int)(s & IdMask) - 1);
            _slots[slot] = (s & ~(7UL << KindShift)) | ((ulong)RemovedKind << KindShift); // keeps the probe chain and the path for reuse
        }

        /// <summary>Whether the record is still the node at its path (not replaced nor removed).</summary>
        internal bool IsLive(int id) => !GetBit(_dead, id);

        /// <summary>Whether the record was added as a member of the archive order.</summary>
        internal bool IsInOrder(int id) => GetBit(_inOrder, id);

        /// <summary>Marks the path of record <paramref name="id"/> as listed in the manifest.</summary>
        internal void MarkListed(int id) => SetBit(ref _listed, id);

        /// <summary>Whether <see cref="MarkListed"/> was called for the record.</summary>
        internal bool IsListed(int id) => GetBit(_listed, id);

        /// <summary>
        /// Every record in the order written (read sequentially), with the node now at its path: the record's own when
        /// live, else the one that replaced it (null when the path was removed and not re-added).
        /// </summary>
        internal IEnumerable<(int Id, string Rel, SafeExtractor.Node Record, SafeExtractor.Node? Current, int CurrentId)> Scan(bool inOrderOnly) =>
            Scan(inOrderOnly, null);

        /// <summary>
        /// As <see cref="Scan(bool)"/>, decoding only the records <paramref name="wanted"/> accepts (given the record number,
        /// its own kind and whether it is live): the others cost no allocation.
        /// </summary>
        internal IEnumerable<(int Id, string Rel, SafeExtractor.Node Record, SafeExtractor.Node? Current, int CurrentId)> Scan(bool inOrderOnly, Func<int, SafeExtractor.NodeKind, bool, bool>? wanted)
        {
            FlushTail();
            var buf = new byte[1 << 20];
            long filePos = 0; // file offset of buf[0]
            int len = 0;
            for (int id = 0; id < _count; id++)
            {
                long offset = (long)_offsets[id] * 4;
                if (inOrderOnly && !IsInOrder(id))
                {
                    continue;
                }

                if (offset < filePos || RecordLength(buf, (int)(offset - filePos), len) < 0)
                {
                    // Refill from this record on (lookups in between move the file position: set it each time).
                    filePos = offset;
                    len = ReadAt(offset, buf);
                    while (RecordLength(buf, 0, len) < 0)
                    {
                        if (len < buf.Length)
                        {
                            throw new IOException("The extraction index file ended early.");
                        }

                        Array.Resize(ref buf, buf.Length * 2); // a record longer than the buffer
                        len = ReadAt(offset, buf);
                    }
                }

                if (wanted != null && !wanted(id, (SafeExtractor.NodeKind)buf[(int)(offset - filePos)], IsLive(id)))
                {
                    continue;
                }

                var node = Decode(buf, (int)(offset - filePos), out var rel);
                if (IsLive(id))
                {
                    yield return (id, rel, node, node, id);
                }
                else if (TryGet(rel, out _, out int cur))
                {
                    yield return (id, rel, node, Read(cur, out _), cur);
                }
                else
                {
                    yield return (id, rel, node, null, -1);
                }
            }
        }

        // Length of the record at buf[at..len), or -1 when it is not all there.
        private static int RecordLength(byte[] buf, int at, int len)
        {
            if (at + HeaderBytes + 4 > len)
            {
                return -1;
            }

            int pl = BitConverter.ToInt32(buf, at + HeaderBytes);
            if (at + HeaderBytes + 8 + pl > len)
            {
                return -1;
            }

            int total = HeaderBytes + 8 + pl + Math.Max(0, BitConverter.ToInt32(buf, at + HeaderBytes + 4 + pl));
            return at + total > len ? -1 : total;
        }

        private int ReadAt(long offset, byte[] buf)
        {
            _file.Position = offset;
            int len = 0, n;
            while (len < buf.Length && (n = _file.Read(buf, len, buf.Length - len)) > 0)
            {
                len += n;
            }

            return len;
        }

        public void Dispose()
        {
            _file.Dispose();
        }

        private static bool GetBit(ulong[] bits, int i) => (i >> 6) < bits.Length && (bits[i >> 6] & (1UL << (i & 63))) != 0;

        private static void SetBit(ref ulong[] bits, int i)
        {
            if ((i >> 6) >= bits.Length)
            {
                Array.Resize(ref bits, Math.Max(bits.Length * 2, (i >> 6) + 1));
            }

            bits[i >> 6] |= 1UL << (i & 63);
        }

        // FNV-1a over the UTF-16 units with a random per-run seed, then a 64-bit finalizer: a hostile archive cannot
        // aim at the table's slots (and a match is confirmed against the stored path anyway).
        private ulong Hash(string s)
        {
            ulong h = 14695981039346656037UL ^ _seed;
            foreach (var c in s)
            {
                h = (h ^ c) * 1099511628211UL;
            }

            h ^= h >> 33;
            h *= 0xff51afd7ed558ccdUL;
            h ^= h >> 33;
            h *= 0xc4ceb9fe1a85ec53UL;
            h ^= h >> 33;
            return h;
        }

        private int Find(string rel, ulong h)
        {
            if (_recent.TryGetValue(rel, out int cached))
            {
                return cached;
            }

            ulong tag = h & TagMask;
            int mask = _slots.Length - 1;
            int i = (int)(h >> (64 - _bits));
            while (true)
            {
                ulong s = _slots[i];
                if (s == 0)
                {
                    return -1;
                }

                if ((s & TagMask) == tag && PathEquals((int)(s & IdMask) - 1, rel))
                {
                    if (_recent.Count >= RecentMax)
                    {
                        _recent.Clear();
                    }

                    _recent[rel] = i;
                    return i;
                }

                i = (i + 1) & mask;
            }
        }

        private void Place(ulong value)
        {
            int mask = _slots.Length - 1;
            int i = (int)(value >> (64 - _bits)); // the tag's top bits are the hash's: the slot follows from the tag alone
            while (_slots[i] != 0)
            {
                i = (i + 1) & mask;
            }

            _slots[i] = value;
        }

        private void Grow()
        {
            var old = _slots;
            _slots = new ulong[old.Length * 2];
            _bits++;
            _recent.Clear(); // slot numbers change
            foreach (var s in old)
            {
                if (s != 0)
                {
                    Place(s);
                }
            }
        }

        private bool PathEquals(int id, string rel)
        {
            var b = ReadRecord(id, out int pathLen, out _);
            int n = Encoding.UTF8.GetByteCount(rel);
            if (n != pathLen)
            {
                return false;
            }

            if (_pathBytes.Length < n)
            {
                _pathBytes = new byte[n * 2];
            }

            var want = _pathBytes;
            Encoding.UTF8.GetBytes(rel, 0, rel.Length, want, 0);
            for (int i = 0; i < n; i++)
            {
                if (want[i] != b[HeaderBytes + 4 + i])
                {
                    return false;
                }
            }

            return true;
        }

        // Record: kind, has-metadata, has-hash, pad, mode(4) @4, size(8) @8, sha256(32) @16, uid @48, gid @56,
        // mtime s @64, ns(4) @72, then path length(4), path, link length(4, -1 = none), link; padded to 4 bytes.
        private int Append(string rel, SafeExtractor.Node node)
        {
            int pathLen = Encoding.UTF8.GetByteCount(rel);
            int linkLen = node.LinkTarget is null ? -1 : Encoding.UTF8.GetByteCount(node.LinkTarget);
            int total = (HeaderBytes + 8 + pathLen + Math.Max(0, linkLen) + 3) & ~3;
            long offset = _flushed + _tailLength;
            if (offset / 4 > uint.MaxValue)
            {
                throw new InvalidOperationException("The extraction index grew beyond 16 GiB; the archive cannot be extracted safely.");
            }

            if (_tailLength + total > _tail.Length)
            {
                FlushTail();
            }

            byte[] b;
            int at;
            bool direct = total > _tail.Length;
            if (direct)
            {
                b = new byte[total];
                at = 0;
            }
            else
            {
                b = _tail;
                at = _tailLength;
                Array.Clear(b, at, total);
            }

            b[at] = (byte)node.Kind;
            b[at + 1] = node.HasMetadata ? (byte)1 : (byte)0;
            b[at + 2] = node.Hash is null ? (byte)0 : (byte)1;
            Put(b, at + 4, node.Mode);
            Put(b, at + 8, node.Size);
            if (node.Hash != null)
            {
                Buffer.BlockCopy(node.Hash, 0, b, at + 16, Math.Min(32, node.Hash.Length));
            }

            Put(b, at + 48, node.Uid);
            Put(b, at + 56, node.Gid);
            Put(b, at + 64, node.MtimeSeconds);
            Put(b, at + 72, node.MtimeNanoseconds);
            Put(b, at + HeaderBytes, pathLen);
            Encoding.UTF8.GetBytes(rel, 0, rel.Length, b, at + HeaderBytes + 4);
            Put(b, at + HeaderBytes + 4 + pathLen, linkLen);
            if (linkLen > 0)
            {
                Encoding.UTF8.GetBytes(node.LinkTarget!, 0, node.LinkTarget!.Length, b, at + HeaderBytes + 8 + pathLen);
            }

            if (direct)
            {
                _file.Position = _flushed;
                _file.Write(b, 0, total);
                _flushed += total;
            }
            else
            {
                _tailLength += total;
            }

            int id = _count++;
            if (id >= _offsets.Length)
            {
                Array.Resize(ref _offsets, _offsets.Length * 2);
            }

            _offsets[id] = (uint)(offset / 4);
            return id;
        }

        private void FlushTail()
        {
            if (_tailLength == 0)
            {
                return;
            }

            _file.Position = _flushed;
            _file.Write(_tail, 0, _tailLength);
            _flushed += _tailLength;
            _tailLength = 0;
        }

        // The record's bytes (in a scratch buffer, from the unflushed tail or the file): one read for most records.
        private byte[] ReadRecord(int id, out int pathLen, out int linkLen)
        {
            long offset = (long)_offsets[id] * 4;
            var b = Fetch(offset, HeaderBytes + 8, 512);
            pathLen = BitConverter.ToInt32(b, HeaderBytes);
            int min = HeaderBytes + 8 + pathLen;
            if (_fetched < min)
            {
                b = Fetch(offset, min, min);
            }

            linkLen = BitConverter.ToInt32(b, HeaderBytes + 4 + pathLen);
            if (linkLen > 0 && _fetched < min + linkLen)
            {
                b = Fetch(offset, min + linkLen, min + linkLen);
            }

            return b;
        }

        // Reads at least min and at most want bytes at offset into the scratch buffer (_fetched says how many).
        private byte[] Fetch(long offset, int min, int want)
        {
            want = Math.Max(min, want);
            if (_scratch.Length < want)
            {
                _scratch = new byte[Math.Max(want, _scratch.Length * 2)];
            }

            if (offset >= _flushed)
            {
                int at = (int)(offset - _flushed);
                _fetched = Math.Min(want, _tailLength - at);
                Buffer.BlockCopy(_tail, at, _scratch, 0, _fetched);
                return _scratch;
            }

            _file.Position = offset;
            int pos = 0;
            while (pos < min)
            {
                int n = _file.Read(_scratch, pos, want - pos);
                if (n <= 0)
                {
                    throw new IOException("The extraction index file ended early.");
                }

                pos += n;
            }

            _fetched = pos;
            return _scratch;
        }

        private static void Put(byte[] b, int at, long v)
        {
            for (int i = 0; i < 8; i++)
            {
                b[at + i] = (byte)(v >> (8 * i));
            }
        }

        private static void Put(byte[] b, int at, int v)
        {
            for (int i = 0; i < 4; i++)
            {
                b[at + i] = (byte)(v >> (8 * i));
            }
        }
    }
}
