# Tests the runbook ../Invoke-OutageResponse.ps1 against the CcieDr AWS simulator: no AWS account needed.
# Needs the modules CcieDr and CcieDr.Simulator and Pester 5. The runbook probes the app's ports from the box (over
# SSM, which the simulator runs in a sandbox): run it in a private network namespace (unshare -n), as the name says.
BeforeAll {
    Import-Module CcieDr, CcieDr.Simulator
    $runbook = Join-Path $PSScriptRoot '../Invoke-OutageResponse.ps1'
    $sim = Start-CcieSimulator -TransitionSeconds 0.2 -SetEnvironment
    $env:CCIEDR_POLL_SCALE = '0.05'      # poll the simulator fast (its transitions take 0.2 s)
}
AfterAll { Stop-CcieSimulator $sim }

Describe 'Invoke-OutageResponse' {
    BeforeAll {
        $before = Get-CcieServicesBox
        $null = New-CcieSnapshot -Wait -Confirm:$false            # a recovery point to restore from
        # The seeded builder group starts with its Auto Scaling processes suspended: let it launch and replace builders.
        $null = Invoke-CcieSimulatorControl autoscaling -Method POST -Body @{ region = 'us-east-1'; name = 'circleci-builders'; suspended = $false }
        $asg = Get-CcieBuilder -Summary
    }

    It 'does nothing while the box is healthy' {
        $out = & $runbook -EndpointUrl $sim.Url -Region us-east-1 -Transport Ssm
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
        ($out -join "`n") | Should -Match 'verdict=Healthy'
        ($out -join "`n") | Should -Match 'ok nothing to do'
        @(Get-CcieSimulatorRequest -Action RunInstances) | Should -HaveCount 0
    }

    It 'restores a killed box, starts the app, points the builders at it and adds capacity' {
        Invoke-CcieSimulatorOutage -InstanceDeath -InstanceId $before.InstanceId -AfterSeconds 0.2
        $deadline = (Get-Date).AddSeconds(30)
        while ((Get-CcieServicesBox -InstanceId $before.InstanceId).State -ne 'stopped' -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 200 }

        $oldBuilders = @(Get-CcieBuilder | Where-Object LifecycleState -eq 'InService').InstanceId
        # The simulator's clock runs in real time here: don't wait for CloudWatch's once-a-minute builder count.
        $out = & $runbook -EndpointUrl $sim.Url -Region us-east-1 -Transport Ssm -CatchUpCapacity 2 -SkipBuilderConnectionCheck -PassThru
        $LASTEXITCODE | Should -Be 10 -Because ($out -join "`n")
        $summary = $out | Where-Object { $_ -isnot [string] }
        $summary.Action | Should -Be 'restore'
        $summary.Rto | Should -BeGreaterThan ([TimeSpan]::Zero)
        ($out | Where-Object { $_ -is [string] }) -join "`n" | Should -Match 'summary action=restore .* rto='

        # The box is back on its private IP, with the app started.
        $after = Get-CcieServicesBox
        $after.InstanceId | Should -Not -Be $before.InstanceId
        $after.State | Should -Be 'running'
        $after.PrivateIpAddress | Should -Be $before.PrivateIpAddress
        (Get-CcieApp -InstanceId $after.InstanceId -Transport Ssm).State | Should -Be 'started'

        # The builders' launch template points at the box, and the catch-up capacity is in place.
        (Get-CcieBuilder -Summary).DesiredCapacity | Should -Be ($asg.DesiredCapacity + 2)
        $summary.PrivateIpAddress | Should -Be $before.PrivateIpAddress
        $builders = @(Get-CcieBuilder)
        $builders.Count | Should -BeGreaterThan 0
        $builders | ForEach-Object { $_.ServicesPrivateIp | Should -Be $after.PrivateIpAddress }
        # Every builder launched before the restore was rotated (Restart-CcieBuilder -Stale: launched before the recovery).
        $oldBuilders.Count | Should -BeGreaterThan 0
        ($out -join "`n") | Should -Match "builders rotated=$($oldBuilders.Count) status=Completed"
        @($builders | Where-Object { $_.InstanceId -in $oldBuilders -and $_.LifecycleState -notmatch '^Terminat' }) | Should -HaveCount 0
        ($out -join "`n") | Should -Match "builders configured ip=$([regex]::Escape($after.PrivateIpAddress))"
    }
}
