using CcieDr.Engine.Recovery;
using CcieDr.Engine.Recovery.Restore;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Restore;

/// <summary>The restore pre-flight's KMS check (kms:DescribeKey) on the simulator: keys that would stop the box block before any change.</summary>
public sealed class KmsPreflightTests
{
    private const string DataDevice = "/dev/xvdf";

    /// <summary>A restorable point (box terminated, so the IP is free) and a clean request log.</summary>
    private static async Task<(RestoreSim Sim, RecoveryPoint Point)> StartAsync()
    {
        RestoreSim sim = await RestoreSim.StartAsync();
        RecoveryPoint point = await sim.TakeRecoveryPointAsync();
        await sim.TerminateBoxAsync();
        sim.Control.ClearRequestLog();
        return (sim, point);
    }

    private static RecoveryPointSnapshot DataSnapshot(RecoveryPoint point) => point.Snapshots.Single(s => s.DeviceName == DataDevice);

    private static PreflightFinding KmsFinding(RestorePlan plan) => Assert.Single(plan.Findings, f => f.Check == "kms-key");

    /// <summary>Pre-flight refused and nothing was created: only Describe* calls, no RegisterImage/RunInstances, and the executor refuses too.</summary>
    private static async Task AssertRefusedBeforeAnyChangeAsync(RestoreSim sim, RestorePlan plan, string errorId)
    {
        Assert.False(plan.CanProceed);
        Assert.Equal(errorId, Assert.Single(plan.Blockers).ErrorId);
        Assert.Contains("pre-flight BLOCKED: KMS key", plan.Operation.Render(), StringComparison.Ordinal);
        CcieException error = await Assert.ThrowsAsync<CcieException>(() => sim.Service().ExecuteAsync(plan, CancellationToken.None));
        Assert.Equal(errorId, error.ErrorId);
        Assert.Empty(sim.Control.RequestLog("RegisterImage"));
        Assert.Empty(sim.Control.RequestLog("RunInstances"));
        Assert.DoesNotContain(sim.Control.RequestLog(), e => !e.Action.StartsWith("Describe", StringComparison.Ordinal));
        Assert.Equal(0, await sim.InstancesLaunchedSinceSeedAsync());
    }

