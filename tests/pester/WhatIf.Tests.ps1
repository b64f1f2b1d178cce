# -WhatIf changes nothing, ever, with or without -Force (issue #12 item 2): every state-changing cmdlet is run
# with -WhatIf against a real directory (the tree's names, sizes, modes and hashes must not change) and against
# the simulator (its request log must hold only read calls: Describe*/Get*/List*).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    . (Join-Path $PSScriptRoot 'Snapshot.TestHelpers.ps1')

    # Every entry under $Path (hidden ones too): kind, relative name, size, mode, SHA-256.
    function Get-TreeState([string] $Path) {
        $base = (Resolve-Path -LiteralPath $Path).ProviderPath
        $lines = Get-ChildItem -LiteralPath $base -Recurse -Force | ForEach-Object {
            $rel = $_.FullName.Substring($base.Length + 1)
            $mode = if ($IsWindows) { $_.Mode } else { [string]$_.UnixFileMode }
            if ($_.PSIsContainer) { "d $rel $mode" }
            else { "f $rel $($_.Length) $mode $((Get-FileHash -LiteralPath $_.FullName -Algorithm SHA256).Hash)" }
        } | Sort-Object
        ($lines -join "`n")
    }

    function New-Tree([string] $Path, [string] $Tag, [int] $Files = 6) {
        foreach ($dir in 'circleci/mongo', 'circleci/postgres', "only-$Tag") {
            $null = New-Item -ItemType Directory -Force (Join-Path $Path $dir)
        }
        for ($i = 0; $i -lt $Files; $i++) {
            $sub = @('circleci/mongo', 'circleci/postgres')[$i % 2]
            Set-Content -LiteralPath (Join-Path $Path "$sub/$Tag-$i.dat") -Value ("$Tag $i " * (200 + $i))
        }
    }

    # Every request the simulator logged whose action is not a read.
    function Get-MutatingRequest($Simulator) {
        $log = Invoke-CcieSimulatorControl $Simulator GET requests
        @($log | ForEach-Object { $_ } | Where-Object { $_.action -notmatch '^(Describe|Get|List)' } | ForEach-Object { $_.action })
    }

    $sim = Start-SnapshotTestBed
}

AfterAll {
    Stop-SnapshotTestBed $sim
}

Describe '-WhatIf against a data directory' -Tag 'WhatIf' {
    BeforeAll {
        $root = Join-Path $TestDrive 'whatif'
        $data = Join-Path $root 'data'
        $new = Join-Path $root 'new'
        $backups = Join-Path $root 'backups'
        New-Tree $new 'new'
        $archive = Join-Path $root 'circleci-data-export.tar.bz2'
        & tar -cjf $archive -C $new . 2>&1 | Out-Null
        $null = New-Item -ItemType Directory -Force $backups
        # Two real archives for Remove-CcieBackup to consider.
        New-Tree $data 'old'
        Backup-CcieData -Path $data -Destination $backups -Confirm:$false | Out-Null
        Start-Sleep -Milliseconds 1100
        Backup-CcieData -Path $data -Destination $backups -Confirm:$false | Out-Null

        # An interrupted restore, as a killed Restore-CcieData leaves it: the new data fully staged in
        # .ccie-restore-staging-*, the journal in state 'staged', the old data still in place.
        function New-InterruptedRestore {
            if (Test-Path $data) { Remove-Item -LiteralPath $data -Recurse -Force }
            New-Tree $data 'old'
            $staging = '.ccie-restore-staging-20261207T000000Z'
            Copy-Item -LiteralPath $new -Destination (Join-Path $data $staging) -Recurse
            $journal = [ordered]@{
                format = 'ccie-dr-restore-journal/1'; state = 'staged'; path = $data; source = $archive
                started = '2026-12-07T00:00:00.0000000Z'; updated = '2026-12-07T00:00:01.0000000Z'
                staging = $staging; aside = 'circleci-restore-20261207T000000Z'
                manifestVerified = $false; rollingBack = $false
                moveAside = @('circleci', 'only-old'); moveIn = @('circleci', 'only-new')
            }
            $journal | ConvertTo-Json | Set-Content -LiteralPath (Join-Path $data '.ccie-restore-journal.json')
        }
    }

    It 'the interrupted-restore set-up is real: -Recover without -WhatIf does change the tree' {
        New-InterruptedRestore
        $before = Get-TreeState $data
        Restore-CcieData -Path $data -Recover RollForward -Confirm:$false | Out-Null
        Get-TreeState $data | Should -Not -Be $before
        Join-Path $data 'only-new' | Should -Exist
    }

    It 'Restore-CcieData -Recover <Mode> <Extra>-WhatIf changes nothing' -ForEach @(
        @{ Mode = 'Auto'; Extra = '' }, @{ Mode = 'RollForward'; Extra = '' }, @{ Mode = 'RollBack'; Extra = '' }
        @{ Mode = 'Auto'; Extra = '-Force ' }, @{ Mode = 'RollForward'; Extra = '-Force ' }, @{ Mode = 'RollBack'; Extra = '-Force ' }
    ) {
        New-InterruptedRestore
        $before = Get-TreeState $data
        $force = $Extra -ne ''
        $out = Restore-CcieData -Path $data -Recover $Mode -Force:$force -WhatIf *>&1
        Get-TreeState $data | Should -Be $before
        @($out | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) | Should -BeNullOrEmpty
    }

    It 'Restore-CcieData -Source <Extra>-WhatIf changes nothing' -ForEach @(@{ Extra = '' }, @{ Extra = '-Force ' }) {
        if (Test-Path $data) { Remove-Item -LiteralPath $data -Recurse -Force }
        New-Tree $data 'old'
        $before = Get-TreeState $data
        $force = $Extra -ne ''
        $null = Restore-CcieData -Source $archive -Path $data -Force:$force -WhatIf *>&1
        Get-TreeState $data | Should -Be $before
    }

    It 'Backup-CcieData -WhatIf writes no archive and runs no hook' {
        if (Test-Path $data) { Remove-Item -LiteralPath $data -Recurse -Force }
        New-Tree $data 'old'
        $marker = Join-Path $root 'hook-ran'
        $beforeData = Get-TreeState $data
        $beforeBackups = Get-TreeState $backups
        $null = Backup-CcieData -Path $data -Destination $backups -PreBackupCommand "touch '$marker'" -WhatIf *>&1
        Get-TreeState $data | Should -Be $beforeData
        Get-TreeState $backups | Should -Be $beforeBackups
        $marker | Should -Not -Exist
    }

    It 'Remove-CcieBackup <Extra>-WhatIf removes nothing' -ForEach @(@{ Extra = '' }, @{ Extra = '-Force ' }, @{ Extra = '-IncludeNewest -Force ' }) {
        $before = Get-TreeState $backups
        $force = $Extra -ne ''
        $newest = $Extra -like '*IncludeNewest*'
        $null = Remove-CcieBackup -Path $backups -KeepLast 1 -Force:$force -IncludeNewest:$newest -WhatIf *>&1
        Get-TreeState $backups | Should -Be $before
    }
}

