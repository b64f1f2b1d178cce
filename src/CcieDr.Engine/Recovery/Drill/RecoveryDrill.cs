using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.KeyManagementService;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery.Restore;

namespace CcieDr.Engine.Recovery.Drill
{
    /// <summary>What a recovery drill restores, where, and what it checks.</summary>
    public sealed class DrillRequest
    {
        public RecoveryPoint RecoveryPoint { get; set; } = null!;

        /// <summary>Where the drill box goes. Default: the point's subnet (the box still gets a new private IP).</summary>
        public string? SubnetId { get; set; }

        /// <summary>Security groups for a drill that is not isolated. Default: the point's saved ones.</summary>
        public IReadOnlyList<string>? SecurityGroupIds { get; set; }

        /// <summary>A temporary security group that admits only the drill's checks and allows no other egress.</summary>
        public bool Isolated { get; set; }

        /// <summary>Isolated: CIDRs admitted to the app's ports and SSH (where the checks run from). Default none (checks run on the box).</summary>
        public IReadOnlyList<string> AllowIngressCidrs { get; set; } = Array.Empty<string>();

        /// <summary>Isolated: CIDRs the box may reach on 443 (VPC endpoints of SSM for the remote shell). Default none.</summary>
        public IReadOnlyList<string> AllowEgressCidrs { get; set; } = Array.Empty<string>();

        public string? InstanceType { get; set; }

        /// <summary>Keep everything when the drill fails, for inspection (Remove-CcieDrill removes it later).</summary>
        public bool KeepOnFailure { get; set; }

        /// <summary>Write the outcome onto the recovery point's snapshots (tags ccie:drill-*).</summary>
        public bool Record { get; set; } = true;

        /// <summary>Deadline of the restore's waits.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(45);

        /// <summary>The drill's id. Default: drill-&lt;UTC time&gt;-&lt;random&gt;.</summary>
        public string? DrillId { get; set; }

        /// <summary>Starts the app on the drill box and checks it (the remote shell and the health verdict).</summary>
        public IDrillVerifier? Verifier { get; set; }

        /// <summary>The operator's own check (Test-CcieRecovery -ValidationScript), run last.</summary>
        public Func<DrillBox, CancellationToken, Task<RecoveryDrillCheck>>? Validate { get; set; }
    }

    /// <summary>The drill box as a verifier and a validation script see it.</summary>
    public sealed class DrillBox
    {
        public string DrillId { get; set; } = string.Empty;

        public string Region { get; set; } = string.Empty;

        public string InstanceId { get; set; } = string.Empty;

        public string? PrivateIpAddress { get; set; }

        public string? SubnetId { get; set; }

        public string RecoveryPointId { get; set; } = string.Empty;

        /// <summary>The private IP of the box the point was taken from (the drill box's differs).</summary>
        public string? SourcePrivateIpAddress { get; set; }
    }

    /// <summary>Brings the app up on a drill box and says whether it works. Each check goes into the timeline.</summary>
    public interface IDrillVerifier
    {
        Task<IReadOnlyList<RecoveryDrillCheck>> VerifyAsync(DrillBox box, Timeline timeline, CancellationToken ct);
    }

    /// <summary>What a drill will do, for -WhatIf and the confirmation prompt; nothing was changed to make it.</summary>
    public sealed class DrillPlan
    {
        internal DrillPlan(DrillRequest request, string drillId, Subnet subnet, Vpc? vpc, RestorePlan probe)
        {
            Request = request;
            DrillId = drillId;
            Subnet = subnet;
            Vpc = vpc;
            Probe = probe;
        }

        public DrillRequest Request { get; }

        public string DrillId { get; }

        public Subnet Subnet { get; }

        public Vpc? Vpc { get; }

        /// <summary>The restore plan with the point's own security groups (checked before anything is created).</summary>
        public RestorePlan Probe { get; }

        public bool CanProceed => Probe.CanProceed;

