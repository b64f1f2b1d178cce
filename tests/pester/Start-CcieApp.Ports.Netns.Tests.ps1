# Start-CcieApp -Wait waits for the app's ports, probed at the simulator's loopback stand-ins (never at the box's
# simulated 10.x address). The box is this machine (-Transport Local) with the Replicated stand-in on its PATH; the
# simulator reads the stand-in's state file, so its port stand-ins open only once the app is started.
# *.Netns.Tests.ps1 files probe ports: they run inside a private network namespace with only loopback (unshare -n).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    Assert-CcieTestPrivateNetwork
    $repo = if ($env:CCIEDR_REPO_ROOT) { $env:CCIEDR_REPO_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    $script:standin = Join-Path $repo 'tests/tools/replicated-standin'
    $script:sim = Start-CcieTestSimulator
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $script:boxId = (Get-CcieServicesBox).InstanceId
    $script:oldPath = $env:PATH
    $env:PATH = "$standin$([IO.Path]::PathSeparator)$env:PATH"

    function Get-PortMap {
        $p = Invoke-CcieSimulatorControl $sim GET "boxes/$boxId/ports"
        $map = @{}
        foreach ($prop in $p.ports.PSObject.Properties) { $map[[int]$prop.Name] = [int]$prop.Value }
        $map
    }
}

AfterAll {
    $env:PATH = $oldPath
    Remove-Item Env:REPLICATED_STANDIN_ROOT -ErrorAction SilentlyContinue
    $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
    if ($sim) { Stop-CcieTestSimulator $sim }
}

