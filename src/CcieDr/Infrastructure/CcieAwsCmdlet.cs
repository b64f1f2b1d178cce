using System;
using System.Management.Automation;
using CcieDr.Engine;
using CcieDr.Engine.Aws;

namespace CcieDr.Commands
{
    /// <summary>
    /// Base for cmdlets that call AWS: the common -Region, -ProfileName and -EndpointUrl parameters and the
    /// client factory behind them. Credentials come from the profile or the SDK's default chain
    /// (environment, shared files, SSO, instance role). Defaults work through
    /// $PSDefaultParameterValues['*-Ccie*:Region'].
    /// </summary>
    public abstract class CcieAwsCmdlet : CcieAsyncCmdlet
    {
        private AwsClientFactory? _factory;

        /// <summary>AWS region, e.g. us-east-1. Default: AWS_REGION, AWS_DEFAULT_REGION or the profile's region.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RegionCompleter))]
        public string? Region { get; set; }

        /// <summary>Named AWS profile (shared credentials/config file). Default: the SDK credential chain.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ProfileName { get; set; }

        /// <summary>Endpoint override: a simulator, a VPC endpoint or S3-compatible storage.</summary>
        [Parameter]
        [ValidateNotNull]
        public Uri? EndpointUrl { get; set; }

        /// <summary>The client factory for the current parameters (built once per cmdlet invocation and region).</summary>
        protected AwsClientFactory Aws
        {
            get
            {
                if (_factory is null || !string.Equals(_factory.Options.Region, Region, StringComparison.Ordinal))
                {
                    _factory = new AwsClientFactory(ConnectionOptions());
                }

                return _factory;
            }
        }

        protected AwsConnectionOptions ConnectionOptions()
        {
            if (EndpointUrl is not null && !EndpointUrl.IsAbsoluteUri)
            {
                throw new CcieException("InvalidEndpointUrl", CcieErrorCategory.InvalidArgument, $"-EndpointUrl '{EndpointUrl}' is not an absolute URL. Give the scheme and host, e.g. http://127.0.0.1:4566.", EndpointUrl);
            }

            return new AwsConnectionOptions { Region = Region, ProfileName = ProfileName, EndpointUrl = EndpointUrl };
        }
    }
}
