# Get-CcieBuilder and Set-CcieBuilderCapacity against the simulator's Auto Scaling API, through the built module.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    $sim = Start-CcieTestSimulator
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'

    function Reset-Simulator {
        Invoke-CcieSimulatorControl $sim POST reset | Out-Null
        Invoke-CcieSimulatorControl $sim POST seed @{ region = 'us-east-1' } | Out-Null
    }

    function Resume-Builders {
        Invoke-CcieSimulatorControl $sim POST autoscaling @{ region = 'us-east-1'; name = 'circleci-builders'; suspended = $false } | Out-Null
    }

    function Get-SimulatorNow { ([datetime](Invoke-CcieSimulatorControl $sim GET clock).now).ToUniversalTime() }

    function Get-GroupInfo { @(Invoke-CcieSimulatorControl $sim GET autoscaling)[0] }

    # Auto Scaling calls the simulator logged that change something.
    function Get-AutoScalingChange {
        @(Invoke-CcieSimulatorControl $sim GET requests | ForEach-Object { $_ } |
            Where-Object { $_.service -eq 'autoscaling' -and $_.action -notmatch '^Describe' } | ForEach-Object { $_.action })
    }
}

AfterAll {
    $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
    $PSDefaultParameterValues.Remove('*-Ccie*:Region')
    if ($sim) { Stop-CcieTestSimulator $sim }
}

Describe 'Get-CcieBuilder' -Tag 'Builders', 'Simulator' {
    BeforeAll { Reset-Simulator }

    It 'finds the builders group by its user data and lists each builder pointing at the box' {
        $builders = @(Get-CcieBuilder)
        $builders.Count | Should -Be 2
        foreach ($b in $builders) {
            $b | Should -BeOfType ([CcieDr.Builder])
            $b.AutoScalingGroupName | Should -Be 'circleci-builders'
            $b.InstanceId | Should -Match '^i-[0-9a-f]+$'
            $b.LifecycleState | Should -Be 'InService'
            $b.State | Should -Be 'running'
            $b.HealthStatus | Should -Be 'Healthy'
            $b.LaunchTemplateId | Should -Match '^lt-'
            $b.LaunchTemplateVersion | Should -Be '1'
            $b.ServicesPrivateIp | Should -Be '10.0.1.10'
            $b.Stale | Should -BeFalse
            $b.LaunchTime | Should -BeOfType ([datetime])
        }
        @($builders.AvailabilityZone | Sort-Object) | Should -Be @('us-east-1a', 'us-east-1b')
        $text = $builders | Out-String -Width 250
        $text | Should -Match 'InstanceId\s+Lifecycle\s+State\s+Health\s+AZ'
        $text | Should -Match 'lt-[0-9a-f]+ v1'
    }

    It 'summarises the group: size, in service, stale, and whether it points at the box' {
        $g = Get-CcieBuilder -Summary
        $g | Should -BeOfType ([CcieDr.BuilderGroup])
        $g.DesiredCapacity | Should -Be 2
        $g.MaxSize | Should -Be 10
        $g.InService | Should -Be 2
        $g.Stale | Should -Be 0
        $g.ConfiguredServicesPrivateIp | Should -Be '10.0.1.10'
        $g.ServicesPrivateIp | Should -Be '10.0.1.10'
        $g.PointsAtServicesBox | Should -BeTrue
        $g.Builders.Count | Should -Be 2
        ($g | Out-String) | Should -Match 'Size\s*:\s*desired 2 \(min 0, max 10\)'
    }

    It 'marks every builder stale when the box has another IP, and -Stale filters' {
        $stale = @(Get-CcieBuilder -ServicesPrivateIp 10.0.1.99 -Stale)
        $stale.Count | Should -Be 2
        $stale | ForEach-Object { $_.StaleReasons | Should -Be @('WrongServicesIp') }
        $stale[0].StaleReason | Should -Match 'launched with SERVICES_PRIVATE_IP=10\.0\.1\.10; the Services box is at 10\.0\.1\.99'
        (Get-CcieBuilder -ServicesPrivateIp 10.0.1.99 -Summary).PointsAtServicesBox | Should -BeFalse
        @(Get-CcieBuilder -Stale).Count | Should -Be 0
    }

    It 'marks builders older than -MaxAge stale' {
        $old = @(Get-CcieBuilder -MaxAge (New-TimeSpan -Days 1))
        $old | ForEach-Object { $_.StaleReasons | Should -Be @('OlderThanMaxAge') }
        @(Get-CcieBuilder -MaxAge (New-TimeSpan -Days 30) -Stale).Count | Should -Be 0
    }

    It 'an unknown group is a non-terminating ObjectNotFound error naming the fix' {
        $out = Get-CcieBuilder -AutoScalingGroupName nope -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Match '^BuilderGroupNotFound'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].Exception.Message | Should -Match 'AutoScalingGroupName'
    }
}