Describe '-WhatIf against the simulator' -Tag 'WhatIf', 'Simulator' {
    BeforeAll {
        Reset-SnapshotSimulator $sim
        $old = New-CcieSnapshot -Wait -Label 'old' -Confirm:$false
        $newest = New-CcieSnapshot -Wait -Label 'newest' -Confirm:$false
    }

    BeforeEach { $null = Invoke-CcieSimulatorControl $sim DELETE requests }

    It 'the request log does record mutating calls (so the checks below can fail)' {
        $rp = New-CcieSnapshot -Wait -Label 'probe' -Confirm:$false
        Get-MutatingRequest $sim | Should -Contain 'CreateSnapshots'
        Remove-CcieSnapshot $rp.RecoveryPointId -IncludeNewest -Force
    }

    It '<Name> -WhatIf makes only read calls' -ForEach @(
        @{ Name = 'New-CcieSnapshot'; Run = { New-CcieSnapshot -Label 'whatif' -WhatIf } }
        @{ Name = 'Copy-CcieSnapshot'; Run = { Copy-CcieSnapshot $old.RecoveryPointId -DestinationRegion us-west-2 -WhatIf } }
        @{ Name = 'Remove-CcieSnapshot by id'; Run = { Remove-CcieSnapshot $old.RecoveryPointId -WhatIf } }
        @{ Name = 'Remove-CcieSnapshot newest by id -IncludeNewest -Force'; Run = { Remove-CcieSnapshot $newest.RecoveryPointId -IncludeNewest -Force -WhatIf } }
        @{ Name = 'Remove-CcieSnapshot by policy'; Run = { Remove-CcieSnapshot -OlderThan ([timespan]::FromSeconds(1)) -WhatIf } }
        @{ Name = 'Remove-CcieSnapshot by policy -IncludeNewest -Force'; Run = { Remove-CcieSnapshot -OlderThan ([timespan]::FromSeconds(1)) -IncludeNewest -Force -WhatIf } }
        @{ Name = 'Restore-CcieServicesBox'; Run = { Restore-CcieServicesBox -RecoveryPointId $old.RecoveryPointId -WhatIf } }
    ) {
        $null = & $Run *>&1
        Get-MutatingRequest $sim | Should -BeNullOrEmpty
        @(Get-CcieSnapshot $old.RecoveryPointId).Count | Should -Be 1
        @(Get-CcieSnapshot $newest.RecoveryPointId).Count | Should -Be 1
    }
}
