<#
.SYNOPSIS
    Whole-process peak memory of Backup-CcieData and Restore-CcieData against the bare `pwsh + Import-Module`
    baseline, on a tree of 60,000 small files, one of 250,000 small files and the ~300 MB tree the backup
    benchmark generates. Each run is a fresh `dotnet pwsh -NoProfile` process measured by /usr/bin/time -v
    ('Maximum resident set size': the largest process of the tree, which is pwsh).
.DESCRIPTION
    The small-file trees are generated once and cached under the work directory (a '.complete' marker next to
    each says it was generated whole). Prints one TARGET line per figure:
      TARGET memory backup 250k files: <MB> MB (target <= 200 MB) PASS|MISS   (and restore, and the 300 MB tree)
      TARGET memory growth 60k->250k backup|restore: <MB> MB (target <= 10 MB) PASS|MISS
    Each figure is the median of -Repeat fresh processes (3 by default); every run is printed.
.EXAMPLE
    ./tools/Bench-Memory.ps1 -ModulePath ./out/CcieDr/0.1.0/CcieDr.psd1
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [string] $WorkDirectory = (Join-Path ([IO.Path]::GetTempPath()) 'ccie-bench'),
    # The ~300 MB tree of the backup benchmark (generated with the bench program's --generate when absent).
    [string] $LargeTree = '',
    [string] $BenchProject = (Join-Path $PSScriptRoot '../bench/CcieDr.Bench/CcieDr.Bench.csproj'),
    [int[]] $SmallFileCounts = @(60000, 250000),
    [double] $TargetMB = 200,
    [double] $GrowthTargetMB = 10,
    # Runs per figure; the median is the figure. Peak RSS of identical runs differs by up to ~30 MB here (when the
    # runtime's background threads and heap budgets happen to peak together), so one run decides nothing.
    [ValidateRange(1, 9)] [int] $Repeat = 3
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$ModulePath = (Resolve-Path $ModulePath).Path
if (-not (Test-Path /usr/bin/time)) { throw '/usr/bin/time is needed to measure peak memory (apt-get install time).' }
$null = New-Item -ItemType Directory -Force $WorkDirectory

. (Join-Path $PSScriptRoot 'Bench.Common.ps1')

# '60k files' -> memory-backup-60k-files; '300 MB tree' -> memory-backup-300MB-tree (the names in $BenchKnownTargets).
function Get-MemoryTargetName([string] $Action, [string] $Label) { 'memory-{0}-{1}' -f $Action, ($Label -replace '(\d+) MB', '$1MB' -replace ' ', '-') }

# A tree of $Count small files (100-4,000 bytes of text each), 200 per directory, two levels deep; deterministic.
function New-SmallTree([string] $Root, [int] $Count) {
    $marker = "$Root.complete"
    if ((Test-Path $marker) -and (Test-Path $Root)) { return }
    if (Test-Path $Root) { & rm -rf $Root }
    $null = New-Item -ItemType Directory $Root
    $rng = [Random]::new($Count)
    $words = 'circleci build artifact cache workspace mongo postgres vault nomad output step job pipeline' -split ' '
    $sb = [Text.StringBuilder]::new()
    $utf8 = [Text.UTF8Encoding]::new($false)
    for ($i = 0; $i -lt $Count; $i++) {
        $dir = [IO.Path]::Combine($Root, ('d{0:D3}' -f [int][Math]::Floor($i / 20000)), ('s{0:D3}' -f ([int][Math]::Floor($i / 200) % 100)))
        if ($i % 200 -eq 0) { $null = [IO.Directory]::CreateDirectory($dir) }
        $null = $sb.Clear()
        $len = $rng.Next(100, 4000)
        while ($sb.Length -lt $len) { $null = $sb.Append($words[$rng.Next($words.Length)]).Append(' ').Append($rng.Next()).Append("`n") }
        [IO.File]::WriteAllText([IO.Path]::Combine($dir, ('file-{0:D7}.txt' -f $i)), $sb.ToString(), $utf8)
    }
    $null = New-Item -ItemType File $marker -Force
}

