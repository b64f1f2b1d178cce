# Restore-CcieServicesBox -StartApp on the simulator, over SSM (no -Transport: the default selection): the box is
# terminated, restored from the latest recovery point, and the post-restore recovery runs on the NEW instance, in its
# bubblewrap sandbox (a copy of the old box's disk, booted with the app stopped, the old IP in /etc/default/replicated*).
# The app's ports are probed from the box: -From left at its default probes a simulated address from the box (the
# acceptance command has no -From), and inside the sandbox the ports listen only while the stand-in's app is started. Probing test: runs under unshare -n (*.Netns.Tests.ps1).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    Assert-CcieTestPrivateNetwork
    $script:steps = 'WaitRemoteChannel', 'FixReplicatedAddresses', 'RestartReplicated', 'StartApp', 'WaitAppStarted', 'WaitAppPorts'

    function Wait-Terminated([string] $InstanceId) {
        $null = Invoke-CcieSimulatorEc2 $sim TerminateInstances @{ 'InstanceId.1' = $InstanceId }
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        do {
            Start-Sleep -Milliseconds 100
            $state = (Invoke-CcieSimulatorEc2 $sim DescribeInstances @{ 'InstanceId.1' = $InstanceId }).DescribeInstancesResponse.reservationSet.item.instancesSet.item.instanceState.name
        } while ($state -ne 'terminated' -and [DateTime]::UtcNow -lt $deadline)
        $state | Should -Be 'terminated'
    }

    # A file of a box, read inside its sandbox by the simulator's control API.
    function Get-BoxFile([string] $InstanceId, [string] $Path) {
        (Invoke-CcieSimulatorControl $sim GET "boxes/$InstanceId/file?path=$([uri]::EscapeDataString($Path))").content
    }

    # Every request the simulator logged (Invoke-RestMethod hands a JSON array over as one object: enumerate it).
    function Get-RequestLog { @(Invoke-CcieSimulatorControl $sim GET requests | ForEach-Object { $_ }) }
}

