using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Threading;
using Amazon.EC2;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Recovery;

namespace CcieDr.Commands
{
    /// <summary>Recovery point id syntax: rp-yyyyMMddTHHmmssZ-8hex, or snap-... for a seed snapshot.</summary>
    internal static class RecoveryPointIds
    {
        public const string Pattern = "^(rp-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}|snap-[0-9a-f]{8,17})$";
    }

    /// <summary>
    /// Completes recovery point ids from the region and endpoint already on the command line (a few seconds at
    /// most; nothing on any failure).
    /// </summary>
    public sealed class RecoveryPointIdCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            string prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
            try
            {
                var options = new AwsConnectionOptions
                {
                    Region = fakeBoundParameters?["Region"] as string,
                    ProfileName = fakeBoundParameters?["ProfileName"] as string,
                    EndpointUrl = fakeBoundParameters?["EndpointUrl"] switch
                    {
                        Uri u => u,
                        string s when Uri.TryCreate(s, UriKind.Absolute, out Uri? parsed) => parsed,
                        _ => null,
                    },
                    MaxErrorRetry = 1,
                    RequestTimeout = TimeSpan.FromSeconds(5),
                };
                var factory = new AwsClientFactory(options);
                using IAmazonEC2 ec2 = factory.CreateEc2();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                IReadOnlyList<RecoveryPoint> points = RecoveryPointCatalog.ListAsync(ec2, factory.Region, new RecoveryPointFilter(), cts.Token).GetAwaiter().GetResult();
                return points
                    .Where(p => p.RecoveryPointId.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                    .Select(p => new CompletionResult(p.RecoveryPointId, p.RecoveryPointId, CompletionResultType.ParameterValue, $"{p.RecoveryPointId} {p.State} {p.Created:u} {p.Label}"))
                    .ToList();
            }
#pragma warning disable CA1031 // a completer must never throw
            catch (Exception)
#pragma warning restore CA1031
            {
                return Array.Empty<CompletionResult>();
            }
        }
    }
}