# Peak resident set size (MB) of one fresh `dotnet pwsh -NoProfile -c <command>`.
function Measure-PeakMB([string] $Command) {
    $err = Join-Path $WorkDirectory 'time.txt'
    & /usr/bin/time -v -o $err dotnet pwsh -NoProfile -NonInteractive -c $Command | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "failed ($LASTEXITCODE): $Command" }
    $line = Get-Content $err | Where-Object { $_ -match 'Maximum resident set size \(kbytes\): (\d+)' } | Select-Object -First 1
    if (-not $line) { throw "no 'Maximum resident set size' in $err" }
    [double]($line -replace '.*: ', '') / 1024
}

if (-not $LargeTree) { $LargeTree = Join-Path $WorkDirectory 'data' }
if (-not (Test-Path $LargeTree)) {
    Write-Host "generating the ~300 MB tree in $LargeTree ..."
    & dotnet run --project $BenchProject -c Release -- --generate $LargeTree 300 1 | Out-Host
}

$trees = [ordered]@{}
foreach ($n in $SmallFileCounts) {
    $label = if ($n % 1000 -eq 0) { "$($n / 1000)k files" } else { "$n files" }
    $root = Join-Path $WorkDirectory "small-$n"
    $sw = [Diagnostics.Stopwatch]::StartNew()
    New-SmallTree $root $n
    Write-Host ("tree {0}: {1} ({2:F0} s to make or find)" -f $label, $root, $sw.Elapsed.TotalSeconds)
    $trees[$label] = $root
}
$trees['300 MB tree'] = $LargeTree

$import = "Import-Module '$ModulePath'"
$baseline = Measure-PeakMB "$import; 1"
Write-Host ("baseline pwsh + Import-Module: {0:F0} MB" -f $baseline)

$out = Join-Path $WorkDirectory 'memory-bench'
$results = [ordered]@{}
foreach ($label in $trees.Keys) {
    $backups = [System.Collections.Generic.List[double]]::new()
    $restores = [System.Collections.Generic.List[double]]::new()
    for ($run = 1; $run -le $Repeat; $run++) {
        if (Test-Path $out) { & rm -rf $out }
        $null = New-Item -ItemType Directory $out, "$out/archive", "$out/restored"
        $backups.Add((Measure-PeakMB "$import; `$null = Backup-CcieData -Path '$($trees[$label])' -Destination '$out/archive' -Confirm:`$false"))
        $archive = (Get-ChildItem "$out/archive" -Filter '*.tar.bz2' | Select-Object -First 1).FullName
        $restores.Add((Measure-PeakMB "$import; `$null = Restore-CcieData -Source '$archive' -Path '$out/restored' -Force -WarningAction SilentlyContinue"))
        Write-Host ("{0}, run {1} of {2}: backup {3:F0} MB, restore {4:F0} MB (baseline {5:F0} MB; archive {6:F1} MB)" -f
            $label, $run, $Repeat, $backups[-1], $restores[-1], $baseline, ((Get-Item $archive).Length / 1MB))
    }
    $results[$label] = @{ Backup = (Get-Median $backups); Restore = (Get-Median $restores) }
    Write-Host ("{0}: median backup {1:F0} MB (runs {2}), restore {3:F0} MB (runs {4})" -f $label, $results[$label].Backup,
        (($backups | ForEach-Object { '{0:F0}' -f $_ }) -join ' '), $results[$label].Restore, (($restores | ForEach-Object { '{0:F0}' -f $_ }) -join ' '))
}
& rm -rf $out

foreach ($label in $results.Keys) {
    Write-Target -Name (Get-MemoryTargetName backup $label) -Value $results[$label].Backup -Op '<=' -Limit $TargetMB -Unit 'MB'
    Write-Target -Name (Get-MemoryTargetName restore $label) -Value $results[$label].Restore -Op '<=' -Limit $TargetMB -Unit 'MB'
}
$small = @($results.Keys | Where-Object { $_ -like '*files' })
if ($small.Count -ge 2) {
    $lo = $small[0]; $hi = $small[-1]
    Write-Host ("memory growth from {0} to {1}:" -f $lo, $hi)
    Write-Target -Name 'memory-growth-backup' -Value ([math]::Max(0, $results[$hi].Backup - $results[$lo].Backup)) -Op '<=' -Limit $GrowthTargetMB -Unit 'MB'
    Write-Target -Name 'memory-growth-restore' -Value ([math]::Max(0, $results[$hi].Restore - $results[$lo].Restore)) -Op '<=' -Limit $GrowthTargetMB -Unit 'MB'
}
