# Recovery drills (Test-CcieRecovery, Remove-CcieDrill) and the recovery status on the simulator.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    $sim = Start-CcieTestSimulator -TransitionSeconds 0.2
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'

    # Everything live in the region, by kind, to compare before and after a drill.
    function Get-WorldIds {
        $state = Invoke-CcieSimulatorControl $sim GET state
        $r = $state.regions.'us-east-1'
        [pscustomobject]@{
            Instances = @($r.instances | Where-Object { $_.state -ne 'terminated' } | ForEach-Object id | Sort-Object)
            Volumes   = @($r.volumes | Where-Object { $_.state -ne 'deleted' } | ForEach-Object id | Sort-Object)
            Images    = @($r.images | Where-Object { $_.state -ne 'deregistered' } | ForEach-Object id | Sort-Object)
            Groups    = @($r.securityGroups | ForEach-Object id | Sort-Object)
        }
    }
    $box = Get-CcieServicesBox
    $first = New-CcieSnapshot -Wait -Confirm:$false
}
AfterAll {
    $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl'); $PSDefaultParameterValues.Remove('*-Ccie*:Region')
    Stop-CcieTestSimulator $sim
}

Describe 'Test-CcieRecovery' -Tag 'Drill' {
    # The app step (SSM, ports probed from the box) is in Test-CcieRecovery.App.Netns.Tests.ps1; here -SkipApp.
    It 'drills the newest point in isolation: Passed, RTO and RPO measured, report written, nothing left, production untouched' {
        $before = Get-WorldIds
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
        $report = Join-Path $TestDrive 'drill.html'

        $r = Get-CcieSnapshot -Latest | Test-CcieRecovery -Isolated -SkipApp -ReportPath $report -Confirm:$false -WarningAction SilentlyContinue

        $r.Verdict | Should -Be 'Passed' -Because $r.Reason
        $r.RecoveryPointId | Should -Be $first.RecoveryPointId
        $r.Rto | Should -BeGreaterThan ([TimeSpan]::Zero)
        $r.Rpo | Should -BeGreaterThan ([TimeSpan]::Zero)
        $r.PrivateIpAddress | Should -Not -BeNullOrEmpty
        $r.PrivateIpAddress | Should -Not -Be $box.PrivateIpAddress
        $r.Isolated | Should -BeTrue
        @($r.Resources | Where-Object Kind -eq 'instance') | Should -HaveCount 1
        @($r.Resources | Where-Object Kind -eq 'security-group') | Should -HaveCount 1
        @($r.Resources | Where-Object { -not $_.Removed }) | Should -BeNullOrEmpty
        $r.Recorded | Should -BeTrue

        # Nothing of the drill is left, and the world is as it was.
        $after = Get-WorldIds
        $after.Instances | Should -Be $before.Instances
        $after.Volumes | Should -Be $before.Volumes
        $after.Images | Should -Be $before.Images
        $after.Groups | Should -Be $before.Groups
        (Get-CcieServicesBox).InstanceId | Should -Be $box.InstanceId

        # The drill box ran in the temporary group, with its default egress revoked, and never had the production IP.
        $run = @(Invoke-CcieSimulatorControl $sim GET 'requests?action=RunInstances')
        $run | Should -HaveCount 1
        $group = ($r.Resources | Where-Object Kind -eq 'security-group').Id
        ($run[0].parameters.PSObject.Properties | Where-Object Name -like 'SecurityGroupId*' | ForEach-Object Value) | Should -Be $group
        $run[0].parameters.PSObject.Properties.Name | Should -Not -Contain 'PrivateIpAddress'
        @(Invoke-CcieSimulatorControl $sim GET 'requests?action=RevokeSecurityGroupEgress') | Should -HaveCount 1
        @(Invoke-CcieSimulatorControl $sim GET 'requests?action=TerminateInstances') | Should -HaveCount 1

        # The verdict is on the point; the report has the timeline chart.
        $point = Get-CcieSnapshot -RecoveryPointId $first.RecoveryPointId
        $point.LastDrillVerdict | Should -Be 'Passed'
        $point.Verified | Should -BeTrue
        $point.LastDrillRto | Should -BeGreaterThan ([TimeSpan]::Zero)
        $r.ReportPath | Should -Be $report
        $html = Get-Content $report -Raw
        $html | Should -Match '<svg'
        $html | Should -Match ([regex]::Escape($r.DrillId))
        $html | Should -Match 'Passed'
        $html | Should -Not -Match '<script'
    }

    It '-WhatIf lists the steps and changes nothing' {
        $before = Get-WorldIds
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
        $module = Get-CcieTestModulePath
        $r = Invoke-CcieChildPwsh -Script "`$env:AWS_ACCESS_KEY_ID='AKIDCCIEDRTEST'; `$env:AWS_SECRET_ACCESS_KEY='x'; Import-Module '$module'; Test-CcieRecovery -Isolated -WhatIf -EndpointUrl '$($sim.Url)' -Region us-east-1"
        $r.ExitCode | Should -Be 0 -Because $r.Error
        $r.Output | Should -Match 'What if: Recovery drill drill-'
        $r.Output | Should -Match 'create security group ccie-drill-.*no inbound traffic, no outbound traffic'
        $r.Output | Should -Match 'on a new private IP \(never 10\.'
        $r.Output | Should -Match 'tear down everything'
        $mutating = @(Invoke-CcieSimulatorControl $sim GET requests) | Where-Object { $_.action -notmatch '^Describe' }
        $mutating | Should -BeNullOrEmpty
        (Get-WorldIds).Instances | Should -Be $before.Instances
    }

    It 'fails a point whose data is broken with a clear reason, tears down, and the status then names the older verified point' {
        $bad = New-CcieSnapshot -Wait -Confirm:$false
        $data = ($bad.Snapshots | Where-Object { -not $_.IsRootDevice } | Select-Object -First 1).SnapshotId
        $null = Invoke-CcieSimulatorControl $sim POST faults/corrupt-snapshot @{ snapshotId = $data }
        $before = Get-WorldIds

        $r = $bad | Test-CcieRecovery -Isolated -Confirm:$false -WarningAction SilentlyContinue

        $r.Verdict | Should -Be 'Failed'
        $r.Reason | Should -Match 'status checks'
        $r.Rto | Should -BeNullOrEmpty
        (Get-WorldIds).Instances | Should -Be $before.Instances
        (Get-WorldIds).Groups | Should -Be $before.Groups
        (Get-CcieSnapshot -RecoveryPointId $bad.RecoveryPointId).LastDrillVerdict | Should -Be 'Failed'

        $status = Get-CcieRecoveryStatus
        $status.NewestPointId | Should -Be $bad.RecoveryPointId
        $status.NewestVerifiedPointId | Should -Be $first.RecoveryPointId
        $status.LastDrillVerdict | Should -Be 'Failed'
        $status.Status | Should -Be 'Fail'
        ($status.Reasons -join "`n") | Should -Match 'last drill .* Failed'
    }

    It '-KeepOnFailure keeps the failed drill''s resources, and Remove-CcieDrill removes them' {
        $bad = Get-CcieSnapshot | Where-Object { $_.LastDrillVerdict -eq 'Failed' } | Select-Object -First 1
        $before = Get-WorldIds
        $r = $bad | Test-CcieRecovery -Isolated -KeepOnFailure -NoRecord -Confirm:$false -WarningVariable warned -WarningAction SilentlyContinue
        $r.Verdict | Should -Be 'Failed'
        $r.ResourcesKept | Should -BeTrue
        ($warned -join "`n") | Should -Match "Remove-CcieDrill -DrillId $($r.DrillId)"
        (Get-WorldIds).Instances.Count | Should -Be ($before.Instances.Count + 1)

        $whatIf = Remove-CcieDrill -DrillId $r.DrillId -WhatIf
        (Get-WorldIds).Instances.Count | Should -Be ($before.Instances.Count + 1)

        $removed = Remove-CcieDrill -DrillId $r.DrillId -Confirm:$false
        @($removed | Where-Object Kind -eq 'instance') | Should -HaveCount 1
        @($removed | Where-Object { -not $_.Removed }) | Should -BeNullOrEmpty
        $after = Get-WorldIds
        $after.Instances | Should -Be $before.Instances
        $after.Groups | Should -Be $before.Groups
        $after.Images | Should -Be $before.Images
    }

    It 'a drill killed mid-way leaves resources that Remove-CcieDrill removes' {
        $before = Get-WorldIds
        # A drill in its own process, killed once its box exists (slow status checks keep it there).
        $null = Invoke-CcieSimulatorControl $sim POST config @{ durations = @{ statusInitializing = 60 } }
        $module = Get-CcieTestModulePath
        $script = "`$env:AWS_ACCESS_KEY_ID='AKIDCCIEDRTEST'; `$env:AWS_SECRET_ACCESS_KEY='x'; `$env:CCIEDR_POLL_SCALE='0.05'; Import-Module '$module'; Test-CcieRecovery -RecoveryPointId $($first.RecoveryPointId) -Isolated -EndpointUrl '$($sim.Url)' -Region us-east-1 -Confirm:`$false"
        $file = Join-Path $TestDrive 'drill.ps1'
        Set-Content $file $script
        $pwsh = (Get-Process -Id $PID).Path
        $args = if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { @([Environment]::GetCommandLineArgs()[0], '-NoProfile', '-File', $file) } else { @('-NoProfile', '-File', $file) }
        $p = Start-Process -FilePath $pwsh -ArgumentList $args -PassThru -RedirectStandardOutput (Join-Path $TestDrive 'o.txt') -RedirectStandardError (Join-Path $TestDrive 'e.txt')
        try {
            $deadline = (Get-Date).AddSeconds(60)
            do { Start-Sleep -Milliseconds 200; $ids = Get-WorldIds } while ($ids.Instances.Count -le $before.Instances.Count -and (Get-Date) -lt $deadline -and -not $p.HasExited)
            $ids.Instances.Count | Should -Be ($before.Instances.Count + 1) -Because (Get-Content (Join-Path $TestDrive 'e.txt') -Raw)
        }
        finally {
            if (-not $p.HasExited) { $p.Kill($true) }   # the process this test started
            $null = Invoke-CcieSimulatorControl $sim POST config @{ durations = @{ statusInitializing = 0.2 } }
        }

        $left = Remove-CcieDrill -WhatIf
        $removed = Remove-CcieDrill -Confirm:$false
        @($removed | Where-Object Kind -eq 'instance') | Should -HaveCount 1
        @($removed | Where-Object Kind -eq 'security-group') | Should -HaveCount 1
        $after = Get-WorldIds
        $after.Instances | Should -Be $before.Instances
        $after.Groups | Should -Be $before.Groups
        $after.Images | Should -Be $before.Images
        (Get-CcieServicesBox).InstanceId | Should -Be $box.InstanceId
    }
}

