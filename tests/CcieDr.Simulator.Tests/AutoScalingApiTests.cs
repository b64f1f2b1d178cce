using System.Net;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Amazon.EC2.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

/// <summary>The Auto Scaling Query API of the simulator (raw signed-scope requests and the real AWS CLI).</summary>
public sealed class AutoScalingApiTests
{
    private static readonly XNamespace Ns = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

    private sealed record Answer(HttpStatusCode Status, XElement Root)
    {
        public XElement Result(string action) => Root.Element(Ns + action + "Result") ?? throw new InvalidOperationException(Root.ToString());

        public string? Code => Root.Element(Ns + "Error")?.Element(Ns + "Code")?.Value;

        public string? Message => Root.Element(Ns + "Error")?.Element(Ns + "Message")?.Value;
    }

    /// <summary>One Query-protocol call, form-encoded, with a SigV4 credential scope for autoscaling (the simulator routes by it).</summary>
    private static async Task<Answer> Call(Sim sim, string action, params (string Key, string Value)[] parameters)
    {
        using var http = new HttpClient();
        var form = new List<KeyValuePair<string, string>> { new("Action", action), new("Version", "2011-01-01") };
        form.AddRange(parameters.Select(p => new KeyValuePair<string, string>(p.Key, p.Value)));
        using var request = new HttpRequestMessage(HttpMethod.Post, sim.Server.Url) { Content = new FormUrlEncodedContent(form) };
        request.Headers.TryAddWithoutValidation("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDSIM/20261207/us-east-1/autoscaling/aws4_request, SignedHeaders=host, Signature=00");
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new Answer(response.StatusCode, XDocument.Parse(text).Root!);
    }

    private static async Task<XElement> Ok(Sim sim, string action, params (string, string)[] parameters)
    {
        var a = await Call(sim, action, parameters);
        Assert.True(a.Status == HttpStatusCode.OK, $"{action}: {a.Status} {a.Code} {a.Message}");
        return a.Root;
    }

    private static async Task<XElement> Group(Sim sim, string name = "circleci-builders")
    {
        var root = await Ok(sim, "DescribeAutoScalingGroups", ("AutoScalingGroupNames.member.1", name));
        return root.Descendants(Ns + "AutoScalingGroups").Single().Elements(Ns + "member").Single();
    }

    private static List<(string Id, string State, string Health, string? Version)> Members(XElement group) =>
        group.Element(Ns + "Instances")!.Elements(Ns + "member")
            .Select(m => (m.Element(Ns + "InstanceId")!.Value, m.Element(Ns + "LifecycleState")!.Value, m.Element(Ns + "HealthStatus")!.Value, m.Element(Ns + "LaunchTemplate")?.Element(Ns + "Version")?.Value))
            .ToList();

    private static int Int(XElement e, string name) => int.Parse(e.Element(Ns + name)!.Value);

    private static async Task Resume(Sim sim) => await Ok(sim, "ResumeProcesses", ("AutoScalingGroupName", "circleci-builders"));

    [Fact]
    public async Task Describes_the_seeded_group_with_its_members_template_and_suspended_processes()
    {
        await using var sim = await Sim.StartAsync();
        var g = await Group(sim);
        Assert.Equal(sim.Seed.LaunchTemplateId, g.Element(Ns + "LaunchTemplate")!.Element(Ns + "LaunchTemplateId")!.Value);
        Assert.Equal("circleci-builders", g.Element(Ns + "LaunchTemplate")!.Element(Ns + "LaunchTemplateName")!.Value);
        Assert.Equal("$Default", g.Element(Ns + "LaunchTemplate")!.Element(Ns + "Version")!.Value);
        Assert.Equal((0, 10, 2), (Int(g, "MinSize"), Int(g, "MaxSize"), Int(g, "DesiredCapacity")));
        Assert.Equal($"{sim.Seed.SubnetAId},{sim.Seed.SubnetBId}", g.Element(Ns + "VPCZoneIdentifier")!.Value);
        var members = Members(g);
        Assert.Equal(sim.Seed.BuilderInstanceIds.Order(), members.Select(m => m.Id).Order());
        Assert.All(members, m => Assert.Equal(("InService", "Healthy", "1"), (m.State, m.Health, m.Version)));
        Assert.Equal(9, g.Element(Ns + "SuspendedProcesses")!.Elements(Ns + "member").Count());

        var instances = await Ok(sim, "DescribeAutoScalingInstances", ("InstanceIds.member.1", sim.Seed.BuilderInstanceIds[0]), ("InstanceIds.member.2", sim.Seed.ServicesInstanceId));
        var one = instances.Descendants(Ns + "AutoScalingInstances").Single().Elements(Ns + "member").Single();
        Assert.Equal("circleci-builders", one.Element(Ns + "AutoScalingGroupName")!.Value);
        Assert.Equal(sim.Seed.AvailabilityZoneA, one.Element(Ns + "AvailabilityZone")!.Value);

        // An unknown group is an empty list, not an error; an unknown action is InvalidAction.
        var none = await Ok(sim, "DescribeAutoScalingGroups", ("AutoScalingGroupNames.member.1", "nope"));
        Assert.Empty(none.Descendants(Ns + "AutoScalingGroups").Single().Elements());
        var bad = await Call(sim, "DeleteEverything");
        Assert.Equal((HttpStatusCode.BadRequest, "InvalidAction"), (bad.Status, bad.Code));
        Assert.Contains(sim.Control.RequestLog("DescribeAutoScalingGroups"), e => e.Service == "autoscaling" && e.Status == 200);
    }