    [Fact]
    public async Task An_enabled_key_is_ok_after_one_DescribeKey()
    {
        (RestoreSim sim, RecoveryPoint point) = await StartAsync();
        await using (sim)
        {
            RestorePlan plan = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);

            Assert.True(plan.CanProceed, string.Join(" | ", plan.Blockers));
            PreflightFinding kms = KmsFinding(plan);
            Assert.Equal(PreflightStatus.Ok, kms.Status);
            Assert.Contains(sim.Seed.DataVolumeKmsKeyId, kms.Message, StringComparison.Ordinal);
            Assert.Contains("enabled for ENCRYPT_DECRYPT", kms.Message, StringComparison.Ordinal);
            Assert.Contains(DataDevice, kms.Message, StringComparison.Ordinal);
            RequestLogEntry describe = Assert.Single(sim.Control.RequestLog("DescribeKey"));
            Assert.Equal("kms", describe.Service);
            Assert.Contains(sim.Seed.DataVolumeKmsKeyId, describe.Parameters["KeyId"], StringComparison.Ordinal);
            Assert.Contains("pre-flight ok: KMS key " + sim.Seed.DataVolumeKmsKeyId, plan.Operation.Render(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_disabled_key_blocks_before_anything_is_created_and_enabling_it_lets_the_rerun_restore()
    {
        (RestoreSim sim, RecoveryPoint point) = await StartAsync();
        await using (sim)
        {
            sim.Control.SetKmsKeyState(RestoreSim.Region, sim.Seed.DataVolumeKmsKeyId, KmsKeyStates.Disabled);

            RestorePlan plan = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);

            PreflightFinding kms = KmsFinding(plan);
            Assert.Equal(PreflightStatus.Blocker, kms.Status);
            Assert.Equal(sim.Seed.DataVolumeKmsKeyId, kms.Target);
            Assert.Contains("is disabled", kms.Message, StringComparison.Ordinal);
            Assert.Contains("aws kms enable-key --key-id ", kms.Message, StringComparison.Ordinal);
            Assert.Contains(DataSnapshot(point).SnapshotId, kms.Message, StringComparison.Ordinal);
            await AssertRefusedBeforeAnyChangeAsync(sim, plan, "KmsKeyDisabled");

            // The advice works: enable the key and rerun.
            sim.Control.SetKmsKeyState(RestoreSim.Region, sim.Seed.DataVolumeKmsKeyId, KmsKeyStates.Enabled);
            (RestorePlan again, RestoreResult? result) = await RestoreSim.RestoreAsync(sim.Service(), new RestoreRequest { RecoveryPoint = point });
            Assert.True(again.CanProceed, string.Join(" | ", again.Blockers));
            Assert.Equal("Succeeded", result?.Status);
        }
    }

    [Fact]
    public async Task A_key_pending_deletion_blocks_with_the_date_and_how_to_cancel()
    {
        (RestoreSim sim, RecoveryPoint point) = await StartAsync();
        await using (sim)
        {
            KmsKeyInfo key = sim.Control.SetKmsKeyState(RestoreSim.Region, sim.Seed.DataVolumeKmsKeyId, KmsKeyStates.PendingDeletion, 7);

            RestorePlan plan = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);

            PreflightFinding kms = KmsFinding(plan);
            Assert.Contains("pending deletion on " + key.DeletionDate!.Value.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture) + " UTC", kms.Message, StringComparison.Ordinal);
            Assert.Contains("aws kms cancel-key-deletion --key-id " + key.KeyId, kms.Message, StringComparison.Ordinal);
            Assert.Contains("aws kms enable-key --key-id " + key.KeyId, kms.Message, StringComparison.Ordinal);
            await AssertRefusedBeforeAnyChangeAsync(sim, plan, "KmsKeyPendingDeletion");
        }
    }

