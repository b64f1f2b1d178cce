# Invoke-CcieFailover end to end on the simulator EXE (issue 16's acceptance): the real engines behind the hooks.
# The boxes' side runs in the simulator's SSM sandboxes (bubblewrap; the Replicated stand-in inside, SSM the default
# transport); the app's ports are the simulator's loopback stand-ins, which follow each box's stand-in state and the
# instance's health. A sampler reads the simulator's state all along the run for the split-brain property: never two
# instances both running the app and holding a builders' IP. Probing test: runs under unshare -n (*.Netns.Tests.ps1).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    Assert-CcieTestPrivateNetwork

    # A fresh seeded simulator; every box's app-port stand-ins follow the stand-in Replicated in its own sandbox.
    function Start-Bed {
        $script:sim = Start-CcieTestSimulator -TransitionSeconds 0.3
        $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
        $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
        $script:box = Get-CcieServicesBox
        # The primary's sandbox exists before its image is made, so a replica launched from it gets a copy (as a
        # disk made from the image would: the primary's IP in /etc/default/replicated*).
        $root = (Invoke-CcieSimulatorControl $sim GET "boxes/$($box.InstanceId)").root
        $null = Invoke-CcieSimulatorControl $sim POST 'boxes/app' @{ standinRoot = $root.Replace($box.InstanceId, '{instanceId}') + '/var/lib/replicated-standin' }
        $script:token = (Invoke-CcieSimulatorControl $sim GET "boxes/$($box.InstanceId)/file?path=/var/lib/replicated-standin/secret-token").content.Trim()
        $token | Should -Not -BeNullOrEmpty
    }

    function Stop-Bed {
        $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
        $PSDefaultParameterValues.Remove('*-Ccie*:Region')
        if ($script:sim) { Stop-CcieTestSimulator $script:sim; $script:sim = $null }
    }

    # A cold replica: launched stopped from the image, its app stopped (same secret token as the primary's image).
    function New-ColdReplica([string] $SubnetId) {
        $null = $box | New-CcieServicesBoxImage -NoReboot -Confirm:$false -WarningAction SilentlyContinue
        $r = if ($SubnetId) { New-CcieReplica -InstanceId $box.InstanceId -SubnetId $SubnetId -Confirm:$false } else { New-CcieReplica -InstanceId $box.InstanceId -Confirm:$false }
        $init = Invoke-CcieSimulatorControl $sim POST "boxes/$($r.InstanceId)/standin" @{ args = @('init', '--major', '2', '--state', 'stopped', '--start-seconds', '1', '--token', $token) }
        $init.exitCode | Should -Be 0 -Because $init.stderr
        $r
    }

    function Get-PortMap([string] $InstanceId) {
        $p = Invoke-CcieSimulatorControl $sim GET "boxes/$InstanceId/ports"
        $map = @{}
        foreach ($prop in $p.ports.PSObject.Properties) { $map[[int]$prop.Name] = [int]$prop.Value }
        $map
    }

    function Get-BoxFile([string] $InstanceId, [string] $Path) { (Invoke-CcieSimulatorControl $sim GET "boxes/$InstanceId/file?path=$Path").content }

    # The split-brain sampler: a thread that reads the simulator's state (instances, interfaces) and each box's app state
    # (the simulator's own reading of its stand-in) until stopped, one sample every ~50 ms.
    function Start-Sampler([string[]] $InstanceIds) {
        $stop = Join-Path ([IO.Path]::GetTempPath()) ('ccie-sampler-' + [guid]::NewGuid().ToString('n'))
        $job = Start-ThreadJob -ArgumentList $sim.Url, $InstanceIds, $stop -ScriptBlock {
            param($url, $ids, $stop)
            while (-not (Test-Path $stop)) {
                try {
                    $r = (Invoke-RestMethod "$url/_sim/state").regions.'us-east-1'
                    $apps = @{}; $states = @{}; $addresses = @{}
                    foreach ($id in $ids) { $apps[$id] = (Invoke-RestMethod "$url/_sim/boxes/$id/ports").appState; $addresses[$id] = @() }
                    foreach ($i in $r.instances) { if ($ids -contains $i.id) { $states[$i.id] = $i.state } }
                    foreach ($n in $r.networkInterfaces) { if ($ids -contains $n.instanceId) { $addresses[$n.instanceId] += @($n.privateIps | ForEach-Object address) } }
                    [pscustomobject]@{ At = [DateTime]::UtcNow; States = $states; Addresses = $addresses; Apps = $apps }
                }
                catch { }
                Start-Sleep -Milliseconds 50
            }
        }
        [pscustomobject]@{ Job = $job; Stop = $stop }
    }

    function Stop-Sampler($Sampler) {
        Set-Content -LiteralPath $Sampler.Stop -Value 'stop'
        $samples = @($Sampler.Job | Wait-Job | Receive-Job)
        Remove-Job $Sampler.Job
        Remove-Item -LiteralPath $Sampler.Stop -ErrorAction SilentlyContinue
        $samples
    }

    # Every sample in which two instances both run the app (live instance, app started) and hold one of the builders' IPs.
    function Get-SplitBrain([object[]] $Samples, [string[]] $BuildersIps) {
        foreach ($s in $Samples) {
            foreach ($ip in $BuildersIps) {
                $serving = @($s.States.Keys | Where-Object { $s.States[$_] -in 'pending', 'running', 'stopping' -and $s.Apps[$_] -eq 'started' -and @($s.Addresses[$_]) -contains $ip })
                if ($serving.Count -gt 1) { "$($s.At.ToString('o')): $($serving -join ', ') run the app and hold $ip" }
            }
        }
    }

    function Get-Launch([string] $Action) { @(Invoke-CcieSimulatorControl $sim GET "requests?action=$Action" | ForEach-Object { $_ }) }

    # The builders' SERVICES_PRIVATE_IP: the user data of the launch template version the group uses.
    function Get-BuildersIp {
        $group = (Invoke-CcieSimulatorControl $sim GET 'autoscaling?region=us-east-1') | ForEach-Object { $_ } | Where-Object name -eq 'circleci-builders'
        $version = if ($group.launchTemplateVersion) { $group.launchTemplateVersion } else { '$Default' }
        $lt = Invoke-CcieSimulatorEc2 $sim DescribeLaunchTemplateVersions @{ 'LaunchTemplateName' = 'circleci-builders'; 'Versions.1' = $version }
        $items = @($lt.SelectNodes("//*[local-name()='launchTemplateVersionSet']/*[local-name()='item']"))
        $item = if ($version -match '^\d+$') { $items | Where-Object { $_.SelectSingleNode("*[local-name()='versionNumber']").InnerText -eq $version } | Select-Object -First 1 } else { $items | Select-Object -First 1 }
        $node = $item.SelectSingleNode("*[local-name()='launchTemplateData']/*[local-name()='userData']")
        $node | Should -Not -BeNullOrEmpty -Because "launch template version $version has user data"
        $userData = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($node.InnerText.Trim()))
        [pscustomobject]@{ Version = $version; Ip = ([regex]::Match($userData, '(?m)^SERVICES_PRIVATE_IP=(\S+)')).Groups[1].Value }
    }
}

