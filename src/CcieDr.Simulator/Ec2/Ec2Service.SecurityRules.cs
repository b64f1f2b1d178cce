using System.Globalization;
using System.Xml.Linq;
using static CcieDr.Simulator.Ec2.Xml;

namespace CcieDr.Simulator.Ec2;

// Security group rules: Authorize/Revoke SecurityGroupIngress/Egress with IpPermissions.N (IpProtocol, FromPort,
// ToPort, IpRanges.N.CidrIp, UserIdGroupPairs.N.GroupId), the errors AWS gives, and the rule sets in DescribeSecurityGroups.
internal sealed partial class Ec2Service
{
    private IEnumerable<object?> AuthorizeSecurityGroupIngress(Ctx ctx) => ChangeRules(ctx, ingress: true, add: true);

    private IEnumerable<object?> AuthorizeSecurityGroupEgress(Ctx ctx) => ChangeRules(ctx, ingress: false, add: true);

    private IEnumerable<object?> RevokeSecurityGroupIngress(Ctx ctx) => ChangeRules(ctx, ingress: true, add: false);

    private IEnumerable<object?> RevokeSecurityGroupEgress(Ctx ctx) => ChangeRules(ctx, ingress: false, add: false);

    private IEnumerable<object?> ChangeRules(Ctx ctx, bool ingress, bool add)
    {
        var group = FindGroup(ctx, ctx.P.Required("GroupId"));
        var rules = ParseRules(ctx, ingress);
        if (rules.Count == 0)
        {
            throw new Ec2Error("MissingParameter", "The request must contain the parameter ipPermissions");
        }

        var list = ingress ? group.Ingress : group.Egress;
        foreach (var rule in rules)
        {
            bool present = list.Contains(rule);
            if (add && present)
            {
                throw new Ec2Error("InvalidPermission.Duplicate", $"the specified rule \"peer: {rule.CidrIp ?? rule.GroupId}, {Describe(rule)}, ALLOW\" already exists");
            }

            if (!add && !present)
            {
                throw new Ec2Error("InvalidPermission.NotFound", $"The specified rule does not exist in this security group.");
            }
        }

        foreach (var rule in rules)
        {
            if (add)
            {
                list.Add(rule);
            }
            else
            {
                list.Remove(rule);
            }
        }

        yield return ReturnTrue();
    }

    private static string Describe(SecurityGroupRule r) =>
        r.Protocol == "-1" ? "ALL" : string.Create(CultureInfo.InvariantCulture, $"{r.Protocol.ToUpperInvariant()} from port: {r.FromPort} to port: {r.ToPort}");

    private List<SecurityGroupRule> ParseRules(Ctx ctx, bool ingress)
    {
        var result = new List<SecurityGroupRule>();
        foreach (var p in ctx.P.Members("IpPermissions"))
        {
            string protocol = (p.Get("IpProtocol") ?? throw Ec2Error.InvalidValue("Invalid value for portRange. Must specify IpProtocol.")).ToLowerInvariant();
            protocol = protocol switch { "6" => "tcp", "17" => "udp", "1" => "icmp", "all" => "-1", _ => protocol };
            if (protocol is not ("tcp" or "udp" or "icmp" or "-1"))
            {
                throw new Ec2Error("InvalidParameterValue", $"Invalid value '{protocol}' for IP protocol. Unknown protocol.");
            }

            int? from = p.Int("FromPort");
            int? to = p.Int("ToPort");
            if (protocol is "tcp" or "udp")
            {
                if (from is null || to is null)
                {
                    throw new Ec2Error("InvalidParameterValue", $"Invalid value for portRange. Must specify both from and to ports with TCP/UDP.");
                }

                if (from < 0 || to > 65535 || from > to)
                {
                    throw new Ec2Error("InvalidParameterValue", string.Create(CultureInfo.InvariantCulture, $"Invalid TCP/UDP port range ({from}-{to})."));
                }
            }
            else if (protocol == "-1")
            {
                from = null;
                to = null;
            }

            var peers = new List<(string? cidr, string? group)>();
            foreach (var range in p.Members("IpRanges"))
            {
                string cidr = range.Required("CidrIp");
                if (!cidr.Contains('/', StringComparison.Ordinal) || !System.Net.IPAddress.TryParse(cidr.Split('/')[0], out _))
                {
                    throw new Ec2Error("InvalidParameterValue", $"CIDR block {cidr} is malformed");
                }

                peers.Add((cidr, null));
            }

            foreach (var pair in p.Members("Groups").Concat(p.Members("UserIdGroupPairs")))
            {
                peers.Add((null, FindGroup(ctx, pair.Required("GroupId")).Id));
            }

            if (peers.Count == 0)
            {
                throw new Ec2Error("InvalidParameterValue", ingress ? "The request must contain a source (IpRanges or groups)." : "The request must contain a destination (IpRanges or groups).");
            }

            result.AddRange(peers.Select(x => new SecurityGroupRule(protocol, from, to, x.cidr, x.group)));
        }

        return result;
    }

    private static List<XElement> RuleItems(List<SecurityGroupRule> rules) =>
        rules.GroupBy(r => (r.Protocol, r.FromPort, r.ToPort))
            .Select(g => Item(
                V("ipProtocol", g.Key.Protocol),
                g.Key.FromPort is { } f ? V("fromPort", f) : null,
                g.Key.ToPort is { } t ? V("toPort", t) : null,
                Set("groups", g.Where(r => r.GroupId is not null).Select(r => Item(V("groupId", r.GroupId)))),
                Set("ipRanges", g.Where(r => r.CidrIp is not null).Select(r => Item(V("cidrIp", r.CidrIp))))))
            .ToList();
}
