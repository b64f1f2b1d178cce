using System.Net;
using System.Xml.Linq;
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

    private static HttpRequestMessage Signed(SimulatorServer server, string service, Dictionary<string, string> form, string? target = null, string accessKey = "AKIDSIM")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, server.Url) { Content = new FormUrlEncodedContent(form) };
        request.Headers.TryAddWithoutValidation("Authorization", $"AWS4-HMAC-SHA256 Credential={accessKey}/20261128/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00");
        if (target is not null)
        {
            request.Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/x-amz-json-1.1");
            request.Headers.TryAddWithoutValidation("X-Amz-Target", target);
        }

        return request;
    }

    [Fact]
    public async Task Sts_GetCallerIdentity_names_the_simulated_account_and_a_stable_user_per_access_key()
    {
        // aws sts get-caller-identity: Query protocol, version 2011-06-15, signed for the service "sts".
        await using var sim = await Sim.StartAsync(seed: false);
        using var http = new HttpClient();
        var form = new Dictionary<string, string> { ["Action"] = "GetCallerIdentity", ["Version"] = "2011-06-15" };
        XNamespace ns = "https://sts.amazonaws.com/doc/2011-06-15/";

        async Task<XElement> Identity(string key)
        {
            using var response = await http.SendAsync(Signed(sim.Server, "sts", form, accessKey: key));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var root = XDocument.Parse(await response.Content.ReadAsStringAsync()).Root!;
            Assert.Equal(ns + "GetCallerIdentityResponse", root.Name);
            Assert.False(string.IsNullOrEmpty(root.Element(ns + "ResponseMetadata")?.Element(ns + "RequestId")?.Value));
            return root.Element(ns + "GetCallerIdentityResult")!;
        }

        var a = await Identity("AKIDONE");
        Assert.Equal("123456789012", a.Element(ns + "Account")!.Value);
        Assert.Equal("arn:aws:iam::123456789012:user/ccie-dr-simulator", a.Element(ns + "Arn")!.Value);
        Assert.Matches("^AIDA[0-9A-F]{17}$", a.Element(ns + "UserId")!.Value);
        Assert.Equal(a.Element(ns + "UserId")!.Value, (await Identity("AKIDONE")).Element(ns + "UserId")!.Value);
        Assert.NotEqual(a.Element(ns + "UserId")!.Value, (await Identity("AKIDTWO")).Element(ns + "UserId")!.Value);
        Assert.Contains(sim.Control.RequestLog("GetCallerIdentity"), e => e.Service == "sts" && e.Status == 200);

        form["Action"] = "AssumeRole";
        using var unknown = await http.SendAsync(Signed(sim.Server, "sts", form));
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        var error = XDocument.Parse(await unknown.Content.ReadAsStringAsync()).Root!;
        Assert.Equal(ns + "ErrorResponse", error.Name);
        Assert.Equal("InvalidAction", error.Element(ns + "Error")!.Element(ns + "Code")!.Value);
    }

    [Theory]
    [InlineData("s3", null)]
    [InlineData("iam", null)]
    [InlineData("logs", "Logs_20140328.DescribeLogGroups")]
    public async Task A_service_the_simulator_does_not_serve_gets_NotImplemented_not_another_services_answer(string service, string? target)
    {
        // Before routing by the scope's service name for every service, "aws sts/iam/s3 …" got EC2's InvalidAction.
        await using var sim = await Sim.StartAsync(seed: false);
        using var http = new HttpClient();
        var form = new Dictionary<string, string> { ["Action"] = "ListUsers", ["Version"] = "2010-05-08" };
        using var response = await http.SendAsync(Signed(sim.Server, service, form, target));
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.NotImplemented, response.StatusCode);
        string code, message;
        if (target is null)
        {
            var error = XDocument.Parse(body).Root!.Element("Error")!;
            (code, message) = (error.Element("Code")!.Value, error.Element("Message")!.Value);
        }
        else
        {
            Assert.Equal("application/x-amz-json-1.1", response.Content.Headers.ContentType!.MediaType);
            var error = System.Text.Json.JsonDocument.Parse(body).RootElement;
            (code, message) = (error.GetProperty("__type").GetString()!, error.GetProperty("message").GetString()!);
        }

        Assert.Equal("NotImplemented", code);
        Assert.Contains($"does not serve the service '{service}'", message);

        Assert.Empty(sim.Control.RequestLog("ListUsers"));
        Assert.Contains("sts", SimulatorServer.SupportedServices);
    }

    [Fact]
    public async Task A_presigned_request_is_routed_by_the_service_in_its_query_credential()
    {
        await using var sim = await Sim.StartAsync();
        using var http = new HttpClient();
        var url = new Uri(sim.Server.Url, "?Action=DescribeAutoScalingGroups&Version=2011-01-01&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDSIM%2F20261128%2Fus-east-1%2Fautoscaling%2Faws4_request&X-Amz-Signature=00");
        using var response = await http.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<AutoScalingGroupName>circleci-builders</AutoScalingGroupName>", body);
    }

    [Fact]
    public async Task A_KMS_key_named_by_alias_or_key_id_is_reported_by_its_ARN_as_EBS_does()
    {
        // aws ec2 create-volume --kms-key-id alias/circleci-data showed "KmsKeyId": "alias/circleci-data" in
        // describe-volumes; EBS reports the key's ARN whichever of its names the caller gave.
        await using var sim = await Sim.StartAsync();
        var arn = sim.Seed.DataVolumeKmsKeyId;
        var keyId = arn[(arn.LastIndexOf('/') + 1)..];
        foreach (var name in new[] { "alias/circleci-data", keyId, "arn:aws:kms:us-east-1:123456789012:alias/circleci-data", arn })
        {
            var created = await sim.Ec2.CreateVolumeAsync(new CreateVolumeRequest { AvailabilityZone = "us-east-1a", Size = 10, Encrypted = true, KmsKeyId = name });
            Assert.Equal(arn, created.Volume.KmsKeyId);
            var described = (await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { VolumeIds = [created.Volume.VolumeId] })).Volumes.Single();
            Assert.Equal(arn, described.KmsKeyId);
        }

        // A key this region does not have is kept as given (EBS checks keys asynchronously; the call succeeds).
        var unknown = await sim.Ec2.CreateVolumeAsync(new CreateVolumeRequest { AvailabilityZone = "us-east-1a", Size = 10, Encrypted = true, KmsKeyId = "alias/no-such-key" });
        Assert.Equal("alias/no-such-key", unknown.Volume.KmsKeyId);

        // A snapshot copied with an alias; a volume of an instance launched with one.
        var plain = await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesDataVolumeId });
        sim.Advance(30);
        var copy = await sim.Ec2.CopySnapshotAsync(new CopySnapshotRequest { SourceRegion = "us-east-1", SourceSnapshotId = plain.Snapshot.SnapshotId, Encrypted = true, KmsKeyId = "alias/circleci-data" });
        Assert.Equal(arn, (await sim.Snapshot(copy.SnapshotId)).KmsKeyId);

        var run = await sim.Ec2.RunInstancesAsync(new RunInstancesRequest
        {
            ImageId = sim.Seed.ServicesImageId,
            MinCount = 1,
            MaxCount = 1,
            SubnetId = sim.Seed.SubnetAId,
            BlockDeviceMappings = [new BlockDeviceMapping { DeviceName = "/dev/xvdg", Ebs = new EbsBlockDevice { VolumeSize = 5, Encrypted = true, KmsKeyId = "alias/circleci-data" } }],
        });
        var instance = run.Reservation.Instances.Single();
        var extra = instance.BlockDeviceMappings.Single(b => b.DeviceName == "/dev/xvdg").Ebs.VolumeId;
        Assert.Equal(arn, (await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest { VolumeIds = [extra] })).Volumes.Single().KmsKeyId);
    }
}