Describe 'Invoke-CcieFailover acceptance' -Tag 'Failover', 'Simulator' {
    AfterEach { Stop-Bed }

    It 'mode 1: a killed primary is fenced before the floating IP moves; the replica serves, found by the Name tag, Healthy' {
        Start-Bed
        $null = $box | Add-CcieFloatingIp -PrivateIpAddress 10.0.1.200 -Confirm:$false
        $replica = New-ColdReplica -SubnetId $box.SubnetId
        $replica.Mode | Should -Be 'FloatingIp'
        $map = Get-PortMap $replica.InstanceId
        $null = Invoke-CcieSimulatorControl $sim POST faults/instance-death @{ instanceId = $box.InstanceId; stopAfterSeconds = 300 }
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
        $sampler = Start-Sampler @($box.InstanceId, $replica.InstanceId)

        $r = Invoke-CcieFailover -ProbeAddress 127.0.0.1 -ProbePortMap $map -Confirm:$false
        $samples = Stop-Sampler $sampler

        $r.Status | Should -Be 'Succeeded'
        $r.Mode | Should -Be 'FloatingIp'
        $r.InstanceId | Should -Be $replica.InstanceId
        $r.PrivateIpAddress | Should -Be '10.0.1.200'
        $r.Fencing | Should -BeLike 'force-stopped*'
        $r.Rto | Should -BeGreaterThan ([TimeSpan]::Zero)
        # The floating IP is on the replica, gone from the primary; the primary is stopped.
        $state = (Invoke-CcieSimulatorControl $sim GET state).regions.'us-east-1'
        @($state.networkInterfaces | Where-Object { @($_.privateIps | ForEach-Object address) -contains '10.0.1.200' }).instanceId | Should -Be @($replica.InstanceId)
        ($state.instances | Where-Object id -eq $box.InstanceId).state | Should -Be 'stopped'
        # The app serves on the new box, which the Name tag finds now.
        $new = Get-CcieServicesBox
        $new.InstanceId | Should -Be $replica.InstanceId
        (Get-CcieApp -InstanceId $replica.InstanceId).State | Should -Be 'started'
        # CPU: the sandbox's /proc/loadavg is this test machine's (its load is not the simulated box's), so its threshold is lifted.
        $h = Test-CcieServicesBox -ProbeAddress 127.0.0.1 -ProbePortMap $map -CpuThreshold 1000 -CheckTimeoutSec 15
        $h.InstanceId | Should -Be $replica.InstanceId
        $h.Verdict | Should -Be 'Healthy' -Because ($h.Reasons -join '; ')
        # The failover's own verdict: Healthy, or Degraded only by the host's CPU load as the sandbox reads it (it serves).
        $r.Health | Should -Match '^Healthy'
        # Fence before move before start, in the timeline and in the simulator's request log.
        $actions = @($r.Timeline | ForEach-Object Action)
        $actions.IndexOf('wait:primary-stopped') | Should -BeGreaterOrEqual 0
        $actions.IndexOf('wait:primary-stopped') | Should -BeLessThan $actions.IndexOf('ec2:AssignPrivateIpAddresses')
        $actions.IndexOf('ec2:AssignPrivateIpAddresses') | Should -BeLessThan $actions.IndexOf('app:start')
        foreach ($a in 'WaitRemoteChannel', 'FixReplicatedAddresses', 'StartApp', 'WaitAppStarted', 'WaitAppPorts', 'verify:health') { $actions | Should -Contain $a }
        $stop = Get-Launch StopInstances | Where-Object status -eq 200
        $move = Get-Launch AssignPrivateIpAddresses | Where-Object status -eq 200
        @($stop).Count | Should -Be 1
        [DateTime]$stop[0].time | Should -BeLessThan ([DateTime]$move[0].time)
        # Split brain, from the sampled simulator state: the replica never held the floating IP while the primary lived.
        $samples.Count | Should -BeGreaterThan 10
        @($samples | Where-Object { @($_.Addresses[$replica.InstanceId]) -contains '10.0.1.200' }).Count | Should -BeGreaterThan 0 -Because 'the sampler saw the move'
        @($samples | Where-Object { $_.Apps[$replica.InstanceId] -eq 'started' }).Count | Should -BeGreaterThan 0 -Because 'the sampler saw the app start'
        Get-SplitBrain $samples @('10.0.1.200', $box.PrivateIpAddress) | Should -BeNullOrEmpty
        @($samples | Where-Object { @($_.Addresses[$replica.InstanceId]) -contains '10.0.1.200' -and $_.States[$box.InstanceId] -ne 'stopped' }) | Should -BeNullOrEmpty
    }

    It 'mode 3: an AZ outage is refused without -AssumePrimaryDead; with it the replica in the other AZ serves on its own IP, fixed up, builders pointed at it' {
        Start-Bed
        $replica = New-ColdReplica
        $replica.Mode | Should -Be 'NewIp'
        $replica.AvailabilityZone | Should -Not -Be $box.AvailabilityZone
        $newIp = $replica.PrivateIpAddress
        $map = Get-PortMap $replica.InstanceId
        $before = Get-BuildersIp
        $before.Ip | Should -Be $box.PrivateIpAddress
        $null = Invoke-CcieSimulatorControl $sim POST faults/az-outage @{ zone = $box.AvailabilityZone; mode = 'ApiErrors' }
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
        $sampler = Start-Sampler @($box.InstanceId, $replica.InstanceId)

        Invoke-CcieFailover -ProbeAddress 127.0.0.1 -ProbePortMap $map -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable refused | Should -BeNullOrEmpty
        $refused[0].FullyQualifiedErrorId | Should -Match '^PrimaryNotFenced'
        "$($refused[0])" | Should -Match 'split brain'
        "$($refused[0])" | Should -Match '-AssumePrimaryDead'
        @(Get-Launch StartInstances).Count | Should -Be 0
        (Get-CcieReplica -ReplicaId $replica.InstanceId).State | Should -Be 'stopped'
        # The replica is a copy of the primary's disk: its Replicated files still name the primary's IP.
        Get-BoxFile $replica.InstanceId /etc/default/replicated | Should -Match "(?m)^PRIVATE_ADDRESS=$([regex]::Escape($box.PrivateIpAddress))$"

        $r = Invoke-CcieFailover -AssumePrimaryDead -ProbeAddress 127.0.0.1 -ProbePortMap $map -Confirm:$false -WarningVariable warned -WarningAction SilentlyContinue
        $samples = Stop-Sampler $sampler

        $r.Mode | Should -Be 'NewIp'
        $r.AssumedPrimaryDead | Should -BeTrue
        $r.PrivateIpAddress | Should -Be $newIp
        # The failover's own verdict: Healthy, or Degraded only by the host's CPU load as the sandbox reads it (it serves).
        $r.Health | Should -Match '^Healthy'
        ($r.Timeline | Where-Object Action -eq 'fence:assumed-dead').Outcome | Should -Be 'AssumedDead'
        # /etc/default/replicated* in the replica's sandbox carry its own IP now (backups of the old files beside them).
        $daemon = Get-BoxFile $replica.InstanceId /etc/default/replicated
        $operator = Get-BoxFile $replica.InstanceId /etc/default/replicated-operator
        $daemon | Should -Match "(?m)^PRIVATE_ADDRESS=$([regex]::Escape($newIp))$"
        $operator | Should -Match "(?m)^DAEMON_ENDPOINT=\[?$([regex]::Escape($newIp))\]?:9879$"
        $operator | Should -Match "(?m)^PRIVATE_ADDRESS=$([regex]::Escape($newIp))$"
        "$daemon$operator" | Should -Not -Match ([regex]::Escape($box.PrivateIpAddress) + '\b')
        # The builders' launch template version in use names the new IP; rotating the running builders is left to the operator.
        $after = Get-BuildersIp
        $after.Ip | Should -Be $newIp -Because "version $($after.Version); $(($r.Timeline | Where-Object Action -like 'builders*' | ForEach-Object { "$($_.Action) $($_.Outcome) $($_.Detail)" }) -join '; ')"
        $after.Version | Should -Not -Be $before.Version
        $r.StepsLeft | Should -Match '^Restart-CcieBuilder .*-Stale'
        $r.Status | Should -Be 'Incomplete'
        # The new box serves on its own IP and carries the Name tag.
        (Get-CcieServicesBox).InstanceId | Should -Be $replica.InstanceId
        (Get-CcieApp -InstanceId $replica.InstanceId).State | Should -Be 'started'
        $h = Test-CcieServicesBox -ProbeAddress 127.0.0.1 -ProbePortMap $map -CpuThreshold 1000 -CheckTimeoutSec 15
        $h.Verdict | Should -Be 'Healthy' -Because ($h.Reasons -join '; ')
        # Split brain: the frozen primary still "runs" its app on the old IP; no instance with the app ever shared a builders' IP.
        $samples.Count | Should -BeGreaterThan 10
        @($samples | Where-Object { $_.Apps[$replica.InstanceId] -eq 'started' }).Count | Should -BeGreaterThan 0
        Get-SplitBrain $samples @($box.PrivateIpAddress, $newIp) | Should -BeNullOrEmpty
    }

    It 'mode 3 with -NoBuilderConfiguration returns the builders'' command naming the new IP and leaves the launch template alone' {
        Start-Bed
        $replica = New-ColdReplica
        $map = Get-PortMap $replica.InstanceId
        $before = Get-BuildersIp
        $null = Invoke-CcieSimulatorControl $sim POST faults/instance-death @{ instanceId = $box.InstanceId; stopAfterSeconds = 300 }
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
        $r = Invoke-CcieFailover -NoBuilderConfiguration -ProbeAddress 127.0.0.1 -ProbePortMap $map -Confirm:$false -WarningAction SilentlyContinue
        $r.Status | Should -Be 'Incomplete'
        $r.StepsLeft | Should -Contain "Set-CcieBuilderConfiguration -ServicesPrivateIp $($replica.PrivateIpAddress) -Force; Restart-CcieBuilder -Stale -Force"
        (Get-BuildersIp).Version | Should -Be $before.Version
        @(Get-Launch CreateLaunchTemplateVersion).Count | Should -Be 0
        Get-BoxFile $replica.InstanceId /etc/default/replicated | Should -Match "(?m)^PRIVATE_ADDRESS=$([regex]::Escape($replica.PrivateIpAddress))$"
    }
}

