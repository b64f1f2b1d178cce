using CcieDr.Engine.Operations;
using Xunit;

namespace CcieDr.Engine.Tests.Archive
{
    public class SecretMaskTests
    {
        [Theory]
        [InlineData("API_TOKEN=s3cr3t-value-123", "s3cr3t-value-123")]
        [InlineData("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI/K7MDENG")]
        [InlineData("DB_PASSWORD='hunter2hunter2'", "hunter2hunter2")]
        [InlineData("gpg --passphrase=correct-horse", "correct-horse")]
        [InlineData("password: p@ss-w0rd", "p@ss-w0rd")]
        [InlineData("Password = topsecret", "topsecret")]
        [InlineData("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc", "eyJhbGciOiJIUzI1NiJ9.abc")]
        [InlineData("key id AKIAIOSFODNN7EXAMPLE in use", "AKIAIOSFODNN7EXAMPLE")]
        [InlineData("MY_API_KEY=abc123 other", "abc123")]
        public void Masks_The_Secret_Value(string text, string secret)
        {
            string masked = SecretMask.Apply(text);
            Assert.DoesNotContain(secret, masked);
            Assert.Contains(SecretMask.Mask, masked);
        }

        [Theory]
        [InlineData("backup finished: 12 files, 3 MiB")]
        [InlineData("exit code 1")]
        [InlineData("")]
        public void Leaves_Ordinary_Text_Alone(string text)
        {
            Assert.Equal(text, SecretMask.Apply(text));
        }

        [Fact]
        public void Keeps_The_Name_So_The_Reader_Knows_What_Was_Masked()
        {
            Assert.Equal("API_TOKEN=" + SecretMask.Mask + " done", SecretMask.Apply("API_TOKEN=s3cr3t-value-123 done"));
        }

        [Fact]
        public void LastLine_Is_The_Last_Nonblank_Line_Masked()
        {
            string output = "starting\nAPI_TOKEN=s3cr3t-value-123\nfailed: PASSWORD=abc\n\n";
            string last = SecretMask.LastLine(output);
            Assert.Equal("failed: PASSWORD=" + SecretMask.Mask, last);
            Assert.DoesNotContain("s3cr3t-value-123", last);
            Assert.Equal(string.Empty, SecretMask.LastLine(null));
        }

        [Fact]
        public void LastLine_Is_Bounded()
        {
            Assert.True(SecretMask.LastLine(new string('x', 5000), 100).Length <= 103);
        }
    }
}
