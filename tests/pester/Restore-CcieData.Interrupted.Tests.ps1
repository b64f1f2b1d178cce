# Kill -9 a running Restore-CcieData at several points; after recovery the data directory holds exactly
# the old data or exactly the new data, never a mix.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    $root = Join-Path $TestDrive 'kill'
    $old = Join-Path $root 'old'
    $new = Join-Path $root 'new'
    $data = Join-Path $root 'data'
    $archive = Join-Path $root 'circleci-data-export.tar.bz2'

    function New-Tree([string] $Path, [int] $Files, [string] $Tag) {
        $rng = [System.Random]::new($Tag.GetHashCode())
        foreach ($dir in 'circleci/mongo', 'circleci/postgres', 'circleci/redis', "only-$Tag") {
            $null = New-Item -ItemType Directory -Force (Join-Path $Path $dir)
        }
        $bytes = [byte[]]::new(96KB)
        for ($i = 0; $i -lt $Files; $i++) {
            $rng.NextBytes($bytes)
            for ($j = 0; $j -lt $bytes.Length; $j += 2) { $bytes[$j] = 97 + ($bytes[$j] % 8) }   # half compressible
            $sub = @('circleci/mongo', 'circleci/postgres', 'circleci/redis')[$i % 3]
            [IO.File]::WriteAllBytes((Join-Path $Path "$sub/$Tag-$i.dat"), $bytes)
        }
    }

    # Fingerprint of what an operator sees as the data: every path and file hash, ignoring the move-aside
    # folders a completed restore leaves (circleci-restore-*).
    function Get-TreeFingerprint([string] $Path) {
        $base = (Resolve-Path $Path).ProviderPath
        $lines = Get-ChildItem -LiteralPath $base -Recurse -Force | Where-Object {
            $rel = $_.FullName.Substring($base.Length + 1)
            $rel -notmatch '^circleci-restore-'
        } | ForEach-Object {
            $rel = $_.FullName.Substring($base.Length + 1)
            if ($_.PSIsContainer) { "d $rel" } else { "f $rel $((Get-FileHash -LiteralPath $_.FullName -Algorithm SHA256).Hash)" }
        } | Sort-Object
        ($lines -join "`n")
    }

    New-Tree $old 120 'old'
    New-Tree $new 240 'new'
    & tar -cjf $archive -C $new . 2>&1 | Out-Null
    $oldPrint = Get-TreeFingerprint $old
    $newPrint = Get-TreeFingerprint $new

    function Start-Restore {
        $script = "Import-Module '$(Get-CcieTestModulePath)'; Restore-CcieData -Source '$archive' -Path '$data' -AllowNoManifest -Confirm:`$false -ErrorAction Stop | Out-Null; 'restored'"
        $pwsh = (Get-Process -Id $PID).Path
        $psi = [System.Diagnostics.ProcessStartInfo]::new($pwsh)
        if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { $psi.ArgumentList.Add([Environment]::GetCommandLineArgs()[0]) }
        foreach ($a in '-NoProfile', '-NonInteractive', '-Command', $script) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.UseShellExecute = $false
        [System.Diagnostics.Process]::Start($psi)
    }

    # Kills a restore while its journal is open, in exactly the journal step named: the child holds at that
    # step (the engine's crash-test hold point CCIEDR_TEST_HOLD_AT_STEP), so the kill does not depend on the
    # machine's speed. Returns $true when the process died of the kill and left its journal behind.
    function Invoke-InterruptedRestore([string] $HoldAt) {
        Reset-Data
        $env:CCIEDR_TEST_HOLD_AT_STEP = $HoldAt
        try { $p = Start-Restore }
        finally { Remove-Item Env:CCIEDR_TEST_HOLD_AT_STEP -ErrorAction Ignore }
        $null = $p.StandardOutput.ReadToEndAsync(); $null = $p.StandardError.ReadToEndAsync()
        $journal = Join-Path $data '.ccie-restore-journal.json'
        $deadline = [DateTime]::UtcNow.AddSeconds(120)
        $held = $false
        while (-not $p.HasExited -and [DateTime]::UtcNow -lt $deadline) {
            $text = try { [IO.File]::ReadAllText($journal) } catch { '' }
            # The hold comes right after the journal records the step.
            if ($text -match "`"state`": `"$HoldAt`"") { $held = $true; break }
            Start-Sleep -Milliseconds 5
        }
        if (-not $p.HasExited) { $p.Kill() }
        $p.WaitForExit()
        return ($held -and $p.ExitCode -ne 0 -and (Test-Path $journal))
    }

    function Reset-Data {
        if (Test-Path $data) { Remove-Item $data -Recurse -Force }
        Copy-Item $old $data -Recurse
    }
}

