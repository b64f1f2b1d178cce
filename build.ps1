#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests, packages and demonstrates CcieDr.
.DESCRIPTION
    Tasks:
      Build      publish the module to out/CcieDr/<version>/ (Import-Module ready), compile help
      Test       Build, then xUnit + Pester against the built module; prints 'N passed, N failed' per runner
      Demo       Build, then a full drill on the built-in AWS simulator
      Bench      Build, then the benchmarks (ratios against reference tools measured in the same run)
      Package    Build, then out/package/CcieDr.<version>.nupkg (Install-PSResource/Install-Module ready)
      Simulator  run the AWS simulator in the foreground on 127.0.0.1:<Port>, seeded, real-time
      Clean      remove out/ and bin/obj folders
    The module version comes from CcieDr.psd1 only.
.EXAMPLE
    dotnet tool restore; dotnet pwsh ./build.ps1 Test
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Build', 'Test', 'Demo', 'Bench', 'Package', 'Simulator', 'Clean')]
    [string[]] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Simulator task: port to listen on (127.0.0.1 only).
    [int] $Port = 4566,

    # Test task: only run these runners.
    [ValidateSet('xunit', 'pester')]
    [string[]] $Runner = @('xunit', 'pester'),

    # Test task: Pester tag filter, xUnit filter expression.
    [string[]] $PesterTag,
    [string] $XunitFilter
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$root = $PSScriptRoot
$manifest = Import-PowerShellDataFile (Join-Path $root 'CcieDr.psd1')
$version = $manifest.ModuleVersion
$outDir = Join-Path $root 'out'
$moduleDir = Join-Path $outDir "CcieDr/$version"
$simDir = Join-Path $outDir 'simulator'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'
$env:DOTNET_SKIP_FIRST_TIME_EXPERIENCE = '1'

function Invoke-Native {
    param([string] $File, [string[]] $Arguments)
    & $File @Arguments | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "'$File $($Arguments -join ' ')' failed with exit code $LASTEXITCODE" }
}

function Get-NuGetPackagesRoot {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    return Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages'
}

function Invoke-BuildTask {
    Write-Host "==> Build CcieDr $version ($Configuration)" -ForegroundColor Cyan
    $publishDir = Join-Path $outDir 'publish'
    if (Test-Path $publishDir) { Remove-Item $publishDir -Recurse -Force }
    Invoke-Native dotnet @('publish', (Join-Path $root 'src/CcieDr/CcieDr.csproj'), '-c', $Configuration,
        "-p:Version=$version", '-o', $publishDir, '--nologo', '-v', 'quiet')

    if (Test-Path $moduleDir) { Remove-Item $moduleDir -Recurse -Force }
    $bin = New-Item -ItemType Directory -Force (Join-Path $moduleDir 'bin')
    $lib = New-Item -ItemType Directory -Force (Join-Path $bin 'lib')
    foreach ($file in Get-ChildItem $publishDir -File) {
        if ($file.Name -in 'System.Management.Automation.dll') { continue }      # reference-only: never ship
        if ($file.Extension -notin '.dll', '.pdb', '.xml' -or $file.Name -like '*.deps.json') { continue }
        $dest = if ($file.BaseName -eq 'CcieDr.Shared') { $bin } else { $lib }
        Copy-Item $file.FullName $dest
    }
    foreach ($name in 'CcieDr.psd1', 'CcieDr.psm1', 'CcieDr.format.ps1xml') {
        Copy-Item (Join-Path $root $name) $moduleDir
    }

    # Help: markdown in docs/en-US compiled to MAML against the built cmdlets; also checks that
    # CmdletsToExport lists exactly the compiled cmdlets.
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tools/Build-Help.ps1'),
        '-ModuleDirectory', $moduleDir, '-DocsDirectory', (Join-Path $root 'docs/en-US'))
    Write-Host "Module: $moduleDir"
}

function Invoke-BuildSimulator {
    Write-Host '==> Build simulator' -ForegroundColor Cyan
    Invoke-Native dotnet @('build', (Join-Path $root 'src/CcieDr.Simulator/CcieDr.Simulator.csproj'), '-c', $Configuration,
        '-o', $simDir, '--nologo', '-v', 'quiet')
    # The companion module operators install to test their own runbooks: module files + the simulator program in bin/.
    $simModuleSource = Join-Path $root 'src/CcieDr.Simulator/Module'
    $simModuleVersion = (Import-PowerShellDataFile (Join-Path $simModuleSource 'CcieDr.Simulator.psd1')).ModuleVersion
    $simModuleDir = Join-Path $outDir "CcieDr.Simulator/$simModuleVersion"
    if (Test-Path $simModuleDir) { Remove-Item $simModuleDir -Recurse -Force }
    $null = New-Item -ItemType Directory -Force (Join-Path $simModuleDir 'bin')
    Copy-Item (Join-Path $simModuleSource '*') $simModuleDir
    Copy-Item (Join-Path $simDir '*') (Join-Path $simModuleDir 'bin') -Recurse
}