Describe 'Restore-CcieServicesBox -StartApp over SSM' -Tag 'Restore', 'Remote', 'Ssm', 'Simulator' {
    BeforeEach {
        $script:sim = Start-CcieTestSimulator
        $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
        $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
        $script:old = Get-CcieServicesBox
        # The box before the outage: its app runs (this also gives it its disk in the sandbox, which the snapshot carries).
        (Get-CcieApp -InstanceId $old.InstanceId).State | Should -Be 'started'
        $null = New-CcieSnapshot -Confirm:$false -Wait
        Wait-Terminated $old.InstanceId
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
    }

    AfterEach {
        $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
        $PSDefaultParameterValues.Remove('*-Ccie*:Region')
        if ($sim) { Stop-CcieTestSimulator $sim }
    }

    It 'restores the terminated box and starts the app on the NEW instance; Get-CcieApp shows started; same IP: no fix-up, no restart' {
        # The acceptance command as an operator types it: no -From, no probe overrides.
        $r = Get-CcieSnapshot -Latest | Restore-CcieServicesBox -StartApp -AppTimeoutSec 120 -Confirm:$false
        $r.Status | Should -Be 'Succeeded'
        $r.InstanceId | Should -Not -Be $old.InstanceId
        $r.PrivateIpAddress | Should -Be $old.PrivateIpAddress
        $r.AppState | Should -Be 'started'
        $r.AppFixups | Should -BeNullOrEmpty

        $app = Get-CcieApp -InstanceId $r.InstanceId
        $app.State | Should -Be 'started'
        $app.Transport | Should -Be 'Ssm'
        $app.Host | Should -Be $r.InstanceId

        $actions = @($r.Timeline | Select-Object -ExpandProperty Action)
        foreach ($s in $steps) { $actions | Should -Contain $s }
        # Restore steps first, then the app's, in the plan's order.
        $at = @($steps | ForEach-Object { [array]::IndexOf($actions, $_) })
        ($at | Sort-Object) -join ',' | Should -Be ($at -join ',')
        $channel = $r.Timeline | Where-Object Action -eq 'WaitRemoteChannel'
        $channel.Outcome | Should -Be 'Succeeded'
        $channel.Detail | Should -Be "Ssm $($r.InstanceId)"
        ($r.Timeline | Where-Object Action -eq 'FixReplicatedAddresses').Outcome | Should -Be 'Skipped'
        ($r.Timeline | Where-Object Action -eq 'RestartReplicated').Outcome | Should -Be 'Skipped'
        ($r.Timeline | Where-Object Action -eq 'WaitAppPorts').Detail | Should -Match '^80, 443, 4434, 8800 open from the box \(127\.0\.0\.1 there\)$'

        # The restored disk booted with the app stopped: the recovery started it, in the new box's sandbox.
        $state = Get-BoxFile $r.InstanceId '/var/lib/replicated-standin/state'
        $state | Should -Match '(?m)^state=started$'
        { Get-BoxFile $r.InstanceId '/var/lib/replicated-standin/restarts' } | Should -Throw
        # Every command went to the new instance over SSM; none to the terminated one.
        $sent = @(Get-RequestLog | Where-Object action -eq 'SendCommand')
        $sent.Count | Should -BeGreaterThan 3
        ($sent | ForEach-Object { $_.parameters | ConvertTo-Json -Compress -Depth 5 }) -join "`n" | Should -Not -Match $old.InstanceId
        ($sent | ForEach-Object { $_.parameters | ConvertTo-Json -Compress -Depth 5 }) | ForEach-Object { $_ | Should -Match $r.InstanceId }
    }

    It 'with -PrivateIpAddress the new box''s /etc/default/replicated* carry the new address, backed up first, and Replicated is restarted with it' {
        $r = Get-CcieSnapshot -Latest | Restore-CcieServicesBox -PrivateIpAddress 10.0.1.50 -StartApp -AppTimeoutSec 120 -Confirm:$false
        $r.Status | Should -Be 'Succeeded'
        $r.PrivateIpAddress | Should -Be '10.0.1.50'
        $r.AppState | Should -Be 'started'

        # Read back over the remote shell (as an operator would) and through the simulator's control API.
        $daemon = (Invoke-CcieServicesBoxCommand -InstanceId $r.InstanceId -Command 'cat /etc/default/replicated').StandardOutput
        $operator = Get-BoxFile $r.InstanceId '/etc/default/replicated-operator'
        $daemon | Should -Match '(?m)^PRIVATE_ADDRESS=10\.0\.1\.50$'
        $daemon | Should -Not -Match ([regex]::Escape($old.PrivateIpAddress))
        $operator | Should -Match '(?m)^DAEMON_ENDPOINT=10\.0\.1\.50:9879$'
        $operator | Should -Match '(?m)^DAEMON_HOST=10\.0\.1\.50$'

        $backups = (Invoke-CcieServicesBoxCommand -InstanceId $r.InstanceId -Command 'ls /etc/default/ | grep ccie-backup').StandardOutput -split "`n" | Where-Object { $_ }
        @($backups).Count | Should -Be 2
        $oldIp = [regex]::Escape($old.PrivateIpAddress)
        # The backup is the restored disk's file (the old address); the new file differs from it in the address only.
        $before = Get-BoxFile $r.InstanceId "/etc/default/$(@($backups | Where-Object { $_ -like 'replicated-operator.*' })[0])"
        $before | Should -Match "(?m)^DAEMON_HOST=$oldIp$"
        $operator | Should -Be ($before.Replace($old.PrivateIpAddress, '10.0.1.50'))
        @($r.AppFixups).Count | Should -Be 4

        # systemctl restart ran in the sandbox (the stand-in's systemctl): each service, reading the new address.
        $restarts = @((Get-BoxFile $r.InstanceId '/var/lib/replicated-standin/restarts') -split "`n" | Where-Object { $_ })
        @($restarts | ForEach-Object { ($_ -split ' ')[0] }) | Should -Be @('replicated', 'replicated-ui', 'replicated-operator')
        @($restarts | ForEach-Object { ($_ -split ' ')[2] }) | Should -Be @('10.0.1.50', '10.0.1.50', '10.0.1.50')
        ($r.Timeline | Where-Object Action -eq 'RestartReplicated').Outcome | Should -Be 'Succeeded'
        ($r.Timeline | Where-Object Action -eq 'FixReplicatedAddresses').Detail | Should -Match 'PRIVATE_ADDRESS'

        (Get-CcieApp -InstanceId $r.InstanceId).State | Should -Be 'started'
    }

    It '-WhatIf lists the app steps, sends no mutating request and no SSM command, and changes nothing' {
        # What-if text goes to the host, not to a stream: run it in a child session and read its stdout.
        $child = Invoke-CcieChildPwsh -Script @"
Import-Module '$(Get-CcieTestModulePath)'
Get-CcieSnapshot -Latest -EndpointUrl $($sim.Url) -Region us-east-1 | Restore-CcieServicesBox -PrivateIpAddress 10.0.1.50 -StartApp -EndpointUrl $($sim.Url) -Region us-east-1 -WhatIf
"@ -Environment @{ AWS_ACCESS_KEY_ID = 'AKIDCCIEDRTEST'; AWS_SECRET_ACCESS_KEY = 'x'; AWS_REGION = 'us-east-1' }
        $child.ExitCode | Should -Be 0 -Because $child.Error
        $out = $child.Output
        $out | Should -Match 'set PRIVATE_ADDRESS, DAEMON_ENDPOINT, DAEMON_HOST and -e LOCAL_ADDRESS/PRIVATE_ADDRESS to 10\.0\.1\.50'
        foreach ($s in $steps) { $out | Should -Match $s }
        $out | Should -Match 'accept connections from the box \(its address is simulated\)'
        $out | Should -Match 'RunInstances|launch'

        $log = Get-RequestLog
        $log.Count | Should -BeGreaterThan 0
        @($log | Where-Object { $_.action -notmatch '^(Describe|Get|List)' } | ForEach-Object action) | Should -BeNullOrEmpty
        @($log | Where-Object action -in 'SendCommand', 'DescribeInstanceInformation').Count | Should -Be 0
        $running = (Invoke-CcieSimulatorEc2 $sim DescribeInstances @{ 'Filter.1.Name' = 'tag:Name'; 'Filter.1.Value.1' = 'circleci_services'; 'Filter.2.Name' = 'instance-state-name'; 'Filter.2.Value.1' = 'pending'; 'Filter.2.Value.2' = 'running' }).DescribeInstancesResponse.reservationSet.item
        $running | Should -BeNullOrEmpty
    }

    It 'refuses to SSH to the restored box''s simulated address' {
        $r = Get-CcieSnapshot -Latest | Restore-CcieServicesBox -StartApp -Transport Ssh -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'Succeeded'
        $r.AppState | Should -Be 'NotStarted'
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ProbeAddressSimulated*'
        $err[0].Exception.Message | Should -Match 'is restored, but the app is not serving yet'
        $err[0].Exception.Message | Should -Match 'Give -SshHost with a loopback sshd'
    }

    It 'an explicit -From Here is honoured: it refuses to connect to the restored box''s simulated address' {
        $r = Get-CcieSnapshot -Latest | Restore-CcieServicesBox -StartApp -From Here -AppTimeoutSec 60 -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'Succeeded'
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ProbeAddressSimulated*'
        $err[0].Exception.Message | Should -Match 'or probe with -From Box'
        @($r.Timeline | Where-Object Action -eq 'WaitAppPorts' | ForEach-Object Outcome) | Should -Not -Contain 'Succeeded'
    }

    It 'has no transport parameters of its own: they are the remote cmdlets'' (one selection, one set of names)' {
        $restore = (Get-Command Restore-CcieServicesBox).Parameters
        $remote = (Get-Command Get-CcieApp).Parameters
        foreach ($p in 'Transport', 'OutputS3BucketName', 'SshPort', 'SshUser', 'SshKeyPath', 'SshKeyPassphrase', 'SshKnownHostsPath', 'SshHostKeyFingerprint', 'SshAcceptNewHostKey', 'SshConnectTimeoutSec', 'NoSudo') {
            $restore[$p].ParameterType | Should -Be $remote[$p].ParameterType -Because $p
        }
        # No default transport of its own (it used to default to Ssh): unset, the shared selection chooses.
        [Nullable]::GetUnderlyingType($restore['Transport'].ParameterType).Name | Should -Be 'RemoteTransport'
        # -PrivateIpAddress is the restore's new address, never an SSH host alias.
        $restore['SshHost'].Aliases | Should -Not -Contain 'PrivateIpAddress'
    }
}
