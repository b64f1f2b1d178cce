using System;

namespace CcieDr.Engine.Aws
{
    /// <summary>Where and as whom to call AWS: the values behind -Region, -ProfileName and -EndpointUrl.</summary>
    public sealed class AwsConnectionOptions
    {
        /// <summary>Region system name (us-east-1). Null: AWS_REGION / AWS_DEFAULT_REGION / the profile's region.</summary>
        public string? Region { get; set; }

        /// <summary>Named profile from the shared credentials/config files. Null: the SDK's default chain.</summary>
        public string? ProfileName { get; set; }

        /// <summary>
        /// Endpoint override (a simulator, a VPC endpoint, S3-compatible storage). When set, the same URL
        /// serves every service and region; requests are still signed for the region.
        /// </summary>
        public Uri? EndpointUrl { get; set; }

        /// <summary>SDK retries per call (throttling, 5xx, dropped connections). Default 8.</summary>
        public int MaxErrorRetry { get; set; } = 8;

        /// <summary>Timeout of one HTTP attempt. Default 60 s.</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(60);

        /// <summary>The same connection with another SDK retry count (0: the SDK never retries; the engine's policy decides alone).</summary>
        public AwsConnectionOptions WithMaxErrorRetry(int maxErrorRetry) => new AwsConnectionOptions
        {
            Region = Region,
            ProfileName = ProfileName,
            EndpointUrl = EndpointUrl,
            MaxErrorRetry = maxErrorRetry,
            RequestTimeout = RequestTimeout,
        };

        public AwsConnectionOptions WithRegion(string region) => new AwsConnectionOptions
        {
            Region = region,
            ProfileName = ProfileName,
            EndpointUrl = EndpointUrl,
            MaxErrorRetry = MaxErrorRetry,
            RequestTimeout = RequestTimeout,
        };
    }
}
