using System.Net;
using System.Text;
using Amazon.Runtime;
using CcieDr.Engine.Aws.AutoScaling;
using CcieDr.Engine.Aws.Query;
using CcieDr.Simulator;
using Xunit;

namespace CcieDr.Engine.Tests.Query;

/// <summary>
/// The Auto Scaling client on the shared Query core: form bodies and XML answers shaped as the Auto Scaling API
/// reference (autoscaling-2011-01-01, botocore's service-2.json: lists as <c>Name.member.N</c>, results under
/// <c>&lt;ActionResult&gt;</c>, errors as <c>&lt;ErrorResponse&gt;</c>), then end to end against the simulator.
/// </summary>
public class AutoScalingClientTests
{
    private const string Ns = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

    private static string Error(string type, string code, string message) =>
        $"<ErrorResponse xmlns=\"{Ns}\"><Error><Type>{type}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>7d1c0000-0000-4000-8000-000000000002</RequestId></ErrorResponse>";

    private static string Response(string action, string result = "") =>
        $"<{action}Response xmlns=\"{Ns}\">" + (result.Length == 0 ? "" : $"<{action}Result>{result}</{action}Result>") + $"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></{action}Response>";

    private const string GroupA =
        "<member><AutoScalingGroupName>circleci-builders</AutoScalingGroupName><AutoScalingGroupARN>arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1:autoScalingGroupName/circleci-builders</AutoScalingGroupARN>"
        + "<LaunchTemplate><LaunchTemplateId>lt-0abc</LaunchTemplateId><LaunchTemplateName>circleci-builders</LaunchTemplateName><Version>$Default</Version></LaunchTemplate>"
        + "<MinSize>1</MinSize><MaxSize>10</MaxSize><DesiredCapacity>2</DesiredCapacity><DefaultCooldown>300</DefaultCooldown>"
        + "<AvailabilityZones><member>us-east-1a</member><member>us-east-1b</member></AvailabilityZones><HealthCheckType>EC2</HealthCheckType><HealthCheckGracePeriod>300</HealthCheckGracePeriod>"
        + "<Instances><member><InstanceId>i-01</InstanceId><InstanceType>m5.xlarge</InstanceType><AvailabilityZone>us-east-1a</AvailabilityZone><LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus>"
        + "<LaunchTemplate><LaunchTemplateId>lt-0abc</LaunchTemplateId><LaunchTemplateName>circleci-builders</LaunchTemplateName><Version>3</Version></LaunchTemplate><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>"
        + "<member><InstanceId>i-02</InstanceId><AvailabilityZone>us-east-1b</AvailabilityZone><LifecycleState>Pending</LifecycleState><HealthStatus>Healthy</HealthStatus><LaunchConfigurationName>old-lc</LaunchConfigurationName><ProtectedFromScaleIn>true</ProtectedFromScaleIn></member></Instances>"
        + "<CreatedTime>2026-11-01T10:00:00.123Z</CreatedTime><SuspendedProcesses><member><ProcessName>Launch</ProcessName><SuspensionReason>User suspended at 2026-12-07T10:00:00Z</SuspensionReason></member></SuspendedProcesses>"
        + "<VPCZoneIdentifier>subnet-a,subnet-b</VPCZoneIdentifier><Tags><member><ResourceId>circleci-builders</ResourceId><ResourceType>auto-scaling-group</ResourceType><Key>Name</Key><Value>circleci_builders</Value><PropagateAtLaunch>true</PropagateAtLaunch></member></Tags></member>";

    private const string GroupMixed =
        "<member><AutoScalingGroupName>mixed</AutoScalingGroupName><MixedInstancesPolicy><LaunchTemplate><LaunchTemplateSpecification><LaunchTemplateId>lt-0mix</LaunchTemplateId><Version>$Latest</Version></LaunchTemplateSpecification></LaunchTemplate></MixedInstancesPolicy>"
        + "<MinSize>0</MinSize><MaxSize>4</MaxSize><DesiredCapacity>0</DesiredCapacity><DefaultCooldown>300</DefaultCooldown><AvailabilityZones/><HealthCheckType>EC2</HealthCheckType><Instances/><CreatedTime>2026-11-01T10:00:00Z</CreatedTime></member>";

