# Issue 15's first acceptance bullet end to end on the simulator, through the built module: restore the Services box
# onto a new IP -> Get-CcieBuilder marks every builder stale -> Set-CcieBuilderConfiguration (a new launch-template
# version that differs from the old only in SERVICES_PRIVATE_IP and CIRCLE_SECRET_PASSPHRASE, the passphrase read from
# the box and never shown) -> Restart-CcieBuilder -Stale -BatchSize 2 -> every builder on the new version, InService
# and connected (the simulator counts a builder connected only with the box's IP and its secret token), never fewer
# than desired - BatchSize in service (from the simulator's Auto Scaling capacity history, not from timing). Also the
# -WhatIf of both cmdlets, a wrong passphrase, nothing stale, a too big batch and Ctrl+C with a rerun.
#
# Simulated time: CircleCI publishes circle.state.num-masters once a minute, and Restart-CcieBuilder waits for a data
# point taken after a batch's builders were in service. A clock pump (a thread job) moves the simulated clock on
# 5 s every 100 ms while a rotation runs, so a simulated minute passes in about a second; no assertion depends on it.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    $sim = Start-CcieTestSimulator
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
    $script:Group = 'circleci-builders'
    $script:NewIp = '10.0.1.50'
    $script:Desired = 5

    function Get-SimulatorNow { ([datetime](Invoke-CcieSimulatorControl $sim GET clock).now).ToUniversalTime() }

    function Get-GroupInfo { @(Invoke-CcieSimulatorControl $sim GET autoscaling) | ForEach-Object { $_ } | Where-Object name -eq $Group }

    # The group's capacity history since $Since (a point per change of desired size, lifecycle states or connections).
    function Get-CapacityHistory([datetime] $Since) {
        $s = [uri]::EscapeDataString($Since.ToUniversalTime().ToString('o'))
        @(Invoke-CcieSimulatorControl $sim GET "autoscaling/history?region=us-east-1&name=$Group&since=$s") | ForEach-Object { $_ }
    }

    # The group's members not on their way out (Get-CcieBuilder also lists Terminating ones).
    function Get-LiveBuilder { @(Get-CcieBuilder | Where-Object LifecycleState -notmatch '^Terminat') }

    function Get-ConnectedBuilder { @((Invoke-CcieSimulatorControl $sim GET 'cloudwatch/box?region=us-east-1').connectedBuilders) }

    # Every logged request that is not a read (Describe*/Get*/List*), as service:action.
    function Get-MutatingRequest {
        @(Invoke-CcieSimulatorControl $sim GET requests | ForEach-Object { $_ } |
            Where-Object { $_.action -notmatch '^(Describe|Get|List)' } | ForEach-Object { "$($_.service):$($_.action)" })
    }

    function Get-TemplateUserData([string] $TemplateId, [string] $Version) {
        $r = Invoke-CcieSimulatorEc2 $sim DescribeLaunchTemplateVersions @{ LaunchTemplateId = $TemplateId; 'LaunchTemplateVersion.1' = $Version }
        $b64 = $r.DescribeLaunchTemplateVersionsResponse.launchTemplateVersionSet.item.launchTemplateData.userData
        [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($b64))
    }

    function Wait-Until([scriptblock] $Condition, [string] $What, [int] $Seconds = 60) {
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "Timed out waiting for $What" }
            Start-Sleep -Milliseconds 100
        }
    }

    # Moves the simulated clock on while a rotation runs (see the header). Returns the job; stop with Stop-ClockPump.
    function Start-ClockPump {
        $flag = [hashtable]::Synchronized(@{ Stop = $false })
        $job = Start-ThreadJob -ArgumentList $sim.Url, $flag -ScriptBlock {
            param($url, $flag)
            while (-not $flag.Stop) {
                $null = Invoke-RestMethod -Uri "$url/_sim/clock/advance" -Method POST -Body '{"seconds":5}' -ContentType 'application/json'
                Start-Sleep -Milliseconds 100
            }
        }
        [pscustomobject]@{ Job = $job; Flag = $flag }
    }

    function Stop-ClockPump($Pump) {
        $Pump.Flag.Stop = $true
        $null = Wait-Job $Pump.Job -Timeout 10
        Receive-Job $Pump.Job -ErrorAction Stop | Out-Null
        Remove-Job $Pump.Job -Force
    }

    # A fresh world: seeded, the group resumed at $Desired builders (all from version 1, pointing at 10.0.1.10), the
    # box snapshotted, terminated and restored onto $NewIp, and given a secret token of its own (so "the passphrase
    # is the box's token" can fail: the seeded token is also the launch template's).
    function Initialize-RestoredWorld {
        Invoke-CcieSimulatorControl $sim POST reset | Out-Null
        Invoke-CcieSimulatorControl $sim POST seed @{ region = 'us-east-1' } | Out-Null
        Invoke-CcieSimulatorControl $sim POST autoscaling @{ region = 'us-east-1'; name = $Group; suspended = $false; desiredCapacity = $Desired } | Out-Null
        Wait-Until { @(Get-CcieBuilder | Where-Object LifecycleState -eq 'InService').Count -eq $Desired } "$Desired builders in service"
        $old = Get-CcieServicesBox
        $rp = New-CcieSnapshot -Wait -Confirm:$false
        $null = Invoke-CcieSimulatorEc2 $sim TerminateInstances @{ 'InstanceId.1' = $old.InstanceId }
        Wait-Until { (Get-CcieServicesBox -InstanceId $old.InstanceId -IncludeTerminated).State -eq 'terminated' } 'the old box to terminate'
        $restored = Restore-CcieServicesBox -RecoveryPointId $rp.RecoveryPointId -PrivateIpAddress $NewIp -Confirm:$false
        $token = 'box-token-' + [guid]::NewGuid().ToString('n')
        Invoke-CcieSimulatorControl $sim PUT "boxes/$($restored.InstanceId)/file" @{ path = '/var/lib/replicated-standin/secret-token'; content = "$token`n" } | Out-Null
        [pscustomobject]@{ OldBox = $old; Restored = $restored; Token = $token; TemplateId = (Get-CcieBuilder -Summary).LaunchTemplateId }
    }
}

