using System.Net.Http.Json;
using System.Text.Json;
using Amazon.EC2.Model;
using Amazon.KeyManagementService;
using Amazon.KeyManagementService.Model;
using Amazon.Runtime;
using Xunit;

namespace CcieDr.Simulator.Tests;

public sealed class KmsTests
{
    private static AmazonKeyManagementServiceClient Kms(Sim sim, string region = "us-east-1", int? maxErrorRetry = null)
    {
        var config = new AmazonKeyManagementServiceConfig { ServiceURL = sim.Server.Url.ToString(), AuthenticationRegion = region };
        if (maxErrorRetry is { } m)
        {
            config.MaxErrorRetry = m;
        }

        return new AmazonKeyManagementServiceClient(new BasicAWSCredentials("AKIDSIM", "secret"), config);
    }

    [Fact]
    public async Task Every_key_the_seeded_volumes_and_snapshots_carry_exists_and_is_enabled()
    {
        await using var sim = await Sim.StartAsync();
        using var kms = Kms(sim);
        Assert.Contains("DescribeKey", sim.Server.SupportedKmsActions);
        Assert.DoesNotContain("DescribeKey", sim.Server.SupportedSsmActions);

        // An encrypted volume created without a key gets the region's aws/ebs key: it must exist too.
        var created = await sim.Ec2.CreateVolumeAsync(new CreateVolumeRequest { AvailabilityZone = sim.Seed.AvailabilityZoneA, Size = 1, Encrypted = true });
        var snap = await sim.Ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = sim.Seed.ServicesDataVolumeId });
        var volumes = (await sim.Ec2.DescribeVolumesAsync(new DescribeVolumesRequest())).Volumes;
        var snapshots = (await sim.Ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { OwnerIds = ["self"] })).Snapshots;
        var keyIds = volumes.Where(v => v.Encrypted == true).Select(v => v.KmsKeyId).Concat(snapshots.Where(s => s.Encrypted == true).Select(s => s.KmsKeyId)).Distinct().ToList();
        Assert.Contains(sim.Seed.DataVolumeKmsKeyId, keyIds);
        Assert.Contains(snap.Snapshot.SnapshotId, snapshots.Where(s => s.KmsKeyId == sim.Seed.DataVolumeKmsKeyId).Select(s => s.SnapshotId));
        Assert.Equal(2, keyIds.Count);

        foreach (var id in keyIds)
        {
            var key = (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = id })).KeyMetadata;
            Assert.Equal(id, key.Arn);
            Assert.Equal(KeyState.Enabled, key.KeyState);
            Assert.True(key.Enabled);
            Assert.Equal(KeyUsageType.ENCRYPT_DECRYPT, key.KeyUsage);
            Assert.Equal(KeySpec.SYMMETRIC_DEFAULT, key.KeySpec);
        }

        var ebs = (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = "alias/aws/ebs" })).KeyMetadata;
        Assert.Equal(volumes.Single(v => v.VolumeId == created.Volume.VolumeId).KmsKeyId, ebs.Arn);
        Assert.Equal(KeyManagerType.AWS, ebs.KeyManager);
        var data = (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = "alias/circleci-data" })).KeyMetadata;
        Assert.Equal(sim.Seed.DataVolumeKmsKeyId, data.Arn);
        Assert.Equal(KeyManagerType.CUSTOMER, data.KeyManager);
        Assert.Equal(data.Arn, (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = data.KeyId })).KeyMetadata.Arn);
        Assert.Equal(data.Arn, (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = $"arn:aws:kms:us-east-1:{data.AWSAccountId}:alias/circleci-data" })).KeyMetadata.Arn);
    }

    [Fact]
    public async Task ListKeys_and_ListAliases_page_through_every_key()
    {
        await using var sim = await Sim.StartAsync();
        using var kms = Kms(sim);
        var keys = new List<KeyListEntry>();
        string? marker = null;
        int pages = 0;
        do
        {
            var page = await kms.ListKeysAsync(new ListKeysRequest { Limit = 1, Marker = marker });
            keys.AddRange(page.Keys);
            marker = page.Truncated == true ? page.NextMarker : null;
            pages++;
        }
        while (marker is not null);

        Assert.Equal(2, pages);
        Assert.Contains(keys, k => k.KeyArn == sim.Seed.DataVolumeKmsKeyId);
        var aliases = (await kms.ListAliasesAsync(new ListAliasesRequest())).Aliases;
        Assert.Equal(new[] { "alias/aws/ebs", "alias/circleci-data" }, aliases.Select(a => a.AliasName));
        Assert.All(aliases, a => Assert.Contains(keys, k => k.KeyId == a.TargetKeyId));
        var only = (await kms.ListAliasesAsync(new ListAliasesRequest { KeyId = sim.Seed.DataVolumeKmsKeyId })).Aliases;
        Assert.Equal("alias/circleci-data", Assert.Single(only).AliasName);
    }

    [Fact]
    public async Task Control_sets_a_key_disabled_pending_deletion_and_deletes_it()
    {
        await using var sim = await Sim.StartAsync();
        using var kms = Kms(sim);
        var arn = sim.Seed.DataVolumeKmsKeyId;

        sim.Control.SetKmsKeyState("us-east-1", "alias/circleci-data", KmsKeyStates.Disabled);
        var disabled = (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = arn })).KeyMetadata;
        Assert.Equal(KeyState.Disabled, disabled.KeyState);
        Assert.False(disabled.Enabled);

        var info = sim.Control.SetKmsKeyState("us-east-1", arn, KmsKeyStates.PendingDeletion, 7);
        var pending = (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = arn })).KeyMetadata;
        Assert.Equal(KeyState.PendingDeletion, pending.KeyState);
        Assert.Equal(sim.Control.Now.AddDays(7), pending.DeletionDate!.Value.ToUniversalTime());
        Assert.Equal(info.DeletionDate, pending.DeletionDate.Value.ToUniversalTime());

        // The deletion happens when the simulated clock passes the date.
        sim.Advance(TimeSpan.FromDays(7).TotalSeconds + 1);
        var gone = await Assert.ThrowsAsync<NotFoundException>(() => kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = arn }));
        Assert.Contains("does not exist", gone.Message);
        await Assert.ThrowsAsync<NotFoundException>(() => kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = "alias/circleci-data" }));
        Assert.DoesNotContain(sim.Control.KmsKeys("us-east-1"), k => k.Arn == arn);

        // aws/ebs deleted at once by the control API.
        sim.Control.DeleteKmsKey("us-east-1", "alias/aws/ebs");
        await Assert.ThrowsAsync<NotFoundException>(() => kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = "alias/aws/ebs" }));
        Assert.Empty(sim.Control.KmsKeys("us-east-1"));
        Assert.Throws<ArgumentException>(() => sim.Control.DeleteKmsKey("us-east-1", arn));
        Assert.Throws<ArgumentException>(() => sim.Control.SetKmsKeyState("us-east-1", "alias/nope", KmsKeyStates.Enabled));
    }

    [Fact]
    public async Task An_operator_can_cancel_a_deletion_and_enable_the_key_again()
    {
        await using var sim = await Sim.StartAsync();
        using var kms = Kms(sim);
        var arn = sim.Seed.DataVolumeKmsKeyId;
        var scheduled = await kms.ScheduleKeyDeletionAsync(new ScheduleKeyDeletionRequest { KeyId = arn, PendingWindowInDays = 7 });
        Assert.Equal(KeyState.PendingDeletion, scheduled.KeyState);
        var invalid = await Assert.ThrowsAsync<KMSInvalidStateException>(() => kms.EnableKeyAsync(new EnableKeyRequest { KeyId = arn }));
        Assert.Contains("pending deletion", invalid.Message);

        await kms.CancelKeyDeletionAsync(new CancelKeyDeletionRequest { KeyId = arn });
        Assert.Equal(KeyState.Disabled, (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = arn })).KeyMetadata.KeyState);
        await kms.EnableKeyAsync(new EnableKeyRequest { KeyId = arn });
        var key = (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = arn })).KeyMetadata;
        Assert.Equal(KeyState.Enabled, key.KeyState);
        Assert.Null(key.DeletionDate);

        await kms.DisableKeyAsync(new DisableKeyRequest { KeyId = "alias/circleci-data" });
        Assert.Equal(KeyState.Disabled, (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = arn })).KeyMetadata.KeyState);
        await Assert.ThrowsAsync<KMSInvalidStateException>(() => kms.CancelKeyDeletionAsync(new CancelKeyDeletionRequest { KeyId = arn }));
    }

    [Fact]
    public async Task Keys_are_regional_and_describe_can_be_denied()
    {
        await using var sim = await Sim.StartAsync();
        using var west = Kms(sim, "us-west-2");
        var other = await Assert.ThrowsAsync<NotFoundException>(() => west.DescribeKeyAsync(new DescribeKeyRequest { KeyId = sim.Seed.DataVolumeKmsKeyId }));
        Assert.Contains("Invalid arn us-east-1", other.Message);
        await Assert.ThrowsAsync<NotFoundException>(() => west.DescribeKeyAsync(new DescribeKeyRequest { KeyId = "alias/circleci-data" }));
        Assert.Equal(KeyState.Enabled, (await west.DescribeKeyAsync(new DescribeKeyRequest { KeyId = "alias/aws/ebs" })).KeyMetadata.KeyState);

        using var kms = Kms(sim);
        sim.Control.SetKmsDescribeDenied("us-east-1", "alias/circleci-data");
        var denied = await Assert.ThrowsAsync<AmazonKeyManagementServiceException>(() => kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = sim.Seed.DataVolumeKmsKeyId }));
        Assert.Equal("AccessDeniedException", denied.ErrorCode);
        Assert.Contains("kms:DescribeKey", denied.Message);
        sim.Control.SetKmsDescribeDenied("us-east-1", "alias/circleci-data", false);
        Assert.Equal(KeyState.Enabled, (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = sim.Seed.DataVolumeKmsKeyId })).KeyMetadata.KeyState);
    }

    [Fact]
    public async Task Injected_faults_apply_to_kms_like_to_ssm()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.InjectFault(FaultKinds.Throttle, "DescribeKey", 2);
        using var kms = Kms(sim);
        var key = (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = "alias/circleci-data" })).KeyMetadata;
        Assert.Equal(KeyState.Enabled, key.KeyState);
        Assert.Equal(2, sim.Control.FaultCount(FaultKinds.Throttle, "DescribeKey"));
        Assert.Equal(3, sim.Control.RequestLog("DescribeKey").Count);
        Assert.All(sim.Control.RequestLog("DescribeKey"), e => Assert.Equal("kms", e.Service));

        sim.Control.InjectFault(FaultKinds.InternalError, "*", 1);
        using var once = Kms(sim, maxErrorRetry: 0);
        var error = await Assert.ThrowsAsync<KMSInternalException>(() => once.DescribeKeyAsync(new DescribeKeyRequest { KeyId = "alias/circleci-data" }));
        Assert.Equal(500, (int)error.StatusCode);

        sim.Control.InjectFault(FaultKinds.Drop, "DescribeKey", 1);
        Assert.Equal(KeyState.Enabled, (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = "alias/circleci-data" })).KeyMetadata.KeyState);
        Assert.Equal(1, sim.Control.FaultCount(FaultKinds.Drop, "DescribeKey"));
        Assert.Contains(sim.Control.RequestLog("DescribeKey"), e => e.Fault == FaultKinds.Drop && e.Status == 0);
    }

    [Fact]
    public async Task The_http_control_api_sets_state_and_deletes_keys()
    {
        await using var sim = await Sim.StartAsync();
        using var http = new HttpClient { BaseAddress = sim.Server.Url };
        using var kms = Kms(sim);

        var set = await http.PostAsJsonAsync("/_sim/kms/keys/state", new { region = "us-east-1", keyId = "alias/circleci-data", state = "PendingDeletion", pendingWindowInDays = 10 });
        Assert.Equal(200, (int)set.StatusCode);
        using (var doc = JsonDocument.Parse(await set.Content.ReadAsStringAsync()))
        {
            Assert.Equal("PendingDeletion", doc.RootElement.GetProperty("state").GetString());
            Assert.Equal(sim.Seed.DataVolumeKmsKeyId, doc.RootElement.GetProperty("arn").GetString());
        }

        Assert.Equal(KeyState.PendingDeletion, (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = sim.Seed.DataVolumeKmsKeyId })).KeyMetadata.KeyState);
        var bad = await http.PostAsJsonAsync("/_sim/kms/keys/state", new { keyId = "alias/circleci-data", state = "Broken" });
        Assert.Equal(400, (int)bad.StatusCode);
        Assert.Contains("Enabled", await bad.Content.ReadAsStringAsync());

        var deleted = await http.DeleteAsync("/_sim/kms/keys?region=us-east-1&keyId=alias/circleci-data");
        Assert.Equal(200, (int)deleted.StatusCode);
        await Assert.ThrowsAsync<NotFoundException>(() => kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = sim.Seed.DataVolumeKmsKeyId }));

        using var list = JsonDocument.Parse(await http.GetStringAsync("/_sim/kms/keys?region=us-east-1"));
        Assert.Equal("alias/aws/ebs", Assert.Single(list.RootElement.EnumerateArray()).GetProperty("aliases")[0].GetString());
        Assert.Contains("/_sim/kms/keys/state", await http.GetStringAsync("/_sim/help"));
    }

    [Fact]
    public async Task The_aws_cli_describes_keys_and_lists_aliases()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.SetKmsKeyState("us-east-1", "alias/circleci-data", KmsKeyStates.Disabled);

        using var key = JsonDocument.Parse(await AwsCli(sim, "kms", "describe-key", "--key-id", "alias/circleci-data"));
        var meta = key.RootElement.GetProperty("KeyMetadata");
        Assert.Equal(sim.Seed.DataVolumeKmsKeyId, meta.GetProperty("Arn").GetString());
        Assert.Equal("Disabled", meta.GetProperty("KeyState").GetString());
        Assert.False(meta.GetProperty("Enabled").GetBoolean());

        await AwsCli(sim, "kms", "enable-key", "--key-id", sim.Seed.DataVolumeKmsKeyId);
        Assert.Equal(KmsKeyStates.Enabled, sim.Control.KmsKeys("us-east-1").Single(k => k.Arn == sim.Seed.DataVolumeKmsKeyId).State);

        using var aliases = JsonDocument.Parse(await AwsCli(sim, "kms", "list-aliases"));
        Assert.Equal(new[] { "alias/aws/ebs", "alias/circleci-data" }, aliases.RootElement.GetProperty("Aliases").EnumerateArray().Select(a => a.GetProperty("AliasName").GetString()));
        Assert.Contains(sim.Control.RequestLog("ListAliases"), e => e.Service == "kms" && e.Status == 200);
    }

    /// <summary>Runs the real AWS CLI against the simulator; fails the test when it exits non-zero.</summary>
    private static async Task<string> AwsCli(Sim sim, params string[] args)
    {
        var (exit, stdout, stderr) = await sim.AwsCliAsync(args);
        Assert.True(exit == 0, $"aws {string.Join(' ', args)} exited {exit}: {stderr}");
        return stdout;
    }
}
