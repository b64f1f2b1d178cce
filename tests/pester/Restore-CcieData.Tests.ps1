# Restore-CcieData and Test-CcieBackup on local archives made by GNU tar and crafted by hand.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force

    function New-TestTree([string] $Root) {
        New-Item -ItemType Directory -Force -Path "$Root/postgres", "$Root/empty" | Out-Null
        Set-Content -Path "$Root/postgres/base" -Value 'new database'
        Set-Content -Path "$Root/README.txt" -Value 'new readme'
        New-Item -ItemType SymbolicLink -Path "$Root/current" -Target 'postgres' | Out-Null
    }

    function Get-TreeText([string] $Root) {
        Get-ChildItem -LiteralPath $Root -Recurse -Force | Sort-Object FullName | ForEach-Object {
            $rel = $_.FullName.Substring($Root.Length)
            if ($_.LinkTarget) { "$rel -> $($_.LinkTarget)" }
            elseif ($_.PSIsContainer) { "$rel/" }
            else { "$rel $((Get-FileHash -LiteralPath $_.FullName).Hash)" }
        }
    }
}

Describe 'Restore-CcieData' -Tag 'Archive' {
    BeforeEach {
        $root = Join-Path ([IO.Path]::GetTempPath()) ("ccie-pester-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
        $data = Join-Path $root 'data'
        $src = Join-Path $root 'src'
        New-Item -ItemType Directory -Force -Path $data, $src | Out-Null
        New-TestTree $src
        Set-Content -Path "$data/old.txt" -Value 'old'
        $archive = Join-Path $root 'circleci-data-export.tar.bz2'
        & tar -C $src -cjf $archive .
        $before = Get-TreeText $data
    }

    AfterEach {
        Remove-Item -LiteralPath $root -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'restores, moves the old data aside and reports it' {
        $r = Restore-CcieData -Source $archive -Path $data -AllowNoManifest -Force -WarningVariable warnings -WarningAction SilentlyContinue
        $r | Should -BeOfType ([CcieDr.DataRestoreResult])
        $r.MovedAsideTo | Should -BeLike "$data/circleci-restore-*"
        $r.MovedAside | Should -Be @('old.txt')
        $r.ManifestVerified | Should -BeFalse
        $warnings.Message | Should -Contain 'no manifest: contents not verified against a manifest'
        Get-Content "$data/README.txt" | Should -Be 'new readme'
        Get-Content "$($r.MovedAsideTo)/old.txt" | Should -Be 'old'
        (Get-Item "$data/current").LinkTarget | Should -Be 'postgres'
        $r.Timeline.Count | Should -BeGreaterThan 0
    }

    It '-WhatIf lists what would move and changes nothing' {
        $out = Restore-CcieData -Source $archive -Path $data -AllowNoManifest -WhatIf 6>&1 | Out-String
        Get-TreeText $data | Should -Be $before
        (Get-ChildItem -LiteralPath $data -Force).Name | Should -Be @('old.txt')
    }

    It 'refuses a manifest-less archive without -AllowNoManifest, naming the switch, and changes nothing' {
        Restore-CcieData -Source $archive -Path $data -Force -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ArchiveManifestMissing,*'
        $err[0].Exception.Message | Should -BeLike '*-AllowNoManifest*'
        Get-TreeText $data | Should -Be $before
        (Get-ChildItem -LiteralPath $data -Force).Name | Should -Be @('old.txt')
    }

    It 'strips setuid by default with a warning and keeps it with -PreservePermissions Full' {
        $suid = Join-Path $root 'suid'
        New-Item -ItemType Directory -Path $suid | Out-Null
        Set-Content -Path "$suid/tool" -Value 'x'
        & chmod 4755 "$suid/tool"
        $null = New-Item -ItemType Directory -Path (Join-Path $root 'b')
        $b = Backup-CcieData -Path $suid -Destination (Join-Path $root 'b')
        $r = Restore-CcieData -Source $b.Location -Path $data -Force -WarningVariable warnings -WarningAction SilentlyContinue
        $r.ManifestVerified | Should -BeTrue
        [Convert]::ToString([int][IO.File]::GetUnixFileMode("$data/tool"), 8) | Should -Be '755'
        ($warnings.Message -join "`n") | Should -BeLike '*setuid/setgid removed*tool*'
        $r = Restore-CcieData -Source $b.Location -Path $data -PreservePermissions Full -Force -WarningAction SilentlyContinue
        [Convert]::ToString([int][IO.File]::GetUnixFileMode("$data/tool"), 8) | Should -Be '4755'
    }

    It 'refuses a hostile archive with UnsafeArchive and leaves the data alone' {
        # a symlink pointing out of the data directory, then a file written through it
        $evil = Join-Path $root 'evil'
        New-Item -ItemType Directory -Path $evil | Out-Null
        New-Item -ItemType SymbolicLink -Path "$evil/link" -Target '/tmp' | Out-Null
        $hostile = Join-Path $root 'hostile.tar.bz2'
        & tar -C $evil -cjf $hostile link
        Restore-CcieData -Source $hostile -Path $data -Force -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'UnsafeArchive,*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        Get-TreeText $data | Should -Be $before
    }

    It 'reports a missing archive as ArchiveNotFound' {
        Restore-CcieData -Source (Join-Path $root 'nope.tar.bz2') -Path $data -Force -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ArchiveNotFound,*'
        $err[0].TargetObject | Should -BeLike '*nope.tar.bz2'
    }

    It '-Recover with no interrupted restore does nothing' {
        Restore-CcieData -Path $data -Recover Auto -Force | Should -BeNullOrEmpty
        Get-TreeText $data | Should -Be $before
    }

    It 'Test-CcieBackup says NoManifest for a GNU tar archive and Failed for a truncated one' {
        (Test-CcieBackup -Source $archive).Verdict | Should -Be 'NoManifest'
        $bytes = [IO.File]::ReadAllBytes($archive)
        $cut = Join-Path $root 'cut.tar.bz2'
        [IO.File]::WriteAllBytes($cut, $bytes[0..($bytes.Length - 20)])
        $v = Test-CcieBackup -Source $cut
        $v | Should -BeOfType ([CcieDr.BackupVerification])
        $v.Verdict | Should -Be 'Failed'
        $v.Problems.Count | Should -BeGreaterThan 0
    }
}
