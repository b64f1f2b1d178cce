using CcieDr.Engine.Archive.Retention;
using CcieDr.Engine.Archive.Storage;
using CcieDr.Engine.Recovery;
using Xunit;

namespace CcieDr.Engine.Tests.Archive
{
    public class DataBackupRetentionTests
    {
        private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

        private static DataBackupArchiveInfo A(string name, int daysAgo, bool manifest = true) =>
            new(name, "/b/" + name, 100, Now.AddDays(-daysAgo), Now.AddDays(-daysAgo), manifest, null, null, null);

        [Fact]
        public async Task Newest_Archive_That_Fails_Verification_Is_Bad_And_The_Next_Verified_One_Is_Protected()
        {
            var archives = new[] { A("d0-partial", 0, manifest: false), A("d1-corrupt", 1), A("d2-good", 2), A("d3", 3) };
            var verified = new List<string>();
            var ds = await DataBackupRetention.PlanAsync(archives, new RetentionOptions { KeepLast = 1 }, Now, (a, _) =>
            {
                verified.Add(a.Name);
                return Task.FromResult(a.Name != "d1-corrupt");
            });

            Assert.Equal(new[] { "d1-corrupt", "d2-good" }, verified); // stops at the first that passes
            Assert.Equal(new[] { "d2-good" }, ds.Where(d => d.Keep).Select(d => ((DataBackupArchiveInfo)d.Item.Tag!).Name));
            Assert.Equal(new[] { DataBackupRetention.IncompleteReason }, ds[0].Reasons);
            Assert.Equal(new[] { DataBackupRetention.FailedVerificationReason }, ds[1].Reasons);
            Assert.Equal(new[] { "keep-last #1" }, ds[2].Reasons);
        }

        [Fact]
        public async Task Newest_Verified_Archive_Survives_A_Policy_That_Keeps_Nothing_Unless_Force()
        {
            var archives = new[] { A("d40", 40), A("d41", 41) };
            var keep = await DataBackupRetention.PlanAsync(archives, new RetentionOptions { OlderThan = TimeSpan.FromDays(7) }, Now, (_, _) => Task.FromResult(true));
            Assert.Equal(new[] { true, false }, keep.Select(d => d.Keep));
            Assert.Equal(new[] { RetentionPolicy.NewestGoodReason }, keep[0].Reasons);
            var force = await DataBackupRetention.PlanAsync(archives, new RetentionOptions { OlderThan = TimeSpan.FromDays(7), IncludeNewest = true }, Now, (_, _) => Task.FromResult(true));
            Assert.All(force, d => Assert.False(d.Keep));
        }

        [Fact]
        public async Task Without_A_Verifier_Complete_Archives_Count_As_Good()
        {
            var archives = new[] { A("d0", 0), A("d1", 1), A("d2", 2) };
            var ds = await DataBackupRetention.PlanAsync(archives, new RetentionOptions { KeepDaily = 2 }, Now, null);
            Assert.Equal(new[] { true, true, false }, ds.Select(d => d.Keep));
        }
    }
}
