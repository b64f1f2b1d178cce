# kill -9 a real Restore-CcieData process at random points, then recover: the data directory is the old
# data or the new data, never a mix.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    $script:modulePath = Get-CcieTestModulePath
    # The pwsh running these tests: a native apphost, or 'dotnet pwsh.dll' when run as a dotnet tool.
    $script:pwshArgs = @()
    $script:pwsh = (Get-Process -Id $PID).Path
    if ((Split-Path -Leaf $pwsh) -like 'dotnet*') {
        $script:pwshArgs = @((Join-Path $PSHOME 'pwsh.dll'))
    }

    function Get-TreeText([string] $Root) {
        Get-ChildItem -LiteralPath $Root -Recurse -Force |
            Where-Object { $_.FullName.Substring($Root.Length).TrimStart('/') -notlike 'circleci-restore-*' } |
            Sort-Object FullName | ForEach-Object {
                $rel = $_.FullName.Substring($Root.Length)
                if ($_.LinkTarget) { "$rel -> $($_.LinkTarget)" }
                elseif ($_.PSIsContainer) { "$rel/" }
                else { "$rel $($_.Length)" }
            }
    }

    $script:root = Join-Path ([IO.Path]::GetTempPath()) ("ccie-kill-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $src = Join-Path $root 'src'
    $oldTree = Join-Path $root 'old'
    New-Item -ItemType Directory -Force -Path $src, $oldTree | Out-Null
    # Enough entries and bytes that the restore takes a few seconds. The journal-state kills below do not
    # depend on timing: the child holds at that step (CCIEDR_TEST_HOLD_AT_STEP).
    $rnd = [Random]::new(7)
    foreach ($t in 1..300) { Set-Content "$src/top$t.txt" "new $t" }
    foreach ($t in 1..300) { Set-Content "$oldTree/oldtop$t.txt" "old $t" }
    foreach ($d in 1..12) {
        New-Item -ItemType Directory -Path "$src/dir$d" | Out-Null
        foreach ($f in 1..20) {
            $bytes = [byte[]]::new(40000); $rnd.NextBytes($bytes)
            [IO.File]::WriteAllBytes("$src/dir$d/file$f", $bytes)
        }
    }
    Set-Content "$oldTree/old-a.txt" 'old a'
    New-Item -ItemType Directory -Path "$oldTree/dir1" | Out-Null
    Set-Content "$oldTree/dir1/only-old" 'old'
    $script:archive = Join-Path $root 'data.tar.bz2'
    & bash -c "tar -C '$src' -cf - . | split -b 300000 - '$root/part.' && for p in '$root'/part.*; do bzip2 -1 -c `$p; done > '$archive' && rm '$root'/part.*"
    $script:newText = Get-TreeText $src
    $script:oldText = Get-TreeText $oldTree
}

AfterAll {
    if ($root) { & rm -rf $root }
}

