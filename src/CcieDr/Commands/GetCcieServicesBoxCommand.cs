using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using CcieDr.Engine;
using CcieDr.Engine.Recovery;

namespace CcieDr.Commands
{
    /// <summary>Finds the CircleCI Services box by its Name tag or instance id.</summary>
    [Cmdlet(VerbsCommon.Get, "CcieServicesBox", DefaultParameterSetName = ByNameSet)]
    [OutputType(typeof(ServicesBox))]
    public sealed class GetCcieServicesBoxCommand : CcieAwsCmdlet
    {
        private const string ByNameSet = "ByName";
        private const string ByIdSet = "ById";

        /// <summary>Value of the Name tag to search for.</summary>
        [Parameter(ParameterSetName = ByNameSet, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; } = ServicesBoxQuery.DefaultName;

        /// <summary>One or more instance ids.</summary>
        [Parameter(ParameterSetName = ByIdSet, Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidatePattern("^i-[0-9a-f]{8,17}$")]
        [ArgumentCompleter(typeof(InstanceIdCompleter))]
        public string[] InstanceId { get; set; } = Array.Empty<string>();

        /// <summary>Also return terminated instances.</summary>
        [Parameter]
        public SwitchParameter IncludeTerminated { get; set; }

        protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
        {
            var query = new ServicesBoxQuery
            {
                Name = Name,
                InstanceIds = ParameterSetName == ByIdSet ? InstanceId : Array.Empty<string>(),
                IncludeTerminated = IncludeTerminated.IsPresent,
            };

            using IAmazonEC2 ec2 = Aws.CreateEc2();
            var locator = new ServicesBoxLocator(ec2, Aws.Region);
            IReadOnlyList<ServicesBox> boxes = await locator.FindAsync(query, cancellationToken).ConfigureAwait(false);
            if (boxes.Count == 0)
            {
                string searched = query.InstanceIds.Count > 0 ? "instance id " + string.Join(", ", query.InstanceIds) : "tag Name=" + query.Name;
                string widen = query.IncludeTerminated ? string.Empty : " (terminated instances excluded: add -IncludeTerminated to see them)";
                WriteCcieError(new CcieException(
                    "ServicesBoxNotFound",
                    CcieErrorCategory.ObjectNotFound,
                    $"No Services box found in {Aws.Region} with {searched}{widen}. Check -Region, or give the box's tag value with -Name or its id with -InstanceId.",
                    query.InstanceIds.Count > 0 ? string.Join(",", query.InstanceIds) : query.Name));
                return;
            }

            foreach (ServicesBox box in boxes)
            {
                WriteObject(box);
            }
        }
    }
}
