using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using Amazon.S3.Model;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Zstd;
using CcieDr.Engine.Aws;
using ICSharpCode.SharpZipLib.BZip2;

namespace CcieDr.Engine.Archive.Storage
{
    /// <summary>One data archive found by <see cref="DataBackupCatalog"/>.</summary>
    public sealed class DataBackupArchiveInfo
    {
        internal DataBackupArchiveInfo(string name, string location, long size, DateTimeOffset created, DateTimeOffset lastModified, bool hasManifest, ArchiveManifest? manifest, string? bucketName, string? key)
        {
            Name = name;
            Location = location;
            Size = size;
            Created = created;
            LastModified = lastModified;
            HasManifest = hasManifest;
            Manifest = manifest;
            BucketName = bucketName;
            Key = key;
        }

        /// <summary>File or object name.</summary>
        public string Name { get; }

        /// <summary>Full path or s3://bucket/key.</summary>
        public string Location { get; }

        /// <summary>Size in bytes.</summary>
        public long Size { get; }

        /// <summary>When the backup was taken: from the manifest, else the timestamp in the name, else the last write time.</summary>
        public DateTimeOffset Created { get; }

        /// <summary>Last write time of the file or object.</summary>
        public DateTimeOffset LastModified { get; }

        /// <summary>True when the archive ends with a CcieDr manifest (a complete CcieDr archive).</summary>
        public bool HasManifest { get; }

        /// <summary>The manifest when it was read (local archives and S3 archives without CcieDr metadata).</summary>
        public ArchiveManifest? Manifest { get; }

        /// <summary>S3 bucket, for S3 archives.</summary>
        public string? BucketName { get; }

        /// <summary>S3 key, for S3 archives.</summary>
        public string? Key { get; }

        /// <summary>bzip2 or zstd, read from the archive's first bytes (not its name); null when neither (empty, damaged).</summary>
        public CompressionKind? Compression { get; internal set; }
    }

    /// <summary>Lists and removes data archives (circleci-data-export*.tar.bz2 and .tar.zst, either compression recognised by content) in a directory or an S3 prefix.</summary>
    public sealed class DataBackupCatalog
    {
        private const int InitialTail = 4 * 1024 * 1024;
        private const int MaxTail = 64 * 1024 * 1024;
        private static readonly Regex ArchiveName = new Regex(@"^circleci-data-export(-(?<ts>\d{8}T\d{6}Z))?\.tar\.(bz2|zst)$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        private static readonly byte[] ManifestName = Encoding.ASCII.GetBytes(ArchiveManifest.MemberPath + "\0");
        private readonly IAmazonS3? _s3;

        /// <summary>Creates the catalog; <paramref name="s3"/> is needed for s3:// locations only.</summary>
        public DataBackupCatalog(IAmazonS3? s3 = null)
        {
            _s3 = s3;
        }

        /// <summary>True for names this catalog considers archives.</summary>
        public static bool IsArchiveName(string name) => ArchiveName.IsMatch(name ?? string.Empty);

        /// <summary>Lists the archives in <paramref name="location"/> (a directory or s3://bucket/prefix/), newest first.</summary>
        public async Task<IReadOnlyList<DataBackupArchiveInfo>> ListAsync(string location, CancellationToken cancellationToken = default)
        {
            if (S3UploadLocation.IsS3Uri(location))
            {
                return await ListS3Async(S3UploadLocation.Parse(location), cancellationToken).ConfigureAwait(false);
            }

            var dir = Path.GetFullPath(location);
            if (File.Exists(dir))
            {
                return new[] { DescribeLocal(new FileInfo(dir), cancellationToken) };
            }

            if (!Directory.Exists(dir))
            {
                throw new DirectoryNotFoundException($"The backup directory '{dir}' does not exist.");
            }

            var result = new List<DataBackupArchiveInfo>();
            foreach (var f in new DirectoryInfo(dir).EnumerateFiles())
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (IsArchiveName(f.Name))
                {
                    result.Add(DescribeLocal(f, cancellationToken));
                }
            }

            return result.OrderByDescending(a => a.Created).ThenByDescending(a => a.Name, StringComparer.Ordinal).ToList();
        }

