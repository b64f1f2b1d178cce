using Amazon.Runtime;
using Amazon.SimpleSystemsManagement;
using Amazon.SimpleSystemsManagement.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

public sealed class SsmTests
{
    private static AmazonSimpleSystemsManagementClient Ssm(Sim sim, string region = "us-east-1", int? maxErrorRetry = null)
    {
        var config = new AmazonSimpleSystemsManagementConfig { ServiceURL = sim.Server.Url.ToString(), AuthenticationRegion = region };
        if (maxErrorRetry is { } m)
        {
            config.MaxErrorRetry = m;
        }

        return new AmazonSimpleSystemsManagementClient(new BasicAWSCredentials("AKIDSIM", "secret"), config);
    }

    [Fact]
    public async Task Managed_instances_are_online_while_healthy()
    {
        await using var sim = await Sim.StartAsync();
        using var ssm = Ssm(sim);
        var info = await ssm.DescribeInstanceInformationAsync(new DescribeInstanceInformationRequest());
        Assert.Equal(3, info.InstanceInformationList.Count);
        var box = info.InstanceInformationList.Single(i => i.InstanceId == sim.Seed.ServicesInstanceId);
        Assert.Equal(PingStatus.Online, box.PingStatus);
        Assert.Equal("10.0.1.10", box.IPAddress);
        Assert.Equal(PlatformType.Linux, box.PlatformType);

        sim.Control.KillInstance("us-east-1", sim.Seed.ServicesInstanceId, 60);
        var filtered = await ssm.DescribeInstanceInformationAsync(new DescribeInstanceInformationRequest
        {
            Filters = [new InstanceInformationStringFilter { Key = "InstanceIds", Values = [sim.Seed.ServicesInstanceId] }],
        });
        Assert.Equal(PingStatus.ConnectionLost, filtered.InstanceInformationList.Single().PingStatus);
    }