Describe 'Restore-CcieData killed with SIGKILL' -Tag 'Archive', 'Slow' {
    BeforeAll {
        function Start-Restore([string] $Data, [string] $HoldAt) {
            $script = "Import-Module '$modulePath'; Restore-CcieData -Source '$archive' -Path '$Data' -AllowNoManifest -Force -WarningAction SilentlyContinue | Out-Null"
            # The engine's crash-test hold point: the child stops right after that journal step is durable.
            if ($HoldAt) { $env:CCIEDR_TEST_HOLD_AT_STEP = $HoldAt }
            try { $p = Start-Process -FilePath $pwsh -ArgumentList ($pwshArgs + @('-NoProfile', '-NonInteractive', '-Command', "`"$script`"")) -PassThru }
            finally { Remove-Item Env:CCIEDR_TEST_HOLD_AT_STEP -ErrorAction Ignore }
            $deadline = [DateTime]::UtcNow.AddSeconds(120)
            while (-not (Test-Path "$Data/.ccie-restore-journal.json") -and -not $p.HasExited -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 5 }
            return $p
        }

        # Calibrate: how long a restore runs once its journal exists.
        $data = Join-Path $root 'calibrate'
        & cp -a (Join-Path $root 'old') $data
        $p = Start-Restore $data
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $p.WaitForExit()
        $script:restoreMs = [math]::Max(50, $clock.ElapsedMilliseconds)
        Write-Host "    calibrated restore: $restoreMs ms after the journal appears"
    }

    It 'leaves old or new data after recovery (kill at <_> of the restore)' -ForEach @(0.3, 0.6, 0.85) {
        # The case only means something when the kill lands mid-restore. The machine's speed varies, so a
        # restore that finished before its kill is retried with half the delay (fresh data each time); the
        # test fails unless a kill really landed.
        $fraction = $_
        $killed = $false
        foreach ($attempt in 1..6) {
            $data = Join-Path $root ("data-" + [guid]::NewGuid().ToString('N').Substring(0, 6))
            & cp -a (Join-Path $root 'old') $data
            $p = Start-Restore $data
            Start-Sleep -Milliseconds ([int]($restoreMs * $fraction))
            # A kill that lands after the clean-up (journal gone, pwsh still exiting) found a finished restore: retry too.
            if (-not $p.HasExited) { & kill -9 $p.Id; $p.WaitForExit(); $killed = $p.ExitCode -eq 137 -and (Test-Path "$data/.ccie-restore-journal.json") }
            else { $p.WaitForExit() }
            if ($killed) { break }
            Write-Host "    attempt $attempt finished before the kill at $fraction; retrying at $($fraction / 2)"
            $fraction = $fraction / 2
        }
        $killed | Should -BeTrue -Because 'a kill -9 must land while the restore runs'
        Test-Path "$data/.ccie-restore-journal.json" | Should -BeTrue -Because 'a restore killed mid-way leaves its journal'

        $recovery = Restore-CcieData -Path $data -Recover Auto -Force
        Write-Host "    exit=$($p.ExitCode) journal=$($recovery.FoundState) action=$($recovery.Action)"
        $after = Get-TreeText $data
        $isOld = ($after -join "`n") -eq ($oldText -join "`n")
        $isNew = ($after -join "`n") -eq ($newText -join "`n")
        ($isOld -or $isNew) | Should -BeTrue -Because 'the data directory must be exactly the old or the new data'
        @(Get-ChildItem -LiteralPath $data -Force -Filter '.ccie-restore-*').Count | Should -Be 0
    }

    It 'leaves old or new data after recovery (kill as soon as the journal says <_>)' -ForEach @('staged', 'moving-aside', 'moving-in') {
        $data = Join-Path $root ("data-" + [guid]::NewGuid().ToString('N').Substring(0, 6))
        & cp -a (Join-Path $root 'old') $data
        $p = Start-Restore $data -HoldAt $_
        $journal = "$data/.ccie-restore-journal.json"
        $killed = $false
        while (-not $p.HasExited) {
            $text = try { [IO.File]::ReadAllText($journal) } catch { '' }
            if ($text -match "`"state`": `"$_`"") { & kill -9 $p.Id; $killed = $true; break }
        }
        $p.WaitForExit()
        $killed | Should -BeTrue -Because "the kill must land while the journal says $_"
        $p.ExitCode | Should -Be 137 -Because 'the restore process must have died of SIGKILL'

        $recovery = Restore-CcieData -Path $data -Recover Auto -Force
        Write-Host "    exit=$($p.ExitCode) journal=$($recovery.FoundState) action=$($recovery.Action)"
        $after = Get-TreeText $data
        $isOld = ($after -join "`n") -eq ($oldText -join "`n")
        $isNew = ($after -join "`n") -eq ($newText -join "`n")
        ($isOld -or $isNew) | Should -BeTrue -Because 'the data directory must be exactly the old or the new data'
        @(Get-ChildItem -LiteralPath $data -Force -Filter '.ccie-restore-*').Count | Should -Be 0
    }
}
