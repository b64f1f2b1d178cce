using System.Net.Http;
using Amazon.Runtime;
using CcieDr.Engine;
using CcieDr.Engine.Aws;
using Xunit;

namespace CcieDr.Engine.Tests.Foundation;

/// <summary>No credentials anywhere: the SDK's credential-chain failure says what to do, not "check network access".</summary>
public class NoCredentialsMappingTests
{
    // The messages AWSSDK.Core 4.x raises when the default credential chain finds nothing.
    private const string V4ChainMessage = "Failed to resolve AWS credentials. The credential providers used to search for credentials returned the following errors:\nException 1 of 3: The environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN were not set with AWS credentials.\nException 2 of 3: Unable to find the \"default\" profile.\nException 3 of 3: Failed to connect to EC2 instance metadata to retrieve credentials: timeout.";

    public static TheoryData<Exception> ChainFailures() => new()
    {
        new AmazonClientException(V4ChainMessage),
        new AmazonClientException("Unable to find credentials"),
        new AmazonClientException("outer", new AmazonClientException(V4ChainMessage)),
        new AggregateException(new AmazonClientException(V4ChainMessage)),
    };

    [Theory]
    [MemberData(nameof(ChainFailures))]
    public void Credential_chain_failures_map_to_aws_no_credentials(Exception sdk)
    {
        Exception e = sdk is AggregateException a ? a.InnerExceptions[0] : sdk;
        CcieException mapped = AwsErrorMapper.Map(e, "ec2:DescribeInstances", "us-east-1");
        Assert.Equal("Aws.NoCredentials", mapped.ErrorId);
        Assert.Equal(CcieErrorCategory.AuthenticationError, mapped.Category);
        foreach (string word in new[] { "-ProfileName", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "aws configure" })
        {
            Assert.Contains(word, mapped.Message, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("network access", mapped.Message, StringComparison.Ordinal);
        Assert.Same(e, mapped.InnerException);
    }

    [Fact]
    public void Other_client_failures_still_map_to_endpoint_unreachable()
    {
        CcieException mapped = AwsErrorMapper.Map(new AmazonClientException("Connection refused", new HttpRequestException("Connection refused")), "ec2:DescribeInstances", "us-east-1");
        Assert.Equal("AwsEndpointUnreachable", mapped.ErrorId);
        Assert.Equal(CcieErrorCategory.ConnectionError, mapped.Category);
        Assert.False(AwsErrorMapper.IsNoCredentials(new HttpRequestException("Unable to find credentials")));
    }
}
