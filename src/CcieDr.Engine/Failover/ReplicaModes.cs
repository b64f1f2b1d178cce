using System;
using System.Linq;

namespace CcieDr.Engine.Failover
{
    /// <summary>How builders keep reaching the Services box across a failover.</summary>
    public enum ReplicaMode
    {
        /// <summary>Mode 1: a floating secondary IP moves to a replica in the same subnet.</summary>
        FloatingIp,

        /// <summary>Mode 2: a secondary interface moves to a replica in the same AZ.</summary>
        MovableEni,

        /// <summary>Mode 3: the replica in another AZ keeps its own IP; fix-ups and builder reconfiguration follow.</summary>
        NewIp,
    }

    /// <summary>What the primary offers for re-addressing and where the replica is.</summary>
    public sealed class AddressingFacts
    {
        public string? PrimarySubnetId { get; set; }

        public string? PrimaryAvailabilityZone { get; set; }

        public string? PrimaryIp { get; set; }

        /// <summary>The floating IP tagged on the primary (Add-CcieFloatingIp), if it still holds it.</summary>
        public string? FloatingIp { get; set; }

        /// <summary>A movable secondary ENI attached to the primary.</summary>
        public string? MovableEniId { get; set; }

        public string? MovableEniIp { get; set; }

        public string? ReplicaSubnetId { get; set; }

        public string? ReplicaAvailabilityZone { get; set; }

        public string? ReplicaIp { get; set; }
    }

    /// <summary>Picks the mode a replica gives and says what it does and survives.</summary>
    public static class ReplicaModes
    {
        public static ReplicaMode Determine(AddressingFacts f)
        {
            if (f is null)
            {
                throw new ArgumentNullException(nameof(f));
            }

            if (f.FloatingIp is not null && string.Equals(f.PrimarySubnetId, f.ReplicaSubnetId, StringComparison.Ordinal))
            {
                return ReplicaMode.FloatingIp;
            }

            if (f.MovableEniId is not null && string.Equals(f.PrimaryAvailabilityZone, f.ReplicaAvailabilityZone, StringComparison.Ordinal))
            {
                return ReplicaMode.MovableEni;
            }

            return ReplicaMode.NewIp;
        }

        /// <summary>The IP builders know (SERVICES_PRIVATE_IP) before the failover.</summary>
        public static string? BuildersIp(AddressingFacts f, ReplicaMode mode) => mode switch
        {
            ReplicaMode.FloatingIp => f.FloatingIp,
            ReplicaMode.MovableEni => f.MovableEniIp,
            _ => f.FloatingIp ?? f.MovableEniIp ?? f.PrimaryIp,
        };

        /// <summary>The IP builders reach the box on after the failover.</summary>
        public static string? IpAfter(AddressingFacts f, ReplicaMode mode) => mode == ReplicaMode.NewIp ? f.ReplicaIp : BuildersIp(f, mode);

        public static string Describe(AddressingFacts f, ReplicaMode mode)
        {
            if (f is null)
            {
                throw new ArgumentNullException(nameof(f));
            }

            switch (mode)
            {
                case ReplicaMode.FloatingIp:
                    return $"Mode 1 (floating IP): failover moves the floating IP {f.FloatingIp} to the replica in the same subnet {f.PrimarySubnetId}; builders stay connected. Survives the loss of the primary instance, not of its AZ {f.PrimaryAvailabilityZone}.";
                case ReplicaMode.MovableEni:
                    return $"Mode 2 (movable ENI): failover detaches interface {f.MovableEniId} ({f.MovableEniIp}) from the primary and attaches it to the replica in the same AZ {f.PrimaryAvailabilityZone}; builders stay connected. Survives the loss of the primary instance, not of its AZ.";
                default:
                    string why = string.Equals(f.PrimaryAvailabilityZone, f.ReplicaAvailabilityZone, StringComparison.Ordinal)
                        ? "the primary has no floating IP (Add-CcieFloatingIp) in the replica's subnet and no movable ENI"
                        : $"an IP cannot move from {f.PrimaryAvailabilityZone} to {f.ReplicaAvailabilityZone}";
                    return $"Mode 3 (new IP, {why}): the replica serves on its own IP {f.ReplicaIp ?? "(assigned at launch)"} in {f.ReplicaAvailabilityZone}; failover applies the post-IP-change fix-ups (/etc/default/replicated, /etc/default/replicated-operator) and reconfigures and rotates the builders (SERVICES_PRIVATE_IP, CIRCLE_SECRET_PASSPHRASE). With a TCP load balancer on 80/443/4434 in front instead, re-point its target group at {f.ReplicaIp ?? "the replica"} (aws elbv2 register-targets, then deregister-targets of the old box). Survives the loss of the primary's AZ {f.PrimaryAvailabilityZone}.";
            }
        }

        /// <summary>Reads the primary's floating IP and movable ENI from its interfaces and tags.</summary>
        internal static void ReadPrimary(AddressingFacts f, Amazon.EC2.Model.Instance primary)
        {
            f.PrimarySubnetId = primary.SubnetId;
            f.PrimaryAvailabilityZone = primary.Placement?.AvailabilityZone;
            f.PrimaryIp = primary.PrivateIpAddress;
            var tags = primary.Tags ?? new System.Collections.Generic.List<Amazon.EC2.Model.Tag>();
            string? floating = tags.FirstOrDefault(t => t.Key == FailoverTags.FloatingIp)?.Value;
            var nics = primary.NetworkInterfaces ?? new System.Collections.Generic.List<Amazon.EC2.Model.InstanceNetworkInterface>();
            if (!string.IsNullOrEmpty(floating) && nics.Any(n => (n.PrivateIpAddresses ?? new System.Collections.Generic.List<Amazon.EC2.Model.InstancePrivateIpAddress>()).Any(a => a.PrivateIpAddress == floating && a.Primary != true)))
            {
                f.FloatingIp = floating;
            }

            var eni = nics.FirstOrDefault(n => (n.Attachment?.DeviceIndex ?? 0) > 0);
            if (eni is not null)
            {
                f.MovableEniId = eni.NetworkInterfaceId;
                f.MovableEniIp = eni.PrivateIpAddress;
            }
        }
    }
}
