using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using CcieDr.Engine.Archive.Common;

namespace CcieDr.Engine.Archive.Tar
{
    /// <summary>
    /// Streaming reader of tar archives: ustar, POSIX PAX extended headers ('x', 'g') and GNU
    /// long names ('L', 'K'). Every header checksum is validated; a stream that ends before the
    /// end-of-archive marker raises <see cref="ArchiveCorruptException"/>.
    /// </summary>
    public sealed class TarReader
    {
        /// <summary>Largest PAX or GNU long-name header accepted (bytes).</summary>
        public const int MaxExtensionHeaderBytes = 1024 * 1024;

        private const int Block = 512;
        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        private readonly Stream _input;
        private readonly byte[] _header = new byte[Block];
        private readonly Dictionary<string, string> _global = new Dictionary<string, string>(StringComparer.Ordinal);
        private long _offset;
        private long _remaining;
        private long _padding;
        private bool _ended;
        private TarReaderEntry? _current;

        /// <summary>Creates a reader over an uncompressed tar stream.</summary>
        public TarReader(Stream input)
        {
            _input = input ?? throw new ArgumentNullException(nameof(input));
        }

        /// <summary>Uncompressed bytes consumed so far.</summary>
        public long Offset => _offset;

        /// <summary>Whether only a single zero block ended the archive (GNU tar warns about this).</summary>
        public bool LoneZeroBlock { get; private set; }

        /// <summary>
        /// Advances to the next member, skipping any unread content of the current one.
        /// Returns null at the end-of-archive marker.
        /// </summary>
        public TarReaderEntry? Next()
        {
            if (_ended)
            {
                return null;
            }

            SkipRemainder();
            Dictionary<string, string>? pax = null;
            string? longName = null;
            string? longLink = null;

            while (true)
            {
                long headerOffset = _offset;
                int got = ReadFully(_header, 0, Block);
                if (got == 0)
                {
                    throw new ArchiveCorruptException($"tar: the archive ends at offset {headerOffset} without an end-of-archive marker: it is truncated.");
                }

                if (got < Block)
                {
                    throw new ArchiveCorruptException($"tar: the archive ends inside a header at offset {headerOffset}: it is truncated.");
                }

                if (IsZero(_header))
                {
                    // End of archive: a second zero block normally follows.
                    int got2 = ReadFully(_header, 0, Block);
                    if (got2 == Block && !IsZero(_header))
                    {
                        throw new ArchiveCorruptException($"tar: a zero block at offset {headerOffset} is followed by more data: the archive is corrupt.");
                    }

                    if (got2 < Block)
                    {
                        LoneZeroBlock = true;
                    }

                    _ended = true;
                    _current = null;
                    return null;
                }

                ValidateChecksum(headerOffset);
                char type = (char)_header[156];
                long size = ParseNumber(124, 12, "size", headerOffset);
                if (size < 0)
                {
                    throw new UnsafeArchiveException($"tar: member at offset {headerOffset} has a negative size ({size}).", (string?)null);
                }

                if (pax != null && pax.TryGetValue("size", out var paxSize) && type != 'x' && type != 'g' && type != 'L' && type != 'K')
                {
                    size = ParsePaxInteger(paxSize, "size", headerOffset);
                    if (size < 0)
                    {
                        throw new UnsafeArchiveException($"tar: member at offset {headerOffset} has a negative PAX size ({paxSize}).", (string?)null);
                    }
                }

                switch (type)
                {
                    case 'x':
                    case 'g':
                    {
                        var data = ReadExtension(size, type, headerOffset);
                        // Straight into the member's (or the global) table: no second dictionary a member.
                        ParsePax(data, headerOffset, type == 'g' ? _global : (pax ??= new Dictionary<string, string>(StringComparer.Ordinal)));
                        continue;
                    }

                    case 'L':
                    case 'K':
                    {
                        var data = ReadExtension(size, type, headerOffset);
                        int end = Array.IndexOf(data, (byte)0);
                        string s = Decode(data, 0, end < 0 ? data.Length : end, headerOffset);
                        if (type == 'L')
                        {
                            longName = s;
                        }
                        else
                        {
                            longLink = s;
                        }

                        continue;
                    }
                }

                var entry = BuildEntry(type, size, headerOffset, pax, longName, longLink);
                _current = entry;
                // Links, directories, devices and FIFOs carry no content whatever their size field says.
                _remaining = entry.Size;
                _padding = Pad(entry.Size);

                return entry;
            }
        }

