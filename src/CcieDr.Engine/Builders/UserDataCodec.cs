using System;
using System.IO;
using System.IO.Compression;
using System.Text;

namespace CcieDr.Engine.Builders
{
    /// <summary>User data as AWS stores it (base64, optionally gzip inside), decoded to text.</summary>
    internal sealed class DecodedUserData
    {
        public DecodedUserData(string text, bool gzip, int rawLength)
        {
            Text = text;
            Gzip = gzip;
            RawLength = rawLength;
        }

        /// <summary>The script or MIME document, exactly as its UTF-8 bytes say.</summary>
        public string Text { get; }

        /// <summary>True when the decoded bytes were a gzip stream (cloud-init accepts gzip user data).</summary>
        public bool Gzip { get; }

        /// <summary>The size AWS counts against its 16 KB user-data limit (the bytes before base64).</summary>
        public int RawLength { get; }
    }

    /// <summary>Decodes and encodes user data: base64 outside, gzip when the magic bytes say so, strict UTF-8 text.</summary>
    internal static class UserDataCodec
    {
        /// <summary>AWS's limit on user data before base64.</summary>
        public const int MaxRawBytes = 16384;

        private const int MaxTextBytes = 1024 * 1024;   // a gzip bomb guard: no builder script is a megabyte
        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        public static DecodedUserData Decode(string? base64, string source)
        {
            if (string.IsNullOrWhiteSpace(base64))
            {
                throw new CcieException("UserDataEmpty", CcieErrorCategory.InvalidData, $"{source} has no user data, so it cannot be a CircleCI builder configuration (builders need SERVICES_PRIVATE_IP in their user data). Check the group's launch template or launch configuration.", source);
            }

            byte[] raw;
            try
            {
                raw = Convert.FromBase64String(base64);
            }
            catch (FormatException e)
            {
                throw new CcieException("UserDataNotBase64", CcieErrorCategory.InvalidData, $"The user data of {source} is not valid base64, as AWS returns it; nothing was changed.", source, e);
            }

            bool gzip = raw.Length >= 3 && raw[0] == 0x1f && raw[1] == 0x8b && raw[2] == 0x08;
            byte[] text = gzip ? Gunzip(raw, source) : raw;
            return new DecodedUserData(ToText(text, source, gzip), gzip, raw.Length);
        }

        /// <summary>The base64 AWS takes for <paramref name="text"/>, gzip-compressed first when the original was.</summary>
        public static string Encode(string text, bool gzip, string source)
        {
            byte[] bytes = StrictUtf8.GetBytes(text);
            if (gzip)
            {
                using var buffer = new MemoryStream();
                using (var z = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
                {
                    z.Write(bytes, 0, bytes.Length);
                }

                bytes = buffer.ToArray();
            }

            if (bytes.Length > MaxRawBytes)
            {
                throw new CcieException("UserDataTooLarge", CcieErrorCategory.LimitsExceeded, $"The edited user data of {source} would be {bytes.Length} bytes{(gzip ? " gzip-compressed" : string.Empty)}; AWS allows {MaxRawBytes}. Nothing was changed: shorten the script (or gzip it) first.", source);
            }

            return Convert.ToBase64String(bytes);
        }

        private static byte[] Gunzip(byte[] raw, string source)
        {
            try
            {
                using var input = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
                using var output = new MemoryStream();
                var chunk = new byte[8192];
                int n;
                while ((n = input.Read(chunk, 0, chunk.Length)) > 0)
                {
                    output.Write(chunk, 0, n);
                    if (output.Length > MaxTextBytes)
                    {
                        throw new CcieException("UserDataBinary", CcieErrorCategory.InvalidData, $"The gzip user data of {source} expands beyond {MaxTextBytes / 1024} KB: not a builder script. Nothing was changed.", source);
                    }
                }

                if (output.Length == 0)
                {
                    throw new InvalidDataException("the stream is truncated or empty");
                }

                return output.ToArray();
            }
            catch (Exception e) when (e is InvalidDataException || e is EndOfStreamException)
            {
                throw new CcieException("UserDataBinary", CcieErrorCategory.InvalidData, $"The user data of {source} starts like gzip but does not decompress ({e.Message}). Nothing was changed.", source, e);
            }
        }

        private static string ToText(byte[] bytes, string source, bool gzip)
        {
            string text;
            try
            {
                text = StrictUtf8.GetString(bytes);
            }
            catch (DecoderFallbackException e)
            {
                throw new CcieException("UserDataBinary", CcieErrorCategory.InvalidData, $"The user data of {source}{(gzip ? " (after gunzip)" : string.Empty)} is not UTF-8 text (binary or another encoding); CcieDr edits only text scripts. Nothing was changed.", source, e);
            }

            if (text.IndexOf('\0') >= 0)
            {
                throw new CcieException("UserDataBinary", CcieErrorCategory.InvalidData, $"The user data of {source}{(gzip ? " (after gunzip)" : string.Empty)} holds NUL bytes: binary, not a script. Nothing was changed.", source);
            }

            return text;
        }
    }
}
