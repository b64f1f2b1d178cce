using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.EC2;
using Amazon.EC2.Model;
using CcieDr.Engine.Aws;
using CcieDr.Engine.Operations;

namespace CcieDr.Engine.Failover
{
    /// <summary>Mode 1's preparation: a secondary (floating) private IP on the box's primary interface.</summary>
    public sealed class FloatingIpService
    {
        private readonly IAmazonEC2 _ec2;

        public FloatingIpService(IAmazonEC2 ec2)
        {
            _ec2 = ec2 ?? throw new ArgumentNullException(nameof(ec2));
        }

        public static OperationPlan Plan(ServicesBox box, string? privateIp)
        {
            var plan = new OperationPlan("Add-CcieFloatingIp", box.InstanceId);
            string eni = box.NetworkInterfaceIds.Count > 0 ? box.NetworkInterfaceIds[0] : "(primary interface)";
            plan.Add("ec2:AssignPrivateIpAddresses", $"NetworkInterfaceId={eni} {(privateIp is null ? "SecondaryPrivateIpAddressCount=1" : "PrivateIpAddress=" + privateIp)} AllowReassignment=false (an IP in use is never taken)");
            plan.Add("ec2:CreateTags", $"{box.InstanceId} ccie:floating-ip=<ip>");
            return plan;
        }

        public async Task<FloatingIp> AddAsync(ServicesBox box, string? privateIp, CancellationToken ct)
        {
            if (box is null)
            {
                throw new ArgumentNullException(nameof(box));
            }

            Instance instance = await FailoverEc2.GetInstanceAsync(_ec2, box.InstanceId, ct).ConfigureAwait(false);
            InstanceNetworkInterface nic = FailoverEc2.PrimaryNic(instance)
                ?? throw new CcieException("NoNetworkInterface", CcieErrorCategory.InvalidData, $"{box.InstanceId} has no network interface.", box.InstanceId);
            List<InstancePrivateIpAddress> held = nic.PrivateIpAddresses ?? new List<InstancePrivateIpAddress>();
            string? existing = FailoverEc2.TagOrNull(instance, FailoverTags.FloatingIp);
            bool already = false;
            string ip;
            if (privateIp is not null && held.Any(a => a.PrivateIpAddress == privateIp))
            {
                if (held.Any(a => a.PrivateIpAddress == privateIp && a.Primary == true))
                {
                    throw new CcieException("FloatingIpIsPrimary", CcieErrorCategory.InvalidArgument, $"{privateIp} is the primary IP of {box.InstanceId}: a primary IP never moves to another instance. Give a free IP of subnet {nic.SubnetId}, or omit -PrivateIpAddress to get one.", privateIp);
                }

                ip = privateIp;
                already = true;
            }
            else if (privateIp is null && existing is not null && held.Any(a => a.PrivateIpAddress == existing))
            {
                ip = existing;
                already = true;
            }
            else
            {
                var request = new AssignPrivateIpAddressesRequest { NetworkInterfaceId = nic.NetworkInterfaceId, AllowReassignment = false };
                if (privateIp is null)
                {
                    request.SecondaryPrivateIpAddressCount = 1;
                }
                else
                {
                    request.PrivateIpAddresses = new List<string> { privateIp };
                }

                AssignPrivateIpAddressesResponse? r = null;
                try
                {
                    r = await AwsCall.RunAsync("ec2:AssignPrivateIpAddresses", privateIp ?? nic.NetworkInterfaceId, token => _ec2.AssignPrivateIpAddressesAsync(request, token), ct).ConfigureAwait(false);
                }
                catch (CcieException e) when (privateIp is not null)
                {
                    // A retried call whose first try went through (its answer lost) is refused as "in use": by this
                    // very interface. The interface is read before anything is called an error.
                    if (!await HoldsAsync(box.InstanceId, nic.NetworkInterfaceId, privateIp, ct).ConfigureAwait(false))
                    {
                        if (e.Category is CcieErrorCategory.InvalidArgument or CcieErrorCategory.InvalidOperation or CcieErrorCategory.NotSpecified)
                        {
                            throw new CcieException("FloatingIpUnavailable", CcieErrorCategory.InvalidArgument, $"{privateIp} cannot be the floating IP of {box.InstanceId}: {e.Message.TrimEnd()} It must be a free address of the box's subnet {nic.SubnetId}; an IP already in use is never taken.", privateIp, e);
                        }

                        throw;
                    }
                }

                ip = r?.AssignedPrivateIpAddresses?.FirstOrDefault()?.PrivateIpAddress ?? privateIp
                    ?? throw new CcieException("FloatingIpNotAssigned", CcieErrorCategory.InvalidData, "AssignPrivateIpAddresses returned no address.", box.InstanceId);
            }

            await FailoverEc2.TagAsync(_ec2, box.InstanceId, new Dictionary<string, string> { [FailoverTags.FloatingIp] = ip }, ct).ConfigureAwait(false);
            return new FloatingIp
            {
                InstanceId = box.InstanceId,
                NetworkInterfaceId = nic.NetworkInterfaceId,
                PrivateIpAddress = ip,
                SubnetId = nic.SubnetId,
                AvailabilityZone = instance.Placement?.AvailabilityZone,
                AlreadyAssigned = already,
                NextSteps = new[]
                {
                    $"On the box, answer on {ip} too (the OS does not pick up a secondary IP by itself): sudo ip addr add {ip}/<subnet prefix> dev <interface>, and make it persistent (netplan, or ec2-net-utils on Amazon Linux).",
                    $"Point the builders at it: Set-CcieBuilderConfiguration -ServicesPrivateIp {ip}, then Restart-CcieBuilder (builders keep SERVICES_PRIVATE_IP from their user data).",
                    $"Replicas for mode 1 go into the same subnet {nic.SubnetId}: New-CcieReplica -InstanceId {box.InstanceId} -SubnetId {nic.SubnetId}",
                },
            };
        }

        /// <summary>True when <paramref name="eni"/> of <paramref name="instanceId"/> holds <paramref name="ip"/> now (false when EC2 cannot say).</summary>
        private async Task<bool> HoldsAsync(string instanceId, string eni, string ip, CancellationToken ct)
        {
            try
            {
                Instance now = await FailoverEc2.GetInstanceAsync(_ec2, instanceId, ct).ConfigureAwait(false);
                return (now.NetworkInterfaces ?? new List<InstanceNetworkInterface>())
                    .Any(n => n.NetworkInterfaceId == eni && (n.PrivateIpAddresses ?? new List<InstancePrivateIpAddress>()).Any(a => a.PrivateIpAddress == ip));
            }
            catch (CcieException) when (!ct.IsCancellationRequested)
            {
                return false;
            }
        }
    }
}
