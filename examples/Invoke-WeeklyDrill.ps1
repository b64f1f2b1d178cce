<#
.SYNOPSIS
    The weekly recovery drill: proves the newest recovery point boots into a working box, in isolation, and
    keeps the HTML report for the audit trail.

.DESCRIPTION
    1. Remove-CcieDrill: sweeps anything an earlier, killed drill left (tagged ccie:drill).
    2. Test-CcieRecovery -Isolated: restores the newest point as a throw-away box on a new private IP in a
       temporary security group with no egress, checks it, measures RTO and RPO, tears everything down and
       records the verdict on the point.
    3. Writes <ReportDirectory>/drill-<time>.html, and prints one line.
    4. Get-CcieRecoveryStatus against the targets.

    Schedule (Linux, cron, Sundays 03:00):
        0 3 * * 0 pwsh -NoProfile -File /opt/ccie/Invoke-WeeklyDrill.ps1 -Region us-east-1 -ReportDirectory /var/lib/ccie/drills >> /var/log/ccie-drill.log 2>&1
    Schedule (systemd timer): OnCalendar=Sun 03:00, a oneshot service running the same command.
    Schedule (Windows, Task Scheduler):
        schtasks /Create /SC WEEKLY /D SUN /ST 03:00 /TN CcieDrill /TR "pwsh -NoProfile -File C:\ccie\Invoke-WeeklyDrill.ps1 -Region us-east-1 -ReportDirectory C:\ccie\drills"

    Exit codes: 0 the drill passed and the recovery status passes; 1 the drill could not run (the error is
    printed); 5 the drill failed (the report says why); 4 the drill passed but the status fails (e.g. RTO over target).

.EXAMPLE
    ./Invoke-WeeklyDrill.ps1 -Region us-east-1 -ReportDirectory ./drills -RtoTarget (New-TimeSpan -Minutes 30)
#>
[CmdletBinding()]
param(
    [string] $Region,
    [string] $ProfileName,
    [string] $EndpointUrl,
    [Parameter(Mandatory)] [string] $ReportDirectory,
    [string] $SubnetId,
    [string[]] $AllowEgressCidr = @(),
    [TimeSpan] $RpoTarget = (New-TimeSpan -Hours 24),
    [TimeSpan] $RtoTarget = (New-TimeSpan -Hours 1),
    [ScriptBlock] $ValidationScript
)
$ErrorActionPreference = 'Stop'
$aws = @{}
foreach ($p in 'Region', 'ProfileName', 'EndpointUrl') { if ($PSBoundParameters.ContainsKey($p)) { $aws[$p] = $PSBoundParameters[$p] } }
$started = [DateTime]::UtcNow
$stamp = $started.ToString('yyyy-MM-ddTHH:mm:ssZ')
try {
    $null = New-Item -ItemType Directory -Force $ReportDirectory
    $swept = @(Remove-CcieDrill @aws -Force -Confirm:$false)
    $report = Join-Path $ReportDirectory ('drill-' + $started.ToString('yyyyMMdd-HHmmss') + '.html')
    $drillArgs = @{ Isolated = $true; ReportPath = $report; AllowEgressCidr = $AllowEgressCidr }
    if ($SubnetId) { $drillArgs.SubnetId = $SubnetId }
    if ($ValidationScript) { $drillArgs.ValidationScript = $ValidationScript }
    $drill = Test-CcieRecovery @aws @drillArgs -Confirm:$false -WarningAction SilentlyContinue
    if (-not $drill) { throw 'Test-CcieRecovery returned no result.' }
    $rto = if ($drill.Rto) { '{0:n0}s' -f $drill.Rto.TotalSeconds } else { 'none' }
    $line = "$stamp drill=$($drill.DrillId) point=$($drill.RecoveryPointId) verdict=$($drill.Verdict) rto=$rto rpo={0:n0}s swept=$($swept.Count) report=$report" -f $drill.Rpo.TotalSeconds
    if ($drill.Verdict -ne 'Passed') {
        Write-Output "$line FAILED reason=$($drill.Reason)"
        exit 5
    }
    $status = Get-CcieRecoveryStatus @aws -RpoTarget $RpoTarget -RtoTarget $RtoTarget
    if ($status.Status -ne 'Pass') {
        Write-Output "$line STATUS-FAIL reasons=$($status.Reasons -join '; ')"
        exit 4
    }
    Write-Output "$line OK"
    exit 0
}
catch {
    Write-Output "$stamp FAIL $($_.Exception.Message)"
    exit 1
}