Describe 'Restore-CcieData interrupted by kill -9' -Tag 'DataRestore', 'Interrupted' {
    It 'restores the new data when not interrupted (baseline, and how long a restore takes)' {
        Reset-Data
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $p = Start-Restore
        $out = $p.StandardOutput.ReadToEnd(); $err = $p.StandardError.ReadToEnd()
        $p.WaitForExit()
        $script:fullMs = $watch.ElapsedMilliseconds
        $p.ExitCode | Should -Be 0 -Because $err
        $out | Should -Match 'restored'
        Get-TreeFingerprint $data | Should -Be $newPrint
        @(Get-ChildItem $data -Directory -Filter 'circleci-restore-*').Count | Should -Be 1
    }

    It 'leaves old or new data, never a mix, when killed at <Fraction> of a restore' -ForEach @(
        @{ Fraction = 0.45 }, @{ Fraction = 0.6 }, @{ Fraction = 0.7 }, @{ Fraction = 0.8 }, @{ Fraction = 0.9 }, @{ Fraction = 0.97 }
    ) {
        Reset-Data
        $p = Start-Restore
        $null = $p.StandardOutput.ReadToEndAsync(); $null = $p.StandardError.ReadToEndAsync()
        $exited = $p.WaitForExit([int]($script:fullMs * $Fraction))
        if (-not $exited) { $p.Kill() }        # SIGKILL on Unix: no finally blocks, no cleanup
        $p.WaitForExit()

        # A new restore refuses while a journal says one was interrupted; -Recover Auto repairs it.
        $null = Restore-CcieData -Path $data -Recover Auto -Confirm:$false
        $print = Get-TreeFingerprint $data
        $print -eq $oldPrint -or $print -eq $newPrint | Should -BeTrue -Because "after a kill at $Fraction the data must be exactly old or new (exited by itself: $exited)"
        (Join-Path $data '.ccie-restore-journal.json') | Should -Not -Exist
        @(Get-ChildItem $data -Force -Filter '.ccie-restore-staging-*').Count | Should -Be 0
    }

    It 'is really interrupted mid-restore (journal left behind at <_>); -Recover Auto then gives old or new' -ForEach @('staged', 'moving-aside') {
        Invoke-InterruptedRestore $_ | Should -BeTrue -Because 'some kill must land while the restore journal is open'
        $recovered = Restore-CcieData -Path $data -Recover Auto -Confirm:$false
        $recovered | Should -Not -BeNullOrEmpty
        $print = Get-TreeFingerprint $data
        $print -eq $oldPrint -or $print -eq $newPrint | Should -BeTrue
        (Join-Path $data '.ccie-restore-journal.json') | Should -Not -Exist
    }

    It 'finishes or undoes an interrupted restore first when simply run again (journal left at <_>), then restores' -ForEach @('staged', 'moving-in') {
        Invoke-InterruptedRestore $_ | Should -BeTrue -Because 'some kill must land while the restore journal is open'
        $result = Restore-CcieData -Source $archive -Path $data -AllowNoManifest -Confirm:$false -WarningVariable warnings -WarningAction SilentlyContinue
        $result | Should -Not -BeNullOrEmpty
        ($warnings -join "`n") | Should -Match 'interrupted restore was found'
        Get-TreeFingerprint $data | Should -Be $newPrint
        (Join-Path $data '.ccie-restore-journal.json') | Should -Not -Exist
    }
}
