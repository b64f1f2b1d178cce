using CcieDr.Engine.Remote;
using Xunit;

namespace CcieDr.Engine.Tests.Remote
{
    public sealed class KnownHostsTests : IDisposable
    {
        // Two ed25519 public keys made with ssh-keygen; hashed lines made with ssh-keygen -H; fingerprints from ssh-keygen -l.
        private const string Key1 = "AAAAC3NzaC1lZDI1NTE5AAAAIM0LWzzlVhhyVkSvCM/iYNLLuF6wRV5fntFaE+9FMNoq";
        private const string Key1Fingerprint = "SHA256:X5/NKGV2Y60mk0P3+VMBw+/21bQJ3U5PpCu2D49eKXw";
        private const string Key2 = "AAAAC3NzaC1lZDI1NTE5AAAAIHiA79zOxCs3F//GpMlrsNyDzhCNcEXUZ1ef7FAugjfN";
        private const string Key2Fingerprint = "SHA256:u7eVp+zfeG9vDqwFOpkd3SRT01KVK7YiyHh0YI3a2k8";
        private const string HashedBoxExample = "|1|ITY74IG0eUaDD+qokX7601fF550=|abFVfkEUHgezLbIvqEXg3XTwwIo= ssh-ed25519 " + Key1;
        private const string HashedLoopback2222 = "|1|BHtHV+FXj1xpL1nAIVrc27xWBKk=|+fimBrIGJrf4e5OKc6KvElDVJYU= ssh-ed25519 " + Key2;

        private readonly string _dir = Directory.CreateTempSubdirectory("ccie-kh-").FullName;

        public void Dispose() => Directory.Delete(_dir, true);

        private KnownHosts Write(params string[] lines)
        {
            string path = Path.Combine(_dir, "known_hosts");
            File.WriteAllLines(path, lines);
            return KnownHosts.Load(path);
        }

        private static byte[] Blob(string b64) => Convert.FromBase64String(b64);

        [Fact]
        public void Fingerprint_is_what_ssh_keygen_prints()
        {
            Assert.Equal(Key1Fingerprint, KnownHosts.Fingerprint(Blob(Key1)));
            Assert.Equal(Key2Fingerprint, KnownHosts.Fingerprint(Blob(Key2)));
            Assert.Equal("ssh-ed25519", KnownHosts.KeyTypeOf(Blob(Key1)));
        }

        [Fact]
        public void Plain_entry_with_the_same_key_is_trusted_and_case_insensitive()
        {
            KnownHosts kh = Write("# comment", "", "box.example,10.0.1.15 ssh-ed25519 " + Key1 + " comment");
            Assert.Equal(HostKeyVerdict.Trusted, kh.Check("10.0.1.15", 22, Blob(Key1)).Verdict);
            Assert.Equal(HostKeyVerdict.Trusted, kh.Check("BOX.example", 22, Blob(Key1)).Verdict);
            Assert.Equal(HostKeyVerdict.Unknown, kh.Check("10.0.1.16", 22, Blob(Key1)).Verdict);
        }

        [Fact]
        public void Port_other_than_22_needs_the_bracket_form()
        {
            KnownHosts kh = Write("[127.0.0.1]:2222 ssh-ed25519 " + Key2);
            Assert.Equal(HostKeyVerdict.Trusted, kh.Check("127.0.0.1", 2222, Blob(Key2)).Verdict);
            Assert.Equal(HostKeyVerdict.Unknown, kh.Check("127.0.0.1", 22, Blob(Key2)).Verdict);
        }

        [Fact]
        public void Hashed_entries_made_by_ssh_keygen_match_their_host_only()
        {
            KnownHosts kh = Write(HashedBoxExample, HashedLoopback2222);
            Assert.Equal(HostKeyVerdict.Trusted, kh.Check("box.example", 22, Blob(Key1)).Verdict);
            Assert.Equal(HostKeyVerdict.Trusted, kh.Check("127.0.0.1", 2222, Blob(Key2)).Verdict);
            Assert.Equal(HostKeyVerdict.Unknown, kh.Check("box.example2", 22, Blob(Key1)).Verdict);
        }

        [Fact]
        public void Changed_key_names_the_line_that_holds_the_old_one()
        {
            KnownHosts kh = Write("other ssh-ed25519 " + Key2, HashedBoxExample);
            HostKeyCheck check = kh.Check("box.example", 22, Blob(Key2));
            Assert.Equal(HostKeyVerdict.Changed, check.Verdict);
            Assert.Equal(2, check.Entry!.Line);
        }

        [Fact]
        public void Wildcards_and_negation_follow_openssh()
        {
            KnownHosts kh = Write("10.0.1.*,!10.0.1.99 ssh-ed25519 " + Key1);
            Assert.Equal(HostKeyVerdict.Trusted, kh.Check("10.0.1.15", 22, Blob(Key1)).Verdict);
            Assert.Equal(HostKeyVerdict.Unknown, kh.Check("10.0.1.99", 22, Blob(Key1)).Verdict);
            Assert.Equal(HostKeyVerdict.Changed, kh.Check("10.0.1.7", 22, Blob(Key2)).Verdict);
        }

        [Fact]
        public void Revoked_key_is_refused_even_when_also_listed()
        {
            KnownHosts kh = Write("box.example ssh-ed25519 " + Key1, "@revoked * ssh-ed25519 " + Key1);
            Assert.Equal(HostKeyVerdict.Revoked, kh.Check("box.example", 22, Blob(Key1)).Verdict);
        }

        [Fact]
        public void Append_records_a_line_that_ssh_keygen_would_find_and_that_is_then_trusted()
        {
            string path = Path.Combine(_dir, "sub", "known_hosts");
            KnownHosts.Load(path).Append("127.0.0.1", 2222, Blob(Key2));
            Assert.Equal("[127.0.0.1]:2222 ssh-ed25519 " + Key2, File.ReadAllText(path).Trim());
            Assert.Equal(HostKeyVerdict.Trusted, KnownHosts.Load(path).Check("127.0.0.1", 2222, Blob(Key2)).Verdict);
        }

        [Fact]
        public void Garbage_lines_are_skipped()
        {
            KnownHosts kh = Write("not a valid line", "host ssh-ed25519 !!!notbase64", "box.example ssh-ed25519 " + Key1);
            Assert.Single(kh.Entries);
            Assert.Equal(3, kh.Entries[0].Line);
        }
    }
}
