using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;

namespace CcieDr.Simulator.Tests;

/// <summary>A simulator for one test (own state), seeded with the CircleCI topology, and SDK clients against it.</summary>
internal sealed class Sim : IAsyncDisposable
{
    private readonly List<AmazonEC2Client> clients = new();
    private AmazonEC2Client? ec2;

    private Sim(SimulatorServer server, SeedResult? seed)
    {
        Server = server;
        SeedIds = seed;
    }

    public SimulatorServer Server { get; }

    public SimulatorControl Control => Server.Control;

    public SeedResult Seed => SeedIds ?? throw new InvalidOperationException("not seeded");

    public SeedResult? SeedIds { get; }

    public AmazonEC2Client Ec2 => ec2 ??= Client();

    public static async Task<Sim> StartAsync(bool seed = true, Action<SimulatorOptions>? configure = null)
    {
        var options = new SimulatorOptions { ClockMode = ClockMode.Manual };
        options.Durations.SetAll(10);
        configure?.Invoke(options);
        var server = await SimulatorServer.StartAsync(options);
        var ids = seed ? server.Control.SeedCircleCi("us-east-1") : null;
        return new Sim(server, ids);
    }

    /// <summary>An SDK client for <paramref name="region"/> against the simulator; the region travels only in the SigV4 credential scope.</summary>
    public AmazonEC2Client Client(string region = "us-east-1", int? maxErrorRetry = null, TimeSpan? timeout = null)
    {
        var config = new AmazonEC2Config
        {
            ServiceURL = Server.Url.ToString(),
            AuthenticationRegion = region,
        };
        if (maxErrorRetry is { } m)
        {
            config.MaxErrorRetry = m;
        }

        if (timeout is { } t)
        {
            config.Timeout = t;
        }

        var client = new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), config);
        clients.Add(client);
        return client;
    }

    public void Advance(double seconds) => Control.AdvanceClock(seconds);

    public async Task<Instance> Instance(string id, AmazonEC2Client? client = null)
    {
        var r = await (client ?? Ec2).DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = [id] });
        return r.Reservations.SelectMany(x => x.Instances).Single();
    }

    public async Task<Snapshot> Snapshot(string id, AmazonEC2Client? client = null)
    {
        var r = await (client ?? Ec2).DescribeSnapshotsAsync(new DescribeSnapshotsRequest { SnapshotIds = [id] });
        return r.Snapshots.Single();
    }

    public async Task<Image> Image(string id, AmazonEC2Client? client = null)
    {
        var r = await (client ?? Ec2).DescribeImagesAsync(new DescribeImagesRequest { ImageIds = [id] });
        return r.Images.Single();
    }

    public async Task<Volume> Volume(string id)
    {
        var r = await Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { VolumeIds = [id] });
        return r.Volumes.Single();
    }

    public async Task<NetworkInterface> Eni(string id)
    {
        var r = await Ec2.DescribeNetworkInterfacesAsync(new DescribeNetworkInterfacesRequest { NetworkInterfaceIds = [id] });
        return r.NetworkInterfaces.Single();
    }

    /// <summary>Launches one instance from the seeded services AMI into subnet A.</summary>
    public async Task<Instance> Launch(string? privateIp = null, string? subnetId = null, string? clientToken = null, Action<RunInstancesRequest>? configure = null)
    {
        var request = new RunInstancesRequest
        {
            ImageId = Seed.ServicesImageId,
            InstanceType = InstanceType.M52xlarge,
            MinCount = 1,
            MaxCount = 1,
            SubnetId = subnetId ?? Seed.SubnetAId,
            PrivateIpAddress = privateIp,
            SecurityGroupIds = [Seed.ServicesSecurityGroupId],
            KeyName = "circleci",
            ClientToken = clientToken,
        };
        configure?.Invoke(request);
        var r = await Ec2.RunInstancesAsync(request);
        return r.Reservation.Instances.Single();
    }

    /// <summary>Runs the real AWS CLI against the simulator with throw-away credentials and no user configuration.</summary>
    public async Task<(int ExitCode, string StandardOutput, string StandardError)> AwsCliAsync(params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("aws") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args.Concat(["--endpoint-url", Server.Url.ToString().TrimEnd('/'), "--region", "us-east-1", "--output", "json"]))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["AWS_ACCESS_KEY_ID"] = "AKIDSIM";
        psi.Environment["AWS_SECRET_ACCESS_KEY"] = "secret";
        psi.Environment.Remove("AWS_SESSION_TOKEN");
        psi.Environment.Remove("AWS_PROFILE");
        psi.Environment["AWS_CONFIG_FILE"] = "/dev/null";
        psi.Environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null";
        psi.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        psi.Environment["AWS_PAGER"] = "";
        using var process = System.Diagnostics.Process.Start(psi) ?? throw new InvalidOperationException("could not start the AWS CLI (aws)");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var c in clients)
        {
            c.Dispose();
        }

        await Server.DisposeAsync();
    }
}
