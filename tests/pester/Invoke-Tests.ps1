<#
.SYNOPSIS
    Runs the Pester suite against the built module (called by build.ps1 Test in a fresh pwsh).
#>
param(
    [Parameter(Mandatory)] [string] $ResultFile,
    [string] $Tag
)
$ErrorActionPreference = 'Stop'
$packages = $env:CCIEDR_NUGET_PACKAGES
$pester = Get-ChildItem (Join-Path $packages 'pester') -Directory | Where-Object Name -like '5.*' |
    Sort-Object { [version]$_.Name } -Descending | Select-Object -First 1
if (-not $pester) { throw "Pester 5 is not in $packages/pester: run 'dotnet restore tests/TestDeps'." }
Import-Module (Join-Path $pester.FullName 'tools/Pester.psd1') -Force

$config = New-PesterConfiguration
$config.Run.Path = $PSScriptRoot
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$config.Should.ErrorAction = 'Continue'
if ($Tag) { $config.Filter.Tag = $Tag -split ',' }
$result = Invoke-Pester -Configuration $config
[pscustomobject]@{
    Passed  = $result.PassedCount
    Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    Skipped = $result.SkippedCount
} | ConvertTo-Json | Set-Content -LiteralPath $ResultFile
exit 0
