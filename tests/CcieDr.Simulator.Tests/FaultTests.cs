using System.Diagnostics;
using Amazon.EC2;
using Amazon.EC2.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

public sealed class FaultTests
{
    [Fact]
    public async Task Sdk_retries_absorb_throttling_and_the_counter_shows_it()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.InjectFault(FaultKinds.Throttle, "DescribeInstances", 2);
        var r = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest());
        Assert.Equal(3, r.Reservations.SelectMany(x => x.Instances).Count());
        Assert.Equal(2, sim.Control.FaultCount(FaultKinds.Throttle, "DescribeInstances"));
        var log = sim.Control.RequestLog("DescribeInstances");
        Assert.Equal(3, log.Count);
        Assert.Equal(["RequestLimitExceeded", "RequestLimitExceeded", "-"], log.Select(e => e.ErrorCode ?? "-").ToArray());
        Assert.Equal(503, log[0].Status);
        Assert.Empty(sim.Control.PendingFaults());
    }

    [Fact]
    public async Task Throttling_beyond_the_retries_surfaces_RequestLimitExceeded_503()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.InjectFault(new FaultSpec { Kind = FaultKinds.Throttle, Action = "*", Count = 10 });
        var e = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Client(maxErrorRetry: 1).DescribeVolumesAsync(new DescribeVolumesRequest()));
        Assert.Equal("RequestLimitExceeded", e.ErrorCode);
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, e.StatusCode);
        Assert.Equal(2, sim.Control.FaultCount(FaultKinds.Throttle));
    }

    [Fact]
    public async Task Server_errors_500_and_503_are_retried()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.InjectFault(FaultKinds.InternalError, "DescribeSnapshots", 1);
        sim.Control.InjectFault(FaultKinds.Unavailable, "DescribeSnapshots", 1);
        var r = await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { OwnerIds = ["self"] });
        Assert.Equal(2, r.Snapshots.Count);
        Assert.Equal(1, sim.Control.FaultCount(FaultKinds.InternalError, "DescribeSnapshots"));
        Assert.Equal(1, sim.Control.FaultCount(FaultKinds.Unavailable, "DescribeSnapshots"));

        sim.Control.InjectFault(FaultKinds.InternalError, "DescribeSnapshots", 5);
        var e = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Client(maxErrorRetry: 0).DescribeSnapshotsAsync(new DescribeSnapshotsRequest()));
        Assert.Equal("InternalError", e.ErrorCode);
        Assert.Equal(System.Net.HttpStatusCode.InternalServerError, e.StatusCode);
    }

    [Fact]
    public async Task Dropped_connection_is_retried_and_changes_nothing()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.InjectFault(FaultKinds.Drop, "CreateSnapshot", 1);
        var r = await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesDataVolumeId, Description = "CircleCI drop test" });
        Assert.Equal(1, sim.Control.FaultCount(FaultKinds.Drop, "CreateSnapshot"));
        var all = await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { Filters = [new Filter("description", ["CircleCI drop test"])] });
        Assert.Equal(r.Snapshot.SnapshotId, all.Snapshots.Single().SnapshotId);
    }

    [Fact]
    public async Task Drop_after_processing_plus_ClientToken_keeps_RunInstances_idempotent()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.InjectFault(FaultKinds.DropAfter, "RunInstances", 1);
        var launched = await sim.Launch(clientToken: "restore-1");
        Assert.Equal(1, sim.Control.FaultCount(FaultKinds.DropAfter, "RunInstances"));
        Assert.Equal(2, sim.Control.RequestLog("RunInstances").Count);
        var same = await sim.Ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("client-token", ["restore-1"])] });
        Assert.Equal(launched.InstanceId, same.Reservations.Single().Instances.Single().InstanceId);
    }

    [Fact]
    public async Task Timeout_fault_holds_the_request_until_the_client_gives_up()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.InjectFault(new FaultSpec { Kind = FaultKinds.Timeout, Action = "DescribeVolumes", Count = 1, DelayMilliseconds = 5000 });
        var client = sim.Client(timeout: TimeSpan.FromMilliseconds(500));
        var watch = Stopwatch.StartNew();
        var r = await client.DescribeVolumesAsync(new DescribeVolumesRequest());
        watch.Stop();
        Assert.Equal(4, r.Volumes.Count);
        Assert.Equal(1, sim.Control.FaultCount(FaultKinds.Timeout, "DescribeVolumes"));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4.5), $"the client should have timed out and retried, took {watch.Elapsed}");
    }

    [Fact]
    public async Task Eventual_consistency_new_id_is_NotFound_then_found()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.SetEventualConsistency(2);
        var i = await sim.Launch();
        var first = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Instance(i.InstanceId));
        Assert.Equal("InvalidInstanceID.NotFound", first.ErrorCode);
        var tag = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.CreateTagsAsync(new CreateTagsRequest { Resources = [i.InstanceId], Tags = [new Tag("a", "b")] }));
        Assert.Equal("InvalidInstanceID.NotFound", tag.ErrorCode);
        Assert.Equal(i.InstanceId, (await sim.Instance(i.InstanceId)).InstanceId);

        var snap = await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesDataVolumeId });
        var listed = await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { OwnerIds = ["self"] });
        Assert.DoesNotContain(listed.Snapshots, s => s.SnapshotId == snap.Snapshot.SnapshotId);
        await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Snapshot(snap.Snapshot.SnapshotId));
        Assert.Equal(SnapshotState.Pending, (await sim.Snapshot(snap.Snapshot.SnapshotId)).State);

        sim.Control.SetEventualConsistency(0);
        var j = await sim.Launch();
        Assert.Equal(j.InstanceId, (await sim.Instance(j.InstanceId)).InstanceId);
    }

    [Fact]
    public async Task Instance_that_dies_shows_impaired_then_stops()
    {
        await using var sim = await Sim.StartAsync();
        var box = sim.Seed.ServicesInstanceId;
        sim.Control.KillInstance("us-east-1", box, stopAfterSeconds: 30);
        var status = (await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { InstanceIds = [box] })).InstanceStatuses.Single();
        Assert.Equal(SummaryStatus.Impaired, status.Status.Status);
        Assert.Equal(StatusType.Failed, status.Status.Details.Single().Status);
        Assert.NotNull(status.Status.Details.Single().ImpairedSince);
        Assert.Equal(InstanceStateName.Running, status.InstanceState.Name);
        var impaired = await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest { Filters = [new Filter("instance-status.status", ["impaired"])] });
        Assert.Equal(box, impaired.InstanceStatuses.Single().InstanceId);

        sim.Advance(30);
        Assert.Equal(InstanceStateName.Stopping, (await sim.Instance(box)).State.Name);
        sim.Advance(10);
        var dead = await sim.Instance(box);
        Assert.Equal(InstanceStateName.Stopped, dead.State.Name);
        Assert.Equal("Server.InternalError", dead.StateReason.Code);
        Assert.Equal(1, sim.Control.FaultCount("instance-death"));
    }

    [Fact]
    public async Task Snapshot_failure_goes_to_error()
    {
        await using var sim = await Sim.StartAsync();
        var s = (await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesDataVolumeId })).Snapshot;
        sim.Control.FailSnapshot("us-east-1", s.SnapshotId);
        Assert.Equal(SnapshotState.Error, (await sim.Snapshot(s.SnapshotId)).State);

        sim.Control.FailNextSnapshots(1);
        var img = await sim.Ec2.CreateImageAsync(new CreateImageRequest { InstanceId = sim.Seed.ServicesInstanceId, Name = "doomed", NoReboot = true });
        sim.Advance(10);
        var image = await sim.Image(img.ImageId);
        Assert.Equal(ImageState.Failed, image.State);
        var states = (await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = image.BlockDeviceMappings.Select(b => b.Ebs.SnapshotId).ToList() })).Snapshots.Select(x => x.State.Value).Order().ToArray();
        Assert.Equal(["completed", "error"], states);
        Assert.Equal(2, sim.Control.FaultCount("snapshot-failure"));
    }

    [Fact]
    public async Task Az_outage_impairs_the_zone_and_its_instances_and_launches_there_fail()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.FailAvailabilityZone("us-east-1", "us-east-1a");
        var zones = await sim.Ec2.DescribeAvailabilityZonesAsync(new DescribeAvailabilityZonesRequest());
        Assert.Equal(AvailabilityZoneState.Impaired, zones.AvailabilityZones.Single(z => z.ZoneName == "us-east-1a").State);
        Assert.Equal(AvailabilityZoneState.Available, zones.AvailabilityZones.Single(z => z.ZoneName == "us-east-1b").State);

        var statuses = (await sim.Ec2.DescribeInstanceStatusAsync(new DescribeInstanceStatusRequest())).InstanceStatuses;
        Assert.Equal(SummaryStatus.Impaired, statuses.Single(s => s.InstanceId == sim.Seed.ServicesInstanceId).SystemStatus.Status);
        Assert.Equal(SummaryStatus.Ok, statuses.Single(s => s.InstanceId == sim.Seed.BuilderInstanceIds[1]).SystemStatus.Status);

        var e = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Client(maxErrorRetry: 0).RunInstancesAsync(new RunInstancesRequest
        {
            ImageId = sim.Seed.ServicesImageId,
            MinCount = 1,
            MaxCount = 1,
            SubnetId = sim.Seed.SubnetAId,
            InstanceType = InstanceType.M52xlarge,
        }));
        Assert.Equal("InsufficientInstanceCapacity", e.ErrorCode);
        Assert.Contains("us-east-1b", e.Message);

        // The other AZ still works: a replica goes there.
        var replica = await sim.Launch(subnetId: sim.Seed.SubnetBId);
        Assert.Equal("us-east-1b", replica.Placement.AvailabilityZone);

        sim.Control.RestoreAvailabilityZone("us-east-1", "us-east-1a");
        Assert.Equal(InstanceStateName.Pending, (await sim.Launch()).State.Name);
    }

    [Fact]
    public async Task Delay_fault_makes_a_slow_call_that_a_cancellation_token_stops()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.InjectFault(new FaultSpec { Kind = FaultKinds.Delay, Action = "DescribeImages", Count = 2, DelayMilliseconds = 10000 });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        Task<DescribeImagesResponse> slow = sim.Ec2.DescribeImagesAsync(new DescribeImagesRequest { Owners = ["self"] }, cts.Token);
        // Stopped by the token, not by the server: the call ends long before the 10 s delay would have (no timing
        // assert: the task has ended while the simulator still holds the request).
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow);
        Assert.True(sim.Control.FaultCount(FaultKinds.Delay, "DescribeImages") >= 1);

        sim.Control.ClearFaults();
        sim.Control.InjectFault(new FaultSpec { Kind = FaultKinds.Delay, Action = "DescribeImages", Count = 1, DelayMilliseconds = 200 });
        var r = await sim.Ec2.DescribeImagesAsync(new DescribeImagesRequest { Owners = ["self"] });
        Assert.Equal(2, r.Images.Count); // a delayed call is then served normally
        Assert.Empty(sim.Control.PendingFaults()); // the one delay was taken by that call
    }
}