# A process killed while it holds right after a step is durable (CCIEDR_TEST_HOLD_AT_STEP, so the kill does not race the
# machine's speed), then a rerun in this session: it resumes from the next step and repeats nothing destructive.
Describe 'Invoke-CcieFailover killed after each step' -Tag 'Failover', 'Simulator' -ForEach @(
    @{ Step = 'decided' }, @{ Step = 'fenced' }, @{ Step = 'promoted' }, @{ Step = 'readdressed' }, @{ Step = 'started' }) {
    AfterEach {
        if ($script:child -and -not $script:child.HasExited) { $script:child.Kill() }   # only the child this test started
        Stop-Bed
    }

    It 'a run killed after <Step> resumes and finishes with one stop, one start, one IP move and one app start' {
        Start-Bed
        $null = $box | Add-CcieFloatingIp -PrivateIpAddress 10.0.1.200 -Confirm:$false
        $replica = New-ColdReplica -SubnetId $box.SubnetId
        $map = Get-PortMap $replica.InstanceId
        $mapText = '@{ ' + (($map.GetEnumerator() | ForEach-Object { "$($_.Key) = $($_.Value)" }) -join '; ') + ' }'
        $null = Invoke-CcieSimulatorControl $sim POST faults/instance-death @{ instanceId = $box.InstanceId; stopAfterSeconds = 300 }
        $null = Invoke-CcieSimulatorControl $sim DELETE requests

        $file = Join-Path ([IO.Path]::GetTempPath()) ('ccie-failover-kill-' + [guid]::NewGuid().ToString('n') + '.ps1')
        Set-Content -LiteralPath $file -Value "Import-Module '$(Get-CcieTestModulePath)'; Invoke-CcieFailover -EndpointUrl '$($sim.Url)' -Region us-east-1 -ProbeAddress 127.0.0.1 -ProbePortMap $mapText -Confirm:`$false"
        try {
            $pwsh = (Get-Process -Id $PID).Path
            $psi = [System.Diagnostics.ProcessStartInfo]::new($pwsh)
            if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { $psi.ArgumentList.Add([Environment]::GetCommandLineArgs()[0]) }
            foreach ($a in '-NoProfile', '-NonInteractive', '-File', $file) { $psi.ArgumentList.Add($a) }
            foreach ($k in 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'CCIEDR_POLL_SCALE') { $psi.Environment[$k] = [Environment]::GetEnvironmentVariable($k) }
            $psi.Environment['CCIEDR_TEST_HOLD_AT_STEP'] = $Step
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $psi.UseShellExecute = $false
            $script:child = [System.Diagnostics.Process]::Start($psi)
            $null = $child.StandardOutput.ReadToEndAsync()
            $childErr = $child.StandardError.ReadToEndAsync()
            $deadline = [DateTime]::UtcNow.AddSeconds(120)
            do {
                Start-Sleep -Milliseconds 200
                $tags = Invoke-CcieSimulatorEc2 $sim DescribeTags @{ 'Filter.1.Name' = 'resource-id'; 'Filter.1.Value.1' = $replica.InstanceId; 'Filter.2.Name' = 'key'; 'Filter.2.Value.1' = 'ccie:failover-step' }
                $at = $tags.SelectSingleNode("//*[local-name()='tagSet']/*[local-name()='item']/*[local-name()='value']").InnerText
            } while ($at -ne $Step -and -not $child.HasExited -and [DateTime]::UtcNow -lt $deadline)
            $child.HasExited | Should -BeFalse -Because "the child holds after $Step (stderr: $(if ($child.HasExited) { $childErr.Result }))"
            $at | Should -Be $Step
            $child.Kill()
            $child.WaitForExit()
        }
        finally { Remove-Item -LiteralPath $file -ErrorAction SilentlyContinue }

        $r = Invoke-CcieFailover -ProbeAddress 127.0.0.1 -ProbePortMap $map -Confirm:$false
        $r.Resumed | Should -BeTrue
        $r.Status | Should -Be 'Succeeded'
        $r.InstanceId | Should -Be $replica.InstanceId
        @(Get-Launch StopInstances | Where-Object status -eq 200).Count | Should -BeLessOrEqual 1
        @(Get-Launch StartInstances | Where-Object status -eq 200).Count | Should -Be 1
        @(Get-Launch AssignPrivateIpAddresses | Where-Object status -eq 200).Count | Should -Be 1
        $starts = @(Get-Launch SendCommand | Where-Object { $_.status -eq 200 -and (@($_.parameters.PSObject.Properties | ForEach-Object Value) -join ' ') -match 'app start' })
        $starts.Count | Should -Be 1 -Because 'the app is started once, by the run that reached that step'
        (Get-CcieServicesBox).InstanceId | Should -Be $replica.InstanceId
        (Get-CcieApp -InstanceId $replica.InstanceId).State | Should -Be 'started'
    }
}
