<#
.SYNOPSIS
    The RTO of Invoke-CcieFailover's two acceptance runs (issue 16) and its orchestration overhead beyond the
    simulator's scripted waits. Target: overhead <= 2 s per failover.
.DESCRIPTION
    Starts the simulator EXE (real-time clock, every transition scripted to -TransitionSeconds, the SSM sandbox on:
    commands run for real in each box's bubblewrap sandbox) and, for each run: resets and seeds the CircleCI
    topology, prepares the replica (not timed), injects the outage, then times Invoke-CcieFailover in this session
    through the real AWS SDK, as the acceptance tests run it:
      mode 1: floating IP + replica in the same subnet; KillInstance on the primary; one Invoke-CcieFailover.
      mode 3: replica in the other AZ; FailAvailabilityZone (ApiErrors) of the primary's AZ; Invoke-CcieFailover
              (refused: timed on its own, the refusal latency) then Invoke-CcieFailover -AssumePrimaryDead.

    Scripted time, fixed by the simulator however it is polled (read from the run's own request log and the
    simulator's durations):
      fence (mode 1)     : the primary stopping -> stopped                                = InstanceStopping
      promote            : the replica pending -> running, status initializing -> ok      = InstancePending + StatusInitializing
      app start          : the stand-in's starting -> started                             = its start seconds
    Remote commands are not scripted: with the sandbox on, an SSM command is InProgress exactly while it runs for
    real in bubblewrap (SsmCommand applies only to rules and handlers), so their run time counts as overhead here
    (a pessimistic reading: on AWS that time is the box's own work). SsmCalls says how many there were.
    Overhead = wall time - scripted time: every AWS call, how late each wait notices a transition, the remote
    commands, the health checks' own work, the cmdlet. Production polling (CCIEDR_POLL_SCALE cleared). The first run of each mode warms
    the JIT and is reported separately.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $SimulatorPath,
    [double] $TransitionSeconds = 1,
    [int] $Runs = 3,
    [double] $TargetSeconds = 2,
    [int] $AppStartSeconds = 1
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

# Seeds, prepares a cold replica (image of the box, replica launched stopped, its app stopped) and returns the ids.
function New-Bed([bool] $SameSubnet) {
    $null = Invoke-Control POST reset
    $null = Invoke-Control POST seed @{ region = 'us-east-1' }
    $box = Get-CcieServicesBox -EndpointUrl $sim.Url -Region us-east-1
    $root = (Invoke-Control GET "boxes/$($box.InstanceId)").root
    $null = Invoke-Control POST 'boxes/app' @{ standinRoot = $root.Replace($box.InstanceId, '{instanceId}') + '/var/lib/replicated-standin' }
    $token = (Invoke-Control GET "boxes/$($box.InstanceId)/file?path=/var/lib/replicated-standin/secret-token").content.Trim()
    if ($SameSubnet) { $null = $box | Add-CcieFloatingIp -PrivateIpAddress 10.0.1.200 -EndpointUrl $sim.Url -Region us-east-1 -Confirm:$false }
    $null = $box | New-CcieServicesBoxImage -NoReboot -EndpointUrl $sim.Url -Region us-east-1 -Confirm:$false -WarningAction SilentlyContinue
    $replica = if ($SameSubnet) { New-CcieReplica -InstanceId $box.InstanceId -SubnetId $box.SubnetId -EndpointUrl $sim.Url -Region us-east-1 -Confirm:$false }
    else { New-CcieReplica -InstanceId $box.InstanceId -EndpointUrl $sim.Url -Region us-east-1 -Confirm:$false }
    $init = Invoke-Control POST "boxes/$($replica.InstanceId)/standin" @{ args = @('init', '--major', '2', '--state', 'stopped', '--start-seconds', "$AppStartSeconds", '--token', $token) }
    if ($init.exitCode -ne 0) { throw "stand-in init on the replica failed: $($init.stderr)" }
    $p = Invoke-Control GET "boxes/$($replica.InstanceId)/ports"
    $map = @{}
    foreach ($prop in $p.ports.PSObject.Properties) { $map[[int]$prop.Name] = [int]$prop.Value }
    # Settle: the seeded box's status checks are ok before the outage.
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while ((((Invoke-Control GET state).regions.'us-east-1'.instances | Where-Object id -eq $box.InstanceId).instanceStatus) -ne 'ok' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
    $null = Invoke-Control DELETE requests
    [pscustomobject]@{ Box = $box; Replica = $replica; Map = $map }
}

function Get-SsmCommandCount { @(Invoke-Control GET 'requests?action=SendCommand' | ForEach-Object { $_ } | Where-Object { $_.status -eq 200 }).Count }

Import-Module $ModulePath -Force
$sim = Start-CcieSimulator -SimulatorPath $SimulatorPath -TransitionSeconds $TransitionSeconds -NoSeed
$rows = [System.Collections.Generic.List[object]]::new()
try {
    $d = (Invoke-Control GET config).durations
    foreach ($mode in 1, 3) {
        for ($run = 0; $run -le $Runs; $run++) {
            $bed = New-Bed -SameSubnet ($mode -eq 1)
            $refusalS = $null
            if ($mode -eq 1) {
                $null = Invoke-Control POST faults/instance-death @{ instanceId = $bed.Box.InstanceId; stopAfterSeconds = 600 }
            }
            else {
                $null = Invoke-Control POST faults/az-outage @{ zone = $bed.Box.AvailabilityZone; mode = 'ApiErrors' }
                $watch = [System.Diagnostics.Stopwatch]::StartNew()
                Invoke-CcieFailover -EndpointUrl $sim.Url -Region us-east-1 -ProbeAddress 127.0.0.1 -ProbePortMap $bed.Map -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable refused | Out-Null
                $watch.Stop()
                if (-not $refused -or "$($refused[0].FullyQualifiedErrorId)" -notlike 'PrimaryNotFenced*') { throw "mode 3 run $run was not refused without -AssumePrimaryDead: $($refused | Select-Object -First 1)" }
                $refusalS = [math]::Round($watch.Elapsed.TotalSeconds, 3)
                $null = Invoke-Control DELETE requests
            }

            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            $result = Invoke-CcieFailover -EndpointUrl $sim.Url -Region us-east-1 -ProbeAddress 127.0.0.1 -ProbePortMap $bed.Map -AssumePrimaryDead:($mode -eq 3) -Confirm:$false -WarningAction SilentlyContinue
            $watch.Stop()
            if (-not $result -or $result.Status -notin 'Succeeded', 'Incomplete' -or $result.Health -notmatch '^(Healthy|Degraded: it serves)') { throw "failover mode $mode run $run did not finish healthy: $($result.Status) $($result.Health)" }

            $ssm = Get-SsmCommandCount
            $fence = if ($mode -eq 1) { [double]$d.instanceStopping } else { 0 }
            $scripted = $fence + [double]$d.instancePending + [double]$d.statusInitializing + $AppStartSeconds
            $steps = @{}
            foreach ($e in $result.Timeline) { $steps[$e.Action] = $e.Duration.TotalSeconds + $(if ($steps.ContainsKey($e.Action)) { $steps[$e.Action] } else { 0 }) }
            $rows.Add([pscustomobject]@{
                    Mode      = "mode $mode"
                    Run       = if ($run -eq 0) { 'warm-up' } else { "$run" }
                    RefusalS  = $refusalS
                    WallS     = [math]::Round($watch.Elapsed.TotalSeconds, 3)
                    RtoS      = [math]::Round($result.Rto.TotalSeconds, 3)
                    ScriptedS = [math]::Round($scripted, 3)
                    SsmCalls  = $ssm
                    OverheadS = [math]::Round($watch.Elapsed.TotalSeconds - $scripted, 3)
                    DecideS   = [math]::Round($(if ($steps.ContainsKey('decide:health')) { $steps['decide:health'] } else { 0 }), 3)
                    FenceS    = [math]::Round(($steps.Keys | Where-Object { $_ -in 'ec2:StopInstances', 'wait:primary-stopped', 'fence:assumed-dead' } | ForEach-Object { $steps[$_] } | Measure-Object -Sum).Sum, 3)
                    AppStartS = [math]::Round($(if ($steps.ContainsKey('app:start')) { $steps['app:start'] } else { 0 }), 3)
                    VerifyS   = [math]::Round($(if ($steps.ContainsKey('verify:health')) { $steps['verify:health'] } else { 0 }), 3)
                })
        }
    }
}
finally {
    if ($sim) { Stop-CcieSimulator $sim }
}

Write-Host ''
Write-Host "Invoke-CcieFailover RTO and orchestration overhead (transitions scripted to $TransitionSeconds s, the app's start $AppStartSeconds s; remote commands run for real in the sandbox and count as overhead; target <= $TargetSeconds s)" -ForegroundColor Cyan
$rows | Format-Table -AutoSize | Out-String | Write-Host
foreach ($mode in 'mode 1', 'mode 3') {
    $measured = @($rows | Where-Object { $_.Mode -eq $mode -and $_.Run -ne 'warm-up' })
    $worst = ($measured | Measure-Object OverheadS -Maximum).Maximum
    $rto = ($measured | Measure-Object RtoS -Average).Average
    Write-Host ('failover {0}: RTO mean {1:N2} s (wall {2:N2} s, scripted {3:N2} s), overhead mean {4:N3} s, worst {5:N3} s over {6} runs{7}' -f $mode, $rto,
        ($measured | Measure-Object WallS -Average).Average, ($measured | Measure-Object ScriptedS -Average).Average,
        ($measured | Measure-Object OverheadS -Average).Average, $worst, $measured.Count,
        $(if ($mode -eq 'mode 3') { '; refusal without -AssumePrimaryDead {0:N2} s worst' -f ($measured | Measure-Object RefusalS -Maximum).Maximum } else { '' }))
    Write-Target -Name ('failover-{0}-overhead' -f $mode.Replace(' ', '')) -Value $worst -Op '<=' -Limit $TargetSeconds -Unit 's'
}
