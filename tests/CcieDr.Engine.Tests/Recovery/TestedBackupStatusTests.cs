using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Recovery;
using Xunit;

namespace CcieDr.Engine.Tests.Recovery
{
    /// <summary>Tarballs that Test-CcieBackup passed: the record kept next to the archive, and how the recovery status counts them.</summary>
    public sealed class TestedBackupStatusTests : IDisposable
    {
        private static readonly DateTime Now = new DateTime(2026, 12, 7, 12, 0, 0, DateTimeKind.Utc);
        private readonly string _dir = Directory.CreateTempSubdirectory("ccie-tested-").FullName;

        public void Dispose() => Directory.Delete(_dir, true);

        private static RecoveryTargets Targets => new RecoveryTargets { RpoTarget = TimeSpan.FromHours(24) };

        [Fact]
        public void A_tested_tarball_newer_than_any_drilled_point_is_the_newest_verified_point()
        {
            var backups = new[]
            {
                new BackupEvidence { Location = "/backups/circleci-data-export-20261207T100000Z.tar.bz2", Created = Now.AddHours(-2) },
                new BackupEvidence { Location = "/backups/circleci-data-export-20261207T080000Z.tar.bz2", Created = Now.AddHours(-4), TestedAt = Now.AddHours(-3) },
            };

            RecoveryStatus s = RecoveryStatusEvaluator.Evaluate("us-east-1", "circleci_services", Array.Empty<RecoveryPoint>(), Array.Empty<string>(), Array.Empty<RecoveryPoint>(), Targets, Now, backups);

            Assert.Equal(backups[0].Location, s.NewestBackup);
            Assert.Equal(backups[1].Location, s.NewestTestedBackup);
            Assert.Equal(backups[1].Location, s.NewestVerifiedPointId);
            Assert.Equal(TimeSpan.FromHours(4), s.VerifiedRpo);
            Assert.Contains(s.Notes, n => n.Contains("untested", StringComparison.Ordinal) && n.Contains("T100000Z", StringComparison.Ordinal));
        }

        [Fact]
        public void Without_a_test_an_archive_is_no_verified_point()
        {
            var backups = new[] { new BackupEvidence { Location = "/b/circleci-data-export.tar.bz2", Created = Now.AddHours(-1) } };

            RecoveryStatus s = RecoveryStatusEvaluator.Evaluate("us-east-1", "circleci_services", Array.Empty<RecoveryPoint>(), Array.Empty<string>(), Array.Empty<RecoveryPoint>(), Targets, Now, backups);

            Assert.Null(s.NewestVerifiedPointId);
            Assert.Null(s.NewestTestedBackup);
            Assert.Equal("Fail", s.Status);
        }

        [Fact]
        public void A_tested_tarball_older_than_the_target_fails_the_status()
        {
            var backups = new[] { new BackupEvidence { Location = "/b/circleci-data-export.tar.bz2", Created = Now.AddDays(-3), TestedAt = Now.AddDays(-3) } };

            RecoveryStatus s = RecoveryStatusEvaluator.Evaluate("us-east-1", "circleci_services", Array.Empty<RecoveryPoint>(), Array.Empty<string>(), Array.Empty<RecoveryPoint>(), Targets, Now, backups);

            Assert.Contains(s.Reasons, r => r.StartsWith("newest verified point /b/circleci-data-export.tar.bz2 is 3 days old", StringComparison.Ordinal));
        }

        [Fact]
        public async Task The_record_is_written_next_to_the_archive_read_back_and_ignored_once_the_archive_changes()
        {
            string archive = Path.Combine(_dir, "circleci-data-export-20261207T080000Z.tar.bz2");
            await File.WriteAllBytesAsync(archive, new byte[1234]);
            var record = new BackupTestRecord { Archive = Path.GetFileName(archive), TestedAt = new DateTimeOffset(Now), Verdict = "Passed", Size = 1234, Members = 7 };

            await record.WriteAsync(archive, null, CancellationToken.None);
            await record.WriteAsync(archive, null, CancellationToken.None);   // rewritten in place

            Assert.True(File.Exists(archive + ".ccie-test.json"));
            Assert.Equal(new[] { archive, archive + ".ccie-test.json" }, Directory.GetFiles(_dir).OrderBy(f => f, StringComparer.Ordinal));
            var info = Assert.Single(await new DataBackupCatalog().ListAsync(_dir));
            BackupTestRecord? read = await BackupTestRecord.ReadAsync(info, null, CancellationToken.None);
            Assert.NotNull(read);
            Assert.True(read!.Passed);
            Assert.Equal(7, read.Members);
            Assert.Equal(new DateTimeOffset(Now), read.TestedAt);

            await File.AppendAllTextAsync(archive, "more");
            Assert.Null(await BackupTestRecord.ReadAsync(Assert.Single(await new DataBackupCatalog().ListAsync(_dir)), null, CancellationToken.None));

            await new DataBackupCatalog().RemoveAsync(Assert.Single(await new DataBackupCatalog().ListAsync(_dir)));
            Assert.Empty(Directory.GetFiles(_dir));
        }

        [Theory]
        [InlineData("not json")]
        [InlineData("{\"verdict\":\"Passed\"}")]
        [InlineData("[1,2]")]
        public void A_damaged_record_is_no_proof(string json) => Assert.Null(BackupTestRecord.Parse(json));
    }
}
