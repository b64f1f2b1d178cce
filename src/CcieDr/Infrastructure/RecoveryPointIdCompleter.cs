using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
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

    /// <summary>Completes recovery point ids (newest first) from the region and endpoint on the command line.</summary>
    public sealed class RecoveryPointIdCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            string prefix = AwsCompletion.Prefix(wordToComplete);
            return AwsCompletion.Safely(ct =>
            {
                AwsClientFactory factory = AwsCompletion.Factory(fakeBoundParameters);
                using IAmazonEC2 ec2 = factory.CreateEc2();
                IReadOnlyList<RecoveryPoint> points = RecoveryPointCatalog.ListAsync(ec2, factory.Region, new RecoveryPointFilter(), ct).GetAwaiter().GetResult();
                return points
                    .Where(p => p.RecoveryPointId.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                    .Select(p => new CompletionResult(p.RecoveryPointId, p.RecoveryPointId, CompletionResultType.ParameterValue, $"{p.RecoveryPointId} {p.State} {p.Created:u} {p.Label}"));
            });
        }
    }
}