        public IReadOnlyList<string> Steps()
        {
            var steps = new List<string>();
            RecoveryPoint p = Request.RecoveryPoint;
            if (Request.Isolated)
            {
                string ingress = Request.AllowIngressCidrs.Count == 0 ? "no inbound traffic" : "inbound only from " + string.Join(", ", Request.AllowIngressCidrs) + " on 22, 80, 443, 4434, 8800";
                string egress = Request.AllowEgressCidrs.Count == 0 ? "no outbound traffic" : "outbound only to " + string.Join(", ", Request.AllowEgressCidrs) + " on 443";
                steps.Add($"create security group {RecoveryDrill.GroupName(DrillId)} in {Subnet.VpcId}: {ingress}, {egress} (tag {RestoreNaming.DrillTag}={DrillId})");
            }

            string groups = Request.Isolated ? "that group" : string.Join(", ", Request.SecurityGroupIds ?? p.Identity.SecurityGroupIds);
            steps.Add($"restore {p.RecoveryPointId} into {Subnet.SubnetId} ({Subnet.AvailabilityZone}) on a new private IP (never {p.Identity.PrivateIpAddress ?? "the production one"}), security groups {groups}, AMI {Probe.Target.ImageName}, Name {Probe.Target.Name}");
            steps.Add(Request.Verifier is null ? "wait for its status checks (the app is not started: -SkipApp)" : Request.Verifier is AppDrillVerifier v ? v.Description : "wait for its status checks, start the app over the remote shell, run the health checks");
            if (Request.Validate is not null)
            {
                steps.Add("run the validation script");
            }

            steps.Add(Request.KeepOnFailure ? "tear down everything it created (kept on failure)" : "tear down everything it created: instance, volumes, AMI" + (Request.Isolated ? ", security group" : string.Empty));
            if (Request.Record)
            {
                steps.Add($"record the verdict and RTO on {p.RecoveryPointId}'s snapshots (tags {RecoveryTags.DrillAt}, {RecoveryTags.DrillVerdict}, {RecoveryTags.DrillRtoSeconds})");
            }

            return steps;
        }
    }

    /// <summary>
    /// Test-CcieRecovery's engine: restores a recovery point as a throw-away box (new IP, own name, optionally
    /// an isolated security group), proves it works, measures RTO and RPO, tears everything down (also on failure
    /// and cancellation), and records the outcome on the point.
    /// </summary>
    public sealed class RecoveryDrill
    {
        private static readonly int[] DrillPorts = { 22, 80, 443, 4434, 8800 };
        private readonly IAmazonEC2 _ec2;
        private readonly string _region;
        private readonly IOperationReporter _reporter;
        private readonly IAmazonKeyManagementService? _kms;
        private readonly Func<DateTime> _clock;

        public RecoveryDrill(IAmazonEC2 ec2, string region, IOperationReporter? reporter = null, IAmazonKeyManagementService? kms = null, Func<DateTime>? clock = null)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
            _region = region;
            _reporter = reporter ?? NullReporter.Instance;
            _kms = kms;
            _clock = clock ?? (() => DateTime.UtcNow);
        }

        /// <summary>Time the teardown may take after a cancellation (it runs on its own token).</summary>
        public TimeSpan TeardownTimeout { get; set; } = TimeSpan.FromMinutes(15);

        public static string NewDrillId(DateTime now) =>
            "drill-" + now.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("n").Substring(0, 6);

        public static string GroupName(string drillId) => "ccie-" + drillId;

