# The drill's stages after detection (dot-sourced by tools/Demo.ps1): backup, outage, restore, verify.
param([Parameter(Mandatory)] $Box, [Parameter(Mandatory)] $Simulator)

Write-Stage '2a. Back up: a crash-consistent recovery point of every volume (zero downtime)'
$point = $Box | New-CcieSnapshot -Label 'demo drill' -Wait -Confirm:$false
$point | Format-List RecoveryPointId, Region, Created, State, Progress, IsComplete, Label, SnapshotIds | Out-String -Width 180 | Write-Host
$point.Snapshots | Format-Table | Out-String -Width 180 | Write-Host
$point.Identity | Format-List | Out-String -Width 180 | Write-Host

if (Get-Command Backup-CcieData -ErrorAction SilentlyContinue) {
    Write-Stage '2a. Back up: the data tarball (streaming, parallel bzip2, manifest)'
    $dataDir = Join-Path ([IO.Path]::GetTempPath()) ('ccie-demo-data-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
    $backupDir = "$dataDir-backups"
    $null = New-Item -ItemType Directory -Force (Join-Path $dataDir 'circleci/mongo'), (Join-Path $dataDir 'circleci/postgres'), $backupDir
    1..50 | ForEach-Object { Set-Content (Join-Path $dataDir "circleci/mongo/collection-$_.json") ("{""build"":$_,""status"":""success""}`n" * 200) }
    Set-Content (Join-Path $dataDir 'circleci/postgres/PG_VERSION') '12'
    $archive = Backup-CcieData -Path $dataDir -Destination $backupDir -Confirm:$false
    $archive | Format-List | Out-String -Width 180 | Write-Host
    if (Get-Command Test-CcieBackup -ErrorAction SilentlyContinue) {
        Test-CcieBackup -Source $archive.Location | Format-List | Out-String -Width 180 | Write-Host
    }
    if (Get-Command Restore-CcieData -ErrorAction SilentlyContinue) {
        Set-Content (Join-Path $dataDir 'circleci/postgres/PG_VERSION') 'corrupted by the outage'
        $restored = Restore-CcieData -Source $archive.Location -Path $dataDir -Confirm:$false
        $restored | Format-List | Out-String -Width 180 | Write-Host
        "PG_VERSION after restore: $(Get-Content (Join-Path $dataDir 'circleci/postgres/PG_VERSION'))" | Out-String -Width 180 | Write-Host
    }
    Remove-Item $dataDir, $backupDir -Recurse -Force -ErrorAction SilentlyContinue
}

Write-Stage 'Outage: the Services box is terminated'
$null = Invoke-CcieSimulatorEc2 $Simulator TerminateInstances @{ 'InstanceId.1' = $Box.InstanceId }
do { Start-Sleep -Milliseconds 200; $old = Get-CcieServicesBox -InstanceId $Box.InstanceId -IncludeTerminated } while ($old.State -ne 'terminated')
$old | Format-Table | Out-String -Width 180 | Write-Host
$live = @(Get-CcieServicesBox -ErrorAction SilentlyContinue)
"Live Services boxes: $($live.Count)" | Out-String -Width 180 | Write-Host

Write-Stage '2a. Restore: rehearse with -WhatIf (changes nothing)'
Get-CcieSnapshot -Latest | Restore-CcieServicesBox -WhatIf

Write-Stage '2a. Restore: the same private IP, subnet, security groups, type and every volume'
$result = Get-CcieSnapshot -Latest | Restore-CcieServicesBox -Confirm:$false
$result | Format-List InstanceId, PrivateIpAddress, PrivateIpPreserved, SubnetId, AvailabilityZone, ImageId, RecoveryPointId, Status, Duration | Out-String -Width 180 | Write-Host
Write-Host 'Timeline:'
$result.Timeline | Format-Table | Out-String -Width 180 | Write-Host

Write-Stage '3. Builders: the new box answers on the same private IP'
$new = Get-CcieServicesBox
$new | Format-Table | Out-String -Width 180 | Write-Host
$new.Volumes | Format-Table | Out-String -Width 180 | Write-Host
if ($new.PrivateIpAddress -eq $Box.PrivateIpAddress) {
    Write-Host "Builders keep SERVICES_PRIVATE_IP=$($new.PrivateIpAddress): no re-association needed." -ForegroundColor Green
}
else {
    throw "Restored box has $($new.PrivateIpAddress), expected $($Box.PrivateIpAddress)."
}
Write-Host ("Measured RTO of the restore: {0:N1} s (simulated AWS transitions of {1} s each)" -f $result.Duration.TotalSeconds, $TransitionSeconds)
