using Amazon.Runtime;
using Amazon.S3.Model;
using Amazon.SimpleSystemsManagement;
using Amazon.SimpleSystemsManagement.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;
using CcieDr.Engine.Remote;
using CcieDr.Engine.Tests.Infrastructure;
using CcieDr.Engine.Tests.Restore;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Remote;

/// <summary>
/// -OutputS3BucketName: the bucket and prefix go to SendCommand, and an output SSM cut at 24,000 characters is read whole
/// from the object the agent writes (put into s3rver here at the agent's key while the simulated command runs).
/// </summary>
[Collection(S3rverTests.Name)]
public sealed class SsmShellS3OutputTests
{
    private readonly S3rverFixture s3;

    public SsmShellS3OutputTests(S3rverFixture s3) => this.s3 = s3;

    [Fact]
    public async Task A_cut_output_is_read_whole_from_the_output_bucket()
    {
        await using var server = await SimulatorServer.StartAsync(new SimulatorOptions { ClockMode = ClockMode.Manual });
        var seed = server.Control.SeedCircleCi("us-east-1");
        var full = string.Concat(Enumerable.Range(0, 4000).Select(i => $"line {i:D5}\n"));   // 44,000 characters
        server.Control.AddSsmResponse("big", full, durationSeconds: 5);
        using var ssm = new AmazonSimpleSystemsManagementClient(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonSimpleSystemsManagementConfig { ServiceURL = server.Url.ToString(), AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
        var options = new SsmOptions
        {
            InstanceId = seed.ServicesInstanceId,
            OutputS3BucketName = S3rverFixture.BucketName,
            Wait = new WaitOptions { InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(100) },
        };
        var reporter = new RecordingReporter();
        using var shell = new SsmShell(ssm, options, reporter, s3.CreateClient);

        var run = shell.RunAsync(new RemoteCommand("big"), CancellationToken.None);
        string? commandId = null;
        while (commandId is null)
        {
            await Task.Delay(20);
            commandId = (await ssm.ListCommandsAsync(new ListCommandsRequest())).Commands?.FirstOrDefault()?.CommandId;
        }

        var sent = Assert.Single(server.Control.RequestLog("SendCommand"));
        Assert.Equal($"\"{S3rverFixture.BucketName}\"", sent.Parameters["OutputS3BucketName"]);
        Assert.Equal("\"ccie-dr/ssm\"", sent.Parameters["OutputS3KeyPrefix"]);
        await s3.Client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = S3rverFixture.BucketName,
            Key = $"ccie-dr/ssm/{commandId}/{seed.ServicesInstanceId}/awsrunShellScript/0.awsrunShellScript/stdout",
            ContentBody = full,
            UseChunkEncoding = false,
        });
        server.Control.AdvanceClock(10);

        RemoteResult r = await run;

        Assert.Equal(full, r.Stdout);
        Assert.Equal("", r.Stderr);   // no stderr object: the stream printed nothing
        Assert.False(r.Truncated);
        Assert.Empty(reporter.Warnings);
    }
}
