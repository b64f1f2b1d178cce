using System.Collections.Generic;

namespace CcieDr.Engine.Detection
{
    /// <summary>
    /// The custom metrics CircleCI Enterprise publishes to CloudWatch once "Enable Cloudwatch" is on in the Replicated admin
    /// console (Settings &gt; Monitoring), as CircleCI documents them (https://circleci.com/docs/enterprise/cloudwatch/ and
    /// the server 2.x monitoring page): the documentation names the metrics, not a namespace, hence the namespace is found
    /// by the metric's name unless -Namespace gives it.
    /// </summary>
    public static class CircleCiMetrics
    {
        /// <summary>0 = outage or maintenance, 1 = no builders (the Services box's web host counts), 1 + n = n builders.</summary>
        public const string NumMasters = "circle.state.num-masters";

        /// <summary>Queued builds not running: how under-provisioned the fleet is.</summary>
        public const string RunQueueBuilds = "circle.run-queue.builds";

        public const string RunQueueContainers = "circle.run-queue.containers";

        public const string RunningBuilds = "circle.state.running-builds";

        /// <summary>Should be 0 or close: an increase is an infrastructure problem.</summary>
        public const string ContainersLeaked = "ContainersLeaked";

        public const string ContainersAvailable = "ContainersAvailable";

        public const string ContainersReserved = "ContainersReserved";

        public static readonly IReadOnlyList<string> All = new[]
        {
            NumMasters, RunQueueBuilds, RunQueueContainers, RunningBuilds, ContainersLeaked, ContainersAvailable, ContainersReserved,
        };

        /// <summary>The Replicated setting and the IAM permission that make the metrics appear.</summary>
        public const string EnableAdvice =
            "Turn on the CloudWatch integration in the Replicated admin console (https://<services-box>:8800 > Settings > Monitoring > Enable Cloudwatch) and allow cloudwatch:PutMetricData on the Services box's IAM instance role (CircleCI's recommended policy grants cloudwatch:*).";
    }
}
