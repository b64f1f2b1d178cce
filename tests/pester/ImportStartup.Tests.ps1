#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# What Import-Module CcieDr does at start-up (issue #11 item 8): nothing that a fresh session does not need yet.
# The cost itself is measured by tools/Bench-Import.ps1 (build.ps1 Bench), never asserted here.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $modulePath = Get-CcieTestModulePath
    $work = Join-Path ([IO.Path]::GetTempPath()) ('ccie-import-' + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory -Force (Join-Path $work 'data'), (Join-Path $work 'backups')
    Set-Content -Path (Join-Path $work 'data/a.txt') -Value 'a'
}

AfterAll { Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue }

Describe 'Import-Module CcieDr start-up' -Tag 'Module' {
    It 'imports no other module (no Join-Path or Update-FormatData auto-loading Management or Utility)' {
        $r = Invoke-CcieChildPwsh -Script @"
Import-Module '$modulePath'
@(Get-Module).Name -join ','   # Get-Module is in Microsoft.PowerShell.Core: loads nothing itself
(Get-Command -Module CcieDr).Count
"@
        $r.Error | Should -BeNullOrEmpty
        $r.ExitCode | Should -Be 0
        $lines = @($r.Output -split "`r?`n" | Where-Object { $_ })
        $lines[0] | Should -Be 'CcieDr'
        [int]$lines[1] | Should -Be (Import-PowerShellDataFile $modulePath).CmdletsToExport.Count
    }

    It 'keeps every cmdlet exported after Import-Module -Force and after Remove-Module and a new import' {
        # The loader surfaces the nested cmdlet module's cmdlets as CcieDr's own exports; a plain
        # Export-ModuleMember -Cmdlet * loses them all on a forced re-import (the nested module is the old one).
        $r = Invoke-CcieChildPwsh -Script @"
`$ErrorActionPreference = 'Stop'
Import-Module '$modulePath'
Import-Module '$modulePath' -Force
'{0} {1}' -f (Get-Module CcieDr).ExportedCmdlets.Count, (Get-Command Get-CcieBackup).Module.Name
Remove-Module CcieDr
Import-Module '$modulePath'
'{0} {1}' -f (Get-Module CcieDr).ExportedCmdlets.Count, (Get-Command Get-CcieBackup).Module.Name
(Get-CcieBackup -Path '$work/data').Count
"@
        $r.Error | Should -BeNullOrEmpty
        $r.ExitCode | Should -Be 0
        $expected = (Import-PowerShellDataFile $modulePath).CmdletsToExport.Count
        $lines = @($r.Output -split "`r?`n" | Where-Object { $_ })
        $lines[0] | Should -Be "$expected CcieDr"
        $lines[1] | Should -Be "$expected CcieDr"
        $lines[2] | Should -Be '0'
    }

    It 'does not load format data at import (the manifest has no FormatsToProcess)' {
        (Import-PowerShellDataFile $modulePath).ContainsKey('FormatsToProcess') | Should -BeFalse
        Join-Path (Split-Path $modulePath) 'CcieDr.format.ps1xml' | Should -Exist
    }

    It 'shows the module''s views from the first cmdlet on, once per session, also after a forced re-import' {
        $r = Invoke-CcieChildPwsh -Script @"
`$ErrorActionPreference = 'Stop'
Import-Module '$modulePath'
`$null = Backup-CcieData -Path '$work/data' -Destination '$work/backups' -Confirm:`$false
Import-Module '$modulePath' -Force
Get-CcieBackup -Path '$work/backups' | Out-String -Width 200
'#END-OF-TABLE#'
(Get-FormatData -TypeName 'CcieDr.*').TypeNames | Sort-Object -Unique | Measure-Object | ForEach-Object Count
"@
        $r.Error | Should -BeNullOrEmpty
        $r.ExitCode | Should -Be 0
        $table, $count = $r.Output -split '#END-OF-TABLE#'
        # The CcieDr.BackupInfo table view (its own column headers), not PowerShell's default list of properties.
        $table | Should -Match 'Created \(UTC\)\s+SizeMB\s+Format\s+Manifest'
        $table | Should -Match 'circleci-data-export'
        $table | Should -Not -Match 'HasManifest\s*:'
        $formatXml = [xml](Get-Content (Join-Path (Split-Path $modulePath) 'CcieDr.format.ps1xml') -Raw)
        $viewTypes = @($formatXml.Configuration.ViewDefinitions.View.ViewSelectedBy.TypeName | Sort-Object -Unique)
        [int]$count.Trim() | Should -Be $viewTypes.Count
    }
}
