using CcieDr.Engine.Detection;
using Xunit;

namespace CcieDr.Engine.Tests.Detection
{
    /// <summary>The verdict and the suggested action from the check rows, and the box-side metrics parser.</summary>
    public sealed class ServicesBoxHealthJudgeTests
    {
        private static ServicesBoxCheck Row(string name, string status, string? reason = null, string? observed = null) =>
            new ServicesBoxCheck { Name = name, Status = status, Reason = reason, Observed = observed };

        private static List<ServicesBoxCheck> AllPass() => new[] { "Ec2State", "SystemStatus", "InstanceStatus", "ScheduledEvents", "Cpu", "Memory", "Disk:/data", "Disk:/", "AppState", "Port80", "Port443", "Port4434", "Port8800" }
            .Select(n => Row(n, "Pass")).ToList();

        private static ServicesBoxHealth Judge(List<ServicesBoxCheck> rows)
        {
            var h = new ServicesBoxHealth { Checks = rows };
            ServicesBoxHealthCheck.Judge(h, null);
            return h;
        }

        [Fact]
        public void Every_check_passing_is_healthy_with_nothing_to_do()
        {
            ServicesBoxHealth h = Judge(AllPass());
            Assert.Equal("Healthy", h.Verdict);
            Assert.Empty(h.Reasons);
            Assert.Null(h.SuggestedAction);
        }

        [Fact]
        public void Unknown_status_checks_are_not_called_healthy()
        {
            List<ServicesBoxCheck> rows = AllPass();
            rows[1] = Row("SystemStatus", "Unknown", "EC2 could not be asked: no answer within 10 s");
            rows[2] = Row("InstanceStatus", "Unknown", "EC2 could not be asked: no answer within 10 s");
            ServicesBoxHealth h = Judge(rows);
            Assert.Equal("Degraded", h.Verdict);
            Assert.Contains(h.Reasons, r => r.StartsWith("could not confirm SystemStatus, InstanceStatus", StringComparison.Ordinal));
            Assert.Contains("does not call a box healthy on a guess", h.Why);
        }

        [Fact]
        public void Unknown_capacity_checks_alone_leave_a_serving_box_healthy_and_say_so()
        {
            List<ServicesBoxCheck> rows = AllPass();
            foreach (string n in new[] { "Cpu", "Memory", "Disk:/data", "Disk:/", "AppState" })
            {
                rows[rows.FindIndex(r => r.Name == n)] = Row(n, "Unknown", "no remote shell");
            }

            ServicesBoxHealth h = Judge(rows);
            Assert.Equal("Healthy", h.Verdict);
            Assert.Equal("not checked: Cpu, Memory, Disk:/data, Disk:/, AppState (no remote shell)", Assert.Single(h.Reasons));
        }

        [Fact]
        public void A_closed_port_is_down_and_names_every_closed_port()
        {
            List<ServicesBoxCheck> rows = AllPass();
            rows[rows.FindIndex(r => r.Name == "Port443")] = Row("Port443", "Fail", "connection refused from here (10.0.1.10)");
            rows[rows.FindIndex(r => r.Name == "Port8800")] = Row("Port8800", "Fail", "connection refused from here (10.0.1.10)");
            ServicesBoxHealth h = Judge(rows);
            Assert.Equal("Down", h.Verdict);
            Assert.Contains("ports 443, 8800 closed (connection refused from here (10.0.1.10))", h.Reasons);
            Assert.StartsWith("Start the app", h.SuggestedAction);
        }

        [Fact]
        public void A_terminated_box_is_restored_or_failed_over()
        {
            List<ServicesBoxCheck> rows = AllPass();
            rows[0] = Row("Ec2State", "Fail", "the instance is terminated", "terminated");
            ServicesBoxHealth h = Judge(rows);
            Assert.Equal("Down", h.Verdict);
            Assert.Contains("Restore-CcieServicesBox", h.SuggestedAction);
            Assert.Contains("Invoke-CcieFailover", h.SuggestedAction);
            Assert.Contains("recover from backups or rely on cold failover", h.Why);
        }

        [Fact]
        public void A_scheduled_event_warns_and_suggests_a_planned_stop_start()
        {
            List<ServicesBoxCheck> rows = AllPass();
            rows[3] = Row("ScheduledEvents", "Warn", "instance-retirement: retiring", "instance-retirement not before 2026-12-24 00:00:00Z");
            ServicesBoxHealth h = Judge(rows);
            Assert.Equal("Degraded", h.Verdict);
            Assert.Contains("New-CcieSnapshot", h.SuggestedAction);
        }

        [Fact]
        public void Box_metrics_are_parsed_from_the_script_output()
        {
            BoxMetrics m = BoxMetrics.Parse(
                "ccie-nproc 8\nccie-loadavg 1.50 2.00 4.00 3/500 999\nccie-mem MemTotal:       16000000 kB\nccie-mem MemAvailable:    4000000 kB\n"
                + "ccie-disk /data /dev/nvme1n1 524288000 498073600 26214400 95% /data\nccie-disk / \n");
            Assert.Equal(8, m.Cpus);
            Assert.Equal(new[] { 1.5, 2.0, 4.0 }, m.LoadAverages);
            Assert.Equal(16000000, m.MemTotalKiB);
            Assert.Equal(4000000, m.MemAvailableKiB);
            Assert.Equal(95, m.Disks["/data"]!.UsedPercent);
            Assert.Equal("/data", m.Disks["/data"]!.MountedOn);
            Assert.Null(m.Disks["/"]);
        }
    }
}
