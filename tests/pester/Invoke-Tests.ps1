<#
.SYNOPSIS
    Runs the Pester suite against the built module (called by build.ps1 Test in a fresh pwsh).
#>
param(
    [Parameter(Mandatory)] [string] $ResultFile,
    [string] $Tag,
    # Internal: run only these files, joined with '|' (the private-network-namespace pass; see below).
    [string] $Only
)
$ErrorActionPreference = 'Stop'
$packages = $env:CCIEDR_NUGET_PACKAGES
$pester = Get-ChildItem (Join-Path $packages 'pester') -Directory | Where-Object Name -like '5.*' |
    Sort-Object { [version]$_.Name } -Descending | Select-Object -First 1
if (-not $pester) { throw "Pester 5 is not in $packages/pester: run 'dotnet restore tests/TestDeps'." }
Import-Module (Join-Path $pester.FullName 'tools/Pester.psd1') -Force

# Files that start real servers and probe addresses (sshd, the simulator's SSM sandbox) carry the line
# '# ccie: private-network-namespace' and run in a second pass inside 'unshare -n' with only loopback up, so a
# stray connection to a simulated 10.x address fails at once instead of leaving this machine.
$marker = '# ccie: private-network-namespace'
# (*.Netns.Tests.ps1 files are isolated by their name alone.)
$isolated = @(Get-ChildItem $PSScriptRoot -Filter '*.Tests.ps1' | Where-Object { $_.Name -like '*.Netns.Tests.ps1' -or (Select-String -LiteralPath $_.FullName -SimpleMatch $marker -Quiet) } | ForEach-Object FullName)

$config = New-PesterConfiguration
$config.Run.Path = if ($Only) { $Only -split '\|' } else { $PSScriptRoot }
if (-not $Only -and $isolated) { $config.Run.ExcludePath = $isolated }
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

if (-not $Only -and $isolated) {
    # The second pass: a fresh pwsh in a new network namespace (root, or CAP_SYS_ADMIN) with lo up.
    $netnsResult = "$ResultFile.netns.json"
    Remove-Item -LiteralPath $netnsResult -ErrorAction SilentlyContinue
    $pwshArgs = @('pwsh', '-NoProfile', '-NonInteractive', '-File', $PSCommandPath, '-ResultFile', $netnsResult, '-Tag', "$Tag", '-Only', ($isolated -join '|'))
    & unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh dotnet @pwshArgs
    $code = $LASTEXITCODE
    if (Test-Path -LiteralPath $netnsResult) {
        $inner = Get-Content -LiteralPath $netnsResult -Raw | ConvertFrom-Json
        $summary.Passed += $inner.Passed
        $summary.Failed += $inner.Failed
        $summary.Skipped += $inner.Skipped
        $summary.Failures = @($summary.Failures) + @($inner.Failures)
        Remove-Item -LiteralPath $netnsResult
    }
    else {
        $summary.Failed += 1
        $summary.Failures = @($summary.Failures) + "private network namespace pass ($($isolated -join ', ')): 'unshare --net' + 'ip link set lo up' failed (exit $code); it needs root (or CAP_SYS_ADMIN), util-linux and iproute2"
    }
}

$summary | ConvertTo-Json | Set-Content -LiteralPath $ResultFile
exit 0
