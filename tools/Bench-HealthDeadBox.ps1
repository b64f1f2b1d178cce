<#
.SYNOPSIS
    Times Test-CcieServicesBox against a dead box. Target: the whole run <= 30 s.
.DESCRIPTION
    The simulator's Services box is killed (status checks impaired; it keeps running for the run, so every check is
    attempted) and each dependency is made to hang as a dead box does:
      - EC2: DescribeInstanceStatus answers after 60 s (a delay fault), so the status checks hit their own timeout;
      - SSH: -SshHost 127.0.0.1 -SshPort <a listener that accepts and never sends a banner>, so reaching the box
        hits its timeout;
      - app ports: -ProbePortMap to listeners that accept and never answer the TLS handshake, so 443 and 8800 hit
        the per-port timeout.
    Only 127.0.0.1 is contacted. Default time limits (-CheckTimeoutSec 10, -ProbeTimeoutSec 3); the first run
    warms the JIT and is reported separately; the figure is the slowest of the timed runs.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $SimulatorPath,
    [int] $Runs = 3,
    [double] $TargetSeconds = 30
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
. (Join-Path $PSScriptRoot 'Bench.Common.ps1')

$env:AWS_ACCESS_KEY_ID = 'AKIDCCIEDRBENCH'
$env:AWS_SECRET_ACCESS_KEY = 'ccie-dr-bench'
$env:AWS_REGION = 'us-east-1'
Remove-Item Env:CCIEDR_POLL_SCALE -ErrorAction SilentlyContinue
$inv = [cultureinfo]::InvariantCulture

# The simulator's own PowerShell module starts, stops and controls it (as operators' runbook tests do).
Import-Module (Join-Path $PSScriptRoot '../src/CcieDr.Simulator/Module/CcieDr.Simulator.psd1') -Force
function Invoke-Control([string] $Method, [string] $Path, $Body = @{}) { Invoke-CcieSimulatorControl -Simulator $sim -Method $Method -Path $Path -Body $Body }

Import-Module $ModulePath -Force
$sim = Start-CcieSimulator -SimulatorPath $SimulatorPath -TransitionSeconds 0.5 -NoSeed
# Listening sockets that nobody accepts from: connects succeed (kernel backlog), nothing is ever sent back.
$stalls = foreach ($i in 1..5) { $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0); $l.Start(); $l }
$map = @{ 80 = $stalls[0].LocalEndpoint.Port; 443 = $stalls[1].LocalEndpoint.Port; 4434 = $stalls[2].LocalEndpoint.Port; 8800 = $stalls[3].LocalEndpoint.Port }
$sshPort = $stalls[4].LocalEndpoint.Port
$times = [System.Collections.Generic.List[double]]::new()
try {
    for ($run = 0; $run -le $Runs; $run++) {
        $null = Invoke-Control POST reset
        $null = Invoke-Control POST seed @{ region = 'us-east-1' }
        $box = Get-CcieServicesBox -EndpointUrl $sim.Url -Region us-east-1
        $null = Invoke-Control POST faults/instance-death @{ instanceId = $box.InstanceId; stopAfterSeconds = 600 }
        $null = Invoke-Control POST faults @{ kind = 'delay'; action = 'DescribeInstanceStatus'; count = 20; delayMilliseconds = 60000 }

        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $h = Test-CcieServicesBox -InstanceId $box.InstanceId -EndpointUrl $sim.Url -Region us-east-1 -SshHost 127.0.0.1 -SshPort $sshPort -SshAcceptNewHostKey `
            -SshKnownHostsPath (Join-Path ([IO.Path]::GetTempPath()) 'ccie-bench-known_hosts') -ProbeAddress 127.0.0.1 -ProbePortMap $map
        $watch.Stop()
        if ($h.Verdict -eq 'Healthy') { throw "run ${run}: a dead box was judged Healthy" }
        $label = if ($run -eq 0) { 'warm-up' } else { "run $run" }
        Write-Host ('{0}: {1:0.00} s, verdict {2}; {3}' -f $label, $watch.Elapsed.TotalSeconds, $h.Verdict, (($h.Checks | ForEach-Object { "$($_.Name)=$($_.Status)" }) -join ' '))
        if ($run -gt 0) { $times.Add($watch.Elapsed.TotalSeconds) }
    }
}
finally {
    foreach ($l in $stalls) { $l.Stop() }
    if ($sim) { Stop-CcieSimulator $sim }
}
$slowest = ($times | Measure-Object -Maximum).Maximum
Write-Target -Name 'test-servicesbox-dead-box' -Value $slowest -Op '<=' -Limit $TargetSeconds -Unit 's'
