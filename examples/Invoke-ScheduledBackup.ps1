<#
.SYNOPSIS
    The scheduled backup of the CircleCI Services box: EBS recovery point (waited for), optional data tarball,
    retention, cross-region copy, and a recovery-status check. One log line per run.

.DESCRIPTION
    1. New-CcieSnapshot -Wait: a crash-consistent recovery point of every volume of the box.
    2. With -DataPath and -TarballDestination (run this on the Services box itself, where /data is):
       Backup-CcieData writes circleci-data-export.tar.bz2 (timestamped) to a directory or an s3:// URI,
       then Remove-CcieBackup applies -KeepTarballs.
    3. Remove-CcieSnapshot -KeepDaily/-KeepWeekly: retention of recovery points (never the newest).
    4. With -CopyRegion: Copy-CcieSnapshot of the new point to the DR region (waited for).
    5. Get-CcieRecoveryStatus against -RpoTarget: the run fails when the status fails.

    Schedule (Linux, cron, every 6 hours):
        0 */6 * * * pwsh -NoProfile -File /opt/ccie/Invoke-ScheduledBackup.ps1 -Region us-east-1 -CopyRegion us-west-2 >> /var/log/ccie-backup.log 2>&1
    Schedule (systemd timer): a oneshot service running the same command, and a timer with OnCalendar=0/6:00.
    Schedule (Windows, Task Scheduler):
        schtasks /Create /SC HOURLY /MO 6 /TN CcieBackup /TR "pwsh -NoProfile -File C:\ccie\Invoke-ScheduledBackup.ps1 -Region us-east-1"

    Exit codes: 0 backed up and the recovery status passes; 1 a step failed (the line names it);
    4 backed up, but the recovery status fails (its reasons are printed).

.EXAMPLE
    ./Invoke-ScheduledBackup.ps1 -Region us-east-1 -CopyRegion us-west-2 -KeepDaily 7 -KeepWeekly 4
#>
[CmdletBinding()]
param(
    [string] $Region,
    [string] $ProfileName,
    [string] $EndpointUrl,
    [string] $Label = 'scheduled',
    [string] $DataPath,
    [string] $TarballDestination,
    [int] $KeepTarballs = 7,
    [int] $KeepDaily = 7,
    [int] $KeepWeekly = 4,
    [string] $CopyRegion,
    [TimeSpan] $RpoTarget = (New-TimeSpan -Hours 24),
    [TimeSpan] $DrillMaxAge = (New-TimeSpan -Days 30)
)
$ErrorActionPreference = 'Stop'
$aws = @{}
foreach ($p in 'Region', 'ProfileName', 'EndpointUrl') { if ($PSBoundParameters.ContainsKey($p)) { $aws[$p] = $PSBoundParameters[$p] } }
$started = [DateTime]::UtcNow
$step = 'snapshot'
$parts = [System.Collections.Generic.List[string]]::new()
try {
    $point = New-CcieSnapshot @aws -Label $Label -Wait -Confirm:$false
    $parts.Add("point=$($point.RecoveryPointId)")

    if ($DataPath -and $TarballDestination) {
        $step = 'tarball'
        $s3 = if ($TarballDestination -like 's3://*') { $aws } else { @{} }
        $archive = Backup-CcieData -Path $DataPath -Destination $TarballDestination -TimestampedName -Confirm:$false @s3
        $parts.Add("tarball=$($archive.Location)")
        $step = 'tarball-retention'
        $gone = @(Remove-CcieBackup -Path $TarballDestination -KeepLast $KeepTarballs -Force -Confirm:$false @s3)
        $parts.Add("tarballs-removed=$($gone.Count)")
    }

    $step = 'retention'
    $decisions = @(Remove-CcieSnapshot @aws -KeepDaily $KeepDaily -KeepWeekly $KeepWeekly -BoxName $point.BoxName -Force -Confirm:$false)
    $parts.Add("points-removed=$(@($decisions | Where-Object Outcome -eq 'Removed').Count)")

    $statusArgs = @{}
    if ($CopyRegion) {
        $step = 'copy'
        $copy = $point | Copy-CcieSnapshot -DestinationRegion $CopyRegion -Wait -Confirm:$false @aws
        $parts.Add("copy=$CopyRegion/$($copy.RecoveryPointId)")
        $statusArgs.CopyRegion = $CopyRegion
    }

    $step = 'status'
    $status = Get-CcieRecoveryStatus @aws -BoxName $point.BoxName -RpoTarget $RpoTarget -DrillMaxAge $DrillMaxAge @statusArgs
    $took = '{0:n0}s' -f ([DateTime]::UtcNow - $started).TotalSeconds
    if ($status.Status -ne 'Pass') {
        Write-Output "$($started.ToString('yyyy-MM-ddTHH:mm:ssZ')) BACKED-UP-STATUS-FAIL $($parts -join ' ') took=$took reasons=$($status.Reasons -join '; ')"
        exit 4
    }
    Write-Output "$($started.ToString('yyyy-MM-ddTHH:mm:ssZ')) OK $($parts -join ' ') took=$took"
    exit 0
}
catch {
    Write-Output "$($started.ToString('yyyy-MM-ddTHH:mm:ssZ')) FAIL step=$step $($parts -join ' ') error=$($_.Exception.Message)"
    exit 1
}
