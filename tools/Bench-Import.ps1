<#
.SYNOPSIS
    Start-up cost of Import-Module CcieDr: whole `dotnet pwsh -NoProfile` processes, interleaved, medians.
.DESCRIPTION
    Runs, in turn, -Runs times each:
      bare     dotnet pwsh -NoProfile -c 1
      import   dotnet pwsh -NoProfile -c "Import-Module <psd1>"
      cmdlet   dotnet pwsh -NoProfile -c "Import-Module <psd1>; Get-CcieBackup -Path <dir with one small archive>"
               (one cheap cmdlet whose output goes through the module's format view)
    and prints the medians of wall time, CPU time (user+sys) and peak RSS (/usr/bin/time when present, else the
    pwsh process's own VmHWM from /proc), then
      TARGET import: <import/bare>x (target <= 1.15x) PASS|MISS
    and the module's extra peak RSS in MB. Runs from the repository root (dotnet pwsh is a local tool there).
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/Bench-Import.ps1 -ModulePath out/CcieDr/0.1.0/CcieDr.psd1 -Runs 9
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [ValidateRange(3, 101)] [int] $Runs = 9
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Bench.Common.ps1')
$root = Split-Path $PSScriptRoot -Parent
$ModulePath = (Resolve-Path $ModulePath).Path
$timeTool = if (Test-Path /usr/bin/time) { '/usr/bin/time' } else { $null }
$probe = '; [Console]::Out.WriteLine(''VmHWM='' + [regex]::Match([IO.File]::ReadAllText(''/proc/self/status''), ''VmHWM:\s*(\d+)'').Groups[1].Value)'

# A directory with one small archive for the cmdlet variant (made once, not timed).
$work = Join-Path ([IO.Path]::GetTempPath()) "ccie-bench-import-$PID"
$null = New-Item -ItemType Directory -Force (Join-Path $work 'data'), (Join-Path $work 'backups')
Set-Content -Path (Join-Path $work 'data/hello.txt') -Value 'hello'
& dotnet pwsh -NoProfile -NonInteractive -c "Import-Module '$ModulePath'; `$null = Backup-CcieData -Path '$work/data' -Destination '$work/backups' -Confirm:`$false"
if ($LASTEXITCODE -ne 0) { throw 'Bench-Import: could not make the small archive for the cmdlet variant' }

$variants = [ordered]@{
    bare   = '1'
    import = "Import-Module '$ModulePath'"
    cmdlet = "Import-Module '$ModulePath'; Get-CcieBackup -Path '$work/backups'"
}

function Invoke-Once([string] $Command) {
    $stats = Join-Path $work 'time.txt'
    $sw = [Diagnostics.Stopwatch]::StartNew()
    if ($timeTool) {
        $out = & $timeTool -f '%U %S %M' -o $stats dotnet pwsh -NoProfile -c $Command 2>&1
    }
    else {
        $out = & dotnet pwsh -NoProfile -c ($Command + $probe) 2>&1
    }
    $sw.Stop()
    if ($LASTEXITCODE -ne 0) { throw "Bench-Import: '$Command' failed ($LASTEXITCODE): $out" }
    if ($timeTool) {
        $u, $s, $m = (Get-Content $stats | Select-Object -Last 1) -split ' '
        return [pscustomobject]@{ Wall = $sw.Elapsed.TotalSeconds; Cpu = [double]$u + [double]$s; RssMB = [double]$m / 1024 }
    }
    $kb = ($out | Where-Object { "$_" -match '^VmHWM=(\d+)' } | Select-Object -Last 1) -replace '^VmHWM=', ''
    return [pscustomobject]@{ Wall = $sw.Elapsed.TotalSeconds; Cpu = [double]::NaN; RssMB = [double]$kb / 1024 }
}

Push-Location $root
try {
    Write-Host "==> Import start-up: $Runs interleaved runs of each variant (whole dotnet pwsh processes)" -ForegroundColor Cyan
    $null = Invoke-Once '1'    # warm-up: page cache, tool manifest, PowerShell's start-up profile
    $null = Invoke-Once $variants.import
    $results = @{}
    foreach ($k in $variants.Keys) { $results[$k] = [System.Collections.Generic.List[object]]::new() }
    for ($i = 1; $i -le $Runs; $i++) {
        $line = foreach ($k in $variants.Keys) {
            $r = Invoke-Once $variants[$k]
            $results[$k].Add($r)
            '{0} {1:F3}s' -f $k, $r.Wall
        }
        Write-Host "  run ${i}: $($line -join '  ')"
    }
}
finally {
    Pop-Location
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

$med = @{}
foreach ($k in $variants.Keys) {
    $med[$k] = [pscustomobject]@{
        Wall  = Get-Median ($results[$k] | ForEach-Object Wall)
        Cpu   = Get-Median ($results[$k] | ForEach-Object Cpu)
        RssMB = Get-Median ($results[$k] | ForEach-Object RssMB)
    }
}
Write-Host ''
Write-Host "| variant | wall (s) | CPU (s) | peak RSS (MB) | wall vs bare | command"
Write-Host "|---------|---------:|--------:|--------------:|-------------:|--------"
foreach ($k in $variants.Keys) {
    Write-Host ('| {0,-7} | {1,8:F3} | {2,7:F2} | {3,13:F1} | {4,11:F2}x | {5}' -f $k, $med[$k].Wall, $med[$k].Cpu, $med[$k].RssMB,
        ($med[$k].Wall / $med.bare.Wall), $variants[$k])
}
Write-Host ("median of $Runs; peak RSS from {0}; load average now: {1}" -f
    $(if ($timeTool) { '/usr/bin/time (largest process of the run)' } else { 'the pwsh process (/proc/self/status VmHWM)' }),
    $(if (Test-Path /proc/loadavg) { (Get-Content /proc/loadavg -Raw).Trim() } else { '?' }))
Write-Host ('import + one cmdlet (Get-CcieBackup, formatted) vs bare: {0:F2}x wall, {1:F2}x CPU' -f
    ($med.cmdlet.Wall / $med.bare.Wall), ($med.cmdlet.Cpu / $med.bare.Cpu))
Write-Host ('module extra peak RSS: {0:F1} MB after Import-Module, {1:F1} MB after one cmdlet' -f
    ($med.import.RssMB - $med.bare.RssMB), ($med.cmdlet.RssMB - $med.bare.RssMB))
Write-Target -Name import -Value ($med.import.Wall / $med.bare.Wall) -Op '<=' -Limit 1.15
