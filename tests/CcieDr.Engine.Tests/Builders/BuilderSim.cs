using System.Text;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using CcieDr.Engine.Aws.AutoScaling;
using CcieDr.Engine.Aws.Query;
using CcieDr.Engine.Builders;
using CcieDr.Simulator;

namespace CcieDr.Engine.Tests.Builders;

/// <summary>A seeded simulator (manual clock, 10 s transitions) with an EC2 client and the Auto Scaling client.</summary>
internal sealed class BuilderSim : IAsyncDisposable
{
    public const string Region = "us-east-1";

    private BuilderSim(SimulatorServer server, SeedResult seed)
    {
        Server = server;
        Seed = seed;
        Ec2 = new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonEC2Config { ServiceURL = server.Url.ToString(), AuthenticationRegion = Region, MaxErrorRetry = 2 });
        Asg = new AutoScalingClient(new QueryClient(QueryService.AutoScaling, Region, server.Url, _ => Task.FromResult(new ImmutableCredentials("AKIDSIM", "secret", null))));
    }

    public SimulatorServer Server { get; }

    public SimulatorControl Control => Server.Control;

    public SeedResult Seed { get; }

    public AmazonEC2Client Ec2 { get; }

    public AutoScalingClient Asg { get; }

    public BuilderInventory Inventory => new(Ec2, Asg, Region);

    public BuilderCapacity Capacity => new(Asg, Region);

    public static async Task<BuilderSim> StartAsync()
    {
        var options = new SimulatorOptions { ClockMode = ClockMode.Manual };
        options.Durations.SetAll(10);
        var server = await SimulatorServer.StartAsync(options);
        return new BuilderSim(server, server.Control.SeedCircleCi(Region));
    }

    public void Advance(double seconds) => Control.AdvanceClock(seconds);

    public static string UserData(string servicesIp) => Convert.ToBase64String(Encoding.UTF8.GetBytes($"#!/bin/bash\nexport SERVICES_PRIVATE_IP=\"{servicesIp}\"\n"));

    /// <summary>A new launch template version with <paramref name="servicesIp"/>, made the group's version.</summary>
    public async Task<long> NewVersionAsync(string servicesIp)
    {
        var v = await Ec2.CreateLaunchTemplateVersionAsync(new CreateLaunchTemplateVersionRequest { LaunchTemplateId = Seed.LaunchTemplateId, SourceVersion = "1", LaunchTemplateData = new RequestLaunchTemplateData { UserData = UserData(servicesIp) } });
        long number = v.LaunchTemplateVersion.VersionNumber!.Value;
        await Asg.UpdateAutoScalingGroupAsync(new AutoScalingGroupUpdate("circleci-builders") { LaunchTemplate = new LaunchTemplateReference(Seed.LaunchTemplateId, null, number.ToString()) }, CancellationToken.None);
        return number;
    }

    /// <summary>"Restores" the Services box onto <paramref name="ip"/>: the old box is terminated, a new one tagged as a restore takes the Name tag.</summary>
    public async Task<string> RestoreBoxOntoAsync(string ip)
    {
        await Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [Seed.ServicesInstanceId] });
        var r = await Ec2.RunInstancesAsync(new RunInstancesRequest
        {
            ImageId = Seed.ServicesImageId,
            InstanceType = InstanceType.M52xlarge,
            MinCount = 1,
            MaxCount = 1,
            SubnetId = Seed.SubnetAId,
            PrivateIpAddress = ip,
            SecurityGroupIds = [Seed.ServicesSecurityGroupId],
            TagSpecifications = [new TagSpecification { ResourceType = ResourceType.Instance, Tags = [new Tag("Name", "circleci_services"), new Tag("ccie:restored-from", "rp-1")] }],
        });
        return r.Reservation.Instances[0].InstanceId;
    }

    public async ValueTask DisposeAsync()
    {
        Asg.Dispose();
        Ec2.Dispose();
        await Server.DisposeAsync();
    }
}
