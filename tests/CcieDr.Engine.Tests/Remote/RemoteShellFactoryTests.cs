using Amazon.EC2;
using Amazon.Runtime;
using Amazon.SimpleSystemsManagement;
using CcieDr.Engine.Remote;
using CcieDr.Engine.Tests.Restore;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Remote;

/// <summary>The one transport selection: requests copied for another box, and the SSH host vetted before any connection.</summary>
public sealed class RemoteShellFactoryTests : IAsyncLifetime
{
    private readonly List<IDisposable> clients = new();
    private SimulatorServer server = null!;
    private SeedResult seed = null!;

    public async Task InitializeAsync()
    {
        var options = new SimulatorOptions { ClockMode = ClockMode.Realtime };
        options.Durations.SetAll(0.2);
        server = await SimulatorServer.StartAsync(options);
        seed = server.Control.SeedCircleCi("us-east-1");
    }

    public async Task DisposeAsync()
    {
        foreach (var c in clients)
        {
            c.Dispose();
        }

        await server.DisposeAsync();
    }

    private RemoteAwsClients Aws() => new()
    {
        Region = "us-east-1",
        Ec2 = () => Track(new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonEC2Config { ServiceURL = server.Url.ToString(), AuthenticationRegion = "us-east-1" })),
        Ssm = () => Track(new AmazonSimpleSystemsManagementClient(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonSimpleSystemsManagementConfig { ServiceURL = server.Url.ToString(), AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 })),
    };

    private T Track<T>(T client)
        where T : IDisposable
    {
        clients.Add(client);
        return client;
    }

    [Fact]
    public void With_copies_every_setting_for_another_box_and_shares_no_SSH_options()
    {
        Action<string> check = _ => { };
        var template = new RemoteShellRequest
        {
            Transport = RemoteTransport.Ssh,
            SshGiven = true,
            OutputS3BucketName = "ccie-out",
            SshHostCheck = check,
            Ssh = new SshOptions { Host = "old", Port = 2222, User = "ubuntu", KeyPath = "/k", KnownHostsPath = "/kh", HostKeyFingerprint = "SHA256:x", AcceptNewHostKey = true, ConnectTimeout = TimeSpan.FromSeconds(7) },
        };

        RemoteShellRequest copy = template.With("i-0123456789abcdef0", null);
        copy.Ssh.Host = "10.0.1.50";   // as the factory does once it looked the box's IP up

        Assert.Equal("i-0123456789abcdef0", copy.InstanceId);
        Assert.Equal(RemoteTransport.Ssh, copy.Transport);
        Assert.True(copy.SshGiven);
        Assert.Equal("ccie-out", copy.OutputS3BucketName);
        Assert.Same(check, copy.SshHostCheck);
        Assert.Equal((2222, "ubuntu", "/k", "/kh", "SHA256:x", true, TimeSpan.FromSeconds(7)), (copy.Ssh.Port, copy.Ssh.User, copy.Ssh.KeyPath, copy.Ssh.KnownHostsPath, copy.Ssh.HostKeyFingerprint, copy.Ssh.AcceptNewHostKey, copy.Ssh.ConnectTimeout));
        Assert.NotSame(template.Ssh, copy.Ssh);
        Assert.Equal("old", template.Ssh.Host);
        Assert.Equal("given", template.With(null, "given").Ssh.Host);
    }

    [Fact]
    public async Task The_SSH_host_check_sees_the_looked_up_private_IP_and_refuses_before_any_connection()
    {
        var seen = new List<string>();
        var request = new RemoteShellRequest
        {
            Transport = RemoteTransport.Ssh,
            InstanceId = seed.ServicesInstanceId,
            SshHostCheck = h =>
            {
                seen.Add(h);
                throw new CcieException("ProbeAddressSimulated", CcieErrorCategory.InvalidArgument, "simulated", h);
            },
        };

        var e = await Assert.ThrowsAsync<CcieException>(() => RemoteShellFactory.CreateAsync(request, Aws(), new RecordingReporter(), CancellationToken.None));

        Assert.Equal("ProbeAddressSimulated", e.ErrorId);
        Assert.Equal([seed.ServicesPrivateIp], seen);
    }

    [Fact]
    public async Task The_SSH_host_check_runs_on_the_fallback_to_SSH_and_not_when_SSM_is_chosen()
    {
        var seen = new List<string>();
        var request = new RemoteShellRequest { InstanceId = seed.ServicesInstanceId, SshGiven = true, SshHostCheck = seen.Add, Ssh = new SshOptions { Host = "127.0.0.1" } };

        using (IRemoteShell ssm = await RemoteShellFactory.CreateAsync(request.With(seed.ServicesInstanceId, "127.0.0.1"), Aws(), new RecordingReporter(), CancellationToken.None))
        {
            Assert.Equal(RemoteTransport.Ssm, ssm.Transport);
        }

        Assert.Empty(seen);

        server.Control.SetInstanceImpaired("us-east-1", seed.ServicesInstanceId, true);   // agent ConnectionLost: SSH settings were given
        using (IRemoteShell ssh = await RemoteShellFactory.CreateAsync(request.With(seed.ServicesInstanceId, "127.0.0.1"), Aws(), new RecordingReporter(), CancellationToken.None))
        {
            Assert.Equal(RemoteTransport.Ssh, ssh.Transport);
        }

        Assert.Equal(["127.0.0.1"], seen);
    }
}
