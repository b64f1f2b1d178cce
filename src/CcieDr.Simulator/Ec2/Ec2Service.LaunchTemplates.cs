using System.Globalization;
using System.Xml.Linq;
using static CcieDr.Simulator.Ec2.Xml;

namespace CcieDr.Simulator.Ec2;

internal sealed partial class Ec2Service
{
    private static LaunchTemplate FindTemplate(Ctx ctx, string? id, string? name)
    {
        if (id is null && name is null)
        {
            throw Ec2Error.Missing("LaunchTemplateId or LaunchTemplateName");
        }

        if (id is not null && name is not null)
        {
            throw Ec2Error.Combination("Specify either LaunchTemplateId or LaunchTemplateName, not both.");
        }

        if (id is not null)
        {
            if (!id.StartsWith("lt-", StringComparison.Ordinal))
            {
                throw new Ec2Error("InvalidLaunchTemplateId.Malformed", $"The specified launch template ID '{id}' is malformed.");
            }

            return ctx.Region.LaunchTemplates.TryGetValue(id, out var t) && !Hidden(ctx, id)
                ? t
                : throw new Ec2Error("InvalidLaunchTemplateId.NotFound", $"The specified launch template, with template ID {id}, does not exist.");
        }

        return ctx.Region.LaunchTemplates.Values.FirstOrDefault(t => t.Name == name)
            ?? throw new Ec2Error("InvalidLaunchTemplateName.NotFoundException", $"The specified launch template, with template name {name}, does not exist.");
    }

    internal static LaunchTemplateVersion ResolveVersion(LaunchTemplate t, string version)
    {
        var number = version switch
        {
            "$Latest" => t.LatestVersion,
            "$Default" => t.DefaultVersion,
            _ => long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                ? n
                : throw new Ec2Error("InvalidLaunchTemplateId.VersionNotFound", $"Could not find launch template version {version} for template {t.Id}"),
        };
        return t.Versions.FirstOrDefault(v => v.Number == number)
            ?? throw new Ec2Error("InvalidLaunchTemplateId.VersionNotFound", $"Could not find launch template version {version} for template {t.Id}");
    }

    private static LaunchTemplateData ParseTemplateData(QueryParams d, LaunchTemplateData? source)
    {
        var data = source?.Clone() ?? new LaunchTemplateData();
        data.ImageId = d.Get("ImageId") ?? data.ImageId;
        data.InstanceType = d.Get("InstanceType") ?? data.InstanceType;
        data.KeyName = d.Get("KeyName") ?? data.KeyName;
        if (d.Get("UserData") is { } ud)
        {
            try
            {
                _ = Convert.FromBase64String(ud);
            }
            catch (FormatException)
            {
                throw Ec2Error.InvalidValue("Invalid BASE64 encoding of user data.");
            }

            data.UserData = ud;
        }

        if (d.List("SecurityGroupId") is { Count: > 0 } groups)
        {
            data.SecurityGroupIds = groups;
        }

        data.IamInstanceProfileArn = d.Get("IamInstanceProfile.Arn") ?? data.IamInstanceProfileArn;
        data.IamInstanceProfileName = d.Get("IamInstanceProfile.Name") ?? data.IamInstanceProfileName;
        return data;
    }

    private static XElement TemplateDataElement(LaunchTemplateData d) => E("launchTemplateData",
        V("imageId", d.ImageId),
        V("instanceType", d.InstanceType),
        V("keyName", d.KeyName),
        V("userData", d.UserData),
        d.SecurityGroupIds.Count == 0 ? null : Set("securityGroupIdSet", d.SecurityGroupIds.Select(g => Item(g))),
        d.IamInstanceProfileArn is null && d.IamInstanceProfileName is null ? null : E("iamInstanceProfile", V("arn", d.IamInstanceProfileArn), V("name", d.IamInstanceProfileName)));

    private XElement TemplateContent(Ctx ctx, LaunchTemplate t, string name) => E(name,
        V("launchTemplateId", t.Id),
        V("launchTemplateName", t.Name),
        V("createTime", t.CreateTime),
        V("createdBy", $"arn:aws:iam::{ctx.AccountId}:root"),
        V("defaultVersionNumber", t.DefaultVersion),
        V("latestVersionNumber", t.LatestVersion),
        TagSet(t.Tags));

    private static XElement VersionContent(Ctx ctx, LaunchTemplate t, LaunchTemplateVersion v, string name) => E(name,
        V("launchTemplateId", t.Id),
        V("launchTemplateName", t.Name),
        V("versionNumber", v.Number),
        V("versionDescription", v.Description),
        V("createTime", v.CreateTime),
        V("createdBy", $"arn:aws:iam::{ctx.AccountId}:root"),
        V("defaultVersion", v.Number == t.DefaultVersion),
        TemplateDataElement(v.Data));

