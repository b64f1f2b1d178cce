#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The fast mode through the built module: Backup-CcieData -Compression Zstd, then Test-CcieBackup, Get-CcieBackup
# and Restore-CcieData, which tell bzip2 from zstd by content (a misnamed archive still restores).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    $root = Join-Path ([IO.Path]::GetTempPath()) ("ccie-pester-zstd-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $src = Join-Path $root 'src'
    $out = Join-Path $root 'out'
    New-Item -ItemType Directory -Path (Join-Path $src 'mongo'), (Join-Path $src 'empty'), $out | Out-Null
    Set-Content -LiteralPath (Join-Path $src 'mongo/collection.wt') -Value ('circleci build log line ' * 20000)
    Set-Content -LiteralPath (Join-Path $src 'README.txt') -Value 'new readme'
    New-Item -ItemType SymbolicLink -Path (Join-Path $src 'current') -Target 'mongo' | Out-Null

    function Get-TreeText([string] $Root) {
        Get-ChildItem -LiteralPath $Root -Recurse -Force | Where-Object { $_.FullName -notlike "*/circleci-restore-*" } |
            Sort-Object FullName | ForEach-Object {
                $rel = $_.FullName.Substring($Root.Length)
                if ($_.LinkTarget) { "$rel -> $($_.LinkTarget)" }
                elseif ($_.PSIsContainer) { "$rel/" }
                else { "$rel $((Get-FileHash -LiteralPath $_.FullName).Hash)" }
            }
    }
}

AfterAll {
    Remove-Item -LiteralPath $root -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Backup-CcieData -Compression Zstd' -Tag 'Backup', 'Archive' {
    It 'writes circleci-data-export.tar.zst that tar -I zstd reads' {
        $r = Backup-CcieData -Path $src -Destination $out -Compression Zstd
        $r.PSObject.TypeNames[0] | Should -Be 'CcieDr.BackupArchive'
        $r.Location | Should -Be (Join-Path $out 'circleci-data-export.tar.zst')
        $r.Name | Should -Be 'circleci-data-export.tar.zst'
        $r.Compression | Should -Be 'zstd'
        $r.Compressor | Should -BeLike 'zstd level 3*'
        $r.Sha256 | Should -Be (Get-FileHash $r.Location -Algorithm SHA256).Hash.ToLowerInvariant()
        $members = & tar -I zstd -tf $r.Location
        $LASTEXITCODE | Should -Be 0
        $members | Should -Contain 'mongo/collection.wt'
        $members | Should -Contain '.ccie-dr/manifest.json'
        Test-Path (Join-Path $out 'circleci-data-export.tar.bz2') | Should -BeFalse
    }

    It 'keeps bzip2 as the default' {
        $dest = Join-Path $root 'default'
        New-Item -ItemType Directory -Path $dest | Out-Null
        $r = Backup-CcieData -Path $src -Destination $dest
        $r.Name | Should -Be 'circleci-data-export.tar.bz2'
        $r.Compression | Should -Be 'bzip2'
    }

    It 'refuses an unknown compression as a bad argument' {
        { Backup-CcieData -Path $src -Destination $out -Compression Gzip -ErrorAction Stop } |
            Should -Throw -ErrorId 'ParameterArgumentValidationError,CcieDr.Commands.BackupCcieDataCommand'
    }

    It '-WhatIf names the zstd archive and writes nothing' {
        $dest = Join-Path $root 'whatif'
        New-Item -ItemType Directory -Path $dest | Out-Null
        # What-if text goes to the host, not to a stream: run it in a child session and read its stdout.
        $child = Invoke-CcieChildPwsh -Script @"
Import-Module '$(Get-CcieTestModulePath)'
Backup-CcieData -Path '$src' -Destination '$dest' -Compression Zstd -WhatIf
"@
        $child.ExitCode | Should -Be 0 -Because $child.Error
        $child.Output | Should -Match ([regex]::Escape("What if: Back up $src to $dest/circleci-data-export.tar.zst"))
        $child.Output | Should -Match 'multi-threaded zstd'
        @(Get-ChildItem $dest).Count | Should -Be 0
    }
}

Describe 'Test-CcieBackup, Get-CcieBackup and Restore-CcieData on zstd archives' -Tag 'Backup', 'Archive' {
    BeforeAll {
        $archive = (Backup-CcieData -Path $src -Destination $out -Compression Zstd -TimestampedName).Location
        $expected = Get-TreeText $src
    }

    It 'Test-CcieBackup passes a zstd backup and says zstd' {
        $v = Test-CcieBackup -Source $archive
        $v.Verdict | Should -Be 'Passed'
        $v.Compression | Should -Be 'zstd'
        $v.ManifestHost | Should -Not -BeNullOrEmpty
    }

    It 'Get-CcieBackup lists .tar.zst archives with their compression read from the content' {
        $list = @(Get-CcieBackup -Path $out)
        $zst = $list | Where-Object Location -EQ $archive
        $zst | Should -Not -BeNullOrEmpty
        $zst.Compression | Should -Be 'zstd'
        $zst.HasManifest | Should -BeTrue
    }

    It 'Restore-CcieData restores it, even under a .tar.bz2 name' {
        $misnamed = Join-Path $root 'circleci-data-export.tar.bz2'
        Copy-Item -LiteralPath $archive -Destination $misnamed
        $data = Join-Path $root 'data'
        New-Item -ItemType Directory -Path $data | Out-Null
        Set-Content -LiteralPath (Join-Path $data 'old.txt') -Value 'old'

        $r = Restore-CcieData -Source $misnamed -Path $data -Force
        $r.ManifestVerified | Should -BeTrue
        $r.MovedAside | Should -Be @('old.txt')
        Get-TreeText $data | Should -Be $expected
        Get-Content -LiteralPath (Join-Path $r.MovedAsideTo 'old.txt') | Should -Be 'old'
    }

    It 'a truncated zstd archive fails Test-CcieBackup and is refused by Restore-CcieData' {
        $bytes = [IO.File]::ReadAllBytes($archive)
        $cut = Join-Path $root 'cut.tar.zst'
        [IO.File]::WriteAllBytes($cut, $bytes[0..([int]($bytes.Length / 2))])
        $v = Test-CcieBackup -Source $cut
        $v.Verdict | Should -Be 'Failed'
        ($v.Problems -join "`n") | Should -BeLike '*truncated*'

        $data = Join-Path $root 'data-cut'
        New-Item -ItemType Directory -Path $data | Out-Null
        Set-Content -LiteralPath (Join-Path $data 'old.txt') -Value 'old'
        Restore-CcieData -Source $cut -Path $data -Force -ErrorAction SilentlyContinue -ErrorVariable err | Out-Null
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ArchiveCorrupt,*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        (Get-ChildItem -LiteralPath $data -Force).Name | Should -Be @('old.txt')
    }
}
