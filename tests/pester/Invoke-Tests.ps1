<#
.SYNOPSIS
    Runs the Pester suite against the built module (called by build.ps1 Test in a fresh pwsh).
#>
param(
    [Parameter(Mandatory)] [string] $ResultFile,
    [string] $Tag,
    # Internal: run only the *.Netns.Tests.ps1 files (this process already runs under unshare -n).
    [switch] $NetnsOnly
)
$ErrorActionPreference = 'Stop'
$packages = $env:CCIEDR_NUGET_PACKAGES
$pester = Get-ChildItem (Join-Path $packages 'pester') -Directory | Where-Object Name -like '5.*' |
    Sort-Object { [version]$_.Name } -Descending | Select-Object -First 1
if (-not $pester) { throw "Pester 5 is not in $packages/pester: run 'dotnet restore tests/TestDeps'." }
Import-Module (Join-Path $pester.FullName 'tools/Pester.psd1') -Force

$config = New-PesterConfiguration
# Files that probe ports (*.Netns.Tests.ps1) run in a second pass inside a private network namespace with only
# loopback (unshare -n), so a probe that slipped to a simulated 10.x address fails fast instead of leaving the machine.
$netnsFiles = @(Get-ChildItem -LiteralPath $PSScriptRoot -Filter '*.Netns.Tests.ps1' | ForEach-Object FullName)
$config.Run.Path = if ($NetnsOnly) { $netnsFiles } else { @(Get-ChildItem -LiteralPath $PSScriptRoot -Filter '*.Tests.ps1' | Where-Object FullName -notin $netnsFiles | ForEach-Object FullName) }
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
$summary = [pscustomobject]@{
    Failures = $failures
    Passed  = $result.PassedCount
    Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    Skipped = $result.SkippedCount
}
if (-not $NetnsOnly -and $netnsFiles.Count -gt 0) {
    $netnsResult = "$ResultFile.netns.json"
    $self = [Environment]::GetCommandLineArgs()[0]
    $pwshArgs = if ([IO.Path]::GetFileNameWithoutExtension((Get-Process -Id $PID).Path) -eq 'dotnet') { @((Get-Process -Id $PID).Path, $self) } else { @((Get-Process -Id $PID).Path) }
    & unshare -n sh -c 'ip link set lo up && exec "$@"' sh @pwshArgs -NoProfile -NonInteractive -File $PSCommandPath -ResultFile $netnsResult -Tag $Tag -NetnsOnly
    if (Test-Path -LiteralPath $netnsResult) {
        $n = Get-Content -LiteralPath $netnsResult -Raw | ConvertFrom-Json
        $summary.Failures = @($summary.Failures) + @($n.Failures | Where-Object { $_ })
        $summary.Passed += $n.Passed; $summary.Failed += $n.Failed; $summary.Skipped += $n.Skipped
        Remove-Item -LiteralPath $netnsResult
    }
    else {
        $summary.Failures = @($summary.Failures) + "unshare -n pass: no result (is util-linux's unshare usable here? exit $LASTEXITCODE)"
        $summary.Failed += 1
    }
}
$summary | ConvertTo-Json | Set-Content -LiteralPath $ResultFile
exit 0