AfterAll {
    $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
    $PSDefaultParameterValues.Remove('*-Ccie*:Region')
    if ($sim) { Stop-CcieTestSimulator $sim }
}

Describe 'Restore onto a new IP, re-point the builders, rotate them' -Tag 'Builders', 'Simulator' {
    BeforeAll { $w = Initialize-RestoredWorld }

    It 'the box is on the new IP, its stand-in prints the new token, and no builder is connected' {
        $w.Restored.PrivateIpAddress | Should -Be $NewIp
        (Get-CcieServicesBox).PrivateIpAddress | Should -Be $NewIp
        $out = (Invoke-CcieSimulatorControl $sim POST "boxes/$($w.Restored.InstanceId)/standin" @{ args = @('show') })
        $out.exitCode | Should -Be 0
        (Invoke-CcieSimulatorControl $sim GET "boxes/$($w.Restored.InstanceId)/file?path=/var/lib/replicated-standin/secret-token").content.Trim() | Should -Be $w.Token
        Get-ConnectedBuilder | Should -BeNullOrEmpty
    }

    It 'Get-CcieBuilder marks every builder stale for the wrong IP' {
        $builders = Get-LiveBuilder
        $builders.Count | Should -Be $Desired
        foreach ($b in $builders) {
            $b.Stale | Should -BeTrue
            $b.StaleReasons | Should -Contain 'WrongServicesIp'
            $b.ServicesPrivateIp | Should -Be '10.0.1.10'
            $b.StaleReason | Should -Match "SERVICES_PRIVATE_IP=10\.0\.1\.10; the Services box .*is at $([regex]::Escape($NewIp))"
        }
        $g = Get-CcieBuilder -Summary
        $g.PointsAtServicesBox | Should -BeFalse
        $g.Stale | Should -Be $Desired
    }

    It 'Set-CcieBuilderConfiguration -WhatIf and Restart-CcieBuilder -Stale -WhatIf make only read calls' {
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
        $null = Set-CcieBuilderConfiguration -WhatIf *>&1
        $null = Restart-CcieBuilder -Stale -BatchSize 2 -WhatIf *>&1
        Get-MutatingRequest | Should -BeNullOrEmpty
        @(Invoke-CcieSimulatorControl $sim GET requests | ForEach-Object { $_ }).Count | Should -BeGreaterThan 5   # the log did record the reads
        (Get-CcieBuilder -Summary).LaunchTemplateVersionNumber | Should -Be 1
        (Get-GroupInfo).desiredCapacity | Should -Be $Desired
    }

    It 'Set-CcieBuilderConfiguration writes a version that differs only in the two variables; the passphrase is in no stream or transcript' {
        $transcript = Join-Path $TestDrive 'set-config.transcript.txt'
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
        $DebugPreference = 'Continue'
        Start-Transcript -Path $transcript -Force | Out-Null
        try {
            # Every stream into the pipeline, and on to the host, so the transcript records them too.
            $all = @(Set-CcieBuilderConfiguration -Force -Verbose -InformationAction Continue *>&1 | ForEach-Object { $_ | Out-Host; $_ })
        }
        finally {
            Stop-Transcript | Out-Null
            $DebugPreference = 'SilentlyContinue'
        }
        $r = @($all | Where-Object { $_ -is [CcieDr.BuilderConfiguration] })
        $r.Count | Should -Be 1
        $r = $r[0]
        $r.OldVersion | Should -Be '1'
        $r.NewVersion | Should -Be '2'
        $r.ServicesPrivateIp | Should -Be $NewIp
        $r.PreviousServicesPrivateIp | Should -Be '10.0.1.10'
        $r.SecretPassphraseSet | Should -BeTrue
        @($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Count | Should -BeGreaterThan 0   # -Verbose did write

        # The passphrase came from the box (over SSM), and appears nowhere the user sees.
        @(Get-MutatingRequest) | Should -Contain 'ssm:SendCommand'
        $text = (($all | ForEach-Object { if ($_ -is [System.Management.Automation.ErrorRecord]) { $_.Exception.ToString() } else { $_ | Out-String -Width 400 } }) -join "`n") +
            ($r | ConvertTo-Json -Depth 6) + ($Error | Out-String -Width 400)
        $text | Should -Not -BeLike "*$($w.Token)*"
        $text | Should -Match '\*{6}'   # the diff masks it
        Get-Content -Raw $transcript | Should -Not -BeLike "*$($w.Token)*"
        (Get-Content -Raw $transcript) | Should -Match 'version 2 has the new user data'   # the verbose text did reach it

        # No tag, description or other state carries it in clear (the user data holds it, base64 as AWS stores it).
        (Invoke-CcieSimulatorControl $sim GET state | ConvertTo-Json -Depth 30 -Compress) | Should -Not -BeLike "*$($w.Token)*"

        # Byte for byte: the old script with the two values replaced.
        $old = Get-TemplateUserData $w.TemplateId '1'
        $new = Get-TemplateUserData $w.TemplateId '2'
        $oldPassphrase = ([regex]::Match($old, '(?m)^CIRCLE_SECRET_PASSPHRASE=(.*)$')).Groups[1].Value
        $oldPassphrase | Should -Not -Be $w.Token
        $expected = $old.Replace('SERVICES_PRIVATE_IP=10.0.1.10', "SERVICES_PRIVATE_IP=$NewIp").Replace("CIRCLE_SECRET_PASSPHRASE=$oldPassphrase", "CIRCLE_SECRET_PASSPHRASE=$($w.Token)")
        $new | Should -BeExactly $expected
        $oldLines = $old -split "`n"; $newLines = $new -split "`n"
        $newLines.Count | Should -Be $oldLines.Count
        $changed = @(0..($oldLines.Count - 1) | Where-Object { $oldLines[$_] -cne $newLines[$_] } | ForEach-Object { ($oldLines[$_] -split '=')[0] })
        $changed | Should -Be @('SERVICES_PRIVATE_IP', 'CIRCLE_SECRET_PASSPHRASE')

        $g = Get-CcieBuilder -Summary
        $g.LaunchTemplateVersionNumber | Should -Be 2
        $g.ConfiguredServicesPrivateIp | Should -Be $NewIp
        $g.PointsAtServicesBox | Should -BeTrue
    }

    It 'Restart-CcieBuilder -Stale -BatchSize 2 replaces every builder with connected ones, never below desired - 2 in service' {
        $old = @(Get-CcieBuilder).InstanceId
        $since = Get-SimulatorNow
        $pump = Start-ClockPump
        try { $r = Restart-CcieBuilder -Stale -BatchSize 2 -Force }
        finally { Stop-ClockPump $pump }

        $r | Should -BeOfType ([CcieDr.BuilderRestartResult])
        $r.Status | Should -Be 'Completed'
        $r.Method | Should -Be 'Rolling'
        $r.BatchSize | Should -Be 2
        $r.BatchesPlanned | Should -Be 3
        $r.Batches | Should -Be 3
        $r.ConnectionCheck | Should -Be 'Connected (circle.state.num-masters)'
        @($r.Replaced | Sort-Object) | Should -Be @($old | Sort-Object)
        @($r.Timeline | Where-Object { $_.Action -eq 'wait:builders-connected' -and $_.Outcome -eq 'Succeeded' }).Count | Should -Be 3

        $builders = Get-LiveBuilder
        $builders.Count | Should -Be $Desired
        foreach ($b in $builders) {
            $old | Should -Not -Contain $b.InstanceId
            $b.LaunchTemplateVersion | Should -Be '2'
            $b.LifecycleState | Should -Be 'InService'
            $b.ServicesPrivateIp | Should -Be $NewIp
            $b.Stale | Should -BeFalse
        }
        @(Get-ConnectedBuilder | Sort-Object) | Should -Be @($builders.InstanceId | Sort-Object)
        (Get-GroupInfo).desiredCapacity | Should -Be $Desired

        # The simulator's history of the group during the rotation: the batches raised it, and in service never fell
        # below desired - BatchSize (the own loop keeps it at desired or above).
        $history = Get-CapacityHistory $since
        $history.Count | Should -BeGreaterThan 6
        ($history.desiredCapacity | Measure-Object -Maximum).Maximum | Should -Be ($Desired + 2)
        ($history.inService | Measure-Object -Minimum).Minimum | Should -BeGreaterOrEqual ($Desired - 2)
        $history[-1].inService | Should -Be $Desired
        $history[-1].connected | Should -Be $Desired
        # No old builder left service before the box saw the new ones of its batch: connected only ever grew.
        for ($i = 1; $i -lt $history.Count; $i++) { $history[$i].connected | Should -BeGreaterOrEqual $history[$i - 1].connected }
    }

    It 'a second run finds nothing stale: nothing changes, and it says so' {
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
        $r = Restart-CcieBuilder -Stale -BatchSize 2 -Force -Verbose 4>&1 | Tee-Object -Variable out | Where-Object { $_ -is [CcieDr.BuilderRestartResult] }
        $r.Status | Should -Be 'NothingToDo'
        @($r.Replaced).Count | Should -Be 0
        (($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }) -join "`n") | Should -Match 'already runs .*version 2: nothing to rotate'
        Get-MutatingRequest | Should -BeNullOrEmpty
    }
}

