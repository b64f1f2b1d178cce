using System;
using System.IO;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace CcieDr.Engine.Builders
{
    /// <summary>
    /// Reads <c>SERVICES_PRIVATE_IP</c> from user data as AWS stores it (base64 of plain text or of gzip): the
    /// minimal reader Get-CcieBuilder needs. Shell assignments <c>SERVICES_PRIVATE_IP=…</c> and
    /// <c>export SERVICES_PRIVATE_IP=…</c>, quoted or not, anywhere in the text (cloud-init parts in plain text
    /// included). The full parser and editor of user data is UserData* (this one is to be unified with it).
    /// </summary>
    public static class BuilderServicesIp
    {
        public const string Variable = "SERVICES_PRIVATE_IP";

        private static readonly Regex Assignment = new Regex(
            @"^[ \t]*(?:export[ \t]+)?SERVICES_PRIVATE_IP[ \t]*=[ \t]*(?:""(?<v>[^""\r\n]*)""|'(?<v>[^'\r\n]*)'|(?<v>[^\s;#]*))",
            RegexOptions.Multiline | RegexOptions.CultureInvariant);

        /// <summary>The text of base64 user data (gunzipped when it is gzip); null when it is empty or not base64.</summary>
        public static string? Decode(string? userDataBase64)
        {
            if (string.IsNullOrWhiteSpace(userDataBase64))
            {
                return null;
            }

            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(userDataBase64!.Trim());
            }
            catch (FormatException)
            {
                return null;
            }

            if (bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
            {
                using var input = new MemoryStream(bytes);
                using var gzip = new GZipStream(input, CompressionMode.Decompress);
                using var output = new MemoryStream();
                gzip.CopyTo(output);
                bytes = output.ToArray();
            }

            return Encoding.UTF8.GetString(bytes);
        }

        /// <summary>The last SERVICES_PRIVATE_IP assigned in <paramref name="text"/> (the one a shell ends with), or null.</summary>
        public static string? Find(string? text)
        {
            if (text is null)
            {
                return null;
            }

            string? value = null;
            foreach (Match m in Assignment.Matches(text))
            {
                string v = m.Groups["v"].Value.Trim();
                if (v.Length > 0)
                {
                    value = v;
                }
            }

            return value;
        }

        /// <summary>SERVICES_PRIVATE_IP of base64 user data, or null.</summary>
        public static string? FromUserData(string? userDataBase64) => Find(Decode(userDataBase64));
    }
}
