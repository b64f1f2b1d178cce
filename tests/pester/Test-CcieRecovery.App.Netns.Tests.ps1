# Test-CcieRecovery's app step on the simulator: the drill box is reached over SSM (the simulator's sandbox runs the
# commands), CircleCI is started there (Replicated's addresses rewritten to the drill box's new IP, restart, start),
# its ports are probed from the box itself (inside the sandbox's own network namespace), and the health verdict runs
# on it. Probing test: runs under unshare -n (*.Netns.Tests.ps1); no traffic leaves 127.0.0.0/8.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    Assert-CcieTestPrivateNetwork
    $env:CCIEDR_POLL_SCALE = '0.05'
    $script:sim = Start-CcieTestSimulator -TransitionSeconds 0.2
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'

    function Get-LiveIds {
        $r = (Invoke-CcieSimulatorControl $sim GET state).regions.'us-east-1'
        [pscustomobject]@{
            Instances = @($r.instances | Where-Object { $_.state -ne 'terminated' } | ForEach-Object id | Sort-Object)
            Images    = @($r.images | Where-Object { $_.state -ne 'deregistered' } | ForEach-Object id | Sort-Object)
            Groups    = @($r.securityGroups | ForEach-Object id | Sort-Object)
        }
    }
    function Invoke-Standin([string] $InstanceId, [string[]] $Arguments) {
        $r = Invoke-CcieSimulatorControl $sim POST "boxes/$InstanceId/standin" @{ args = $Arguments }
        if ($r.exitCode -ne 0) { throw "replicated-standin $Arguments on $InstanceId failed: $($r.stderr)" }
        $r
    }

    $script:box = Get-CcieServicesBox
    # The production box's disk exists in the sandbox before the point is taken, so the drill box gets a copy of it
    # (with the production IP in /etc/default/replicated*, as a real restore would).
    $script:prodDefaults = (Invoke-CcieSimulatorControl $sim GET "boxes/$($box.InstanceId)/file?path=/etc/default/replicated").content
    $script:point = New-CcieSnapshot -Wait -Confirm:$false
}

AfterAll {
    $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl'); $PSDefaultParameterValues.Remove('*-Ccie*:Region')
    Remove-Item Env:CCIEDR_POLL_SCALE -ErrorAction SilentlyContinue
    if ($sim) { Stop-CcieTestSimulator $sim }
}

Describe 'Test-CcieRecovery with the app' -Tag 'Drill', 'Simulator' {
    It 'starts CircleCI on the isolated drill box over SSM, probes it from the box, judges it: Passed, every step in the timeline and the report, nothing left' {
        $before = Get-LiveIds
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
        $report = Join-Path $TestDrive 'drill.html'

        $r = Get-CcieSnapshot -Latest | Test-CcieRecovery -Isolated -ReportPath $report -Confirm:$false -WarningAction SilentlyContinue

        $r.Verdict | Should -Be 'Passed' -Because $r.Reason
        $r.Rto | Should -BeGreaterThan ([TimeSpan]::Zero)
        ($r.Checks | Where-Object Name -eq 'app').Status | Should -Be 'Pass'
        ($r.Checks | Where-Object Name -eq 'app').Detail | Should -Match 'CircleCI started on i-.*ports 80, 443, 4434, 8800 open from the box'
        ($r.Checks | Where-Object Name -eq 'health').Status | Should -BeIn 'Pass', 'Warn'
        $steps = @($r.Timeline | ForEach-Object Action)
        foreach ($s in 'WaitRemoteChannel', 'FixReplicatedAddresses', 'RestartReplicated', 'StartApp', 'WaitAppStarted', 'WaitAppPorts', 'HealthVerdict') { $steps | Should -Contain $s }
        $steps.IndexOf('WaitAppPorts') | Should -BeLessThan $steps.IndexOf('HealthVerdict')
        $steps.IndexOf('HealthVerdict') | Should -BeLessThan $steps.IndexOf('Tear down')
        ($r.Timeline | Where-Object Action -eq 'WaitRemoteChannel').Detail | Should -Match '^Ssm '
        # The copy of the production disk named the old IP: the drill box's Replicated now names its own.
        ($r.Timeline | Where-Object Action -eq 'FixReplicatedAddresses').Detail | Should -Match ([regex]::Escape("$($box.PrivateIpAddress) -> $($r.PrivateIpAddress)"))
        ($r.Timeline | Where-Object Action -eq 'WaitAppPorts').Detail | Should -Match 'open from the box'

        # SSM commands went to the drill box only; production's files are as they were.
        $ssm = @(Invoke-CcieSimulatorControl $sim GET 'requests?action=SendCommand')
        $ssm.Count | Should -BeGreaterThan 0
        ($ssm | ForEach-Object { $_.parameters | ConvertTo-Json -Depth 5 -Compress }) -join "`n" | Should -Not -Match $box.InstanceId
        (Invoke-CcieSimulatorControl $sim GET "boxes/$($box.InstanceId)/file?path=/etc/default/replicated").content | Should -Be $prodDefaults

        $html = Get-Content $report -Raw
        foreach ($s in 'StartApp', 'WaitAppPorts', 'HealthVerdict') { $html | Should -Match $s }

        # Nothing of the drill is left: the sweeper finds nothing tagged ccie:drill, and the world is as it was.
        @(Remove-CcieDrill -Confirm:$false) | Should -BeNullOrEmpty
        $after = Get-LiveIds
        $after.Instances | Should -Be $before.Instances
        $after.Images | Should -Be $before.Images
        $after.Groups | Should -Be $before.Groups
        (Get-CcieSnapshot -RecoveryPointId $point.RecoveryPointId).LastDrillVerdict | Should -Be 'Passed'
    }

    It 'fails the drill naming the app when it does not start, and still removes everything' {
        # The production box's stand-in: app stopped, and the next start fails; the drill box's disk is a copy of it.
        $null = Invoke-Standin $box.InstanceId @('init', '--state', 'stopped', '--start-seconds', '1')
        $null = Invoke-Standin $box.InstanceId @('fail-start', 'on')
        try {
            $bad = New-CcieSnapshot -Wait -Confirm:$false
            $before = Get-LiveIds

            $r = $bad | Test-CcieRecovery -Isolated -Confirm:$false -WarningAction SilentlyContinue -AppTimeoutSec 60
        }
        finally {
            $null = Invoke-Standin $box.InstanceId @('init', '--state', 'started')
        }

        $r.Verdict | Should -Be 'Failed'
        $r.Reason | Should -Match '^app: CircleCI did not start on the drill box i-'
        $r.Reason | Should -Match 'circleci-frontend failed to start'
        $r.Rto | Should -BeNullOrEmpty
        ($r.Timeline | Where-Object Action -eq 'WaitAppStarted').Outcome | Should -Be 'Failed'
        $r.Timeline.Action | Should -Not -Contain 'HealthVerdict'
        @($r.Resources | Where-Object { -not $_.Removed }) | Should -BeNullOrEmpty
        @(Remove-CcieDrill -Confirm:$false) | Should -BeNullOrEmpty
        $after = Get-LiveIds
        $after.Instances | Should -Be $before.Instances
        $after.Groups | Should -Be $before.Groups
        $after.Images | Should -Be $before.Images
        (Get-CcieSnapshot -RecoveryPointId $bad.RecoveryPointId).LastDrillVerdict | Should -Be 'Failed'
    }
}
