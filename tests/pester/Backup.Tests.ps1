#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Backup-CcieData, Get-CcieBackup, Remove-CcieBackup against local directories (S3 is covered by the engine's
# xUnit tests against s3rver).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    $root = Join-Path ([IO.Path]::GetTempPath()) ("ccie-pester-backup-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $data = Join-Path $root 'data'
    $out = Join-Path $root 'out'
    New-Item -ItemType Directory -Path (Join-Path $data 'mongo'), $out, (Join-Path $data 'empty') | Out-Null
    Set-Content -LiteralPath (Join-Path $data 'mongo/collection.wt') -Value ('x' * 10000)
    Set-Content -LiteralPath (Join-Path $data 'scratch.tmp') -Value 'scratch'
}

AfterAll {
    Remove-Item -LiteralPath $root -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Backup-CcieData' -Tag 'Backup' {
    It 'writes an archive GNU tar reads and returns a CcieDr.BackupArchive' {
        $r = Backup-CcieData -Path $data -Destination $out -Exclude '*.tmp'
        $r.PSObject.TypeNames[0] | Should -Be 'CcieDr.BackupArchive'
        $r.Location | Should -Be (Join-Path $out 'circleci-data-export.tar.bz2')
        $r.FileCount | Should -Be 1
        $r.Size | Should -Be (Get-Item $r.Location).Length
        $r.Sha256 | Should -Be (Get-FileHash $r.Location -Algorithm SHA256).Hash.ToLowerInvariant()
        $members = & tar -tjf $r.Location
        $LASTEXITCODE | Should -Be 0
        $members | Should -Be @('empty/', 'mongo/', 'mongo/collection.wt', '.ccie-dr/manifest.json')
    }

    It '-WhatIf lists the steps and writes nothing' {
        $dest = Join-Path $root 'whatif'
        New-Item -ItemType Directory -Path $dest | Out-Null
        Backup-CcieData -Path $data -Destination $dest -PreBackupCommand 'touch /tmp/ccie-should-not-run' -WhatIf
        @(Get-ChildItem $dest).Count | Should -Be 0
    }

    It 'reports a failing pre-backup command as a non-terminating error and writes nothing' {
        $dest = Join-Path $root 'prefail'
        New-Item -ItemType Directory -Path $dest | Out-Null
        $r = Backup-CcieData -Path $data -Destination $dest -PreBackupCommand 'exit 7' -ErrorVariable err -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'PreBackupCommandFailed,*'
        $err[0].CategoryInfo.Category | Should -Be 'OperationStopped'
        @(Get-ChildItem $dest).Count | Should -Be 0
    }

    It 'refuses a missing destination as a bad argument' {
        { Backup-CcieData -Path $data -Destination (Join-Path $root 'missing') -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidBackupDestination,CcieDr.Commands.BackupCcieDataCommand'
    }
}

Describe 'Get-CcieBackup and Remove-CcieBackup' -Tag 'Backup' {
    BeforeAll {
        $keep = Join-Path $root 'keep'
        New-Item -ItemType Directory -Path $keep | Out-Null
        Backup-CcieData -Path $data -Destination $keep -TimestampedName | Out-Null
        Start-Sleep -Seconds 1.1
        Backup-CcieData -Path $data -Destination $keep -TimestampedName | Out-Null
        Start-Sleep -Seconds 1.1
        Backup-CcieData -Path $data -Destination $keep -TimestampedName | Out-Null
    }

    It 'lists archives newest first with manifest detection' {
        $list = @(Get-CcieBackup -Path $keep)
        $list.Count | Should -Be 3
        $list[0].PSObject.TypeNames[0] | Should -Be 'CcieDr.BackupInfo'
        $list | ForEach-Object { $_.HasManifest | Should -BeTrue }
        $list[0].Created | Should -BeGreaterThan $list[1].Created
        (Get-CcieBackup -Path $keep -Latest).Location | Should -Be $list[0].Location
    }

    It '-WhatIf removes nothing' {
        Remove-CcieBackup -Path $keep -KeepLast 1 -WhatIf
        @(Get-CcieBackup -Path $keep).Count | Should -Be 3
    }

    It 'keeps what the policy keeps and removes the rest' {
        $newest = (Get-CcieBackup -Path $keep -Latest).Location
        $removed = @(Remove-CcieBackup -Path $keep -KeepLast 1 -Confirm:$false)
        $removed.Count | Should -Be 2
        $removed | ForEach-Object { $_.RetentionAction | Should -Be 'Remove' }
        @(Get-CcieBackup -Path $keep).Location | Should -Be @($newest)
    }

    It 'requires a keep rule' {
        { Remove-CcieBackup -Path $keep -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'RetentionPolicyRequired,CcieDr.Commands.RemoveCcieBackupCommand'
    }
}
