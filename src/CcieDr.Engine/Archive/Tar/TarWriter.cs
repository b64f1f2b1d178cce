using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using CcieDr.Engine.Archive.Common;

namespace CcieDr.Engine.Archive.Tar
{
    /// <summary>Metadata common to every tar member.</summary>
    public sealed class TarEntryMetadata
    {
        /// <summary>Permission bits (07777).</summary>
        public int Mode { get; set; } = 0x1A4;

        /// <summary>Owner uid.</summary>
        public long Uid { get; set; }

        /// <summary>Owner gid.</summary>
        public long Gid { get; set; }

        /// <summary>Owner name, when known.</summary>
        public string? UserName { get; set; }

        /// <summary>Group name, when known.</summary>
        public string? GroupName { get; set; }

        /// <summary>Modification time: whole seconds since the Unix epoch.</summary>
        public long MtimeSeconds { get; set; }

        /// <summary>Modification time: nanoseconds (0..999999999).</summary>
        public int MtimeNanoseconds { get; set; }

        /// <summary>Modification time as fractional seconds.</summary>
        public double Mtime => MtimeSeconds + (MtimeNanoseconds / 1e9);
    }

    /// <summary>What <see cref="TarWriter.WriteFile"/> stored for one file.</summary>
    public sealed class TarFileWriteResult
    {
        internal TarFileWriteResult(long declaredSize, long bytesFromSource, bool sourceHadMore, string sha256)
        {
            DeclaredSize = declaredSize;
            BytesFromSource = bytesFromSource;
            SourceHadMore = sourceHadMore;
            Sha256 = sha256;
        }

        /// <summary>Size in the header (what the archive holds).</summary>
        public long DeclaredSize { get; }

        /// <summary>Bytes actually read from the source (less than <see cref="DeclaredSize"/> when it shrank: the rest is zeros).</summary>
        public long BytesFromSource { get; }

        /// <summary>True when the source had more bytes than declared (it grew: the rest was not stored).</summary>
        public bool SourceHadMore { get; }

        /// <summary>True when the file shrank while being read and the member was padded with zeros.</summary>
        public bool Padded => BytesFromSource < DeclaredSize;

        /// <summary>Lowercase hex SHA-256 of the stored content.</summary>
        public string Sha256 { get; }
    }

    /// <summary>
    /// Streaming POSIX tar writer (ustar headers, PAX extended headers where ustar cannot hold a value:
    /// long or non-ASCII paths and link names, sizes of 8 GiB and more, sub-second mtimes, large ids, long
    /// owner names). Output is readable by GNU tar, bsdtar and every PAX-aware reader. The header size is
    /// authoritative: file content is padded with zeros or truncated to it.
    /// </summary>
    public sealed class TarWriter : IDisposable
    {
        /// <summary>Tar block size.</summary>
        public const int BlockSize = 512;

        /// <summary>Tar record size (blocking factor 20), the size GNU tar pads its archives to.</summary>
        public const int RecordSize = 10240;

        private const long MaxOctal7 = 2097151; // 07777777
        private const long MaxOctal11 = 8589934591; // 077777777777

        private readonly Stream _output;
        private readonly bool _leaveOpen;
        private readonly byte[] _header = new byte[BlockSize];
        private readonly byte[] _copyBuffer;
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly List<KeyValuePair<string, string>> _pax = new List<KeyValuePair<string, string>>(); // cleared a member
        private readonly MemoryStream _paxBody = new MemoryStream();
        private string? _lastUserName;
        private byte[] _lastUserNameBytes = Array.Empty<byte>();
        private string? _lastGroupName;
        private byte[] _lastGroupNameBytes = Array.Empty<byte>();
        private bool _finished;
        private bool _hashDirty;

        /// <summary>Creates a writer over <paramref name="output"/>.</summary>
        public TarWriter(Stream output, bool leaveOpen = false, int copyBufferSize = 256 * 1024)
        {
            _output = output ?? throw new ArgumentNullException(nameof(output));
            _leaveOpen = leaveOpen;
            _copyBuffer = new byte[Math.Max(BlockSize, copyBufferSize - (copyBufferSize % BlockSize))];
        }

        /// <summary>Bytes written so far.</summary>
        public long Position { get; private set; }

        /// <summary>Store sub-second modification times in PAX headers (default true).</summary>
        public bool SubsecondMtime { get; set; } = true;

