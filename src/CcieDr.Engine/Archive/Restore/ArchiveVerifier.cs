using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using CcieDr.Engine.Archive.Bzip2;
using CcieDr.Engine.Archive.Common;
using CcieDr.Engine.Archive.Storage;

namespace CcieDr.Engine.Archive.Restore
{
    /// <summary>
    /// Test-CcieBackup's engine: reads a whole archive (local or S3) without extracting, checks
    /// bzip2 or zstd integrity (the compression read from the content), every tar header, hostile members, and every member against the manifest
    /// (type, size, SHA-256, link target, mode, missing and extra entries).
    /// </summary>
    public sealed class ArchiveVerifier
    {
        private readonly IAmazonS3? _s3;

        /// <summary>Creates the verifier; <paramref name="s3"/> is needed only for s3:// sources.</summary>
        public ArchiveVerifier(IAmazonS3? s3 = null)
        {
            _s3 = s3;
        }

        /// <summary>How many problems to report (the count covers all).</summary>
        public int MaxProblems { get; set; } = 20;

        /// <summary>bzip2 decoder choice.</summary>
        public Bzip2Implementation Bzip2 { get; set; } = Bzip2Implementation.Auto;

        /// <summary>Progress callback.</summary>
        public IProgress<ArchiveReadProgress>? Progress { get; set; }

        /// <summary>Reads and checks the archive. Problems in the archive are in the verdict, not thrown.</summary>
        /// <exception cref="CcieException">The archive cannot be opened (ArchiveNotFound, or an S3 error).</exception>
        public async Task<BackupVerification> VerifyAsync(string source, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            using var opened = await DataRestoreSource.OpenAsync(source, _s3, cancellationToken).ConfigureAwait(false);
            var options = new SafeExtractOptions
            {
                CollectProblems = true,
                MaxProblems = MaxProblems,
                CompressedLength = opened.Length,
                Progress = Progress,
                Bzip2 = Bzip2,
                Phase = "Verifying",
            };
            SafeExtractResult r;
            try
            {
                r = await Task.Run(() => SafeExtractor.Run(opened.Stream, options, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (cancellationToken.IsCancellationRequested && !(ex is OperationCanceledException))
            {
                throw new OperationCanceledException("The verification was cancelled.", ex, cancellationToken);
            }

            var verdict = r.ProblemCount > 0 ? BackupVerdict.Failed
                : r.Manifest is null ? BackupVerdict.NoManifest
                : BackupVerdict.Passed;
            return new BackupVerification(
                source,
                verdict,
                r.Members,
                r.Files,
                r.ContentBytes,
                r.CompressedBytes,
                r.Bzip2Streams,
                r.Manifest?.Tool,
                r.Manifest?.Host,
                r.Manifest is null ? (DateTimeOffset?)null : r.Manifest.Created,
                r.ProblemCount,
                r.Problems,
                r.Warnings,
                clock.Elapsed)
            {
                Compression = r.Compression?.DisplayName(),
            };
        }
    }
}
