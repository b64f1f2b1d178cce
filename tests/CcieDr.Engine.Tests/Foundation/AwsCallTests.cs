using System;
using System.Net;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.Runtime;
using CcieDr.Engine;
using CcieDr.Engine.Aws;
using Xunit;

namespace CcieDr.Engine.Tests.Foundation;

/// <summary>The one error-wrapping helper.</summary>
public class AwsCallTests
{
    [Fact]
    public async Task A_service_error_is_mapped_once_with_operation_and_target()
    {
        var error = new AmazonEC2Exception("You are not authorized", ErrorType.Sender, "UnauthorizedOperation", "r", HttpStatusCode.Forbidden);
        var e = await Assert.ThrowsAsync<CcieException>(() => AwsCall.RunAsync<int>("ec2:CreateTags", "snap-1", _ => throw error, CancellationToken.None));
        Assert.Equal("Aws.UnauthorizedOperation", e.ErrorId);
        Assert.Equal(CcieErrorCategory.PermissionDenied, e.Category);
        Assert.Equal("snap-1", e.Target);
        Assert.Contains("ec2:CreateTags", e.Message);
        Assert.Same(error, e.InnerException);
    }

    [Fact]
    public async Task A_network_error_becomes_a_connection_error()
    {
        var e = await Assert.ThrowsAsync<CcieException>(() => AwsCall.RunAsync("ec2:DeleteSnapshot", "snap-2", _ => Task.FromException(new HttpRequestException("reset")), CancellationToken.None));
        Assert.Equal("AwsEndpointUnreachable", e.ErrorId);
        Assert.Equal(CcieErrorCategory.ConnectionError, e.Category);
    }

    [Fact]
    public async Task An_engine_error_and_a_cancellation_pass_through_unchanged()
    {
        var mine = new CcieException("RecoveryPointFailed", CcieErrorCategory.ResourceUnavailable, "failed", "rp");
        Assert.Same(mine, await Assert.ThrowsAsync<CcieException>(() => AwsCall.RunAsync<int>("ec2:X", "t", _ => throw mine, CancellationToken.None)));

        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => AwsCall.RunAsync("ec2:X", "t", ct => Task.Delay(1000, ct), cts.Token));
    }

    [Fact]
    public async Task The_result_is_returned_and_the_token_reaches_the_call()
    {
        using var cts = new CancellationTokenSource();
        CancellationToken seen = default;
        int result = await AwsCall.RunAsync("ec2:X", "t", ct => { seen = ct; return Task.FromResult(42); }, cts.Token);
        Assert.Equal(42, result);
        Assert.Equal(cts.Token, seen);
    }
}

/// <summary>What the matrix found: a connection lost after the SDK's retries is an unreachable endpoint, a disk error is not.</summary>
public class TransportErrorMappingTests
{
    [Fact]
    public void A_reset_connection_maps_to_AwsEndpointUnreachable()
    {
        var reset = new System.IO.IOException("Unable to read data from the transport connection: Connection reset by peer.", new System.Net.Sockets.SocketException(104));
        CcieException e = AwsErrorMapper.Map(reset, "ec2:RunInstances", "10.0.1.10");
        Assert.Equal("AwsEndpointUnreachable", e.ErrorId);
        Assert.Contains("ec2:RunInstances", e.Message);
    }

    [Fact]
    public void A_plain_io_error_is_not_taken_for_the_network()
        => Assert.Equal("UnexpectedError", AwsErrorMapper.Map(new System.IO.IOException("No space left on device"), "CcieDr", null).ErrorId);
}