        /// <summary>Deletes one archive (and its test record). S3 failures are <see cref="CcieException"/>s naming s3:DeleteObject.</summary>
        public async Task RemoveAsync(DataBackupArchiveInfo archive, CancellationToken cancellationToken = default)
        {
            if (archive is null)
            {
                throw new ArgumentNullException(nameof(archive));
            }

            if (archive.BucketName != null)
            {
                // The record first: were the archive deleted and the record's delete to fail, the record would stay
                // behind with nothing listing it; this way a failure leaves the archive, and a rerun removes both.
                var s3 = RequireS3();
                await BackupTestRecord.RemoveAsync(archive, s3, cancellationToken).ConfigureAwait(false);
                await AwsCall.RunAsync("s3:DeleteObject", archive.Location, t => s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = archive.BucketName, Key = archive.Key }, t), cancellationToken).ConfigureAwait(false);
                return;
            }

            File.Delete(archive.Location);
            await BackupTestRecord.RemoveAsync(archive, null, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Finds and parses the manifest at the end of a bzip2 tar from the last bytes of the file: the archive is a
        /// series of independent bzip2 streams, so the last ones can be decompressed on their own. Returns null when
        /// the tail holds no CcieDr manifest (a GNU tar archive, a truncated file).
        /// </summary>
        public static ArchiveManifest? TryReadManifestFromTail(byte[] tail, out bool manifestHeaderFound)
        {
            manifestHeaderFound = false;
            if (tail is null || tail.Length < 14)
            {
                return null;
            }

            // zstd: CcieDr puts the manifest in a frame of its own; decode the last frames.
            var zstdTail = ZstdTail.Decode(tail, d => FindManifestHeader(d) >= 0);
            if (zstdTail != null)
            {
                manifestHeaderFound = true;
                return ParseManifestAt(zstdTail, FindManifestHeader(zstdTail));
            }

            // Walk stream starts backwards ("BZh1-9" + block magic or end-of-stream magic); a candidate that does not
            // decompress was a false match inside compressed data.
            var decoded = new List<byte[]>();
            var next = tail.Length;
            long total = 0;
            for (var i = tail.Length - 10; i >= 0; i--)
            {
                if (!IsStreamStart(tail, i))
                {
                    continue;
                }

                var slice = Decompress(tail, i, next - i);
                if (slice is null)
                {
                    continue;
                }

                decoded.Insert(0, slice);
                total += slice.Length;
                next = i;
                var joined = Join(decoded, total);
                var pos = FindManifestHeader(joined);
                if (pos >= 0)
                {
                    manifestHeaderFound = true;
                    var size = ParseOctal(joined, pos + 124, 12);
                    if (size < 0 || pos + 512 + size > joined.Length)
                    {
                        return null;
                    }

                    var body = new byte[size];
                    Buffer.BlockCopy(joined, pos + 512, body, 0, (int)size);
                    try
                    {
                        return ArchiveManifest.Parse(body);
                    }
                    catch (FormatException)
                    {
                        return null;
                    }
                }
            }

            return null;
        }

        private static ArchiveManifest? ParseManifestAt(byte[] joined, int pos)
        {
            var size = ParseOctal(joined, pos + 124, 12);
            if (size < 0 || pos + 512 + size > joined.Length)
            {
                return null;
            }

            var body = new byte[size];
            Buffer.BlockCopy(joined, pos + 512, body, 0, (int)size);
            try
            {
                return ArchiveManifest.Parse(body);
            }
            catch (FormatException)
            {
                return null;
            }
        }

        private static CompressionKind? KindOf(byte[] head, int count) => ArchiveFormatDetector.Identify(head, count);

        private static DataBackupArchiveInfo DescribeLocal(FileInfo f, CancellationToken cancellationToken)
        {
            ArchiveManifest? manifest = null;
            var found = false;
            CompressionKind? kind;
            using (var fs = new FileStream(f.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                var head = new byte[4];
                var got = 0;
                int r;
                while (got < head.Length && (r = fs.Read(head, got, head.Length - got)) > 0)
                {
                    got += r;
                }

                kind = KindOf(head, got);
                for (long want = InitialTail; ; want *= 4)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var n = (int)Math.Min(fs.Length, want);
                    var tail = new byte[n];
                    fs.Position = fs.Length - n;
                    ReadExactly(fs, tail);
                    manifest = TryReadManifestFromTail(tail, out found);
                    if (manifest != null || found || n == fs.Length || want >= MaxTail)
                    {
                        break;
                    }
                }
            }

            var modified = new DateTimeOffset(f.LastWriteTimeUtc, TimeSpan.Zero);
            return new DataBackupArchiveInfo(f.Name, f.FullName, f.Length, CreatedOf(f.Name, manifest, modified), modified, manifest != null, manifest, null, null) { Compression = kind };
        }

        private async Task<IReadOnlyList<DataBackupArchiveInfo>> ListS3Async(S3UploadLocation loc, CancellationToken cancellationToken)
        {
            var s3 = RequireS3();
            var result = new List<DataBackupArchiveInfo>();
            var objects = await AwsPager.AllAsync(
                new ListObjectsV2Request { BucketName = loc.BucketName, Prefix = loc.Prefix, Delimiter = "/" },
                s3.ListObjectsV2Async,
                page => page.S3Objects,
                page => page.IsTruncated == true ? page.NextContinuationToken : null,
                (request, token) => request.ContinuationToken = token,
                cancellationToken).ConfigureAwait(false);
            foreach (var o in objects)
            {
                var name = o.Key.Substring(loc.Prefix.Length);
                if (!IsArchiveName(name))
                {
                    continue;
                }

                var size = o.Size ?? 0;
                var modified = o.LastModified.HasValue ? new DateTimeOffset(o.LastModified.Value.ToUniversalTime(), TimeSpan.Zero) : DateTimeOffset.MinValue;
                var head = await s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = loc.BucketName, Key = o.Key }, cancellationToken).ConfigureAwait(false);
                ArchiveManifest? manifest = null;
                var hasManifest = string.Equals(head.Metadata["ccie-manifest"], "yes", StringComparison.OrdinalIgnoreCase);
                if (!hasManifest && size > 0)
                {
                    // Not uploaded by CcieDr (or metadata lost in a copy): look at the end of the object itself.
                    var n = Math.Min(size, InitialTail);
                    using var tailResponse = await s3.GetObjectAsync(new GetObjectRequest { BucketName = loc.BucketName, Key = o.Key, ByteRange = new ByteRange(size - n, size - 1) }, cancellationToken).ConfigureAwait(false);
                    using var ms = new MemoryStream();
                    await tailResponse.ResponseStream.CopyToAsync(ms, 81920, cancellationToken).ConfigureAwait(false);
                    manifest = TryReadManifestFromTail(ms.ToArray(), out _);
                    hasManifest = manifest != null;
                }

                DateTimeOffset? createdMeta = null;
                var createdText = head.Metadata["ccie-created"];
                if (!string.IsNullOrEmpty(createdText) && DateTimeOffset.TryParse(createdText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var c))
                {
                    createdMeta = c;
                }

                // The compression by content: the object's first bytes (its name may say otherwise).
                CompressionKind? kind = null;
                if (size >= 4)
                {
                    using var headResponse = await s3.GetObjectAsync(new GetObjectRequest { BucketName = loc.BucketName, Key = o.Key, ByteRange = new ByteRange(0, 3) }, cancellationToken).ConfigureAwait(false);
                    using var hs = new MemoryStream();
                    await headResponse.ResponseStream.CopyToAsync(hs, 81920, cancellationToken).ConfigureAwait(false);
                    kind = KindOf(hs.ToArray(), (int)hs.Length);
                }

                result.Add(new DataBackupArchiveInfo(name, loc.UriFor(o.Key), size, createdMeta ?? CreatedOf(name, manifest, modified), modified, hasManifest, manifest, loc.BucketName, o.Key) { Compression = kind });
            }

