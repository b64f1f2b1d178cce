# New/Get/Remove-CcieServicesBoxImage, New/Get/Update-CcieReplica and Add-CcieFloatingIp against the simulator.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    . (Join-Path $PSScriptRoot 'Snapshot.TestHelpers.ps1')
    $sim = Start-SnapshotTestBed
}

AfterAll {
    Stop-SnapshotTestBed $sim
}

Describe 'Images and replicas of the Services box' -Tag 'Failover', 'Simulator' {
    BeforeEach { Reset-SnapshotSimulator $sim }

    It '-WhatIf changes nothing' {
        New-CcieServicesBoxImage -WhatIf
        Add-CcieFloatingIp -WhatIf
        @(Get-SimulatorRequest $sim CreateImage).Count | Should -Be 0
        @(Get-SimulatorRequest $sim AssignPrivateIpAddresses).Count | Should -Be 0
        @(Get-CcieServicesBoxImage).Count | Should -Be 0
    }

    It 'makes an image, a mode 1 replica next to a floating IP, and protects the image it was launched from' {
        $box = Get-CcieServicesBox
        $ip = $box | Add-CcieFloatingIp -PrivateIpAddress 10.0.1.200 -Confirm:$false
        $ip.PrivateIpAddress | Should -Be '10.0.1.200'
        $image = $box | New-CcieServicesBoxImage -NoReboot -Confirm:$false -WarningVariable warned -WarningAction SilentlyContinue
        $image | Should -BeOfType ([CcieDr.ServicesBoxImage])
        $image.State | Should -Be 'available'
        $image.SnapshotIds.Count | Should -Be $box.Volumes.Count
        "$warned" | Should -Match 'crash-consistent'

        $replica = New-CcieReplica -InstanceId $box.InstanceId -SubnetId $box.SubnetId -Confirm:$false
        $replica | Should -BeOfType ([CcieDr.Replica])
        $replica.State | Should -Be 'stopped'
        $replica.Mode | Should -Be 'FloatingIp'
        $replica.ImageId | Should -Be $image.ImageId
        (Get-CcieReplica -InstanceId $box.InstanceId).InstanceId | Should -Be $replica.InstanceId

        $listed = Get-CcieServicesBoxImage -Latest
        $listed.ReplicaInstanceIds | Should -Be @($replica.InstanceId)
        $listed | Remove-CcieServicesBoxImage -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable refused
        $refused[0].FullyQualifiedErrorId | Should -Match '^ImageIsNewest'
        @(Get-CcieServicesBoxImage).Count | Should -Be 1
    }

    It 'launches a replica in another AZ (mode 3) by default' {
        $null = New-CcieServicesBoxImage -NoReboot -Confirm:$false -WarningAction SilentlyContinue
        $replica = New-CcieReplica -Confirm:$false
        $replica.AvailabilityZone | Should -Be 'us-east-1b'
        $replica.Mode | Should -Be 'NewIp'
        $replica.ModeDescription | Should -Match 'loss of the primary''s AZ'
    }
}
