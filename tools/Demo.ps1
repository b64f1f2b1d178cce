<#
.SYNOPSIS
    The whole disaster-recovery lifecycle on the built-in AWS simulator, in one run: seed, the scheduled-backup
    runbook, an outage, the health verdict, the outage-response runbook (restore, app, builders reconfigured and
    rotated, catch-up capacity, verify), a failover with fencing onto a replica, the recovery status and a drill.
    Prints the objects, the timelines, the measured RTOs and the path of the drill report. Port probes run from
    the boxes through the simulator's SSM sandbox: nothing connects anywhere but 127.0.0.1.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $SimulatorPath,
    [double] $TransitionSeconds = 0.3
)
$ErrorActionPreference = 'Stop'
if ([Console]::IsOutputRedirected -and $PSStyle) { $PSStyle.OutputRendering = 'PlainText' }
$env:CCIEDR_SIMULATOR = $SimulatorPath
$env:CCIEDR_MODULE_PATH = $ModulePath
Import-Module (Join-Path $PSScriptRoot '../tests/pester/TestHelpers.psm1') -Force
Import-Module $ModulePath -Force
Set-CcieTestAwsEnvironment
$env:CCIEDR_POLL_SCALE = '0.1'
$demoClock = [Diagnostics.Stopwatch]::StartNew()

function Write-Stage([string] $Text) { Write-Host "`n=== $Text ===" -ForegroundColor Cyan }

$sim = Start-CcieTestSimulator -TransitionSeconds $TransitionSeconds
try {
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
    Write-Host "Simulator: $($sim.Url) (seeded with a CircleCI topology; transitions take $TransitionSeconds s)"

    Write-Stage '1. Detect: the Services box'
    $box = Get-CcieServicesBox
    $box | Format-Table | Out-String -Width 180 | Write-Host
    $box | Format-List InstanceId, State, PrivateIpAddress, SubnetId, AvailabilityZone, SecurityGroupIds, InstanceType, KeyName, IamInstanceProfileArn, RootDeviceName, Architecture, EnaSupport | Out-String -Width 180 | Write-Host
    $box.Volumes | Format-Table | Out-String -Width 180 | Write-Host

    $stages = Join-Path $PSScriptRoot 'Demo.Stages.ps1'
    if (Test-Path $stages) { . $stages -Box $box -Simulator $sim }
}
finally {
    Stop-CcieTestSimulator $sim
    Write-Host ("`nDemo finished in {0:n0} s." -f $demoClock.Elapsed.TotalSeconds) -ForegroundColor Cyan
}
