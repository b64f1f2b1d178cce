<#
.SYNOPSIS
    Restore of single-stream, many-block bzip2 archives (GNU tar -cjf, lbzip2): Restore-CcieData against tar -xjf and
    against lbzip2 -d -n 2 | tar -x, interleaved rounds (the order rotating), medians, ratios from the same run. The
    targets take the median of the per-round ratios: a round's three runs are close in time, so their ratio cancels
    most of a shared machine's load drift between rounds (the ratio of the medians is printed beside it).
.EXAMPLE
    ./tools/Bench-Restore-SingleStream.ps1 -Tree /tmp/ccie-bench/data -ModulePath ./out/CcieDr/0.1.0/CcieDr.psd1 -Rounds 5
#>
param(
    [Parameter(Mandatory)] [string] $Tree,
    [Parameter(Mandatory)] [string] $ModulePath,
    [int] $Rounds = 5,
    [string] $WorkDirectory = (Join-Path ([IO.Path]::GetTempPath()) 'ccie-bench-restore-single')
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Bench.Common.ps1')
Import-Module $ModulePath -Force
foreach ($tool in 'tar', 'bzip2', 'lbzip2') {
    if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { throw "$tool is required for this benchmark (apt-get install $tool)." }
}

$archives = Join-Path $WorkDirectory 'archives'
$out = Join-Path $WorkDirectory 'out'
New-Item -ItemType Directory -Force $archives | Out-Null
# GNU tar -cjf runs bzip2: one stream of many blocks. lbzip2 also writes one stream.
$gnu = Join-Path $archives 'gnu-tar-cjf.tar.bz2'
$lbz = Join-Path $archives 'lbzip2.tar.bz2'
& tar -C $Tree -cjf $gnu .
& bash -c "tar -C '$Tree' -cf - . | lbzip2 -9 -n 2 > '$lbz'"
if ($LASTEXITCODE -ne 0) { throw 'lbzip2 failed' }

function Reset-Dir([string] $d) {
    if (Test-Path $d) { & rm -rf $d }
    New-Item -ItemType Directory -Path $d | Out-Null
    & sync
}

function Measure-Run([scriptblock] $run) {
    Reset-Dir $out
    $t = [Diagnostics.Stopwatch]::StartNew(); & $run; $t.Stop()
    $t.Elapsed.TotalSeconds
}

$load = (Get-Content /proc/loadavg -ErrorAction SilentlyContinue) -split ' ' | Select-Object -First 1
Write-Host "Single-stream restore: $([Environment]::ProcessorCount) cores, load average $load before the rounds (the machine is shared: ratios are from the same run)"
$results = [ordered]@{}
$ratios = @{}
foreach ($archive in $gnu, $lbz) {
    $name = [IO.Path]::GetFileNameWithoutExtension([IO.Path]::GetFileNameWithoutExtension($archive))
    $r = [ordered]@{ 'tar -xjf' = @(); 'lbzip2 -d -n 2 | tar -x' = @(); 'Restore-CcieData' = @() }
    $null = Test-CcieBackup -Source $archive # warm-up (JIT, page cache), not timed
    $runs = [ordered]@{
        'tar -xjf'                = { & tar -C $out -xjf $archive }
        'lbzip2 -d -n 2 | tar -x' = { & bash -c "lbzip2 -d -n 2 < '$archive' | tar -C '$out' -x" }
        'Restore-CcieData'        = { $null = Restore-CcieData -Source $archive -Path $out -AllowNoManifest -Force -WarningAction SilentlyContinue }
    }
    $names = @($runs.Keys)
    for ($i = 1; $i -le $Rounds; $i++) {
        foreach ($j in 0..($names.Count - 1)) {
            $k = $names[($i + $j) % $names.Count]
            $r[$k] += Measure-Run $runs[$k]
        }
    }

    $median = @{}
    foreach ($k in $r.Keys) { $median[$k] = Get-Median $r[$k] }
    foreach ($k in $r.Keys) {
        [pscustomobject]@{
            Archive       = $name
            Tool          = $k
            MedianSeconds = [math]::Round($median[$k], 2)
            'x tar -xjf'  = [math]::Round($median['tar -xjf'] / $median[$k], 2)
            Rounds        = ($r[$k] | ForEach-Object { [math]::Round($_, 1) }) -join ' '
        } | Format-Table -AutoSize | Out-String | Write-Host
    }

    $ours = $r['Restore-CcieData']
    $ratios[$name] = @{
        Tar          = Get-Median @(0..($Rounds - 1) | ForEach-Object { $r['tar -xjf'][$_] / $ours[$_] })
        Lbzip2       = Get-Median @(0..($Rounds - 1) | ForEach-Object { $r['lbzip2 -d -n 2 | tar -x'][$_] / $ours[$_] })
        TarOfMedians = $median['tar -xjf'] / $median['Restore-CcieData']
        LbzOfMedians = $median['lbzip2 -d -n 2 | tar -x'] / $median['Restore-CcieData']
    }
    Write-Host ("{0}: {1:F2}x tar -xjf, {2:F2}x lbzip2 -d (medians of {3} paired rounds; ratios of the medians {4:F2}x, {5:F2}x)" -f $name,
        $ratios[$name].Tar, $ratios[$name].Lbzip2, $Rounds, $ratios[$name].TarOfMedians, $ratios[$name].LbzOfMedians)
}
& rm -rf $WorkDirectory

# The GNU tar -cjf archive is the headline case (what circleci-backup writes); the lbzip2 one is shown alongside.
$vsTar = $ratios['gnu-tar-cjf'].Tar
$vsLbz = $ratios['gnu-tar-cjf'].Lbzip2
Write-Target -Name 'restore-vs-tar-xjf' -Value $vsTar -Op '>=' -Limit 1.7
Write-Target -Name 'restore-vs-lbzip2' -Value $vsLbz -Op '>=' -Limit 0.9
