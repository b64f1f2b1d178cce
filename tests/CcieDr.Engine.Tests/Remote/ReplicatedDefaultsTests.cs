using System.Text;
using CcieDr.Engine.Remote;
using Xunit;

namespace CcieDr.Engine.Tests.Remote
{
    /// <summary>The address rewrite in Replicated's environment files: only the addresses change, byte for byte.</summary>
    public sealed class ReplicatedDefaultsTests
    {
        private static byte[] Sample(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Remote", "Data", name));

        private static string Text(byte[] b) => Encoding.Latin1.GetString(b);

        [Fact]
        public void Daemon_file_gets_the_new_private_address_and_nothing_else()
        {
            byte[] before = Sample("etc-default-replicated.txt");
            ReplicatedDefaultsRewrite r = ReplicatedDefaults.Rewrite(before, ReplicatedDefaultsFile.Replicated, "10.128.0.50", "/etc/default/replicated");
            Assert.Equal("10.128.0.11", r.PreviousAddress);
            Assert.Equal(new[] { "PRIVATE_ADDRESS 10.128.0.11 -> 10.128.0.50" }, r.Changes);
            Assert.Equal(Text(before).Replace("PRIVATE_ADDRESS=10.128.0.11", "PRIVATE_ADDRESS=10.128.0.50"), Text(r.Content));
        }

        [Fact]
        public void Operator_file_keeps_brackets_port_and_public_address()
        {
            byte[] before = Sample("etc-default-replicated-operator.txt");
            ReplicatedDefaultsRewrite r = ReplicatedDefaults.Rewrite(before, ReplicatedDefaultsFile.ReplicatedOperator, "10.128.0.50", "/etc/default/replicated-operator");
            string expected = Text(before)
                .Replace("DAEMON_ENDPOINT=[10.128.0.11]:9879", "DAEMON_ENDPOINT=[10.128.0.50]:9879")
                .Replace("DAEMON_HOST=[10.128.0.11]", "DAEMON_HOST=[10.128.0.50]")
                .Replace("PRIVATE_ADDRESS=10.128.0.11", "PRIVATE_ADDRESS=10.128.0.50");
            Assert.Equal(expected, Text(r.Content));
            Assert.Contains("-e PUBLIC_ADDRESS=35.202.38.158", Text(r.Content));
            Assert.Equal(3, r.Changes.Count);
        }

        [Fact]
        public void Unbracketed_operator_file_from_the_kb_page()
        {
            byte[] before = Sample("etc-default-replicated-operator-kb.txt");
            ReplicatedDefaultsRewrite r = ReplicatedDefaults.Rewrite(before, ReplicatedDefaultsFile.ReplicatedOperator, "10.0.2.7", "/etc/sysconfig/replicated-operator");
            Assert.Equal(Text(before).Replace("10.138.0.2", "10.0.2.7"), Text(r.Content));
        }

        [Fact]
        public void Local_address_inside_the_opts_and_crlf_line_endings_are_handled_byte_exact()
        {
            byte[] before = Sample("etc-default-replicated-2x-crlf.txt");
            ReplicatedDefaultsRewrite r = ReplicatedDefaults.Rewrite(before, ReplicatedDefaultsFile.Replicated, "10.0.2.7", "/etc/default/replicated");
            Assert.Equal(Text(before).Replace("10.138.0.2", "10.0.2.7"), Text(r.Content));
            Assert.Contains("REPLICATED_OPTS -e LOCAL_ADDRESS=10.138.0.2 -> 10.0.2.7", r.Changes);
            Assert.Equal(before.Count(b => b == (byte)'\r'), r.Content.Count(b => b == (byte)'\r'));
        }

        [Fact]
        public void A_second_run_changes_nothing()
        {
            byte[] once = ReplicatedDefaults.Rewrite(Sample("etc-default-replicated-operator.txt"), ReplicatedDefaultsFile.ReplicatedOperator, "10.128.0.50", "f").Content;
            ReplicatedDefaultsRewrite twice = ReplicatedDefaults.Rewrite(once, ReplicatedDefaultsFile.ReplicatedOperator, "10.128.0.50", "f");
            Assert.False(twice.Changed);
            Assert.Equal(once, twice.Content);
        }

        [Fact]
        public void Non_ascii_bytes_elsewhere_survive()
        {
            byte[] before = Encoding.Latin1.GetBytes("# caf\u00e9 \u00ff\nPRIVATE_ADDRESS=\"10.0.0.1\"\nX=1");
            byte[] after = ReplicatedDefaults.Rewrite(before, ReplicatedDefaultsFile.Replicated, "10.0.0.2", "f").Content;
            Assert.Equal(Encoding.Latin1.GetBytes("# caf\u00e9 \u00ff\nPRIVATE_ADDRESS=\"10.0.0.2\"\nX=1"), after);
        }

        [Theory]
        [InlineData("RELEASE_CHANNEL=stable\nREPLICATED_OPTS=\"\"\n", "PRIVATE_ADDRESS= line")]
        [InlineData("PRIVATE_ADDRESS=$(curl -s http://169.254.169.254/latest/meta-data/local-ipv4)\n", "PRIVATE_ADDRESS=$(curl")]
        [InlineData("PRIVATE_ADDRESS=10.0.0.1\nDAEMON_ENDPOINT=10.0.0.1\n", "address and port")]
        [InlineData("PRIVATE_ADDRESS=10.0.0.1\nREPLICATED_OPTS=\"-e LOCAL_ADDRESS=$IP\"\n", "-e LOCAL_ADDRESS=$IP")]
        public void An_unknown_format_is_a_clear_error(string content, string named)
        {
            var e = Assert.Throws<CcieException>(() => ReplicatedDefaults.Rewrite(Encoding.ASCII.GetBytes(content), ReplicatedDefaultsFile.ReplicatedOperator, "10.0.0.2", "/etc/default/replicated-operator"));
            Assert.Equal("ReplicatedDefaultsUnrecognised", e.ErrorId);
            Assert.Contains(named, e.Message);
            Assert.Contains("/etc/default/replicated-operator", e.Message);
            Assert.Contains("Nothing was changed", e.Message);
        }
    }
}
