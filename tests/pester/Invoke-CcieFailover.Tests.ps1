# Invoke-CcieFailover against the simulator: the plan, and the refusals that need no remote shell.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    . (Join-Path $PSScriptRoot 'Snapshot.TestHelpers.ps1')
    $sim = Start-SnapshotTestBed
}

AfterAll {
    Stop-SnapshotTestBed $sim
}

Describe 'Invoke-CcieFailover' -Tag 'Failover', 'Simulator' {
    BeforeEach {
        Reset-SnapshotSimulator $sim
        $script:box = Get-CcieServicesBox
        $null = $box | Add-CcieFloatingIp -PrivateIpAddress 10.0.1.200 -Confirm:$false
        $null = $box | New-CcieServicesBoxImage -NoReboot -Confirm:$false -WarningAction SilentlyContinue
        $script:replica = New-CcieReplica -InstanceId $box.InstanceId -SubnetId $box.SubnetId -Confirm:$false
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
    }

    It '-WhatIf prints the fenced plan in order and changes nothing' {
        $null = Invoke-CcieSimulatorControl $sim POST faults/instance-death -Body @{ instanceId = $box.InstanceId; stopAfterSeconds = 60 }
        # -WhatIf writes to the host: run it in a child session and read its stdout.
        $r = Invoke-CcieChildPwsh -Script "Import-Module '$(Get-CcieTestModulePath)'; Invoke-CcieFailover -WhatIf -SshConnectTimeoutSec 1 -Region us-east-1 -EndpointUrl '$($sim.Url)'" -Environment @{ AWS_ACCESS_KEY_ID = 'AKIDCCIEDRTEST'; AWS_SECRET_ACCESS_KEY = 'x'; CCIEDR_POLL_SCALE = '0.05' }
        $r.ExitCode | Should -Be 0 -Because $r.Error
        $out = $r.Output
        $out | Should -Match 'ec2:StopInstances\s+InstanceIds=\S+ Force=true'
        $out | Should -Match 'ec2:AssignPrivateIpAddresses\s+PrivateIpAddress=10\.0\.1\.200'
        $out.IndexOf('ec2:StopInstances') | Should -BeLessThan $out.IndexOf('ec2:AssignPrivateIpAddresses')
        $out | Should -Match 'Mode 1 \(floating IP\)'
        $log = @(Invoke-CcieSimulatorControl $sim GET requests | ForEach-Object { $_ })
        @($log | Where-Object { $_.action -notlike 'Describe*' }).Count | Should -Be 0
    }

    It 'refuses a primary that EC2 calls healthy when its app cannot be checked' {
        Invoke-CcieFailover -Confirm:$false -Transport Ssh -SshConnectTimeoutSec 1 -ErrorAction SilentlyContinue -ErrorVariable refused
        $refused[0].FullyQualifiedErrorId | Should -Match '^PrimaryNotProvenDown'
        "$($refused[0])" | Should -Match '-Planned'
        @(Get-SimulatorRequest $sim StopInstances).Count | Should -Be 0
        (Get-CcieReplica -ReplicaId $replica.InstanceId).State | Should -Be 'stopped'
    }

    It 'refuses without -AssumePrimaryDead when the primary''s AZ cannot stop it' {
        $null = Invoke-CcieSimulatorControl $sim POST faults/az-outage -Body @{ zone = 'us-east-1a'; mode = 'ApiErrors' }
        Invoke-CcieFailover -Confirm:$false -SshConnectTimeoutSec 1 -ErrorAction SilentlyContinue -ErrorVariable refused
        $refused[0].FullyQualifiedErrorId | Should -Match '^PrimaryNotFenced'
        "$($refused[0])" | Should -Match 'AssumePrimaryDead'
        @(Get-SimulatorRequest $sim StartInstances).Count | Should -Be 0
        @(Get-SimulatorRequest $sim AssignPrivateIpAddresses).Count | Should -Be 0
    }
}
