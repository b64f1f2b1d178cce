using System.Net;

namespace CcieDr.Simulator;

/// <summary>An IPv4 CIDR block.</summary>
internal sealed class Cidr
{
    private Cidr(uint network, int prefix, string text)
    {
        Network = network;
        Prefix = prefix;
        Text = text;
    }

    public uint Network { get; }

    public int Prefix { get; }

    public string Text { get; }

    public uint Size => Prefix == 0 ? uint.MaxValue : 1u << (32 - Prefix);

    /// <summary>Usable addresses: AWS reserves the first four and the last one.</summary>
    public int Usable => (int)Size - 5;

    public static Cidr Parse(string text)
    {
        if (!TryParse(text, out var c))
        {
            throw new FormatException($"invalid CIDR '{text}'");
        }

        return c!;
    }

    public static bool TryParse(string text, out Cidr? cidr)
    {
        cidr = null;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !TryIp(text[..slash], out var ip) || !int.TryParse(text[(slash + 1)..], out var prefix) || prefix is < 0 or > 32)
        {
            return false;
        }

        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        cidr = new Cidr(ip & mask, prefix, $"{ToIp(ip & mask)}/{prefix}");
        return true;
    }

    public bool Contains(uint ip) => (ip & (Prefix == 0 ? 0u : uint.MaxValue << (32 - Prefix))) == Network;

    /// <summary>True if the address is one a host may hold (not the reserved first four or the broadcast).</summary>
    public bool IsAssignable(uint ip) => Contains(ip) && ip - Network >= 4 && ip - Network < Size - 1;

    public IEnumerable<uint> Assignable()
    {
        for (var off = 4u; off < Size - 1; off++)
        {
            yield return Network + off;
        }
    }

    public static bool TryIp(string text, out uint ip)
    {
        ip = 0;
        if (!IPAddress.TryParse(text, out var a) || a.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || text.Split('.').Length != 4)
        {
            return false;
        }

        var b = a.GetAddressBytes();
        ip = ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
        return true;
    }

    public static string ToIp(uint ip) => $"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}";
}