        /// <summary>Writes a directory member; <paramref name="path"/> gets a trailing '/'.</summary>
        public void WriteDirectory(string path, TarEntryMetadata meta)
        {
            if (!path.EndsWith("/", StringComparison.Ordinal))
            {
                path += "/";
            }

            WriteHeader(path, '5', 0, null, meta);
        }

        /// <summary>Writes a symbolic link member.</summary>
        public void WriteSymlink(string path, string target, TarEntryMetadata meta) => WriteHeader(path, '2', 0, target ?? throw new ArgumentNullException(nameof(target)), meta);

        /// <summary>Writes a hard link member pointing at an earlier member <paramref name="target"/>.</summary>
        public void WriteHardLink(string path, string target, TarEntryMetadata meta) => WriteHeader(path, '1', 0, target ?? throw new ArgumentNullException(nameof(target)), meta);

        /// <summary>Writes a regular file member from a byte array.</summary>
        public TarFileWriteResult WriteFile(string path, TarEntryMetadata meta, byte[] content)
        {
            if (content is null)
            {
                throw new ArgumentNullException(nameof(content));
            }

            using var ms = new MemoryStream(content, false);
            return WriteFile(path, meta, content.LongLength, ms, null, CancellationToken.None);
        }

        /// <summary>
        /// Writes a regular file member of <paramref name="size"/> bytes read from <paramref name="source"/>.
        /// If the source ends early the rest is zeros; if it has more, the rest is not stored. Both are reported
        /// in the result so the caller can warn.
        /// </summary>
        public TarFileWriteResult WriteFile(string path, TarEntryMetadata meta, long size, Stream source, Action<int>? progress, CancellationToken cancellationToken)
        {
            if (source is null)
            {
                throw new ArgumentNullException(nameof(source));
            }

            if (size < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(size));
            }

            WriteHeader(path, '0', size, null, meta);
            var sha = _sha; // reused: one hash object per archive, not per file
            if (_hashDirty)
            {
                sha.GetHashAndReset(); // a previous member failed midway: discard its partial state
            }

            _hashDirty = true;
            long remaining = size;
            long fromSource = 0;
            var eof = false;
            var buf = _copyBuffer;
            while (remaining > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var want = (int)Math.Min(buf.Length, remaining);
                var got = 0;
                if (!eof)
                {
                    while (got < want)
                    {
                        var n = source.Read(buf, got, want - got);
                        if (n <= 0)
                        {
                            eof = true;
                            break;
                        }

                        got += n;
                    }

                    fromSource += got;
                    progress?.Invoke(got);
                }

                if (got < want)
                {
                    Array.Clear(buf, got, want - got);
                }

                sha.AppendData(buf, 0, want);
                Write(buf, 0, want);
                remaining -= want;
            }

            var hadMore = false;
            if (!eof)
            {
                hadMore = source.Read(buf, 0, 1) > 0;
            }

            var hash = sha.GetHashAndReset();
            _hashDirty = false;
            PadToBlock(size);
            return new TarFileWriteResult(size, fromSource, hadMore, ToHex(hash));
        }

        /// <summary>
        /// Writes a regular file member of exactly <paramref name="size"/> bytes that <paramref name="writeContent"/>
        /// writes to the stream it is given (for content produced on the fly, such as the manifest, without a copy in
        /// memory). Writing more or fewer bytes than declared throws: the member would corrupt the archive.
        /// </summary>
        public void WriteFile(string path, TarEntryMetadata meta, long size, Action<Stream> writeContent)
        {
            if (writeContent is null)
            {
                throw new ArgumentNullException(nameof(writeContent));
            }

            if (size < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(size));
            }

            WriteHeader(path, '0', size, null, meta);
            using var member = new MemberStream(this, size);
            writeContent(member);
            if (member.BytesWritten != size)
            {
                throw new InvalidOperationException($"Member '{path}' declared {size} bytes but {member.BytesWritten} were written.");
            }

