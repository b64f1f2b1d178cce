using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using CcieDr.Engine;
using CcieDr.Engine.Detection;

namespace CcieDr.Commands
{
    /// <summary>
    /// Base for remote cmdlets that probe the app's ports: -From Here|Box, -ProbeAddress, -ProbePortMap and -ProbeTimeoutSec
    /// (Start-CcieApp -Wait, Test-CcieServicesBox).
    /// </summary>
    public abstract class CcieAppProbeCmdlet : CcieRemoteCmdlet
    {
        /// <summary>
        /// Probe the app's ports from this machine (Here, default) or from the box itself over the remote shell (Box). Left
        /// at its default against a simulator on loopback, a box's simulated address is probed from the box (its sandbox).
        /// </summary>
        [Parameter]
        public ProbeFrom From { get; set; } = ProbeFrom.Here;

        /// <summary>
        /// Probe this address instead of the box's (Here), or instead of 127.0.0.1 on the box (Box). Against the simulator:
        /// 127.0.0.1 with -ProbePortMap from GET /_sim/boxes/{instanceId}/ports.
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ProbeAddress { get; set; }

        /// <summary>App port to the port actually probed, e.g. @{ 80 = 41001; 443 = 41002; 4434 = 41003; 8800 = 41004 }.</summary>
        [Parameter]
        public Hashtable? ProbePortMap { get; set; }

        /// <summary>Per port: how long the connect (and the TLS handshake on 443/8800) may take.</summary>
        [Parameter]
        [ValidateRange(1, 60)]
        public int ProbeTimeoutSec { get; set; } = 3;

        /// <summary>The probe parameters as the engine takes them.</summary>
        protected AppProbeOptions ProbeOptions() => ProbeParameters.Options(From, MyInvocation.BoundParameters.ContainsKey(nameof(From)), ProbeAddress, ProbePortMap, ProbeTimeoutSec, EndpointUrl);
    }

    /// <summary>Turns the probe parameters into <see cref="AppProbeOptions"/> (shared with Restore-CcieServicesBox -StartApp).</summary>
    internal static class ProbeParameters
    {
        public static AppProbeOptions Options(ProbeFrom from, bool fromGiven, string? address, Hashtable? map, int timeoutSec, Uri? endpoint) => new AppProbeOptions
        {
            From = from,
            FromGiven = fromGiven,
            ProbeAddress = address,
            PortMap = PortMap(map),
            Timeout = TimeSpan.FromSeconds(timeoutSec),
            Endpoint = endpoint,
        };

        public static IReadOnlyDictionary<int, int> PortMap(Hashtable? map)
        {
            var result = new Dictionary<int, int>();
            if (map is null)
            {
                return result;
            }

            foreach (DictionaryEntry e in map)
            {
                if (!TryPort(e.Key, out int from) || !TryPort(e.Value, out int to))
                {
                    throw new CcieException("InvalidProbePortMap", CcieErrorCategory.InvalidArgument, $"-ProbePortMap entry '{e.Key}' = '{e.Value}' is not a port-to-port pair: give @{{ 80 = 41001; 443 = 41002 }} with ports 1-65535.", e.Key);
                }

                result[from] = to;
            }

            return result;
        }

        private static bool TryPort(object? value, out int port)
        {
            object? v = value is PSObject pso ? pso.BaseObject : value;
            port = 0;
            return int.TryParse(Convert.ToString(v, CultureInfo.InvariantCulture), NumberStyles.None, CultureInfo.InvariantCulture, out port) && port >= 1 && port <= 65535;
        }
    }
}