    [Fact]
    public async Task DescribeAutoScalingGroups_sends_the_names_signed_for_autoscaling_and_reads_every_page()
    {
        using var stub = new QueryStub()
            .Answer(200, Response("DescribeAutoScalingGroups", $"<AutoScalingGroups>{GroupA}</AutoScalingGroups><NextToken>page-2</NextToken>"))
            .Answer(200, Response("DescribeAutoScalingGroups", $"<AutoScalingGroups>{GroupMixed}</AutoScalingGroups>"));
        using var asg = new AutoScalingClient(stub.Client(QueryService.AutoScaling));
        var groups = await asg.DescribeAutoScalingGroupsAsync(["circleci-builders", "mixed"], CancellationToken.None);

        var requests = stub.Requests.ToList();
        Assert.Equal(2, requests.Count);
        Assert.Equal("Action=DescribeAutoScalingGroups&Version=2011-01-01&AutoScalingGroupNames.member.1=circleci-builders&AutoScalingGroupNames.member.2=mixed", requests[0].Body);
        Assert.Equal("page-2", requests[1].Form["NextToken"]);
        Assert.Contains("/us-east-1/autoscaling/aws4_request", requests[0].Headers["Authorization"]);

        var g = groups[0];
        Assert.Equal(("circleci-builders", 1, 10, 2, 300), (g.Name, g.MinSize, g.MaxSize, g.DesiredCapacity, g.DefaultCooldown));
        Assert.Equal(("lt-0abc", "circleci-builders", "$Default"), (g.LaunchTemplate!.LaunchTemplateId, g.LaunchTemplate.LaunchTemplateName, g.LaunchTemplate.Version));
        Assert.Equal(["subnet-a", "subnet-b"], g.SubnetIds);
        Assert.Equal(["us-east-1a", "us-east-1b"], g.AvailabilityZones);
        Assert.True(g.IsSuspended("Launch"));
        Assert.False(g.IsSuspended("Terminate"));
        Assert.Equal("circleci_builders", g.Tags["Name"]);
        Assert.Equal(new DateTime(2026, 11, 1, 10, 0, 0, 123, DateTimeKind.Utc), g.CreatedTime);
        Assert.Equal(2, g.Instances.Count);
        var first = g.Instances[0];
        Assert.Equal(("i-01", "InService", "Healthy", "us-east-1a", "3", "circleci-builders"), (first.InstanceId, first.LifecycleState, first.HealthStatus, first.AvailabilityZone, first.LaunchTemplate!.Version, first.AutoScalingGroupName));
        Assert.Equal(("old-lc", true), (g.Instances[1].LaunchConfigurationName, g.Instances[1].ProtectedFromScaleIn));
        Assert.Null(g.Instances[1].LaunchTemplate);

        var mixed = groups[1];
        Assert.Null(mixed.LaunchTemplate);
        Assert.Equal(("lt-0mix", "$Latest"), (mixed.EffectiveLaunchTemplate!.LaunchTemplateId, mixed.EffectiveLaunchTemplate.Version));
    }

