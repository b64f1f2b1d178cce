# New-CcieSnapshot against the simulator, through the real AWS SDK.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    . (Join-Path $PSScriptRoot 'Snapshot.TestHelpers.ps1')
    $sim = Start-SnapshotTestBed
}

AfterAll {
    Stop-SnapshotTestBed $sim
}

Describe 'New-CcieSnapshot' -Tag 'Snapshot', 'Simulator' {
    BeforeEach { Reset-SnapshotSimulator $sim }

    It 'Get-CcieServicesBox | New-CcieSnapshot -Wait gives a completed point of every volume with the identity' {
        $box = Get-CcieServicesBox
        $rp = $box | New-CcieSnapshot -Wait -Label 'before upgrade 1.48'

        $rp | Should -BeOfType ([CcieDr.RecoveryPoint])
        $rp.RecoveryPointId | Should -Match '^rp-\d{8}T\d{6}Z-[0-9a-f]{8}$'
        $rp.State | Should -Be 'completed'
        $rp.IsComplete | Should -BeTrue
        $rp.Progress | Should -Be 100
        $rp.Region | Should -Be 'us-east-1'
        $rp.Label | Should -Be 'before upgrade 1.48'
        @($rp.Snapshots).Count | Should -Be $box.Volumes.Count
        @($rp.Snapshots.DeviceName) | Should -Be @($box.Volumes.DeviceName)
        @($rp.Snapshots.VolumeId) | Should -Be @($box.Volumes.VolumeId)
        ($rp.Snapshots | Where-Object DeviceName -eq '/dev/xvdf').Encrypted | Should -BeTrue
        $rp.Identity.SourceInstanceId | Should -Be $box.InstanceId
        $rp.Identity.PrivateIpAddress | Should -Be $box.PrivateIpAddress
        $rp.Identity.SubnetId | Should -Be $box.SubnetId
        $rp.Identity.AvailabilityZone | Should -Be $box.AvailabilityZone
        @($rp.Identity.SecurityGroupIds) | Should -Be @($box.SecurityGroupIds)
        $rp.Identity.InstanceType | Should -Be $box.InstanceType
        $rp.Identity.KeyName | Should -Be $box.KeyName
        $rp.Identity.IamInstanceProfileArn | Should -Be $box.IamInstanceProfileArn
        $rp.Identity.RootDeviceName | Should -Be '/dev/sda1'
        $rp.Identity.EnaSupport | Should -BeTrue
        @($rp.Timeline.Action) | Should -Contain 'ec2:CreateSnapshots'
        @(Get-SimulatorRequest $sim CreateSnapshots).Count | Should -Be 1
    }

    It 'shows the point, its snapshots and the identity with Format-List' {
        $text = Get-CcieServicesBox | New-CcieSnapshot -Wait | Format-List | Out-String -Width 300
        foreach ($field in 'RecoveryPointId', 'State', 'Snapshots', 'PrivateIpAddress', 'SubnetId', 'AvailabilityZone',
            'SecurityGroupIds', 'InstanceType', 'KeyName', 'IamInstanceProfileArn', 'RootDeviceName', 'Architecture', 'EnaSupport') {
            $text | Should -Match "(?m)^$field\s*:"
        }
        $text | Should -Match 'State\s*:\s*completed'
        $text | Should -Match '/dev/sda1=snap-'
        $text | Should -Match '/dev/xvdf=snap-\w+ \(completed, 500 GiB gp3 encrypted\)'
        $text | Should -Match 'PrivateIpAddress\s*:\s*10\.0\.1\.10'
    }

    It 'tags every snapshot with the schema, and the seed runbook filter finds them' {
        $rp = New-CcieSnapshot -Wait
        $raw = @(Get-RawSnapshot $sim -Filter @{ description = 'CircleCI*' } | Where-Object { $_.SnapshotId -in $rp.SnapshotIds })
        $raw.Count | Should -Be 2
        foreach ($s in $raw) {
            $s.Description | Should -Match '^CircleCI Services box Backup taken at \d{4}-\d\d-\d\dT'
            $s.Tags['ccie:recovery-point'] | Should -Be $rp.RecoveryPointId
            $s.Tags['ccie:private-ip'] | Should -Be '10.0.1.10'
            $s.Tags['ccie:volume-count'] | Should -Be '2'
            $s.Tags['ccie:device-name'] | Should -BeIn '/dev/sda1', '/dev/xvdf'
            $s.Tags['ccie:iam-instance-profile'] | Should -Match 'instance-profile/'
            $s.Tags['ccie:created-by'] | Should -Match '^CcieDr \d+\.\d+\.\d+$'
            $s.Tags['ccie:run-id'] | Should -Be $rp.RunId
            $s.Tags['Name'] | Should -Be "circleci_services $($s.Tags['ccie:device-name']) $($rp.RecoveryPointId)"
            $s.Tags.Keys | Where-Object { $_ -notlike 'ccie:*' -and $_ -ne 'Name' } | Should -BeNullOrEmpty
        }
    }

    It 'returns a pending point at once without -Wait, and a rerun reuses it instead of duplicating' {
        $null = Invoke-CcieSimulatorControl $sim POST config -Body @{ durations = @{ snapshot = 60 } }
        $first = New-CcieSnapshot
        $first.State | Should -Be 'pending'
        $second = New-CcieSnapshot -WarningVariable warned -WarningAction SilentlyContinue
        $second.RecoveryPointId | Should -Be $first.RecoveryPointId
        "$warned" | Should -Match 'reusing it'
        @(Get-SimulatorRequest $sim CreateSnapshots).Count | Should -Be 1
        @(Get-RawSnapshot $sim -Filter @{ 'tag-key' = 'ccie:recovery-point' }).Count | Should -Be 2
    }

    It 'snapshots volume by volume with -Method PerVolume, with the same tags' {
        $rp = New-CcieSnapshot -Method PerVolume -Wait
        $rp.IsComplete | Should -BeTrue
        @(Get-SimulatorRequest $sim CreateSnapshot).Count | Should -Be 2
        @(Get-SimulatorRequest $sim CreateSnapshots).Count | Should -Be 0
        (Get-CcieSnapshot -RecoveryPointId $rp.RecoveryPointId).Snapshots.DeviceName | Should -Be @('/dev/sda1', '/dev/xvdf')
    }

    It 'reports a failed volume snapshot as an error on an unusable point, which Get-CcieSnapshot shows' {
        $null = Invoke-CcieSimulatorControl $sim POST faults/snapshot-failure -Body @{ count = 1 }
        $out = New-CcieSnapshot -Wait -ErrorVariable failed -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $failed.Count | Should -Be 1
        $failed[0].FullyQualifiedErrorId | Should -Match '^RecoveryPointFailed'
        $failed[0].TargetObject | Should -BeOfType ([CcieDr.RecoveryPoint])
        $failed[0].Exception.Message | Should -Match 'failed'
        $bad = Get-CcieSnapshot -RecoveryPointId $failed[0].TargetObject.RecoveryPointId
        $bad.State | Should -Be 'error'
        $bad.IsComplete | Should -BeFalse
        Get-CcieSnapshot -Latest -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'survives throttling and eventual consistency' {
        $null = Invoke-CcieSimulatorControl $sim POST faults -Body @{ kind = 'throttle'; action = 'DescribeSnapshots'; count = 2 }
        $null = Invoke-CcieSimulatorControl $sim POST faults/eventual-consistency -Body @{ calls = 2 }
        $rp = New-CcieSnapshot -Wait
        $rp.IsComplete | Should -BeTrue
        @($rp.Snapshots).Count | Should -Be 2
    }

    It 'deletes the duplicates of a lost CreateSnapshots response, and only those, and lists them' {
        $null = Invoke-CcieSimulatorControl $sim POST faults -Body @{ kind = 'drop-after'; action = 'CreateSnapshots'; count = 1 }
        $rp = New-CcieSnapshot -Wait
        @(Get-SimulatorRequest $sim CreateSnapshots).Count | Should -Be 2
        @($rp.DeletedDuplicates).Count | Should -Be 2
        @($rp.LeftAlone).Count | Should -Be 0
        foreach ($d in $rp.DeletedDuplicates) {
            $d.Deleted | Should -BeTrue
            $d.RunId | Should -Be $rp.RunId
            $d.Reason | Should -Match 'response was lost'
            $d.SnapshotId | Should -Not -BeIn $rp.SnapshotIds
        }
        @(Get-RawSnapshot $sim -Filter @{ 'tag:ccie:recovery-point' = $rp.RecoveryPointId }).SnapshotId | Sort-Object | Should -Be @($rp.SnapshotIds | Sort-Object)
        ($rp | Format-List | Out-String -Width 300) | Should -Match 'DeletedDuplicates\s*:\s*snap-\w+: a duplicate this run made'
    }

    It 'changes nothing with -WhatIf and shows the calls it would make' {
        $out = Invoke-SnapshotChildScript $sim 'New-CcieSnapshot -Label nightly -WhatIf'
        $out | Should -Match 'What if: New-CcieSnapshot on i-'
        $out | Should -Match 'ec2:CreateSnapshots\s+InstanceId=i-\w+, all 2 volumes together'
        $out | Should -Match '/dev/xvdf=vol-'
        $out | Should -Match "ec2:DeleteSnapshot\s+delete duplicates created by this run's lost responses \(if any\)"
        $out | Should -Match "another run's snapshots of the point are left alone"
        @(Get-SimulatorRequest $sim CreateSnapshots).Count | Should -Be 0
        @(Get-RawSnapshot $sim -Filter @{ 'tag-key' = 'ccie:recovery-point' }).Count | Should -Be 0
    }

    It 'writes a non-terminating ObjectNotFound error for an unknown instance' {
        New-CcieSnapshot -InstanceId i-00000000000000000 -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Match '^ServicesBoxNotFound'
        $e[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $e[0].TargetObject | Should -Be 'i-00000000000000000'
    }

    It 'has the declared parameters and pipeline binding' {
        $c = Get-Command New-CcieSnapshot
        $c.Parameters['InstanceId'].Attributes.ValueFromPipelineByPropertyName | Should -Contain $true
        foreach ($p in 'Name', 'Label', 'Wait', 'TimeoutSeconds', 'Method', 'Region', 'ProfileName', 'EndpointUrl', 'WhatIf', 'Confirm') {
            $c.Parameters.Keys | Should -Contain $p
        }
        $c.OutputType.Name | Should -Contain 'CcieDr.RecoveryPoint'
    }
}
