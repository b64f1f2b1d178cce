using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using CcieDr.Engine.Archive.Restore;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Recovery;

namespace CcieDr.Engine.Archive.Retention
{
    /// <summary>One archive and what the retention policy decided for it.</summary>
    public sealed class DataBackupRemoval
    {
        internal DataBackupRemoval(DataBackupArchiveInfo archive, bool keep, IReadOnlyList<string> reasons)
        {
            Archive = archive;
            Keep = keep;
            Reasons = reasons;
        }

        /// <summary>The archive.</summary>
        public DataBackupArchiveInfo Archive { get; }

        /// <summary>True when a rule (or the newest-good guarantee) keeps it.</summary>
        public bool Keep { get; }

        /// <summary>Why it is kept, or why it goes.</summary>
        public IReadOnlyList<string> Reasons { get; }

        /// <summary>The confirmation text for removing it (what, how big, why, and the S3 call when remote).</summary>
        public string Action => string.Format(
            CultureInfo.InvariantCulture,
            "Remove backup archive created {0:yyyy-MM-dd HH:mm:ss}Z, {1:N0} bytes ({2}){3}",
            Archive.Created.UtcDateTime,
            Archive.Size,
            string.Join(", ", Reasons),
            Archive.BucketName != null ? ": s3:DeleteObject" : string.Empty);
    }

    /// <summary>
    /// Applies a retention policy to the archives in a directory or S3 prefix (what Remove-CcieBackup does):
    /// lists them, verifies the newest complete ones newest first until one passes (unless told not to), plans
    /// with <see cref="DataBackupRetention"/>, and removes one archive at a time so the caller can confirm each.
    /// </summary>
    public sealed class DataBackupRemover
    {
        private readonly IAmazonS3? _s3;
        private readonly DataBackupCatalog _catalog;

        /// <summary>Creates a remover; <paramref name="s3"/> is needed for s3:// locations only.</summary>
        public DataBackupRemover(IAmazonS3? s3 = null)
        {
            _s3 = s3;
            _catalog = new DataBackupCatalog(s3);
        }

        /// <summary>Says what verification is doing (verbose text).</summary>
        public Action<string>? Verbose { get; set; }

        /// <summary>Reports an archive that failed verification (a warning).</summary>
        public Action<string>? Warning { get; set; }

        /// <summary>
        /// Plans the removals at <paramref name="location"/> (a full path or s3:// URI), newest first.
        /// </summary>
        /// <exception cref="CcieException">RetentionPolicyRequired, BackupLocationNotFound (ObjectNotFound) or InvalidBackupLocation.</exception>
        public async Task<IReadOnlyList<DataBackupRemoval>> PlanAsync(string location, RetentionOptions options, bool verify, DateTimeOffset now, CancellationToken cancellationToken = default)
        {
            if (options is null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            if (options.IsEmpty)
            {
                throw new CcieException("RetentionPolicyRequired", CcieErrorCategory.InvalidArgument, "Give at least one of -KeepLast, -KeepDaily, -KeepWeekly or -KeepMonthly: with none, every archive but the newest would be removed.", location);
            }

            IReadOnlyList<DataBackupArchiveInfo> archives;
            try
            {
                archives = await _catalog.ListAsync(location, cancellationToken).ConfigureAwait(false);
            }
            catch (DirectoryNotFoundException ex)
            {
                throw new CcieException("BackupLocationNotFound", CcieErrorCategory.ObjectNotFound, ex.Message, location, ex);
            }
            catch (FormatException ex)
            {
                throw new CcieException("InvalidBackupLocation", CcieErrorCategory.InvalidArgument, ex.Message, location, ex);
            }

            Func<DataBackupArchiveInfo, CancellationToken, Task<bool>>? verifier = null;
            if (verify)
            {
                var archiveVerifier = new ArchiveVerifier(_s3);
                verifier = async (archive, ct) =>
                {
                    Verbose?.Invoke($"Verifying {archive.Location} (the newest archive that passes is protected).");
                    var v = await archiveVerifier.VerifyAsync(archive.Location, ct).ConfigureAwait(false);
                    if (!v.Passed)
                    {
                        Warning?.Invoke($"{archive.Location} failed verification: {string.Join("; ", v.Problems.Take(3))}");
                    }

                    return v.Passed;
                };
            }

            var decisions = await DataBackupRetention.PlanAsync(archives, options, now, verifier, cancellationToken).ConfigureAwait(false);
            return decisions.Select(d => new DataBackupRemoval((DataBackupArchiveInfo)d.Item.Tag!, d.Keep, d.Reasons)).ToList();
        }

        /// <summary>Removes one planned archive.</summary>
        /// <exception cref="CcieException">BackupRemoveFailed (WriteError) when the file or object could not be removed.</exception>
        public async Task RemoveAsync(DataBackupRemoval removal, CancellationToken cancellationToken = default)
        {
            if (removal is null)
            {
                throw new ArgumentNullException(nameof(removal));
            }

            if (removal.Keep)
            {
                throw new InvalidOperationException($"{removal.Archive.Location} is kept by the policy ({string.Join(", ", removal.Reasons)}).");
            }

            try
            {
                await _catalog.RemoveAsync(removal.Archive, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is AmazonS3Exception || ex is CcieException)
            {
                throw new CcieException("BackupRemoveFailed", CcieErrorCategory.WriteError, $"Could not remove {removal.Archive.Location}: {ex.Message}", removal.Archive.Location, ex);
            }
        }
    }
}
