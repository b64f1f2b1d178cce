# Remove-CcieSnapshot against the simulator, through the real AWS SDK.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    . (Join-Path $PSScriptRoot 'Snapshot.TestHelpers.ps1')
    $sim = Start-SnapshotTestBed

    function New-Points([int] $Count) {
        for ($i = 0; $i -lt $Count; $i++) { New-CcieSnapshot -Wait -Label "p$i" }
    }
}

AfterAll {
    Stop-SnapshotTestBed $sim
}

Describe 'Remove-CcieSnapshot by id' -Tag 'Snapshot', 'Simulator' {
    BeforeEach { Reset-SnapshotSimulator $sim }

    It 'deletes every snapshot of an older point' {
        $old, $new = New-Points 2
        Remove-CcieSnapshot -RecoveryPointId $old.RecoveryPointId -Confirm:$false
        Get-CcieSnapshot $old.RecoveryPointId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        @(Get-RawSnapshot $sim -Filter @{ 'tag:ccie:recovery-point' = $old.RecoveryPointId }).Count | Should -Be 0
        @(Get-SimulatorRequest $sim DeleteSnapshot).Count | Should -Be 2
        (Get-CcieSnapshot $new.RecoveryPointId).State | Should -Be 'completed'
    }

    It 'refuses the newest completed point without -IncludeNewest (-Force alone is not enough), and deletes it with -IncludeNewest' {
        $old, $new = New-Points 2
        $new | Remove-CcieSnapshot -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Match '^NewestRecoveryPoint'
        $e[0].Exception.Message | Should -Match '-IncludeNewest'
        (Get-CcieSnapshot $new.RecoveryPointId).State | Should -Be 'completed'
        $new | Remove-CcieSnapshot -Force -ErrorVariable e2 -ErrorAction SilentlyContinue
        $e2[0].FullyQualifiedErrorId | Should -Match '^NewestRecoveryPoint'
        (Get-CcieSnapshot $new.RecoveryPointId).State | Should -Be 'completed'

        $d = $new | Remove-CcieSnapshot -IncludeNewest -Force -PassThru
        $d | Should -BeOfType ([CcieDr.RecoveryPointDecision])
        $d.Outcome | Should -Be 'Removed'
        Get-CcieSnapshot $new.RecoveryPointId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'never deletes a point an AMI still uses, and says which AMI' {
        $old, $new = New-Points 2
        $root = ($old.Snapshots | Where-Object IsRootDevice).SnapshotId
        $xml = Invoke-CcieSimulatorEc2 $sim RegisterImage -Parameters @{
            Name = 'restored-services'; RootDeviceName = '/dev/sda1'; VirtualizationType = 'hvm'; Architecture = 'x86_64'
            'BlockDeviceMapping.1.DeviceName' = '/dev/sda1'; 'BlockDeviceMapping.1.Ebs.SnapshotId' = $root
        }
        $ami = $xml.SelectSingleNode("//*[local-name()='imageId']").InnerText

        Remove-CcieSnapshot $old.RecoveryPointId -IncludeNewest -Force -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Match '^RecoveryPointInUse'
        $e[0].CategoryInfo.Category | Should -Be 'ResourceBusy'
        $e[0].Exception.Message | Should -Match $ami
        (Get-CcieSnapshot $old.RecoveryPointId).Snapshots.Count | Should -Be 2
        @(Get-SimulatorRequest $sim DeleteSnapshot).Count | Should -Be 0
    }

    It 'changes nothing with -WhatIf and returns the decision' {
        $old, $new = New-Points 2
        $d = Remove-CcieSnapshot $old.RecoveryPointId -WhatIf
        $d.Outcome | Should -Be 'WhatIf'
        $d.Action | Should -Be 'Remove'
        (Get-CcieSnapshot $old.RecoveryPointId).State | Should -Be 'completed'
        @(Get-SimulatorRequest $sim DeleteSnapshot).Count | Should -Be 0
    }

    It 'cleans up failed points from the pipeline' {
        $null = New-Points 1
        $null = Invoke-CcieSimulatorControl $sim POST faults/snapshot-failure -Body @{ count = 1 }
        $null = New-CcieSnapshot -Wait -ErrorAction SilentlyContinue
        @(Get-CcieSnapshot -State error).Count | Should -Be 1
        Get-CcieSnapshot -State error | Remove-CcieSnapshot -Confirm:$false
        @(Get-CcieSnapshot -State error).Count | Should -Be 0
        @(Get-CcieSnapshot -State completed).Count | Should -Be 1
    }
}

Describe 'Remove-CcieSnapshot by policy' -Tag 'Snapshot', 'Simulator' {
    BeforeAll {
        Reset-SnapshotSimulator $sim
        $points = @(New-Points 4)            # oldest first
        $null = Invoke-CcieSimulatorControl $sim POST faults/snapshot-failure -Body @{ count = 1 }
        $null = New-CcieSnapshot -Wait -ErrorVariable failedErr -ErrorAction SilentlyContinue
        $failed = $failedErr[0].TargetObject
    }

    It '-WhatIf returns a decision per point with the rule that keeps it, and deletes nothing' {
        $d = @(Remove-CcieSnapshot -KeepLast 2 -WhatIf)
        $d.Count | Should -Be 5
        ($d | Where-Object RecoveryPointId -eq $failed.RecoveryPointId).Action | Should -Be 'Remove'
        ($d | Where-Object RecoveryPointId -eq $failed.RecoveryPointId).Reason | Should -Be 'not usable (error)'
        ($d | Where-Object RecoveryPointId -eq $points[3].RecoveryPointId).Reason | Should -Be 'keep-last #1'
        ($d | Where-Object RecoveryPointId -eq $points[2].RecoveryPointId).Reason | Should -Be 'keep-last #2'
        @($d | Where-Object Action -eq 'Remove' | ForEach-Object RecoveryPointId | Sort-Object) |
            Should -Be @(@($points[0].RecoveryPointId, $points[1].RecoveryPointId, $failed.RecoveryPointId) | Sort-Object)
        @($d | Where-Object Action -eq 'Remove' | ForEach-Object Outcome | Select-Object -Unique) | Should -Be @('WhatIf')
        @(Get-SimulatorRequest $sim DeleteSnapshot).Count | Should -Be 0
    }

    It '-WhatIf prints which points go, with their snapshots, and why each kept point is kept' {
        $out = Invoke-SnapshotChildScript $sim 'Remove-CcieSnapshot -KeepLast 2 -WhatIf | Out-Null'
        $out | Should -Match 'What if: Remove-CcieSnapshot in us-east-1 \(policy: keep-last 2\): remove 3 of 5 recovery points'
        $out | Should -Match ("KEEP\s+" + [regex]::Escape($points[3].RecoveryPointId) + '.*keep-last #1')
        $out | Should -Match ("REMOVE\s+" + [regex]::Escape($points[0].RecoveryPointId) + '.*not kept by any rule\s+-> ec2:DeleteSnapshot snap-')
        $out | Should -Match ("REMOVE\s+" + [regex]::Escape($failed.RecoveryPointId) + '.*not usable \(error\)')
    }

    It 'keeps the newest completed point even when no rule does, unless -IncludeNewest' {
        Start-Sleep -Milliseconds 1100   # every point is now older than the 1 s the rule keeps
        $d = @(Remove-CcieSnapshot -OlderThan ([timespan]::FromSeconds(1)) -WhatIf)
        $kept = @($d | Where-Object Action -eq 'Keep')
        $kept.RecoveryPointId | Should -Be @($points[3].RecoveryPointId)
        $kept[0].Reason | Should -Match 'newest completed'
        @(Remove-CcieSnapshot -OlderThan ([timespan]::FromSeconds(1)) -Force -WhatIf | Where-Object Action -eq 'Keep').Count | Should -Be 1
        @(Remove-CcieSnapshot -OlderThan ([timespan]::FromSeconds(1)) -IncludeNewest -WhatIf | Where-Object Action -eq 'Keep').Count | Should -Be 0
    }

    It 'deletes exactly what the policy does not keep, and -PassThru reports it' {
        $d = @(Remove-CcieSnapshot -KeepLast 2 -Confirm:$false -PassThru)
        @($d | Where-Object Outcome -eq 'Removed').Count | Should -Be 3
        @($d | Where-Object Outcome -eq 'Kept').Count | Should -Be 2
        @(Get-CcieSnapshot).RecoveryPointId | Should -Be @($points[3].RecoveryPointId, $points[2].RecoveryPointId)
        @(Get-SimulatorRequest $sim DeleteSnapshot).Count | Should -Be 6
        $text = $d | Out-String -Width 200
        $text | Should -Match 'Action\s+Outcome\s+RecoveryPointId\s+Created\s+State\s+Reason'
    }

    It 'refuses a policy without a rule' {
        { Remove-CcieSnapshot -BoxName circleci_services -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'RetentionPolicyEmpty*'
    }
}