        /// <summary>Checks what can be checked without changing anything: the point, the subnet, the restore's pre-flight.</summary>
        public async Task<DrillPlan> PlanAsync(DrillRequest request, CancellationToken ct)
        {
            if (request?.RecoveryPoint is null)
            {
                throw new ArgumentNullException(nameof(request));
            }

            RecoveryPoint point = request.RecoveryPoint;
            if (!point.IsComplete)
            {
                throw new CcieException("RecoveryPointNotComplete", CcieErrorCategory.InvalidOperation, $"Recovery point {point.RecoveryPointId} is {point.State}, not completed: only a complete point can be drilled. Wait for it (Wait-CcieSnapshot) or drill another one.", point.RecoveryPointId);
            }

            string drillId = request.DrillId ?? NewDrillId(_clock());
            string subnetId = request.SubnetId ?? point.Identity.SubnetId
                ?? throw new CcieException("SubnetUnknown", CcieErrorCategory.InvalidArgument, $"Recovery point {point.RecoveryPointId} does not carry the box's subnet: give -SubnetId.", point.RecoveryPointId);
            IReadOnlyList<Subnet> subnets = await AwsCall.RunAsync("ec2:DescribeSubnets", subnetId, token => _ec2.DescribeAllSubnetsAsync(new DescribeSubnetsRequest { SubnetIds = new List<string> { subnetId } }, token), ct).ConfigureAwait(false);
            Subnet subnet = (subnets.Count > 0 ? subnets[0] : null) ?? throw new CcieException("SubnetNotFound", CcieErrorCategory.ObjectNotFound, $"Subnet {subnetId} does not exist in {_region}: give -SubnetId of a subnet in the box's VPC.", subnetId);
            DescribeVpcsResponse vpcs = await AwsCall.RunAsync("ec2:DescribeVpcs", subnet.VpcId, token => _ec2.DescribeVpcsAsync(new DescribeVpcsRequest { VpcIds = new List<string> { subnet.VpcId } }, token), ct).ConfigureAwait(false);

            RestorePlan probe = await PrepareRestoreAsync(request, drillId, subnet.SubnetId, request.SecurityGroupIds, null, ct).ConfigureAwait(false);
            return new DrillPlan(request, drillId, subnet, vpcs.Vpcs?.FirstOrDefault(), probe);
        }