    [Fact]
    public async Task Update_capacity_terminate_and_refresh_send_the_reference_members()
    {
        using var stub = new QueryStub()
            .Answer(200, Response("UpdateAutoScalingGroup"))
            .Answer(200, Response("SetDesiredCapacity"))
            .Answer(200, Response("TerminateInstanceInAutoScalingGroup", "<Activity><ActivityId>a-1</ActivityId><AutoScalingGroupName>circleci-builders</AutoScalingGroupName><Description>Terminating EC2 instance: i-01</Description><Cause>At 2026-12-07T12:00:00Z instance i-01 was taken out of service in response to a user request.</Cause><StartTime>2026-12-07T12:00:00Z</StartTime><StatusCode>InProgress</StatusCode><Progress>0</Progress></Activity>"))
            .Answer(200, Response("StartInstanceRefresh", "<InstanceRefreshId>rf-1</InstanceRefreshId>"))
            .Answer(200, Response("DescribeInstanceRefreshes", "<InstanceRefreshes><member><InstanceRefreshId>rf-1</InstanceRefreshId><AutoScalingGroupName>circleci-builders</AutoScalingGroupName><Status>InProgress</Status><StatusReason>Waiting for instances to warm up</StatusReason><StartTime>2026-12-07T12:00:00Z</StartTime><PercentageComplete>50</PercentageComplete><InstancesToUpdate>1</InstancesToUpdate><Preferences><MinHealthyPercentage>50</MinHealthyPercentage></Preferences></member></InstanceRefreshes>"))
            .Answer(200, Response("CancelInstanceRefresh", "<InstanceRefreshId>rf-1</InstanceRefreshId>"))
            .Answer(200, Response("SuspendProcesses"));
        using var asg = new AutoScalingClient(stub.Client(QueryService.AutoScaling));
        await asg.UpdateAutoScalingGroupAsync(new AutoScalingGroupUpdate("circleci-builders") { MaxSize = 13, DesiredCapacity = 5, LaunchTemplate = new LaunchTemplateReference("lt-0abc", null, "4") }, CancellationToken.None);
        await asg.SetDesiredCapacityAsync("circleci-builders", 3, CancellationToken.None, honorCooldown: true);
        var activity = await asg.TerminateInstanceInAutoScalingGroupAsync("i-01", true, CancellationToken.None);
        var id = await asg.StartInstanceRefreshAsync("circleci-builders", new InstanceRefreshPreferences { MinHealthyPercentage = 50, InstanceWarmup = 60, SkipMatching = true }, CancellationToken.None);
        var refresh = Assert.Single(await asg.DescribeInstanceRefreshesAsync("circleci-builders", null, CancellationToken.None));
        Assert.Equal("rf-1", await asg.CancelInstanceRefreshAsync("circleci-builders", CancellationToken.None));
        await asg.SuspendProcessesAsync("circleci-builders", ["Launch", "Terminate"], CancellationToken.None);

        var r = stub.Requests.ToList();
        Assert.Equal("Action=UpdateAutoScalingGroup&Version=2011-01-01&AutoScalingGroupName=circleci-builders&MaxSize=13&DesiredCapacity=5&LaunchTemplate.LaunchTemplateId=lt-0abc&LaunchTemplate.Version=4", r[0].Body);
        Assert.Equal("Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=circleci-builders&DesiredCapacity=3&HonorCooldown=true", r[1].Body);
        Assert.Equal("Action=TerminateInstanceInAutoScalingGroup&Version=2011-01-01&InstanceId=i-01&ShouldDecrementDesiredCapacity=true", r[2].Body);
        Assert.Equal(("a-1", "InProgress", "Terminating EC2 instance: i-01"), (activity.ActivityId, activity.StatusCode, activity.Description));
        Assert.Equal("Action=StartInstanceRefresh&Version=2011-01-01&AutoScalingGroupName=circleci-builders&Strategy=Rolling&Preferences.MinHealthyPercentage=50&Preferences.InstanceWarmup=60&Preferences.SkipMatching=true", r[3].Body);
        Assert.Equal("rf-1", id);
        Assert.Equal(("InProgress", 50, 1, 50, true), (refresh.Status, refresh.PercentageComplete, refresh.InstancesToUpdate, refresh.MinHealthyPercentage, refresh.IsActive));
        Assert.Equal("Action=SuspendProcesses&Version=2011-01-01&AutoScalingGroupName=circleci-builders&ScalingProcesses.member.1=Launch&ScalingProcesses.member.2=Terminate", r[6].Body);
    }

