# Copy-CcieSnapshot against the simulator, through the real AWS SDK (one endpoint serves every region).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    . (Join-Path $PSScriptRoot 'Snapshot.TestHelpers.ps1')
    $sim = Start-SnapshotTestBed
}

AfterAll {
    Stop-SnapshotTestBed $sim
}

Describe 'Copy-CcieSnapshot' -Tag 'Snapshot', 'Simulator' {
    BeforeEach { Reset-SnapshotSimulator $sim }

    It 'copies the newest point to the DR region, where Get-CcieSnapshot -Region finds it with the same id and identity' {
        $rp = New-CcieSnapshot -Wait -Label 'dr copy'
        $copy = Get-CcieSnapshot -Latest | Copy-CcieSnapshot -DestinationRegion us-west-2 -Wait

        $copy | Should -BeOfType ([CcieDr.RecoveryPoint])
        $copy.RecoveryPointId | Should -Be $rp.RecoveryPointId
        $copy.Region | Should -Be 'us-west-2'
        $copy.State | Should -Be 'completed'
        $copy.CopiedFrom | Should -Be "us-east-1/$($rp.RecoveryPointId)"

        $found = Get-CcieSnapshot -Region us-west-2 -Latest
        $found.RecoveryPointId | Should -Be $rp.RecoveryPointId
        $found.Label | Should -Be 'dr copy'
        @($found.Snapshots.DeviceName) | Should -Be @('/dev/sda1', '/dev/xvdf')
        @($found.Snapshots.SourceSnapshotId | Sort-Object) | Should -Be @($rp.SnapshotIds | Sort-Object)
        $found.Identity.PrivateIpAddress | Should -Be $rp.Identity.PrivateIpAddress
        $found.Identity.SubnetId | Should -Be $rp.Identity.SubnetId
        ($found.Snapshots | Where-Object DeviceName -eq '/dev/xvdf').Encrypted | Should -BeTrue
        ($found.Snapshots | Where-Object DeviceName -eq '/dev/sda1').Encrypted | Should -BeFalse

        $raw = @(Get-RawSnapshot $sim -Region us-west-2)
        $raw.Count | Should -Be 2
        $raw | ForEach-Object { $_.Description | Should -Match '^CircleCI Services box Backup taken at ' }
        $raw | ForEach-Object { $_.Tags['ccie:source-region'] | Should -Be 'us-east-1' }
    }

    It 'encrypts every copy with -KmsKeyId' {
        $key = 'arn:aws:kms:us-west-2:123456789012:key/0f0f0f0f-1111-2222-3333-444444444444'
        $copy = New-CcieSnapshot -Wait | Copy-CcieSnapshot -DestinationRegion us-west-2 -KmsKeyId $key -Wait
        $copy.Snapshots | ForEach-Object { $_.Encrypted | Should -BeTrue; $_.KmsKeyId | Should -Be $key }
        (Get-SimulatorRequest $sim CopySnapshot | ForEach-Object { $_.parameters.KmsKeyId } | Select-Object -Unique) | Should -Be $key
    }

    It 'waits for a pending source and reuses its copies on a rerun' {
        $rp = New-CcieSnapshot
        $rp.State | Should -Be 'pending'
        $copy = $rp | Copy-CcieSnapshot -DestinationRegion us-west-2
        $copy.RecoveryPointId | Should -Be $rp.RecoveryPointId
        @(Get-SimulatorRequest $sim CopySnapshot).Count | Should -Be 2

        $again = $rp | Copy-CcieSnapshot -DestinationRegion us-west-2 -Wait
        @($again.SnapshotIds | Sort-Object) | Should -Be @($copy.SnapshotIds | Sort-Object)
        @(Get-SimulatorRequest $sim CopySnapshot).Count | Should -Be 2
        $again.State | Should -Be 'completed'
    }

    It 'copies and removes piped points in their own region even with a session default region' {
        $rp = New-CcieSnapshot -Wait
        $west = $rp | Copy-CcieSnapshot -DestinationRegion us-west-2 -Wait
        # The session default is us-east-1; the piped copy lives in us-west-2.
        $eu = Get-CcieSnapshot -Region us-west-2 -Latest | Copy-CcieSnapshot -DestinationRegion eu-west-1 -Wait
        $eu.Region | Should -Be 'eu-west-1'
        $eu.CopiedFrom | Should -Be "us-west-2/$($rp.RecoveryPointId)"
        @(Get-SimulatorRequest $sim CopySnapshot | Where-Object { $_.parameters.SourceRegion -eq 'us-west-2' }).Count | Should -Be 2

        Get-CcieSnapshot -Region us-west-2 | Remove-CcieSnapshot -IncludeNewest -Force -Confirm:$false
        @(Get-CcieSnapshot -Region us-west-2).Count | Should -Be 0
        (Get-CcieSnapshot $rp.RecoveryPointId).State | Should -Be 'completed'    # the us-east-1 original stays
        (Get-CcieSnapshot -Region eu-west-1 -Latest).RecoveryPointId | Should -Be $rp.RecoveryPointId
        $west.Region | Should -Be 'us-west-2'
    }

    It 'changes nothing with -WhatIf' {
        $rp = New-CcieSnapshot -Wait
        $out = Invoke-SnapshotChildScript $sim "Copy-CcieSnapshot $($rp.RecoveryPointId) -DestinationRegion us-west-2 -WhatIf"
        $out | Should -Match 'What if: Copy-CcieSnapshot on rp-\S+ \(us-east-1 -> us-west-2\)'
        $out | Should -Match 'ec2:CopySnapshot\s+in us-west-2: SourceRegion=us-east-1 SourceSnapshotId=snap-'
        $out | Should -Match "ec2:DeleteSnapshot\s+in us-west-2: delete duplicates created by this run's lost responses \(if any\)"
        $out | Should -Match 'ec2:DeleteSnapshot\s+in us-west-2: earlier copies that failed'
        @(Get-SimulatorRequest $sim CopySnapshot).Count | Should -Be 0
        @(Get-CcieSnapshot -Region us-west-2).Count | Should -Be 0
    }

    It 'refuses the same region and unusable points with clear errors' {
        $rp = New-CcieSnapshot -Wait
        $rp | Copy-CcieSnapshot -DestinationRegion us-east-1 -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Match '^SameRegion'
        $e[0].CategoryInfo.Category | Should -Be 'InvalidArgument'

        $null = Invoke-CcieSimulatorControl $sim POST faults/snapshot-failure -Body @{ count = 1 }
        $null = New-CcieSnapshot -Wait -ErrorVariable bad -ErrorAction SilentlyContinue
        Copy-CcieSnapshot $bad[0].TargetObject.RecoveryPointId -DestinationRegion us-west-2 -ErrorVariable e2 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e2[0].FullyQualifiedErrorId | Should -Match '^RecoveryPointNotUsable'
    }
}
