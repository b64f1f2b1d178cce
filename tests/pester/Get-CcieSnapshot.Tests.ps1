# Get-CcieSnapshot against the simulator, through the real AWS SDK.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    . (Join-Path $PSScriptRoot 'Snapshot.TestHelpers.ps1')
    $sim = Start-SnapshotTestBed -PageSize 1
}

AfterAll {
    Stop-SnapshotTestBed $sim
}

Describe 'Get-CcieSnapshot' -Tag 'Snapshot', 'Simulator' {
    BeforeAll {
        Reset-SnapshotSimulator $sim
        $box = Get-CcieServicesBox
        $seedId = New-SeedScriptSnapshot $sim -VolumeId $box.Volumes[0].VolumeId
        $first = New-CcieSnapshot -Wait -Label one
        $second = New-CcieSnapshot -Wait -Label two
        $null = Invoke-CcieSimulatorControl $sim POST faults/snapshot-failure -Body @{ count = 1 }
        $null = New-CcieSnapshot -Wait -ErrorVariable failedErr -ErrorAction SilentlyContinue
        $failed = $failedErr[0].TargetObject
        $null = Invoke-CcieSimulatorControl $sim POST config -Body @{ durations = @{ snapshot = 600 } }
        $pending = New-CcieSnapshot
    }

    It 'lists every point newest first, across pages, with seed snapshots as single-volume points' {
        $all = @(Get-CcieSnapshot)
        $all.Count | Should -Be 5
        @($all.RecoveryPointId) | Should -Be @($pending.RecoveryPointId, $failed.RecoveryPointId, $second.RecoveryPointId, $first.RecoveryPointId, $seedId)
        $all | ForEach-Object { $_ | Should -BeOfType ([CcieDr.RecoveryPoint]) }
        $seed = $all[-1]
        $seed.Origin | Should -Be 'Seed'
        @($seed.Snapshots).Count | Should -Be 1
        $seed.Identity.SourceInstanceId | Should -BeNullOrEmpty
        @($all[2].Snapshots).Count | Should -Be 2
        $all[2].Label | Should -Be 'two'
    }

    It 'shows the states: pending, error, completed' {
        (Get-CcieSnapshot -RecoveryPointId $pending.RecoveryPointId).State | Should -Be 'pending'
        (Get-CcieSnapshot -RecoveryPointId $failed.RecoveryPointId).State | Should -Be 'error'
        (Get-CcieSnapshot -RecoveryPointId $failed.RecoveryPointId).IsComplete | Should -BeFalse
        @(Get-CcieSnapshot -State completed).RecoveryPointId | Should -Be @($second.RecoveryPointId, $first.RecoveryPointId, $seedId)
        @(Get-CcieSnapshot -State error, pending).Count | Should -Be 2
    }

    It '-Latest gives the newest completed point, or the newest in -State' {
        $latest = @(Get-CcieSnapshot -Latest)
        $latest.Count | Should -Be 1
        $latest[0].RecoveryPointId | Should -Be $second.RecoveryPointId
        (Get-CcieSnapshot -Latest -State pending).RecoveryPointId | Should -Be $pending.RecoveryPointId
    }

    It 'filters by time, box, instance and origin' {
        @(Get-CcieSnapshot -Before $second.Created).RecoveryPointId | Should -Not -Contain $second.RecoveryPointId
        @(Get-CcieSnapshot -After $first.Created.AddSeconds(-1) -ExcludeSeed).Count | Should -BeGreaterOrEqual 2
        @(Get-CcieSnapshot -After ([datetime]::UtcNow.AddDays(1))).Count | Should -Be 0
        @(Get-CcieSnapshot -ExcludeSeed).RecoveryPointId | Should -Not -Contain $seedId
        @(Get-CcieSnapshot -BoxName circleci_services).Count | Should -Be 4
        @(Get-CcieSnapshot -BoxName nothing).Count | Should -Be 0
        @(Get-CcieSnapshot -InstanceId $box.InstanceId).Count | Should -Be 4
    }

    It 'gets points by id, also from the pipeline, and the seed point by its snapshot id' {
        ($first | Get-CcieSnapshot).RecoveryPointId | Should -Be $first.RecoveryPointId
        @($first.RecoveryPointId, $second.RecoveryPointId | Get-CcieSnapshot).Count | Should -Be 2
        (Get-CcieSnapshot $seedId).Origin | Should -Be 'Seed'
    }

    It 'writes ObjectNotFound for an unknown id and rejects a malformed one' {
        Get-CcieSnapshot rp-20200101T000000Z-00000000 -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Match '^RecoveryPointNotFound'
        $e[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        { Get-CcieSnapshot -RecoveryPointId 'not-an-id' -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'finds nothing in another region' {
        @(Get-CcieSnapshot -Region us-west-2).Count | Should -Be 0
        Get-CcieSnapshot -Region us-west-2 -Latest -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Match '^NoRecoveryPoint'
    }

    It 'shows a table by default and the snapshots as a table' {
        $text = Get-CcieSnapshot -ExcludeSeed | Out-String -Width 200
        $text | Should -Match 'RecoveryPointId\s+Region\s+Created\s+State\s+Progress\s+Volumes\s+PrivateIp'
        $text | Should -Match ([regex]::Escape($second.RecoveryPointId) + '\s+us-east-1\s+\S+ \S+\s+completed\s+100%\s+2/2\s+10\.0\.1\.10')
        $snaps = $second.Snapshots | Out-String -Width 200
        $snaps | Should -Match 'DeviceName\s+SnapshotId\s+State'
        $snaps | Should -Match '/dev/xvdf\s+snap-\w+\s+completed\s+100%\s+500\s+gp3\s+True'
    }
}

Describe 'Snapshot cmdlets tab completion' -Tag 'Snapshot', 'Simulator' {
    BeforeAll {
        Reset-SnapshotSimulator $sim
        $rp = New-CcieSnapshot -Wait -Label nightly
    }

    It 'completes -RecoveryPointId with the points of the endpoint and region on the command line' {
        foreach ($cmd in 'Get-CcieSnapshot', 'Wait-CcieSnapshot', 'Remove-CcieSnapshot', 'Copy-CcieSnapshot') {
            $line = "$cmd -Region us-east-1 -EndpointUrl $($sim.Url) -RecoveryPointId rp-"
            $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
            $completion.CompletionMatches.CompletionText | Should -Be @($rp.RecoveryPointId) -Because $cmd
            $completion.CompletionMatches[0].ToolTip | Should -Match 'completed .* nightly$'
        }
    }

    It 'completes New-CcieSnapshot -InstanceId with the box' {
        $box = Get-CcieServicesBox
        $line = "New-CcieSnapshot -Region us-east-1 -EndpointUrl $($sim.Url) -InstanceId i-"
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain $box.InstanceId
    }

    It 'completes nothing (and does not hang) when the endpoint is dead' {
        $line = 'Get-CcieSnapshot -Region us-east-1 -EndpointUrl http://127.0.0.1:9 -RecoveryPointId rp-'
        @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches).Count | Should -Be 0
    }
}