    [Fact]
    public async Task Launch_configurations_round_trip_every_member_and_scheduled_actions_send_UTC_times()
    {
        const string lcXml =
            "<member><LaunchConfigurationName>builders-v1</LaunchConfigurationName><LaunchConfigurationARN>arn:aws:autoscaling:us-east-1:123456789012:launchConfiguration:1:launchConfigurationName/builders-v1</LaunchConfigurationARN>"
            + "<ImageId>ami-0b</ImageId><KeyName>circleci</KeyName><SecurityGroups><member>sg-1</member><member>sg-2</member></SecurityGroups><ClassicLinkVPCSecurityGroups/><UserData>U0VSVklDRVNfUFJJVkFURV9JUD0xMC4wLjEuMTA=</UserData>"
            + "<InstanceType>m5.xlarge</InstanceType><KernelId></KernelId><RamdiskId></RamdiskId><BlockDeviceMappings><member><DeviceName>/dev/sda1</DeviceName><Ebs><VolumeSize>100</VolumeSize><VolumeType>gp3</VolumeType><DeleteOnTermination>true</DeleteOnTermination></Ebs></member>"
            + "<member><DeviceName>/dev/sdb</DeviceName><VirtualName>ephemeral0</VirtualName></member></BlockDeviceMappings><InstanceMonitoring><Enabled>false</Enabled></InstanceMonitoring><IamInstanceProfile>circleci-builders</IamInstanceProfile>"
            + "<CreatedTime>2026-10-01T00:00:00Z</CreatedTime><EbsOptimized>true</EbsOptimized><AssociatePublicIpAddress>false</AssociatePublicIpAddress><MetadataOptions><HttpTokens>required</HttpTokens><HttpPutResponseHopLimit>2</HttpPutResponseHopLimit><HttpEndpoint>enabled</HttpEndpoint></MetadataOptions></member>";
        using var stub = new QueryStub()
            .Answer(200, Response("DescribeLaunchConfigurations", $"<LaunchConfigurations>{lcXml}</LaunchConfigurations>"))
            .Answer(200, Response("CreateLaunchConfiguration"))
            .Answer(200, Response("PutScheduledUpdateGroupAction"))
            .Answer(200, Response("DescribeScheduledActions", "<ScheduledUpdateGroupActions><member><AutoScalingGroupName>circleci-builders</AutoScalingGroupName><ScheduledActionName>back</ScheduledActionName><Time>2026-12-07T14:00:00Z</Time><MaxSize>10</MaxSize><DesiredCapacity>2</DesiredCapacity></member></ScheduledUpdateGroupActions>"));
        using var asg = new AutoScalingClient(stub.Client(QueryService.AutoScaling));
        var lc = Assert.Single(await asg.DescribeLaunchConfigurationsAsync(["builders-v1"], CancellationToken.None));
        Assert.Null(lc.KernelId); // AWS answers absent strings as empty elements
        Assert.Equal(["sg-1", "sg-2"], lc.SecurityGroups);
        var copy = lc.CopyAs("builders-v2", "TkVX");
        await asg.CreateLaunchConfigurationAsync(copy, CancellationToken.None);
        await asg.PutScheduledUpdateGroupActionAsync(new ScheduledAction { AutoScalingGroupName = "circleci-builders", ScheduledActionName = "back", Time = new DateTime(2026, 12, 7, 14, 0, 0, DateTimeKind.Utc), MaxSize = 10, DesiredCapacity = 2 }, CancellationToken.None);
        var scheduled = Assert.Single(await asg.DescribeScheduledActionsAsync("circleci-builders", null, CancellationToken.None));

        var r = stub.Requests.ToList();
        Assert.Equal("Action=DescribeLaunchConfigurations&Version=2011-01-01&LaunchConfigurationNames.member.1=builders-v1", r[0].Body);
        Assert.Equal(
            "Action=CreateLaunchConfiguration&Version=2011-01-01&LaunchConfigurationName=builders-v2&ImageId=ami-0b&InstanceType=m5.xlarge&KeyName=circleci&SecurityGroups.member.1=sg-1&SecurityGroups.member.2=sg-2&UserData=TkVX"
            + "&BlockDeviceMappings.member.1.DeviceName=%2Fdev%2Fsda1&BlockDeviceMappings.member.1.Ebs.VolumeSize=100&BlockDeviceMappings.member.1.Ebs.VolumeType=gp3&BlockDeviceMappings.member.1.Ebs.DeleteOnTermination=true"
            + "&BlockDeviceMappings.member.2.DeviceName=%2Fdev%2Fsdb&BlockDeviceMappings.member.2.VirtualName=ephemeral0&IamInstanceProfile=circleci-builders&EbsOptimized=true&AssociatePublicIpAddress=false"
            + "&InstanceMonitoring.Enabled=false&MetadataOptions.HttpTokens=required&MetadataOptions.HttpPutResponseHopLimit=2&MetadataOptions.HttpEndpoint=enabled",
            r[1].Body);
        Assert.Equal("U0VSVklDRVNfUFJJVkFURV9JUD0xMC4wLjEuMTA=", lc.UserData); // the original is untouched by the copy
        Assert.Equal("Action=PutScheduledUpdateGroupAction&Version=2011-01-01&AutoScalingGroupName=circleci-builders&ScheduledActionName=back&Time=2026-12-07T14%3A00%3A00.000Z&MaxSize=10&DesiredCapacity=2", r[2].Body);
        Assert.Equal((new DateTime(2026, 12, 7, 14, 0, 0, DateTimeKind.Utc), 10, 2), (scheduled.Time!.Value, scheduled.MaxSize, scheduled.DesiredCapacity));
    }

