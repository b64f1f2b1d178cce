using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using CcieDr.Engine;
using CcieDr.Engine.Builders;
using Xunit;

namespace CcieDr.Engine.Tests.Builders
{
    public class UserDataEditorTests
    {
        private const string NewIp = "10.0.2.20";
        private const string NewPass = "new-pass-7f3a9c";
        private const string Src = "launch template lt-test version 1";

        // What the simulator seeds (src/CcieDr.Simulator/Seeder.cs BuilderUserDataText).
        private const string Seeded =
            "#!/bin/bash\n# CircleCI Enterprise builder bootstrap\nSERVICES_PRIVATE_IP=10.0.1.10\nCIRCLE_SECRET_PASSPHRASE=sim-passphrase-not-a-secret\n"
            + "export SERVICES_PRIVATE_IP CIRCLE_SECRET_PASSPHRASE\ncurl -sSL https://s3.amazonaws.com/circleci-enterprise/init-builder-0.2.sh | bash\n";

        private const string PrintVars = "bash -c 'printf \"%s|%s\" \"$SERVICES_PRIVATE_IP\" \"${CIRCLE_SECRET_PASSPHRASE-unset}\"'";

        private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

        private static string Text(string b64) => Encoding.UTF8.GetString(Convert.FromBase64String(b64));