        /// <summary>Reads content of the current member; returns 0 at its end.</summary>
        public int Read(byte[] buffer, int offset, int count)
        {
            if (_current is null || _remaining == 0)
            {
                return 0;
            }

            int want = (int)Math.Min(count, _remaining);
            int n = _input.Read(buffer, offset, want);
            if (n <= 0)
            {
                throw new ArchiveCorruptException($"tar: the archive ends inside the content of '{_current.Name}' ({_remaining} bytes missing): it is truncated.", _current.Name);
            }

            _remaining -= n;
            _offset += n;
            return n;
        }

        /// <summary>Reads the rest of the underlying stream after the end-of-archive marker (so the compressed layer is fully checked).</summary>
        public long Drain()
        {
            var buf = new byte[64 * 1024];
            long total = 0;
            int n;
            while ((n = _input.Read(buf, 0, buf.Length)) > 0)
            {
                total += n;
            }

            return total;
        }

        private static long Pad(long size) => (Block - (size % Block)) % Block;

        private static bool IsZero(byte[] b)
        {
            for (int i = 0; i < b.Length; i++)
            {
                if (b[i] != 0)
                {
                    return false;
                }
            }

            return true;
        }

        private static string Decode(byte[] data, int index, int count, long headerOffset)
        {
            try
            {
                return StrictUtf8.GetString(data, index, count);
            }
            catch (DecoderFallbackException ex)
            {
                throw new UnsafeArchiveException($"tar: member name at offset {headerOffset} is not valid UTF-8; such names are not supported ({ex.Message}).", (string?)null);
            }
        }

