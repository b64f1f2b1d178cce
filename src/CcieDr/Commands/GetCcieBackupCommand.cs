using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using CcieDr.Engine;
using CcieDr.Engine.Archive.Storage;

namespace CcieDr.Commands
{
    /// <summary>Lists the data archives in a directory or S3 prefix, newest first.</summary>
    [Cmdlet(VerbsCommon.Get, "CcieBackup")]
    [OutputType(typeof(BackupInfo))]
    public sealed class GetCcieBackupCommand : CcieAwsCmdlet
    {
        /// <summary>Directory (or one archive file), or s3://bucket/prefix/.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Destination")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = string.Empty;

        /// <summary>Only the newest archive.</summary>
        [Parameter]
        public SwitchParameter Latest { get; set; }

        /// <inheritdoc/>
        protected override object? TerminatingTarget() => Path;

        /// <inheritdoc/>
        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            var isS3 = S3UploadLocation.IsS3Uri(Path);
            var location = isS3 ? Path : await ResolveProviderPathAsync(Path).ConfigureAwait(false);
            using IAmazonS3? s3 = isS3 ? Aws.CreateS3() : null;
            System.Collections.Generic.IReadOnlyList<DataBackupArchiveInfo> archives;
            try
            {
                archives = await new DataBackupCatalog(s3).ListAsync(location, cancellationToken).ConfigureAwait(false);
            }
            catch (System.IO.DirectoryNotFoundException ex)
            {
                WriteCcieError(new CcieException("BackupLocationNotFound", CcieErrorCategory.ObjectNotFound, ex.Message + " Give the directory Backup-CcieData wrote to, or s3://bucket/prefix/.", location, ex));
                return;
            }
            catch (FormatException ex)
            {
                throw new CcieException("InvalidBackupLocation", CcieErrorCategory.InvalidArgument, ex.Message, Path, ex);
            }

            foreach (var a in archives)
            {
                WriteObject(BackupInfoMapper.ToOutput(a));
                if (Latest.IsPresent)
                {
                    break;
                }
            }
        }
    }
}