        private static string Sample(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Builders", "Data", name));

        private static UserDataEdit Edit(string text, string? pass = NewPass) => UserDataEditor.Edit(B64(text), NewIp, pass, Src);

        /// <summary>Runs a script with bash (no network: the scripts here only print) and returns stdout.</summary>
        private static string RunBash(string script)
        {
            string path = Path.Combine(Path.GetTempPath(), "ccie-ud-" + Guid.NewGuid().ToString("n") + ".sh");
            File.WriteAllText(path, script);
            try
            {
                var psi = new ProcessStartInfo("/bin/bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                psi.ArgumentList.Add(path);
                psi.Environment.Remove("SERVICES_PRIVATE_IP");
                psi.Environment.Remove("CIRCLE_SECRET_PASSPHRASE");
                using var p = Process.Start(psi)!;
                string stdout = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, "bash failed: " + p.StandardError.ReadToEnd());
                return stdout;
            }
            finally
            {
                File.Delete(path);
            }
        }

        [Fact]
        public void Seeded_script_changes_only_the_two_values()
        {
            UserDataEdit e = Edit(Seeded);
            Assert.True(e.Changed);
            Assert.Equal(Seeded.Replace("10.0.1.10", NewIp).Replace("sim-passphrase-not-a-secret", NewPass), Text(e.UserData));
            Assert.Equal(new[] { "Replaced", "Replaced" }, e.Changes.Select(c => c.Action));
            Assert.All(e.Changes, c => Assert.Equal(UserDataVariableForm.Assignment, c.Form));
            Assert.Equal("10.0.1.10", e.Before.ServicesPrivateIp);
            Assert.Equal(NewIp, e.After.ServicesPrivateIp);
            Assert.True(e.After.HasSecretPassphrase);
            Assert.Equal("ShellScript", e.After.Format);
            Assert.False(e.After.Gzip);
        }

        [Fact]
        public void Export_forms_keep_their_quotes_and_bash_sees_the_new_values()
        {
            string script = "#!/bin/bash\nexport SERVICES_PRIVATE_IP=\"10.0.1.10\"\n  export CIRCLE_SECRET_PASSPHRASE='old'\n" + PrintVars + "\n";
            UserDataEdit e = Edit(script);
            string edited = Text(e.UserData);
            Assert.Equal("#!/bin/bash\nexport SERVICES_PRIVATE_IP=\"10.0.2.20\"\n  export CIRCLE_SECRET_PASSPHRASE='new-pass-7f3a9c'\n" + PrintVars + "\n", edited);
            Assert.All(e.Changes, c => Assert.Equal(UserDataVariableForm.Export, c.Form));
            Assert.Equal(NewIp + "|" + NewPass, RunBash(edited));
        }

        [Fact]
        public void Duplicates_with_one_value_are_all_replaced()
        {
            string script = "#!/bin/sh\nSERVICES_PRIVATE_IP=10.0.1.10\nif true; then SERVICES_PRIVATE_IP=10.0.1.10; fi\necho done\n";
            UserDataEdit e = Edit(script, null);
            Assert.Equal(script.Replace("10.0.1.10", NewIp), Text(e.UserData));
            UserDataChange ip = Assert.Single(e.Changes);
            Assert.Equal(2, ip.Occurrences);
            Assert.Equal("line 2", ip.Location);
        }

        [Fact]
        public void Duplicates_that_disagree_are_refused_without_showing_a_passphrase()
        {
            var ex = Assert.Throws<CcieException>(() => Edit("#!/bin/bash\nSERVICES_PRIVATE_IP=10.0.1.10\nSERVICES_PRIVATE_IP=10.0.1.11\n"));
            Assert.Equal("UserDataAmbiguous", ex.ErrorId);
            Assert.Contains("line 2 = 10.0.1.10; line 3 = 10.0.1.11", ex.Message, StringComparison.Ordinal);

            var pass = Assert.Throws<CcieException>(() => Edit("#!/bin/bash\nSERVICES_PRIVATE_IP=10.0.1.10\nCIRCLE_SECRET_PASSPHRASE=alpha-one\nCIRCLE_SECRET_PASSPHRASE=beta-two\n"));
            Assert.Equal("UserDataAmbiguous", pass.ErrorId);
            Assert.DoesNotContain("alpha-one", pass.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("beta-two", pass.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Comments_lookalike_names_and_bare_exports_are_left_alone()
        {
            string script = "#!/bin/bash\n# SERVICES_PRIVATE_IP=1.2.3.4 was the old box\nMY_SERVICES_PRIVATE_IP=1.2.3.4\nSERVICES_PRIVATE_IP_OLD=1.2.3.4\n"
                + "SERVICES_PRIVATE_IP=10.0.1.10 # the box\nexport SERVICES_PRIVATE_IP\necho \"$SERVICES_PRIVATE_IP\"\n";
            UserDataEdit e = Edit(script, null);
            Assert.Equal(script.Replace("=10.0.1.10 #", "=10.0.2.20 #"), Text(e.UserData));
            Assert.Equal(1, e.Changes[0].Occurrences);
        }

        [Fact]
        public void Terraform_docker_form_is_edited_in_place_and_the_iptables_rule_is_reported()
        {
            string script = Sample("terraform-docker.sh");
            UserDataEdit e = Edit(script);
            string edited = Text(e.UserData);
            Assert.Equal(
                script.Replace("-e CIRCLE_SECRET_PASSPHRASE='tf-old-passphrase'", "-e CIRCLE_SECRET_PASSPHRASE='new-pass-7f3a9c'")
                      .Replace("-e SERVICES_PRIVATE_IP='10.0.1.10'", "-e SERVICES_PRIVATE_IP='10.0.2.20'"),
                edited);
            Assert.Contains("-d 10.0.1.10 -p tcp", edited, StringComparison.Ordinal);   // not an assignment: left as it was
            Assert.All(e.Changes, c => Assert.Equal(UserDataVariableForm.DockerEnv, c.Form));
            string warning = Assert.Single(e.Warnings);
            Assert.Contains("10.0.1.10", warning, StringComparison.Ordinal);
            Assert.Contains("line 20", warning, StringComparison.Ordinal);
        }

        [Fact]
        public void Docker_form_gets_a_missing_passphrase_as_another_env_flag()
        {
            string script = "#!/bin/bash\ndocker run -d \\\n  -e \"SERVICES_PRIVATE_IP=10.0.1.10\" \\\n  circleci/builder-base:1.1\n";
            UserDataEdit e = Edit(script);
            Assert.Equal("#!/bin/bash\ndocker run -d \\\n  -e \"SERVICES_PRIVATE_IP=10.0.2.20\" -e \"CIRCLE_SECRET_PASSPHRASE=new-pass-7f3a9c\" \\\n  circleci/builder-base:1.1\n", Text(e.UserData));
            Assert.Equal("Added", e.Changes[1].Action);
            Assert.Equal(UserDataVariableForm.DockerEnv, e.Changes[1].Form);
        }

        [Fact]
        public void Terraform_lxc_prefix_form_reaches_the_command()
        {
            string script = Sample("terraform-lxc.sh");
            UserDataEdit e = Edit(script);
            Assert.Equal(script.Replace("'10.0.1.10'", "'10.0.2.20'").Replace("'lxc-old-passphrase'", "'new-pass-7f3a9c'"), Text(e.UserData));
            Assert.All(e.Changes, c => Assert.Equal(UserDataVariableForm.CommandPrefix, c.Form));

            string runnable = "#!/bin/bash\nSERVICES_PRIVATE_IP='10.0.1.10' CIRCLE_SECRET_PASSPHRASE='lxc-old' " + PrintVars + "\n";
            Assert.Equal(NewIp + "|" + NewPass, RunBash(Text(Edit(runnable).UserData)));
        }

        [Fact]
        public void Docs_pipe_form_gets_the_passphrase_on_the_continued_line_and_bash_sees_both()
        {
            string script = Sample("docs-curl-pipe.sh");
            UserDataEdit e = Edit(script);
            Assert.Equal(script.Replace("    SERVICES_PRIVATE_IP=10.0.1.10 \\", "    SERVICES_PRIVATE_IP=10.0.2.20 CIRCLE_SECRET_PASSPHRASE=new-pass-7f3a9c \\"), Text(e.UserData));
            Assert.Equal(UserDataVariableForm.CommandPrefix, e.Changes[0].Form);
            Assert.Equal("Added", e.Changes[1].Action);
            Assert.False(e.Before.HasSecretPassphrase);
            Assert.True(e.After.HasSecretPassphrase);

            string runnable = "#!/bin/bash\necho ignored | \\\n    SERVICES_PRIVATE_IP=10.0.1.10 \\\n    " + PrintVars + "\n";
            Assert.Equal(NewIp + "|" + NewPass, RunBash(Text(Edit(runnable).UserData)));
        }

        [Fact]
        public void A_missing_passphrase_is_exported_after_a_plain_assignment()
        {
            string script = "#!/bin/bash\r\nSERVICES_PRIVATE_IP=10.0.1.10\r\nexport SERVICES_PRIVATE_IP\r\n" + PrintVars + "\r\n";
            UserDataEdit e = Edit(script);
            string edited = Text(e.UserData);
            Assert.Equal("#!/bin/bash\r\nSERVICES_PRIVATE_IP=10.0.2.20\r\nexport CIRCLE_SECRET_PASSPHRASE=new-pass-7f3a9c\r\nexport SERVICES_PRIVATE_IP\r\n" + PrintVars + "\r\n", edited);
            Assert.Equal("line 3", e.Changes[1].Location);
            Assert.Equal(NewIp + "|" + NewPass, RunBash(edited.Replace("\r\n", "\n")));
        }

        [Fact]
        public void Neither_variable_set_adds_both_after_the_shebang()
        {
            string script = "#!/usr/bin/env bash\n" + PrintVars + "\n";
            UserDataEdit e = Edit(script);
            string edited = Text(e.UserData);
            Assert.Equal("#!/usr/bin/env bash\nexport SERVICES_PRIVATE_IP=10.0.2.20\nexport CIRCLE_SECRET_PASSPHRASE='new-pass-7f3a9c'\n" + PrintVars + "\n", edited);
            Assert.Null(e.Before.ServicesPrivateIp);
            Assert.Equal(NewIp + "|" + NewPass, RunBash(edited));
        }

        [Fact]
        public void A_passphrase_with_shell_characters_is_quoted_and_survives_bash()
        {
            const string hard = "it's $HOME `x` \"q\" \\ end";
            foreach (string line in new[] { "CIRCLE_SECRET_PASSPHRASE=old", "CIRCLE_SECRET_PASSPHRASE='old'", "CIRCLE_SECRET_PASSPHRASE=\"old\"" })
            {
                string script = "#!/bin/bash\nexport SERVICES_PRIVATE_IP=10.0.1.10\nexport " + line + "\n" + PrintVars + "\n";
                string edited = Text(UserDataEditor.Edit(B64(script), NewIp, hard, Src).UserData);
                Assert.Equal(NewIp + "|" + hard, RunBash(edited));
                Assert.Equal(hard.Length > 0, UserDataReader.Read(B64(edited), Src).HasSecretPassphrase);
            }
        }

        [Theory]
        [InlineData("SERVICES_PRIVATE_IP=$(curl -s http://169.254.169.254/latest/meta-data/local-ipv4)")]
        [InlineData("SERVICES_PRIVATE_IP='${services_private_ip}'x")]
        [InlineData("SERVICES_PRIVATE_IP=\"${services_private_ip}\"")]
        [InlineData("SERVICES_PRIVATE_IP=${SERVICES_IP}")]
        [InlineData("SERVICES_PRIVATE_IP=`cat /etc/services-ip`")]
        [InlineData("SERVICES_PRIVATE_IP='10.0.1.10")]
        [InlineData("SERVICES_PRIVATE_IP=\"10.0.1.10")]
        public void Computed_or_unclosed_values_are_refused(string line)
        {
            string original = "#!/bin/bash\n" + line + "\nbash init.sh\n";
            var ex = Assert.Throws<CcieException>(() => Edit(original));
            Assert.Equal("UserDataAmbiguous", ex.ErrorId);
            Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Nothing was changed", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void A_computed_passphrase_is_refused_without_showing_any_of_it()
        {
            var ex = Assert.Throws<CcieException>(() => Edit("#!/bin/bash\nSERVICES_PRIVATE_IP=10.0.1.10\nCIRCLE_SECRET_PASSPHRASE=topsecret$(cat /x)\n"));
            Assert.Equal("UserDataAmbiguous", ex.ErrorId);
            Assert.DoesNotContain("topsecret", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Gzip_user_data_comes_back_gzip_with_only_the_values_changed()
        {
            byte[] gz;
            using (var ms = new MemoryStream())
            {
                using (var z = new GZipStream(ms, CompressionLevel.Optimal, true))
                {
                    byte[] b = Encoding.UTF8.GetBytes(Seeded);
                    z.Write(b, 0, b.Length);
                }

                gz = ms.ToArray();
            }

            UserDataEdit e = UserDataEditor.Edit(Convert.ToBase64String(gz), NewIp, NewPass, Src);
            byte[] raw = Convert.FromBase64String(e.UserData);
            Assert.Equal(new byte[] { 0x1f, 0x8b, 0x08 }, raw.Take(3).ToArray());
            using var unz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var reader = new StreamReader(unz, Encoding.UTF8);
            Assert.Equal(Seeded.Replace("10.0.1.10", NewIp).Replace("sim-passphrase-not-a-secret", NewPass), reader.ReadToEnd());
            Assert.True(e.Before.Gzip);
            Assert.True(e.After.Gzip);
        }

        [Fact]
        public void Mime_multipart_edits_only_the_shell_part()
        {
            string doc = Sample("cloud-init-mime.txt");
            UserDataEdit e = Edit(doc);
            string edited = Text(e.UserData);
            Assert.Equal(doc.Replace("export SERVICES_PRIVATE_IP=\"10.0.1.10\"", "export SERVICES_PRIVATE_IP=\"10.0.2.20\"").Replace("\"mime-old-passphrase\"", "\"new-pass-7f3a9c\""), edited);
            Assert.Equal("MimeMultipart", e.After.Format);
            Assert.Equal(1, e.After.ShellParts);
            Assert.StartsWith("MIME part 2 (text/x-shellscript), line 3", e.Changes[0].Location, StringComparison.Ordinal);
            Assert.Contains(e.Warnings, w => w.Contains("MIME part 1 (text/cloud-config) also mentions", StringComparison.Ordinal));
        }

        [Fact]
        public void Mime_base64_shell_part_is_re_encoded_with_its_layout_and_crlf_kept()
        {
            string script = "#!/bin/bash\nexport SERVICES_PRIVATE_IP=10.0.1.10\nexport CIRCLE_SECRET_PASSPHRASE=old-one\n" + new string('#', 120) + "\nbash /opt/init.sh\n";
            string b64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(script));
            string wrapped = string.Join("\r\n", Enumerable.Range(0, (b64.Length + 75) / 76).Select(i => b64.Substring(i * 76, Math.Min(76, b64.Length - (i * 76)))));
            string head = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XYZ\r\n\r\nPreamble.\r\n--XYZ\r\nContent-Type: text/cloud-config\r\n\r\n#cloud-config\r\nruncmd: [ls]\r\n--XYZ\r\nContent-Type: text/x-shellscript\r\nContent-Transfer-Encoding: base64\r\n\r\n";
            string tail = "\r\n--XYZ--\r\nEpilogue\r\n";
            UserDataEdit e = Edit(head + wrapped + tail);
            string edited = Text(e.UserData);
            Assert.StartsWith(head, edited, StringComparison.Ordinal);
            Assert.EndsWith(tail, edited, StringComparison.Ordinal);
            string body = edited.Substring(head.Length, edited.Length - head.Length - tail.Length);
            string[] lines = body.Split("\r\n");
            Assert.All(lines.Take(lines.Length - 1), l => Assert.Equal(76, l.Length));
            Assert.Equal(script.Replace("10.0.1.10", NewIp).Replace("old-one", NewPass), Encoding.UTF8.GetString(Convert.FromBase64String(body.Replace("\r\n", string.Empty))));
        }

        [Fact]
        public void Mime_without_a_shell_part_is_refused()
        {
            string doc = "Content-Type: multipart/mixed; boundary=\"b\"\nMIME-Version: 1.0\n\n--b\nContent-Type: text/cloud-config\n\n#cloud-config\nruncmd:\n  - SERVICES_PRIVATE_IP=10.0.1.10 bash /init.sh\n--b--\n";
            var ex = Assert.Throws<CcieException>(() => Edit(doc));
            Assert.Equal("UserDataNoShellPart", ex.ErrorId);
            Assert.Contains("text/cloud-config", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Mime_quoted_printable_shell_part_is_refused()
        {
            string doc = "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/x-shellscript\nContent-Transfer-Encoding: quoted-printable\n\n#!/bin/bash\nSERVICES_PRIVATE_IP=3D10.0.1.10\n--b--\n";
            Assert.Equal("UserDataUnsupported", Assert.Throws<CcieException>(() => Edit(doc)).ErrorId);
        }

        [Theory]
        [InlineData("#cloud-config\nruncmd: [ls]\n", "UserDataNoShellPart")]
        [InlineData("#!/usr/bin/python3\nprint('SERVICES_PRIVATE_IP=10.0.1.10')\n", "UserDataNoShellPart")]
        [InlineData("SERVICES_PRIVATE_IP=10.0.1.10\n", "UserDataNoShellPart")]
        [InlineData("<powershell>\n$x = 1\n</powershell>\n", "UserDataNoShellPart")]
        [InlineData("Content-Type: text/plain\n\nhello\n", "UserDataMimeInvalid")]
        [InlineData("Content-Type: multipart/mixed\n\nhello\n", "UserDataMimeInvalid")]
        public void What_is_not_a_shell_script_is_refused(string text, string errorId)
        {
            Assert.Equal(errorId, Assert.Throws<CcieException>(() => Edit(text)).ErrorId);
        }

        [Fact]
        public void Binary_empty_or_non_base64_user_data_is_refused()
        {
            Assert.Equal("UserDataBinary", Assert.Throws<CcieException>(() => UserDataEditor.Edit(Convert.ToBase64String(new byte[] { 0x23, 0x21, 0xff, 0xfe, 0x00, 0x01 }), NewIp, null, Src)).ErrorId);
            Assert.Equal("UserDataBinary", Assert.Throws<CcieException>(() => UserDataEditor.Edit(Convert.ToBase64String(new byte[] { 0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02 }), NewIp, null, Src)).ErrorId);
            Assert.Equal("UserDataBinary", Assert.Throws<CcieException>(() => UserDataEditor.Edit(B64("#!/bin/bash\n\0x\n"), NewIp, null, Src)).ErrorId);
            Assert.Equal("UserDataEmpty", Assert.Throws<CcieException>(() => UserDataEditor.Edit(string.Empty, NewIp, null, Src)).ErrorId);
            Assert.Equal("UserDataNotBase64", Assert.Throws<CcieException>(() => UserDataEditor.Edit("#!/bin/bash", NewIp, null, Src)).ErrorId);
        }

        [Fact]
        public void Masked_diff_shows_the_changed_lines_and_never_a_passphrase()
        {
            string script = "#!/bin/bash\nSERVICES_PRIVATE_IP='10.0.1.10' CIRCLE_SECRET_PASSPHRASE='old-secret-value' bash init.sh\necho ok\n";
            UserDataEdit e = Edit(script);
            Assert.Equal(
                "--- the script\n+++ the script (new)\n@@ line 2 @@\n-SERVICES_PRIVATE_IP='10.0.1.10' CIRCLE_SECRET_PASSPHRASE='******' bash init.sh\n+SERVICES_PRIVATE_IP='10.0.2.20' CIRCLE_SECRET_PASSPHRASE='******' bash init.sh\n",
                e.MaskedDiff);

            // IP only: the untouched old passphrase on the same line is masked too.
            UserDataEdit ipOnly = Edit(script, null);
            Assert.DoesNotContain("old-secret-value", ipOnly.MaskedDiff, StringComparison.Ordinal);
            Assert.Contains("+SERVICES_PRIVATE_IP='10.0.2.20' CIRCLE_SECRET_PASSPHRASE='******'", ipOnly.MaskedDiff, StringComparison.Ordinal);
            Assert.Contains("old-secret-value", Text(ipOnly.UserData), StringComparison.Ordinal);   // left as it was
        }

        [Fact]
        public void Masked_diff_for_an_added_line()
        {
            UserDataEdit e = Edit("#!/bin/bash\nSERVICES_PRIVATE_IP=10.0.1.10\nbash x\n");
            Assert.Equal("--- the script\n+++ the script (new)\n@@ line 2 @@\n-SERVICES_PRIVATE_IP=10.0.1.10\n+SERVICES_PRIVATE_IP=10.0.2.20\n+export CIRCLE_SECRET_PASSPHRASE=******\n", e.MaskedDiff);
        }

        [Fact]
        public void Already_configured_user_data_is_unchanged()
        {
            string b64 = B64(Seeded);
            UserDataEdit e = UserDataEditor.Edit(b64, "10.0.1.10", "sim-passphrase-not-a-secret", Src);
            Assert.False(e.Changed);
            Assert.Same(b64, e.UserData);
            Assert.Equal(string.Empty, e.MaskedDiff);
            Assert.All(e.Changes, c => Assert.Equal("Unchanged", c.Action));
        }

        [Fact]
        public void A_host_name_is_accepted_and_bad_addresses_are_not()
        {
            Assert.Equal("circleci-services.internal.example", UserDataReader.Read(UserDataEditor.Edit(B64(Seeded), "circleci-services.internal.example", null, Src).UserData, Src).ServicesPrivateIp);
            foreach (string bad in new[] { "", "10.0.1", "10.0.1.256", "999.1.1.1", "10.0.1.10 ; rm -rf /", "fe80::1", "a_b.example" })
            {
                Assert.Equal("ServicesPrivateIpInvalid", Assert.Throws<CcieException>(() => UserDataEditor.Edit(B64(Seeded), bad, null, Src)).ErrorId);
            }

            Assert.Equal("SecretPassphraseInvalid", Assert.Throws<CcieException>(() => UserDataEditor.Edit(B64(Seeded), NewIp, "two\nlines", Src)).ErrorId);
        }

        [Fact]
        public void Too_large_a_result_is_refused()
        {
            string big = "#!/bin/bash\nSERVICES_PRIVATE_IP=1.2.3.4\n" + new string('#', UserDataCodec.MaxRawBytes - 41) + "\n";
            Assert.True(Encoding.UTF8.GetByteCount(big) <= UserDataCodec.MaxRawBytes);
            Assert.Equal("UserDataTooLarge", Assert.Throws<CcieException>(() => UserDataEditor.Edit(B64(big), "100.200.100.200", NewPass, Src)).ErrorId);
        }

        [Fact]
        public void Reader_reports_ip_and_passphrase_presence()
        {
            BuilderUserDataInfo info = UserDataReader.Read(B64(Seeded), Src);
            Assert.Equal("10.0.1.10", info.ServicesPrivateIp);
            Assert.True(info.HasSecretPassphrase);
            Assert.Equal(new[] { "line 3", "line 4" }, info.Locations);
            Assert.DoesNotContain("sim-passphrase", info.ToString(), StringComparison.Ordinal);

            BuilderUserDataInfo none = UserDataReader.Read(B64("#!/bin/bash\nSERVICES_PRIVATE_IP=10.0.1.10\nCIRCLE_SECRET_PASSPHRASE=\n"), Src);
            Assert.False(none.HasSecretPassphrase);

            Assert.Null(UserDataReader.TryRead("#cloud-config", Src, out string? problem));
            Assert.Contains("base64", problem, StringComparison.Ordinal);
            Assert.NotNull(UserDataReader.TryRead(B64(Seeded), Src, out string? fine));
            Assert.Null(fine);
        }

        [Fact]
        public void Utf8_and_unusual_bytes_elsewhere_survive()
        {
            string script = "\uFEFF#!/bin/bash\n# Grüße — ✓\tTab \u00a0nbsp\nSERVICES_PRIVATE_IP=10.0.1.10\r\necho 'ünïcödé'";
            Assert.False(UserDataDocument.IsShellScript(script));   // a BOM before #! is not a script for cloud-init
            string noBom = script.Substring(1);
            Assert.Equal(noBom.Replace("10.0.1.10", NewIp), Text(Edit(noBom, null).UserData));
        }
    

        [Fact]
        public void Mime_with_several_shell_parts_edits_the_one_that_sets_the_variables()
        {
            string doc = "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/x-shellscript\n\n#!/bin/bash\napt-get update\n"
                + "--b\nContent-Type: text/plain\n\n#!/bin/sh\nexport SERVICES_PRIVATE_IP=10.0.1.10\nexec /opt/init.sh\n--b--\n";
            UserDataEdit e = Edit(doc);
            Assert.Equal(doc.Replace("export SERVICES_PRIVATE_IP=10.0.1.10\n", "export SERVICES_PRIVATE_IP=10.0.2.20\nexport CIRCLE_SECRET_PASSPHRASE=new-pass-7f3a9c\n"), Text(e.UserData));
            Assert.Equal(2, e.After.ShellParts);
            Assert.Equal("MIME part 2 (text/plain), line 3", e.Changes[1].Location);
        }
    }
}