Describe 'Rotation edge cases' -Tag 'Builders', 'Simulator' {
    BeforeAll { $w = Initialize-RestoredWorld }

    It 'a wrong passphrase never connects: the rotation stops with a clear error and the old builders stay' {
        $wrong = ConvertTo-SecureString 'not-the-box-token' -AsPlainText -Force
        $cfg = Set-CcieBuilderConfiguration -SecretPassphrase $wrong -Force
        $cfg.NewVersion | Should -Be '2'
        $old = @(Get-LiveBuilder).InstanceId
        $since = Get-SimulatorNow
        $pump = Start-ClockPump
        $err = $null
        try { $null = Restart-CcieBuilder -Stale -BatchSize 2 -ConnectTimeoutSec 15 -Force -ErrorAction Stop -WarningAction SilentlyContinue }
        catch { $err = $_ }
        finally { Stop-ClockPump $pump }

        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Match '^BuildersNotConnected'
        $err.CategoryInfo.Category | Should -Be 'OperationTimeout'
        $err.Exception.Message | Should -Match 'CIRCLE_SECRET_PASSPHRASE'
        $err.Exception.Message | Should -Match 'remaining old builders left as they are'
        Wait-Until { @(Get-LiveBuilder).Count -eq $Desired } 'the new builders to be gone'
        @(Get-LiveBuilder).InstanceId | Sort-Object | Should -Be @($old | Sort-Object)
        (Get-GroupInfo).desiredCapacity | Should -Be $Desired
        ((Get-CapacityHistory $since).inService | Measure-Object -Minimum).Minimum | Should -BeGreaterOrEqual $Desired
        Get-ConnectedBuilder | Should -BeNullOrEmpty
        # Only the batch's new builders were terminated, never an old one.
        $terminated = @(Invoke-CcieSimulatorControl $sim GET 'requests?action=TerminateInstanceInAutoScalingGroup' | ForEach-Object { $_ } | ForEach-Object { $_.parameters.InstanceId })
        $terminated.Count | Should -Be 2
        $terminated | ForEach-Object { $old | Should -Not -Contain $_ }
    }

    It 'a -BatchSize at or above desired is clamped to desired - 1 with a warning' {
        $null = Set-CcieBuilderConfiguration -Force   # the right passphrase again (version 3)
        $null = Restart-CcieBuilder -Stale -BatchSize 9 -WhatIf -WarningVariable warn 3>$null
        ($warn -join "`n") | Should -Match "-BatchSize 9 is not below the desired capacity of $Group \($Desired\): batches of $($Desired - 1)"
    }

    It 'Ctrl+C mid-rotation leaves the group at its size with at least desired - BatchSize in service, and a rerun continues' {
        $old = @(Get-LiveBuilder).InstanceId
        $since = Get-SimulatorNow
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$(Get-CcieTestModulePath)'; Restart-CcieBuilder -EndpointUrl '$($sim.Url)' -Region us-east-1 -Stale -BatchSize 2 -Force -WarningAction SilentlyContinue")
        $pump = Start-ClockPump
        try {
            $async = $ps.BeginInvoke()
            # Once the second batch has raised the group: the clock stops racing (its builders wait for the next
            # minute's data point), and the run is stopped as Ctrl+C does.
            Wait-Until { @(Invoke-CcieSimulatorControl $sim GET 'requests?action=SetDesiredCapacity' | ForEach-Object { $_ }).Count -ge 2 -or $async.IsCompleted } 'the second batch'
            Stop-ClockPump $pump
            $pump = $null
            $async.IsCompleted | Should -BeFalse
            $ps.Stop()
            try { $null = $ps.EndInvoke($async) } catch { }
        }
        finally { if ($pump) { Stop-ClockPump $pump }; $ps.Dispose() }

        Wait-Until { $g = Get-GroupInfo; $g.desiredCapacity -eq $Desired -and @($g.instanceIds).Count -eq $Desired } 'the group back at its size'
        $history = Get-CapacityHistory $since
        ($history.inService | Measure-Object -Minimum).Minimum | Should -BeGreaterOrEqual ($Desired - 2)
        $builders = Get-LiveBuilder
        $builders.Count | Should -Be $Desired
        $replaced = @($old | Where-Object { $builders.InstanceId -notcontains $_ })
        $replaced.Count | Should -BeIn @(2, 4)   # batch 1 done; batch 2 taken back, or done if it finished as the stop came
        @($builders | Where-Object Stale).Count | Should -Be ($Desired - $replaced.Count)

        $pump = Start-ClockPump
        try { $r = Restart-CcieBuilder -Stale -BatchSize 2 -Force }
        finally { Stop-ClockPump $pump }
        $r.Status | Should -Be 'Completed'
        @($r.Replaced).Count | Should -Be ($Desired - $replaced.Count)
        $after = Get-LiveBuilder
        $after.Count | Should -Be $Desired
        @($after | Where-Object Stale).Count | Should -Be 0
        @($after | Where-Object { $old -contains $_.InstanceId }).Count | Should -Be 0
        ((Get-CapacityHistory $since).inService | Measure-Object -Minimum).Minimum | Should -BeGreaterOrEqual ($Desired - 2)
        @(Get-ConnectedBuilder).Count | Should -Be $Desired
    }
}

