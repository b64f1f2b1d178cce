using CcieDr.Engine.Archive.Backup;
using CcieDr.Engine.Archive.Retention;
using CcieDr.Engine.Recovery;
using Xunit;
using static CcieDr.Engine.Tests.Archive.BackupTestSupport;

namespace CcieDr.Engine.Tests.Archive
{
    /// <summary>Remove-CcieBackup's orchestration in the engine: list, verify newest first, plan, remove one at a time.</summary>
    public class DataBackupRemoverTests
    {
        private static readonly DateTimeOffset T0 = new(2026, 12, 1, 3, 0, 0, TimeSpan.Zero);

        private static async Task<string[]> ThreeBackups(string src, string dest)
        {
            File.WriteAllBytes(Path.Combine(src, "a.bin"), TextLike(3_000_000, 7));
            var names = new List<string>();
            for (int i = 0; i < 3; i++)
            {
                var options = Options(src, dest);
                options.TimestampedName = true;
                var at = T0.AddDays(i);
                options.Clock = () => at;
                names.Add((await new DataBackup().RunAsync(options)).Location);
                File.SetLastWriteTimeUtc(names[^1], at.UtcDateTime);
            }

            return names.ToArray();
        }

        [Fact]
        public async Task A_corrupt_newest_archive_goes_and_the_newest_that_verifies_is_kept_and_protected()
        {
            using var tmp = new TempDir("remover");
            var dest = tmp.Sub("backups");
            var paths = await ThreeBackups(tmp.Sub("data"), dest);

            // Flip bytes in the middle of the newest archive: it still ends with its manifest, but fails verification.
            using (var f = new FileStream(paths[2], FileMode.Open, FileAccess.ReadWrite))
            {
                f.Position = f.Length / 4;
                var b = new byte[64];
                f.ReadExactly(b);
                for (int i = 0; i < b.Length; i++)
                {
                    b[i] ^= 0x5A;
                }

                f.Position = f.Length / 4;
                f.Write(b);
            }

            var warnings = new List<string>();
            var remover = new DataBackupRemover { Warning = warnings.Add };
            var plan = await remover.PlanAsync(dest, new RetentionOptions { KeepLast = 1 }, verify: true, T0.AddDays(3));

            Assert.Equal(paths.Reverse(), plan.Select(p => p.Archive.Location));
            Assert.Equal(new[] { false, true, false }, plan.Select(p => p.Keep));
            Assert.Contains(DataBackupRetention.FailedVerificationReason, plan[0].Reasons);
            Assert.Single(warnings);
            Assert.Contains(paths[2], warnings[0]);
            Assert.Contains("failed verification", plan[0].Action);

            foreach (var removal in plan.Where(p => !p.Keep))
            {
                await remover.RemoveAsync(removal);
            }

            Assert.Equal(new[] { paths[1] }, Directory.GetFiles(dest));
            await Assert.ThrowsAsync<InvalidOperationException>(() => remover.RemoveAsync(plan[1]));
            Assert.True(File.Exists(paths[1]));
        }

        [Fact]
        public async Task Without_verification_the_newest_complete_archive_is_the_protected_one()
        {
            using var tmp = new TempDir("remover");
            var dest = tmp.Sub("backups");
            var paths = await ThreeBackups(tmp.Sub("data"), dest);
            var plan = await new DataBackupRemover().PlanAsync(dest, new RetentionOptions { OlderThan = TimeSpan.FromHours(1) }, verify: false, T0.AddDays(3));
            Assert.Equal(new[] { true, false, false }, plan.Select(p => p.Keep));
            Assert.Equal(new[] { RetentionPolicy.NewestGoodReason }, plan[0].Reasons);
            var all = await new DataBackupRemover().PlanAsync(dest, new RetentionOptions { OlderThan = TimeSpan.FromHours(1), IncludeNewest = true }, verify: false, T0.AddDays(3));
            Assert.All(all, p => Assert.False(p.Keep));
            Assert.Equal(3, Directory.GetFiles(dest).Length); // planning removes nothing
        }

        [Fact]
        public async Task Bad_input_gets_stable_errors_and_removes_nothing()
        {
            using var tmp = new TempDir("remover");
            var dest = tmp.Sub("backups");
            await ThreeBackups(tmp.Sub("data"), dest);
            var remover = new DataBackupRemover();

            var empty = await Assert.ThrowsAsync<CcieException>(() => remover.PlanAsync(dest, new RetentionOptions(), verify: false, T0));
            Assert.Equal("RetentionPolicyRequired", empty.ErrorId);
            var missing = await Assert.ThrowsAsync<CcieException>(() => remover.PlanAsync(Path.Combine(tmp.Path, "nope"), new RetentionOptions { KeepLast = 1 }, verify: false, T0));
            Assert.Equal("BackupLocationNotFound", missing.ErrorId);
            Assert.Equal(CcieErrorCategory.ObjectNotFound, missing.Category);
            Assert.Equal(3, Directory.GetFiles(dest).Length);
        }
    }
}
