# The companion module CcieDr.Simulator (operators test their runbooks with it) and every example runbook's
# Pester file under examples/tests, run as an operator would: both modules found on PSModulePath.
# The runbooks probe the app's ports (from the box, through the simulator's SSM sandbox): this file runs inside a
# private network namespace with only loopback (*.Netns.Tests.ps1: tests/pester/Invoke-Tests.ps1 runs it under unshare -n).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Assert-CcieTestPrivateNetwork
    $outDir = Split-Path (Split-Path (Split-Path (Get-CcieTestModulePath)))
    $simModule = Get-ChildItem (Join-Path $outDir 'CcieDr.Simulator') -Filter CcieDr.Simulator.psd1 -Recurse | Select-Object -First 1
    $repo = $env:CCIEDR_REPO_ROOT
    $pester = Get-ChildItem (Join-Path $env:CCIEDR_NUGET_PACKAGES 'pester') -Directory | Where-Object Name -like '5.*' | Sort-Object { [version]($_.Name -replace '-.*$') } | Select-Object -Last 1
    $modulePath = $outDir + [IO.Path]::PathSeparator + $env:PSModulePath
}

Describe 'CcieDr.Simulator module' -Tag 'SimulatorModule' {
    It 'is built next to CcieDr with the simulator program in bin/, and CcieDr itself carries no simulator' {
        $simModule | Should -Not -BeNullOrEmpty
        Join-Path $simModule.DirectoryName 'bin/CcieDr.Simulator.dll' | Should -Exist
        Get-ChildItem (Split-Path (Get-CcieTestModulePath)) -Recurse -Filter 'CcieDr.Simulator*' | Should -BeNullOrEmpty
        (Import-PowerShellDataFile (Get-CcieTestModulePath)).RequiredModules | Should -BeNullOrEmpty
    }

    It 'starts a seeded simulator, points the session at it with -SetEnvironment, and puts everything back on stop' {
        $script = @"
`$ErrorActionPreference = 'Stop'
`$env:AWS_ACCESS_KEY_ID = 'AKIDBEFORE'; `$env:AWS_REGION = 'eu-west-1'
Import-Module CcieDr, CcieDr.Simulator
`$sim = Start-CcieSimulator -TransitionSeconds 0.2 -SetEnvironment
"url:`$(`$sim.Url)"
"key:`$env:AWS_ACCESS_KEY_ID region:`$env:AWS_REGION"
`$box = Get-CcieServicesBox
"box:`$(`$box.InstanceId):`$(`$box.State):`$(`$box.Tags['Name'])"
Invoke-CcieSimulatorOutage -Impaired -InstanceId `$box.InstanceId
"impaired:`$((Get-CcieSimulatorState).regions.'us-east-1'.instances | Where-Object id -eq `$box.InstanceId | ForEach-Object instanceStatus)"
Add-CcieSimulatorFault -Kind throttle -Action DescribeInstances -Count 1 | Out-Null
`$null = Get-CcieServicesBox
"throttled:`$(@(Invoke-CcieSimulatorControl faults).served | Where-Object { `$_.kind -eq 'throttle' } | ForEach-Object count)"
"logged:`$(@(Get-CcieSimulatorRequest -Action DescribeInstances).Count -ge 2)"
`$before = (Set-CcieSimulatorClock).now
"advanced:`$(([datetime](Set-CcieSimulatorClock -Advance (New-TimeSpan -Hours 1)).now - [datetime]`$before).TotalMinutes -ge 60)"
`$p = `$sim.Pid
Stop-CcieSimulator `$sim
"after:`$env:AWS_ACCESS_KEY_ID region:`$env:AWS_REGION default:`$(`$PSDefaultParameterValues.Contains('*-Ccie*:EndpointUrl'))"
"exited:`$(`$null -eq (Get-Process -Id `$p -ErrorAction SilentlyContinue))"
"@
        $r = Invoke-CcieChildPwsh -Script $script -Environment @{ PSModulePath = $modulePath; CCIEDR_SIMULATOR = '' }
        $r.ExitCode | Should -Be 0 -Because $r.Error
        $r.Output | Should -Match 'url:http://127\.0\.0\.1:\d+'
        $r.Output | Should -Match 'key:AKIDCCIESIMULATOR region:us-east-1'
        $r.Output | Should -Match 'box:i-[0-9a-f]+:running:circleci_services'
        $r.Output | Should -Match 'impaired:impaired'
        $r.Output | Should -Match 'throttled:1'
        $r.Output | Should -Match 'logged:True'
        $r.Output | Should -Match 'advanced:True'
        $r.Output | Should -Match 'after:AKIDBEFORE region:eu-west-1 default:False'
        $r.Output | Should -Match 'exited:True'
    }

    It 'says what to do when the simulator program is missing' {
        $script = "Import-Module CcieDr.Simulator; try { Start-CcieSimulator -SimulatorPath '/nonexistent/CcieDr.Simulator.dll' } catch { 'error:' + `$_.Exception.Message }"
        $r = Invoke-CcieChildPwsh -Script $script -Environment @{ PSModulePath = $modulePath }
        $r.Output | Should -Match "error:No simulator at '/nonexistent/CcieDr.Simulator.dll'.*build\.ps1 Build"
    }

    It 'the "Test your runbooks" page shows the example test file exactly as it is' {
        $page = Get-Content (Join-Path $repo 'docs/TestYourRunbooks.md') -Raw
        $example = (Get-Content (Join-Path $repo 'examples/tests/Restore-ServicesBoxOnOutage.Tests.ps1') -Raw).TrimEnd()
        $page.Contains($example) | Should -BeTrue
    }
}

Describe 'Example runbooks under Pester' -Tag 'Examples' {
    BeforeDiscovery {
        $examples = Get-ChildItem (Join-Path $env:CCIEDR_REPO_ROOT 'examples/tests') -Filter '*.Tests.ps1' | ForEach-Object { @{ File = $_.FullName; Name = $_.Name } }
    }

    It '<Name> passes against the simulator' -ForEach $examples {
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$($pester.FullName)/tools/Pester.psd1'
`$c = New-PesterConfiguration
`$c.Run.Path = '$File'
`$c.Run.PassThru = `$true
`$c.Output.Verbosity = 'Detailed'
`$r = Invoke-Pester -Configuration `$c
"result:`$(`$r.PassedCount):`$(`$r.FailedCount)"
"@
        $r = Invoke-CcieChildPwsh -Script $script -Environment @{ PSModulePath = $modulePath; CCIEDR_SIMULATOR = '' }
        $r.Output -match 'result:(\d+):(\d+)' | Should -BeTrue -Because ($r.Output + $r.Error)
        [int]$Matches[2] | Should -Be 0 -Because $r.Output
        [int]$Matches[1] | Should -BeGreaterThan 0
    }
}
