using Amazon.EC2;
using Amazon.Runtime;
using Amazon.SimpleSystemsManagement;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Remote;
using CcieDr.Engine.Tests.Restore;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Remote;

/// <summary>The SSM transport end to end through the real AWS SDK against the in-proc simulator (handler answers).</summary>
public sealed class SsmShellTests : IAsyncLifetime
{
    private SimulatorServer server = null!;
    private SeedResult seed = null!;
    private readonly List<IDisposable> clients = new();

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

    private AmazonSimpleSystemsManagementClient Ssm(int sdkRetries = 0)
    {
        var client = new AmazonSimpleSystemsManagementClient(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonSimpleSystemsManagementConfig
        {
            ServiceURL = server.Url.ToString(),
            AuthenticationRegion = "us-east-1",
            MaxErrorRetry = sdkRetries,
            Timeout = TimeSpan.FromSeconds(10),
        });
        clients.Add(client);
        return client;
    }

    private AmazonEC2Client Ec2()
    {
        var client = new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonEC2Config { ServiceURL = server.Url.ToString(), AuthenticationRegion = "us-east-1", Timeout = TimeSpan.FromSeconds(10) });
        clients.Add(client);
        return client;
    }

    private static SsmOptions Options(string instanceId) => new()
    {
        InstanceId = instanceId,
        Wait = new WaitOptions { InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(100) },
        Retry = new AwsRetryPolicy { BaseDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(50) },
        CancelWait = TimeSpan.FromSeconds(10),
    };

    private SsmShell Shell(RecordingReporter? reporter = null, IAmazonSimpleSystemsManagement? ssm = null) =>
        new(ssm ?? Ssm(), Options(seed.ServicesInstanceId), reporter);

    [Fact]
    public async Task Success_returns_stdout_exit_code_and_runs_as_root_without_sudo()
    {
        SsmCommandRequest? seen = null;
        server.Control.SetSsmHandler(r =>
        {
            seen = r;
            return new SsmCommandResult { ExitCode = 0, StandardOutput = "hello from the box\n" };
        });
        var reporter = new RecordingReporter();
        using var shell = Shell(reporter);

        RemoteResult r = await shell.RunAsync(new RemoteCommand("echo 'hello from the box' TOKEN=abc123") { Sudo = true }, CancellationToken.None);

        Assert.Equal(0, r.ExitCode);
        Assert.Equal("hello from the box\n", r.Stdout);
        Assert.False(r.Truncated);
        Assert.Equal(RemoteTransport.Ssm, r.Transport);
        Assert.Equal(seed.ServicesInstanceId, r.Host);
        Assert.NotNull(seen);
        Assert.Equal("AWS-RunShellScript", seen!.DocumentName);
        Assert.Equal("echo 'hello from the box' TOKEN=abc123", seen.Script);   // no sudo wrapper: SSM runs as root
        Assert.Equal("300", Assert.Single(seen.Parameters["executionTimeout"]));
        Assert.Contains(reporter.Verbose, v => v.Contains("echo 'hello from the box'", StringComparison.Ordinal));
        Assert.DoesNotContain(reporter.Verbose, v => v.Contains("abc123", StringComparison.Ordinal));
        Assert.Single(server.Control.RequestLog("SendCommand"));
        Assert.Single(server.Control.RequestLog("DescribeInstanceInformation"));
    }

    [Fact]
    public async Task Failing_command_is_a_result_with_its_exit_code_and_stderr()
    {
        server.Control.AddSsmResponse("false", "", exitCode: 3, stderr: "it broke\n");
        using var shell = Shell();

        RemoteResult r = await shell.RunAsync(new RemoteCommand("false"), CancellationToken.None);

        Assert.Equal(3, r.ExitCode);
        Assert.Equal("it broke\n", r.Stderr);
    }

    [Fact]
    public async Task Output_over_24000_characters_is_marked_truncated_with_a_warning()
    {
        server.Control.AddSsmResponse("big", new string('x', 30000));
        var reporter = new RecordingReporter();
        using var shell = Shell(reporter);

        RemoteResult r = await shell.RunAsync(new RemoteCommand("big"), CancellationToken.None);

        Assert.True(r.Truncated);
        Assert.Equal(SsmShell.InlineOutputLimit, r.Stdout.Length);
        Assert.Contains(reporter.Warnings, w => w.Contains("24,000", StringComparison.Ordinal) && w.Contains("-OutputS3BucketName", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Output_under_the_limit_is_not_truncated_and_MaxOutputChars_cuts_further()
    {
        server.Control.AddSsmResponse("mid", new string('y', 5000));
        using var shell = Shell();

        RemoteResult whole = await shell.RunAsync(new RemoteCommand("mid"), CancellationToken.None);
        RemoteResult cut = await shell.RunAsync(new RemoteCommand("mid") { MaxOutputChars = 100 }, CancellationToken.None);

        Assert.False(whole.Truncated);
        Assert.Equal(5000, whole.Stdout.Length);
        Assert.True(cut.Truncated);
        Assert.Equal(100, cut.Stdout.Length);
    }

    [Fact]
    public async Task Execution_timeout_is_sent_to_SSM_and_its_TimedOut_is_a_timeout_error()
    {
        SsmCommandRequest? seen = null;
        server.Control.SetSsmHandler(r =>
        {
            seen = r;
            return new SsmCommandResult { DurationSeconds = 600 };
        });
        using var shell = Shell();

        var e = await Assert.ThrowsAsync<CcieException>(() => shell.RunAsync(new RemoteCommand("sleep 600") { Timeout = TimeSpan.FromSeconds(1) }, CancellationToken.None));

        Assert.Equal("RemoteCommandTimedOut", e.ErrorId);
        Assert.Equal(CcieErrorCategory.OperationTimeout, e.Category);
        Assert.Contains("-TimeoutSec", e.Message, StringComparison.Ordinal);
        Assert.Equal("1", Assert.Single(seen!.Parameters["executionTimeout"]));
    }

    [Fact]
    public async Task Cancellation_sends_CancelCommand_and_waits_for_Cancelled()
    {
        server.Control.AddSsmResponse("sleep", "", durationSeconds: 600);
        using var shell = Shell();
        using var cts = new CancellationTokenSource();
        Task<RemoteResult> run = shell.RunAsync(new RemoteCommand("sleep 600"), cts.Token);
        while (server.Control.RequestLog("GetCommandInvocation").Count == 0)
        {
            await Task.Delay(20);
        }

        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Single(server.Control.RequestLog("CancelCommand"));
        var ssm = Ssm();
        var list = await ssm.ListCommandInvocationsAsync(new Amazon.SimpleSystemsManagement.Model.ListCommandInvocationsRequest { InstanceId = seed.ServicesInstanceId });
        Assert.Equal("Cancelled", Assert.Single(list.CommandInvocations).Status.Value);
    }

    [Fact]
    public async Task Offline_agent_is_a_clear_error_naming_the_fix_and_nothing_is_sent()
    {
        server.Control.SetInstanceImpaired("us-east-1", seed.ServicesInstanceId, true);
        using var shell = Shell();

        var e = await Assert.ThrowsAsync<CcieException>(() => shell.RunAsync(new RemoteCommand("true"), CancellationToken.None));

        Assert.Equal("SsmAgentOffline", e.ErrorId);
        Assert.Contains("ConnectionLost", e.Message, StringComparison.Ordinal);
        Assert.Contains("AmazonSSMManagedInstanceCore", e.Message, StringComparison.Ordinal);
        Assert.Contains("-Transport Ssh", e.Message, StringComparison.Ordinal);
        Assert.Empty(server.Control.RequestLog("SendCommand"));
    }

    [Fact]
    public async Task Unmanaged_instance_is_a_clear_error()
    {
        var shell = new SsmShell(Ssm(), Options("i-0123456789abcdef0"));

        var e = await Assert.ThrowsAsync<CcieException>(() => shell.RunAsync(new RemoteCommand("true"), CancellationToken.None));

        Assert.Equal("SsmInstanceNotManaged", e.ErrorId);
        Assert.Contains("not a managed instance", e.Message, StringComparison.Ordinal);
        Assert.Contains("instance profile", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Throttled_calls_are_retried_by_the_engine()
    {
        server.Control.AddSsmResponse("true", "ok\n");
        server.Control.InjectFault(FaultKinds.Throttle, "SendCommand", 2);
        server.Control.InjectFault(FaultKinds.Throttle, "DescribeInstanceInformation", 1);
        server.Control.InjectFault(FaultKinds.Throttle, "GetCommandInvocation", 2);
        using var shell = Shell(ssm: Ssm(sdkRetries: 0));

        RemoteResult r = await shell.RunAsync(new RemoteCommand("true"), CancellationToken.None);

        Assert.Equal("ok\n", r.Stdout);
        Assert.Equal(2, server.Control.FaultCount(FaultKinds.Throttle, "SendCommand"));
        Assert.Equal(1, server.Control.FaultCount(FaultKinds.Throttle, "DescribeInstanceInformation"));
        Assert.Equal(2, server.Control.FaultCount(FaultKinds.Throttle, "GetCommandInvocation"));
        Assert.Equal(3, server.Control.RequestLog("SendCommand").Count);   // two refused, one ran: the script ran once
    }

    [Fact]
    public async Task Default_transport_is_Ssm_when_the_agent_is_online()
    {
        server.Control.AddSsmResponse("true", "ok\n");
        var aws = new RemoteAwsClients { Ec2 = Ec2, Ssm = () => Ssm(), Region = "us-east-1" };

        using IRemoteShell shell = await RemoteShellFactory.CreateAsync(new RemoteShellRequest(), aws, new RecordingReporter(), CancellationToken.None);

        Assert.Equal(RemoteTransport.Ssm, shell.Transport);
        Assert.Equal(seed.ServicesInstanceId, shell.Host);   // found by its Name tag
        Assert.Equal("ok\n", (await shell.RunAsync(new RemoteCommand("true"), CancellationToken.None)).Stdout);
    }

    [Fact]
    public async Task Default_transport_falls_back_to_Ssh_when_SSH_settings_are_given_and_the_agent_is_offline()
    {
        server.Control.SetInstanceImpaired("us-east-1", seed.ServicesInstanceId, true);
        var aws = new RemoteAwsClients { Ec2 = Ec2, Ssm = () => Ssm(), Region = "us-east-1" };
        var reporter = new RecordingReporter();
        var request = new RemoteShellRequest { InstanceId = seed.ServicesInstanceId, SshGiven = true, Ssh = new SshOptions { Host = "127.0.0.1" } };

        using IRemoteShell shell = await RemoteShellFactory.CreateAsync(request, aws, reporter, CancellationToken.None);

        Assert.Equal(RemoteTransport.Ssh, shell.Transport);
        Assert.Contains(reporter.Verbose, v => v.StartsWith("Transport: SSH", StringComparison.Ordinal) && v.Contains("ConnectionLost", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Default_transport_without_SSM_or_SSH_is_an_error_listing_both()
    {
        server.Control.SetInstanceImpaired("us-east-1", seed.ServicesInstanceId, true);
        var aws = new RemoteAwsClients { Ec2 = Ec2, Ssm = () => Ssm(), Region = "us-east-1" };

        var e = await Assert.ThrowsAsync<CcieException>(() => RemoteShellFactory.CreateAsync(new RemoteShellRequest { InstanceId = seed.ServicesInstanceId }, aws, new RecordingReporter(), CancellationToken.None));

        Assert.Equal("RemoteTransportUnavailable", e.ErrorId);
        Assert.Contains("-Transport Ssm", e.Message, StringComparison.Ordinal);
        Assert.Contains("-Transport Ssh", e.Message, StringComparison.Ordinal);
        Assert.Contains("AmazonSSMManagedInstanceCore", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Named_Ssm_transport_on_an_offline_agent_fails_with_the_agent_error()
    {
        server.Control.SetInstanceImpaired("us-east-1", seed.ServicesInstanceId, true);
        var aws = new RemoteAwsClients { Ec2 = Ec2, Ssm = () => Ssm(), Region = "us-east-1" };

        var e = await Assert.ThrowsAsync<CcieException>(() => RemoteShellFactory.CreateAsync(new RemoteShellRequest { Transport = RemoteTransport.Ssm, InstanceId = seed.ServicesInstanceId, SshGiven = true }, aws, new RecordingReporter(), CancellationToken.None));

        Assert.Equal("SsmAgentOffline", e.ErrorId);
    }
}