function Invoke-XunitTests {
    Write-Host '==> xUnit' -ForegroundColor Cyan
    $passed = 0; $failed = 0; $skipped = 0; $failures = @()
    $projects = Get-ChildItem (Join-Path $root 'tests') -Recurse -Filter '*.Tests.csproj'
    foreach ($project in $projects) {
        $arguments = @('test', $project.FullName, '-c', $Configuration, '--nologo', '--logger', 'console;verbosity=minimal')
        if ($XunitFilter) { $arguments += @('--filter', $XunitFilter) }
        $lines = & dotnet @arguments 2>&1 | ForEach-Object { $line = "$_"; Write-Host $line; $line }
        $failures += @($lines | Where-Object { $_ -match '^\s*Failed\s+\S+\s*\[' } | ForEach-Object { $_.Trim() })
        $summary = $lines | Where-Object { $_ -match 'Failed:\s*(\d+),\s*Passed:\s*(\d+),\s*Skipped:\s*(\d+)' } | Select-Object -Last 1
        if ($summary -and $summary -match 'Failed:\s*(\d+),\s*Passed:\s*(\d+),\s*Skipped:\s*(\d+)') {
            $failed += [int]$Matches[1]; $passed += [int]$Matches[2]; $skipped += [int]$Matches[3]
        }
        elseif ($LASTEXITCODE -ne 0) {
            Write-Host "xUnit project $($project.Name) failed to build or run" -ForegroundColor Red
            $failed += 1
        }
    }
    return [pscustomobject]@{ Runner = 'xunit'; Passed = $passed; Failed = $failed; Skipped = $skipped; Failures = $failures }
}

function Invoke-PesterTests {
    Write-Host '==> Pester' -ForegroundColor Cyan
    Invoke-Native dotnet @('restore', (Join-Path $root 'tests/TestDeps/TestDeps.csproj'), '--nologo', '-v', 'quiet')
    $resultFile = Join-Path $outDir 'pester-result.json'
    if (Test-Path $resultFile) { Remove-Item $resultFile }
    $env:CCIEDR_MODULE_PATH = Join-Path $moduleDir 'CcieDr.psd1'
    $env:CCIEDR_SIMULATOR = Join-Path $simDir 'CcieDr.Simulator.dll'
    $env:CCIEDR_NUGET_PACKAGES = Get-NuGetPackagesRoot
    $env:CCIEDR_REPO_ROOT = $root
    # A child process: tests import the built module into a clean session.
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tests/pester/Invoke-Tests.ps1'),
        '-ResultFile', $resultFile, '-Tag', ($PesterTag -join ','))
    $result = Get-Content $resultFile -Raw | ConvertFrom-Json
    return [pscustomobject]@{ Runner = 'pester'; Passed = $result.Passed; Failed = $result.Failed; Skipped = $result.Skipped; Failures = @($result.Failures) }
}

function Invoke-TestTask {
    $results = @()
    if ('xunit' -in $Runner) { $results += Invoke-XunitTests }
    if ('pester' -in $Runner) {
        try { $results += Invoke-PesterTests }
        catch {
            Write-Host "Pester run failed: $_" -ForegroundColor Red
            $results += [pscustomobject]@{ Runner = 'pester'; Passed = 0; Failed = 1; Skipped = 0 }
        }
    }
    $bad = $false
    foreach ($r in $results) {
        Write-Host ("{0}: {1} passed, {2} failed" -f $r.Runner, $r.Passed, $r.Failed)
        foreach ($f in @($r.Failures)) { if ($f) { Write-Host "  FAILED $f" -ForegroundColor Red } }
        if ($r.Failed -gt 0 -or $r.Passed -eq 0) { $bad = $true }
    }
    $total = $results | Measure-Object -Property Passed, Failed -Sum
    Write-Host ("{0} passed, {1} failed" -f ($total | Where-Object Property -eq Passed).Sum, ($total | Where-Object Property -eq Failed).Sum)
    if ($bad) { throw 'Tests failed (or a runner ran no test).' }
}

function Invoke-PackageTask {
    Write-Host '==> Package' -ForegroundColor Cyan
    $repo = Join-Path $outDir 'package'
    New-Item -ItemType Directory -Force $repo | Out-Null
    Get-ChildItem $repo -Filter 'CcieDr.*.nupkg' | Remove-Item -Force
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tools/New-Package.ps1'),
        '-ModuleDirectory', $moduleDir, '-Repository', $repo)
}

function Invoke-DemoTask {
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tools/Demo.ps1'),
        '-ModulePath', (Join-Path $moduleDir 'CcieDr.psd1'), '-SimulatorPath', (Join-Path $simDir 'CcieDr.Simulator.dll'))
}

