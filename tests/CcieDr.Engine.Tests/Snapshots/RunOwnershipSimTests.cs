using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Recovery;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Snapshots;

/// <summary>
/// Issue #12 item 7: a run deletes only the duplicates it made itself (its ccie:run-id), never a concurrent run's
/// snapshots of the same point, nor the originals a copy back to their region finds; it lists what it deleted.
/// </summary>
public class RunOwnershipSimTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private static NewSnapshotRequest Waiting(SnapshotMethod method = SnapshotMethod.Auto) => new() { Wait = true, WaitOptions = SnapshotSim.FastWait(), Method = method };

    private static CopyRecoveryPointRequest CopyTo(string region) => new() { DestinationRegion = region, Wait = true, WaitOptions = SnapshotSim.FastWait() };

    private static string? Tag(Snapshot s, string key) => s.Tags.FirstOrDefault(t => t.Key == key)?.Value;

    private static async Task<RecoveryPoint> TakeAsync(SnapshotSim sim, IAmazonEC2 ec2, IOperationReporter? reporter = null, NewSnapshotRequest? request = null)
    {
        ServicesBox box = await sim.BoxAsync(ec2);
        return await new SnapshotCreator(ec2, SnapshotSim.Region, reporter).CreateAsync(box, request ?? Waiting(), Ct);
    }

    [Fact]
    public async Task Snapshots_with_the_point_id_made_by_another_run_between_the_calls_are_left_alone_and_reported()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 real = sim.Ec2();
        ServicesBox box = await sim.BoxAsync(real);
        var foreign = new List<string>();

        // Right after CreateSnapshots, "another run" (a different run id) and a tool (no run id) make snapshots
        // with the same point id, before this run looks for duplicates.
        async Task<CreateSnapshotsResponse> CreateThenInterfere(CreateSnapshotsRequest request, CancellationToken ct)
        {
            CreateSnapshotsResponse response = await real.CreateSnapshotsAsync(request, ct);
            List<Tag> pointTags = request.TagSpecifications[0].Tags.Where(t => t.Key != "ccie:run-id").ToList();
            foreach (List<Tag> tags in new[] { pointTags.Append(new Tag("ccie:run-id", "run-someoneelse")).ToList(), pointTags })
            {
                CreateSnapshotResponse other = await real.CreateSnapshotAsync(
                    new CreateSnapshotRequest { VolumeId = box.Volumes[1].VolumeId, TagSpecifications = [new TagSpecification { ResourceType = ResourceType.Snapshot, Tags = tags }] },
                    ct);
                foreign.Add(other.Snapshot.SnapshotId);
            }

            return response;
        }

        (IAmazonEC2 ec2, _) = Ec2Interceptor.Wrap(real, (m, a) => m.Name == nameof(IAmazonEC2.CreateSnapshotsAsync) ? CreateThenInterfere((CreateSnapshotsRequest)a![0]!, (CancellationToken)a[1]!) : null);
        var reporter = new Recorder();

        RecoveryPoint p = await new SnapshotCreator(ec2, SnapshotSim.Region, reporter).CreateAsync(box, Waiting(), Ct);

        Assert.Equal(2, foreign.Count);
        List<Snapshot> left = await sim.SnapshotsAsync(real, Ec2Extensions.Filter("tag:ccie:recovery-point", p.RecoveryPointId));
        Assert.Equal(p.SnapshotIds.Concat(foreign).OrderBy(x => x), left.Select(s => s.SnapshotId).OrderBy(x => x));
        Assert.Empty(sim.Control.RequestLog("DeleteSnapshot"));
        Assert.True(p.IsComplete);
        Assert.Equal(2, p.Snapshots.Count);

        Assert.Empty(p.DeletedDuplicates);
        Assert.Equal(foreign.OrderBy(x => x), p.LeftAlone.Select(d => d.SnapshotId).OrderBy(x => x));
        Assert.All(p.LeftAlone, d => Assert.False(d.Deleted));
        Assert.Equal("run-someoneelse", p.LeftAlone.Single(d => d.SnapshotId == foreign[0]).RunId);
        Assert.Null(p.LeftAlone.Single(d => d.SnapshotId == foreign[1]).RunId);
        Assert.Contains(reporter.Warnings, w => w.Contains(foreign[0], StringComparison.Ordinal) && w.Contains("run-someoneelse", StringComparison.Ordinal) && w.Contains("Left alone", StringComparison.Ordinal));
        Assert.Contains(reporter.Warnings, w => w.Contains(foreign[1], StringComparison.Ordinal) && w.Contains("without a ccie:run-id", StringComparison.Ordinal));
        Assert.All(left.Where(s => p.SnapshotIds.Contains(s.SnapshotId)), s => Assert.Equal(p.RunId, Tag(s, "ccie:run-id")));
    }

    [Fact]
    public async Task Two_runs_copying_the_same_point_at_once_keep_each_others_copies()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 east = sim.Ec2();
        IAmazonEC2 west = sim.Ec2(SnapshotSim.DrRegion);
        RecoveryPoint p = await TakeAsync(sim, east);

        // Both runs have looked for earlier copies (none) before either copies anything.
        var arrived = new[] { new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        IAmazonEC2 Destination(int run)
        {
            (IAmazonEC2 client, _) = Ec2Interceptor.Wrap(west, (m, a) => m.Name == nameof(IAmazonEC2.CopySnapshotAsync) ? AfterBoth(run, (CopySnapshotRequest)a![0]!, (CancellationToken)a[1]!) : null);
            return client;
        }

        async Task<CopySnapshotResponse> AfterBoth(int run, CopySnapshotRequest request, CancellationToken ct)
        {
            arrived[run].TrySetResult();
            await Task.WhenAny(Task.WhenAll(arrived.Select(t => t.Task)), Task.Delay(TimeSpan.FromSeconds(30), ct)); // a guard against a hang, not a timing assert
            return await west.CopySnapshotAsync(request, ct);
        }

        var reporters = new[] { new Recorder(), new Recorder() };
        RecoveryPoint[] copies = await Task.WhenAll(Enumerable.Range(0, 2).Select(run =>
            Task.Run(() => new SnapshotCopier(east, SnapshotSim.Region, Destination(run), reporters[run]).CopyAsync(p, CopyTo(SnapshotSim.DrRegion), Ct))));

        Assert.True(arrived.All(t => t.Task.IsCompleted));
        Assert.Equal(4, sim.Control.RequestLog("CopySnapshot").Count);
        List<Snapshot> inWest = await sim.SnapshotsAsync(west, Ec2Extensions.Filter("tag:ccie:recovery-point", p.RecoveryPointId));
        Assert.Equal(4, inWest.Count);
        Assert.Empty(sim.Control.RequestLog("DeleteSnapshot"));
        Assert.Equal(copies.SelectMany(c => c.SnapshotIds).OrderBy(x => x), inWest.Select(s => s.SnapshotId).OrderBy(x => x));
        Assert.All(copies, c => Assert.True(c.IsComplete));

        Assert.NotEqual(copies[0].RunId, copies[1].RunId);
        Assert.All(copies, c => Assert.Empty(c.DeletedDuplicates));
        for (int run = 0; run < 2; run++)
        {
            RecoveryPoint other = copies[1 - run];
            Assert.All(copies[run].LeftAlone, d => Assert.Contains(d.SnapshotId, other.SnapshotIds));
            Assert.All(copies[run].LeftAlone, d => Assert.Equal(other.RunId, d.RunId));
            Assert.All(inWest.Where(s => copies[run].SnapshotIds.Contains(s.SnapshotId)), s => Assert.Equal(copies[run].RunId, Tag(s, "ccie:run-id")));
        }

        // The run that looked last saw the other's copies and said so.
        Assert.Contains(copies, c => c.LeftAlone.Count > 0);
        Assert.Contains(reporters, r => r.Warnings.Any(w => w.Contains("copying it too", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Copying_a_point_back_to_its_own_region_keeps_the_originals()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 east = sim.Ec2();
        IAmazonEC2 west = sim.Ec2(SnapshotSim.DrRegion);
        RecoveryPoint p = await TakeAsync(sim, east);
        RecoveryPoint inWest = await new SnapshotCopier(east, SnapshotSim.Region, west).CopyAsync(p, CopyTo(SnapshotSim.DrRegion), Ct);

        RecoveryPoint back = await new SnapshotCopier(west, SnapshotSim.DrRegion, east).CopyAsync(inWest, CopyTo(SnapshotSim.Region), Ct);

        List<Snapshot> inEast = await sim.SnapshotsAsync(east, Ec2Extensions.Filter("tag:ccie:recovery-point", p.RecoveryPointId));
        Assert.Equal(p.SnapshotIds.Concat(back.SnapshotIds).OrderBy(x => x), inEast.Select(s => s.SnapshotId).OrderBy(x => x));
        Assert.Empty(sim.Control.RequestLog("DeleteSnapshot"));
        Assert.Empty(back.DeletedDuplicates);
        Assert.Equal(p.SnapshotIds.OrderBy(x => x), back.LeftAlone.Select(d => d.SnapshotId).OrderBy(x => x));
        Assert.All(back.LeftAlone, d => Assert.Equal(p.RunId, d.RunId));
    }

    [Fact]
    public async Task A_lost_CreateSnapshots_response_deletes_only_this_runs_duplicates_and_lists_them()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 ec2 = sim.Ec2();
        sim.Control.InjectFault(FaultKinds.DropAfter, "CreateSnapshots", 1);

        RecoveryPoint p = await TakeAsync(sim, ec2);

        Assert.Equal(2, sim.Control.RequestLog("CreateSnapshots").Count); // the SDK retried: EC2 made two sets
        List<Snapshot> left = await sim.SnapshotsAsync(ec2, Ec2Extensions.Filter("tag:ccie:recovery-point", p.RecoveryPointId));
        Assert.Equal(p.SnapshotIds.OrderBy(x => x), left.Select(s => s.SnapshotId).OrderBy(x => x));
        Assert.Equal(2, p.DeletedDuplicates.Count);
        Assert.Empty(p.LeftAlone);
        Assert.StartsWith("run-", p.RunId, StringComparison.Ordinal);
        Assert.All(p.DeletedDuplicates, d =>
        {
            Assert.True(d.Deleted);
            Assert.Equal(p.RunId, d.RunId);
            Assert.Equal(SnapshotSim.Region, d.Region);
            Assert.Contains("response was lost", d.Reason, StringComparison.Ordinal);
            Assert.DoesNotContain(d.SnapshotId, p.SnapshotIds);
        });
        Assert.Equal(p.DeletedDuplicates.Select(d => d.SnapshotId).OrderBy(x => x), sim.Control.RequestLog("DeleteSnapshot").Select(e => DeletedId(e)).OrderBy(x => x));
    }

    [Fact]
    public async Task A_lost_per_volume_CreateSnapshot_response_deletes_this_runs_duplicate_and_lists_it()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 ec2 = sim.Ec2();
        sim.Control.InjectFault(FaultKinds.DropAfter, "CreateSnapshot", 1);

        RecoveryPoint p = await TakeAsync(sim, ec2, request: Waiting(SnapshotMethod.PerVolume));

        Assert.Equal(3, sim.Control.RequestLog("CreateSnapshot").Count);
        Assert.True(p.IsComplete);
        List<Snapshot> left = await sim.SnapshotsAsync(ec2, Ec2Extensions.Filter("tag:ccie:recovery-point", p.RecoveryPointId));
        Assert.Equal(p.SnapshotIds.OrderBy(x => x), left.Select(s => s.SnapshotId).OrderBy(x => x));
        DuplicateSnapshot d = Assert.Single(p.DeletedDuplicates);
        Assert.Equal(p.RunId, d.RunId);
        Assert.DoesNotContain(d.SnapshotId, p.SnapshotIds);
    }

    [Fact]
    public async Task A_lost_CopySnapshot_response_deletes_this_runs_duplicate_copy_and_lists_it()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 east = sim.Ec2();
        IAmazonEC2 west = sim.Ec2(SnapshotSim.DrRegion);
        RecoveryPoint p = await TakeAsync(sim, east);
        sim.Control.InjectFault(FaultKinds.DropAfter, "CopySnapshot", 1);

        RecoveryPoint copy = await new SnapshotCopier(east, SnapshotSim.Region, west).CopyAsync(p, CopyTo(SnapshotSim.DrRegion), Ct);

        Assert.Equal(3, sim.Control.RequestLog("CopySnapshot").Count);
        List<Snapshot> inWest = await sim.SnapshotsAsync(west);
        Assert.Equal(copy.SnapshotIds.OrderBy(x => x), inWest.Select(s => s.SnapshotId).OrderBy(x => x));
        Assert.NotEqual(p.RunId, copy.RunId);
        Assert.All(inWest, s => Assert.Equal(copy.RunId, Tag(s, "ccie:run-id")));
        DuplicateSnapshot d = Assert.Single(copy.DeletedDuplicates);
        Assert.True(d.Deleted);
        Assert.Equal(copy.RunId, d.RunId);
        Assert.Equal(SnapshotSim.DrRegion, d.Region);
        Assert.Contains(d.SourceSnapshotId, p.SnapshotIds);
        Assert.DoesNotContain(d.SnapshotId, copy.SnapshotIds);
        Assert.Empty(copy.LeftAlone);
    }

    [Fact]
    public async Task A_rerun_lists_the_failed_earlier_copy_it_replaced()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 east = sim.Ec2();
        IAmazonEC2 west = sim.Ec2(SnapshotSim.DrRegion);
        RecoveryPoint p = await TakeAsync(sim, east);
        sim.Control.FailNextSnapshots(1);
        await Assert.ThrowsAsync<CcieException>(() => new SnapshotCopier(east, SnapshotSim.Region, west).CopyAsync(p, CopyTo(SnapshotSim.DrRegion), Ct));
        Snapshot failed = Assert.Single(await sim.SnapshotsAsync(west, Ec2Extensions.Filter("status", "error")));

        RecoveryPoint copy = await new SnapshotCopier(east, SnapshotSim.Region, west).CopyAsync(p, CopyTo(SnapshotSim.DrRegion), Ct);

        Assert.True(copy.IsComplete);
        DuplicateSnapshot d = Assert.Single(copy.DeletedDuplicates);
        Assert.Equal(failed.SnapshotId, d.SnapshotId);
        Assert.True(d.Deleted);
        Assert.Equal(Tag(failed, "ccie:run-id"), d.RunId);
        Assert.NotEqual(copy.RunId, d.RunId);
        Assert.Contains("failed", d.Reason, StringComparison.Ordinal);
        Assert.Equal(Tag(failed, "ccie:source-snapshot-id"), d.SourceSnapshotId);
        Assert.DoesNotContain(failed.SnapshotId, (await sim.SnapshotsAsync(west)).Select(s => s.SnapshotId));
    }

    [Fact]
    public async Task WhatIf_lists_the_deletion_of_this_runs_duplicates()
    {
        await using SnapshotSim sim = await SnapshotSim.StartAsync();
        IAmazonEC2 east = sim.Ec2();
        ServicesBox box = await sim.BoxAsync(east);
        RecoveryPoint p = await TakeAsync(sim, east);
        sim.Control.ClearRequestLog();

        string create = SnapshotCreator.Plan(box, new NewSnapshotRequest()).Render();
        string copy = new SnapshotCopier(east, SnapshotSim.Region, sim.Ec2(SnapshotSim.DrRegion)).Plan(p, new CopyRecoveryPointRequest { DestinationRegion = SnapshotSim.DrRegion }).Render();

        Assert.Matches(@"ec2:DeleteSnapshot\s+delete duplicates created by this run's lost responses \(if any\)", create);
        Assert.Contains("another run's snapshots of the point are left alone", create, StringComparison.Ordinal);
        Assert.Matches(@"ec2:DeleteSnapshot\s+in us-west-2: delete duplicates created by this run's lost responses \(if any\)", copy);
        Assert.Matches(@"ec2:DeleteSnapshot\s+in us-west-2: earlier copies that failed", copy);
        Assert.Empty(sim.Control.RequestLog());
    }

    private static string DeletedId(RequestLogEntry e) => e.Parameters.TryGetValue("SnapshotId", out string? id) ? id : string.Empty;

    private sealed class Recorder : IOperationReporter
    {
        public List<string> Warnings { get; } = new();

        void IOperationReporter.Progress(ProgressUpdate update)
        {
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