        /// <summary>Runs the drill. Whatever happens, what it created is removed (unless kept on failure) before it returns or throws.</summary>
        public async Task<RecoveryDrillResult> RunAsync(DrillPlan plan, CancellationToken ct)
        {
            DrillRequest request = plan.Request;
            RecoveryPoint point = request.RecoveryPoint;
            var timeline = new Timeline(_clock);
            var created = new List<RecoveryDrillResource>();
            var checks = new List<RecoveryDrillCheck>();
            var warnings = new List<string>();
            DateTime started = _clock();
            var result = new RecoveryDrillResult
            {
                DrillId = plan.DrillId,
                Region = _region,
                RecoveryPointId = point.RecoveryPointId,
                Started = started,
                Rpo = started - point.Created,
                SubnetId = plan.Subnet.SubnetId,
                Isolated = request.Isolated,
            };

            using var progress = new ProgressActivity(_reporter, "Recovery drill " + plan.DrillId, "Restoring " + point.RecoveryPointId);
            Exception? failure = null;
            bool cancelled = false;
            try
            {
                IReadOnlyList<string>? groups = request.SecurityGroupIds;
                if (request.Isolated)
                {
                    progress.Update("Creating the isolated security group", 5);
                    string groupId = await timeline.RunAsync("Create isolated security group", GroupName(plan.DrillId), async entry =>
                    {
                        string id = await CreateIsolatedGroupAsync(plan, ct).ConfigureAwait(false);
                        created.Add(new RecoveryDrillResource { DrillId = plan.DrillId, Region = _region, Kind = "security-group", Id = id });
                        entry.Detail = plan.Steps()[0];
                        return id;
                    }).ConfigureAwait(false);
                    groups = new[] { groupId };
                }

                progress.Update("Restoring " + point.RecoveryPointId + " as a drill box", 15);
                RestorePlan restorePlan = await PrepareRestoreAsync(request, plan.DrillId, plan.Subnet.SubnetId, groups, timeline, ct).ConfigureAwait(false);
                if (!restorePlan.CanProceed)
                {
                    throw new CcieException("DrillPreflightFailed", CcieErrorCategory.InvalidOperation, $"The drill's restore of {point.RecoveryPointId} stopped before launching: " + string.Join(" ", restorePlan.Blockers.Select(b => b.Message)), point.RecoveryPointId);
                }

                warnings.AddRange(restorePlan.Warnings.Where(w => !w.Contains("re-associate", StringComparison.Ordinal)));
                RestoreResult restored;
                try
                {
                    restored = await Service().ExecuteAsync(restorePlan, ct).ConfigureAwait(false);
                }
                finally
                {
                    // Whatever the restore got to, the drill owns it: find it by tag for the teardown.
                    await CollectAsync(plan.DrillId, created).ConfigureAwait(false);
                }

                result.InstanceId = restored.InstanceId;
                result.PrivateIpAddress = restored.PrivateIpAddress;
                if (string.Equals(restored.PrivateIpAddress, point.Identity.PrivateIpAddress, StringComparison.Ordinal))
                {
                    throw new CcieException("DrillOnProductionIp", CcieErrorCategory.InvalidOperation, $"The drill box {restored.InstanceId} got the production private IP {restored.PrivateIpAddress}; it is torn down at once.", restored.InstanceId);
                }

                checks.Add(new RecoveryDrillCheck("ec2-status", "Pass", $"{restored.InstanceId} running on {restored.PrivateIpAddress}, status checks ok"));
                var box = new DrillBox
                {
                    DrillId = plan.DrillId,
                    Region = _region,
                    InstanceId = restored.InstanceId,
                    PrivateIpAddress = restored.PrivateIpAddress,
                    SubnetId = restored.SubnetId,
                    RecoveryPointId = point.RecoveryPointId,
                    SourcePrivateIpAddress = point.Identity.PrivateIpAddress,
                };

                if (request.Verifier is not null)
                {
                    progress.Update("Starting the app and checking it", 60);
                    checks.AddRange(await request.Verifier.VerifyAsync(box, timeline, ct).ConfigureAwait(false));
                }
                else
                {
                    checks.Add(new RecoveryDrillCheck("app", "Unknown", "the app was not started (-SkipApp)"));
                    warnings.Add("The drill proved the point boots and passes EC2 status checks; it did not start CircleCI on it (-SkipApp).");
                }

                if (request.Validate is not null && checks.All(c => c.Status != "Fail"))
                {
                    progress.Update("Running the validation script", 80);
                    RecoveryDrillCheck validation = await timeline.RunAsync("Validation script", restored.InstanceId, async entry =>
                    {
                        RecoveryDrillCheck c = await request.Validate(box, ct).ConfigureAwait(false);
                        entry.Detail = c.Status + (c.Detail is null ? string.Empty : ": " + c.Detail);
                        return c;
                    }).ConfigureAwait(false);
                    checks.Add(validation);
                }

                RecoveryDrillCheck? failed = checks.FirstOrDefault(c => c.Status == "Fail");
                if (failed is null)
                {
                    result.Rto = _clock() - started;
                    result.Verdict = "Passed";
                }
                else
                {
                    result.Verdict = "Failed";
                    result.Reason = $"{failed.Name}: {failed.Detail}";
                }
            }
            catch (OperationCanceledException e) when (ct.IsCancellationRequested)
            {
                cancelled = true;
                failure = e;
                result.Verdict = "Cancelled";
                result.Reason = "stopped by the operator (Ctrl+C)";
            }
            catch (CcieException e)
            {
                failure = e;
                result.Verdict = "Failed";
                result.Reason = e.Message;
            }

            // Teardown and record run on their own token: a Ctrl+C must not leave a drill box behind.
            using var teardownCts = new CancellationTokenSource(TeardownTimeout);
            await CollectAsync(plan.DrillId, created).ConfigureAwait(false);
            bool keep = request.KeepOnFailure && result.Verdict != "Passed" && !cancelled;
            if (!keep && created.Count > 0)
            {
                progress.Update("Tearing down the drill", 90);
                try
                {
                    await timeline.RunAsync("Tear down", plan.DrillId, async entry =>
                {
                    await new DrillSweeper(_ec2, _region).RemoveAsync(created, _reporter, teardownCts.Token).ConfigureAwait(false);
                    List<RecoveryDrillResource> left = created.Where(r => !r.Removed).ToList();
                    entry.Detail = $"{created.Count - left.Count} of {created.Count} removed";
                    if (left.Count > 0)
                    {
                        throw new CcieException("DrillTeardownIncomplete", CcieErrorCategory.InvalidOperation, $"The drill {plan.DrillId} could not remove {string.Join(", ", left.Select(r => r.Kind + " " + r.Id + " (" + r.Error + ")"))}. Run Remove-CcieDrill -DrillId {plan.DrillId} to finish.", plan.DrillId);
                    }
                    }).ConfigureAwait(false);
                }
                catch (Exception e) when (e is CcieException or OperationCanceledException)
                {
                    warnings.Add(e is CcieException ? e.Message : $"The teardown of {plan.DrillId} ran out of time; run Remove-CcieDrill -DrillId {plan.DrillId} to finish.");
                }
            }
            else if (keep)
            {
                result.ResourcesKept = true;
                warnings.Add($"The drill failed and -KeepOnFailure kept what it created for inspection: {string.Join(", ", created.Select(r => r.Kind + " " + r.Id))}. Remove it with Remove-CcieDrill -DrillId {plan.DrillId}.");
            }

            result.Completed = _clock();
            if (request.Record && !cancelled)
            {
                result.Recorded = await RecordAsync(point, result, warnings, teardownCts.Token).ConfigureAwait(false);
            }

            result.Checks = checks;
            result.Resources = created;
            result.Timeline = timeline.Entries;
            result.Warnings = warnings;
            if (cancelled)
            {
                throw new OperationCanceledException($"Recovery drill {plan.DrillId} stopped; its resources were " + (created.All(r => r.Removed) ? "removed." : "partly removed: run Remove-CcieDrill -DrillId " + plan.DrillId + "."), failure, ct);
            }

            return result;
        }

