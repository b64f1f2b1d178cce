# The lifecycle after detection (dot-sourced by tools/Demo.ps1): scheduled backup, outage, detection, restore,
# builders, capacity, a failover with fencing as a second act, then the recovery status and a drill.
# Every port probe runs from the box over SSM (-From Box), which the simulator executes in its sandbox with a
# network namespace of its own: nothing here connects anywhere but the simulator on 127.0.0.1.
param([Parameter(Mandatory)] $Box, [Parameter(Mandatory)] $Simulator)

$repo = Split-Path $PSScriptRoot
$aws = @{ EndpointUrl = $Simulator.Url; Region = 'us-east-1' }
$rtos = [ordered]@{}
function Show($Object, [string[]] $Property) {
    if ($Property) { $Object | Format-List $Property | Out-String -Width 160 | Write-Host } else { $Object | Format-Table -AutoSize | Out-String -Width 160 | Write-Host }
}
function Show-Timeline($Timeline) {
    Write-Host 'Timeline:'
    $Timeline | Format-Table Step, Action, Outcome, @{ n = 'Seconds'; e = { if ($_.Ended) { '{0:n1}' -f ($_.Ended - $_.Started).TotalSeconds } } }, @{ n = 'Detail'; e = { "$($_.Detail)" -replace '(.{110}).+', '$1…' } } -AutoSize | Out-String -Width 180 | Write-Host
}
function Wait-State([string] $InstanceId, [string] $State) {
    $deadline = (Get-Date).AddSeconds(60)
    while ((Get-CcieServicesBox -InstanceId $InstanceId -IncludeTerminated).State -ne $State -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 200 }
}

# The production box's disk in the simulator's sandbox (Replicated stand-in, /etc/default/replicated*): what a restore brings back.
$null = Invoke-CcieSimulatorControl $Simulator GET "boxes/$($Box.InstanceId)"
# Let the builder group launch and replace builders (the seed starts it suspended).
$null = Invoke-CcieSimulatorControl $Simulator POST autoscaling @{ region = 'us-east-1'; name = 'circleci-builders'; suspended = $false }
Write-Host 'Builders:'
Show (Get-CcieBuilder)

