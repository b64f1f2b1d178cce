# Restore-CcieServicesBox -StartApp on the simulator: the box is terminated, restored from the latest recovery point,
# and the post-restore recovery finishes on "the box". Until the simulator's SSM sandbox is in, the box's side runs
# on this machine (-Transport Local) in a temp root (CCIEDR_BOX_ROOT: its /etc/default/replicated*) with the
# Replicated stand-in on PATH; the app's ports are loopback listeners of this test (-ProbePortMap). Probing test:
# runs under unshare -n (*.Netns.Tests.ps1).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    Assert-CcieTestPrivateNetwork
    $repo = if ($env:CCIEDR_REPO_ROOT) { $env:CCIEDR_REPO_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    $script:standin = Join-Path $repo 'tests/tools/replicated-standin'
    $script:oldPath = $env:PATH
    $env:PATH = "$standin$([IO.Path]::PathSeparator)$env:PATH"

    # The app's four ports: listening sockets accept connections (kernel backlog) without an accept loop.
    $script:listeners = foreach ($p in 80, 443, 4434, 8800) {
        $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0); $l.Start(); $l
    }
    $script:portMap = @{}
    $ports = 80, 443, 4434, 8800
    for ($i = 0; $i -lt 4; $i++) { $portMap[$ports[$i]] = $listeners[$i].LocalEndpoint.Port }

    function Wait-Terminated([string] $InstanceId) {
        $null = Invoke-CcieSimulatorEc2 $sim TerminateInstances @{ 'InstanceId.1' = $InstanceId }
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        do {
            Start-Sleep -Milliseconds 100
            $state = (Invoke-CcieSimulatorEc2 $sim DescribeInstances @{ 'InstanceId.1' = $InstanceId }).DescribeInstancesResponse.reservationSet.item.instancesSet.item.instanceState.name
        } while ($state -ne 'terminated' -and [DateTime]::UtcNow -lt $deadline)
    }
}

AfterAll {
    foreach ($l in $listeners) { $l.Stop() }
    $env:PATH = $oldPath
}