    [Fact]
    public async Task Errors_map_to_their_codes_and_only_resource_contention_is_retried()
    {
        using var stub = new QueryStub()
            .Answer(400, Error("Sender", "ValidationError", "New SetDesiredCapacity value 11 is above max value 10 for the AutoScalingGroup."))
            .Answer(500, Error("Sender", "ResourceContention", "You already have a pending update to an Auto Scaling resource (for example, a group, instance, or load balancer)."))
            .Answer(200, Response("SetDesiredCapacity"))
            .Answer(400, Error("Sender", "AlreadyExists", "Launch Configuration by this name already exists - A launch configuration already exists with the name x"))
            .Answer(400, Error("Sender", "ScalingActivityInProgress", "Scaling activity is in progress"));
        using var asg = new AutoScalingClient(stub.Client(QueryService.AutoScaling, attempts: 3));
        var e = await Assert.ThrowsAsync<CcieException>(() => asg.SetDesiredCapacityAsync("circleci-builders", 11, CancellationToken.None));
        Assert.Equal("Aws.ValidationError", e.ErrorId);
        Assert.Equal(CcieErrorCategory.InvalidArgument, e.Category);
        Assert.Contains("autoscaling:SetDesiredCapacity", e.Message);
        Assert.Contains("above max value 10", e.Message);
        Assert.Single(stub.Requests);

        await asg.SetDesiredCapacityAsync("circleci-builders", 3, CancellationToken.None); // ResourceContention, then OK
        Assert.Equal(3, stub.Requests.Count);

        var exists = await Assert.ThrowsAsync<CcieException>(() => asg.CreateLaunchConfigurationAsync(new LaunchConfiguration { LaunchConfigurationName = "x", ImageId = "ami-1", InstanceType = "m5.large" }, CancellationToken.None));
        Assert.Equal("Aws.AlreadyExists", exists.ErrorId);
        var busy = await Assert.ThrowsAsync<CcieException>(() => asg.TerminateInstanceInAutoScalingGroupAsync("i-01", false, CancellationToken.None));
        Assert.Equal("Aws.ScalingActivityInProgress", busy.ErrorId);
        Assert.Equal(HttpStatusCode.BadRequest, Assert.IsType<QueryServiceException>(busy.InnerException).StatusCode);
        Assert.Equal(5, stub.Requests.Count);
    }

    [Fact]
    public async Task Scaling_activities_stop_paging_at_the_limit()
    {
        static string Activity(int n) => $"<member><ActivityId>a-{n}</ActivityId><AutoScalingGroupName>g</AutoScalingGroupName><Description>d{n}</Description><Cause>c</Cause><StartTime>2026-12-07T12:00:00Z</StartTime><StatusCode>Successful</StatusCode></member>";
        using var stub = new QueryStub()
            .Answer(200, Response("DescribeScalingActivities", $"<Activities>{Activity(1)}{Activity(2)}</Activities><NextToken>t2</NextToken>"))
            .Answer(200, Response("DescribeScalingActivities", $"<Activities>{Activity(3)}{Activity(4)}</Activities><NextToken>t3</NextToken>"));
        using var asg = new AutoScalingClient(stub.Client(QueryService.AutoScaling));
        var activities = await asg.DescribeScalingActivitiesAsync("g", 3, CancellationToken.None);
        Assert.Equal(["a-1", "a-2", "a-3"], activities.Select(a => a.ActivityId));
        Assert.Equal(2, stub.Requests.Count);
        Assert.Equal("3", stub.Requests.First().Form["MaxRecords"]);
    }

