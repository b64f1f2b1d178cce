using System;

namespace CcieDr.Engine.Aws.Query
{
    /// <summary>
    /// A service spoken over the Query protocol: its SigV4 signing name (also the endpoint prefix), API version and
    /// the operator-facing prefix of its actions in error messages. Add one static instance per service.
    /// </summary>
    public sealed class QueryService
    {
        /// <summary>Amazon CloudWatch (signing name <c>monitoring</c>, version 2010-08-01).</summary>
        public static readonly QueryService CloudWatch = new QueryService("monitoring", "2010-08-01", "cloudwatch");

        /// <summary>Amazon EC2 Auto Scaling (signing name <c>autoscaling</c>, version 2011-01-01).</summary>
        public static readonly QueryService AutoScaling = new QueryService("autoscaling", "2011-01-01", "autoscaling");

        /// <summary>Describes a Query service.</summary>
        /// <param name="signingName">SigV4 service name and endpoint prefix, e.g. "monitoring", "autoscaling".</param>
        /// <param name="version">The API version sent as <c>Version</c>, e.g. "2010-08-01".</param>
        /// <param name="actionPrefix">IAM prefix of its actions, e.g. "cloudwatch" (errors say "cloudwatch:GetMetricData").</param>
        public QueryService(string signingName, string version, string actionPrefix)
        {
            SigningName = signingName ?? throw new ArgumentNullException(nameof(signingName));
            Version = version ?? throw new ArgumentNullException(nameof(version));
            ActionPrefix = actionPrefix ?? throw new ArgumentNullException(nameof(actionPrefix));
        }

        public string SigningName { get; }

        public string Version { get; }

        public string ActionPrefix { get; }

        /// <summary>The public endpoint of the service in <paramref name="region"/> (used when no -EndpointUrl is given).</summary>
        public Uri EndpointFor(string region)
        {
            string suffix = region.StartsWith("cn-", StringComparison.Ordinal) ? "amazonaws.com.cn" : "amazonaws.com";
            return new Uri($"https://{SigningName}.{region}.{suffix}/");
        }
    }
}
