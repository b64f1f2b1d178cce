using System.Net;
using Amazon.EC2;
using Amazon.Runtime;
using CcieDr.Engine;
using CcieDr.Engine.Aws;
using Xunit;

namespace CcieDr.Engine.Tests.Foundation;

public class AwsErrorMapperTests
{
    [Theory]
    [InlineData("InvalidInstanceID.NotFound", HttpStatusCode.BadRequest, CcieErrorCategory.ObjectNotFound)]
    [InlineData("InvalidSnapshot.NotFound", HttpStatusCode.BadRequest, CcieErrorCategory.ObjectNotFound)]
    [InlineData("NoSuchBucket", HttpStatusCode.NotFound, CcieErrorCategory.ObjectNotFound)]
    [InlineData("UnauthorizedOperation", HttpStatusCode.Forbidden, CcieErrorCategory.PermissionDenied)]
    [InlineData("AccessDenied", HttpStatusCode.Forbidden, CcieErrorCategory.PermissionDenied)]
    [InlineData("RequestLimitExceeded", HttpStatusCode.ServiceUnavailable, CcieErrorCategory.LimitsExceeded)]
    [InlineData("SlowDown", HttpStatusCode.ServiceUnavailable, CcieErrorCategory.LimitsExceeded)]
    [InlineData("InvalidIPAddress.InUse", HttpStatusCode.BadRequest, CcieErrorCategory.ResourceExists)]
    [InlineData("InvalidAMIName.Duplicate", HttpStatusCode.BadRequest, CcieErrorCategory.ResourceExists)]
    [InlineData("InvalidParameterValue", HttpStatusCode.BadRequest, CcieErrorCategory.InvalidArgument)]
    [InlineData("InvalidInstanceID.Malformed", HttpStatusCode.BadRequest, CcieErrorCategory.InvalidArgument)]
    [InlineData("InsufficientInstanceCapacity", HttpStatusCode.InternalServerError, CcieErrorCategory.ResourceUnavailable)]
    [InlineData("AuthFailure", HttpStatusCode.Unauthorized, CcieErrorCategory.AuthenticationError)]
    [InlineData("IncorrectInstanceState", HttpStatusCode.BadRequest, CcieErrorCategory.InvalidOperation)]
    [InlineData("", HttpStatusCode.Forbidden, CcieErrorCategory.PermissionDenied)]
    [InlineData("", HttpStatusCode.BadGateway, CcieErrorCategory.ResourceUnavailable)]
    public void Categorizes_aws_error_codes(string code, HttpStatusCode status, CcieErrorCategory expected)
    {
        var error = new AmazonEC2Exception("boom", ErrorType.Sender, code, "req-1", status);
        CcieException mapped = AwsErrorMapper.Map(error, "ec2:DescribeInstances", "i-0123456789abcdef0");
        Assert.Equal(expected, mapped.Category);
        Assert.Equal("i-0123456789abcdef0", mapped.Target);
        Assert.Same(error, mapped.InnerException);
        Assert.StartsWith("Aws.", mapped.ErrorId);
        Assert.Contains("ec2:DescribeInstances", mapped.Message);
    }

    [Fact]
    public void Error_ids_are_stable_per_code()
    {
        var a = AwsErrorMapper.Map(new AmazonEC2Exception("x", ErrorType.Sender, "InvalidSnapshot.NotFound", "r", HttpStatusCode.BadRequest), "op", "snap-1");
        var b = AwsErrorMapper.Map(new AmazonEC2Exception("y", ErrorType.Sender, "InvalidSnapshot.NotFound", "r2", HttpStatusCode.BadRequest), "op2", "snap-2");
        Assert.Equal("Aws.InvalidSnapshot.NotFound", a.ErrorId);
        Assert.Equal(a.ErrorId, b.ErrorId);
    }

    [Fact]
    public void Permission_and_throttling_messages_say_what_to_do()
    {
        var denied = AwsErrorMapper.Map(new AmazonEC2Exception("not allowed", ErrorType.Sender, "UnauthorizedOperation", "r", HttpStatusCode.Forbidden), "ec2:CreateSnapshots", "i-1");
        Assert.Contains("IAM", denied.Message);
        var throttled = AwsErrorMapper.Map(new AmazonEC2Exception("slow", ErrorType.Sender, "RequestLimitExceeded", "r", HttpStatusCode.ServiceUnavailable), "ec2:DescribeSnapshots", "x");
        Assert.Contains("retried", throttled.Message);
    }

    [Fact]
    public void Network_failures_are_connection_errors()
    {
        var mapped = AwsErrorMapper.Map(new System.Net.Http.HttpRequestException("Connection refused"), "ec2:DescribeInstances", "tag Name=x");
        Assert.Equal(CcieErrorCategory.ConnectionError, mapped.Category);
        Assert.Equal("AwsEndpointUnreachable", mapped.ErrorId);
        Assert.Contains("-EndpointUrl", mapped.Message);
    }

    [Fact]
    public void Ccie_exceptions_pass_through()
    {
        var original = new CcieException("Mine", CcieErrorCategory.InvalidData, "m", "t");
        Assert.Same(original, AwsErrorMapper.Map(original, "op", "other"));
    }
}
