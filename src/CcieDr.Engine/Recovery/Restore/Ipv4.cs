using System;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CcieDr.Engine.Recovery.Restore
{
    /// <summary>IPv4 helpers for subnet checks (which addresses a subnet can give an instance).</summary>
    internal static class Ipv4
    {
        public static bool TryParse(string? text, out uint value)
        {
            value = 0;
            if (string.IsNullOrWhiteSpace(text) || !IPAddress.TryParse(text!.Trim(), out IPAddress? address) || address.AddressFamily != AddressFamily.InterNetwork)
            {
                return false;
            }

            // IPAddress.TryParse accepts "10" or "10.1"; insist on the dotted quad.
            if (text.Trim().Split('.').Length != 4)
            {
                return false;
            }

            byte[] b = address.GetAddressBytes();
            value = ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
            return true;
        }

        public static bool TryParseCidr(string? cidr, out uint network, out int prefix)
        {
            network = 0;
            prefix = 0;
            if (string.IsNullOrEmpty(cidr))
            {
                return false;
            }

            string[] parts = cidr!.Split('/');
            if (parts.Length != 2 || !TryParse(parts[0], out uint address) || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix < 0 || prefix > 32)
            {
                return false;
            }

            network = address & Mask(prefix);
            return true;
        }

        /// <summary>
        /// Null when <paramref name="ip"/> is a usable host address of <paramref name="cidr"/>; otherwise why not.
        /// AWS reserves the first four addresses and the last one of every subnet.
        /// </summary>
        public static string? WhyNotUsable(string ip, string cidr)
        {
            if (!TryParse(ip, out uint address))
            {
                return $"'{ip}' is not an IPv4 address";
            }

            if (!TryParseCidr(cidr, out uint network, out int prefix))
            {
                return null; // unknown range: let EC2 decide
            }

            if ((address & Mask(prefix)) != network)
            {
                return $"{ip} is outside the subnet's range {cidr}";
            }

            uint size = prefix == 0 ? uint.MaxValue : (1u << (32 - prefix));
            uint offset = address - network;
            if (offset < 4 || offset == size - 1)
            {
                return $"{ip} is one of the five addresses AWS reserves in {cidr} (the first four and the last)";
            }

            return null;
        }

        public static bool Contains(string cidr, string ip)
            => TryParseCidr(cidr, out uint network, out int prefix) && TryParse(ip, out uint address) && (address & Mask(prefix)) == network;

        private static uint Mask(int prefix) => prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);

        public static void Validate(string ip, string parameter)
        {
            if (!TryParse(ip, out _))
            {
                throw new ArgumentException($"'{ip}' is not an IPv4 address.", parameter);
            }
        }
    }
}
