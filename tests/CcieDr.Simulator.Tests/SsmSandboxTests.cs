using System.Net;
using System.Net.Sockets;
using System.Text;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Amazon.SimpleSystemsManagement;
using Amazon.SimpleSystemsManagement.Model;
using Xunit;

namespace CcieDr.Simulator.Tests;

/// <summary>The SSM sandbox: commands run for real in bubblewrap, and the sandbox is a boundary (files, network).</summary>
public sealed class SsmSandboxTests : IAsyncLifetime
{
    private SimulatorServer server = null!;
    private SeedResult seed = null!;
    private AmazonSimpleSystemsManagementClient ssm = null!;

    public async Task InitializeAsync()
    {
        server = await SimulatorServer.StartAsync(new SimulatorOptions { ClockMode = ClockMode.Manual, SsmSandbox = true });
        seed = server.Control.SeedCircleCi("us-east-1");
        ssm = new AmazonSimpleSystemsManagementClient(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonSimpleSystemsManagementConfig { ServiceURL = server.Url.ToString(), AuthenticationRegion = "us-east-1" });
    }

    public async Task DisposeAsync()
    {
        ssm.Dispose();
        var root = server.Control.SsmSandboxEnabled ? Path.GetDirectoryName(Path.GetDirectoryName(server.Control.BoxRoot("us-east-1", seed.ServicesInstanceId))) : null;
        await server.DisposeAsync();
        if (root is not null)
        {
            Assert.False(Directory.Exists(root), "the sandbox directory is removed at shutdown");
        }
    }

    private async Task<string> SendAsync(string script, int executionTimeout = 60, string? instanceId = null)
    {
        var sent = await ssm.SendCommandAsync(new SendCommandRequest
        {
            DocumentName = "AWS-RunShellScript",
            InstanceIds = [instanceId ?? seed.ServicesInstanceId],
            Parameters = new Dictionary<string, List<string>> { ["commands"] = [script], ["executionTimeout"] = [executionTimeout.ToString(System.Globalization.CultureInfo.InvariantCulture)] },
        });
        return sent.Command.CommandId;
    }

    private async Task<GetCommandInvocationResponse> WaitAsync(string commandId, string? instanceId = null)
    {
        for (var i = 0; ; i++)
        {
            var r = await ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = commandId, InstanceId = instanceId ?? seed.ServicesInstanceId });
            if (r.Status.Value is not ("Pending" or "InProgress"))
            {
                return r;
            }

