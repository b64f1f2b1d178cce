using System.Globalization;
using System.IO;
using System.Text;
using System;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Archive.Backup
{
    /// <summary>
    /// What a backup will do, decided once before it runs: where the archive goes (a directory or an
    /// s3:// prefix), its file name, and the steps an operator confirms or sees under -WhatIf. The same
    /// file name is then used by <see cref="DataBackup.RunAsync"/>, so what was confirmed is what is
    /// written. Bad destinations fail here, before any prompt, with a <see cref="CcieException"/>.
    /// </summary>
    public sealed class DataBackupPlan
    {
        private DataBackupPlan(DataBackupOptions options, string fileName, string location, S3UploadLocation? s3)
        {
            Options = options;
            FileName = fileName;
            Location = location;
            S3 = s3;
        }

        /// <summary>The options the plan was made from (its <see cref="DataBackupOptions.FileName"/> is set).</summary>
        public DataBackupOptions Options { get; }

        /// <summary>The archive's file name (circleci-data-export.tar.bz2, or timestamped).</summary>
        public string FileName { get; }

        /// <summary>Full path or s3:// URI of the archive.</summary>
        public string Location { get; }

        /// <summary>The parsed S3 destination, or null for a local directory.</summary>
        public S3UploadLocation? S3 { get; }

        /// <summary>True when the archive is uploaded to S3.</summary>
        public bool IsS3 => S3 != null;

        /// <summary>
        /// Validates the destination of <paramref name="options"/> and fixes the archive name for a backup
        /// started at <paramref name="now"/>. Local destinations must be full paths (resolve them first).
        /// </summary>
        /// <exception cref="CcieException">InvalidBackupDestination or KmsKeyIdNeedsS3.</exception>
        public static DataBackupPlan Create(DataBackupOptions options, DateTimeOffset now)
        {
            if (options is null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            string fileName = DataBackup.ArchiveFileName(now, options.TimestampedName, options.Compression);
            if (S3UploadLocation.IsS3Uri(options.Destination))
            {
                S3UploadLocation parsed;
                try
                {
                    parsed = S3UploadLocation.Parse(options.Destination);
                }
                catch (FormatException ex)
                {
                    throw new CcieException("InvalidBackupDestination", CcieErrorCategory.InvalidArgument, ex.Message, options.Destination, ex);
                }

                options.FileName = fileName;
                return new DataBackupPlan(options, fileName, parsed.UriFor(parsed.Prefix + fileName), parsed);
            }

            if (options.KmsKeyId != null)
            {
                throw new CcieException("KmsKeyIdNeedsS3", CcieErrorCategory.InvalidArgument, "-KmsKeyId applies to s3:// destinations only: local archives are not encrypted by CcieDr (they are created 0600).", options.KmsKeyId);
            }

            if (string.IsNullOrWhiteSpace(options.Destination))
            {
                throw new CcieException("InvalidBackupDestination", CcieErrorCategory.InvalidArgument, "A destination directory or s3://bucket/prefix/ is required.", options.Destination);
            }

            options.FileName = fileName;
            return new DataBackupPlan(options, fileName, Path.Combine(Path.GetFullPath(options.Destination), fileName), null);
        }

        /// <summary>
        /// The steps, one per line, for a confirmation prompt or -WhatIf. Hook commands may carry
        /// credentials: they are shown by length only unless <paramref name="showHookCommands"/> (-Verbose).
        /// </summary>
        public string Describe(bool showHookCommands)
        {
            var o = Options;
            var sb = new StringBuilder();
            if (o.PreBackupCommand != null)
            {
                sb.Append("  run the ").Append(HookLabel("pre-backup", o.PreBackupCommand, showHookCommands)).Append('\n');
            }

            sb.Append("  archive ").Append(o.SourcePath)
              .Append(" (tar, PAX, ").Append(o.Compression == CompressionKind.Zstd ? "multi-threaded zstd" : "parallel bzip2").Append(", manifest last)");
            if (o.Exclude.Count > 0)
            {
                sb.Append(" excluding ").Append(string.Join(", ", o.Exclude));
            }

            sb.Append('\n');
            if (IsS3)
            {
                sb.Append("  upload to ").Append(Location).Append(" (S3 multipart upload, server-side encryption ")
                  .Append(o.KmsKeyId != null ? "aws:kms " + o.KmsKeyId : "AES256").Append("; aborted on failure)\n");
            }
            else
            {
                sb.Append("  check free space in ").Append(Path.GetDirectoryName(Location))
                  .Append(", write a temporary file there and rename it to ").Append(FileName).Append('\n');
            }

            if (o.PostBackupCommand != null)
            {
                sb.Append("  run the ").Append(HookLabel("post-backup", o.PostBackupCommand, showHookCommands)).Append('\n');
            }

            return sb.ToString();
        }

        /// <summary>
        /// The operator-facing error for a failed backup: a stable id and category per failure kind, the
        /// archive location as the target. Messages carry no hook output beyond what the engine masked.
        /// </summary>
        public CcieException ToError(DataBackupException ex)
        {
            if (ex is null)
            {
                throw new ArgumentNullException(nameof(ex));
            }

            var (id, category, target) = ex.Kind switch
            {
                DataBackupErrorKind.InvalidDestination => ("InvalidBackupDestination", CcieErrorCategory.InvalidArgument, (object)Options.Destination),
                DataBackupErrorKind.SourceNotFound => ("DataDirectoryNotFound", CcieErrorCategory.ObjectNotFound, Location),
                DataBackupErrorKind.InsufficientSpace => ("InsufficientDiskSpace", CcieErrorCategory.ResourceUnavailable, Location),
                DataBackupErrorKind.PreBackupCommandFailed => ("PreBackupCommandFailed", CcieErrorCategory.OperationStopped, Location),
                _ => ("BackupFailed", CcieErrorCategory.WriteError, Location),
            };
            return new CcieException(id, category, ex.Message, target, ex);
        }

        /// <summary>The error for a post-backup command that failed after the archive was written.</summary>
        public CcieException PostBackupError(BackupHookResult post)
        {
            if (post is null)
            {
                throw new ArgumentNullException(nameof(post));
            }

            string outcome = post.TimedOut ? "timed out" : "exited with code " + post.ExitCode.ToString(CultureInfo.InvariantCulture);
            return new CcieException(
                "PostBackupCommandFailed",
                CcieErrorCategory.InvalidOperation,
                $"The backup {Location} was written, but the post-backup command {outcome}: {SecretMask.LastLine(post.Output)}",
                $"post-backup command ({post.Command.Length} chars)");
        }

        private static string HookLabel(string kind, string command, bool showCommand)
            => showCommand ? $"{kind} command: {command}" : $"{kind} command ({command.Length} chars)";
    }
}
