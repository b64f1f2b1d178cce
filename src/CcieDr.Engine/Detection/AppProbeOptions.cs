using System;
using System.Collections.Generic;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Detection
{
    /// <summary>The cmdlets' probe parameters (-From, -ProbeAddress, -ProbePortMap, -ProbeTimeoutSec) and how they become a probe.</summary>
    public sealed class AppProbeOptions
    {
        public ProbeFrom From { get; set; } = ProbeFrom.Here;

        /// <summary>Override of the address probed (Here: instead of the box's IP; Box: instead of 127.0.0.1 on the box).</summary>
        public string? ProbeAddress { get; set; }

        /// <summary>App port → port actually probed (the simulator's loopback stand-ins).</summary>
        public IReadOnlyDictionary<int, int> PortMap { get; set; } = new Dictionary<int, int>();

        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(3);

        /// <summary>The AWS endpoint override: when it is on loopback (a simulator), "here" probes of other addresses are refused.</summary>
        public Uri? Endpoint { get; set; }

        /// <summary>
        /// The probe for a box: from here to <see cref="ProbeAddress"/>, else the box's address (<paramref name="boxAddress"/>,
        /// or 127.0.0.1 when the shell is Local); from the box to 127.0.0.1 there. Refuses a simulated address.
        /// </summary>
        public AppPortProbeSpec Resolve(IRemoteShell? shell, string? boxAddress, string box)
        {
            if (From == ProbeFrom.Box)
            {
                if (shell is null)
                {
                    throw new CcieException("RemoteShellRequired", CcieErrorCategory.InvalidArgument, "-From Box probes the ports on the box over the remote shell, which is not available here: give the transport parameters (-Transport, -SshHost, ...) or use -From Here.", box);
                }

                return new AppPortProbeSpec(ProbeFrom.Box, new PortProbeTarget(ProbeAddress ?? "127.0.0.1", PortMap, Timeout), shell);
            }

            string? address = ProbeAddress;
            if (address is null && shell is not null && shell.Transport == RemoteTransport.Local)
            {
                address = "127.0.0.1";
            }

            address ??= boxAddress;
            if (string.IsNullOrWhiteSpace(address))
            {
                throw new CcieException("ProbeAddressUnknown", CcieErrorCategory.InvalidArgument, $"No address to probe {box}'s app ports at: give -ProbeAddress, pipe in the Services box (its PrivateIpAddress), or use -From Box.", box);
            }

            PortProbe.GuardSimulatedAddress(address!, Endpoint, box);
            return new AppPortProbeSpec(ProbeFrom.Here, new PortProbeTarget(address!, PortMap, Timeout), shell);
        }
    }
}