    [Fact]
    public async Task Capacity_changes_are_validated_and_launch_members_pending_then_in_service()
    {
        await using var sim = await Sim.StartAsync();
        var above = await Call(sim, "SetDesiredCapacity", ("AutoScalingGroupName", "circleci-builders"), ("DesiredCapacity", "11"));
        Assert.Equal((HttpStatusCode.BadRequest, "ValidationError"), (above.Status, above.Code));
        Assert.Contains("above max value 10", above.Message);
        var missing = await Call(sim, "SetDesiredCapacity", ("DesiredCapacity", "1"));
        Assert.Equal("ValidationError", missing.Code);
        var inverted = await Call(sim, "UpdateAutoScalingGroup", ("AutoScalingGroupName", "circleci-builders"), ("MinSize", "5"), ("MaxSize", "3"));
        Assert.Equal("ValidationError", inverted.Code);
        Assert.Equal(2, Int(await Group(sim), "DesiredCapacity"));

        await Ok(sim, "UpdateAutoScalingGroup", ("AutoScalingGroupName", "circleci-builders"), ("MaxSize", "12"));
        await Ok(sim, "SetDesiredCapacity", ("AutoScalingGroupName", "circleci-builders"), ("DesiredCapacity", "11"));
        sim.Advance(5);
        Assert.Equal(2, Members(await Group(sim)).Count); // every process suspended: nothing launches
        await Resume(sim);
        sim.Advance(10);
        var launching = Members(await Group(sim));
        Assert.Equal(11, launching.Count);
        Assert.Equal(9, launching.Count(m => m.State == "Pending"));
        sim.Advance(10);
        Assert.All(Members(await Group(sim)), m => Assert.Equal("InService", m.State));

        var activities = (await Ok(sim, "DescribeScalingActivities", ("AutoScalingGroupName", "circleci-builders"))).Descendants(Ns + "Activities").Single().Elements(Ns + "member").ToList();
        Assert.Equal(9, activities.Count);
        Assert.All(activities, a => Assert.Equal("Successful", a.Element(Ns + "StatusCode")!.Value));
        Assert.All(activities, a => Assert.StartsWith("Launching a new EC2 instance: i-", a.Element(Ns + "Description")!.Value));

        // Lowering MaxSize below desired lowers desired (as AWS does); extra members are terminated oldest first.
        await Ok(sim, "UpdateAutoScalingGroup", ("AutoScalingGroupName", "circleci-builders"), ("MaxSize", "3"));
        var g = await Group(sim);
        Assert.Equal(3, Int(g, "DesiredCapacity"));
        sim.Advance(1);
        var after = Members(await Group(sim));
        Assert.Equal(8, after.Count(m => m.State == "Terminating"));
        Assert.Contains(after, m => m.Id == sim.Seed.BuilderInstanceIds[0] && m.State == "Terminating");
    }

