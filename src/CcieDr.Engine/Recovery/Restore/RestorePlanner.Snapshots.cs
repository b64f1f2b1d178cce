using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Recovery.Restore
{
    // RestorePlanner, pre-flight: the recovery point's snapshots.
    public sealed partial class RestorePlanner
    {
        private async Task CheckSnapshotsAsync(RestorePlan plan, RecoveryPoint point, CancellationToken ct)
        {
            RestoreTarget t = plan.Target;
            int? expected = point.Identity.VolumeCount;
            if (expected is > 0 && point.Snapshots.Count < expected.Value)
            {
                plan.Findings.Add(new PreflightFinding("recovery-point", PreflightStatus.Blocker, $"Recovery point {t.RecoveryPointId} is incomplete: {point.Snapshots.Count} of the box's {expected} volumes have a snapshot. Restore a complete point (Get-CcieSnapshot shows IsComplete).", "RecoveryPointIncomplete", t.RecoveryPointId, CcieErrorCategory.InvalidData));
            }

            List<string> ids = t.Devices.Select(d => d.SnapshotId).ToList();
            IReadOnlyList<Snapshot> found = await AwsCall.RunAsync("ec2:DescribeSnapshots", string.Join(",", ids), token => _ec2.DescribeAllSnapshotsAsync(new DescribeSnapshotsRequest { Filters = new List<Filter> { Ec2Extensions.Filter("snapshot-id", ids.ToArray()) } }, token), ct).ConfigureAwait(false);

            foreach (RestoreDevice d in t.Devices)
            {
                Snapshot? s = found.FirstOrDefault(x => x.SnapshotId == d.SnapshotId);
                if (s is null)
                {
                    plan.Findings.Add(new PreflightFinding("snapshot", PreflightStatus.Blocker, $"Snapshot {d.SnapshotId} ({d.DeviceName}) of recovery point {t.RecoveryPointId} no longer exists in {_region}. Choose another point (Get-CcieSnapshot).", "SnapshotNotFound", d.SnapshotId, CcieErrorCategory.ObjectNotFound));
                    continue;
                }

                string state = s.State?.Value ?? "unknown";
                if (state != "completed")
                {
                    string advice = state == "pending" ? $" ({s.Progress ?? "0%"} done). Wait for it with Wait-CcieSnapshot -RecoveryPointId {t.RecoveryPointId}, then rerun." : ". Choose another point.";
                    plan.Findings.Add(new PreflightFinding("snapshot", PreflightStatus.Blocker, $"Snapshot {d.SnapshotId} ({d.DeviceName}) is {state}, not completed{advice}", state == "pending" ? "SnapshotNotCompleted" : "SnapshotFailed", d.SnapshotId, state == "pending" ? CcieErrorCategory.ResourceBusy : CcieErrorCategory.InvalidData));
                }

                // The snapshot itself is the truth for size and encryption.
                if (s.VolumeSize is int size && size > d.SizeGiB)
                {
                    d.SizeGiB = size;
                }

                if (s.Encrypted == true)
                {
                    d.Encrypted = true;
                    d.KmsKeyId ??= s.KmsKeyId;
                }
            }

            if (plan.Findings.All(f => f.Status != PreflightStatus.Blocker))
            {
                plan.Findings.Add(new PreflightFinding("snapshot", PreflightStatus.Ok, $"{t.Devices.Count} snapshot(s) completed: " + string.Join(", ", t.Devices.Select(d => $"{d.DeviceName}={d.SnapshotId}"))));
            }
        }
    }
}
