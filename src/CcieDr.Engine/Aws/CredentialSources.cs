using System;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Amazon.Runtime.CredentialManagement;

namespace CcieDr.Engine.Aws
{
    /// <summary>
    /// Decides, before the first call, whether the SDK's default credential chain can find anything. The chain
    /// tries environment variables, the shared profile files, web identity and container credentials, and then
    /// the EC2 instance-metadata service (IMDS), which off EC2 is a black hole the SDK waits on for many seconds
    /// (measured: 16 s) before saying "no credentials". When only IMDS is left, one short probe settles it: EC2's
    /// IMDS answers in milliseconds, so no answer within <see cref="ProbeTimeout"/> means "not on EC2" and the
    /// operator gets the no-credentials advice at once.
    /// </summary>
    internal static class CredentialSources
    {
        /// <summary>How long the IMDS probe waits for any HTTP answer.</summary>
        internal static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);

        /// <summary>
        /// Throws Aws.NoCredentials when the default chain has no source: nothing configured and IMDS
        /// disabled or silent. Returns normally when some source may supply credentials.
        /// </summary>
        internal static void EnsureDefaultChainHasASource()
        {
            if (HasConfiguredSource())
            {
                return;
            }

            if (IsTrue(Environment.GetEnvironmentVariable("AWS_EC2_METADATA_DISABLED")))
            {
                throw NoCredentials("the instance-metadata service is disabled (AWS_EC2_METADATA_DISABLED)");
            }

            Uri endpoint = ImdsEndpoint();
            if (!ImdsAnswers(endpoint, ProbeTimeout))
            {
                throw NoCredentials($"this is not an EC2 instance with an instance profile: the instance-metadata service at {endpoint} did not answer within {ProbeTimeout.TotalSeconds:0.#} s");
            }
        }

        /// <summary>True when a source other than IMDS is configured (it may still fail; the SDK then says why).</summary>
        internal static bool HasConfiguredSource()
        {
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID"))
                || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_WEB_IDENTITY_TOKEN_FILE"))
                || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
                || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_CONTAINER_CREDENTIALS_FULL_URI")))
            {
                return true;
            }

            string profile = Environment.GetEnvironmentVariable("AWS_PROFILE")
                ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_PROFILE")
                ?? "default";
            try
            {
                return new CredentialProfileStoreChain().TryGetProfile(profile, out _);
            }
            catch (Exception)
            {
                return true; // an unreadable profile file: let the SDK report it
            }
        }

        private static Uri ImdsEndpoint()
        {
            string? configured = Environment.GetEnvironmentVariable("AWS_EC2_METADATA_SERVICE_ENDPOINT");
            if (!string.IsNullOrWhiteSpace(configured) && Uri.TryCreate(configured!.Trim(), UriKind.Absolute, out Uri? uri))
            {
                return uri;
            }

            return string.Equals(Environment.GetEnvironmentVariable("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"), "IPv6", StringComparison.OrdinalIgnoreCase)
                ? new Uri("http://[fd00:ec2::254]")
                : new Uri("http://169.254.169.254");
        }

        /// <summary>Any HTTP answer to an IMDSv2 token request (even 403/405) counts: the service is there.</summary>
        private static bool ImdsAnswers(Uri endpoint, TimeSpan timeout)
        {
            try
            {
                return Task.Run(async () =>
                {
                    using var cts = new CancellationTokenSource(timeout);
                    using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
                    using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(endpoint, "/latest/api/token"));
                    request.Headers.TryAddWithoutValidation("X-aws-ec2-metadata-token-ttl-seconds", "60");
                    using HttpResponseMessage response = await http.SendAsync(request, cts.Token).ConfigureAwait(false);
                    return true;
                }).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or TimeoutException)
            {
                return false;
            }
        }

        private static bool IsTrue(string? value) => string.Equals(value?.Trim(), "true", StringComparison.OrdinalIgnoreCase);

        private static CcieException NoCredentials(string why) => new CcieException(
            "Aws.NoCredentials",
            CcieErrorCategory.AuthenticationError,
            $"No AWS credentials were found ({why}). " + AwsErrorMapper.NoCredentialsAdvice);
    }
}
