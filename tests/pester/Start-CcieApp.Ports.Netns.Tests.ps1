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
