<#
.SYNOPSIS
    A disaster-recovery drill on the built-in AWS simulator: find the box, back it up, lose it, restore it,
    and check the builders can reach it again. Prints the objects and the timeline.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $SimulatorPath,
    [double] $TransitionSeconds = 1
)
$ErrorActionPreference = 'Stop'
if ([Console]::IsOutputRedirected -and $PSStyle) { $PSStyle.OutputRendering = 'PlainText' }
$env:CCIEDR_SIMULATOR = $SimulatorPath
$env:CCIEDR_MODULE_PATH = $ModulePath
Import-Module (Join-Path $PSScriptRoot '../tests/pester/TestHelpers.psm1') -Force
Import-Module $ModulePath -Force
Set-CcieTestAwsEnvironment
$env:CCIEDR_POLL_SCALE = '0.2'

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
}
