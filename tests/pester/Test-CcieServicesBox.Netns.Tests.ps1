# Test-CcieServicesBox on the simulator, one context per verdict. The box's side runs on this machine (-Transport
# Local) in a temp root: the Replicated stand-in on PATH, /proc/loadavg and /proc/meminfo fixtures under
# CCIEDR_BOX_ROOT, and the df stand-in (tests/tools/box-standin). CPU, memory and disks come from the simulator's
# CloudWatch (AWS/EC2 and the CWAgent metrics it publishes for the box) while they are fresh, else from that box. The app's ports are the simulator's loopback
# stand-ins, which follow the stand-in's app state and the instance's health. Probing test: runs under unshare -n.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    Assert-CcieTestPrivateNetwork
    $repo = if ($env:CCIEDR_REPO_ROOT) { $env:CCIEDR_REPO_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    $sep = [IO.Path]::PathSeparator
    $script:oldPath = $env:PATH
    $env:PATH = (Join-Path $repo 'tests/tools/box-standin') + $sep + (Join-Path $repo 'tests/tools/replicated-standin') + $sep + $env:PATH

    function Set-TestBox {
        param([string] $Load = '0.20 0.15 0.10 1/300 4242', [long] $MemTotal = 32000000, [long] $MemAvailable = 20000000, [int] $DataPercent = 42, [int] $RootPercent = 31)
        $null = New-Item -ItemType Directory -Force (Join-Path $boxRoot 'proc')
        Set-Content (Join-Path $boxRoot 'proc/loadavg') $Load
        Set-Content (Join-Path $boxRoot 'proc/meminfo') "MemTotal:       $MemTotal kB`nMemFree:         1000000 kB`nMemAvailable:   $MemAvailable kB"
        $dataUsed = [long](524288000 * $DataPercent / 100); $rootUsed = [long](104857600 * $RootPercent / 100)
        Set-Content (Join-Path $boxRoot 'df') @(
            "/data /dev/nvme1n1 524288000 $dataUsed $(524288000 - $dataUsed) $DataPercent% /data"
            "/ /dev/nvme0n1p1 104857600 $rootUsed $(104857600 - $rootUsed) $RootPercent% /"
        )
    }

    # Changes the simulated box's metrics (POST /_sim/cloudwatch/box), then lets a simulated minute pass so the
    # publishers write them (and -Minutes more, e.g. for a 15-minute average or to make stopped publishers stale).
    function Set-SimBox {
        param([hashtable] $Body = @{}, [int] $Minutes = 1, [string[]] $StopPublisher = @())
        if ($Body.Count -gt 0) { $null = Invoke-CcieSimulatorControl $sim POST 'cloudwatch/box' $Body }
        foreach ($p in $StopPublisher) { $null = Invoke-CcieSimulatorControl $sim POST 'cloudwatch/publishers' @{ publisher = $p; running = $false } }
        $null = Invoke-CcieSimulatorControl $sim POST 'clock/advance' @{ seconds = 60 * $Minutes }
    }

    function Get-PortMap {
        $p = Invoke-CcieSimulatorControl $sim GET "boxes/$boxId/ports"
        $map = @{}
        foreach ($prop in $p.ports.PSObject.Properties) { $map[[int]$prop.Name] = [int]$prop.Value }
        $map
    }

    function Test-Box {
        param([hashtable] $Extra = @{})
        Test-CcieServicesBox -InstanceId $boxId -Transport Local -ProbeAddress 127.0.0.1 -ProbePortMap (Get-PortMap) -ProbeTimeoutSec 5 -CheckTimeoutSec 15 @Extra
    }
}

AfterAll { $env:PATH = $oldPath }

