using System.Net;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Snapshots;

/// <summary>The snapshot engine end to end against the simulator, through the real AWS SDK.</summary>
public class SnapshotEngineSimTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private static NewSnapshotRequest Waiting(string? label = null) => new() { Wait = true, WaitOptions = SnapshotSim.FastWait(), Label = label };

    private static async Task<RecoveryPoint> TakeAsync(SnapshotSim sim, IAmazonEC2 ec2, NewSnapshotRequest? request = null)
    {
        ServicesBox box = await sim.BoxAsync(ec2);
        return await new SnapshotCreator(ec2, SnapshotSim.Region).CreateAsync(box, request ?? Waiting(), Ct);
    }

    [Fact]
    public async Task Takes_a_completed_point_of_every_volume_with_the_identity_tags()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 ec2 = sim.Ec2();
        var reporter = new RecordingReporter();
        ServicesBox box = await sim.BoxAsync(ec2);

        RecoveryPoint p = await new SnapshotCreator(ec2, SnapshotSim.Region, reporter).CreateAsync(box, Waiting("before upgrade 1.48"), Ct);

        Assert.Equal("completed", p.State);
        Assert.True(p.IsComplete);
        Assert.Equal(100, p.Progress);
        Assert.Equal(new[] { "/dev/sda1", "/dev/xvdf" }, p.Snapshots.Select(s => s.DeviceName));
        Assert.Equal(new[] { sim.Seed.ServicesRootVolumeId, sim.Seed.ServicesDataVolumeId }, p.Snapshots.Select(s => s.VolumeId));
        Assert.True(p.Snapshots[0].IsRootDevice);
        Assert.True(p.Snapshots[1].Encrypted);
        Assert.Equal(sim.Seed.DataVolumeKmsKeyId, p.Snapshots[1].KmsKeyId);
        Assert.Equal(sim.Seed.ServicesInstanceId, p.Identity.SourceInstanceId);
        Assert.Equal(sim.Seed.ServicesPrivateIp, p.Identity.PrivateIpAddress);
        Assert.Equal(sim.Seed.SubnetAId, p.Identity.SubnetId);
        Assert.Equal(sim.Seed.ServicesIamInstanceProfileArn, p.Identity.IamInstanceProfileArn);
        Assert.Equal(new[] { sim.Seed.ServicesSecurityGroupId }, p.Identity.SecurityGroupIds);
        Assert.Equal("circleci", p.Identity.KeyName);
        Assert.Equal(2, p.ExpectedVolumeCount);
        Assert.Equal("before upgrade 1.48", p.Label);
        Assert.Contains(p.Timeline, e => e.Action == "ec2:CreateSnapshots" && e.Outcome == "Succeeded");
        Assert.Contains(p.Timeline, e => e.Action == "wait:snapshot-completed" && e.Outcome == "Succeeded");

        // One crash-consistent call, no per-volume calls, and progress that completed.
        Assert.Single(sim.Control.RequestLog("CreateSnapshots"));
        Assert.Empty(sim.Control.RequestLog("CreateSnapshot"));
        Assert.Contains(reporter.Progress, u => u.Completed);

        // The seed's runbook filter finds them, and EC2 holds every tag of the schema on each snapshot.
        List<Snapshot> seedView = await sim.SnapshotsAsync(ec2, Ec2Extensions.Filter("description", "CircleCI*"));
        Assert.Superset(p.SnapshotIds.ToHashSet(), seedView.Select(s => s.SnapshotId).ToHashSet());
        foreach (Snapshot s in await sim.SnapshotsAsync(ec2, Ec2Extensions.Filter("tag:ccie:recovery-point", p.RecoveryPointId)))
        {
            var tags = s.Tags.ToDictionary(t => t.Key, t => t.Value);
            Assert.Equal(28 + 1 + 1, tags.Count); // 28 schema keys + label + the run id
            Assert.Equal(p.RunId, tags[RecoveryTags.RunId]);
            Assert.NotNull(p.CreatedAt);
            Assert.Equal(p.CreatedAt, RecoveryTags.ParseCreatedAt(tags[RecoveryTags.CreatedAt]));
            Assert.Equal($"circleci_services {tags["ccie:device-name"]} {p.RecoveryPointId}", tags["Name"]);
            Assert.StartsWith("CircleCI Services box Backup taken at ", s.Description, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_catalog_lists_and_gets_points_across_pages()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 ec2 = sim.Ec2();
        var taken = new List<RecoveryPoint>();
        for (int i = 0; i < 3; i++)
        {
            taken.Add(await TakeAsync(sim, ec2));
        }

        sim.Control.PageSize = 1;
        IReadOnlyList<RecoveryPoint> points = await RecoveryPointCatalog.ListAsync(ec2, SnapshotSim.Region, new RecoveryPointFilter(), Ct);
        // Newest first by creation time: the reverse of the order taken (ids only sort by time to the second).
        Assert.Equal(Enumerable.Reverse(taken).Select(t => t.RecoveryPointId), points.Select(p => p.RecoveryPointId));
        Assert.All(points, p => Assert.Equal(2, p.Snapshots.Count));

        RecoveryPoint? got = await RecoveryPointCatalog.GetAsync(ec2, SnapshotSim.Region, taken[1].RecoveryPointId, Ct);
        Assert.NotNull(got);
        Assert.Equal(taken[1].SnapshotIds.OrderBy(x => x), got!.SnapshotIds.OrderBy(x => x));
        Assert.Equal("completed", got.State);

        Assert.Null(await RecoveryPointCatalog.GetAsync(ec2, SnapshotSim.Region, "rp-20200101T000000Z-00000000", Ct));
        Assert.Null(await RecoveryPointCatalog.GetAsync(ec2, SnapshotSim.Region, "snap-0123456789abcdef0", Ct));
        Assert.Single(await RecoveryPointCatalog.ListAsync(ec2, SnapshotSim.Region, new RecoveryPointFilter { Latest = true }, Ct));
    }

    [Fact]
    public async Task Seed_script_snapshots_appear_as_single_volume_points()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 ec2 = sim.Ec2();
        CreateSnapshotResponse seed = await ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesRootVolumeId, Description = "CircleCI Services box Backup taken at Sat Nov 28 14:00:00 UTC 2026" });

        IReadOnlyList<RecoveryPoint> points = await RecoveryPointCatalog.ListAsync(ec2, SnapshotSim.Region, new RecoveryPointFilter(), Ct);
        RecoveryPoint p = Assert.Single(points); // the AMI base snapshots ("CircleCI Services base root") are not backups
        Assert.Equal(seed.Snapshot.SnapshotId, p.RecoveryPointId);
        Assert.Equal("Seed", p.Origin);
        Assert.Empty(await RecoveryPointCatalog.ListAsync(ec2, SnapshotSim.Region, new RecoveryPointFilter { IncludeSeed = false }, Ct));

        RecoveryPoint done = await new SnapshotWaiter(ec2, SnapshotSim.Region).WaitAsync(p, SnapshotSim.FastWait(), null, null, Ct);
        Assert.True(done.IsComplete);
        Assert.Equal(p.RecoveryPointId, (await RecoveryPointCatalog.GetAsync(ec2, SnapshotSim.Region, p.RecoveryPointId, Ct))!.RecoveryPointId);
    }

    [Fact]
    public async Task A_rerun_while_the_point_is_pending_reuses_it()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync(transitionSeconds: 30);
        IAmazonEC2 ec2 = sim.Ec2();
        RecoveryPoint first = await TakeAsync(sim, ec2, new NewSnapshotRequest());
        Assert.Equal("pending", first.State);

        RecoveryPoint second = await TakeAsync(sim, ec2, new NewSnapshotRequest());

        Assert.Equal(first.RecoveryPointId, second.RecoveryPointId);
        Assert.Equal("Reused", second.Timeline[0].Outcome);
        Assert.Single(sim.Control.RequestLog("CreateSnapshots"));
        Assert.Equal(2, (await sim.SnapshotsAsync(ec2, Ec2Extensions.Filter("tag-key", "ccie:recovery-point"))).Count);
    }

    [Fact]
    public async Task A_lost_response_and_the_sdk_retry_leave_no_duplicate_snapshots()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 ec2 = sim.Ec2();
        sim.Control.InjectFault(FaultKinds.DropAfter, "CreateSnapshots", 1);

        RecoveryPoint p = await TakeAsync(sim, ec2);

        Assert.Equal(1, sim.Control.FaultCount(FaultKinds.DropAfter, "CreateSnapshots"));
        Assert.Equal(2, sim.Control.RequestLog("CreateSnapshots").Count); // the SDK retried: EC2 made two sets
        Assert.True(p.IsComplete);
        Assert.Equal(2, p.Snapshots.Count);
        List<Snapshot> left = await sim.SnapshotsAsync(ec2, Ec2Extensions.Filter("tag:ccie:recovery-point", p.RecoveryPointId));
        Assert.Equal(p.SnapshotIds.OrderBy(x => x), left.Select(s => s.SnapshotId).OrderBy(x => x));
        Assert.Contains(p.Timeline, e => e.Detail?.StartsWith("deleted duplicates", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task A_rerun_after_a_failure_half_way_resumes_the_same_point_and_repairs_its_tags()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync(transitionSeconds: 30);
        IAmazonEC2 real = sim.Ec2();
        (IAmazonEC2 failing, _) = Ec2Interceptor.Wrap(real, (m, _) => m.Name == nameof(IAmazonEC2.CreateTagsAsync) ? Ec2Interceptor.Fail<CreateTagsResponse>("UnauthorizedOperation", HttpStatusCode.Forbidden) : null);

        CcieException e = await Assert.ThrowsAsync<CcieException>(() => TakeAsync(sim, failing, new NewSnapshotRequest { Label = "nightly" }));
        Assert.Equal(CcieErrorCategory.PermissionDenied, e.Category);
        RecoveryPoint half = Assert.Single(await RecoveryPointCatalog.ListAsync(real, SnapshotSim.Region, new RecoveryPointFilter(), Ct));
        Assert.All(half.Snapshots, s => Assert.Null(s.DeviceName));

        RecoveryPoint resumed = await TakeAsync(sim, real, new NewSnapshotRequest { Label = "nightly" });

        Assert.Equal(half.RecoveryPointId, resumed.RecoveryPointId);
        Assert.Single(sim.Control.RequestLog("CreateSnapshots"));
        RecoveryPoint read = (await RecoveryPointCatalog.GetAsync(real, SnapshotSim.Region, half.RecoveryPointId, Ct))!;
        Assert.Equal(new[] { "/dev/sda1", "/dev/xvdf" }, read.Snapshots.Select(s => s.DeviceName));
        Assert.True(read.Snapshots[0].IsRootDevice);
        Assert.Equal("gp3", read.Snapshots[1].VolumeType);
    }

    [Fact]
    public async Task A_lost_CopySnapshot_response_leaves_no_duplicate_copy()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 east = sim.Ec2();
        IAmazonEC2 west = sim.Ec2(SnapshotSim.DrRegion);
        RecoveryPoint p = await TakeAsync(sim, east);
        sim.Control.InjectFault(FaultKinds.DropAfter, "CopySnapshot", 1);

        RecoveryPoint copy = await new SnapshotCopier(east, SnapshotSim.Region, west).CopyAsync(p, new CopyRecoveryPointRequest { DestinationRegion = SnapshotSim.DrRegion, Wait = true, WaitOptions = SnapshotSim.FastWait() }, Ct);

        Assert.Equal(3, sim.Control.RequestLog("CopySnapshot").Count); // one retried
        Assert.True(copy.IsComplete);
        List<Snapshot> inWest = await sim.SnapshotsAsync(west);
        Assert.Equal(copy.SnapshotIds.OrderBy(x => x), inWest.Select(s => s.SnapshotId).OrderBy(x => x));
    }

    [Fact]
    public async Task Falls_back_to_per_volume_snapshots_where_CreateSnapshots_is_not_available()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        (IAmazonEC2 ec2, _) = Ec2Interceptor.Wrap(sim.Ec2(), (m, _) => m.Name == nameof(IAmazonEC2.CreateSnapshotsAsync) ? Ec2Interceptor.Fail<CreateSnapshotsResponse>("InvalidAction") : null);
        var reporter = new RecordingReporter();
        ServicesBox box = await sim.BoxAsync(ec2);

        RecoveryPoint p = await new SnapshotCreator(ec2, SnapshotSim.Region, reporter).CreateAsync(box, Waiting(), Ct);

        Assert.True(p.IsComplete);
        Assert.Equal(2, sim.Control.RequestLog("CreateSnapshot").Count);
        Assert.Contains(reporter.Warnings, w => w.Contains("InvalidAction", StringComparison.Ordinal));
        Assert.Contains(p.Timeline, e => e.Action == "ec2:CreateSnapshots" && e.Outcome == "Skipped");
        RecoveryPoint read = (await RecoveryPointCatalog.GetAsync(ec2, SnapshotSim.Region, p.RecoveryPointId, Ct))!;
        Assert.Equal(new[] { "/dev/sda1", "/dev/xvdf" }, read.Snapshots.Select(s => s.DeviceName));
        Assert.Equal(sim.Seed.ServicesPrivateIp, read.Identity.PrivateIpAddress);

        // MultiVolume never falls back.
        CcieException e = await Assert.ThrowsAsync<CcieException>(() => new SnapshotCreator(ec2, SnapshotSim.Region).CreateAsync(box, new NewSnapshotRequest { Method = SnapshotMethod.MultiVolume }, Ct));
        Assert.Equal("Aws.InvalidAction", e.ErrorId);
    }

    [Fact]
    public async Task A_failed_volume_snapshot_leaves_an_error_point_that_the_wait_reports()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 ec2 = sim.Ec2();
        sim.Control.FailNextSnapshots(1);

        CcieException e = await Assert.ThrowsAsync<CcieException>(() => TakeAsync(sim, ec2));

        Assert.Equal("RecoveryPointFailed", e.ErrorId);
        var failed = Assert.IsType<RecoveryPoint>(e.Target);
        RecoveryPoint read = (await RecoveryPointCatalog.GetAsync(ec2, SnapshotSim.Region, failed.RecoveryPointId, Ct))!;
        Assert.Equal("error", read.State);
        Assert.False(read.IsComplete);
        Assert.Empty(await RecoveryPointCatalog.ListAsync(ec2, SnapshotSim.Region, new RecoveryPointFilter { Latest = true }, Ct));
    }

    [Fact]
    public async Task A_per_volume_partial_failure_leaves_an_incomplete_point_that_retention_removes_and_a_rerun_takes_a_whole_one()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 real = sim.Ec2();
        string dataVolume = sim.Seed.ServicesDataVolumeId;
        (IAmazonEC2 ec2, _) = Ec2Interceptor.Wrap(real, (m, a) =>
            m.Name == nameof(IAmazonEC2.CreateSnapshotAsync) && a?[0] is CreateSnapshotRequest r && r.VolumeId == dataVolume
                ? Ec2Interceptor.Fail<CreateSnapshotResponse>("InternalError", HttpStatusCode.InternalServerError)
                : null);

        RecoveryPoint partial = await TakeAsync(sim, ec2, new NewSnapshotRequest { Method = SnapshotMethod.PerVolume });

        Assert.Equal("incomplete", partial.State);
        Assert.Contains(dataVolume, partial.StateMessage, StringComparison.Ordinal);
        Assert.Contains(partial.Timeline, e => e.Action == "ec2:CreateSnapshot" && e.Outcome == "Failed");
        RecoveryPoint read = (await RecoveryPointCatalog.GetAsync(real, SnapshotSim.Region, partial.RecoveryPointId, Ct))!;
        Assert.Equal("incomplete", read.State);

        RecoveryPoint whole = await TakeAsync(sim, real);
        Assert.NotEqual(partial.RecoveryPointId, whole.RecoveryPointId);
        Assert.True(whole.IsComplete);

        var remover = new SnapshotRemover(real, SnapshotSim.Region);
        IReadOnlyList<RecoveryPointDecision> plan = await remover.PlanPolicyAsync(new SnapshotRetentionRequest { KeepLast = 5, InProgressGrace = TimeSpan.Zero }, Ct);
        Assert.Equal("Remove", Assert.Single(plan, d => d.RecoveryPointId == partial.RecoveryPointId).Action);
        Assert.Equal("Keep", Assert.Single(plan, d => d.RecoveryPointId == whole.RecoveryPointId).Action);
    }

    [Fact]
    public async Task Throttling_and_eventual_consistency_are_absorbed()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 ec2 = sim.Ec2();
        sim.Control.SetEventualConsistency(2);
        sim.Control.InjectFault(FaultKinds.Throttle, "DescribeSnapshots", 3);
        sim.Control.InjectFault(FaultKinds.Throttle, "CreateTags", 1);

        RecoveryPoint p = await TakeAsync(sim, ec2);

        Assert.True(p.IsComplete);
        Assert.Equal(2, p.Snapshots.Count);
        Assert.Equal(3, sim.Control.FaultCount(FaultKinds.Throttle, "DescribeSnapshots"));
        RecoveryPoint read = (await RecoveryPointCatalog.GetAsync(ec2, SnapshotSim.Region, p.RecoveryPointId, Ct))!;
        Assert.All(read.Snapshots, s => Assert.NotNull(s.DeviceName));
    }

    [Fact]
    public async Task Remove_by_id_keeps_the_newest_completed_point_and_points_an_ami_uses()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 ec2 = sim.Ec2();
        RecoveryPoint older = await TakeAsync(sim, ec2);
        RecoveryPoint newest = await TakeAsync(sim, ec2);
        var remover = new SnapshotRemover(ec2, SnapshotSim.Region);

        RecoveryPointDecision keepNewest = await remover.PlanExplicitAsync(newest.RecoveryPointId, includeNewest: false, Ct);
        Assert.Equal("Keep", keepNewest.Action);
        Assert.StartsWith("newest completed", keepNewest.Reason, StringComparison.Ordinal);
        Assert.Equal("Remove", (await remover.PlanExplicitAsync(newest.RecoveryPointId, includeNewest: true, Ct)).Action);

        RegisterImageResponse ami = await ec2.RegisterImageAsync(new RegisterImageRequest
        {
            Name = "restored-services",
            RootDeviceName = "/dev/sda1",
            Architecture = ArchitectureValues.X86_64,
            VirtualizationType = "hvm",
            BlockDeviceMappings = [new BlockDeviceMapping { DeviceName = "/dev/sda1", Ebs = new EbsBlockDevice { SnapshotId = older.Snapshots[0].SnapshotId } }],
        });
        RecoveryPointDecision inUse = await remover.PlanExplicitAsync(older.RecoveryPointId, includeNewest: true, Ct);
        Assert.Equal("Keep", inUse.Action);
        Assert.Equal(new[] { ami.ImageId }, inUse.ImageIds);

        await ec2.DeregisterImageAsync(new DeregisterImageRequest { ImageId = ami.ImageId });
        RecoveryPointDecision go = await remover.PlanExplicitAsync(older.RecoveryPointId, includeNewest: false, Ct);
        Assert.Equal("Remove", go.Action);
        Assert.Equal("Removed", (await remover.RemoveAsync(go, Ct)).Outcome);
        Assert.Null(await RecoveryPointCatalog.GetAsync(ec2, SnapshotSim.Region, older.RecoveryPointId, Ct));
        Assert.NotNull(await RecoveryPointCatalog.GetAsync(ec2, SnapshotSim.Region, newest.RecoveryPointId, Ct));
    }

    [Fact]
    public async Task Remove_by_policy_deletes_exactly_the_points_no_rule_keeps()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 ec2 = sim.Ec2();
        var taken = new List<RecoveryPoint>();
        for (int i = 0; i < 4; i++)
        {
            taken.Add(await TakeAsync(sim, ec2));
        }

        var remover = new SnapshotRemover(ec2, SnapshotSim.Region);
        IReadOnlyList<RecoveryPointDecision> plan = await remover.PlanPolicyAsync(new SnapshotRetentionRequest { KeepLast = 2 }, Ct);
        Assert.Equal(4, plan.Count);
        List<RecoveryPointDecision> removals = plan.Where(d => d.Action == "Remove").ToList();
        Assert.Equal(taken.Take(2).Select(t => t.RecoveryPointId).OrderBy(x => x), removals.Select(d => d.RecoveryPointId).OrderBy(x => x));
        foreach (RecoveryPointDecision d in removals)
        {
            Assert.Equal("Removed", (await remover.RemoveAsync(d, Ct)).Outcome);
        }

        IReadOnlyList<RecoveryPoint> left = await RecoveryPointCatalog.ListAsync(ec2, SnapshotSim.Region, new RecoveryPointFilter(), Ct);
        Assert.Equal(Enumerable.Reverse(taken.Skip(2)).Select(t => t.RecoveryPointId), left.Select(p => p.RecoveryPointId)); // newest first
        Assert.Equal(4, sim.Control.RequestLog("DeleteSnapshot").Count);
    }

    [Fact]
    public async Task Copies_to_another_region_keep_the_id_tags_and_grouping_and_a_rerun_reuses_them()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 east = sim.Ec2();
        IAmazonEC2 west = sim.Ec2(SnapshotSim.DrRegion);
        RecoveryPoint p = await TakeAsync(sim, east, new NewSnapshotRequest()); // still pending: the copy waits for it
        string key = $"arn:aws:kms:{SnapshotSim.DrRegion}:123456789012:key/0f0f0f0f-1111-2222-3333-444444444444";
        var copier = new SnapshotCopier(east, SnapshotSim.Region, west);
        var request = new CopyRecoveryPointRequest { DestinationRegion = SnapshotSim.DrRegion, KmsKeyId = key, Wait = true, WaitOptions = SnapshotSim.FastWait() };

        RecoveryPoint copy = await copier.CopyAsync(p, request, Ct);

        Assert.Equal(p.RecoveryPointId, copy.RecoveryPointId);
        Assert.Equal(SnapshotSim.DrRegion, copy.Region);
        Assert.Equal($"{SnapshotSim.Region}/{p.RecoveryPointId}", copy.CopiedFrom);
        Assert.True(copy.IsComplete);
        Assert.All(copy.Snapshots, s => Assert.True(s.Encrypted));
        Assert.All(copy.Snapshots, s => Assert.Equal(key, s.KmsKeyId));
        Assert.Equal(new[] { "/dev/sda1", "/dev/xvdf" }, copy.Snapshots.Select(s => s.DeviceName));

        RecoveryPoint found = Assert.Single(await RecoveryPointCatalog.ListAsync(west, SnapshotSim.DrRegion, new RecoveryPointFilter(), Ct));
        Assert.Equal(p.RecoveryPointId, found.RecoveryPointId);
        Assert.Equal(sim.Seed.ServicesPrivateIp, found.Identity.PrivateIpAddress);
        Assert.Equal(p.SnapshotIds.OrderBy(x => x), found.Snapshots.Select(s => s.SourceSnapshotId!).OrderBy(x => x));
        Assert.All(await sim.SnapshotsAsync(west), s => Assert.StartsWith("CircleCI Services box Backup taken at ", s.Description, StringComparison.Ordinal));
        Assert.Equal(2, sim.Control.RequestLog("CopySnapshot").Count);

        RecoveryPoint again = await copier.CopyAsync(p, request, Ct);
        Assert.Equal(copy.SnapshotIds.OrderBy(x => x), again.SnapshotIds.OrderBy(x => x));
        Assert.Equal(2, sim.Control.RequestLog("CopySnapshot").Count);
        Assert.Contains(again.Timeline, e => e.Outcome == "Reused");

        CcieException same = await Assert.ThrowsAsync<CcieException>(() => new SnapshotCopier(east, SnapshotSim.Region, east).CopyAsync(p, new CopyRecoveryPointRequest { DestinationRegion = SnapshotSim.Region }, Ct));
        Assert.Equal("SameRegion", same.ErrorId);
    }

    [Fact]
    public async Task An_encrypted_source_stays_encrypted_in_the_copy_without_a_key()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 east = sim.Ec2();
        IAmazonEC2 west = sim.Ec2(SnapshotSim.DrRegion);
        RecoveryPoint p = await TakeAsync(sim, east);

        RecoveryPoint copy = await new SnapshotCopier(east, SnapshotSim.Region, west).CopyAsync(p, new CopyRecoveryPointRequest { DestinationRegion = SnapshotSim.DrRegion, Wait = true, WaitOptions = SnapshotSim.FastWait() }, Ct);

        Assert.False(copy.Snapshots.Single(s => s.DeviceName == "/dev/sda1").Encrypted);
        RecoveryPointSnapshot data = copy.Snapshots.Single(s => s.DeviceName == "/dev/xvdf");
        Assert.True(data.Encrypted);
        Assert.StartsWith($"arn:aws:kms:{SnapshotSim.DrRegion}:", data.KmsKeyId, StringComparison.Ordinal);
    }

    private sealed class RecordingReporter : IOperationReporter
    {
        public List<ProgressUpdate> Progress { get; } = new();

        public List<string> Warnings { get; } = new();

        void IOperationReporter.Progress(ProgressUpdate update)
        {
            lock (Progress)
            {
                Progress.Add(update);
            }
        }

        public void Verbose(string message)
        {
        }

        public void Warning(string message)
        {
            lock (Warnings)
            {
                Warnings.Add(message);
            }
        }
    }
}
