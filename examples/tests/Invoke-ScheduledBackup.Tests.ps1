# Tests the runbook ../Invoke-ScheduledBackup.ps1 against the CcieDr AWS simulator.
BeforeAll {
    Import-Module CcieDr, CcieDr.Simulator
    $runbook = Join-Path $PSScriptRoot '../Invoke-ScheduledBackup.ps1'
    $sim = Start-CcieSimulator -TransitionSeconds 0.2 -SeedRegion us-east-1, us-west-2 -SetEnvironment
    $env:CCIEDR_POLL_SCALE = '0.05'
    $data = Join-Path $TestDrive 'data'
    $null = New-Item -ItemType Directory -Force (Join-Path $data 'postgres'), (Join-Path $data 'mongo')
    Set-Content (Join-Path $data 'postgres/base.dat') ('x' * 4096)
    Set-Content (Join-Path $data 'mongo/circle.0') ('y' * 4096)
    $tarballs = Join-Path $TestDrive 'tarballs'
    $null = New-Item -ItemType Directory -Force $tarballs
}
AfterAll { Stop-CcieSimulator $sim }

Describe 'Invoke-ScheduledBackup' {
    It 'takes a point, a tarball and a cross-region copy, logs one line, and exits 4 while no drill verified a point' {
        $out = & $runbook -EndpointUrl $sim.Url -Region us-east-1 -DataPath $data -TarballDestination $tarballs -CopyRegion us-west-2
        $LASTEXITCODE | Should -Be 4 -Because ($out -join "`n")
        @($out) | Should -HaveCount 1
        $out | Should -Match 'BACKED-UP-STATUS-FAIL point=rp-\S+ tarball=\S+circleci-data-export\S*\.tar\.bz2 tarballs-removed=0 points-removed=0 copy=us-west-2/rp-'
        $out | Should -Match 'no recovery point has passed a drill'

        @(Get-CcieSnapshot | Where-Object IsComplete) | Should -HaveCount 1
        @(Get-CcieSnapshot -Region us-west-2 | Where-Object IsComplete) | Should -HaveCount 1
        @(Get-ChildItem $tarballs -Filter '*.tar.bz2') | Should -HaveCount 1
    }

    It 'exits 0 once a drill verified a point, and retention keeps that verified point' {
        $drilled = (Get-CcieSnapshot -Latest | Test-CcieRecovery -Isolated -Confirm:$false -WarningAction SilentlyContinue).RecoveryPointId
        $out = & $runbook -EndpointUrl $sim.Url -Region us-east-1 -KeepDaily 1 -KeepWeekly 1 -RpoTarget (New-TimeSpan -Days 1)
        # The new point is unverified, but the verified one is minutes old: within the RPO target.
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
        $out | Should -Match '^\S+ OK point=rp-'
        # Keep-daily 1 keeps only today's newest point, but never the newest verified one.
        (Get-CcieSnapshot | Where-Object IsComplete).RecoveryPointId | Should -Contain $drilled
    }

    It 'exits 1 and names the step when AWS refuses' {
        Add-CcieSimulatorFault -Kind internal-error -Action CreateSnapshots -Count 50 | Out-Null
        Add-CcieSimulatorFault -Kind internal-error -Action CreateSnapshot -Count 50 | Out-Null
        try {
            $out = & $runbook -EndpointUrl $sim.Url -Region us-east-1
            $LASTEXITCODE | Should -Be 1
            $out | Should -Match 'FAIL step=snapshot'
        }
        finally { Clear-CcieSimulatorFault }
    }
}