Write-Stage '2. Scheduled backup runbook (examples/Invoke-ScheduledBackup.ps1): snapshot + tarball + retention + copy + status'
$dataDir = Join-Path ([IO.Path]::GetTempPath()) ('ccie-demo-data-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
$backupDir = "$dataDir-backups"
$null = New-Item -ItemType Directory -Force (Join-Path $dataDir 'circleci/mongo'), (Join-Path $dataDir 'circleci/postgres'), $backupDir
1..50 | ForEach-Object { Set-Content (Join-Path $dataDir "circleci/mongo/collection-$_.json") ("{""build"":$_,""status"":""success""}`n" * 200) }
Set-Content (Join-Path $dataDir 'circleci/postgres/PG_VERSION') '12'
$line = & (Join-Path $repo 'examples/Invoke-ScheduledBackup.ps1') @aws -DataPath $dataDir -TarballDestination $backupDir -CopyRegion us-west-2
Write-Host "runbook (exit $LASTEXITCODE): $line"
if ($LASTEXITCODE -eq 4) { Write-Host "(exit 4: backed up, but the recovery status fails until a drill has passed: the drill at the end records one)" }
$point = Get-CcieSnapshot -Latest
Show $point RecoveryPointId, Created, State, IsComplete, Label, SnapshotIds
$archive = Get-CcieBackup -Path $backupDir -Latest
$tested = Test-CcieBackup $archive.Location
Show $tested Source, Verdict, MemberCount, ProblemCount, Duration, RecordLocation

Write-Stage 'Outage: the Services box dies (its host fails, the instance stops)'
$null = Invoke-CcieSimulatorControl $Simulator POST faults/instance-death @{ instanceId = $Box.InstanceId; stopAfterSeconds = 0.5 }
Wait-State $Box.InstanceId 'stopped'
Show (Get-CcieServicesBox -InstanceId $Box.InstanceId)

Write-Stage '1. Detect: the health verdict'
$health = Test-CcieServicesBox -From Box
Show $health InstanceId, Verdict, Reasons, SuggestedAction, Why
$health.Checks | Format-Table Name, Status, Observed, Reason -AutoSize | Out-String -Width 180 | Write-Host

Write-Stage '2a. Restore: the outage-response runbook (examples/Invoke-OutageResponse.ps1) decides, restores, starts the app, reconfigures and rotates the builders, adds catch-up capacity and verifies'
$out = & (Join-Path $repo 'examples/Invoke-OutageResponse.ps1') @aws -CatchUpCapacity 2 -CatchUpHours 2 -SkipBuilderConnectionCheck -PassThru
$code = $LASTEXITCODE
$out | Where-Object { $_ -is [string] } | ForEach-Object { Write-Host "  $_" }
$restore = $out | Where-Object { $_ -isnot [string] }
Write-Host "runbook exit code: $code"
if ($code -ne 10) { throw "The outage-response runbook did not recover the box (exit $code)." }
$rtos['restore (runbook: detect -> verified)'] = $restore.Rto
Write-Host 'The restore (Restore-CcieServicesBox):'
Show-Timeline $restore.Timeline
$new = Get-CcieServicesBox
Show $new
Write-Host "The restored box has the same private IP ($($new.PrivateIpAddress)): builders keep SERVICES_PRIVATE_IP." -ForegroundColor Green
Write-Host 'Builders and the catch-up capacity:'
Show (Get-CcieBuilder -Summary) AutoScalingGroupName, DesiredCapacity, MinSize, MaxSize, InService, Stale, LaunchTemplateVersion
Show (Get-CcieBuilder)

Write-Stage '2b. Second act: a warm replica, a floating IP, and a failover with fencing'
$null = $new | Add-CcieFloatingIp -PrivateIpAddress 10.0.1.200 -Confirm:$false
$image = $new | New-CcieServicesBoxImage -NoReboot -Confirm:$false -WarningAction SilentlyContinue
$replica = New-CcieReplica -InstanceId $new.InstanceId -SubnetId $new.SubnetId -Confirm:$false
Show $replica
$null = Invoke-CcieSimulatorControl $Simulator POST faults/instance-death @{ instanceId = $new.InstanceId; stopAfterSeconds = 30 }
Write-Host "The primary $($new.InstanceId) fails its status checks (a zombie still running): the failover must fence it before the replica takes over."
try {
    $fo = Invoke-CcieFailover -ReplicaId $replica.InstanceId -From Box -AppTimeoutSec 120 -Confirm:$false -ErrorAction Stop
    Show $fo
    if ($fo.Timeline) { Show-Timeline $fo.Timeline }
    $entries = @($fo.Timeline)
    if ($entries.Count -gt 0) { $rtos['failover (fence -> app healthy on the replica)'] = $entries[-1].Ended - $entries[0].Started }
}
catch {
    Write-Host "Failover did not complete: $($_.Exception.Message)" -ForegroundColor Yellow
}
Show (Get-CcieServicesBox)

Write-Stage '4. Recovery status: RPO now, newest verified point (drilled or tarball tested), copies'
$status = Get-CcieRecoveryStatus -CopyRegion us-west-2 -BackupLocation $backupDir
Show $status Status, Reasons, Notes, NewestPointId, Rpo, NewestVerifiedPointId, VerifiedRpo, NewestTestedBackup, NewestCopy, LastDrillVerdict

Write-Stage 'Beyond: a recovery drill of the newest point, isolated, app started and judged on the drill box'
$report = Join-Path ([IO.Path]::GetTempPath()) ('ccie-demo-drill-' + [DateTime]::UtcNow.ToString('yyyyMMddTHHmmss') + '.html')
$drill = Get-CcieSnapshot -Latest | Test-CcieRecovery -Isolated -ReportPath $report -Confirm:$false -WarningAction SilentlyContinue
Show $drill DrillId, RecoveryPointId, Verdict, Reason, Rto, Rpo, PrivateIpAddress, Isolated, Recorded, ReportPath
$drill.Checks | Format-Table Name, Status, Detail -AutoSize -Wrap | Out-String -Width 180 | Write-Host
Show-Timeline $drill.Timeline
$drill.Resources | Format-Table Kind, Id, Removed -AutoSize | Out-String -Width 160 | Write-Host
if ($drill.Rto) { $rtos['drill (point chosen -> app healthy)'] = $drill.Rto }
Show (Get-CcieRecoveryStatus -CopyRegion us-west-2 -BackupLocation $backupDir) Status, Reasons, NewestVerifiedPointId, VerifiedRpo, LastDrillVerdict, LastDrillRto

Write-Stage 'Measured RTOs (simulated AWS transitions of 0.3 s; real AWS takes minutes per step)'
foreach ($k in $rtos.Keys) { Write-Host ('  {0,-45} {1,8:n1} s' -f $k, $rtos[$k].TotalSeconds) }
Write-Host "Drill report: $report" -ForegroundColor Green
Remove-Item $dataDir, $backupDir -Recurse -Force -ErrorAction SilentlyContinue
