using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace CcieDr.Engine.Detection
{
    /// <summary>One metric's newest value as the interpreter needs it.</summary>
    public sealed class MetricObservation
    {
        public MetricObservation(bool listed, double? latest, TimeSpan? age, double? first = null)
        {
            Listed = listed;
            Latest = latest;
            Age = age;
            First = first;
        }

        public static MetricObservation Missing { get; } = new MetricObservation(false, null, null);

        /// <summary>CloudWatch knows the metric (it was published within two weeks).</summary>
        public bool Listed { get; }

        /// <summary>Newest value in the window, or null (none).</summary>
        public double? Latest { get; }

        public TimeSpan? Age { get; }

        /// <summary>Oldest value in the window (trend), or null.</summary>
        public double? First { get; }
    }

    /// <summary>What was observed of the fleet; the interpreter's input.</summary>
    public sealed class FleetObservation
    {
        public string Region { get; set; } = string.Empty;

        /// <summary>The namespace read; null when no CircleCI metric was found.</summary>
        public string? Namespace { get; set; }

        /// <summary>True when -Namespace named it (a wrong name is then a possible cause of "missing").</summary>
        public bool NamespaceGiven { get; set; }

        public MetricObservation NumMasters { get; set; } = MetricObservation.Missing;

        public MetricObservation RunQueueBuilds { get; set; } = MetricObservation.Missing;

        public MetricObservation ContainersLeaked { get; set; } = MetricObservation.Missing;

        public int BuildersRunning { get; set; }

        public IReadOnlyList<string> ServicesPrivateIps { get; set; } = Array.Empty<string>();

        /// <summary>Running builders whose user data names another SERVICES_PRIVATE_IP (instance id → that IP).</summary>
        public IReadOnlyDictionary<string, string> BuildersWithOtherServicesIp { get; set; } = new Dictionary<string, string>();

        public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(10);

        public TimeSpan Since { get; set; } = TimeSpan.FromMinutes(15);
    }

    /// <summary>The verdict and its reasons.</summary>
    public sealed class FleetInterpretation
    {
        public FleetInterpretation(string verdict, IReadOnlyList<string> reasons, string suggestedAction, int? buildersSeenByApp)
        {
            Verdict = verdict;
            Reasons = reasons;
            SuggestedAction = suggestedAction;
            BuildersSeenByApp = buildersSeenByApp;
        }

        public string Verdict { get; }

        public IReadOnlyList<string> Reasons { get; }

        public string SuggestedAction { get; }

        public int? BuildersSeenByApp { get; }
    }

    /// <summary>
    /// Reads the fleet's state the way CircleCI's guide does (a pure function): num-masters 0 or silent = outage;
    /// 1 = no builders; fewer builders seen than AWS runs = builders not connected (discovery or network); a growing run
    /// queue = under-provisioned; leaked containers = an infrastructure problem; no metrics at all = the CloudWatch
    /// integration is off (its own answer, naming the setting and the permission).
    /// </summary>
    public static class FleetHealthInterpreter
    {
        public const string Outage = "Outage";
        public const string NoBuilders = "NoBuilders";
        public const string NotConnected = "NotConnected";
        public const string Degraded = "Degraded";
        public const string Healthy = "Healthy";
        public const string MetricsMissing = "MetricsMissing";

        /// <summary>A queue at least this long is "backing up" even when it is not growing.</summary>
        public const double QueueAlarm = 10;

        public static FleetInterpretation Interpret(FleetObservation o)
        {
            if (o is null)
            {
                throw new ArgumentNullException(nameof(o));
            }

            var reasons = new List<string>();
            string running = $"AWS runs {Count(o.BuildersRunning, "builder")} (running instances tagged aws:autoscaling:groupName).";
            MetricObservation nm = o.NumMasters;

            if (o.Namespace is null || !nm.Listed)
            {
                reasons.Add(o.Namespace is null
                    ? $"No CircleCI metric ({CircleCiMetrics.NumMasters}) is in CloudWatch in {o.Region}{(o.NamespaceGiven ? " under the namespace given with -Namespace" : string.Empty)}: the CloudWatch integration is not publishing."
                    : $"{CircleCiMetrics.NumMasters} is not in CloudWatch namespace '{o.Namespace}' in {o.Region}: the CloudWatch integration is not publishing it.");
                reasons.Add(CircleCiMetrics.EnableAdvice);
                if (o.NamespaceGiven)
                {
                    reasons.Add("Or -Namespace names another namespace than the one set in Replicated: omit -Namespace to find it by the metric's name.");
                }

                reasons.Add(running);
                return new FleetInterpretation(MetricsMissing, reasons, "Enable CloudWatch in the Replicated admin console (:8800, Settings > Monitoring) and grant cloudwatch:PutMetricData to the Services box's role; meanwhile judge the box with Test-CcieServicesBox.", null);
            }

            const string boxAction = "Check the Services box (Test-CcieServicesBox): start the app if the box is healthy (Start-CcieApp), otherwise restore it (Restore-CcieServicesBox) or fail over (Invoke-CcieFailover).";
            if (nm.Latest is null || (nm.Age is TimeSpan age && age > o.StaleAfter))
            {
                reasons.Add(nm.Latest is null
                    ? $"{CircleCiMetrics.NumMasters} has no data in the last {Span(o.Since)}: the app stopped publishing (the Services box or its app is down, or it lost access to CloudWatch)."
                    : $"{CircleCiMetrics.NumMasters} has no data for {Span(nm.Age!.Value)} (more than -StaleAfter {Span(o.StaleAfter)}); its last value was {Num(nm.Latest.Value)}: the app stopped publishing (the Services box or its app is down, or it lost access to CloudWatch).");
                reasons.Add(running);
                return new FleetInterpretation(Outage, reasons, boxAction, null);
            }

            double masters = nm.Latest.Value;
            if (masters < 0.5)
            {
                reasons.Add($"{CircleCiMetrics.NumMasters} is 0: the app is down or in maintenance (GitHub hooks may be dropped).");
                reasons.Add(running);
                return new FleetInterpretation(Outage, reasons, boxAction, null);
            }

            int seen = Math.Max(0, (int)Math.Round(masters, MidpointRounding.AwayFromZero) - 1);
            string verdict = Healthy;
            var actions = new List<string>();
            if (seen == 0 && o.BuildersRunning == 0)
            {
                verdict = NoBuilders;
                reasons.Add($"{CircleCiMetrics.NumMasters} is 1: the app runs but no builder is connected, and AWS runs no builder: builds wait in the queue.");
                actions.Add("Give the builder Auto Scaling group capacity (Set-CcieBuilderCapacity -DesiredCapacity <n>).");
            }
            else if (seen < o.BuildersRunning)
            {
                verdict = NotConnected;
                int missing = o.BuildersRunning - seen;
                reasons.Add($"AWS runs {Count(o.BuildersRunning, "builder")} but the app sees {seen} ({CircleCiMetrics.NumMasters} is {Num(masters)}): {Count(missing, "builder")} {(missing == 1 ? "is" : "are")} running but not connected, a discovery or network problem.");
                if (o.BuildersWithOtherServicesIp.Count > 0)
                {
                    string box = o.ServicesPrivateIps.Count > 0 ? string.Join(" or ", o.ServicesPrivateIps) : "unknown (the box was not found)";
                    reasons.Add($"{Count(o.BuildersWithOtherServicesIp.Count, "builder")} {(o.BuildersWithOtherServicesIp.Count == 1 ? "was" : "were")} launched with SERVICES_PRIVATE_IP={string.Join(", ", o.BuildersWithOtherServicesIp.Values.Distinct())} but the Services box is {box} ({string.Join(", ", o.BuildersWithOtherServicesIp.Keys)}): launched before a restore or failover onto a new IP.");
                    actions.Add("Point the builders at the box (Set-CcieBuilderConfiguration -ServicesPrivateIp <box IP>) and rotate them (Restart-CcieBuilder -Stale).");
                }
                else
                {
                    reasons.Add("Their SERVICES_PRIVATE_IP matches the box (or could not be read): check CIRCLE_SECRET_PASSPHRASE, the security groups and the network path from the builders to the box's ports 80, 443 and 4434.");
                    actions.Add("Fix discovery or the network path, then rotate the builders (Restart-CcieBuilder).");
                }
            }
            else
            {
                reasons.Add($"{CircleCiMetrics.NumMasters} is {Num(masters)}: the app sees {Count(seen, "builder")}; {running}");
                if (seen > o.BuildersRunning)
                {
                    reasons.Add($"The app sees more builders ({seen}) than run in Auto Scaling groups ({o.BuildersRunning}): some builders are outside Auto Scaling.");
                }
            }

            MetricObservation q = o.RunQueueBuilds;
            if (q.Latest is double queue && queue > 0 && ((q.First is double first && queue > first) || queue >= QueueAlarm) && (q.Age is null || q.Age <= o.StaleAfter))
            {
                reasons.Add($"{CircleCiMetrics.RunQueueBuilds} is {Num(queue)}{(q.First is double f && queue > f ? $" and growing (was {Num(f)})" : string.Empty)}: builds wait for containers, the fleet is under-provisioned{(seen == 0 ? " (no builder serves)" : string.Empty)}.");
                actions.Add("Add builder capacity (Set-CcieBuilderCapacity -Add <n> -Until <time>).");
                verdict = verdict == Healthy ? Degraded : verdict;
            }

            MetricObservation leak = o.ContainersLeaked;
            if (leak.Latest is double leaked && leaked >= 1 && (leak.Age is null || leak.Age <= o.StaleAfter))
            {
                reasons.Add($"{CircleCiMetrics.ContainersLeaked} is {Num(leaked)} (should be 0 or close): containers are not released, an infrastructure problem on the builders.");
                actions.Add("Rotate the builders that leak (Restart-CcieBuilder) and check their Docker daemons.");
                verdict = verdict == Healthy ? Degraded : verdict;
            }

            if (verdict == Healthy)
            {
                actions.Add("None.");
            }

            return new FleetInterpretation(verdict, reasons, string.Join(" ", actions), seen);
        }

        private static string Count(int n, string noun) => n.ToString(CultureInfo.InvariantCulture) + " " + noun + (n == 1 ? string.Empty : "s");

        private static string Num(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

        /// <summary>"12 min", "45 s", "2 h 5 min".</summary>
        internal static string Span(TimeSpan t)
        {
            if (t.TotalSeconds < 90)
            {
                return ((int)t.TotalSeconds).ToString(CultureInfo.InvariantCulture) + " s";
            }

            if (t.TotalMinutes < 120)
            {
                return ((int)t.TotalMinutes).ToString(CultureInfo.InvariantCulture) + " min";
            }

            return ((int)t.TotalHours).ToString(CultureInfo.InvariantCulture) + " h " + t.Minutes.ToString(CultureInfo.InvariantCulture) + " min";
        }
    }
}