        private RestoreService Service() => new RestoreService(_ec2, _region, null, _reporter, _kms);

        private async Task<RestorePlan> PrepareRestoreAsync(DrillRequest request, string drillId, string subnetId, IReadOnlyList<string>? groups, Timeline? timeline, CancellationToken ct)
        {
            var restore = new RestoreRequest
            {
                RecoveryPoint = request.RecoveryPoint,
                DrillId = drillId,
                SubnetId = subnetId,
                SecurityGroupIds = groups,
                InstanceType = request.InstanceType,
                Timeout = request.Timeout,
            };
            return await Service().PrepareAsync(restore, ct, timeline).ConfigureAwait(false);
        }

        private async Task<string> CreateIsolatedGroupAsync(DrillPlan plan, CancellationToken ct)
        {
            DrillRequest request = plan.Request;
            string name = GroupName(plan.DrillId);
            var tags = new List<Tag> { new Tag(RestoreNaming.DrillTag, plan.DrillId), new Tag(RestoreNaming.CreatedByTag, "CcieDr/Test-CcieRecovery"), new Tag("Name", name) };
            CreateSecurityGroupResponse group = await AwsCall.RunAsync("ec2:CreateSecurityGroup", name, token => _ec2.CreateSecurityGroupAsync(new CreateSecurityGroupRequest
            {
                GroupName = name,
                Description = $"CcieDr recovery drill {plan.DrillId}: admits only the drill's checks, no egress",
                VpcId = plan.Subnet.VpcId,
                TagSpecifications = new List<TagSpecification> { new TagSpecification { ResourceType = ResourceType.SecurityGroup, Tags = tags } },
            }, token), ct).ConfigureAwait(false);
            string id = group.GroupId;

            // A new group allows all egress: take that away, so a restored CircleCI cannot reach GitHub, mail or webhooks.
            await AwsCall.RunAsync("ec2:RevokeSecurityGroupEgress", id, token => _ec2.RevokeSecurityGroupEgressAsync(new RevokeSecurityGroupEgressRequest
            {
                GroupId = id,
                IpPermissions = new List<IpPermission> { new IpPermission { IpProtocol = "-1", Ipv4Ranges = new List<IpRange> { new IpRange { CidrIp = "0.0.0.0/0" } } } },
            }, token), ct).ConfigureAwait(false);
            if (request.AllowEgressCidrs.Count > 0)
            {
                await AwsCall.RunAsync("ec2:AuthorizeSecurityGroupEgress", id, token => _ec2.AuthorizeSecurityGroupEgressAsync(new AuthorizeSecurityGroupEgressRequest
                {
                    GroupId = id,
                    IpPermissions = new List<IpPermission> { new IpPermission { IpProtocol = "tcp", FromPort = 443, ToPort = 443, Ipv4Ranges = request.AllowEgressCidrs.Select(c => new IpRange { CidrIp = c }).ToList() } },
                }, token), ct).ConfigureAwait(false);
            }

            if (request.AllowIngressCidrs.Count > 0)
            {
                await AwsCall.RunAsync("ec2:AuthorizeSecurityGroupIngress", id, token => _ec2.AuthorizeSecurityGroupIngressAsync(new AuthorizeSecurityGroupIngressRequest
                {
                    GroupId = id,
                    IpPermissions = DrillPorts.Select(p => new IpPermission { IpProtocol = "tcp", FromPort = p, ToPort = p, Ipv4Ranges = request.AllowIngressCidrs.Select(c => new IpRange { CidrIp = c }).ToList() }).ToList(),
                }, token), ct).ConfigureAwait(false);
            }

            return id;
        }

