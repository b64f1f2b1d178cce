using Amazon.EC2;
using Amazon.EC2.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

/// <summary>What standard AWS clients (the AWS CLI among them) send, and EC2 accepts.</summary>
public sealed class CliCompatibilityTests
{
    [Fact]
    public async Task MaxResults_above_the_action_maximum_is_capped_not_refused()
    {
        // The AWS CLI paginates DescribeVolumes with MaxResults=1000; EC2 caps it at 500 and answers.
        await using var sim = await Sim.StartAsync();
        var volumes = await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { MaxResults = 1000 });
        Assert.NotEmpty(volumes.Volumes);
        Assert.Contains(volumes.Volumes, v => v.Attachments?.Any(a => a.InstanceId == sim.Seed.ServicesInstanceId) == true);

        var tooSmall = await Assert.ThrowsAsync<AmazonEC2Exception>(() => sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { MaxResults = 1 }));
        Assert.Equal("InvalidParameterValue", tooSmall.ErrorCode);
    }
}