    [Fact]
    public async Task Terminate_instance_in_group_with_and_without_decrementing_desired_capacity()
    {
        await using var sim = await Sim.StartAsync();
        await Resume(sim);
        var a = await Ok(sim, "TerminateInstanceInAutoScalingGroup", ("InstanceId", sim.Seed.BuilderInstanceIds[0]), ("ShouldDecrementDesiredCapacity", "true"));
        var activity = a.Descendants(Ns + "Activity").Single();
        Assert.Equal($"Terminating EC2 instance: {sim.Seed.BuilderInstanceIds[0]}", activity.Element(Ns + "Description")!.Value);
        Assert.Equal("InProgress", activity.Element(Ns + "StatusCode")!.Value);
        Assert.Contains("shrinking the capacity from 2 to 1", activity.Element(Ns + "Cause")!.Value);
        var g = await Group(sim);
        Assert.Equal(1, Int(g, "DesiredCapacity"));
        Assert.Contains(Members(g), m => m.Id == sim.Seed.BuilderInstanceIds[0] && m.State == "Terminating");

        var again = await Call(sim, "TerminateInstanceInAutoScalingGroup", ("InstanceId", sim.Seed.BuilderInstanceIds[0]), ("ShouldDecrementDesiredCapacity", "false"));
        Assert.Equal((HttpStatusCode.BadRequest, "ScalingActivityInProgress"), (again.Status, again.Code));

        sim.Advance(10);
        await Ok(sim, "UpdateAutoScalingGroup", ("AutoScalingGroupName", "circleci-builders"), ("MinSize", "1"));
        var floor = await Call(sim, "TerminateInstanceInAutoScalingGroup", ("InstanceId", sim.Seed.BuilderInstanceIds[1]), ("ShouldDecrementDesiredCapacity", "true"));
        Assert.Equal("ValidationError", floor.Code);
        Assert.Contains("min size", floor.Message);

        // Without decrementing, the group replaces the instance.
        await Ok(sim, "TerminateInstanceInAutoScalingGroup", ("InstanceId", sim.Seed.BuilderInstanceIds[1]), ("ShouldDecrementDesiredCapacity", "false"));
        sim.Advance(10);
        sim.Advance(10);
        var now = Members(await Group(sim));
        var fresh = Assert.Single(now);
        Assert.NotEqual(sim.Seed.BuilderInstanceIds[1], fresh.Id);
        Assert.Equal("InService", fresh.State);

        var unknown = await Call(sim, "TerminateInstanceInAutoScalingGroup", ("InstanceId", sim.Seed.ServicesInstanceId), ("ShouldDecrementDesiredCapacity", "false"));
        Assert.Equal("ValidationError", unknown.Code);
    }