Describe 'Test-CcieServicesBox' -Tag 'Health', 'Simulator' {
    BeforeEach {
        $script:sim = Start-CcieTestSimulator
        $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
        $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
        $script:boxId = (Get-CcieServicesBox).InstanceId
        $script:boxRoot = Join-Path ([IO.Path]::GetTempPath()) ('ccie-box-' + [guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory $boxRoot
        $env:CCIEDR_BOX_ROOT = $boxRoot
        $env:REPLICATED_STANDIN_ROOT = Join-Path $boxRoot 'var/lib/replicated-standin'
        & replicated-standin init --major 2 --state started
        $null = Invoke-CcieSimulatorControl $sim POST "boxes/$boxId/app" @{ standinRoot = $env:REPLICATED_STANDIN_ROOT }
        Set-TestBox
    }

    AfterEach {
        Remove-Item Env:CCIEDR_BOX_ROOT, Env:REPLICATED_STANDIN_ROOT -ErrorAction SilentlyContinue
        $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
        $PSDefaultParameterValues.Remove('*-Ccie*:Region')
        if ($sim) { Stop-CcieTestSimulator $sim }
        Remove-Item -Recurse -Force $boxRoot -ErrorAction SilentlyContinue
    }

    It 'a healthy seeded box is Healthy with every check Pass' {
        $h = Test-Box
        $h.Verdict | Should -Be 'Healthy'
        $h.InstanceId | Should -Be $boxId
        ($h.Checks | ForEach-Object Name) | Should -Be @('Ec2State', 'SystemStatus', 'InstanceStatus', 'ScheduledEvents', 'Cpu', 'Memory', 'Disk:/data', 'Disk:/', 'AppState', 'Port80', 'Port443', 'Port4434', 'Port8800')
        $h.Checks | Where-Object Status -ne 'Pass' | ForEach-Object { "$($_.Name) $($_.Status) $($_.Reason)" } | Should -BeNullOrEmpty
        foreach ($n in 'Cpu', 'Memory', 'Disk:/data', 'Disk:/') { ($h.Checks | Where-Object Name -eq $n).Source | Should -Be 'cloudwatch' }
        ($h.Checks | Where-Object Name -eq 'Disk:/data').Observed | Should -Be '42 % (CloudWatch)'
        ($h.Checks | Where-Object Name -eq 'Disk:/data').SourceNote | Should -Match "^CloudWatch CWAgent disk_used_percent \[InstanceId=$boxId, path=/data\]: newest point"
        ($h.Checks | Where-Object Name -eq 'Cpu').SourceNote | Should -Match "^CloudWatch AWS/EC2 CPUUtilization \[InstanceId=$boxId\]: average of \d+ points over 15 min"
        ($h.Checks | Where-Object Name -eq 'Port443').Observed | Should -Match 'certificate not accepted'
        $h.SuggestedAction | Should -BeNullOrEmpty
        Test-Box -Extra @{ Quiet = $true } | Should -BeTrue
    }

    It 'KillInstance gives Down with the status-check reason and a restore or failover suggestion' {
        $null = Invoke-CcieSimulatorControl $sim POST 'faults/instance-death' @{ instanceId = $boxId; stopAfterSeconds = 300 }
        $h = Test-Box
        $h.Verdict | Should -Be 'Down'
        ($h.Checks | Where-Object Name -eq 'InstanceStatus').Status | Should -Be 'Fail'
        ($h.Reasons -join "`n") | Should -Match 'status check fails'
        $h.SuggestedAction | Should -Match 'Restore-CcieServicesBox'
        $h.SuggestedAction | Should -Match 'fail over'
        ($h.Checks | Where-Object Name -eq 'ScheduledEvents').Status | Should -Be 'Warn'
        Test-Box -Extra @{ Quiet = $true } | Should -BeFalse
    }

    It 'a stopped box is Down: start it, else restore or fail over; the on-box checks are Unknown with the reason' {
        $null = Invoke-CcieSimulatorControl $sim POST 'faults/instance-death' @{ instanceId = $boxId; stopAfterSeconds = 0 }
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((Get-CcieServicesBox -InstanceId $boxId).State -ne 'stopped' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        $h = Test-Box
        $h.Verdict | Should -Be 'Down'
        ($h.Checks | Where-Object Name -eq 'Ec2State').Observed | Should -Be 'stopped'
        $h.SuggestedAction | Should -Match '^Start the instance'
        $h.SuggestedAction | Should -Match 'restore from the latest recovery point'
        ($h.Checks | Where-Object Name -eq 'Cpu').Status | Should -Be 'Unknown'
        ($h.Checks | Where-Object Name -eq 'Cpu').Reason | Should -Be 'not checked: the instance is stopped'
        # Every check once, from here and from the box (the ports were listed twice with -From Box).
        foreach ($from in 'Here', 'Box') {
            $names = @((Test-CcieServicesBox -InstanceId $boxId -Transport Local -From $from -CheckTimeoutSec 15).Checks.Name)
            $names.Count | Should -Be @($names | Sort-Object -Unique).Count -Because "-From $from lists each check once: $($names -join ', ')"
            $names | Should -Contain 'Port8800'
        }
    }

    It 'impaired status checks give Down naming the failing check' {
        $null = Invoke-CcieSimulatorControl $sim POST 'faults/instance-impaired' @{ instanceId = $boxId; impaired = $true }
        $h = Test-Box
        $h.Verdict | Should -Be 'Down'
        ($h.Checks | Where-Object Name -eq 'SystemStatus').Status | Should -Be 'Fail'
        $h.Reasons[0] | Should -Match '^(System|Instance)Status: the (system|instance) status check fails'
        $h.SuggestedAction | Should -Match 'Stop and start the instance|Reboot the instance'
    }

    It 'a /data 95 % full gives Degraded naming /data and says to free or grow it' {
        Set-TestBox -DataPercent 95
        Set-SimBox @{ diskPercent = 95; path = '/data' }
        $h = Test-Box
        $h.Verdict | Should -Be 'Degraded'
        $disk = $h.Checks | Where-Object Name -eq 'Disk:/data'
        $disk.Status | Should -Be 'Fail'
        $disk.Reason | Should -Match '^/data is 95 % full'
        $disk.Source | Should -Be 'cloudwatch'
        ($h.Reasons -join "`n") | Should -Match '/data'
        $h.SuggestedAction | Should -Match '^Free or grow /data'
        ($h.Checks | Where-Object Name -ne 'Disk:/data' | Where-Object Status -ne 'Pass') | Should -BeNullOrEmpty
    }

    It 'a pinned CPU gives Degraded and suggests a larger instance type' {
        Set-TestBox -Load '1000.00 1000.00 1000.00 99/300 4242'
        Set-SimBox @{ cpuPercent = 100 } -Minutes 16
        $h = Test-Box
        $h.Verdict | Should -Be 'Degraded'
        $cpu = $h.Checks | Where-Object Name -eq 'Cpu'
        $cpu.Status | Should -Be 'Fail'
        $cpu.Source | Should -Be 'cloudwatch'
        $cpu.Observed | Should -Be '100 % (15 min average, CloudWatch)'
        $h.SuggestedAction | Should -Match 'larger instance type'
    }

    It 'stale CloudWatch data (stopped publishers): the capacity checks read the box and say why' {
        Set-SimBox -StopPublisher 'cwagent', 'ec2' -Minutes 11
        $h = Test-Box
        $h.Verdict | Should -Be 'Healthy'
        foreach ($n in 'Cpu', 'Memory', 'Disk:/data', 'Disk:/') {
            $c = $h.Checks | Where-Object Name -eq $n
            $c.Status | Should -Be 'Pass'
            $c.Source | Should -Be 'box'
            $c.SourceNote | Should -Match 'point is 1\d min old \(stale after 10 min: the publisher stopped\); read from the box over the remote shell$'
        }
        ($h.Checks | Where-Object Name -eq 'Memory').SourceNote | Should -Match '^CloudWatch''s newest CWAgent mem_used_percent'
        ($h.Checks | Where-Object Name -eq 'Disk:/data').Observed | Should -Match '^42 % of 500\.0 GiB$'

        # From the box, the CPU check takes the load average that matches -Since.
        Set-TestBox -Load '1000.00 1000.00 1000.00 99/300 4242'
        $cpu = (Test-Box).Checks | Where-Object Name -eq 'Cpu'
        $cpu.Status | Should -Be 'Fail'
        $cpu.Observed | Should -Match 'load 1000\.00 over 15 min'
        Set-TestBox -Load '1000.00 0.01 0.01 99/300 4242'
        (Test-Box -Extra @{ Since = [TimeSpan]::FromMinutes(1) }).Verdict | Should -Be 'Degraded'
        (Test-Box -Extra @{ Since = [TimeSpan]::FromMinutes(5) }).Verdict | Should -Be 'Healthy'
    }

    It 'over SSM the box reports what the CloudWatch agent publishes (a filled disk reads 95 % from either source)' {
        Set-SimBox @{ diskPercent = 95; path = '/data' }
        $fresh = Test-CcieServicesBox -InstanceId $boxId -Transport Ssm -From Box -CheckTimeoutSec 30
        ($fresh.Checks | Where-Object Name -eq 'Disk:/data').Observed | Should -Be '95 % (CloudWatch)'
        Set-SimBox -StopPublisher 'cwagent' -Minutes 11
        $h = Test-CcieServicesBox -InstanceId $boxId -Transport Ssm -From Box -CheckTimeoutSec 30
        $disk = $h.Checks | Where-Object Name -eq 'Disk:/data'
        ($disk.Status, $disk.Source) | Should -Be @('Fail', 'box')
        $disk.Observed | Should -Be '95 % of 500.0 GiB'
        $disk.SourceNote | Should -Match 'stale after 10 min'
        ($h.Checks | Where-Object Name -eq 'Memory').Observed | Should -Match '^45 % \('
        ($h.Checks | Where-Object Name -eq 'Cpu').Source | Should -Be 'cloudwatch'
        ($h.Reasons -join "`n") | Should -Match 'Disk:/data: /data is 95 % full'
    }

    It 'a killed app gives Down naming the closed ports while the EC2 checks pass' {
        & replicated-standin init --major 2 --state stopped
        $h = Test-Box
        $h.Verdict | Should -Be 'Down'
        foreach ($n in 'Ec2State', 'SystemStatus', 'InstanceStatus') { ($h.Checks | Where-Object Name -eq $n).Status | Should -Be 'Pass' }
        foreach ($p in 80, 443, 4434, 8800) { ($h.Checks | Where-Object Name -eq "Port$p").Status | Should -Be 'Fail' }
        ($h.Reasons -join "`n") | Should -Match 'ports 80, 443, 4434, 8800 closed'
        ($h.Checks | Where-Object Name -eq 'AppState').Observed | Should -Be 'stopped'
        $h.SuggestedAction | Should -Match '^Start the app: Start-CcieApp -Wait'
        $h.Why | Should -Match 'machine is fine'
    }

    It 'probes from the box with -From Box' {
        $h = Test-CcieServicesBox -InstanceId $boxId -Transport Local -From Box -ProbePortMap (Get-PortMap)
        $h.Verdict | Should -Be 'Healthy'
        ($h.Checks | Where-Object Name -eq 'Port8800').Source | Should -Be 'box'
    }

    It 'without a remote shell CPU, memory and disks come from CloudWatch; the app state is Unknown with the reason' {
        $h = Test-CcieServicesBox -InstanceId $boxId -Transport Ssh -ProbeAddress 127.0.0.1 -ProbePortMap (Get-PortMap)
        foreach ($n in 'Cpu', 'Memory', 'Disk:/data', 'Disk:/') {
            $c = $h.Checks | Where-Object Name -eq $n
            ($c.Status, $c.Source) | Should -Be @('Pass', 'cloudwatch')
        }
        ($h.Checks | Where-Object Name -eq 'Memory').Observed | Should -Be '45 % (15 min average, CloudWatch)'
        $app = $h.Checks | Where-Object Name -eq 'AppState'
        $app.Status | Should -Be 'Unknown'
        $app.Reason | Should -Match 'not connecting over SSH to the simulated box'
        $h.Verdict | Should -Be 'Healthy'
        ($h.Reasons -join "`n") | Should -Match '^not checked: AppState'

        # With stale agent data too, memory and disks cannot be checked at all: Unknown, with both reasons.
        Set-SimBox -StopPublisher 'cwagent' -Minutes 11
        $h = Test-CcieServicesBox -InstanceId $boxId -Transport Ssh -ProbeAddress 127.0.0.1 -ProbePortMap (Get-PortMap)
        $mem = $h.Checks | Where-Object Name -eq 'Memory'
        $mem.Status | Should -Be 'Unknown'
        $mem.Reason | Should -Match '^not connecting over SSH.*; and CloudWatch''s newest CWAgent mem_used_percent .* point is 1\d min old'
        ($h.Checks | Where-Object Name -eq 'Cpu').Source | Should -Be 'cloudwatch'
    }

    It 'has full help with examples' {
        $help = Get-Help Test-CcieServicesBox -Full
        @($help.Examples.Example).Count | Should -BeGreaterThan 2
        ($help.Examples.Example.code -join "`n") | Should -Match 'logs? only|Add-Content'
    }
}