    [Fact]
    public async Task A_deleted_key_blocks_and_names_the_key_and_the_snapshots_that_cannot_be_restored()
    {
        (RestoreSim sim, RecoveryPoint point) = await StartAsync();
        await using (sim)
        {
            sim.Control.DeleteKmsKey(RestoreSim.Region, sim.Seed.DataVolumeKmsKeyId);

            RestorePlan plan = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);

            PreflightFinding kms = KmsFinding(plan);
            Assert.Equal(CcieErrorCategory.ObjectNotFound, kms.Category);
            Assert.Contains($"KMS key {sim.Seed.DataVolumeKmsKeyId} does not exist", kms.Message, StringComparison.Ordinal);
            Assert.Contains($"{DataSnapshot(point).SnapshotId} ({DataDevice})", kms.Message, StringComparison.Ordinal);
            Assert.Contains("cannot be restored", kms.Message, StringComparison.Ordinal);
            await AssertRefusedBeforeAnyChangeAsync(sim, plan, "KmsKeyNotFound");
        }
    }

    [Fact]
    public async Task Access_denied_on_DescribeKey_is_unchecked_not_blocked()
    {
        (RestoreSim sim, RecoveryPoint point) = await StartAsync();
        await using (sim)
        {
            sim.Control.SetKmsDescribeDenied(RestoreSim.Region, sim.Seed.DataVolumeKmsKeyId);

            RestorePlan plan = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);

            Assert.True(plan.CanProceed, string.Join(" | ", plan.Blockers));
            PreflightFinding kms = KmsFinding(plan);
            Assert.Equal(PreflightStatus.Unchecked, kms.Status);
            Assert.Contains("kms:DescribeKey", kms.Message, StringComparison.Ordinal);
            Assert.Contains("grants", kms.Message, StringComparison.Ordinal);
            Assert.Equal("AccessDeniedException", Assert.Single(sim.Control.RequestLog("DescribeKey")).ErrorCode);
        }
    }

    [Fact]
    public async Task A_key_named_by_alias_is_described_by_its_alias()
    {
        (RestoreSim sim, RecoveryPoint point) = await StartAsync();
        await using (sim)
        {
            DataSnapshot(point).KmsKeyId = "alias/circleci-data";
            RestorePlan ok = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);
            PreflightFinding finding = KmsFinding(ok);
            Assert.Equal(PreflightStatus.Ok, finding.Status);
            Assert.Contains($"alias/circleci-data ({sim.Seed.DataVolumeKmsKeyId})", finding.Message, StringComparison.Ordinal);

            DataSnapshot(point).KmsKeyId = "alias/aws/ebs";
            RestorePlan managed = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);
            Assert.Contains("AWS managed", KmsFinding(managed).Message, StringComparison.Ordinal);

            DataSnapshot(point).KmsKeyId = "alias/circleci-data";
            sim.Control.SetKmsKeyState(RestoreSim.Region, "alias/circleci-data", KmsKeyStates.Disabled);
            RestorePlan blocked = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);
            Assert.Equal("KmsKeyDisabled", Assert.Single(blocked.Blockers).ErrorId);
            Assert.Equal(new[] { "alias/circleci-data", "alias/aws/ebs", "alias/circleci-data" }, sim.Control.RequestLog("DescribeKey").Select(e => System.Text.Json.JsonSerializer.Deserialize<string>(e.Parameters["KeyId"])));
        }
    }

    [Fact]
    public async Task A_key_of_another_region_blocks_without_calling_kms()
    {
        (RestoreSim sim, RecoveryPoint point) = await StartAsync();
        await using (sim)
        {
            string west = "arn:aws:kms:us-west-2:123456789012:key/0f0f0f0f-1111-2222-3333-444444444444";
            DataSnapshot(point).KmsKeyId = west;

            RestorePlan plan = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);

            PreflightFinding kms = KmsFinding(plan);
            Assert.Contains("is in us-west-2, but the restore runs in us-east-1", kms.Message, StringComparison.Ordinal);
            Assert.Contains("-Region us-west-2", kms.Message, StringComparison.Ordinal);
            Assert.Empty(sim.Control.RequestLog("DescribeKey"));
            await AssertRefusedBeforeAnyChangeAsync(sim, plan, "KmsKeyInOtherRegion");
        }
    }

    [Fact]
    public async Task A_throttled_DescribeKey_is_retried_and_the_check_still_decides()
    {
        (RestoreSim sim, RecoveryPoint point) = await StartAsync();
        await using (sim)
        {
            sim.Control.SetKmsKeyState(RestoreSim.Region, sim.Seed.DataVolumeKmsKeyId, KmsKeyStates.Disabled);
            sim.Control.InjectFault(FaultKinds.Throttle, "DescribeKey", 2);

            RestorePlan plan = await sim.Service().PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);

            Assert.Equal(2, sim.Control.FaultCount(FaultKinds.Throttle, "DescribeKey"));
            await AssertRefusedBeforeAnyChangeAsync(sim, plan, "KmsKeyDisabled");
        }
    }

    [Fact]
    public async Task Without_a_kms_client_the_key_is_reported_unchecked()
    {
        (RestoreSim sim, RecoveryPoint point) = await StartAsync();
        await using (sim)
        {
            var service = new RestoreService(sim.Ec2, RestoreSim.Region);
            RestorePlan plan = await service.PrepareAsync(new RestoreRequest { RecoveryPoint = point }, CancellationToken.None);

            PreflightFinding kms = KmsFinding(plan);
            Assert.Equal(PreflightStatus.Unchecked, kms.Status);
            Assert.Contains("no KMS client", kms.Message, StringComparison.Ordinal);
            Assert.Empty(sim.Control.RequestLog("DescribeKey"));
        }
    }
}