            PadToBlock(size);
        }

        /// <summary>Writes the end-of-archive marker (two zero blocks) and pads to a full 10 KiB record.</summary>
        public void Finish()
        {
            if (_finished)
            {
                return;
            }

            _finished = true;
            var zeros = new byte[BlockSize * 2];
            Write(zeros, 0, zeros.Length);
            var rest = (int)((RecordSize - (Position % RecordSize)) % RecordSize);
            if (rest > 0)
            {
                Write(new byte[rest], 0, rest);
            }

            _output.Flush();
        }

        /// <inheritdoc/>
        public void Dispose()
        {
            _sha.Dispose();
            _paxBody.Dispose();
            if (!_leaveOpen)
            {
                _output.Dispose();
            }
        }

        internal static string ToHex(byte[] hash)
        {
            const string Digits = "0123456789abcdef";
            var chars = new char[hash.Length * 2];
            for (var i = 0; i < hash.Length; i++)
            {
                chars[2 * i] = Digits[hash[i] >> 4];
                chars[(2 * i) + 1] = Digits[hash[i] & 0xF];
            }

            return new string(chars);
        }

        private void WriteHeader(string path, char type, long size, string? linkName, TarEntryMetadata meta)
        {
            if (string.IsNullOrEmpty(path))
            {
                throw new ArgumentException("A tar member needs a path.", nameof(path));
            }

            if (meta is null)
            {
                throw new ArgumentNullException(nameof(meta));
            }

            if (_finished)
            {
                throw new InvalidOperationException("The archive is already finished.");
            }

            var pax = _pax;
            pax.Clear();
            var pathBytes = Encoding.UTF8.GetBytes(path);
            byte[] nameField;
            byte[] prefixField = Array.Empty<byte>();
            if (!IsAscii(path))
            {
                pax.Add(new KeyValuePair<string, string>("path", path));
                nameField = Truncate(pathBytes, 100);
            }
            else if (pathBytes.Length <= 100)
            {
                nameField = pathBytes;
            }
            else if (TrySplit(pathBytes, out var prefix, out var name))
            {
                prefixField = prefix;
                nameField = name;
            }
            else
            {
                pax.Add(new KeyValuePair<string, string>("path", path));
                nameField = Truncate(pathBytes, 100);
            }

            byte[] linkField = Array.Empty<byte>();
            if (linkName != null)
            {
                linkField = Encoding.UTF8.GetBytes(linkName);
                if (linkField.Length > 100 || !IsAscii(linkName))
                {
                    pax.Add(new KeyValuePair<string, string>("linkpath", linkName));
                    linkField = Truncate(linkField, 100);
                }
            }

            if (size > MaxOctal11)
            {
                pax.Add(new KeyValuePair<string, string>("size", size.ToString(CultureInfo.InvariantCulture)));
            }

            if (meta.Uid > MaxOctal7 || meta.Uid < 0)
            {
                pax.Add(new KeyValuePair<string, string>("uid", meta.Uid.ToString(CultureInfo.InvariantCulture)));
            }

            if (meta.Gid > MaxOctal7 || meta.Gid < 0)
            {
                pax.Add(new KeyValuePair<string, string>("gid", meta.Gid.ToString(CultureInfo.InvariantCulture)));
            }

            if ((SubsecondMtime && meta.MtimeNanoseconds != 0) || meta.MtimeSeconds < 0 || meta.MtimeSeconds > MaxOctal11)
            {
                pax.Add(new KeyValuePair<string, string>("mtime", FormatPaxTime(meta.MtimeSeconds, SubsecondMtime ? meta.MtimeNanoseconds : 0)));
            }

            var uname = NameBytes(meta.UserName, ref _lastUserName, ref _lastUserNameBytes);
            if (uname.Length > 31 || (meta.UserName != null && !IsAscii(meta.UserName)))
            {
                pax.Add(new KeyValuePair<string, string>("uname", meta.UserName!));
                uname = Array.Empty<byte>();
            }

            var gname = NameBytes(meta.GroupName, ref _lastGroupName, ref _lastGroupNameBytes);
            if (gname.Length > 31 || (meta.GroupName != null && !IsAscii(meta.GroupName)))
            {
                pax.Add(new KeyValuePair<string, string>("gname", meta.GroupName!));
                gname = Array.Empty<byte>();
            }

            if (pax.Count > 0)
            {
                WritePaxHeader(path, pax, meta);
            }

            BuildHeader(nameField, prefixField, type, size, linkField, meta, uname, gname);
            Write(_header, 0, BlockSize);
        }

        private void WritePaxHeader(string path, List<KeyValuePair<string, string>> records, TarEntryMetadata meta)
        {
            var body = _paxBody;
            body.SetLength(0);
            foreach (var kv in records)
            {
                var rec = Encoding.UTF8.GetBytes(" " + kv.Key + "=" + kv.Value + "\n");
                // The length prefix counts itself: find the fixed point.
                var len = rec.Length + 1;
                while (len.ToString(CultureInfo.InvariantCulture).Length + rec.Length != len)
                {
                    len = len.ToString(CultureInfo.InvariantCulture).Length + rec.Length;
                }

                var prefix = Encoding.ASCII.GetBytes(len.ToString(CultureInfo.InvariantCulture));
                body.Write(prefix, 0, prefix.Length);
                body.Write(rec, 0, rec.Length);
            }

            // Name of the extended header itself, in the spirit of POSIX's "%d/PaxHeaders.%p/%f".
            var baseName = path.TrimEnd('/');
            var slash = baseName.LastIndexOf('/');
            if (slash >= 0)
            {
                baseName = baseName.Substring(slash + 1);
            }

            var paxName = Truncate(Encoding.UTF8.GetBytes("PaxHeaders.0/" + ToAsciiSafe(baseName)), 100);
            var paxMeta = new TarEntryMetadata { Mode = 0x1A4, MtimeSeconds = Math.Max(0, Math.Min(MaxOctal11, meta.MtimeSeconds)) };
            var data = body.GetBuffer();
            var length = (int)body.Length;
            BuildHeader(paxName, Array.Empty<byte>(), 'x', length, Array.Empty<byte>(), paxMeta, Array.Empty<byte>(), Array.Empty<byte>());
            Write(_header, 0, BlockSize);
            Write(data, 0, length);
            PadToBlock(length);
        }

        // Owner and group names repeat member after member: their bytes are encoded once while the name stays the same.
        private static byte[] NameBytes(string? name, ref string? last, ref byte[] lastBytes)
        {
            if (name is null)
            {
                return Array.Empty<byte>();
            }

            if (!string.Equals(name, last, StringComparison.Ordinal))
            {
                lastBytes = Encoding.UTF8.GetBytes(name);
                last = name;
            }

            return lastBytes;
        }

        private void BuildHeader(byte[] name, byte[] prefix, char type, long size, byte[] linkName, TarEntryMetadata meta, byte[] uname, byte[] gname)
        {
            var h = _header;
            Array.Clear(h, 0, BlockSize);
            Buffer.BlockCopy(name, 0, h, 0, Math.Min(100, name.Length));
            WriteOctal(h, 100, 8, meta.Mode & 0xFFF);
            WriteNumber(h, 108, 8, meta.Uid < 0 ? 0 : meta.Uid);
            WriteNumber(h, 116, 8, meta.Gid < 0 ? 0 : meta.Gid);
            WriteNumber(h, 124, 12, size);
            WriteNumber(h, 136, 12, meta.MtimeSeconds < 0 ? 0 : meta.MtimeSeconds);
            h[156] = (byte)type;
            Buffer.BlockCopy(linkName, 0, h, 157, Math.Min(100, linkName.Length));
            h[257] = (byte)'u';
            h[258] = (byte)'s';
            h[259] = (byte)'t';
            h[260] = (byte)'a';
            h[261] = (byte)'r';
            h[262] = 0;
            h[263] = (byte)'0';
            h[264] = (byte)'0';
            Buffer.BlockCopy(uname, 0, h, 265, Math.Min(31, uname.Length));
            Buffer.BlockCopy(gname, 0, h, 297, Math.Min(31, gname.Length));
            WriteOctal(h, 329, 8, 0);
            WriteOctal(h, 337, 8, 0);
            Buffer.BlockCopy(prefix, 0, h, 345, Math.Min(155, prefix.Length));

            for (var i = 148; i < 156; i++)
            {
                h[i] = (byte)' ';
            }

            var sum = 0;
            for (var i = 0; i < BlockSize; i++)
            {
                sum += h[i];
            }

            // Six octal digits, NUL, space: the classic layout every reader accepts.
            var s = Convert.ToString(sum, 8).PadLeft(6, '0');
            for (var i = 0; i < 6; i++)
            {
                h[148 + i] = (byte)s[i];
            }

            h[154] = 0;
            h[155] = (byte)' ';
        }

        private static void WriteNumber(byte[] h, int offset, int length, long value)
        {
            var maxOctal = length == 8 ? MaxOctal7 : MaxOctal11;
            if (value <= maxOctal)
            {
                WriteOctal(h, offset, length, value);
                return;
            }

            // GNU base-256: high bit of the first byte set, big-endian two's complement value.
            h[offset] = 0x80;
            for (var i = length - 1; i > 0; i--)
            {
                h[offset + i] = (byte)(value & 0xFF);
                value >>= 8;
            }
        }

        private static void WriteOctal(byte[] h, int offset, int length, long value)
        {
            var s = Convert.ToString(value, 8).PadLeft(length - 1, '0');
            for (var i = 0; i < length - 1; i++)
            {
                h[offset + i] = (byte)s[i];
            }

            h[offset + length - 1] = 0;
        }

        private static bool TrySplit(byte[] path, out byte[] prefix, out byte[] name)
        {
            // The prefix is at most 155 bytes, the name at most 100 and not empty; split at a '/'.
            var trailing = path.Length > 0 && path[path.Length - 1] == (byte)'/' ? 1 : 0;
            for (var i = Math.Min(155, path.Length - 1 - trailing); i > 0; i--)
            {
                if (path[i] == (byte)'/' && path.Length - i - 1 <= 100 && path.Length - i - 1 > trailing)
                {
                    prefix = new byte[i];
                    Buffer.BlockCopy(path, 0, prefix, 0, i);
                    name = new byte[path.Length - i - 1];
                    Buffer.BlockCopy(path, i + 1, name, 0, name.Length);
                    return true;
                }
            }

            prefix = Array.Empty<byte>();
            name = Array.Empty<byte>();
            return false;
        }

        private static string FormatPaxTime(long seconds, int nanoseconds)
        {
            if (nanoseconds == 0)
            {
                return seconds.ToString(CultureInfo.InvariantCulture);
            }

            var frac = nanoseconds.ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0');
            if (seconds < 0)
            {
                // -1.25 means 1.25 s before the epoch: seconds = -2, nanoseconds = 750000000.
                var total = (-seconds * 1_000_000_000L) - nanoseconds;
                var whole = total / 1_000_000_000L;
                var ns = total % 1_000_000_000L;
                var f = ns.ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0');
                return "-" + whole.ToString(CultureInfo.InvariantCulture) + (f.Length > 0 ? "." + f : string.Empty);
            }

            return seconds.ToString(CultureInfo.InvariantCulture) + "." + frac;
        }

        private static bool IsAscii(string s)
        {
            foreach (var c in s)
            {
                if (c > 0x7E || c < 0x20)
                {
                    return false;
                }
            }

            return true;
        }

        private static string ToAsciiSafe(string s)
        {
            var sb = new StringBuilder(s.Length);
            foreach (var c in s)
            {
                sb.Append(c > 0x7E || c < 0x20 ? '_' : c);
            }

            return sb.ToString();
        }

        private static byte[] Truncate(byte[] b, int max)
        {
            if (b.Length <= max)
            {
                return b;
            }

            // Do not cut a UTF-8 sequence in half.
            var n = max;
            while (n > 0 && (b[n] & 0xC0) == 0x80)
            {
                n--;
            }

            var r = new byte[n];
            Buffer.BlockCopy(b, 0, r, 0, n);
            return r;
        }

        private void PadToBlock(long size)
        {
            var rest = (int)((BlockSize - (size % BlockSize)) % BlockSize);
            if (rest > 0)
            {
                Array.Clear(_header, 0, rest);
                Write(_header, 0, rest);
            }
        }

        private void Write(byte[] buffer, int offset, int count)
        {
            _output.Write(buffer, offset, count);
            Position += count;
        }
    
        /// <summary>The data area of one member: writes through to the archive and refuses to overrun the declared size.</summary>
        private sealed class MemberStream : WriteCountingStream
        {
            private readonly TarWriter _owner;
            private readonly long _size;

            public MemberStream(TarWriter owner, long size)
            {
                _owner = owner;
                _size = size;
            }

            protected override void WriteCore(byte[] buffer, int offset, int count)
            {
                if (BytesWritten + count > _size)
                {
                    throw new InvalidOperationException($"A tar member declared {_size} bytes; more were written.");
                }

                _owner.Write(buffer, offset, count);
            }
        }
    }
}