    private IEnumerable<object?> DescribeLaunchTemplates(Ctx ctx)
    {
        var ids = ctx.P.List("LaunchTemplateId");
        var names = ctx.P.List("LaunchTemplateName");
        var items = ids.Select(id => FindTemplate(ctx, id, null))
            .Concat(names.Select(n => FindTemplate(ctx, null, n)))
            .Distinct()
            .ToList();
        var all = ids.Count == 0 && names.Count == 0;
        var filtered = ApplyFilters(ctx, all ? Visible(ctx, ctx.Region.LaunchTemplates.Values) : items, (t, f) => f switch
        {
            "launch-template-name" => [t.Name],
            "create-time" => [Format(t.CreateTime)],
            _ => null,
        });
        var (page, next) = Paginate(ctx, filtered, t => t.Id, 1, 200, all);
        yield return Set("launchTemplates", page.Select(t => Item(TemplateContent(ctx, t, "x").Nodes())));
        yield return V("nextToken", next);
    }

    private IEnumerable<object?> DescribeLaunchTemplateVersions(Ctx ctx)
    {
        var t = FindTemplate(ctx, ctx.P.Get("LaunchTemplateId"), ctx.P.Get("LaunchTemplateName"));
        var versions = ctx.P.List("LaunchTemplateVersion");
        IEnumerable<LaunchTemplateVersion> items = versions.Count > 0
            ? versions.Select(v => ResolveVersion(t, v)).Distinct()
            : t.Versions;
        if (ctx.P.Get("MinVersion") is { } minV)
        {
            var min = ResolveVersion(t, minV).Number;
            items = items.Where(v => v.Number >= min);
        }

        if (ctx.P.Get("MaxVersion") is { } maxV)
        {
            var max = ResolveVersion(t, maxV).Number;
            items = items.Where(v => v.Number <= max);
        }

        var (page, next) = Paginate(ctx, items, v => v.Number.ToString("D12", CultureInfo.InvariantCulture), 1, 200, versions.Count == 0);
        yield return Set("launchTemplateVersionSet", page.Select(v => Item(VersionContent(ctx, t, v, "x").Nodes())));
        yield return V("nextToken", next);
    }

    private IEnumerable<object?> CreateLaunchTemplate(Ctx ctx)
    {
        var name = ctx.P.Required("LaunchTemplateName");
        if (ctx.Region.LaunchTemplates.Values.Any(t => t.Name == name))
        {
            throw new Ec2Error("InvalidLaunchTemplateName.AlreadyExistsException", $"Launch template name already in use.");
        }

        var data = ParseTemplateData(ctx.P.Sub("LaunchTemplateData"), null);
        var t = new LaunchTemplate { Id = ctx.World.NewId("lt"), Name = name, CreateTime = ctx.Now };
        t.Versions.Add(new LaunchTemplateVersion { Number = 1, Description = ctx.P.Get("VersionDescription"), CreateTime = ctx.Now, Data = data });
        foreach (var (k, v) in TagsFor(ctx, "launch-template", "launch-template"))
        {
            t.Tags[k] = v;
        }

        ctx.Region.LaunchTemplates[t.Id] = t;
        yield return TemplateContent(ctx, t, "launchTemplate");
    }

    private IEnumerable<object?> CreateLaunchTemplateVersion(Ctx ctx)
    {
        var t = FindTemplate(ctx, ctx.P.Get("LaunchTemplateId"), ctx.P.Get("LaunchTemplateName"));

        // As EC2: a retry with the same ClientToken gets the version the first request made; other arguments are refused.
        var token = ctx.P.Get("ClientToken");
        var fingerprint = ctx.P.Fingerprint("ClientToken", "Action", "Version", "LaunchTemplateId", "LaunchTemplateName");
        if (token is { Length: > 0 } && t.VersionTokens.TryGetValue(token, out var prior))
        {
            if (prior.Fingerprint != fingerprint)
            {
                throw new Ec2Error("IdempotentParameterMismatch", $"Arguments on this idempotent request are inconsistent with arguments used in previous request(s) with client token '{token}'.");
            }

            yield return VersionContent(ctx, t, t.Versions.Single(x => x.Number == prior.Number), "launchTemplateVersion");
            yield break;
        }

        var source = ctx.P.Get("SourceVersion") is { } sv ? ResolveVersion(t, sv).Data : null;
        var data = ParseTemplateData(ctx.P.Sub("LaunchTemplateData"), source);
        var v = new LaunchTemplateVersion { Number = t.LatestVersion + 1, Description = ctx.P.Get("VersionDescription"), CreateTime = ctx.Now, Data = data };
        t.Versions.Add(v);
        if (token is { Length: > 0 })
        {
            t.VersionTokens[token] = (fingerprint, v.Number);
        }

        yield return VersionContent(ctx, t, v, "launchTemplateVersion");
    }

    private IEnumerable<object?> ModifyLaunchTemplate(Ctx ctx)
    {
        var t = FindTemplate(ctx, ctx.P.Get("LaunchTemplateId"), ctx.P.Get("LaunchTemplateName"));
        if (ctx.P.Get("SetDefaultVersion") is { } dv)
        {
            t.DefaultVersion = ResolveVersion(t, dv).Number;
        }

        yield return TemplateContent(ctx, t, "launchTemplate");
    }
}