            Assert.True(i < 600, "the command did not end within 60 s");
            await Task.Delay(100);
        }
    }

    private async Task<GetCommandInvocationResponse> RunAsync(string script, int executionTimeout = 60) => await WaitAsync(await SendAsync(script, executionTimeout));

    private static bool ProcessWithMarkerExists(string marker)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                if (int.TryParse(Path.GetFileName(dir), out _) && File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(marker, StringComparison.Ordinal))
                {
                    return true;
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return false;
    }

    [Fact]
    public async Task A_command_runs_for_real_as_root_in_the_box_with_its_files_and_the_stand_in()
    {
        var r = await RunAsync("id -u; cat /etc/default/replicated /etc/default/replicated-operator; replicatedctl app status; ls -d /data; echo err >&2");

        Assert.Equal("Success", r.Status.Value);
        Assert.Equal(0, r.ResponseCode);
        var lines = r.StandardOutputContent.Split('\n');
        Assert.Equal("0", lines[0]);
        Assert.Contains($"PRIVATE_ADDRESS={seed.ServicesPrivateIp}", r.StandardOutputContent, StringComparison.Ordinal);
        Assert.Contains($"DAEMON_ENDPOINT={seed.ServicesPrivateIp}:9879", r.StandardOutputContent, StringComparison.Ordinal);
        Assert.Contains($"DAEMON_HOST={seed.ServicesPrivateIp}", r.StandardOutputContent, StringComparison.Ordinal);
        Assert.Contains("REPLICATED_OPERATOR_OPTS=", r.StandardOutputContent, StringComparison.Ordinal);
        Assert.Contains("\"State\": \"started\"", r.StandardOutputContent, StringComparison.Ordinal);
        Assert.Contains("/data", r.StandardOutputContent, StringComparison.Ordinal);
        Assert.Equal("err\n", r.StandardErrorContent);
    }

    [Fact]
    public async Task The_box_reports_the_same_CPU_memory_and_disks_as_the_CloudWatch_agent_publishes()
    {
        double Latest(string name, string? path = null) => server.Control.CloudWatchSeries("us-east-1")
            .Single(s => s.MetricName == name && s.Dimensions["InstanceId"] == seed.ServicesInstanceId && (path is null ? !s.Dimensions.ContainsKey("path") : s.Dimensions.GetValueOrDefault("path") == path)).LatestValue!.Value;

        const string Script = "cat /proc/loadavg; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo; df -P -k /data | tail -n 1; df -P -k / | tail -n 1";
        server.Control.AdvanceClock(60);
        var seeded = (await RunAsync(Script)).StandardOutputContent.Split('\n');
        Assert.Equal(22.5, Latest("CPUUtilization"));
        Assert.StartsWith("0.90 0.90 0.90 ", seeded[0], StringComparison.Ordinal); // 22.5 % of 4 CPUs
        Assert.Equal(45, Latest("mem_used_percent"));
        Assert.Matches(@"^MemTotal:\s+33554432 kB$", seeded[1]);
        Assert.Matches(@"^MemAvailable:\s+18454937 kB$", seeded[2]); // 55 % available
        Assert.Equal(42, Latest("disk_used_percent", "/data"));
        Assert.Matches(@"^/dev/\S+ 524288000 220200960 304087040 42% /data$", seeded[3]); // the seeded 500 GiB data volume
        Assert.Equal(31, Latest("disk_used_percent", "/"));
        Assert.EndsWith(" 31% /", seeded[4], StringComparison.Ordinal);

        server.Control.FillDisk("us-east-1", 95);
        server.Control.PinCpu("us-east-1", 100);
        server.Control.AdvanceClock(60);
        var full = (await RunAsync(Script)).StandardOutputContent.Split('\n');
        Assert.Equal(95, Latest("disk_used_percent", "/data"));
        Assert.EndsWith(" 95% /data", full[3], StringComparison.Ordinal);
        Assert.Equal(100, Latest("CPUUtilization"));
        Assert.StartsWith("4.00 4.00 4.00 ", full[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_stand_in_token_is_the_launch_template_passphrase()
    {
        var r = await RunAsync("replicated admin get-secret-token");

        var userData = Encoding.UTF8.GetString(Convert.FromBase64String(seed.BuilderUserData));
        var passphrase = userData.Split('\n').Single(l => l.StartsWith("CIRCLE_SECRET_PASSPHRASE=", StringComparison.Ordinal))["CIRCLE_SECRET_PASSPHRASE=".Length..];
        Assert.Equal($"export CIRCLE_SECRET_PASSPHRASE='{passphrase}'\n", r.StandardOutputContent);
    }

    [Fact]
    public async Task A_failing_command_is_Failed_with_its_exit_code()
    {
        var r = await RunAsync("echo nope >&2; exit 7");

        Assert.Equal("Failed", r.Status.Value);
        Assert.Equal(7, r.ResponseCode);
        Assert.Equal("nope\n", r.StandardErrorContent);
    }

    [Fact]
    public async Task Output_is_cut_at_24000_characters_inline()
    {
        var r = await RunAsync("head -c 30000 /dev/zero | tr '\\0' x");

        Assert.Equal("Success", r.Status.Value);
        Assert.Equal(24000, r.StandardOutputContent.Length);
    }

    [Fact]
    public async Task A_command_cannot_read_a_file_of_this_machine_outside_the_sandbox()
    {
        var secret = Path.Combine(Path.GetTempPath(), "ccie-host-secret-" + Guid.NewGuid().ToString("n"));
        await File.WriteAllTextAsync(secret, "host-only-content");
        try
        {
            var r = await RunAsync($"cat '{secret}'; cat /etc/shadow; ls /home /srv /work 2>&1; cat /proc/1/root{secret}");

            Assert.Equal("Failed", r.Status.Value);
            Assert.DoesNotContain("host-only-content", r.StandardOutputContent, StringComparison.Ordinal);
            Assert.Contains("No such file", r.StandardErrorContent, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(secret);
        }
    }

    [Fact]
    public async Task A_command_cannot_write_outside_the_sandbox()
    {
        var name = "ccie-escape-" + Guid.NewGuid().ToString("n");
        var r = await RunAsync($"echo x > /tmp/{name}; touch /usr/{name} || echo usr-refused; echo x > /{name}");

        Assert.Contains("usr-refused", r.StandardOutputContent, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine("/tmp", name)), "the host's /tmp is untouched");
        Assert.False(File.Exists(Path.Combine("/usr", name)), "the host's /usr is untouched");
        Assert.False(File.Exists(Path.Combine("/", name)), "the host's / is untouched");
        var box = server.Control.BoxRoot("us-east-1", seed.ServicesInstanceId);
        Assert.True(File.Exists(Path.Combine(box, "tmp", name)), "the write landed in the box");
        Assert.True(File.Exists(Path.Combine(box, name)), "the write landed in the box");
    }

    [Fact]
    public async Task A_command_cannot_reach_this_machines_network()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var r = await RunAsync($"bash -c 'echo > /dev/tcp/127.0.0.1/{port}' && echo connected");

        Assert.Equal("Failed", r.Status.Value);
        Assert.DoesNotContain("connected", r.StandardOutputContent, StringComparison.Ordinal);
        Assert.Contains("refused", r.StandardErrorContent, StringComparison.OrdinalIgnoreCase);
        Assert.False(listener.Pending(), "nothing connected to the host's listener");
    }

    [Fact]
    public async Task Execution_timeout_kills_the_whole_sandbox()
    {
        var marker = "ccie-timeout-" + Guid.NewGuid().ToString("n");
        var id = await SendAsync($"sleep 600 & sleep 600; : {marker}", executionTimeout: 1);

        var r = await WaitAsync(id);

        Assert.Equal("TimedOut", r.Status.Value);
        Assert.Equal("ExecutionTimedOut", r.StatusDetails);
        for (var i = 0; i < 50 && ProcessWithMarkerExists(marker); i++)
        {
            await Task.Delay(100);
        }

        Assert.False(ProcessWithMarkerExists(marker), "no process of the command is left");
    }

    [Fact]
    public async Task CancelCommand_kills_the_command()
    {
        var marker = "ccie-cancel-" + Guid.NewGuid().ToString("n");
        var id = await SendAsync($"sleep 600; : {marker}");
        for (var i = 0; i < 100 && !ProcessWithMarkerExists(marker); i++)
        {
            await Task.Delay(50);
        }

        Assert.True(ProcessWithMarkerExists(marker), "the command runs");

        await ssm.CancelCommandAsync(new CancelCommandRequest { CommandId = id });
        var r = await WaitAsync(id);

        Assert.Equal("Cancelled", r.Status.Value);
        for (var i = 0; i < 50 && ProcessWithMarkerExists(marker); i++)
        {
            await Task.Delay(100);
        }

        Assert.False(ProcessWithMarkerExists(marker), "the command was killed");
    }

    [Fact]
    public async Task An_offline_agent_gets_nothing_delivered()
    {
        server.Control.SetInstanceImpaired("us-east-1", seed.ServicesInstanceId, true);
        var id = await SendAsync("touch /delivered");
        await Task.Delay(300);

        var r = await ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = id, InstanceId = seed.ServicesInstanceId });

        Assert.Equal("Pending", r.Status.Value);
        server.Control.SetInstanceImpaired("us-east-1", seed.ServicesInstanceId, false);
        Assert.False(File.Exists(Path.Combine(server.Control.BoxRoot("us-east-1", seed.ServicesInstanceId), "delivered")));
    }

    [Fact]
    public async Task The_stand_in_follows_the_simulated_clock()
    {
        Assert.Equal(0, (await RunAsync("replicatedctl app stop")).ResponseCode);
        Assert.Contains("\"State\": \"stopping\"", (await RunAsync("replicatedctl app status")).StandardOutputContent, StringComparison.Ordinal);
        server.Control.AdvanceClock(2);
        Assert.Contains("\"State\": \"stopped\"", (await RunAsync("replicatedctl app status")).StandardOutputContent, StringComparison.Ordinal);

        server.Control.RunStandin("us-east-1", seed.ServicesInstanceId, "fail-start", "off");
        Assert.Equal(0, (await RunAsync("replicatedctl app start")).ResponseCode);
        Assert.Contains("\"State\": \"starting\"", (await RunAsync("replicatedctl app status")).StandardOutputContent, StringComparison.Ordinal);
        server.Control.AdvanceClock(3);
        Assert.Contains("\"State\": \"started\"", (await RunAsync("replicatedctl app status")).StandardOutputContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_started_app_serves_its_ports_on_the_boxs_loopback_and_a_stopped_one_does_not()
    {
        const string probe = "for p in 80 443 4434 8800 22; do if bash -c 'exec 3<>\"/dev/tcp/127.0.0.1/$0\"' $p 2>/dev/null; then echo \"$p open\"; else echo \"$p closed\"; fi; done; "
            + "openssl s_client -connect 127.0.0.1:443 </dev/null 2>/dev/null | sed -n 's/^subject=//p' | head -n 1";
        var started = (await RunAsync(probe)).StandardOutputContent;
        foreach (var port in new[] { 80, 443, 4434, 8800 })
        {
            Assert.Contains($"{port} open", started, StringComparison.Ordinal);
        }

        Assert.Contains("22 closed", started, StringComparison.Ordinal);
        Assert.Contains("circleci-services.standin", started, StringComparison.Ordinal);

        Assert.Equal(0, (await RunAsync("replicatedctl app stop")).ResponseCode);
        server.Control.AdvanceClock(5);
        var stopped = (await RunAsync(probe)).StandardOutputContent;
        Assert.Contains("80 closed", stopped, StringComparison.Ordinal);
        Assert.Contains("8800 closed", stopped, StringComparison.Ordinal);

        // The restart Recovery/App runs after an address fix-up reaches the stand-in's systemctl.
        Assert.Equal(0, (await RunAsync("systemctl cat replicated.service >/dev/null && systemctl restart replicated replicated-operator")).ResponseCode);
        Assert.Contains("replicated-operator", server.Control.ReadBoxFile("us-east-1", seed.ServicesInstanceId, "/var/lib/replicated-standin/restarts"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Control_reads_and_writes_box_files_and_drives_the_stand_in()
    {
        server.Control.WriteBoxFile("us-east-1", seed.ServicesInstanceId, "/etc/default/replicated", "PRIVATE_ADDRESS=10.0.1.99\n");
        Assert.Equal("PRIVATE_ADDRESS=10.0.1.99\n", server.Control.ReadBoxFile("us-east-1", seed.ServicesInstanceId, "/etc/default/replicated"));
        Assert.Contains("10.0.1.99", (await RunAsync("cat /etc/default/replicated")).StandardOutputContent, StringComparison.Ordinal);

        // A link in the box never leads the control API out of it: it is read inside the sandbox.
        await RunAsync("ln -s /etc/hostname-of-host /data/link; ln -sf /etc/shadow /data/shadow");
        Assert.Throws<KeyNotFoundException>(() => server.Control.ReadBoxFile("us-east-1", seed.ServicesInstanceId, "/data/shadow"));

        var fail = server.Control.RunStandin("us-east-1", seed.ServicesInstanceId, "fail-start", "on");
        Assert.Equal(0, fail.ExitCode);
        await RunAsync("replicatedctl app stop");
        server.Control.AdvanceClock(2);
        await RunAsync("replicatedctl app start");
        server.Control.AdvanceClock(4);
        var status = (await RunAsync("replicatedctl app status")).StandardOutputContent;
        Assert.Contains("\"State\": \"stopped\"", status, StringComparison.Ordinal);
        Assert.Contains("failed to start", status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Control_api_routes_serve_the_box()
    {
        using var http = new HttpClient { BaseAddress = server.Url };
        var put = await http.PutAsync($"_sim/boxes/{seed.ServicesInstanceId}/file", new StringContent("{\"path\":\"/data/note\",\"content\":\"hello\"}"));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var get = await http.GetStringAsync($"_sim/boxes/{seed.ServicesInstanceId}/file?path=/data/note");
        Assert.Contains("\"content\": \"hello\"", get, StringComparison.Ordinal);
        var standin = await http.PostAsync($"_sim/boxes/{seed.ServicesInstanceId}/standin", new StringContent("{\"args\":[\"show\"]}"));
        var body = await standin.Content.ReadAsStringAsync();
        Assert.Contains("state=started", body, StringComparison.Ordinal);
        var box = await http.GetStringAsync($"_sim/boxes/{seed.ServicesInstanceId}");
        Assert.Contains(seed.ServicesPrivateIp, box, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_instance_restored_from_a_snapshot_of_the_box_gets_a_copy_of_its_disk_with_the_old_address()
    {
        using var ec2 = new AmazonEC2Client(new BasicAWSCredentials("AKIDSIM", "secret"), new AmazonEC2Config { ServiceURL = server.Url.ToString(), AuthenticationRegion = "us-east-1" });
        await RunAsync("echo restored-content > /data/marker");
        var snap = await ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = seed.ServicesRootVolumeId });
        server.Control.AdvanceClock(30);
        var image = await ec2.RegisterImageAsync(new RegisterImageRequest
        {
            Name = "restore-test",
            RootDeviceName = "/dev/sda1",
            Architecture = ArchitectureValues.X86_64,
            VirtualizationType = "hvm",
            BlockDeviceMappings = [new BlockDeviceMapping { DeviceName = "/dev/sda1", Ebs = new EbsBlockDevice { SnapshotId = snap.Snapshot.SnapshotId } }],
        });
        server.Control.AdvanceClock(30);
        var run = await ec2.RunInstancesAsync(new RunInstancesRequest
        {
            ImageId = image.ImageId,
            MinCount = 1,
            MaxCount = 1,
            InstanceType = InstanceType.M5Xlarge,
            SubnetId = seed.SubnetAId,
            PrivateIpAddress = "10.0.1.50",
            IamInstanceProfile = new IamInstanceProfileSpecification { Arn = seed.ServicesIamInstanceProfileArn },
        });
        var restored = run.Reservation.Instances[0].InstanceId;
        server.Control.AdvanceClock(30);

        var r = await WaitAsync(await SendAsync("cat /etc/default/replicated /data/marker", instanceId: restored), restored);

        Assert.Equal("Success", r.Status.Value);
        Assert.Contains($"PRIVATE_ADDRESS={seed.ServicesPrivateIp}", r.StandardOutputContent, StringComparison.Ordinal);   // the OLD address: a fix-up is due
        Assert.Contains("restored-content", r.StandardOutputContent, StringComparison.Ordinal);
        Assert.NotEqual(server.Control.BoxRoot("us-east-1", seed.ServicesInstanceId), server.Control.BoxRoot("us-east-1", restored));
    }
}
