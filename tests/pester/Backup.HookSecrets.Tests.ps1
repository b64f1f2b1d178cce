# Hook commands and their output may carry credentials (issue #12 item 8): a failing hook that echoes a fake
# secret must not leak it into the -WhatIf text, an error record, a warning or the output object.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    $root = Join-Path $TestDrive 'hooks'
    $data = Join-Path $root 'data'
    New-Item -ItemType Directory -Path (Join-Path $data 'mongo') | Out-Null
    Set-Content -LiteralPath (Join-Path $data 'mongo/collection.wt') -Value ('x' * 1000)
    $secret = 's3cr3t-value-123'
    $hook = "echo API_TOKEN=$secret; echo API_TOKEN=$secret >&2; exit 3"

    # Everything a run shows, from every stream, as text (records expanded: messages, targets, details).
    function Get-AllText([object[]] $Records) {
        @($Records | ForEach-Object {
            if ($_ -is [System.Management.Automation.ErrorRecord]) {
                "$($_.Exception.Message) $($_.TargetObject) $($_.ErrorDetails) $($_.FullyQualifiedErrorId)"
            } elseif ($_ -is [System.Management.Automation.InformationalRecord]) { $_.Message }
            elseif ($_ -is [psobject] -or $_ -isnot [string]) { $_ | ConvertTo-Json -Depth 6 -WarningAction SilentlyContinue }
            else { "$_" }
        }) -join "`n"
    }
}

Describe 'Backup-CcieData hook secrets' -Tag 'Backup' {
    It 'a failing pre-backup command leaks no secret into errors, warnings or output' {
        $dest = Join-Path $root 'pre'
        New-Item -ItemType Directory -Path $dest | Out-Null
        $all = Backup-CcieData -Path $data -Destination $dest -PreBackupCommand $hook -ErrorAction Continue *>&1
        @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }).Count | Should -BeGreaterThan 0
        Get-AllText $all | Should -Not -Match ([regex]::Escape($secret))
    }

    It 'a failing post-backup command leaks no secret into errors, warnings or output' {
        $dest = Join-Path $root 'post'
        New-Item -ItemType Directory -Path $dest | Out-Null
        $all = Backup-CcieData -Path $data -Destination $dest -PostBackupCommand $hook -ErrorAction Continue *>&1
        @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }).Count | Should -BeGreaterThan 0
        Get-AllText $all | Should -Not -Match ([regex]::Escape($secret))
    }

    It '-WhatIf shows the hook by length, not its text' {
        $dest = Join-Path $root 'whatif'
        New-Item -ItemType Directory -Path $dest | Out-Null
        # What if: text goes to the host, not to a stream: run in a child pwsh and read its console.
        $script = "Import-Module '$(Get-CcieTestModulePath)'; Backup-CcieData -Path '$data' -Destination '$dest' -PreBackupCommand '$hook' -WhatIf *>&1 | Out-String"
        $r = Invoke-CcieChildPwsh -Script $script
        $text = $r.Output + $r.Error
        $text | Should -Match 'What if'
        $text | Should -Not -Match ([regex]::Escape($secret))
        $text | Should -Match 'pre-backup command \(\d+ chars\)'
    }
}
