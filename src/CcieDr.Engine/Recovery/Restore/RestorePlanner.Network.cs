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
    // RestorePlanner, pre-flight: the subnet, its availability zone, the private IP and who holds it.
    public sealed partial class RestorePlanner
    {
        private async Task<Subnet?> DescribeSubnetAsync(string subnetId, CancellationToken ct)
        {
            DescribeSubnetsResponse response = await AwsCall.RunAsync("ec2:DescribeSubnets", subnetId, token => _ec2.DescribeSubnetsAsync(new DescribeSubnetsRequest { Filters = new List<Filter> { Ec2Extensions.Filter("subnet-id", subnetId) } }, token), ct).ConfigureAwait(false);
            return response.Subnets?.FirstOrDefault(s => s.SubnetId == subnetId);
        }

        private async Task CheckZoneAsync(RestorePlan plan, Subnet subnet, CancellationToken ct)
        {
            DescribeAvailabilityZonesResponse response = await AwsCall.RunAsync("ec2:DescribeAvailabilityZones", subnet.AvailabilityZone, token => _ec2.DescribeAvailabilityZonesAsync(new DescribeAvailabilityZonesRequest(), token), ct).ConfigureAwait(false);
            List<AvailabilityZone> zones = response.AvailabilityZones ?? new List<AvailabilityZone>();

            AvailabilityZone? zone = zones.FirstOrDefault(z => z.ZoneName == subnet.AvailabilityZone);
            string state = zone?.State?.Value ?? "unknown";
            if (state == "available")
            {
                plan.Findings.Add(new PreflightFinding("availability-zone", PreflightStatus.Ok, $"availability zone {subnet.AvailabilityZone} is available"));
                return;
            }

            string message = string.Join("; ", (zone?.Messages ?? new List<AvailabilityZoneMessage>()).Select(m => m.Message).Where(m => !string.IsNullOrEmpty(m)));
            var healthy = new HashSet<string>(zones.Where(z => z.State?.Value == "available").Select(z => z.ZoneName), StringComparer.Ordinal);
            string alternatives = string.Empty;
            try
            {
                IReadOnlyList<Subnet> siblings = await DescribeSubnetsInVpcAsync(subnet.VpcId, ct).ConfigureAwait(false);
                List<string> candidates = siblings.Where(s => s.SubnetId != subnet.SubnetId && healthy.Contains(s.AvailabilityZone)).Select(s => $"{s.SubnetId} ({s.AvailabilityZone})").ToList();
                if (candidates.Count > 0)
                {
                    alternatives = $" Subnets of {subnet.VpcId} in healthy zones: {string.Join(", ", candidates)}.";
                }
            }
            catch (CcieException)
            {
                // Suggestions are a courtesy; the blocker stands without them.
            }

            plan.Findings.Add(new PreflightFinding(
                "availability-zone",
                PreflightStatus.Blocker,
                $"Availability zone {subnet.AvailabilityZone} of subnet {subnet.SubnetId} is {state}{(message.Length == 0 ? string.Empty : " (" + message + ")")}: a box launched there may not come up. Restore into another zone with -SubnetId (the box then gets a new private IP: re-associate the builders).{alternatives}",
                "AvailabilityZoneUnavailable",
                subnet.AvailabilityZone,
                CcieErrorCategory.ResourceUnavailable));
        }

        private async Task<IReadOnlyList<Subnet>> DescribeSubnetsInVpcAsync(string vpcId, CancellationToken ct)
        {
            return await AwsCall.RunAsync("ec2:DescribeSubnets", vpcId, token => _ec2.DescribeAllSubnetsAsync(new DescribeSubnetsRequest { Filters = new List<Filter> { Ec2Extensions.Filter("vpc-id", vpcId) } }, token), ct).ConfigureAwait(false);
        }

        private static void DecideAddress(RestorePlan plan, Subnet subnet, bool subnetChanged)
        {
            RestoreTarget t = plan.Target;
            RestoreRequest request = plan.Request;
            if (request.DrillId is not null)
            {
                if (request.PrivateIpAddress is not null && string.Equals(request.PrivateIpAddress, t.SavedPrivateIpAddress, StringComparison.Ordinal))
                {
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Blocker, $"A recovery drill never uses the production private IP {t.SavedPrivateIpAddress}: builders would connect to the drill box. Leave -PrivateIpAddress out (AWS picks a new one) or give another address in {subnet.CidrBlock}.", "DrillUsesProductionIp", request.PrivateIpAddress, CcieErrorCategory.InvalidArgument));
                }

                t.PrivateIpAddress = request.PrivateIpAddress;
                if (t.PrivateIpAddress is not null && Ipv4.WhyNotUsable(t.PrivateIpAddress, subnet.CidrBlock) is { } bad)
                {
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Blocker, $"-PrivateIpAddress {t.PrivateIpAddress} cannot be used in subnet {subnet.SubnetId}: {bad}. Choose an address in {subnet.CidrBlock}.", "PrivateIpNotInSubnet", t.PrivateIpAddress, CcieErrorCategory.InvalidArgument));
                }

                plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Ok, $"drill box on {t.PrivateIpAddress ?? "a new private IP AWS picks in " + subnet.CidrBlock}, never the production {t.SavedPrivateIpAddress ?? "address"}"));
                return;
            }

            if (request.PrivateIpAddress is not null)
            {
                string? why = Ipv4.WhyNotUsable(request.PrivateIpAddress, subnet.CidrBlock);
                if (why is not null)
                {
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Blocker, $"-PrivateIpAddress {request.PrivateIpAddress} cannot be used in subnet {subnet.SubnetId}: {why}. Choose an address in {subnet.CidrBlock}.", "PrivateIpNotInSubnet", request.PrivateIpAddress, CcieErrorCategory.InvalidArgument));
                }

                t.PrivateIpAddress = request.PrivateIpAddress;
            }
            else if (t.SavedPrivateIpAddress is not null && Ipv4.WhyNotUsable(t.SavedPrivateIpAddress, subnet.CidrBlock) is null)
            {
                t.PrivateIpAddress = t.SavedPrivateIpAddress;
            }
            else if (t.SavedPrivateIpAddress is not null && !subnetChanged)
            {
                plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Blocker, $"The saved private IP {t.SavedPrivateIpAddress} does not fit subnet {subnet.SubnetId} ({subnet.CidrBlock}); the subnet was changed since the point was taken. Give -PrivateIpAddress in {subnet.CidrBlock}, or -SubnetId.", "PrivateIpNotInSubnet", t.SavedPrivateIpAddress, CcieErrorCategory.InvalidData));
                t.PrivateIpAddress = null;
            }
            else
            {
                t.PrivateIpAddress = null; // AWS picks one in the new subnet
            }

            if (t.PrivateIpPreserved)
            {
                plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Ok, $"the box keeps its private IP {t.PrivateIpAddress}: builders need no change"));
                return;
            }

            string now = t.PrivateIpAddress ?? $"an address AWS picks in {subnet.CidrBlock}";
            string was = t.SavedPrivateIpAddress ?? "unknown";
            string move = subnetChanged ? $" It moves to subnet {t.SubnetId} in {subnet.AvailabilityZone}." : string.Empty;
            plan.Warnings.Add($"The restored box gets {now} instead of its saved private IP {was}.{move} Builders find the Services box by its private IP: re-associate them (Set-CcieBuilderConfiguration -ServicesPrivateIp <new IP> -SecretPassphrase ..., then rotate them with Restart-CcieBuilder).");
            if (t.SavedPrivateIpAddress is not null && request.PrivateIpAddress is null && request.SubnetId is not null && t.SecondaryPrivateIpAddresses.Count == 0 && plan.Request.RecoveryPoint.Identity.SecondaryPrivateIpAddresses.Count > 0)
            {
                plan.Warnings.Add("The box's secondary private IPs (" + string.Join(", ", plan.Request.RecoveryPoint.Identity.SecondaryPrivateIpAddresses) + ") are not restored in another subnet.");
            }
        }

        private async Task CheckAddressesFreeAsync(RestorePlan plan, CancellationToken ct)
        {
            RestoreTarget t = plan.Target;
            var wanted = new List<string> { t.PrivateIpAddress! };
            wanted.AddRange(t.SecondaryPrivateIpAddresses.Where(a => !string.Equals(a, t.PrivateIpAddress, StringComparison.Ordinal)));
            IReadOnlyList<IpHolding> holdings = await FindHoldersAsync(_ec2, t.SubnetId, wanted, ct).ConfigureAwait(false);
            if (holdings.Count == 0)
            {
                plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Ok, $"{string.Join(", ", wanted)} free in {t.SubnetId}"));
                return;
            }

            foreach (IGrouping<string, IpHolding> byEni in holdings.GroupBy(h => h.NetworkInterfaceId))
            {
                IpHolding h = byEni.First();
                string addresses = string.Join(", ", byEni.Select(x => x.IpAddress));
                if (h.InstanceId is null)
                {
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Blocker, $"{addresses} is held by network interface {h.NetworkInterfaceId} ({h.Description ?? h.InterfaceType ?? "no instance attached"}). Delete or release it (aws ec2 delete-network-interface --network-interface-id {h.NetworkInterfaceId}), or restore with -PrivateIpAddress (builders must then be re-associated).", "PrivateIpInUse", h.NetworkInterfaceId, CcieErrorCategory.ResourceExists));
                    continue;
                }

                Instance? holder = await DescribeInstanceAsync(h.InstanceId, ct).ConfigureAwait(false);
                string state = holder?.State?.Name?.Value ?? "unknown";
                IReadOnlyDictionary<string, string> tags = holder?.Tags.ToDictionary() ?? new Dictionary<string, string>();
                tags.TryGetValue("Name", out string? name);
                string who = $"{h.InstanceId} ({state}{(name is null ? string.Empty : ", Name=" + name)})";
                if (state is "shutting-down" or "terminated")
                {
                    plan.InstanceToReplace ??= new IpHolder(addresses, h.NetworkInterfaceId, h.InstanceId, state, name);
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Warning, $"{addresses} is still held by {who}, which is terminating; the restore waits until the address is released"));
                    continue;
                }

                if (state is "pending" or "running"
                    && tags.TryGetValue(RestoreNaming.RestoredFromTag, out string? from) && string.Equals(from, t.RecoveryPointId, StringComparison.Ordinal)
                    && string.Equals(h.IpAddress, t.PrivateIpAddress, StringComparison.Ordinal))
                {
                    // An earlier run of this very restore launched it (its tag query just did not show it yet).
                    plan.ExistingInstance = new ExistingResource(h.InstanceId, state, h.IpAddress);
                    plan.Findings.Add(new PreflightFinding("earlier-run", PreflightStatus.Ok, $"resuming: instance {h.InstanceId} ({state}, {h.IpAddress}) was launched by an earlier run of this restore and is reused"));
                    continue;
                }

                bool isBox = string.Equals(h.InstanceId, t.SourceInstanceId, StringComparison.Ordinal)
                    || string.Equals(name, t.Name, StringComparison.Ordinal)
                    || string.Equals(name, plan.Request.RecoveryPoint.Identity.Name, StringComparison.Ordinal)
                    || tags.ContainsKey(RestoreNaming.RestoredFromTag);
                string role = string.Equals(h.InstanceId, t.SourceInstanceId, StringComparison.Ordinal) ? "the box this point was taken from" : isBox ? "a Services box" : "not a Services box";
                if (!plan.Request.ReplaceExisting)
                {
                    string replace = isBox
                        ? $"If it is broken beyond repair, rerun with -ReplaceExisting: that terminates {h.InstanceId} (its volumes marked DeleteOnTermination go with it; the recovery point's snapshots stay) and waits until {addresses} is free."
                        : $"CcieDr will not terminate it, because it is {role}.";
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Blocker, $"{addresses} is held by instance {who}, {role}. Nothing was changed. {replace} Or restore next to it with -PrivateIpAddress or -SubnetId (builders must then be re-associated).", "PrivateIpInUse", h.InstanceId, CcieErrorCategory.ResourceExists));
                }
                else if (!isBox)
                {
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Blocker, $"{addresses} is held by instance {who}, which is not a Services box (not {t.SourceInstanceId ?? "the source box"}, no Name={t.Name}, no {RestoreNaming.RestoredFromTag} tag); -ReplaceExisting only terminates a Services box. Free the address yourself, or restore with -PrivateIpAddress or -SubnetId.", "PrivateIpHeldByOtherInstance", h.InstanceId, CcieErrorCategory.ResourceExists));
                }
                else
                {
                    plan.InstanceToReplace = new IpHolder(addresses, h.NetworkInterfaceId, h.InstanceId, state, name);
                    plan.Findings.Add(new PreflightFinding("private-ip", PreflightStatus.Warning, $"{addresses} is held by {who}, {role}: -ReplaceExisting terminates it and waits until the address is free"));
                }
            }
        }

        private async Task<Instance?> DescribeInstanceAsync(string instanceId, CancellationToken ct)
        {
            IReadOnlyList<Instance> found = await AwsCall.RunAsync("ec2:DescribeInstances", instanceId, token => _ec2.DescribeAllInstancesAsync(new DescribeInstancesRequest { Filters = new List<Filter> { Ec2Extensions.Filter("instance-id", instanceId) } }, token), ct).ConfigureAwait(false);
            return found.Count > 0 ? found[0] : null;
        }

        /// <summary>Who holds which of <paramref name="addresses"/> in a subnet (network interfaces, attached or not).</summary>
        internal static async Task<IReadOnlyList<IpHolding>> FindHoldersAsync(IAmazonEC2 ec2, string subnetId, IReadOnlyList<string> addresses, CancellationToken ct)
        {
            var result = new List<IpHolding>();
            var request = new DescribeNetworkInterfacesRequest
            {
                Filters = new List<Filter>
                {
                    Ec2Extensions.Filter("subnet-id", subnetId),
                    Ec2Extensions.Filter("addresses.private-ip-address", addresses.ToArray()),
                },
            };
            IReadOnlyList<NetworkInterface> interfaces = await AwsCall.RunAsync(
                "ec2:DescribeNetworkInterfaces",
                string.Join(",", addresses),
                token => ec2.DescribeAllNetworkInterfacesAsync(request, token),
                ct).ConfigureAwait(false);
            foreach (NetworkInterface n in interfaces)
            {
                foreach (NetworkInterfacePrivateIpAddress a in n.PrivateIpAddresses ?? new List<NetworkInterfacePrivateIpAddress>())
                {
                    if (addresses.Contains(a.PrivateIpAddress, StringComparer.Ordinal))
                    {
                        result.Add(new IpHolding(a.PrivateIpAddress, n.NetworkInterfaceId, n.Attachment?.InstanceId, n.Description, n.InterfaceType?.Value));
                    }
                }
            }

            return result;
        }
    }
}