        // Adds to `created` whatever carries the drill's tag and is not listed yet (a restore interrupted mid-way).
        private async Task CollectAsync(string drillId, List<RecoveryDrillResource> created)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
                foreach (RecoveryDrillResource r in await new DrillSweeper(_ec2, _region).FindAsync(drillId, cts.Token).ConfigureAwait(false))
                {
                    if (!created.Any(c => c.Kind == r.Kind && c.Id == r.Id))
                    {
                        created.Add(r);
                    }
                }
            }
            catch (Exception e) when (e is CcieException or OperationCanceledException)
            {
                _reporter.Warning($"Could not list the drill's resources ({e.Message}); Remove-CcieDrill -DrillId {drillId} finds them later.");
            }
        }

        private async Task<bool> RecordAsync(RecoveryPoint point, RecoveryDrillResult result, List<string> warnings, CancellationToken ct)
        {
            var tags = new List<Tag>
            {
                new Tag(RecoveryTags.DrillAt, result.Started.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)),
                new Tag(RecoveryTags.DrillVerdict, result.Verdict),
                new Tag(RecoveryTags.DrillId, result.DrillId),
                new Tag(RecoveryTags.DrillRtoSeconds, result.Rto is { } rto ? rto.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) : string.Empty),
            };
            List<string> ids = point.Snapshots.Select(s => s.SnapshotId).ToList();
            CcieException? error = await AwsCall.TryRunAsync("ec2:CreateTags", ids, token => _ec2.CreateTagsAsync(new CreateTagsRequest { Resources = ids, Tags = tags }, token), ct).ConfigureAwait(false);
            if (error is not null)
            {
                warnings.Add($"The verdict could not be recorded on {point.RecoveryPointId}: {error.Message}");
                return false;
            }

            return true;
        }
    }
}
