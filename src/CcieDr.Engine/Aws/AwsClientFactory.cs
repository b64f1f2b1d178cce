using System;
using Amazon;
using Amazon.EC2;
using Amazon.KeyManagementService;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.S3;
using Amazon.SimpleSystemsManagement;

namespace CcieDr.Engine.Aws
{
    /// <summary>
    /// Builds AWS SDK clients from <see cref="AwsConnectionOptions"/>: region resolution, named profiles or
    /// the SDK credential chain, endpoint overrides, standard retry mode and timeouts, and the S3 settings
    /// that S3-compatible endpoints need.
    /// </summary>
    public sealed class AwsClientFactory
    {
        private readonly AwsConnectionOptions _options;
        private readonly AWSCredentials? _profileCredentials;
        private bool _defaultChainChecked;

        public AwsClientFactory(AwsConnectionOptions options)
        {
            _options = options ?? throw new ArgumentNullException(nameof(options));
            Region = ResolveRegion(options);
            if (!string.IsNullOrEmpty(options.ProfileName))
            {
                var chain = new CredentialProfileStoreChain();
                if (!chain.TryGetAWSCredentials(options.ProfileName, out AWSCredentials credentials))
                {
                    throw new CcieException(
                        "AwsProfileNotFound",
                        CcieErrorCategory.ObjectNotFound,
                        $"AWS profile '{options.ProfileName}' was not found in the shared credentials or config file. Check the name with 'aws configure list-profiles', or omit -ProfileName to use the default credential chain.",
                        options.ProfileName);
                }

                _profileCredentials = credentials;
            }
        }

        /// <summary>The region calls go to.</summary>
        public string Region { get; }

        public AwsConnectionOptions Options => _options;

        public IAmazonEC2 CreateEc2(string? region = null)
        {
            var config = new AmazonEC2Config();
            Configure(config, region ?? Region);
            return _profileCredentials is null ? new AmazonEC2Client(config) : new AmazonEC2Client(_profileCredentials, config);
        }

        /// <summary>A KMS client (the restore pre-flight's DescribeKey), configured like the EC2 client.</summary>
        public IAmazonKeyManagementService CreateKms(string? region = null)
        {
            var config = new AmazonKeyManagementServiceConfig();
            Configure(config, region ?? Region);
            return _profileCredentials is null ? new AmazonKeyManagementServiceClient(config) : new AmazonKeyManagementServiceClient(_profileCredentials, config);
        }

        /// <summary>An SSM client (Run Command on the Services box).</summary>
        public IAmazonSimpleSystemsManagement CreateSsm(string? region = null)
        {
            var config = new AmazonSimpleSystemsManagementConfig();
            Configure(config, region ?? Region);
            return _profileCredentials is null ? new AmazonSimpleSystemsManagementClient(config) : new AmazonSimpleSystemsManagementClient(_profileCredentials, config);
        }

        public IAmazonS3 CreateS3(string? region = null)
        {
            var config = new AmazonS3Config();
            Configure(config, region ?? Region);
            if (_options.EndpointUrl is not null)
            {
                // S3-compatible endpoints (MinIO, s3rver, ...) want path-style addressing and reject or
                // corrupt the SDK v4 default flexible checksums.
                config.ForcePathStyle = true;
                config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
                config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
            }

            return _profileCredentials is null ? new AmazonS3Client(config) : new AmazonS3Client(_profileCredentials, config);
        }

        /// <summary>
        /// The credentials the SDK clients of this factory use: the named profile's, or the SDK's default chain
        /// (checked for a source first, as for the SDK clients). For the hand-written Query clients.
        /// </summary>
        public AWSCredentials ResolveCredentials()
        {
            if (_profileCredentials is not null)
            {
                return _profileCredentials;
            }

            if (!_defaultChainChecked)
            {
                CredentialSources.EnsureDefaultChainHasASource();
                _defaultChainChecked = true;
            }

            try
            {
                return Amazon.Runtime.Credentials.DefaultAWSCredentialsIdentityResolver.GetCredentials(null);
            }
            catch (Exception e) when (AwsErrorMapper.IsNoCredentials(e))
            {
                throw AwsErrorMapper.Map(e, "credentials", null);
            }
        }

        private void Configure(ClientConfig config, string region)
        {
            if (_profileCredentials is null && !_defaultChainChecked)
            {
                // Off EC2 with nothing configured, fail now instead of after the SDK's long IMDS wait.
                CredentialSources.EnsureDefaultChainHasASource();
                _defaultChainChecked = true;
            }

            config.RetryMode = RequestRetryMode.Standard;
            config.MaxErrorRetry = _options.MaxErrorRetry;
            config.Timeout = _options.RequestTimeout;
            if (_options.EndpointUrl is not null)
            {
                config.ServiceURL = _options.EndpointUrl.ToString();
                config.AuthenticationRegion = region;
            }
            else
            {
                config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
            }
        }

        private static string ResolveRegion(AwsConnectionOptions options)
        {
            if (!string.IsNullOrWhiteSpace(options.Region))
            {
                return options.Region!.Trim();
            }

            foreach (string variable in new[] { "AWS_REGION", "AWS_DEFAULT_REGION" })
            {
                string? value = Environment.GetEnvironmentVariable(variable);
                if (!string.IsNullOrWhiteSpace(value))
                {
                    return value!.Trim();
                }
            }

            if (!string.IsNullOrEmpty(options.ProfileName)
                && new CredentialProfileStoreChain().TryGetProfile(options.ProfileName, out CredentialProfile profile)
                && profile.Region is not null)
            {
                return profile.Region.SystemName;
            }

            throw new CcieException(
                "AwsRegionNotSet",
                CcieErrorCategory.InvalidArgument,
                "No AWS region is set. Pass -Region (for example -Region us-east-1), set it for the session with $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1', or set the AWS_REGION environment variable.");
        }
    }
}