        private static long ParsePaxInteger(string s, string key, long headerOffset)
        {
            if (!long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
            {
                throw new ArchiveCorruptException($"tar: PAX '{key}' value '{s}' at offset {headerOffset} is not an integer (or is too large).");
            }

            return v;
        }

        private static void ParsePaxTime(string s, long headerOffset, out long seconds, out int nanos)
        {
            int dot = s.IndexOf('.');
            string whole = dot < 0 ? s : s.Substring(0, dot);
            seconds = ParsePaxInteger(whole.Length == 0 || whole == "-" ? whole + "0" : whole, "mtime", headerOffset);
            nanos = 0;
            if (dot >= 0)
            {
                string frac = s.Substring(dot + 1);
                if (frac.Length == 0)
                {
                    return;
                }

                foreach (char c in frac)
                {
                    if (c < '0' || c > '9')
                    {
                        throw new ArchiveCorruptException($"tar: PAX 'mtime' value '{s}' at offset {headerOffset} is not a number.");
                    }
                }

                frac = frac.Length > 9 ? frac.Substring(0, 9) : frac.PadRight(9, '0');
                nanos = int.Parse(frac, NumberStyles.None, CultureInfo.InvariantCulture);
                if (s.StartsWith("-", StringComparison.Ordinal) && nanos > 0)
                {
                    seconds -= 1;
                    nanos = 1_000_000_000 - nanos;
                }
            }
        }

        /// <summary>Parses PAX records into <paramref name="result"/> (a later record of a key replaces an earlier one).</summary>
        private static void ParsePax(byte[] data, long headerOffset, Dictionary<string, string> result)
        {
            int pos = 0;
            while (pos < data.Length)
            {
                if (data[pos] == 0)
                {
                    break; // trailing NUL padding written by some tars
                }

                int len = 0;
                int p = pos;
                while (p < data.Length && data[p] >= (byte)'0' && data[p] <= (byte)'9')
                {
                    len = checked((len * 10) + (data[p] - '0'));
                    if (len > data.Length)
                    {
                        break;
                    }

                    p++;
                }

                if (p == pos || p >= data.Length || data[p] != (byte)' ' || len <= (p - pos) + 1 || pos + len > data.Length || data[pos + len - 1] != (byte)'\n')
                {
                    throw new ArchiveCorruptException($"tar: malformed PAX extended header at offset {headerOffset}.");
                }

                int recStart = p + 1;
                int recEnd = pos + len - 1; // excludes '\n'
                int eq = Array.IndexOf(data, (byte)'=', recStart, recEnd - recStart);
                if (eq < 0)
                {
                    throw new ArchiveCorruptException($"tar: malformed PAX record (no '=') at offset {headerOffset}.");
                }

                string key = Decode(data, recStart, eq - recStart, headerOffset);
                string value = Decode(data, eq + 1, recEnd - eq - 1, headerOffset);
                result[key] = value;
                pos += len;
            }
        }

        private TarReaderEntry BuildEntry(char type, long size, long headerOffset, Dictionary<string, string>? pax, string? longName, string? longLink)
        {
            bool posixUstar = _header[257] == (byte)'u' && _header[258] == (byte)'s' && _header[259] == (byte)'t' && _header[260] == (byte)'a' && _header[261] == (byte)'r' && _header[262] == 0;
            string name = CString(0, 100, headerOffset);
            if (posixUstar)
            {
                string prefix = CString(345, 155, headerOffset);
                if (prefix.Length > 0)
                {
                    name = prefix + "/" + name;
                }
            }

            string link = CString(157, 100, headerOffset);
            int mode = (int)(ParseNumber(100, 8, "mode", headerOffset) & 0xFFF);
            long uid = ParseNumber(108, 8, "uid", headerOffset);
            long gid = ParseNumber(116, 8, "gid", headerOffset);
            long mtime = ParseNumber(136, 12, "mtime", headerOffset);
            int nanos = 0;

            if (longName != null)
            {
                name = longName;
            }

            if (longLink != null)
            {
                link = longLink;
            }

            string? v;
            if (TryPax(pax, "path", out v))
            {
                name = v!;
            }

            if (TryPax(pax, "linkpath", out v))
            {
                link = v!;
            }

            if (TryPax(pax, "uid", out v))
            {
                uid = ParsePaxInteger(v!, "uid", headerOffset);
            }

            if (TryPax(pax, "gid", out v))
            {
                gid = ParsePaxInteger(v!, "gid", headerOffset);
            }

            if (TryPax(pax, "mtime", out v))
            {
                ParsePaxTime(v!, headerOffset, out mtime, out nanos);
            }

            TarEntryKind kind;
            switch (type)
            {
                case '0':
                case '\0':
                case '7':
                    kind = TarEntryKind.File;
                    break;
                case '1':
                    kind = TarEntryKind.HardLink;
                    break;
                case '2':
                    kind = TarEntryKind.SymbolicLink;
                    break;
                case '3':
                    kind = TarEntryKind.CharacterDevice;
                    break;
                case '4':
                    kind = TarEntryKind.BlockDevice;
                    break;
                case '5':
                    kind = TarEntryKind.Directory;
                    break;
                case '6':
                    kind = TarEntryKind.Fifo;
                    break;
                default:
                    kind = TarEntryKind.Unsupported;
                    break;
            }

            // Old (pre-POSIX) tars mark directories with a regular type and a trailing slash.
            if (kind == TarEntryKind.File && type == '\0' && name.EndsWith("/", StringComparison.Ordinal))
            {
                kind = TarEntryKind.Directory;
            }

            if (pax != null)
            {
                foreach (var key in pax.Keys)
                {
                    if (key.StartsWith("GNU.sparse.", StringComparison.Ordinal))
                    {
                        kind = TarEntryKind.Unsupported;
                    }
                }
            }

            if (name.Length == 0)
            {
                throw new ArchiveCorruptException($"tar: member at offset {headerOffset} has an empty name.");
            }

            return new TarReaderEntry(name, kind, type, kind == TarEntryKind.File || kind == TarEntryKind.Unsupported ? size : 0, mode, uid, gid, mtime, nanos, link.Length == 0 ? null : link, headerOffset);

            bool TryPax(Dictionary<string, string>? local, string key, out string? value)
            {
                if (local != null && local.TryGetValue(key, out value))
                {
                    return true;
                }

                return _global.TryGetValue(key, out value) && key != "path" && key != "linkpath";
            }
        }

        private byte[] ReadExtension(long size, char type, long headerOffset)
        {
            if (size > MaxExtensionHeaderBytes)
            {
                throw new UnsafeArchiveException($"tar: extension header ('{type}') at offset {headerOffset} is {size} bytes, more than the {MaxExtensionHeaderBytes} allowed.", (string?)null);
            }

            var data = new byte[size];
            if (ReadFully(data, 0, (int)size) < size)
            {
                throw new ArchiveCorruptException($"tar: the archive ends inside an extension header at offset {headerOffset}: it is truncated.");
            }

            SkipBytes(Pad(size), headerOffset);
            return data;
        }

        private string CString(int index, int length, long headerOffset)
        {
            int end = index;
            while (end < index + length && _header[end] != 0)
            {
                end++;
            }

            return Decode(_header, index, end - index, headerOffset);
        }

        private long ParseNumber(int index, int length, string field, long headerOffset)
        {
            byte first = _header[index];
            if ((first & 0x80) != 0)
            {
                // GNU base-256: big-endian two's complement; 0x80 positive, 0xFF negative.
                bool negative = (first & 0x40) != 0;
                long v = negative ? -1 : 0;
                int start = index;
                v = (v << 6) | (long)(first & 0x3F);
                for (int i = start + 1; i < index + length; i++)
                {
                    if (!negative && v > (long.MaxValue >> 8))
                    {
                        throw new UnsafeArchiveException($"tar: the {field} field at offset {headerOffset} is too large.", (string?)null);
                    }

                    if (negative && v < (long.MinValue >> 8))
                    {
                        throw new UnsafeArchiveException($"tar: the {field} field at offset {headerOffset} is too small.", (string?)null);
                    }

                    v = (v << 8) | _header[i];
                }

                return v;
            }

            long value = 0;
            int p = index;
            int end = index + length;
            while (p < end && (_header[p] == (byte)' ' || _header[p] == 0))
            {
                p++;
            }

            bool any = false;
            for (; p < end; p++)
            {
                byte c = _header[p];
                if (c == 0 || c == (byte)' ')
                {
                    break;
                }

                if (c < (byte)'0' || c > (byte)'7')
                {
                    throw new ArchiveCorruptException($"tar: the {field} field at offset {headerOffset} is not an octal number: the archive is corrupt.");
                }

                if (value > (long.MaxValue >> 3))
                {
                    throw new UnsafeArchiveException($"tar: the {field} field at offset {headerOffset} is too large.", (string?)null);
                }

                value = (value << 3) | (long)(c - '0');
                any = true;
            }

            return any ? value : 0;
        }

        private void ValidateChecksum(long headerOffset)
        {
            long stored = ParseNumber(148, 8, "checksum", headerOffset);
            long unsignedSum = 0;
            long signedSum = 0;
            for (int i = 0; i < Block; i++)
            {
                byte b = i >= 148 && i < 156 ? (byte)' ' : _header[i];
                unsignedSum += b;
                signedSum += (sbyte)b;
            }

            if (stored != unsignedSum && stored != signedSum)
            {
                throw new ArchiveCorruptException($"tar: header checksum mismatch at offset {headerOffset} (stored {stored}, computed {unsignedSum}): the archive is corrupt or not a tar archive.");
            }
        }

        private void SkipRemainder()
        {
            if (_current is null)
            {
                return;
            }

            var name = _current.Name;
            var buf = new byte[Math.Min(64 * 1024, Math.Max(_remaining, 1))];
            while (_remaining > 0)
            {
                int n = _input.Read(buf, 0, (int)Math.Min(buf.Length, _remaining));
                if (n <= 0)
                {
                    throw new ArchiveCorruptException($"tar: the archive ends inside the content of '{name}': it is truncated.", name);
                }

                _remaining -= n;
                _offset += n;
            }

            SkipBytes(_padding, _current.HeaderOffset);
            _padding = 0;
            _current = null;
        }

        private void SkipBytes(long count, long headerOffset)
        {
            if (count == 0)
            {
                return;
            }

            var buf = new byte[count];
            if (ReadFully(buf, 0, (int)count) < count)
            {
                throw new ArchiveCorruptException($"tar: the archive ends inside the padding of the member at offset {headerOffset}: it is truncated.");
            }
        }

        private int ReadFully(byte[] buffer, int offset, int count)
        {
            int total = 0;
            while (total < count)
            {
                int n = _input.Read(buffer, offset + total, count - total);
                if (n <= 0)
                {
                    break;
                }

                total += n;
            }

            _offset += total;
            return total;
        }
    }
}
