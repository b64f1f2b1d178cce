<#
.SYNOPSIS
    Restore throughput of Restore-CcieData against GNU tar -xjf (and lbzip2 -d | tar -x when present), interleaved rounds, medians.
.EXAMPLE
    ./tools/Bench-Restore.ps1 -Archive /tmp/drbench/multi.tar.bz2 -ModulePath ./out/CcieDr/0.1.0/CcieDr.psd1 -Rounds 3
#>
param(
    [Parameter(Mandatory)] [string] $Archive,
    [Parameter(Mandatory)] [string] $ModulePath,
    [int] $Rounds = 3,
    [string] $WorkDirectory = (Join-Path ([IO.Path]::GetTempPath()) 'ccie-bench-restore')
)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath -Force
$size = (Get-Item $Archive).Length
$results = @{ 'tar -xjf' = @(); 'Restore-CcieData' = @(); 'Test-CcieBackup' = @() }
$hasLbzip2 = [bool](Get-Command lbzip2 -ErrorAction SilentlyContinue)
if ($hasLbzip2) { $results['lbzip2 -d | tar -x'] = @() }

# Every run starts from an empty directory and no dirty pages left by the previous one (not timed).
function Reset-Dir([string] $d) {
    if (Test-Path $d) { & rm -rf $d }
    New-Item -ItemType Directory -Path $d | Out-Null
    & sync
}

# Warm-up (JIT, page cache), not timed.
$null = Test-CcieBackup -Source $Archive
for ($i = 1; $i -le $Rounds; $i++) {
    Reset-Dir $WorkDirectory
    $t = [Diagnostics.Stopwatch]::StartNew(); & tar -C $WorkDirectory -xjf $Archive; $t.Stop()
    $results['tar -xjf'] += $t.Elapsed.TotalSeconds

    if ($hasLbzip2) {
        Reset-Dir $WorkDirectory
        $t = [Diagnostics.Stopwatch]::StartNew(); & bash -c "lbzip2 -d -n 2 < '$Archive' | tar -C '$WorkDirectory' -x"; $t.Stop()
        $results['lbzip2 -d | tar -x'] += $t.Elapsed.TotalSeconds
    }

    Reset-Dir $WorkDirectory
    $t = [Diagnostics.Stopwatch]::StartNew(); $null = Restore-CcieData -Source $Archive -Path $WorkDirectory -Force -WarningAction SilentlyContinue; $t.Stop()
    $results['Restore-CcieData'] += $t.Elapsed.TotalSeconds

    $t = [Diagnostics.Stopwatch]::StartNew(); $null = Test-CcieBackup -Source $Archive; $t.Stop()
    $results['Test-CcieBackup'] += $t.Elapsed.TotalSeconds
}
& rm -rf $WorkDirectory

$base = ($results['tar -xjf'] | Sort-Object)[[int][math]::Floor($Rounds / 2)]
foreach ($k in $results.Keys | Sort-Object) {
    $median = ($results[$k] | Sort-Object)[[int][math]::Floor($Rounds / 2)]
    [pscustomobject]@{
        Tool          = $k
        MedianSeconds = [math]::Round($median, 2)
        'MB/s (compressed)' = [math]::Round($size / 1MB / $median, 1)
        'x tar -xjf'  = [math]::Round($base / $median, 2)
        Rounds        = ($results[$k] | ForEach-Object { [math]::Round($_, 1) }) -join ' '
    }
}
