using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;

namespace CcieDr.Engine.Builders
{
    /// <summary>Launch template look-ups the builder operations share.</summary>
    internal static class BuilderLaunchTemplates
    {
        /// <summary>One version ($Default, $Latest or a number) with its data; ObjectNotFound when there is no such version.</summary>
        public static async Task<LaunchTemplateVersion> DescribeVersionAsync(IAmazonEC2 ec2, string? id, string? name, string version, CancellationToken ct)
        {
            var request = new DescribeLaunchTemplateVersionsRequest
            {
                LaunchTemplateId = id,
                LaunchTemplateName = id is null ? name : null,
                Versions = new List<string> { version },
            };
            object target = (id ?? name) + " version " + version;
            CcieException NotFound(Exception? inner) => new CcieException("LaunchTemplateVersionNotFound", CcieErrorCategory.ObjectNotFound, $"Launch template {id ?? name} has no version {version}. List them with: aws ec2 describe-launch-template-versions --launch-template-id {id ?? name}", target, inner);
            DescribeLaunchTemplateVersionsResponse r;
            try
            {
                r = await AwsCall.RunAsync("ec2:DescribeLaunchTemplateVersions", target, token => ec2.DescribeLaunchTemplateVersionsAsync(request, token), ct).ConfigureAwait(false);
            }
            catch (CcieException e) when (e.ErrorId.EndsWith(".VersionNotFound", StringComparison.Ordinal))
            {
                throw NotFound(e);
            }

            return r.LaunchTemplateVersions?.FirstOrDefault() ?? throw NotFound(null);
        }

        /// <summary>"lt-… version N" for the group's current template, with $Default/$Latest resolved to the number.</summary>
        public static async Task<(string Id, string Version)> ResolveAsync(IAmazonEC2 ec2, BuilderGroupState g, CancellationToken ct)
        {
            LaunchTemplateVersion v = await DescribeVersionAsync(ec2, g.LaunchTemplateId, g.LaunchTemplateName, g.LaunchTemplateVersion ?? "$Default", ct).ConfigureAwait(false);
            return (v.LaunchTemplateId, (v.VersionNumber ?? 0).ToString(CultureInfo.InvariantCulture));
        }
    }
}
