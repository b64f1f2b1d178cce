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
    // RestorePlanner, pre-flight: security groups, key pair, instance profile and KMS keys.
    public sealed partial class RestorePlanner
    {
        private async Task CheckGroupsAsync(RestorePlan plan, Subnet subnet, CancellationToken ct)
        {
            RestoreTarget t = plan.Target;
            List<SecurityGroup> groups = (await AwsCall.RunAsync("ec2:DescribeSecurityGroups", string.Join(",", t.SecurityGroupIds), token => _ec2.DescribeAllSecurityGroupsAsync(new DescribeSecurityGroupsRequest { Filters = new List<Filter> { Ec2Extensions.Filter("group-id", t.SecurityGroupIds.ToArray()) } }, token), ct).ConfigureAwait(false)).ToList();

            bool ok = true;
            foreach (string id in t.SecurityGroupIds)
            {
                SecurityGroup? g = groups.FirstOrDefault(x => x.GroupId == id);
                if (g is null)
                {
                    ok = false;
                    plan.Findings.Add(new PreflightFinding("security-group", PreflightStatus.Blocker, $"Security group {id} does not exist in {_region}. Recreate it (ports 80, 443, 4434, 8800 and SSH as before) or give existing groups with -SecurityGroupId.", "SecurityGroupNotFound", id, CcieErrorCategory.ObjectNotFound));
                }
                else if (!string.Equals(g.VpcId, subnet.VpcId, StringComparison.Ordinal))
                {
                    ok = false;
                    plan.Findings.Add(new PreflightFinding("security-group", PreflightStatus.Blocker, $"Security group {id} belongs to {g.VpcId}, but subnet {subnet.SubnetId} is in {subnet.VpcId}. Give groups of {subnet.VpcId} with -SecurityGroupId.", "SecurityGroupWrongVpc", id, CcieErrorCategory.InvalidArgument));
                }
            }

            if (ok)
            {
                plan.Findings.Add(new PreflightFinding("security-group", PreflightStatus.Ok, $"security groups {string.Join(", ", t.SecurityGroupIds.Select(id => id + " (" + groups.First(g => g.GroupId == id).GroupName + ")"))} exist in {subnet.VpcId}"));
            }
        }

        private async Task CheckKeyPairAsync(RestorePlan plan, CancellationToken ct)
        {
            RestoreTarget t = plan.Target;
            if (string.IsNullOrEmpty(t.KeyName))
            {
                plan.Findings.Add(new PreflightFinding("key-pair", PreflightStatus.Ok, "no key pair (the box had none)"));
                return;
            }

            DescribeKeyPairsResponse keyResponse = await AwsCall.RunAsync("ec2:DescribeKeyPairs", t.KeyName, token => _ec2.DescribeKeyPairsAsync(new DescribeKeyPairsRequest { Filters = new List<Filter> { Ec2Extensions.Filter("key-name", t.KeyName!) } }, token), ct).ConfigureAwait(false);
            List<KeyPairInfo> keys = keyResponse.KeyPairs ?? new List<KeyPairInfo>();

            plan.Findings.Add(keys.Any(k => k.KeyName == t.KeyName)
                ? new PreflightFinding("key-pair", PreflightStatus.Ok, $"key pair {t.KeyName} exists")
                : new PreflightFinding("key-pair", PreflightStatus.Blocker, $"Key pair {t.KeyName} does not exist in {_region}. Import it (aws ec2 import-key-pair --key-name {t.KeyName} ...) or give another with -KeyName.", "KeyPairNotFound", t.KeyName, CcieErrorCategory.ObjectNotFound));
        }

        private static void CheckProfileAndKeys(RestorePlan plan)
        {
            RestoreTarget t = plan.Target;
            if (!string.IsNullOrEmpty(t.IamInstanceProfile))
            {
                plan.Findings.Add(new PreflightFinding("iam-instance-profile", PreflightStatus.Unchecked, $"instance profile {t.IamInstanceProfile} not checked (CcieDr does not call IAM); RunInstances rejects it if it is gone"));
            }
        }
    }
}
