using CcieDr.Engine.Remote;
using Xunit;

namespace CcieDr.Engine.Tests.Remote
{
    public sealed class ReplicatedParsersTests
    {
        private static string Sample(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Remote", "Data", name));

        [Fact]
        public void Ctl_status_stopped_sample_from_circleci_docs()
        {
            ReplicatedStatus s = ReplicatedParsers.ParseCtlStatus(Sample("replicatedctl-app-status-stopped.json"));
            Assert.Equal("edd9471be0bc4ea04dfca94718ddf621", s.AppId);
            Assert.Equal(2439, s.Sequence);
            Assert.Equal("stopped", s.State);
            Assert.Equal("stopped", s.DesiredState);
            Assert.False(s.IsTransitioning);
            Assert.Null(s.Error);
            Assert.Equal(new DateTime(2018, 10, 23, 22, 0, 21, DateTimeKind.Utc), s.LastModifiedAt!.Value.AddTicks(-(s.LastModifiedAt.Value.Ticks % TimeSpan.TicksPerSecond)));
        }

        [Fact]
        public void Ctl_status_starting_sample_is_transitioning_to_started()
        {
            ReplicatedStatus s = ReplicatedParsers.ParseCtlStatus(Sample("replicatedctl-app-status-starting.json"));
            Assert.Equal("starting", s.State);
            Assert.Equal("started", s.DesiredState);
            Assert.True(s.IsTransitioning);
            Assert.Equal(504, s.Sequence);
        }

        [Fact]
        public void Apps_sample_selects_circleci_enterprise()
        {
            IReadOnlyList<ReplicatedAppRow> rows = ReplicatedParsers.ParseApps(Sample("replicated-apps.txt"));
            ReplicatedAppRow row = ReplicatedParsers.SelectCircleCiApp(rows);
            Assert.Equal("edd9471be0bc4ea04dfca94718ddf621", row.AppId);
            Assert.Equal("CircleCI Enterprise", row.Name);
            Assert.Equal(2439, row.Sequence);
            Assert.Equal("started", row.Status);
        }

        [Fact]
        public void App_status_word_and_versions_and_token()
        {
            Assert.Equal("started", ReplicatedParsers.ParseAppStatus(Sample("replicated-app-status.txt")));
            Assert.Equal("2.53.2", ReplicatedParsers.ParseVersion(Sample("replicatedctl-version.txt"), "replicatedctl version"));
            Assert.Equal("300c61ca5e1551167f73612a3f0845c54cdb3c27", ReplicatedParsers.ParseSecretToken(Sample("replicated-admin-get-secret-token.txt")));
        }

        [Theory]
        [InlineData("Error: request returned Unauthorized for API route")]
        [InlineData("[]")]
        [InlineData("[{\"AppID\":\"x\",\"State\":\"exploded\"}]")]
        public void Unrecognised_ctl_status_fails_with_the_first_line(string output)
        {
            CcieException e = Assert.Throws<CcieException>(() => ReplicatedParsers.ParseCtlStatus(output));
            Assert.Equal("ReplicatedOutputUnrecognised", e.ErrorId);
            Assert.Contains(output.Split('\n')[0].Substring(0, 2), e.Message);
        }

        [Fact]
        public void Unrecognised_apps_and_status_fail_clearly()
        {
            CcieException a = Assert.Throws<CcieException>(() => ReplicatedParsers.ParseApps("Error: request returned Unauthorized for API route"));
            Assert.Equal("ReplicatedOutputUnrecognised", a.ErrorId);
            Assert.Contains("Unauthorized", a.Message);
            Assert.Equal("ReplicatedOutputUnrecognised", Assert.Throws<CcieException>(() => ReplicatedParsers.ParseApps("ID NAME\nnot-an-id CircleCI Started")).ErrorId);
            Assert.Equal("ReplicatedOutputUnrecognised", Assert.Throws<CcieException>(() => ReplicatedParsers.ParseAppStatus("Started\nStopped")).ErrorId);
        }

        [Fact]
        public void Unrecognised_secret_output_never_quotes_it()
        {
            CcieException e = Assert.Throws<CcieException>(() => ReplicatedParsers.ParseSecretToken("token is s3cr3t-value-123"));
            Assert.Equal("ReplicatedOutputUnrecognised", e.ErrorId);
            Assert.DoesNotContain("s3cr3t-value-123", e.Message);
        }

        [Fact]
        public void Several_apps_without_a_circleci_name_are_ambiguous()
        {
            var rows = ReplicatedParsers.ParseApps("ID NAME SEQUENCE STATUS\naaaaaaaaaaaaaaaa Foo 1 Started\nbbbbbbbbbbbbbbbb Bar 2 Stopped");
            Assert.Equal("ReplicatedAppAmbiguous", Assert.Throws<CcieException>(() => ReplicatedParsers.SelectCircleCiApp(rows)).ErrorId);
        }
    }
}