            return result.OrderByDescending(a => a.Created).ThenByDescending(a => a.Name, StringComparer.Ordinal).ToList();
        }

        private IAmazonS3 RequireS3() => _s3 ?? throw new InvalidOperationException("An S3 location needs an S3 client.");

        private static DateTimeOffset CreatedOf(string name, ArchiveManifest? manifest, DateTimeOffset modified)
        {
            if (manifest != null && manifest.Created != default)
            {
                return manifest.Created;
            }

            var m = ArchiveName.Match(name);
            if (m.Success && m.Groups["ts"].Success
                && DateTimeOffset.TryParseExact(m.Groups["ts"].Value, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var ts))
            {
                return ts;
            }

            return modified;
        }

        private static bool IsStreamStart(byte[] b, int i) =>
            b[i] == (byte)'B' && b[i + 1] == (byte)'Z' && b[i + 2] == (byte)'h' && b[i + 3] >= (byte)'1' && b[i + 3] <= (byte)'9'
            && ((b[i + 4] == 0x31 && b[i + 5] == 0x41 && b[i + 6] == 0x59 && b[i + 7] == 0x26 && b[i + 8] == 0x53 && b[i + 9] == 0x59)
                || (b[i + 4] == 0x17 && b[i + 5] == 0x72 && b[i + 6] == 0x45 && b[i + 7] == 0x38 && b[i + 8] == 0x50 && b[i + 9] == 0x90));

        private static byte[]? Decompress(byte[] data, int offset, int count)
        {
            try
            {
                using var input = new MemoryStream(data, offset, count, writable: false);
                using var bz = new BZip2InputStream(input);
                using var output = new MemoryStream();
                bz.CopyTo(output);

                // Exactly one stream must fill the slice (else the candidate was not a real boundary).
                return input.Position == input.Length ? output.ToArray() : null;
            }
#pragma warning disable CA1031 // Any decoding failure means "not a stream start".
            catch (Exception)
#pragma warning restore CA1031
            {
                return null;
            }
        }

        private static byte[] Join(List<byte[]> parts, long total)
        {
            var r = new byte[total];
            var o = 0;
            foreach (var p in parts)
            {
                Buffer.BlockCopy(p, 0, r, o, p.Length);
                o += p.Length;
            }

            return r;
        }

        private static int FindManifestHeader(byte[] d)
        {
            for (var i = d.Length - 512; i >= 0; i--)
            {
                if (d[i] != (byte)'.' || d[i + 257] != (byte)'u')
                {
                    continue;
                }

                var match = true;
                for (var k = 0; k < ManifestName.Length && match; k++)
                {
                    match = d[i + k] == ManifestName[k];
                }

                if (match && Encoding.ASCII.GetString(d, i + 257, 5) == "ustar" && d[i + 156] == (byte)'0' && ChecksumOk(d, i))
                {
                    return i;
                }
            }

            return -1;
        }

        private static bool ChecksumOk(byte[] d, int i)
        {
            var sum = 0;
            for (var k = 0; k < 512; k++)
            {
                sum += k >= 148 && k < 156 ? ' ' : d[i + k];
            }

            return ParseOctal(d, i + 148, 8) == sum;
        }

        private static long ParseOctal(byte[] d, int offset, int length)
        {
            long v = 0;
            var any = false;
            for (var k = 0; k < length; k++)
            {
                var c = d[offset + k];
                if (c == 0 || c == (byte)' ')
                {
                    if (any)
                    {
                        break;
                    }

                    continue;
                }

                if (c < (byte)'0' || c > (byte)'7')
                {
                    return -1;
                }

                v = (v * 8) + (c - '0');
                any = true;
            }

            return any ? v : -1;
        }

        private static void ReadExactly(Stream s, byte[] buffer)
        {
            var o = 0;
            while (o < buffer.Length)
            {
                var n = s.Read(buffer, o, buffer.Length - o);
                if (n <= 0)
                {
                    throw new EndOfStreamException();
                }

                o += n;
            }
        }
    }
}