    [Fact]
    public async Task Instance_refresh_replaces_members_batch_by_batch_keeping_min_healthy_percentage()
    {
        await using var sim = await Sim.StartAsync();
        var userData = Convert.ToBase64String(Encoding.UTF8.GetBytes("SERVICES_PRIVATE_IP=10.0.1.77\n"));
        await sim.Ec2.CreateLaunchTemplateVersionAsync(new CreateLaunchTemplateVersionRequest { LaunchTemplateId = sim.Seed.LaunchTemplateId, SourceVersion = "1", LaunchTemplateData = new RequestLaunchTemplateData { UserData = userData } });
        await Resume(sim);
        await Ok(sim, "SetDesiredCapacity", ("AutoScalingGroupName", "circleci-builders"), ("DesiredCapacity", "4"));
        sim.Advance(10);
        sim.Advance(10);
        var old = Members(await Group(sim)).Select(m => m.Id).ToList();
        Assert.Equal(4, old.Count);
        await Ok(sim, "UpdateAutoScalingGroup", ("AutoScalingGroupName", "circleci-builders"), ("LaunchTemplate.LaunchTemplateId", sim.Seed.LaunchTemplateId), ("LaunchTemplate.Version", "$Latest"));

        var none = await Call(sim, "CancelInstanceRefresh", ("AutoScalingGroupName", "circleci-builders"));
        Assert.Equal((HttpStatusCode.BadRequest, "ActiveInstanceRefreshNotFound"), (none.Status, none.Code));
        var started = await Ok(sim, "StartInstanceRefresh", ("AutoScalingGroupName", "circleci-builders"), ("Preferences.MinHealthyPercentage", "50"), ("Preferences.InstanceWarmup", "0"));
        var id = started.Descendants(Ns + "InstanceRefreshId").Single().Value;
        var second = await Call(sim, "StartInstanceRefresh", ("AutoScalingGroupName", "circleci-builders"));
        Assert.Equal("InstanceRefreshInProgress", second.Code);

        var minInService = int.MaxValue;
        var maxOut = 0;
        string status = "";
        for (var step = 0; step < 40 && status != "Successful"; step++)
        {
            sim.Advance(5);
            var members = Members(await Group(sim));
            var inService = members.Count(m => m.State == "InService");
            minInService = Math.Min(minInService, inService);
            maxOut = Math.Max(maxOut, members.Count(m => old.Contains(m.Id) && m.State == "Terminating"));
            var rf = (await Ok(sim, "DescribeInstanceRefreshes", ("AutoScalingGroupName", "circleci-builders"))).Descendants(Ns + "InstanceRefreshes").Single().Elements(Ns + "member").First();
            Assert.Equal(id, rf.Element(Ns + "InstanceRefreshId")!.Value);
            status = rf.Element(Ns + "Status")!.Value;
        }

        Assert.Equal("Successful", status);
        Assert.Equal(2, minInService); // 50% of 4 stayed in service
        Assert.Equal(2, maxOut); // batches of two
        sim.Advance(10);
        var now = Members(await Group(sim));
        Assert.Equal(4, now.Count);
        Assert.All(now, m => Assert.Equal(("InService", "2"), (m.State, m.Version)));
        Assert.Empty(now.Select(m => m.Id).Intersect(old));
        var attr = await sim.Ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = now[0].Id, Attribute = "userData" });
        Assert.Equal(userData, attr.InstanceAttribute.UserData);
        var done = (await Ok(sim, "DescribeInstanceRefreshes", ("AutoScalingGroupName", "circleci-builders"))).Descendants(Ns + "InstanceRefreshes").Single().Elements(Ns + "member").First();
        Assert.Equal("100", done.Element(Ns + "PercentageComplete")!.Value);

        // A cancelled refresh stops after its current batch.
        await Ok(sim, "StartInstanceRefresh", ("AutoScalingGroupName", "circleci-builders"), ("Preferences.MinHealthyPercentage", "75"));
        sim.Advance(1);
        await Ok(sim, "CancelInstanceRefresh", ("AutoScalingGroupName", "circleci-builders"));
        sim.Advance(1);
        var cancelled = (await Ok(sim, "DescribeInstanceRefreshes", ("AutoScalingGroupName", "circleci-builders"))).Descendants(Ns + "InstanceRefreshes").Single().Elements(Ns + "member").First();
        Assert.Equal("Cancelled", cancelled.Element(Ns + "Status")!.Value);
        Assert.Equal("4", cancelled.Element(Ns + "InstancesToUpdate")!.Value); // the batch in flight was not finished
        sim.Advance(10);
        sim.Advance(10);
        sim.Advance(10);
        var kept = Members(await Group(sim)).Where(m => m.State == "InService").Select(m => m.Id).ToList();
        Assert.Equal(4, kept.Count);
        Assert.Equal(3, kept.Intersect(now.Select(m => m.Id)).Count()); // only the first batch (one of 75%-of-4) was replaced
    }

    [Fact]
    public async Task Launch_configurations_are_immutable_and_a_group_launches_from_one()
    {
        await using var sim = await Sim.StartAsync();
        var userData = Convert.ToBase64String(Encoding.UTF8.GetBytes("#!/bin/bash\nexport SERVICES_PRIVATE_IP=10.0.1.99\n"));
        (string, string)[] create =
        [
            ("LaunchConfigurationName", "builders-v2"), ("ImageId", sim.Seed.BuilderImageId), ("InstanceType", "m5.large"), ("KeyName", "circleci"),
            ("SecurityGroups.member.1", sim.Seed.BuildersSecurityGroupId), ("UserData", userData), ("IamInstanceProfile", "circleci-builders"),
            ("BlockDeviceMappings.member.1.DeviceName", "/dev/sda1"), ("BlockDeviceMappings.member.1.Ebs.VolumeSize", "100"), ("BlockDeviceMappings.member.1.Ebs.VolumeType", "gp3"),
        ];
        await Ok(sim, "CreateLaunchConfiguration", create);
        var dup = await Call(sim, "CreateLaunchConfiguration", create);
        Assert.Equal((HttpStatusCode.BadRequest, "AlreadyExists"), (dup.Status, dup.Code));
        var badImage = await Call(sim, "CreateLaunchConfiguration", ("LaunchConfigurationName", "x"), ("ImageId", "ami-0000000000000000"), ("InstanceType", "m5.large"));
        Assert.Equal("ValidationError", badImage.Code);

        var lc = (await Ok(sim, "DescribeLaunchConfigurations", ("LaunchConfigurationNames.member.1", "builders-v2"))).Descendants(Ns + "LaunchConfigurations").Single().Elements(Ns + "member").Single();
        Assert.Equal(userData, lc.Element(Ns + "UserData")!.Value);
        Assert.Equal("m5.large", lc.Element(Ns + "InstanceType")!.Value);
        Assert.Equal(sim.Seed.BuildersSecurityGroupId, lc.Element(Ns + "SecurityGroups")!.Elements(Ns + "member").Single().Value);
        Assert.Equal("100", lc.Descendants(Ns + "VolumeSize").Single().Value);

        var unknown = await Call(sim, "UpdateAutoScalingGroup", ("AutoScalingGroupName", "circleci-builders"), ("LaunchConfigurationName", "nope"));
        Assert.Equal("ValidationError", unknown.Code);
        await Ok(sim, "UpdateAutoScalingGroup", ("AutoScalingGroupName", "circleci-builders"), ("LaunchConfigurationName", "builders-v2"));
        var g = await Group(sim);
        Assert.Equal("builders-v2", g.Element(Ns + "LaunchConfigurationName")!.Value);
        Assert.Null(g.Element(Ns + "LaunchTemplate"));
        await Resume(sim);
        await Ok(sim, "SetDesiredCapacity", ("AutoScalingGroupName", "circleci-builders"), ("DesiredCapacity", "3"));
        sim.Advance(10);
        var fresh = (await Ok(sim, "DescribeAutoScalingInstances")).Descendants(Ns + "AutoScalingInstances").Single().Elements(Ns + "member")
            .Single(m => m.Element(Ns + "LaunchConfigurationName")?.Value == "builders-v2");
        var instance = await sim.Instance(fresh.Element(Ns + "InstanceId")!.Value);
        Assert.Equal("m5.large", instance.InstanceType.Value);
        var attr = await sim.Ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = instance.InstanceId, Attribute = "userData" });
        Assert.Equal(userData, attr.InstanceAttribute.UserData);
    }

    [Fact]
    public async Task Scheduled_actions_fire_on_the_simulated_clock_and_are_then_deleted()
    {
        await using var sim = await Sim.StartAsync();
        await Resume(sim);
        var now = sim.Control.Now;
        string At(double seconds) => now.AddSeconds(seconds).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        var past = await Call(sim, "PutScheduledUpdateGroupAction", ("AutoScalingGroupName", "circleci-builders"), ("ScheduledActionName", "late"), ("Time", At(-60)), ("DesiredCapacity", "3"));
        Assert.Equal("ValidationError", past.Code);
        var empty = await Call(sim, "PutScheduledUpdateGroupAction", ("AutoScalingGroupName", "circleci-builders"), ("ScheduledActionName", "empty"), ("Time", At(60)));
        Assert.Equal("ValidationError", empty.Code);
        await Ok(sim, "PutScheduledUpdateGroupAction", ("AutoScalingGroupName", "circleci-builders"), ("ScheduledActionName", "up"), ("Time", At(600)), ("MaxSize", "12"), ("DesiredCapacity", "12"));
        await Ok(sim, "PutScheduledUpdateGroupAction", ("AutoScalingGroupName", "circleci-builders"), ("ScheduledActionName", "down"), ("Time", At(3600)), ("MaxSize", "10"), ("DesiredCapacity", "2"));
        var listed = (await Ok(sim, "DescribeScheduledActions", ("AutoScalingGroupName", "circleci-builders"))).Descendants(Ns + "ScheduledUpdateGroupActions").Single().Elements(Ns + "member").ToList();
        Assert.Equal(new[] { "up", "down" }, listed.Select(a => a.Element(Ns + "ScheduledActionName")!.Value));

        sim.Advance(599);
        Assert.Equal(2, Int(await Group(sim), "DesiredCapacity"));
        sim.Advance(1);
        var g = await Group(sim);
        Assert.Equal((12, 12), (Int(g, "MaxSize"), Int(g, "DesiredCapacity")));
        var left = (await Ok(sim, "DescribeScheduledActions", ("AutoScalingGroupName", "circleci-builders"))).Descendants(Ns + "ScheduledUpdateGroupActions").Single().Elements(Ns + "member");
        Assert.Equal("down", Assert.Single(left).Element(Ns + "ScheduledActionName")!.Value);

        // A suspended ScheduledActions process holds the action until resumed.
        await Ok(sim, "SuspendProcesses", ("AutoScalingGroupName", "circleci-builders"), ("ScalingProcesses.member.1", "ScheduledActions"));
        sim.Advance(3000);
        Assert.Equal(12, Int(await Group(sim), "DesiredCapacity"));
        await Resume(sim);
        sim.Advance(1);
        g = await Group(sim);
        Assert.Equal((10, 2), (Int(g, "MaxSize"), Int(g, "DesiredCapacity")));
        var activities = (await Ok(sim, "DescribeScalingActivities", ("AutoScalingGroupName", "circleci-builders"))).Descendants(Ns + "Description").Select(d => d.Value).ToList();
        Assert.Contains("Executing scheduled action up", activities);
        Assert.Contains("Executing scheduled action down", activities);
    }

    [Fact]
    public async Task Suspended_launch_process_holds_launches_and_unknown_processes_are_refused()
    {
        await using var sim = await Sim.StartAsync();
        await Resume(sim);
        await Ok(sim, "SuspendProcesses", ("AutoScalingGroupName", "circleci-builders"), ("ScalingProcesses.member.1", "Launch"));
        var g = await Group(sim);
        var suspended = g.Element(Ns + "SuspendedProcesses")!.Elements(Ns + "member").Single();
        Assert.Equal("Launch", suspended.Element(Ns + "ProcessName")!.Value);
        Assert.StartsWith("User suspended at ", suspended.Element(Ns + "SuspensionReason")!.Value);
        await Ok(sim, "SetDesiredCapacity", ("AutoScalingGroupName", "circleci-builders"), ("DesiredCapacity", "3"));
        sim.Advance(30);
        Assert.Equal(2, Members(await Group(sim)).Count);
        await Ok(sim, "ResumeProcesses", ("AutoScalingGroupName", "circleci-builders"), ("ScalingProcesses.member.1", "Launch"));
        sim.Advance(10);
        Assert.Equal(3, Members(await Group(sim)).Count);
        var bad = await Call(sim, "SuspendProcesses", ("AutoScalingGroupName", "circleci-builders"), ("ScalingProcesses.member.1", "Sleep"));
        Assert.Equal("ValidationError", bad.Code);
    }

    [Fact]
    public async Task Resource_contention_paging_and_invalid_tokens()
    {
        await using var sim = await Sim.StartAsync();
        sim.Control.SetAutoScalingContention("us-east-1", "circleci-builders", 1);
        var busy = await Call(sim, "SetDesiredCapacity", ("AutoScalingGroupName", "circleci-builders"), ("DesiredCapacity", "3"));
        Assert.Equal((HttpStatusCode.InternalServerError, "ResourceContention"), (busy.Status, busy.Code));
        Assert.Equal(2, Int(await Group(sim), "DesiredCapacity"));
        await Ok(sim, "SetDesiredCapacity", ("AutoScalingGroupName", "circleci-builders"), ("DesiredCapacity", "3"));

        var first = await Ok(sim, "DescribeAutoScalingInstances", ("MaxRecords", "1"));
        var token = first.Descendants(Ns + "NextToken").Single().Value;
        var second = await Ok(sim, "DescribeAutoScalingInstances", ("MaxRecords", "1"), ("NextToken", token));
        Assert.Empty(second.Descendants(Ns + "NextToken"));
        var ids = first.Descendants(Ns + "InstanceId").Concat(second.Descendants(Ns + "InstanceId")).Select(e => e.Value).Order();
        Assert.Equal(sim.Seed.BuilderInstanceIds.Order(), ids);
        var invalid = await Call(sim, "DescribeAutoScalingInstances", ("NextToken", "garbage"));
        Assert.Equal((HttpStatusCode.BadRequest, "InvalidNextToken"), (invalid.Status, invalid.Code));
        var tooMany = await Call(sim, "DescribeAutoScalingInstances", ("MaxRecords", "51"));
        Assert.Equal("ValidationError", tooMany.Code);
    }

    [Fact]
    public async Task The_aws_cli_sees_the_groups_and_changes_them()
    {
        await using var sim = await Sim.StartAsync();
        async Task<JsonElement> Cli(params string[] args)
        {
            var (exit, stdout, stderr) = await sim.AwsCliAsync(["autoscaling", .. args]);
            Assert.True(exit == 0, $"aws autoscaling {string.Join(' ', args)} exited {exit}: {stderr}");
            return string.IsNullOrWhiteSpace(stdout) ? default : JsonDocument.Parse(stdout).RootElement.Clone();
        }

        var groups = await Cli("describe-auto-scaling-groups", "--auto-scaling-group-names", "circleci-builders");
        var g = groups.GetProperty("AutoScalingGroups").EnumerateArray().Single();
        Assert.Equal(2, g.GetProperty("DesiredCapacity").GetInt32());
        Assert.Equal(sim.Seed.BuilderInstanceIds.Order(), g.GetProperty("Instances").EnumerateArray().Select(i => i.GetProperty("InstanceId").GetString()).Order());
        Assert.Equal(sim.Seed.LaunchTemplateId, g.GetProperty("LaunchTemplate").GetProperty("LaunchTemplateId").GetString());

        await Cli("resume-processes", "--auto-scaling-group-name", "circleci-builders");
        await Cli("set-desired-capacity", "--auto-scaling-group-name", "circleci-builders", "--desired-capacity", "3");
        sim.Advance(10);
        var instances = await Cli("describe-auto-scaling-instances");
        Assert.Equal(3, instances.GetProperty("AutoScalingInstances").GetArrayLength());
        Assert.Contains(instances.GetProperty("AutoScalingInstances").EnumerateArray(), i => i.GetProperty("LifecycleState").GetString() == "Pending");

        var (exit, _, stderr) = await sim.AwsCliAsync("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "circleci-builders", "--desired-capacity", "99");
        Assert.NotEqual(0, exit);
        Assert.Contains("ValidationError", stderr);
        Assert.Contains("above max value", stderr);

        var refresh = await Cli("start-instance-refresh", "--auto-scaling-group-name", "circleci-builders", "--preferences", "MinHealthyPercentage=50,InstanceWarmup=0");
        var refreshId = refresh.GetProperty("InstanceRefreshId").GetString();
        var refreshes = await Cli("describe-instance-refreshes", "--auto-scaling-group-name", "circleci-builders");
        Assert.Equal(refreshId, refreshes.GetProperty("InstanceRefreshes")[0].GetProperty("InstanceRefreshId").GetString());
        await Cli("cancel-instance-refresh", "--auto-scaling-group-name", "circleci-builders");

        // The CLI base64-encodes --user-data itself; the API (and the simulator) store and return base64.
        await Cli("create-launch-configuration", "--launch-configuration-name", "cli-lc", "--image-id", sim.Seed.BuilderImageId, "--instance-type", "m5.xlarge", "--user-data", "SERVICES_PRIVATE_IP=10.0.1.50\n");
        var (dupExit, _, dupErr) = await sim.AwsCliAsync("autoscaling", "create-launch-configuration", "--launch-configuration-name", "cli-lc", "--image-id", sim.Seed.BuilderImageId, "--instance-type", "m5.xlarge");
        Assert.NotEqual(0, dupExit);
        Assert.Contains("AlreadyExists", dupErr);
        var lcs = await Cli("describe-launch-configurations");
        var lc = lcs.GetProperty("LaunchConfigurations").EnumerateArray().Single();
        Assert.Equal("cli-lc", lc.GetProperty("LaunchConfigurationName").GetString());
        Assert.Equal("SERVICES_PRIVATE_IP=10.0.1.50\n", Encoding.UTF8.GetString(Convert.FromBase64String(lc.GetProperty("UserData").GetString()!)));

        var at = sim.Control.Now.AddHours(1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        await Cli("put-scheduled-update-group-action", "--auto-scaling-group-name", "circleci-builders", "--scheduled-action-name", "back", "--time", at, "--desired-capacity", "2");
        var scheduled = await Cli("describe-scheduled-actions", "--auto-scaling-group-name", "circleci-builders");
        Assert.Equal("back", scheduled.GetProperty("ScheduledUpdateGroupActions")[0].GetProperty("ScheduledActionName").GetString());
        sim.Advance(3600);
        groups = await Cli("describe-auto-scaling-groups");
        Assert.Equal(2, groups.GetProperty("AutoScalingGroups")[0].GetProperty("DesiredCapacity").GetInt32());
        var activities = await Cli("describe-scaling-activities", "--auto-scaling-group-name", "circleci-builders");
        Assert.Contains(activities.GetProperty("Activities").EnumerateArray(), a => a.GetProperty("Description").GetString() == "Executing scheduled action back");
    }
}