Describe 'Start-CcieApp -Wait and the app ports' {
    BeforeEach {
        $script:root = Join-Path ([IO.Path]::GetTempPath()) ('ccie-standin-' + [guid]::NewGuid().ToString('n'))
        $env:REPLICATED_STANDIN_ROOT = $root
        & replicated-standin init --major 2 --state stopped --start-seconds 1
        $null = Invoke-CcieSimulatorControl $sim POST "boxes/$boxId/app" @{ standinRoot = $root; state = $null }
    }
    AfterEach { Remove-Item -Recurse -Force $root -ErrorAction SilentlyContinue }

    It 'returns once the app is started and every port accepts, the certificate verdict in the verbose stream' {
        $map = Get-PortMap
        (Invoke-CcieSimulatorControl $sim GET "boxes/$boxId/ports").open | Should -BeFalse
        $verbose = $null
        $app = Start-CcieApp -InstanceId $boxId -Transport Local -Wait -WaitTimeoutSec 60 -ProbeAddress 127.0.0.1 -ProbePortMap $map -Force -Verbose 4>&1 |
            Tee-Object -Variable verbose | Where-Object { $_ -is [CcieDr.ReplicatedApp] }
        $app.State | Should -Be 'started'
        (Invoke-CcieSimulatorControl $sim GET "boxes/$boxId/ports").open | Should -BeTrue
        $lines = @($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        foreach ($port in 80, 443, 4434, 8800) { @($lines -like "Port $port open*").Count | Should -Be 1 -Because "port $port" }
        ($lines | Where-Object { $_ -like 'Port 443 open*' }) | Should -Match 'certificate not accepted'
    }

    It 'also works probing from the box itself (-From Box)' {
        $map = Get-PortMap
        $app = Start-CcieApp -InstanceId $boxId -Transport Local -Wait -WaitTimeoutSec 60 -From Box -ProbePortMap $map -Force
        $app.State | Should -Be 'started'
    }

    It 'times out naming the closed ports and the last state when the app starts but its ports stay shut' {
        $map = Get-PortMap
        $null = Invoke-CcieSimulatorControl $sim POST "boxes/$boxId/app" @{ state = 'stopped' }   # the flag wins over the stand-in
        $err = { Start-CcieApp -InstanceId $boxId -Transport Local -Wait -WaitTimeoutSec 5 -ProbeTimeoutSec 1 -ProbeAddress 127.0.0.1 -ProbePortMap $map -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'AppPortsWaitTimedOut*' -PassThru
        $err.Exception.Message | Should -Match 'is started'
        $err.Exception.Message | Should -Match 'ports 80, 443, 4434, 8800'
        (& replicated-standin show | Select-String '^state=').Line | Should -Be 'state=started'
    }

    It 'refuses a -ProbePortMap that is not port to port' {
        { Start-CcieApp -InstanceId $boxId -Transport Local -Wait -ProbePortMap @{ 80 = 'x' } -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidProbePortMap*'
    }
}

# Over SSM the box is the simulator's sandbox: its Replicated stand-in decides, and both views of the app's ports follow
# it (the loopback stand-ins for -From Here / -ProbeAddress, and 127.0.0.1 inside the sandbox for -From Box).
Describe 'The app''s ports follow the app over SSM (simulator sandbox)' -Tag 'Remote', 'Ssm', 'Simulator' {
    BeforeAll {
        # Back to the box's own stand-in (the Local tests above point the simulator at a temp one).
        $null = Invoke-CcieSimulatorControl $sim POST "boxes/$boxId/app" @{ standinRoot = $null; state = $null }

        # Connects from here to the box's loopback stand-in for one app port: $true open, $false refused.
        function Test-HerePort([int] $Port) {
            $c = [System.Net.Sockets.TcpClient]::new()
            try { $c.Connect([System.Net.IPAddress]::Loopback, (Get-PortMap)[$Port]); $true } catch { $false } finally { $c.Dispose() }
        }

        # Connects inside the box's sandbox (its own network namespace) to 127.0.0.1:<port>: the exit code says.
        function Test-BoxPort([int] $Port) {
            (Invoke-CcieServicesBoxCommand -InstanceId $boxId -Transport Ssm -Command "bash -c 'exec 3<>/dev/tcp/127.0.0.1/$Port' 2>/dev/null").ExitCode -eq 0
        }
    }

    It 'Stop-CcieApp closes them, from here and from the box; Start-CcieApp -Wait opens them again' {
        $desc = Invoke-CcieSimulatorControl $sim GET "boxes/$boxId/ports"
        $desc.appStateSource | Should -Be 'sandbox'
        $desc.open | Should -BeTrue
        foreach ($p in 80, 443, 4434, 8800) { Test-BoxPort $p | Should -BeTrue -Because "port $p from the box while started" }

        $stopped = Stop-CcieApp -InstanceId $boxId -Transport Ssm -Wait -Confirm:$false
        $stopped.State | Should -Be 'stopped'
        # The loopback stand-ins reconcile every 200 ms with the sandbox's state file.
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ((Invoke-CcieSimulatorControl $sim GET "boxes/$boxId/ports").open -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        $desc = Invoke-CcieSimulatorControl $sim GET "boxes/$boxId/ports"
        $desc.appState | Should -Be 'stopped'
        $desc.open | Should -BeFalse
        foreach ($p in 80, 443, 4434, 8800) {
            Test-HerePort $p | Should -BeFalse -Because "port $p from here while stopped"
            Test-BoxPort $p | Should -BeFalse -Because "port $p from the box while stopped"
        }
        $started = Start-CcieApp -InstanceId $boxId -Transport Ssm -Wait -WaitTimeoutSec 60 -ProbeAddress 127.0.0.1 -ProbePortMap (Get-PortMap) -Force
        $started.State | Should -Be 'started'
        foreach ($p in 80, 443, 4434, 8800) {
            Test-HerePort $p | Should -BeTrue -Because "port $p from here while started"
            Test-BoxPort $p | Should -BeTrue -Because "port $p from the box while started"
        }
        (Start-CcieApp -InstanceId $boxId -Transport Ssm -Wait -WaitTimeoutSec 60 -From Box -Force).State | Should -Be 'started'
    }

    It 'a start that fails leaves them closed, and -Wait says Replicated could not start the app' {
        $null = Stop-CcieApp -InstanceId $boxId -Transport Ssm -Wait -Confirm:$false
        $r = Invoke-CcieSimulatorControl $sim POST "boxes/$boxId/standin" @{ args = @('fail-start', 'on') }
        $r.exitCode | Should -Be 0
        try {
            $err = { Start-CcieApp -InstanceId $boxId -Transport Ssm -Wait -WaitTimeoutSec 60 -From Box -Force -ErrorAction Stop } | Should -Throw -ErrorId 'ReplicatedAppFailedToStart*' -PassThru
            $err.Exception.Message | Should -Match 'failed to start'
            (Get-CcieApp -InstanceId $boxId -Transport Ssm).State | Should -Be 'stopped'
            foreach ($p in 80, 8800) { Test-BoxPort $p | Should -BeFalse -Because "port $p after a failed start" }
            (Invoke-CcieSimulatorControl $sim GET "boxes/$boxId/ports").open | Should -BeFalse
        }
        finally {
            $null = Invoke-CcieSimulatorControl $sim POST "boxes/$boxId/standin" @{ args = @('fail-start', 'off') }
            $null = Start-CcieApp -InstanceId $boxId -Transport Ssm -Wait -WaitTimeoutSec 60 -From Box -Force
        }
    }
}
