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
# The names and first error lines of what failed, so build.ps1 can repeat them at the very end
# of the log (CI shows only the tail).
$failures = @(
    foreach ($t in $result.Failed) {
        $message = if ($t.ErrorRecord) { ("$($t.ErrorRecord[0])" -split "`n")[0] } else { '' }
        '{0}: {1}' -f $t.ExpandedPath, $message
    }
    foreach ($b in @($result.FailedBlocks) + @($result.FailedContainers)) {
        if ($b) { 'block/container {0}: {1}' -f ($b.ExpandedPath ?? $b.Item), (("$($b.ErrorRecord | Select-Object -First 1)" -split "`n")[0]) }
    }
)
[pscustomobject]@{
    Failures = $failures
    Passed  = $result.PassedCount
    Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    Skipped = $result.SkippedCount
} | ConvertTo-Json | Set-Content -LiteralPath $ResultFile
exit 0