function Invoke-BenchTask {
    $modulePath = Join-Path $moduleDir 'CcieDr.psd1'
    # 1. Backup throughput and memory against tar -cjf / lbzip2 / pbzip2 on a generated ~300 MB tree.
    $bench = Join-Path $root 'bench/CcieDr.Bench/CcieDr.Bench.csproj'
    $work = Join-Path ([IO.Path]::GetTempPath()) 'ccie-bench'
    Invoke-Native dotnet @('run', '--project', $bench, '-c', 'Release', '--', '--work', $work)

    # 2. Restore throughput against tar -xjf, on an archive of the same tree made by Backup-CcieData.
    $archiveDir = Join-Path $work 'restore-bench'
    if (Test-Path $archiveDir) { Remove-Item $archiveDir -Recurse -Force }
    $null = New-Item -ItemType Directory -Force $archiveDir
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-Command',
        "Import-Module '$modulePath'; `$null = Backup-CcieData -Path '$(Join-Path $work 'data')' -Destination '$archiveDir' -Confirm:`$false")
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tools/Bench-Restore.ps1'),
        '-Archive', (Join-Path $archiveDir 'circleci-data-export.tar.bz2'), '-ModulePath', $modulePath)

    # 2b. Whole-process peak memory of Backup-/Restore-CcieData: 60k and 250k small files (cached under the work dir) and the ~300 MB tree.
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tools/Bench-Memory.ps1'),
        '-ModulePath', $modulePath, '-WorkDirectory', $work, '-BenchProject', $bench)

    # 2c. Restore of single-stream, many-block archives (GNU tar -cjf, lbzip2) of the same tree.
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tools/Bench-Restore-SingleStream.ps1'),
        '-Tree', (Join-Path $work 'data'), '-ModulePath', $modulePath)

    # 3. Restore-CcieServicesBox orchestration overhead beyond the simulator's scripted AWS transitions.
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tools/Bench-Orchestration.ps1'),
        '-ModulePath', $modulePath, '-SimulatorPath', (Join-Path $simDir 'CcieDr.Simulator.dll'))

    # 3b. Invoke-CcieFailover: the RTO of the two acceptance runs (mode 1, mode 3 with -AssumePrimaryDead) and the overhead beyond scripted waits.
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tools/Bench-Failover.ps1'),
        '-ModulePath', $modulePath, '-SimulatorPath', (Join-Path $simDir 'CcieDr.Simulator.dll'))

    # 4. Hostile-archive fuzzer at volume (CI runs 300 cases of the same test): prints its counts.
    Write-Host '==> Hostile-archive fuzzer, 2000 cases' -ForegroundColor Cyan
    $env:CCIE_FUZZ_CASES = '2000'
    try {
        Invoke-Native dotnet @('test', (Join-Path $root 'tests/CcieDr.Engine.Tests/CcieDr.Engine.Tests.csproj'), '-c', $Configuration, '--nologo',
            '--filter', 'FullyQualifiedName~HostileArchiveFuzzTests', '--logger', 'console;verbosity=detailed')
    }
    finally { Remove-Item Env:CCIE_FUZZ_CASES }

    # 5. Import-Module start-up against a bare pwsh, whole processes.
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tools/Bench-Import.ps1'),
        '-ModulePath', $modulePath, '-Runs', '9')

    # 6. Test-CcieServicesBox against a dead box (EC2, SSH and the app ports all hang): the whole run.
    Invoke-Native dotnet @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $root 'tools/Bench-HealthDeadBox.ps1'),
        '-ModulePath', $modulePath, '-SimulatorPath', (Join-Path $simDir 'CcieDr.Simulator.dll'))
}

# Runs the bench sections under a transcript, then lists every TARGET line they printed (and the item-8 targets
# that printed none), even when a section failed.
function Invoke-BenchWithSummary {
    . (Join-Path $root 'tools/Bench.Common.ps1')
    $log = Join-Path $outDir 'bench-transcript.txt'
    $null = New-Item -ItemType Directory -Force $outDir
    $null = Start-Transcript -Path $log -Force
    try { Invoke-BenchTask }
    finally {
        $null = Stop-Transcript
        Write-TargetSummary -Line (Get-Content $log)
    }
}

function Invoke-SimulatorTask {
    Write-Host "AWS simulator on http://127.0.0.1:$Port (Ctrl+C to stop). Point CcieDr at it with -EndpointUrl http://127.0.0.1:$Port" -ForegroundColor Cyan
    Invoke-Native dotnet @((Join-Path $simDir 'CcieDr.Simulator.dll'), '--port', "$Port", '--seed', 'circleci', '--realtime')
}

foreach ($t in $Task) {
    switch ($t) {
        'Clean' {
            foreach ($d in @($outDir) + (Get-ChildItem $root -Recurse -Directory -Include bin, obj | Where-Object FullName -notmatch 'node_modules').FullName) {
                if (Test-Path $d) { Remove-Item $d -Recurse -Force }
            }
        }
        'Build' { Invoke-BuildTask }
        'Test' { Invoke-BuildTask; Invoke-BuildSimulator; Invoke-TestTask }
        'Demo' { Invoke-BuildTask; Invoke-BuildSimulator; Invoke-DemoTask }
        'Bench' { Invoke-BuildTask; Invoke-BuildSimulator; Invoke-BenchWithSummary }
        'Package' { Invoke-BuildTask; Invoke-PackageTask }
        'Simulator' { Invoke-BuildSimulator; Invoke-SimulatorTask }
    }
}
