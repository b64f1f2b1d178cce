using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using Amazon.S3.Model;

namespace CcieDr.Engine.Archive.Storage
{
    /// <summary>An archive opened for streaming: a local file or an S3 object (GetObject, no scratch copy).</summary>
    public sealed class DataRestoreSource : IDisposable
    {
        private readonly IDisposable? _owner;
        private CancellationTokenRegistration _registration;

        private DataRestoreSource(string location, Stream stream, long? length, IDisposable? owner)
        {
            Location = location;
            Stream = stream;
            Length = length;
            _owner = owner;
        }

        /// <summary>The source as given (path or s3://bucket/key).</summary>
        public string Location { get; }

        /// <summary>Compressed bytes, read sequentially.</summary>
        public Stream Stream { get; }

        /// <summary>Size of the archive, when known.</summary>
        public long? Length { get; }

        /// <summary>Whether <paramref name="source"/> names an S3 object.</summary>
        public static bool IsS3(string source) => source != null && source.StartsWith("s3://", StringComparison.OrdinalIgnoreCase);

        /// <summary>Splits s3://bucket/key.</summary>
        /// <exception cref="ArgumentException">Not a valid s3:// URI naming an object.</exception>
        public static void ParseS3(string source, out string bucket, out string key)
        {
            if (!IsS3(source))
            {
                throw new ArgumentException($"'{source}' is not an s3:// URI.", nameof(source));
            }

            string rest = source.Substring(5);
            int slash = rest.IndexOf('/');
            if (slash <= 0 || slash == rest.Length - 1 || rest.EndsWith("/", StringComparison.Ordinal))
            {
                throw new ArgumentException($"'{source}' does not name an object: use s3://bucket/key (for example s3://backups/circleci/circleci-data-export.tar.bz2).", nameof(source));
            }

            bucket = rest.Substring(0, slash);
            key = rest.Substring(slash + 1);
        }

        /// <summary>Opens a local file or an S3 object for reading.</summary>
        /// <exception cref="CcieException">A local archive does not exist (ArchiveNotFound).</exception>
        public static async Task<DataRestoreSource> OpenAsync(string source, IAmazonS3? s3, CancellationToken cancellationToken)
        {
            if (string.IsNullOrEmpty(source))
            {
                throw new ArgumentException("A source archive is required.", nameof(source));
            }

            if (IsS3(source))
            {
                ParseS3(source, out var bucket, out var key);
                if (s3 is null)
                {
                    throw new ArgumentException("An S3 client is required for an s3:// source.", nameof(s3));
                }

                var response = await s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key }, cancellationToken).ConfigureAwait(false);
                var opened = new DataRestoreSource(source, response.ResponseStream, response.ContentLength, response);

                // The body is read synchronously on a worker thread: cancelling closes it so a stalled read ends.
                opened._registration = cancellationToken.Register(() => response.Dispose());
                return opened;
            }

            var full = Path.GetFullPath(source);
            if (!File.Exists(full))
            {
                throw new CcieException("ArchiveNotFound", CcieErrorCategory.ObjectNotFound, $"The archive '{full}' does not exist.", full);
            }

            var fs = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            return new DataRestoreSource(source, fs, fs.Length, null);
        }

        /// <inheritdoc/>
        public void Dispose()
        {
            _registration.Dispose();
            Stream.Dispose();
            _owner?.Dispose();
        }
    }
}
