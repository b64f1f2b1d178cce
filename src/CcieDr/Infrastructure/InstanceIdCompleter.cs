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
    /// <summary>What tab completion of AWS ids shares: a short-lived client from the parameters already typed.</summary>
    internal static class AwsCompletion
    {
        /// <summary>A client factory from -Region/-ProfileName/-EndpointUrl on the command line, with tight limits.</summary>
        public static AwsClientFactory Factory(IDictionary? fakeBoundParameters) => new AwsClientFactory(new AwsConnectionOptions
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
        });

        /// <summary>Completion must never throw or hang: a few seconds at most, nothing on any failure.</summary>
        public static IEnumerable<CompletionResult> Safely(Func<CancellationToken, IEnumerable<CompletionResult>> fetch)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                return fetch(cts.Token).ToList();
            }
#pragma warning disable CA1031 // a completer must never throw
            catch (Exception)
#pragma warning restore CA1031
            {
                return Array.Empty<CompletionResult>();
            }
        }

        public static string Prefix(string? wordToComplete) => (wordToComplete ?? string.Empty).Trim('\'', '"');
    }

    /// <summary>Completes instance ids of Services boxes (Name tag from -Name, default circleci_services).</summary>
    public sealed class InstanceIdCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            string prefix = AwsCompletion.Prefix(wordToComplete);
            return AwsCompletion.Safely(ct =>
            {
                AwsClientFactory factory = AwsCompletion.Factory(fakeBoundParameters);
                using IAmazonEC2 ec2 = factory.CreateEc2();
                var query = new ServicesBoxQuery { Name = fakeBoundParameters?["Name"] as string ?? ServicesBoxQuery.DefaultName, IncludeTerminated = true };
                IReadOnlyList<ServicesBox> boxes = new ServicesBoxLocator(ec2, factory.Region).FindAsync(query, ct).GetAwaiter().GetResult();
                return boxes
                    .Where(b => b.InstanceId.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                    .Select(b => new CompletionResult(b.InstanceId, b.InstanceId, CompletionResultType.ParameterValue, $"{b.InstanceId} {b.State} {b.PrivateIpAddress} {b.AvailabilityZone}"));
            });
        }
    }
}
