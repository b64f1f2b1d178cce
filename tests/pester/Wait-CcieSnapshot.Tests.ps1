# Wait-CcieSnapshot against the simulator, through the real AWS SDK.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    . (Join-Path $PSScriptRoot 'Snapshot.TestHelpers.ps1')
    $sim = Start-SnapshotTestBed
}

AfterAll {
    Stop-SnapshotTestBed $sim
}

Describe 'Wait-CcieSnapshot' -Tag 'Snapshot', 'Simulator' {
    BeforeEach { Reset-SnapshotSimulator $sim -SnapshotSeconds 1 }

    It 'waits for a piped pending point and returns it completed' {
        $rp = New-CcieSnapshot
        $rp.State | Should -Be 'pending'
        $done = $rp | Wait-CcieSnapshot -TimeoutSeconds 60
        $done.RecoveryPointId | Should -Be $rp.RecoveryPointId
        $done.State | Should -Be 'completed'
        $done.Progress | Should -Be 100
        $done.Snapshots.State | Should -Be @('completed', 'completed')
        @($done.Timeline.Action) | Should -Contain 'wait:snapshot-completed'
    }

    It 'waits for several points at once, by object and by id' {
        $a = New-CcieSnapshot
        $b = New-CcieSnapshot -Method PerVolume -Label second   # another label: a second point, not a rerun of the first
        $ids = @($a.RecoveryPointId, $b.RecoveryPointId) | Sort-Object -Unique
        $done = @($ids | Wait-CcieSnapshot -TimeoutSeconds 60)
        $done.Count | Should -Be $ids.Count
        $done | ForEach-Object { $_.State | Should -Be 'completed' }
        @($done.RecoveryPointId | Sort-Object) | Should -Be @($ids)
    }

    It 'reports a failed snapshot clearly and still returns the other points' {
        $good = New-CcieSnapshot
        $null = Invoke-CcieSimulatorControl $sim POST faults/snapshot-failure -Body @{ count = 1 }
        $bad = New-CcieSnapshot -Label bad
        $out = @($good, $bad | Wait-CcieSnapshot -TimeoutSeconds 60 -ErrorVariable e -ErrorAction SilentlyContinue)
        $out.Count | Should -Be 1
        $out[0].RecoveryPointId | Should -Be $good.RecoveryPointId
        $e.Count | Should -Be 1
        $e[0].FullyQualifiedErrorId | Should -Match '^RecoveryPointFailed'
        $e[0].Exception.Message | Should -Match ([regex]::Escape($bad.RecoveryPointId))
        $e[0].Exception.Message | Should -Match 'snapshot snap-\w+ \(/dev/sda1\) failed'
        $e[0].TargetObject.State | Should -Be 'error'
    }

    It 'times out with WaitTimedOut and undoes nothing' {
        $null = Invoke-CcieSimulatorControl $sim POST config -Body @{ durations = @{ snapshot = 600 } }
        $rp = New-CcieSnapshot
        $started = Get-Date
        Wait-CcieSnapshot -RecoveryPointId $rp.RecoveryPointId -TimeoutSeconds 1 -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        ((Get-Date) - $started).TotalSeconds | Should -BeLessThan 15
        $e[0].FullyQualifiedErrorId | Should -Match '^WaitTimedOut'
        $e[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
        (Get-CcieSnapshot $rp.RecoveryPointId).State | Should -Be 'pending'
    }

    It 'writes ObjectNotFound for an unknown id' {
        Wait-CcieSnapshot rp-20200101T000000Z-00000000 -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Match '^RecoveryPointNotFound'
    }

    It 'stops the script with -ErrorAction Stop' {
        $null = Invoke-CcieSimulatorControl $sim POST faults/snapshot-failure -Body @{ count = 1 }
        $bad = New-CcieSnapshot
        { $bad | Wait-CcieSnapshot -TimeoutSeconds 60 -ErrorAction Stop } | Should -Throw -ErrorId 'RecoveryPointFailed*'
    }
}