Describe 'Set-CcieBuilderCapacity' -Tag 'Builders', 'Simulator' {
    BeforeEach { Reset-Simulator }

    It '-Add 3 -Until (simulated now + 1 h) raises the group and, after the clock passes, returns it' {
        Resume-Builders
        $until = (Get-SimulatorNow).AddHours(1)
        $r = Set-CcieBuilderCapacity -Add 3 -Until $until -Confirm:$false
        $r | Should -BeOfType ([CcieDr.BuilderCapacityResult])
        $r.PreviousDesiredCapacity | Should -Be 2
        $r.DesiredCapacity | Should -Be 5
        $r.MaxSize | Should -Be 10
        $r.Applied | Should -BeTrue
        $r.ScheduledActionName | Should -Be 'ccie-builder-capacity-return'
        $r.Until | Should -Be $until
        (Get-GroupInfo).desiredCapacity | Should -Be 5
        ($r | Out-String) | Should -Match 'DesiredCapacity\s*:\s*2 -> 5'

        Invoke-CcieSimulatorControl $sim POST clock/advance @{ seconds = 3605 } | Out-Null
        (Get-CcieBuilder -Summary).DesiredCapacity | Should -Be 2
        (Get-GroupInfo).maxSize | Should -Be 10
    }

    It 'raises MaxSize with -DesiredCapacity above it and returns MaxSize too' {
        Resume-Builders
        $r = Set-CcieBuilderCapacity -AutoScalingGroupName circleci-builders -DesiredCapacity 13 -Until (Get-SimulatorNow).AddMinutes(30) -Confirm:$false
        $r.PreviousMaxSize | Should -Be 10
        $r.MaxSize | Should -Be 13
        Get-AutoScalingChange | Should -Contain 'UpdateAutoScalingGroup'
        Invoke-CcieSimulatorControl $sim POST clock/advance @{ seconds = 1805 } | Out-Null
        $g = Get-GroupInfo
        $g.desiredCapacity | Should -Be 2
        $g.maxSize | Should -Be 10
    }

    It '-WhatIf changes nothing and warns about suspended processes' {
        $null = Set-CcieBuilderCapacity -Add 3 -Until (Get-SimulatorNow).AddHours(1) -WhatIf -WarningVariable warn 3>$null
        Get-AutoScalingChange | Should -BeNullOrEmpty
        (Get-GroupInfo).desiredCapacity | Should -Be 2
        ($warn -join "`n") | Should -Match 'ScheduledActions process is suspended'
        ($warn -join "`n") | Should -Match 'Launch process is suspended'
    }

    It 'an -Until in the past is an InvalidArgument error that changes nothing' {
        $null = Set-CcieBuilderCapacity -Add 1 -Until (Get-SimulatorNow).AddMinutes(-1) -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Match '^InvalidUntil'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        Get-AutoScalingChange | Should -BeNullOrEmpty
    }

    It 'takes the group from Get-CcieBuilder -Summary through the pipeline' {
        Resume-Builders
        $r = Get-CcieBuilder -Summary | Set-CcieBuilderCapacity -Add 1 -Confirm:$false
        $r.DesiredCapacity | Should -Be 3
        $r.Until | Should -BeNullOrEmpty
    }
}
