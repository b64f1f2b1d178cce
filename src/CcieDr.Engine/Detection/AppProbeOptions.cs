using System;
using System.Collections.Generic;
using CcieDr.Engine.Remote;

namespace CcieDr.Engine.Detection
{
    /// <summary>The cmdlets' probe parameters (-From, -ProbeAddress, -ProbePortMap, -ProbeTimeoutSec) and how they become a probe.</summary>
    public sealed class AppProbeOptions
    {
        public ProbeFrom From { get; set; } = ProbeFrom.Here;

        /// <summary>
        /// False when the operator left -From at its default: then a box whose address is simulated (the AWS endpoint is a
        /// simulator on loopback) is probed from the box over the remote shell instead of being refused.
        /// </summary>
        public bool FromGiven { get; set; } = true;

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
            if (From == ProbeFrom.Box || (shell is { Transport: not RemoteTransport.Local } && DefaultMovesToBox(boxAddress)))
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

        /// <summary>
        /// Whether a box at <paramref name="boxAddress"/> is probed from the box although From says Here: only when -From was
        /// left at its default, no -ProbeAddress was given and the address is simulated (never a real connection to it).
        /// </summary>
        private bool DefaultMovesToBox(string? boxAddress) =>
            From == ProbeFrom.Here && !FromGiven && ProbeAddress is null && !string.IsNullOrWhiteSpace(boxAddress) && PortProbe.IsSimulatedAddress(boxAddress!, Endpoint);

        /// <summary>Where the probe of a box will run, for plans: "here", "the box", or "the box (its address is simulated)".</summary>
        public string DescribeOrigin(string? boxAddress)
        {
            if (From == ProbeFrom.Box)
            {
                return "the box";
            }

            // Before a launch the address may not be known yet: any non-loopback box address is simulated behind a loopback endpoint.
            return DefaultMovesToBox(boxAddress ?? "0.0.0.0") ? "the box (its address is simulated)" : "here";
        }

        /// <summary>These options, or a copy with From = Box when the default moves to the box for this address (the health check decides once per box).</summary>
        public AppProbeOptions ForBox(string? boxAddress)
        {
            if (!DefaultMovesToBox(boxAddress))
            {
                return this;
            }

            var copy = (AppProbeOptions)MemberwiseClone();
            copy.From = ProbeFrom.Box;
            return copy;
        }
    }
}
