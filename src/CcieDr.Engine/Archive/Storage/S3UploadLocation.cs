using System;

namespace CcieDr.Engine.Archive.Storage
{
    /// <summary>An "s3://bucket/prefix/" destination.</summary>
    public sealed class S3UploadLocation
    {
        private S3UploadLocation(string bucketName, string prefix)
        {
            BucketName = bucketName;
            Prefix = prefix;
        }

        /// <summary>Bucket.</summary>
        public string BucketName { get; }

        /// <summary>Key prefix: empty, or ending with '/'.</summary>
        public string Prefix { get; }

        /// <summary>True for strings starting with "s3://" (any case).</summary>
        public static bool IsS3Uri(string? value) => value != null && value.StartsWith("s3://", StringComparison.OrdinalIgnoreCase);

        /// <summary>
        /// Parses "s3://bucket", "s3://bucket/" or "s3://bucket/some/prefix[/]". The prefix is treated as a folder
        /// ('/' is appended when missing).
        /// </summary>
        /// <exception cref="FormatException">Not an s3:// URI with a valid bucket name.</exception>
        public static S3UploadLocation Parse(string value)
        {
            if (!IsS3Uri(value))
            {
                throw new FormatException($"'{value}' is not an s3://bucket/prefix/ URI.");
            }

            var rest = value.Substring(5);
            var slash = rest.IndexOf('/');
            var bucket = slash < 0 ? rest : rest.Substring(0, slash);
            var prefix = slash < 0 ? string.Empty : rest.Substring(slash + 1);
            if (bucket.Length < 3 || bucket.Length > 63 || !IsBucketName(bucket))
            {
                throw new FormatException($"'{value}' has no valid bucket name: use s3://bucket/prefix/ with a bucket name of 3-63 lowercase letters, digits, '.' or '-'.");
            }

            prefix = prefix.TrimStart('/');
            if (prefix.Length > 0 && !prefix.EndsWith("/", StringComparison.Ordinal))
            {
                prefix += "/";
            }

            if (prefix.IndexOf("//", StringComparison.Ordinal) >= 0)
            {
                throw new FormatException($"'{value}' has an empty folder name in its prefix.");
            }

            return new S3UploadLocation(bucket, prefix);
        }

        /// <summary>"s3://bucket/key".</summary>
        public string UriFor(string key) => "s3://" + BucketName + "/" + key;

        /// <inheritdoc/>
        public override string ToString() => "s3://" + BucketName + "/" + Prefix;

        private static bool IsBucketName(string s)
        {
            foreach (var c in s)
            {
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || (c >= 'A' && c <= 'Z')))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
