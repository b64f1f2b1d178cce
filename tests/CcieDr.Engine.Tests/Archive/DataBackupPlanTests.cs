using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Common;
using Xunit;

namespace CcieDr.Engine.Tests.Archive
{
    /// <summary>
    /// The backup plan (what Backup-CcieData confirms and -WhatIf prints) is made in the engine: destination
    /// validation, the archive's location and name, the step list with hooks masked, and the error mapping.
    /// </summary>
    public class DataBackupPlanTests
    {
        private static readonly DateTimeOffset Noon = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

        [Fact]
        public void A_local_destination_gets_the_guide_file_name_in_that_directory()
        {
            var plan = DataBackupPlan.Create(new DataBackupOptions { SourcePath = "/data", Destination = "/var/backups" }, Noon);
            Assert.False(plan.IsS3);
            Assert.Equal("circleci-data-export.tar.bz2", plan.FileName);
            Assert.Equal("/var/backups/circleci-data-export.tar.bz2", plan.Location);
            Assert.Equal(plan.FileName, plan.Options.FileName);
        }

        [Fact]
        public void An_s3_destination_puts_the_timestamped_zstd_name_under_the_prefix()
        {
            var options = new DataBackupOptions { Destination = "s3://dr-backups/circleci/", TimestampedName = true, Compression = CompressionKind.Zstd, KmsKeyId = "alias/dr" };
            var plan = DataBackupPlan.Create(options, Noon);
            Assert.True(plan.IsS3);
            Assert.Equal("circleci-data-export-20261207T120000Z.tar.zst", plan.FileName);
            Assert.Equal("s3://dr-backups/circleci/circleci-data-export-20261207T120000Z.tar.zst", plan.Location);
            Assert.Contains("upload to s3://dr-backups/circleci/circleci-data-export-20261207T120000Z.tar.zst", plan.Describe(false));
            Assert.Contains("aws:kms alias/dr", plan.Describe(false));
        }

        [Theory]
        [InlineData("s3://", "InvalidBackupDestination")]
        [InlineData("", "InvalidBackupDestination")]
        public void A_bad_destination_fails_before_any_prompt_with_a_stable_id(string destination, string errorId)
        {
            var e = Assert.Throws<CcieException>(() => DataBackupPlan.Create(new DataBackupOptions { Destination = destination }, Noon));
            Assert.Equal(errorId, e.ErrorId);
            Assert.Equal(CcieErrorCategory.InvalidArgument, e.Category);
        }

        [Fact]
        public void A_kms_key_for_a_local_destination_is_refused()
        {
            var e = Assert.Throws<CcieException>(() => DataBackupPlan.Create(new DataBackupOptions { Destination = "/var/backups", KmsKeyId = "alias/dr" }, Noon));
            Assert.Equal("KmsKeyIdNeedsS3", e.ErrorId);
            Assert.Contains("s3://", e.Message);
        }

        [Fact]
        public void Hook_commands_are_shown_by_length_unless_asked()
        {
            const string secretHook = "API_TOKEN=hunter2 /usr/local/bin/quiesce";
            var options = new DataBackupOptions { Destination = "/var/backups", PreBackupCommand = secretHook, PostBackupCommand = secretHook + " --resume" };
            var plan = DataBackupPlan.Create(options, Noon);
            string quiet = plan.Describe(false);
            Assert.DoesNotContain("hunter2", quiet);
            Assert.Contains($"pre-backup command ({secretHook.Length} chars)", quiet);
            Assert.Contains($"post-backup command ({secretHook.Length + 9} chars)", quiet);
            Assert.Contains("hunter2", plan.Describe(true));
        }

        [Theory]
        [InlineData(DataBackupErrorKind.SourceNotFound, "DataDirectoryNotFound", CcieErrorCategory.ObjectNotFound)]
        [InlineData(DataBackupErrorKind.InsufficientSpace, "InsufficientDiskSpace", CcieErrorCategory.ResourceUnavailable)]
        [InlineData(DataBackupErrorKind.PreBackupCommandFailed, "PreBackupCommandFailed", CcieErrorCategory.OperationStopped)]
        [InlineData(DataBackupErrorKind.WriteFailed, "BackupFailed", CcieErrorCategory.WriteError)]
        [InlineData(DataBackupErrorKind.InvalidDestination, "InvalidBackupDestination", CcieErrorCategory.InvalidArgument)]
        public void Each_failure_kind_maps_to_one_error(DataBackupErrorKind kind, string errorId, CcieErrorCategory category)
        {
            var plan = DataBackupPlan.Create(new DataBackupOptions { Destination = "/var/backups" }, Noon);
            var e = plan.ToError(new DataBackupException(kind, "it failed"));
            Assert.Equal(errorId, e.ErrorId);
            Assert.Equal(category, e.Category);
            Assert.Equal("it failed", e.Message);
        }

        [Fact]
        public async Task The_run_writes_the_name_the_plan_confirmed_even_when_the_clock_moved_on()
        {
            using var tmp = new TempDir("plan");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("backups");
            File.WriteAllText(Path.Combine(src, "a.txt"), "alpha");
            var options = new DataBackupOptions { SourcePath = src, Destination = dest, TimestampedName = true, Clock = () => Noon.AddMinutes(3) };
            var plan = DataBackupPlan.Create(options, Noon);

            var result = await new DataBackup().RunAsync(plan.Options);

            Assert.Equal(plan.Location, result.Location);
            Assert.Equal(new[] { "circleci-data-export-20261207T120000Z.tar.bz2" }, Directory.GetFiles(dest).Select(Path.GetFileName));
        }

        [Fact]
        public async Task A_file_name_that_is_a_path_is_refused_and_nothing_is_written()
        {
            using var tmp = new TempDir("plan");
            var src = tmp.Sub("data");
            var dest = tmp.Sub("backups");
            var options = new DataBackupOptions { SourcePath = src, Destination = dest, FileName = "../escape.tar.bz2" };
            var e = await Assert.ThrowsAsync<DataBackupException>(() => new DataBackup().RunAsync(options));
            Assert.Equal(DataBackupErrorKind.InvalidDestination, e.Kind);
            Assert.Equal(new[] { dest, src }.OrderBy(p => p, StringComparer.Ordinal), Directory.GetFileSystemEntries(tmp.Path).OrderBy(p => p, StringComparer.Ordinal));
            Assert.Empty(Directory.GetFileSystemEntries(dest));
        }
    }
}