Describe 'Restore-CcieServicesBox -StartApp' -Tag 'Restore', 'Simulator' {
    BeforeEach {
        $script:sim = Start-CcieTestSimulator
        $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
        $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
        $script:old = Get-CcieServicesBox
        $null = New-CcieSnapshot -Confirm:$false -Wait
        $script:boxRoot = Join-Path ([IO.Path]::GetTempPath()) ('ccie-box-' + [guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory (Join-Path $boxRoot 'etc/default')
        [IO.File]::WriteAllText((Join-Path $boxRoot 'etc/default/replicated'), "RELEASE_CHANNEL=stable`nPRIVATE_ADDRESS=$($old.PrivateIpAddress)`nREPLICATED_OPTS=`" -e DAEMON_TOKEN=abc -e LOG_LEVEL=info -e NODENAME=circleci`"`n")
        [IO.File]::WriteAllText((Join-Path $boxRoot 'etc/default/replicated-operator'), "RELEASE_CHANNEL=stable`nDAEMON_ENDPOINT=[$($old.PrivateIpAddress)]:9879`nDAEMON_TOKEN=abc`nDAEMON_HOST=[$($old.PrivateIpAddress)]`nPRIVATE_ADDRESS=$($old.PrivateIpAddress)`nREPLICATED_OPERATOR_OPTS=`" -e TAGS=local -e NODENAME=circleci`"`n")
        $env:CCIEDR_BOX_ROOT = $boxRoot
        $env:REPLICATED_STANDIN_ROOT = Join-Path $boxRoot 'var/lib/replicated-standin'
        & replicated-standin init --major 2 --state stopped --start-seconds 1
        Wait-Terminated $old.InstanceId
    }

    AfterEach {
        Remove-Item Env:CCIEDR_BOX_ROOT, Env:REPLICATED_STANDIN_ROOT -ErrorAction SilentlyContinue
        $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
        $PSDefaultParameterValues.Remove('*-Ccie*:Region')
        if ($sim) { Stop-CcieTestSimulator $sim }
        Remove-Item -Recurse -Force $boxRoot -ErrorAction SilentlyContinue
    }

    It 'restores the terminated box and starts the app; Get-CcieApp shows started; same IP: no fix-up, no restart' {
        $r = Get-CcieSnapshot -Latest | Restore-CcieServicesBox -StartApp -Transport Local -ProbeAddress 127.0.0.1 -ProbePortMap $portMap -Confirm:$false
        $r.Status | Should -Be 'Succeeded'
        $r.AppState | Should -Be 'started'
        $r.AppFixups | Should -BeNullOrEmpty
        $r.PrivateIpAddress | Should -Be $old.PrivateIpAddress
        (Get-CcieApp -Transport Local).State | Should -Be 'started'
        $steps = $r.Timeline | Select-Object -ExpandProperty Action
        foreach ($s in 'WaitRemoteChannel', 'FixReplicatedAddresses', 'RestartReplicated', 'StartApp', 'WaitAppStarted', 'WaitAppPorts') { $steps | Should -Contain $s }
        ($r.Timeline | Where-Object Action -eq 'RestartReplicated').Outcome | Should -Be 'Skipped'
        Test-Path (Join-Path $env:REPLICATED_STANDIN_ROOT 'restarts') | Should -BeFalse
    }

    It 'with -PrivateIpAddress the box''s /etc/default/replicated* carry the new address, backed up first, and Replicated is restarted' {
        $before = [IO.File]::ReadAllText((Join-Path $boxRoot 'etc/default/replicated-operator'))
        $r = Get-CcieSnapshot -Latest | Restore-CcieServicesBox -PrivateIpAddress 10.0.1.50 -StartApp -Transport Local -ProbeAddress 127.0.0.1 -ProbePortMap $portMap -Confirm:$false
        $r.PrivateIpAddress | Should -Be '10.0.1.50'
        $r.AppState | Should -Be 'started'
        $daemon = [IO.File]::ReadAllText((Join-Path $boxRoot 'etc/default/replicated'))
        $operator = [IO.File]::ReadAllText((Join-Path $boxRoot 'etc/default/replicated-operator'))
        $daemon | Should -Match '(?m)^PRIVATE_ADDRESS=10\.0\.1\.50$'
        $operator | Should -Be ($before.Replace($old.PrivateIpAddress, '10.0.1.50'))
        @(Get-ChildItem (Join-Path $boxRoot 'etc/default') -Filter '*.ccie-backup-*').Count | Should -Be 2
        @($r.AppFixups).Count | Should -Be 4
        (Get-Content (Join-Path $env:REPLICATED_STANDIN_ROOT 'restarts') | ForEach-Object { ($_ -split ' ')[0] }) | Should -Be @('replicated', 'replicated-ui', 'replicated-operator')
        (Get-CcieApp -Transport Local).State | Should -Be 'started'
    }

    It '-WhatIf lists the app steps and changes nothing on the box' {
        # What-if text goes to the host, not to a stream: run it in a child session and read its stdout.
        $child = Invoke-CcieChildPwsh -Script @"
Import-Module '$(Get-CcieTestModulePath)'
Get-CcieSnapshot -Latest -EndpointUrl $($sim.Url) -Region us-east-1 | Restore-CcieServicesBox -PrivateIpAddress 10.0.1.50 -StartApp -Transport Local -EndpointUrl $($sim.Url) -Region us-east-1 -WhatIf
"@ -Environment @{ AWS_ACCESS_KEY_ID = 'AKIDCCIEDRTEST'; AWS_SECRET_ACCESS_KEY = 'x'; AWS_REGION = 'us-east-1' }
        $child.ExitCode | Should -Be 0 -Because $child.Error
        $out = $child.Output
        $out | Should -Match 'set PRIVATE_ADDRESS, DAEMON_ENDPOINT, DAEMON_HOST and -e LOCAL_ADDRESS/PRIVATE_ADDRESS to 10\.0\.1\.50'
        foreach ($s in 'WaitRemoteChannel', 'FixReplicatedAddresses', 'RestartReplicated', 'StartApp', 'WaitAppStarted', 'WaitAppPorts') { $out | Should -Match $s }
        [IO.File]::ReadAllText((Join-Path $boxRoot 'etc/default/replicated')) | Should -Match "PRIVATE_ADDRESS=$([regex]::Escape($old.PrivateIpAddress))"
        (& replicated-standin show | Select-String '^state=').Line | Should -Be 'state=stopped'
    }

    It 'refuses to SSH to the restored box''s simulated address' {
        $r = Get-CcieSnapshot -Latest | Restore-CcieServicesBox -StartApp -Transport Ssh -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'Succeeded'
        $r.AppState | Should -Be 'NotStarted'
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ProbeAddressSimulated*'
        $err[0].Exception.Message | Should -Match 'is restored, but the app is not serving yet'
    }
}
