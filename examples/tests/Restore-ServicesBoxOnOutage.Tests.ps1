# Tests the runbook ../Restore-ServicesBoxOnOutage.ps1 against the CcieDr AWS simulator: no AWS account needed.
# Needs the modules CcieDr and CcieDr.Simulator (Install-PSResource, or on PSModulePath) and Pester 5.
BeforeAll {
    Import-Module CcieDr, CcieDr.Simulator
    $runbook = Join-Path $PSScriptRoot '../Restore-ServicesBoxOnOutage.ps1'
    $sim = Start-CcieSimulator -TransitionSeconds 0.2 -SetEnvironment
    $env:CCIEDR_POLL_SCALE = '0.05'      # poll the simulator fast (its transitions take 0.2 s)
}
AfterAll { Stop-CcieSimulator $sim }

Describe 'Restore-ServicesBoxOnOutage' {
    BeforeAll {
        $before = Get-CcieServicesBox
        $null = New-CcieSnapshot -Wait -Confirm:$false            # a recovery point to restore from
    }

    It 'does nothing while the box runs' {
        $out = & $runbook -EndpointUrl $sim.Url -Region us-east-1
        $LASTEXITCODE | Should -Be 0
        $out | Should -Match "ok box=$($before.InstanceId)"
    }

    It 'leaves a stopped box alone unless told to replace it' {
        Invoke-CcieSimulatorOutage -InstanceDeath -InstanceId $before.InstanceId -AfterSeconds 0.5
        $deadline = (Get-Date).AddSeconds(30)
        while ((Get-CcieServicesBox -InstanceId $before.InstanceId).State -ne 'stopped' -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 200 }

        $out = & $runbook -EndpointUrl $sim.Url -Region us-east-1
        $LASTEXITCODE | Should -Be 3
        $out | Should -Match 'STOPPED'
        @(Get-CcieSimulatorRequest -Action RunInstances) | Should -HaveCount 0
    }

    It 'restores the dead box onto the same private IP with -ReplaceStoppedBox' {
        $out = & $runbook -EndpointUrl $sim.Url -Region us-east-1 -ReplaceStoppedBox
        $LASTEXITCODE | Should -Be 10 -Because ($out -join "`n")

        $after = Get-CcieServicesBox
        $after.InstanceId | Should -Not -Be $before.InstanceId
        $after.State | Should -Be 'running'
        $after.PrivateIpAddress | Should -Be $before.PrivateIpAddress
    }
}
