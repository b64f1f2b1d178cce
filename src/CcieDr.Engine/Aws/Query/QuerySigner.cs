using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Amazon.Runtime;
using Amazon.Runtime.Internal.Auth;

namespace CcieDr.Engine.Aws.Query
{
    /// <summary>
    /// SigV4 for a Query-protocol POST: builds the canonical request (POST, path, no query string, the signed headers,
    /// the body's SHA-256) and has AWSSDK.Core's <see cref="AWS4Signer"/> compute the signature (key derivation and
    /// HMAC are the SDK's, not ours). Signed headers: content-type, host, x-amz-date and, for temporary
    /// credentials, x-amz-security-token.
    /// </summary>
    internal static class QuerySigner
    {
        internal const string ContentType = "application/x-www-form-urlencoded; charset=utf-8";

        /// <summary>The headers to send (Authorization, X-Amz-Date, X-Amz-Security-Token when a session token is used).</summary>
        internal static IReadOnlyDictionary<string, string> Sign(
            Uri endpoint, byte[] body, string contentType, ImmutableCredentials credentials, string region, string service, DateTime signedAt)
        {
            if (credentials is null)
            {
                throw new ArgumentNullException(nameof(credentials));
            }

            string amzDate = signedAt.ToUniversalTime().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            var headers = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["content-type"] = contentType,
                ["host"] = HostHeader(endpoint),
                ["x-amz-date"] = amzDate,
            };
            if (credentials.UseToken)
            {
                headers["x-amz-security-token"] = credentials.Token;
            }

            string signedHeaders = string.Join(";", headers.Keys);
            string path = string.IsNullOrEmpty(endpoint.AbsolutePath) ? "/" : endpoint.AbsolutePath;
            var canonical = new StringBuilder()
                .Append("POST\n")
                .Append(path).Append('\n')
                .Append('\n')
                .Append(string.Concat(headers.Select(h => h.Key + ":" + h.Value.Trim() + "\n")))
                .Append('\n')
                .Append(signedHeaders).Append('\n')
                .Append(ToHex(AWS4Signer.ComputeHash(body)))
                .ToString();

            AWS4SigningResult result = AWS4Signer.ComputeSignature(credentials, region, signedAt.ToUniversalTime(), service, signedHeaders, canonical);
            var send = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                ["Authorization"] = result.ForAuthorizationHeader,
                ["X-Amz-Date"] = amzDate,
            };
            if (credentials.UseToken)
            {
                send["X-Amz-Security-Token"] = credentials.Token;
            }

            return send;
        }

        /// <summary>Host as HttpClient sends it: the port only when it is not the scheme's default.</summary>
        internal static string HostHeader(Uri endpoint) =>
            endpoint.IsDefaultPort ? endpoint.Host : endpoint.Host + ":" + endpoint.Port.ToString(CultureInfo.InvariantCulture);

        private static string ToHex(byte[] bytes)
        {
            var sb = new StringBuilder(bytes.Length * 2);
            foreach (byte b in bytes)
            {
                sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }

            return sb.ToString();
        }
    }
}