Describe 'Restore onto the same IP: Restart-CcieBuilder -Stale rotates the builders launched before the restore' -Tag 'Builders', 'Simulator' {
    BeforeAll {
        Invoke-CcieSimulatorControl $sim POST reset | Out-Null
        Invoke-CcieSimulatorControl $sim POST seed @{ region = 'us-east-1' } | Out-Null
        Invoke-CcieSimulatorControl $sim POST autoscaling @{ region = 'us-east-1'; name = $Group; suspended = $false; desiredCapacity = 3 } | Out-Null
        Wait-Until { @(Get-CcieBuilder | Where-Object LifecycleState -eq 'InService').Count -eq 3 } '3 builders in service'
        $old = Get-CcieServicesBox
        $rp = New-CcieSnapshot -Wait -Confirm:$false
        $null = Invoke-CcieSimulatorEc2 $sim TerminateInstances @{ 'InstanceId.1' = $old.InstanceId }
        Wait-Until { (Get-CcieServicesBox -InstanceId $old.InstanceId -IncludeTerminated).State -eq 'terminated' } 'the old box to terminate'
        $script:restored = Restore-CcieServicesBox -RecoveryPointId $rp.RecoveryPointId -Confirm:$false
        $script:before = @(Get-LiveBuilder)
    }

    It 'the builders point at the right IP but were launched before the restore: stale for that reason only' {
        $restored.PrivateIpAddress | Should -Be $old.PrivateIpAddress
        $before.Count | Should -Be 3
        foreach ($b in $before) {
            $b.Stale | Should -BeTrue
            $b.StaleReasons | Should -Be @('LaunchedBeforeRecovery')
        }
    }

    It 'Restart-CcieBuilder -Stale replaces exactly those (they are on the current template version, so only the inventory calls them stale)' {
        $pump = Start-ClockPump
        try { $r = @(Restart-CcieBuilder -Stale -BatchSize 1 -SkipConnectionCheck -Confirm:$false) }
        finally { Stop-ClockPump $pump }
        $r.Status | Should -Not -Be 'NothingToDo'
        @($r.Replaced | Sort-Object) | Should -Be @($before.InstanceId | Sort-Object)
        $after = @(Get-LiveBuilder)
        $after.Count | Should -Be 3
        @($after | Where-Object { $_.InstanceId -in $before.InstanceId }).Count | Should -Be 0
        @($after | Where-Object Stale).Count | Should -Be 0
    }
}