    [Fact]
    public async Task Against_the_simulator_the_client_sees_the_same_groups_and_changes_them()
    {
        var options = new SimulatorOptions { ClockMode = ClockMode.Manual };
        options.Durations.SetAll(10);
        await using var server = await SimulatorServer.StartAsync(options);
        var seed = server.Control.SeedCircleCi("us-east-1");
        using var asg = new AutoScalingClient(new QueryClient(QueryService.AutoScaling, "us-east-1", server.Url, _ => Task.FromResult(new ImmutableCredentials("AKIDSIM", "secret", null))));

        var group = Assert.Single(await asg.DescribeAutoScalingGroupsAsync(null, CancellationToken.None));
        var info = server.Control.AutoScalingGroups("us-east-1").Single();
        Assert.Equal((info.Name, info.DesiredCapacity, info.MinSize, info.MaxSize), (group.Name, group.DesiredCapacity, group.MinSize, group.MaxSize));
        Assert.Equal(info.InstanceIds, group.Instances.Select(i => i.InstanceId).Order());
        Assert.Equal(seed.LaunchTemplateId, group.LaunchTemplate!.LaunchTemplateId);
        Assert.Equal(seed.BuilderInstanceIds.Order(), (await asg.DescribeAutoScalingInstancesAsync(null, CancellationToken.None)).Select(i => i.InstanceId).Order());
        Assert.Null(await asg.GetAutoScalingGroupAsync("nope", CancellationToken.None));

        await asg.ResumeProcessesAsync(group.Name, null, CancellationToken.None);
        await asg.UpdateAutoScalingGroupAsync(new AutoScalingGroupUpdate(group.Name) { MaxSize = 12 }, CancellationToken.None);
        await asg.SetDesiredCapacityAsync(group.Name, 4, CancellationToken.None);
        server.Control.AdvanceClock(10);
        var grown = (await asg.GetAutoScalingGroupAsync(group.Name, CancellationToken.None))!;
        Assert.Equal((12, 4), (grown.MaxSize, grown.DesiredCapacity));
        Assert.Equal(2, grown.Instances.Count(i => i.LifecycleState == "Pending"));

        var userData = Convert.ToBase64String(Encoding.UTF8.GetBytes("SERVICES_PRIVATE_IP=10.0.1.10\n"));
        var lc = new LaunchConfiguration { LaunchConfigurationName = "builders-lc", ImageId = seed.BuilderImageId, InstanceType = "m5.xlarge", KeyName = "circleci", UserData = userData, SecurityGroups = { seed.BuildersSecurityGroupId } };
        await asg.CreateLaunchConfigurationAsync(lc, CancellationToken.None);
        var exists = await Assert.ThrowsAsync<CcieException>(() => asg.CreateLaunchConfigurationAsync(lc, CancellationToken.None));
        Assert.Equal("Aws.AlreadyExists", exists.ErrorId);
        var read = Assert.Single(await asg.DescribeLaunchConfigurationsAsync(["builders-lc"], CancellationToken.None));
        Assert.Equal((userData, seed.BuildersSecurityGroupId), (read.UserData, read.SecurityGroups.Single()));

        var back = server.Control.Now.AddHours(1);
        await asg.PutScheduledUpdateGroupActionAsync(new ScheduledAction { AutoScalingGroupName = group.Name, ScheduledActionName = "back", Time = back, DesiredCapacity = 2, MaxSize = 10 }, CancellationToken.None);
        Assert.Equal(back, Assert.Single(await asg.DescribeScheduledActionsAsync(group.Name, null, CancellationToken.None)).Time);
        server.Control.AdvanceClock(3600);
        var returned = (await asg.GetAutoScalingGroupAsync(group.Name, CancellationToken.None))!;
        Assert.Equal((10, 2), (returned.MaxSize, returned.DesiredCapacity));
        var activities = await asg.DescribeScalingActivitiesAsync(group.Name, 50, CancellationToken.None);
        Assert.Contains(activities, a => a.Description == "Executing scheduled action back" && a.StatusCode == "Successful");
        Assert.Equal(2, activities.Count(a => a.Description!.StartsWith("Terminating EC2 instance: ", StringComparison.Ordinal)));

        var tooBig = await Assert.ThrowsAsync<CcieException>(() => asg.SetDesiredCapacityAsync(group.Name, 11, CancellationToken.None));
        Assert.Equal("Aws.ValidationError", tooBig.ErrorId);
    }
}
