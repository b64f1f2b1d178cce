using System;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using Amazon.S3.Model;
using CcieDr.Engine.Aws;

namespace CcieDr.Engine.Archive.Storage
{
    /// <summary>
    /// What Test-CcieBackup found, kept next to the archive so a recovery status needs no other store: a sidecar
    /// <c>&lt;archive&gt;.ccie-test.json</c> in the same directory, or the S3 object <c>&lt;key&gt;.ccie-test.json</c>
    /// beside it. The archive's size is part of the record: a record whose size differs from the archive's is stale
    /// (the archive was replaced) and is ignored.
    /// </summary>
    public sealed class BackupTestRecord
    {
        public const string Suffix = ".ccie-test.json";

        public string Archive { get; set; } = string.Empty;

        public DateTimeOffset TestedAt { get; set; }

        /// <summary>Passed, Failed or NoManifest (BackupVerdict).</summary>
        public string Verdict { get; set; } = string.Empty;

        public long Size { get; set; }

        public long Members { get; set; }

        public long Problems { get; set; }

        public double DurationSeconds { get; set; }

        /// <summary>True when the test proved the archive complete and matching its manifest.</summary>
        public bool Passed => string.Equals(Verdict, "Passed", StringComparison.Ordinal);

        public static string SidecarOf(string location) => location + Suffix;

        public static BackupTestRecord From(BackupVerification v, string archiveName, DateTimeOffset testedAt)
        {
            if (v is null)
            {
                throw new ArgumentNullException(nameof(v));
            }

            return new BackupTestRecord
            {
                Archive = archiveName,
                TestedAt = testedAt,
                Verdict = v.Verdict.ToString(),
                Size = v.CompressedBytes,
                Members = v.MemberCount,
                Problems = v.ProblemCount,
                DurationSeconds = Math.Round(v.Duration.TotalSeconds, 1),
            };
        }

        public string ToJson() => JsonSerializer.Serialize(new
        {
            archive = Archive,
            testedAt = TestedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            verdict = Verdict,
            size = Size,
            members = Members,
            problems = Problems,
            durationSeconds = DurationSeconds,
            tool = "CcieDr/Test-CcieBackup",
        });

        /// <summary>Parses a record; null when it is not one (a damaged or foreign file is no proof).</summary>
        public static BackupTestRecord? Parse(string json)
        {
            try
            {
                using JsonDocument d = JsonDocument.Parse(json);
                JsonElement r = d.RootElement;
                if (r.ValueKind != JsonValueKind.Object || !r.TryGetProperty("verdict", out JsonElement verdict) || !r.TryGetProperty("testedAt", out JsonElement at)
                    || !DateTimeOffset.TryParse(at.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset testedAt))
                {
                    return null;
                }

                return new BackupTestRecord
                {
                    Archive = r.TryGetProperty("archive", out JsonElement a) ? a.GetString() ?? string.Empty : string.Empty,
                    TestedAt = testedAt,
                    Verdict = verdict.GetString() ?? string.Empty,
                    Size = r.TryGetProperty("size", out JsonElement s) && s.TryGetInt64(out long size) ? size : -1,
                    Members = r.TryGetProperty("members", out JsonElement m) && m.TryGetInt64(out long members) ? members : 0,
                    Problems = r.TryGetProperty("problems", out JsonElement p) && p.TryGetInt64(out long problems) ? problems : 0,
                    DurationSeconds = r.TryGetProperty("durationSeconds", out JsonElement ds) && ds.TryGetDouble(out double sec) ? sec : 0,
                };
            }
            catch (JsonException)
            {
                return null;
            }
        }

        /// <summary>Writes the record next to the archive at <paramref name="location"/> (a path or s3://bucket/key).</summary>
        public async Task WriteAsync(string location, IAmazonS3? s3, CancellationToken ct)
        {
            string json = ToJson();
            if (S3UploadLocation.IsS3Uri(location))
            {
                // A plain signed body, not aws-chunked: S3-compatible stores that do not decode it would keep the chunk framing.
                (string bucket, string key) = S3Object(location);
                IAmazonS3 client = s3 ?? throw new InvalidOperationException("An S3 client is needed to record the test of an S3 archive.");
                await AwsCall.RunAsync("s3:PutObject", location + Suffix, t => client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key + Suffix, ContentBody = json, ContentType = "application/json", UseChunkEncoding = false }, t), ct).ConfigureAwait(false);
                return;
            }

            // Write a temp file beside it and rename over: a reader sees the old record or the new one, never half.
            string path = SidecarOf(location);
            string temp = path + ".tmp-" + Guid.NewGuid().ToString("n").Substring(0, 8);
            File.WriteAllText(temp, json, new UTF8Encoding(false));
            if (File.Exists(path))
            {
                File.Replace(temp, path, null);
            }
            else
            {
                File.Move(temp, path);
            }
        }

        /// <summary>The record of an archive, or null when it was never tested, the record is unreadable or stale (another size).</summary>
        public static async Task<BackupTestRecord?> ReadAsync(DataBackupArchiveInfo archive, IAmazonS3? s3, CancellationToken ct)
        {
            if (archive is null)
            {
                throw new ArgumentNullException(nameof(archive));
            }

            string? json;
            if (archive.BucketName is not null)
            {
                if (s3 is null)
                {
                    return null;
                }

                try
                {
                    using GetObjectResponse r = await s3.GetObjectAsync(new GetObjectRequest { BucketName = archive.BucketName, Key = archive.Key + Suffix }, ct).ConfigureAwait(false);
                    using var reader = new StreamReader(r.ResponseStream, Encoding.UTF8);
                    json = await reader.ReadToEndAsync().ConfigureAwait(false);
                }
                catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                    return null;
                }
            }
            else
            {
                string path = SidecarOf(archive.Location);
                if (!File.Exists(path))
                {
                    return null;
                }

                json = File.ReadAllText(path);
            }

            BackupTestRecord? record = Parse(json);
            return record is not null && record.Size == archive.Size ? record : null;
        }

        /// <summary>Removes the record of an archive (with the archive, by retention); absent is fine.</summary>
        public static async Task RemoveAsync(DataBackupArchiveInfo archive, IAmazonS3? s3, CancellationToken ct)
        {
            if (archive?.BucketName is not null)
            {
                if (s3 is not null)
                {
                    await AwsCall.RunAsync("s3:DeleteObject", archive.Location + Suffix, t => s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = archive.BucketName, Key = archive.Key + Suffix }, t), ct).ConfigureAwait(false);
                }

                return;
            }

            if (archive is not null)
            {
                File.Delete(SidecarOf(archive.Location));
            }
        }

        private static (string Bucket, string Key) S3Object(string uri)
        {
            string rest = uri.Substring("s3://".Length);
            int slash = rest.IndexOf('/');
            if (slash <= 0 || slash == rest.Length - 1)
            {
                throw new ArgumentException($"'{uri}' is not an S3 object (s3://bucket/key).", nameof(uri));
            }

            return (rest.Substring(0, slash), rest.Substring(slash + 1));
        }
    }
}
