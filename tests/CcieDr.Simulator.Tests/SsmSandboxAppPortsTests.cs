using System.Net;
using System.Net.Sockets;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Xunit;

namespace CcieDr.Simulator.Tests;

/// <summary>
/// The world stays consistent: the app's ports are open from the box (inside its sandbox) and at the loopback
/// stand-ins only while the sandbox's Replicated stand-in says the app is started; systemctl restarts run in the box.
/// </summary>
public sealed class SsmSandboxAppPortsTests : IAsyncLifetime
{
    private const string Probe = "for p in 80 443 4434 8800; do if bash -c 'exec 3<>/dev/tcp/127.0.0.1/'$p 2>/dev/null; then echo $p open; else echo $p closed; fi; done";
    private SimulatorServer server = null!;
    private SeedResult seed = null!;

    public async Task InitializeAsync()
    {
        server = await SimulatorServer.StartAsync(new SimulatorOptions { ClockMode = ClockMode.Manual, SsmSandbox = true });
        seed = server.Control.SeedCircleCi("us-east-1");
    }

    public async Task DisposeAsync() => await server.DisposeAsync();

    private string Box(string script, string? instanceId = null)
    {
        var r = server.Control.RunInBox("us-east-1", instanceId ?? seed.ServicesInstanceId, script);
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stderr}");
        return r.Stdout;
    }

    private static bool HereOpen(int port)
    {
        using var c = new TcpClient();
        try
        {
            c.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    [Fact]
    public void Ports_inside_the_box_listen_only_while_the_app_is_started()
    {
        Assert.Equal("80 open\n443 open\n4434 open\n8800 open\n", Box(Probe));   // the seeded app is started
        Assert.Contains("Verify return code: 18 (self-signed certificate)", Box("echo | openssl s_client -connect 127.0.0.1:443 2>/dev/null"), StringComparison.Ordinal);

        Box("replicatedctl app stop");
        Assert.Equal("80 closed\n443 closed\n4434 closed\n8800 closed\n", Box(Probe));   // stopping
        server.Control.AdvanceClock(2);
        Assert.Equal("80 closed\n443 closed\n4434 closed\n8800 closed\n", Box(Probe));   // stopped

        Box("replicatedctl app start");
        Assert.Equal("80 closed\n443 closed\n4434 closed\n8800 closed\n", Box(Probe));   // starting (3 simulated seconds)
        server.Control.AdvanceClock(5);
        Assert.Equal("80 open\n443 open\n4434 open\n8800 open\n", Box(Probe));

        // A start that fails: the app ends stopped, the ports stay shut.
        Box("replicatedctl app stop");
        server.Control.AdvanceClock(2);
        Box("replicated-standin fail-start on; replicatedctl app start");
        server.Control.AdvanceClock(5);
        Assert.Contains("\"State\": \"stopped\"", Box("replicatedctl app status"), StringComparison.Ordinal);
        Assert.Equal("80 closed\n443 closed\n4434 closed\n8800 closed\n", Box(Probe));
    }

    [Fact]
    public void The_loopback_stand_ins_follow_the_app_in_the_sandbox()
    {
        var desc = server.Control.AppPorts(seed.ServicesInstanceId);
        Assert.Equal("sandbox", (string?)desc["appStateSource"]);
        Assert.True((bool)desc["open"]!);
        var port80 = (int)desc["ports"]!["80"]!;
        Assert.True(HereOpen(port80));

        Box("replicatedctl app stop");
        server.Control.AdvanceClock(2);
        desc = server.Control.AppPorts(seed.ServicesInstanceId);
        Assert.Equal("stopped", (string?)desc["appState"]);
        Assert.False((bool)desc["open"]!);
        Assert.False(HereOpen(port80));

        Box("replicatedctl app start");
        server.Control.AdvanceClock(5);   // the simulated clock, as the stand-in inside the sandbox reads it
        desc = server.Control.AppPorts(seed.ServicesInstanceId);
        Assert.Equal("started", (string?)desc["appState"]);
        Assert.True((bool)desc["open"]!);
        Assert.True(HereOpen(port80));

        // An explicit flag still wins over the sandbox.
        server.Control.SetAppState(seed.ServicesInstanceId, "stopped");
        Assert.False((bool)server.Control.AppPorts(seed.ServicesInstanceId)["open"]!);
    }

    [Fact]
    public async Task A_restored_disk_boots_with_the_app_stopped_and_systemctl_restarts_run_in_the_box()
    {
        using var ec2 = new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonEC2Config { ServiceURL = server.Url.ToString(), AuthenticationRegion = "us-east-1" });
        Box("true");   // the box has its disk
        var snap = await ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = seed.ServicesRootVolumeId });
        server.Control.AdvanceClock(30);
        var image = await ec2.RegisterImageAsync(new RegisterImageRequest
        {
            Name = "restore-ports-test",
            RootDeviceName = "/dev/sda1",
            Architecture = ArchitectureValues.X86_64,
            VirtualizationType = "hvm",
            BlockDeviceMappings = [new BlockDeviceMapping { DeviceName = "/dev/sda1", Ebs = new EbsBlockDevice { SnapshotId = snap.Snapshot.SnapshotId } }],
        });
        server.Control.AdvanceClock(30);
        var run = await ec2.RunInstancesAsync(new RunInstancesRequest
        {
            ImageId = image.ImageId,
            MinCount = 1,
            MaxCount = 1,
            InstanceType = InstanceType.M5Xlarge,
            SubnetId = seed.SubnetAId,
            PrivateIpAddress = "10.0.1.50",
            IamInstanceProfile = new IamInstanceProfileSpecification { Arn = seed.ServicesIamInstanceProfileArn },
        });
        var restored = run.Reservation.Instances[0].InstanceId;
        server.Control.AdvanceClock(30);

        Assert.Contains("\"State\": \"stopped\"", Box("replicatedctl app status", restored), StringComparison.Ordinal);
        Assert.Equal("80 closed\n443 closed\n4434 closed\n8800 closed\n", Box(Probe, restored));
        Assert.False((bool)server.Control.AppPorts(restored)["open"]!);
        Assert.Contains("\"State\": \"started\"", Box("replicatedctl app status"), StringComparison.Ordinal);   // the source box is untouched

        // systemctl is the stand-in's: a restart is logged with the address the service reads from its file.
        Box("sed -i 's/^PRIVATE_ADDRESS=.*/PRIVATE_ADDRESS=10.0.1.50/' /etc/default/replicated", restored);
        Box("systemctl cat replicated.service && systemctl restart replicated replicated-ui replicated-operator", restored);
        var restarts = Box("cat /var/lib/replicated-standin/restarts", restored).Trim().Split('\n').Select(l => l.Split(' ')).ToList();
        Assert.Equal(["replicated", "replicated-ui", "replicated-operator"], restarts.Select(l => l[0]));
        Assert.Equal(["10.0.1.50", "10.0.1.50", seed.ServicesPrivateIp], restarts.Select(l => l[2]));
    }
}