Describe 'Get-CcieRecoveryStatus' -Tag 'Drill' {
    It 'passes with a fresh verified point and a copy, and -Quiet says so' {
        $null = Copy-CcieSnapshot -RecoveryPointId $first.RecoveryPointId -DestinationRegion us-west-2 -Wait -Confirm:$false
        $s = Get-CcieRecoveryStatus -CopyRegion us-west-2 -RpoTarget (New-TimeSpan -Days 1) -DrillMaxAge (New-TimeSpan -Days 30)
        $s.NewestVerifiedPointId | Should -Be $first.RecoveryPointId
        $s.NewestCopy | Should -Match "^us-west-2/"
        ($s.Reasons -join "`n") | Should -Not -Match 'no copy'
    }

    It 'counts a tarball Test-CcieBackup passed as a verified point: the result is recorded next to the archive' {
        $data = Join-Path $TestDrive 'data'; $dest = Join-Path $TestDrive 'backups'
        $null = New-Item -ItemType Directory $data, $dest
        Set-Content (Join-Path $data 'mongo.db') ('x' * 5000)
        $archive = Backup-CcieData -Path $data -Destination $dest -Confirm:$false
        $untested = Get-CcieRecoveryStatus -BackupLocation $dest
        $untested.NewestBackup | Should -Be $archive.Location
        $untested.NewestTestedBackup | Should -BeNullOrEmpty
        ($untested.Notes -join "`n") | Should -Match 'no data archive in the backup location was tested'

        $v = Test-CcieBackup $archive.Location
        $v.Verdict | Should -Be 'Passed'
        $v.RecordLocation | Should -Be "$($archive.Location).ccie-test.json"
        (Get-Content $v.RecordLocation -Raw | ConvertFrom-Json).verdict | Should -Be 'Passed'
        @(Get-CcieBackup -Path $dest).Count | Should -Be 1     # the record is not an archive

        $s = Get-CcieRecoveryStatus -BackupLocation $dest
        $s.NewestTestedBackup | Should -Be $archive.Location
        $s.NewestVerifiedPointId | Should -Be $archive.Location   # newer than the drilled snapshot point
        $s.TestedBackupRpo | Should -BeLessThan (New-TimeSpan -Minutes 10)

        # A replaced archive (another size) makes the record stale: no proof any more.
        Add-Content $archive.Location 'garbage'
        (Get-CcieRecoveryStatus -BackupLocation $dest).NewestTestedBackup | Should -BeNullOrEmpty
        Test-CcieBackup $archive.Location -NoRecord | Out-Null
        (Get-CcieRecoveryStatus -BackupLocation $dest).NewestTestedBackup | Should -BeNullOrEmpty
    }

    It 'fails with "no copy outside" when the copy region has none, and -Quiet returns $false' {
        $s = Get-CcieRecoveryStatus -CopyRegion eu-west-1
        $s.Status | Should -Be 'Fail'
        ($s.Reasons -join "`n") | Should -Match 'no copy outside us-east-1'
        Get-CcieRecoveryStatus -CopyRegion eu-west-1 -Quiet | Should -BeFalse
    }
}
