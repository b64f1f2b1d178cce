# Session state is read on the pipeline thread only (issue #12 item 9): every path a file cmdlet takes is
# resolved against the session's current location, including a PSDrive the engine's work thread knows nothing
# about, and $WhatIfPreference set in the caller's scope counts as -WhatIf.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    $root = Join-Path ([IO.Path]::GetTempPath()) ("ccie-ss-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $null = New-Item -ItemType Directory -Path (Join-Path $root 'data/circleci'), (Join-Path $root 'backups')
    Set-Content -LiteralPath (Join-Path $root 'data/circleci/a.txt') -Value 'alpha'
    $null = New-PSDrive -Name ccss -PSProvider FileSystem -Root $root -Scope Global
}

AfterAll {
    Pop-Location -ErrorAction SilentlyContinue
    Remove-PSDrive -Name ccss -Scope Global -ErrorAction SilentlyContinue
    Remove-Item -LiteralPath $root -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'paths relative to a PSDrive location' {
    BeforeAll { Push-Location 'ccss:/' }
    AfterAll { Pop-Location }

    It 'Backup-CcieData writes into the drive-relative destination' {
        $b = Backup-CcieData -Path ./data -Destination ./backups
        $b.Location | Should -Be (Join-Path $root 'backups/circleci-data-export.tar.bz2')
        Test-Path -LiteralPath (Join-Path $root 'backups/circleci-data-export.tar.bz2') | Should -BeTrue
    }

    It 'Get-CcieBackup and Test-CcieBackup find it by the drive-relative path' {
        (Get-CcieBackup -Path ./backups -Latest).Location | Should -Be (Join-Path $root 'backups/circleci-data-export.tar.bz2')
        (Test-CcieBackup -Source ./backups/circleci-data-export.tar.bz2).Verdict | Should -Be 'Passed'
    }

    It 'Restore-CcieData restores into the drive-relative target' {
        $null = New-Item -ItemType Directory -Path (Join-Path $root 'restored')
        $r = Restore-CcieData -Source ./backups/circleci-data-export.tar.bz2 -Path ./restored -Force
        $r.ManifestVerified | Should -BeTrue
        Get-Content -LiteralPath (Join-Path $root 'restored/circleci/a.txt') | Should -Be 'alpha'
    }

    It 'Remove-CcieBackup honours $WhatIfPreference from the caller and removes nothing' {
        Start-Sleep -Seconds 1.1
        $null = Backup-CcieData -Path ./data -Destination ./backups -TimestampedName
        @(Get-CcieBackup -Path ./backups).Count | Should -Be 2
        $WhatIfPreference = $true
        try { Remove-CcieBackup -Path ./backups -KeepLast 1 -Force 6>$null }
        finally { $WhatIfPreference = $false }
        @(Get-CcieBackup -Path ./backups).Count | Should -Be 2
        # and without the preference the same call does remove one (so the check above can fail)
        Remove-CcieBackup -Path ./backups -KeepLast 1 -Force | Out-Null
        @(Get-CcieBackup -Path ./backups).Count | Should -Be 1
    }
}
