using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using CcieDr.Engine;
using CcieDr.Engine.Archive.Restore;
using CcieDr.Engine.Archive.Storage;

namespace CcieDr.Commands
{
    /// <summary>
    /// Reads a whole data archive (local or S3) without extracting it and checks every member
    /// against its manifest, the bzip2 and tar integrity, and hostile content.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "CcieBackup")]
    [OutputType(typeof(BackupVerification))]
    public sealed class TestCcieBackupCommand : CcieAwsCmdlet
    {
        private const int ActivityId = 0x4C1F;
        private string _current = string.Empty;

        /// <summary>The archive: a local path or s3://bucket/key. Pipes from Backup-CcieData and Get-CcieBackup (Location).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Location")]
        [ValidateNotNullOrEmpty]
        public string[] Source { get; set; } = Array.Empty<string>();

        /// <summary>How many problems to list per archive (all are counted). Default: 20.</summary>
        [Parameter]
        [ValidateRange(1, 10000)]
        public int MaxProblems { get; set; } = 20;

        /// <summary>Do not record the result next to the archive (&lt;archive&gt;.ccie-test.json, read by Get-CcieRecoveryStatus -BackupLocation).</summary>
        [Parameter]
        public SwitchParameter NoRecord { get; set; }

        protected override object? TerminatingTarget() => _current;

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            foreach (var item in Source)
            {
                string source = DataRestoreSource.IsS3(item) ? item : await ResolveProviderPathAsync(item).ConfigureAwait(false);
                _current = source;
                IAmazonS3? s3 = DataRestoreSource.IsS3(source) ? Aws.CreateS3() : null;
                try
                {
                    var verifier = new ArchiveVerifier(s3)
                    {
                        MaxProblems = MaxProblems,
                        Progress = new ArchiveProgressSink(WriteProgress, "Testing " + source, ActivityId),
                    };
                    var result = await verifier.VerifyAsync(source, cancellationToken).ConfigureAwait(false);
                    WriteVerbose($"{source}: {result.Verdict}, {result.MemberCount} members, {result.ProblemCount} problems, {result.Duration.TotalSeconds:N1}s");
                    if (!NoRecord.IsPresent)
                    {
                        string name = source.Substring(source.LastIndexOfAny(new[] { '/', System.IO.Path.DirectorySeparatorChar }) + 1);
                        await BackupTestRecord.From(result, name, DateTimeOffset.UtcNow).WriteAsync(source, s3, cancellationToken).ConfigureAwait(false);
                        result.RecordLocation = BackupTestRecord.SidecarOf(source);
                    }

                    WriteObject(result);
                }
                catch (Exception error) when (error is not OperationCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    // One archive failed to open (missing file, S3 NoSuchKey, access denied): report it and go on.
                    WriteError(ErrorRecords.FromException(error, source));
                }
                finally
                {
                    s3?.Dispose();
                    WriteProgress(new ProgressRecord(ActivityId, "Testing " + source, "Done") { RecordType = ProgressRecordType.Completed });
                }
            }
        }
    }
}