    [Fact]
    public async Task Run_command_goes_pending_to_success_with_the_clock_and_returns_the_output()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.AddSsmResponse("replicated apps", "ID          NAME\nabc123      CircleCI Enterprise\n");
        sim.Control.AddSsmResponse("replicated admin get-secret-token", "", exitCode: 1, stderr: "permission denied\n");
        using var ssm = Ssm(sim);
        var sent = await ssm.SendCommandAsync(new SendCommandRequest
        {
            DocumentName = "AWS-RunShellScript",
            InstanceIds = [sim.Seed.ServicesInstanceId],
            Parameters = new Dictionary<string, List<string>> { ["commands"] = ["set -e", "replicated apps"] },
            Comment = "ccie: list apps",
        });
        Assert.Equal("ccie: list apps", sent.Command.Comment);
        var inv = await ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = sent.Command.CommandId, InstanceId = sim.Seed.ServicesInstanceId });
        Assert.Equal(CommandInvocationStatus.InProgress, inv.Status);

        sim.Advance(10);
        inv = await ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = sent.Command.CommandId, InstanceId = sim.Seed.ServicesInstanceId });
        Assert.Equal(CommandInvocationStatus.Success, inv.Status);
        Assert.Equal(0, inv.ResponseCode);
        Assert.Contains("CircleCI Enterprise", inv.StandardOutputContent);

        var failed = await ssm.SendCommandAsync(new SendCommandRequest
        {
            DocumentName = "AWS-RunShellScript",
            InstanceIds = [sim.Seed.ServicesInstanceId],
            Parameters = new Dictionary<string, List<string>> { ["commands"] = ["replicated admin get-secret-token"] },
        });
        sim.Advance(10);
        var list = await ssm.ListCommandInvocationsAsync(new ListCommandInvocationsRequest { CommandId = failed.Command.CommandId, Details = true });
        var f = list.CommandInvocations.Single();
        Assert.Equal(CommandInvocationStatus.Failed, f.Status);
        Assert.Equal(1, f.CommandPlugins.Single().ResponseCode);
        Assert.Contains("permission denied", f.CommandPlugins.Single().Output);

        var unknown = await ssm.SendCommandAsync(new SendCommandRequest
        {
            DocumentName = "AWS-RunShellScript",
            InstanceIds = [sim.Seed.ServicesInstanceId],
            Parameters = new Dictionary<string, List<string>> { ["commands"] = ["rm -rf /"] },
        });
        sim.Advance(10);
        var u = await ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = unknown.Command.CommandId, InstanceId = sim.Seed.ServicesInstanceId });
        Assert.Equal(127, u.ResponseCode);
        Assert.Contains("no SSM response", u.StandardErrorContent);
        Assert.Equal(3, sim.Control.RequestLog("SendCommand").Count);
    }

    [Fact]
    public async Task In_proc_handler_sees_the_script_and_instance()
    {
        await using var sim = await Sim.StartAsync();
        SsmCommandRequest? seen = null;
        sim.Control.SetSsmHandler(r =>
        {
            seen = r;
            return new SsmCommandResult { StandardOutput = "ok " + r.InstanceName, DurationSeconds = 0 };
        });
        using var ssm = Ssm(sim);
        var sent = await ssm.SendCommandAsync(new SendCommandRequest
        {
            DocumentName = "AWS-RunShellScript",
            InstanceIds = [sim.Seed.ServicesInstanceId],
            Parameters = new Dictionary<string, List<string>> { ["commands"] = ["echo one", "echo two"] },
        });
        var inv = await ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = sent.Command.CommandId, InstanceId = sim.Seed.ServicesInstanceId });
        Assert.Equal(CommandInvocationStatus.Success, inv.Status);
        Assert.Equal("ok circleci_services", inv.StandardOutputContent);
        Assert.Equal("echo one\necho two", seen!.Script);
    }

    [Fact]
    public async Task Commands_to_dead_or_unmanaged_instances()
    {
        await using var sim = await Sim.StartAsync();
        using var ssm = Ssm(sim);
        var stoppedId = sim.Seed.BuilderInstanceIds[0];
        await sim.Ec2.StopInstancesAsync(new Amazon.EC2.Model.StopInstancesRequest { InstanceIds = [stoppedId] });
        var e = await Assert.ThrowsAsync<InvalidInstanceIdException>(() => ssm.SendCommandAsync(new SendCommandRequest
        {
            DocumentName = "AWS-RunShellScript",
            InstanceIds = [stoppedId],
            Parameters = new Dictionary<string, List<string>> { ["commands"] = ["true"] },
        }));
        Assert.Contains(stoppedId, e.Message);

        // An impaired box is registered but its agent is offline: the command is never delivered.
        sim.Control.SetInstanceImpaired("us-east-1", sim.Seed.ServicesInstanceId, true);
        var sent = await ssm.SendCommandAsync(new SendCommandRequest
        {
            DocumentName = "AWS-RunShellScript",
            InstanceIds = [sim.Seed.ServicesInstanceId],
            Parameters = new Dictionary<string, List<string>> { ["commands"] = ["true"] },
            TimeoutSeconds = 60,
        });
        sim.Advance(30);
        Assert.Equal(CommandInvocationStatus.Pending, (await ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = sent.Command.CommandId, InstanceId = sim.Seed.ServicesInstanceId })).Status);
        sim.Advance(30);
        var inv = await ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = sent.Command.CommandId, InstanceId = sim.Seed.ServicesInstanceId });
        Assert.Equal(CommandInvocationStatus.TimedOut, inv.Status);
        Assert.Equal("DeliveryTimedOut", inv.StatusDetails);

        await Assert.ThrowsAsync<InvocationDoesNotExistException>(() => ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = Guid.NewGuid().ToString(), InstanceId = sim.Seed.ServicesInstanceId }));
    }

    [Fact]
    public async Task Ssm_throttling_is_retried_by_the_sdk()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.InjectFault(FaultKinds.Throttle, "DescribeInstanceInformation", 2);
        using var ssm = Ssm(sim);
        var info = await ssm.DescribeInstanceInformationAsync(new DescribeInstanceInformationRequest());
        Assert.Equal(3, info.InstanceInformationList.Count);
        Assert.Equal(2, sim.Control.FaultCount(FaultKinds.Throttle, "DescribeInstanceInformation"));
        Assert.All(sim.Control.RequestLog("DescribeInstanceInformation"), e => Assert.Equal("ssm", e.Service));
    }

    [Fact]
    public async Task ListCommands_and_CancelCommand()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.AddSsmResponse("tar", "", durationSeconds: 600);
        using var ssm = Ssm(sim);
        var sent = await ssm.SendCommandAsync(new SendCommandRequest
        {
            DocumentName = "AWS-RunShellScript",
            InstanceIds = [sim.Seed.ServicesInstanceId],
            Parameters = new Dictionary<string, List<string>> { ["commands"] = ["tar -cjf /tmp/circleci-data-export.tar.bz2 /data"] },
        });
        var listed = await ssm.ListCommandsAsync(new ListCommandsRequest { InstanceId = sim.Seed.ServicesInstanceId });
        Assert.Equal(CommandStatus.InProgress, listed.Commands.Single().Status);
        await ssm.CancelCommandAsync(new CancelCommandRequest { CommandId = sent.Command.CommandId });
        listed = await ssm.ListCommandsAsync(new ListCommandsRequest { CommandId = sent.Command.CommandId });
        Assert.Equal(CommandStatus.Cancelled, listed.Commands.Single().Status);
        var inv = await ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = sent.Command.CommandId, InstanceId = sim.Seed.ServicesInstanceId });
        Assert.Equal(CommandInvocationStatus.Cancelled, inv.Status);
    }
}
