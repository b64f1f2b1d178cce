# Tests the runbook ../Invoke-WeeklyDrill.ps1 against the CcieDr AWS simulator.
BeforeAll {
    Import-Module CcieDr, CcieDr.Simulator
    $runbook = Join-Path $PSScriptRoot '../Invoke-WeeklyDrill.ps1'
    $sim = Start-CcieSimulator -TransitionSeconds 0.2 -SetEnvironment
    $env:CCIEDR_POLL_SCALE = '0.05'
    $reports = Join-Path $TestDrive 'drills'
    $null = New-CcieSnapshot -Wait -Confirm:$false
}
AfterAll { Stop-CcieSimulator $sim }

Describe 'Invoke-WeeklyDrill' {
    It 'drills the newest point, writes the report, leaves nothing behind and exits 0' {
        $before = @((Get-CcieSimulatorState).regions.'us-east-1'.instances | Where-Object state -ne 'terminated').Count
        $out = & $runbook -EndpointUrl $sim.Url -Region us-east-1 -ReportDirectory $reports
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
        $out | Should -Match 'verdict=Passed rto=\d+s'
        @(Get-ChildItem $reports -Filter 'drill-*.html') | Should -HaveCount 1
        @((Get-CcieSimulatorState).regions.'us-east-1'.instances | Where-Object state -ne 'terminated').Count | Should -Be $before
        (Get-CcieSnapshot -Latest).Verified | Should -BeTrue
    }

    It 'exits 5 when the drill fails, and the report says why' {
        $point = New-CcieSnapshot -Wait -Confirm:$false
        $data = ($point.Snapshots | Where-Object { -not $_.IsRootDevice } | Select-Object -First 1).SnapshotId
        $null = Invoke-CcieSimulatorControl -Method POST -Path faults/corrupt-snapshot -Body @{ snapshotId = $data }
        $out = & $runbook -EndpointUrl $sim.Url -Region us-east-1 -ReportDirectory $reports
        $LASTEXITCODE | Should -Be 5 -Because ($out -join "`n")
        $out | Should -Match 'verdict=Failed'
        $latest = Get-ChildItem $reports -Filter 'drill-*.html' | Sort-Object LastWriteTime | Select-Object -Last 1
        Get-Content $latest.FullName -Raw | Should -Match 'status checks'
    }
}
