using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Xunit;

namespace CcieDr.Simulator.Tests;

public sealed class HostingTests
{
    [Fact]
    public async Task Exe_starts_on_a_free_port_writes_the_ready_file_serves_and_stops_with_stdin()
    {
        var dir = Directory.CreateTempSubdirectory("ccie-sim-");
        var ready = Path.Combine(dir.FullName, "ready.txt");
        var dll = Path.Combine(AppContext.BaseDirectory, "CcieDr.Simulator.dll");
        var psi = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { "exec", dll, "--port", "0", "--ready-file", ready, "--seed", "circleci", "--seed-region", "us-east-1,us-west-2", "--clock", "manual", "--transition-seconds", "5", "--page-size", "2", "--exit-with-stdin", "--log-requests" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(psi)!;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!File.Exists(ready) && DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(50);
            }

            Assert.True(File.Exists(ready), "ready file never appeared: " + (process.HasExited ? await process.StandardError.ReadToEndAsync() : "still running"));
            var url = new Uri((await File.ReadAllTextAsync(ready)).Trim());
            Assert.Equal("127.0.0.1", url.Host);
            Assert.NotEqual(0, url.Port);

            using var ec2 = new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonEC2Config { ServiceURL = url.ToString(), AuthenticationRegion = "us-east-1" });
            var services = await ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("tag:Name", ["circleci_services"])] });
            Assert.Equal("10.0.1.10", services.Reservations.Single().Instances.Single().PrivateIpAddress);
            using var west = new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonEC2Config { ServiceURL = url.ToString(), AuthenticationRegion = "us-west-2" });
            var westBox = await west.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter("tag:Name", ["circleci_services"])] });
            Assert.Equal("us-west-2a", westBox.Reservations.Single().Instances.Single().Placement.AvailabilityZone);
            var page = await ec2.DescribeInstancesAsync(new DescribeInstancesRequest());
            Assert.NotNull(page.NextToken); // --page-size 2 with 3 instances

            var snap = await ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = (await ec2.DescribeVolumesAsync(new DescribeVolumesRequest { Filters = [new Filter("size", ["500"])] })).Volumes.Single().VolumeId });
            using var http = new HttpClient { BaseAddress = url };
            (await http.PostAsJsonAsync("_sim/clock/advance", new { seconds = 5 })).EnsureSuccessStatusCode();
            Assert.Equal(SnapshotState.Completed, (await ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = [snap.Snapshot.SnapshotId] })).Snapshots.Single().State);
        }
        finally
        {
            process.StandardInput.Close();
            var exited = process.WaitForExit(15000);
            if (!exited)
            {
                process.Kill(entireProcessTree: true);
            }

            Assert.True(exited, "the simulator did not stop when stdin closed");
            Assert.Equal(0, process.ExitCode);
            var stdout = await process.StandardOutput.ReadToEndAsync();
            Assert.Contains("listening on http://127.0.0.1:", stdout);
            Assert.Contains("us-east-1 ec2:DescribeInstances 200", stdout);
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Control_http_api_drives_the_same_state()
    {
        await using var sim = await Sim.StartAsync(seed: false);
        using var http = new HttpClient { BaseAddress = sim.Server.Url };

        var seed = await (await http.PostAsJsonAsync("_sim/seed", new { region = "us-west-2" })).Content.ReadFromJsonAsync<JsonObject>();
        var boxId = seed!["servicesInstanceId"]!.GetValue<string>();
        var west = sim.Client("us-west-2");
        Assert.Equal(boxId, (await sim.Instance(boxId, west)).InstanceId);

        var config = await (await http.PostAsJsonAsync("_sim/config", new { pageSize = 1, durations = new { snapshot = 100 } })).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal(1, config!["pageSize"]!.GetValue<int>());
        Assert.Equal(100, config["durations"]!["snapshot"]!.GetValue<double>());
        Assert.Equal(10, config["durations"]!["instancePending"]!.GetValue<double>());

        var r = await http.PostAsJsonAsync("_sim/faults", new { kind = "throttle", action = "DescribeVolumes", count = 1 });
        r.EnsureSuccessStatusCode();
        await west.DescribeVolumesAsync(new DescribeVolumesRequest());
        var faults = await http.GetFromJsonAsync<JsonObject>("_sim/faults");
        var served = faults!["served"]!.AsArray().Single()!;
        Assert.Equal("throttle", served["kind"]!.GetValue<string>());
        Assert.Equal("DescribeVolumes", served["action"]!.GetValue<string>());
        Assert.Equal(1, served["count"]!.GetValue<int>());

        (await http.PostAsJsonAsync("_sim/faults/az-outage", new { region = "us-west-2", zone = "us-west-2a" })).EnsureSuccessStatusCode();
        var state = await http.GetFromJsonAsync<JsonObject>("_sim/state");
        Assert.Equal("impaired", state!["regions"]!["us-west-2"]!["zones"]![0]!["state"]!.GetValue<string>());
        Assert.Equal("impaired", state["regions"]!["us-west-2"]!["instances"]!.AsArray().Single(i => i!["id"]!.GetValue<string>() == boxId)!["instanceStatus"]!.GetValue<string>());
        (await http.DeleteAsync("_sim/faults/az-outage?region=us-west-2&zone=us-west-2a")).EnsureSuccessStatusCode();

        var clock = await (await http.PostAsJsonAsync("_sim/clock/advance", new { seconds = 60 })).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("manual", clock!["mode"]!.GetValue<string>());

        (await http.PostAsJsonAsync("_sim/faults/eventual-consistency", new { calls = 1, resourceId = boxId })).EnsureSuccessStatusCode();
        await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Instance(boxId, west));
        (await http.PostAsJsonAsync("_sim/faults/instance-death", new { region = "us-west-2", instanceId = boxId, stopAfterSeconds = 0 })).EnsureSuccessStatusCode();
        sim.Advance(10);
        Assert.Equal(InstanceStateName.Stopped, (await sim.Instance(boxId, west)).State.Name);

        var requests = await http.GetFromJsonAsync<JsonArray>("_sim/requests?action=DescribeVolumes");
        Assert.Equal(2, requests!.Count);
        Assert.Equal("us-west-2", requests[0]!["region"]!.GetValue<string>());

        var doubled = await http.GetAsync(sim.Server.Url + "/_sim/clock");
        Assert.Equal(System.Net.HttpStatusCode.OK, doubled.StatusCode);
        var bad = await http.PostAsJsonAsync("_sim/faults", new { kind = "gremlins" });
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("_sim/nope")).StatusCode);

        (await http.PostAsync("_sim/reset", null)).EnsureSuccessStatusCode();
        Assert.Empty((await west.DescribeInstancesAsync(new DescribeInstancesRequest())).Reservations ?? []);
    }

    [Fact]
    public async Task Realtime_clock_moves_transitions_without_advancing()
    {
        await using var sim = await Sim.StartAsync(configure: o =>
        {
            o.ClockMode = ClockMode.Realtime;
            o.Durations.SetAll(0.3);
        });
        var i = await sim.Launch();
        Assert.Equal(InstanceStateName.Pending, i.State.Name);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        InstanceStateName state;
        do
        {
            await Task.Delay(100);
            state = (await sim.Instance(i.InstanceId)).State.Name;
        }
        while (state != InstanceStateName.Running && DateTime.UtcNow < deadline);
        Assert.Equal(InstanceStateName.Running, state);
    }
}
