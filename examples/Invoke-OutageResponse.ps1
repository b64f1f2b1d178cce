<#
.SYNOPSIS
    Responds to an outage of the CircleCI Services box end to end: detect, decide, recover, bring the builders
    back, add capacity for the catch-up, verify, and print one summary line with the RTO.

.DESCRIPTION
    1. Detect: Test-CcieServicesBox gives the verdict (Healthy, Degraded, Down) and a suggested action.
    2. Decide, from the verdict: Healthy -> nothing to do. A box whose status checks fail -> a reboot
       (reported, exit 3; with -Recover it is recovered instead). A box that is gone or stays down -> fail over to the replica when one exists (Get-CcieReplica),
       else restore the newest recovery point onto the same private IP. The app stopped on a running box -> start it.
    3. Recover: Invoke-CcieFailover (fences the primary first, starts the app on the replica), or
       Restore-CcieServicesBox -ReplaceExisting -StartApp (the app started and serving on the new box).
    4. Builders: Set-CcieBuilderConfiguration points the launch template at the box's private IP (and the secret
       passphrase when the IP changed), Restart-CcieBuilder -Stale rotates the builders launched with the old one.
    5. Capacity: Set-CcieBuilderCapacity -Add <n> -Until <time> for the queue that built up during the outage.
    6. Verify: Test-CcieServicesBox again; the RTO is the time from detection to a Healthy (or serving) verdict.
    Every step is logged as one line on the output; the last line (and, with -PassThru, an object) is the summary.

    Schedule (Linux, cron, every 5 minutes; flock keeps two runs from overlapping):
        */5 * * * * flock -n /run/ccie-outage.lock pwsh -NoProfile -File /opt/ccie/Invoke-OutageResponse.ps1 -Region us-east-1 >> /var/log/ccie-outage.log 2>&1
    Schedule (Linux, systemd timer): a oneshot ccie-outage.service running the same command, and ccie-outage.timer
        with OnCalendar=*:0/5 and Persistent=true; or trigger it from an alarm (CloudWatch alarm on
        circle.state.num-masters = 0 -> SNS -> your automation host).
    Schedule (Windows, Task Scheduler):
        schtasks /Create /SC MINUTE /MO 5 /TN CcieOutage /TR "pwsh -NoProfile -File C:\ccie\Invoke-OutageResponse.ps1 -Region us-east-1"

    Exit codes: 0 the box is healthy, nothing done; 10 recovered (restored, failed over, rebooted or app started)
    and verified; 1 failed (the error is printed); 2 no way to recover (no recovery point and no replica);
    3 the status checks fail: reboot the box (or rerun with -Recover); 5 degraded but serving (not an outage:
    nothing done, the reasons and the suggested action are printed);
    4 recovered but the final verdict is not Healthy (look at the printed reasons).

.EXAMPLE
    ./Invoke-OutageResponse.ps1 -Region us-east-1 -CatchUpCapacity 4 -CatchUpHours 2
#>
[CmdletBinding()]
param(
    [string] $Region,
    [string] $ProfileName,
    [string] $EndpointUrl,
    [string] $Name = 'circleci_services',
    # How CcieDr reaches the box (default: SSM when its agent is Online). The ports are probed from the box.
    [ValidateSet('Ssm', 'Ssh', 'Local')] [string] $Transport,
    [ValidateSet('Here', 'Box')] [string] $From = 'Box',
    # Restore even when a replica exists.
    [switch] $NoFailover,
    # A box whose status checks fail is recovered instead of reported for a reboot (exit 3).
    [switch] $Recover,
    # Builders added for the catch-up, and for how long.
    [int] $CatchUpCapacity = 2,
    [double] $CatchUpHours = 2,
    [int] $AppTimeoutSec = 1800,
    # Replace builders as soon as the new ones are InService, without waiting for CloudWatch's once-a-minute count of the
    # builders the app sees (Restart-CcieBuilder -SkipConnectionCheck): for a simulator whose clock runs in real time.
    [switch] $SkipBuilderConnectionCheck,
    [switch] $PassThru
)
$ErrorActionPreference = 'Stop'
$aws = @{}
foreach ($p in 'Region', 'ProfileName', 'EndpointUrl') { if ($PSBoundParameters.ContainsKey($p)) { $aws[$p] = $PSBoundParameters[$p] } }
$remote = @{ From = $From }
if ($Transport) { $remote.Transport = $Transport }
$log = { param($m) Write-Output "$([DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ')) $m" }
$clock = [Diagnostics.Stopwatch]::StartNew()
$summary = [ordered]@{ Action = 'none'; InstanceId = $null; PrivateIpAddress = $null; Verdict = $null; Rto = $null; BuildersRotated = 0; CapacityAdded = 0; ExitCode = 0; Timeline = @() }

function Test-Box([string] $InstanceId) {
    $id = if ($InstanceId) { @{ InstanceId = $InstanceId } } else { @{} }
    Test-CcieServicesBox @aws @remote @id -WarningAction SilentlyContinue
}

try {
    # 1. Detect.
    $health = Test-Box
    & $log "detect box=$($health.InstanceId) verdict=$($health.Verdict) reasons=$(@($health.Reasons) -join '; ')"
    if ($health.Verdict -eq 'Healthy') {
        & $log 'ok nothing to do'
        if ($PassThru) { [pscustomobject]$summary }
        exit 0
    }

    # 2. Decide.
    $suggested = "$($health.SuggestedAction)"
    $ec2Down = @($health.Checks | Where-Object { $_.Name -eq 'Ec2State' -and $_.Status -eq 'Fail' }).Count -gt 0
    $statusDown = @($health.Checks | Where-Object { $_.Name -in 'SystemStatus', 'InstanceStatus' -and $_.Status -eq 'Fail' }).Count -gt 0
    $decision = if ($ec2Down -or $suggested -match '^Restore') { 'recover' }
        elseif ($statusDown) { 'reboot' }
        elseif ($suggested -match '^Start the app') { 'start-app' }
        elseif ($health.Verdict -eq 'Down') { 'recover' }
        else { 'none' }
    & $log "decide $decision ($suggested)"

    $boxId = $health.InstanceId
    if ($decision -eq 'reboot') {
        # The cheapest fix first, and a human's call (a reboot interrupts running builds): say so and stop. If the
        # box is still down on a later run with -Recover, it is recovered.
        if (-not $Recover) {
            & $log "REBOOT box=${boxId}: $suggested Rerun with -Recover to restore or fail over instead."
            if ($PassThru) { $summary.Action = 'reboot-advised'; $summary.ExitCode = 3; [pscustomobject]$summary }
            exit 3
        }
        $decision = 'recover'
    }

    if ($decision -eq 'start-app') {
        $app = Start-CcieApp @aws @remote -InstanceId $boxId -Wait -WaitTimeoutSec $AppTimeoutSec -Force
        $summary.Action = 'app-started'
        & $log "app state=$($app.State) on $boxId"
    }
    elseif ($decision -eq 'recover') {
        # 3. Fail over when a replica is ready, else restore.
        $replica = if ($NoFailover) { $null } else { Get-CcieReplica @aws -ErrorAction SilentlyContinue | Select-Object -First 1 }
        if ($replica) {
            $r = Invoke-CcieFailover @aws @remote -ReplicaId $replica.InstanceId -AppTimeoutSec $AppTimeoutSec -Confirm:$false
            $summary.Action = 'failover'
            $summary.Timeline = $r.Timeline
            $boxId = $r.InstanceId
            & $log "failover to=$boxId ip=$($r.PrivateIpAddress) status=$($r.Status)"
        }
        else {
            $point = Get-CcieSnapshot @aws -BoxName $Name -Latest
            if (-not $point) {
                & $log 'FAIL no replica and no recovery point to restore from'
                exit 2
            }
            # -StartApp: waits for the new box's remote shell, fixes Replicated's addresses if the IP changed, starts the app, waits for its ports.
            $r = $point | Restore-CcieServicesBox @aws @remote -ReplaceExisting -StartApp -AppTimeoutSec $AppTimeoutSec -Confirm:$false
            $summary.Action = 'restore'
            $summary.Timeline = $r.Timeline
            $boxId = $r.InstanceId
            & $log "restore from=$($point.RecoveryPointId) box=$boxId ip=$($r.PrivateIpAddress) took=$([int]$r.Duration.TotalSeconds)s"
            $tx = @{}; if ($Transport) { $tx.Transport = $Transport }
            $app = Get-CcieApp @aws @tx -InstanceId $boxId
            & $log "app state=$($app.State) on $boxId"
        }
    }

    if ($summary.Action -eq 'none') {
        # Degraded is not an outage: the app serves. Say what to do and leave it to a human.
        & $log "DEGRADED box=${boxId}: not an outage, nothing done. $suggested"
        if ($PassThru) { $summary.Verdict = $health.Verdict; $summary.ExitCode = 5; [pscustomobject]$summary }
        exit 5
    }

    # 4. Builders: pointed at the box (passphrase kept unless the IP changed), the stale ones rotated.
    $box = Get-CcieServicesBox @aws -InstanceId $boxId
    $summary.InstanceId = $box.InstanceId; $summary.PrivateIpAddress = $box.PrivateIpAddress
    $config = Set-CcieBuilderConfiguration @aws -ServicesPrivateIp $box.PrivateIpAddress -KeepSecretPassphrase -Confirm:$false
    & $log "builders configured ip=$($box.PrivateIpAddress) action=$($config.Action) version=$($config.NewVersion ?? $config.OldVersion)"
    $rotated = @(Restart-CcieBuilder @aws -Stale -SkipConnectionCheck:$SkipBuilderConnectionCheck -Confirm:$false)
    $summary.BuildersRotated = @($rotated | ForEach-Object { $_.Replaced } | Where-Object { $_ }).Count
    & $log "builders rotated=$($summary.BuildersRotated) status=$(@($rotated | ForEach-Object Status) -join ',') $(@($rotated | ForEach-Object Warnings) -join ' ')"

    # 5. Capacity for the catch-up.
    if ($CatchUpCapacity -gt 0) {
        $cap = Set-CcieBuilderCapacity @aws -Add $CatchUpCapacity -Until ([DateTime]::UtcNow.AddHours($CatchUpHours)) -Confirm:$false
        $summary.CapacityAdded = $CatchUpCapacity
        & $log "capacity +$CatchUpCapacity desired=$($cap.DesiredCapacity) until=$([DateTime]::UtcNow.AddHours($CatchUpHours).ToString('HH:mm'))Z"
    }

    # 6. Verify.
    $final = Test-Box $boxId
    $summary.Verdict = $final.Verdict
    $summary.Rto = $clock.Elapsed
    $summary.ExitCode = if ($final.Verdict -eq 'Down') { 4 } else { 10 }
    & $log ("summary action={0} box={1} ip={2} verdict={3} rto={4:n1}s builders-rotated={5} capacity+={6}{7}" -f $summary.Action, $summary.InstanceId, $summary.PrivateIpAddress, $final.Verdict, $clock.Elapsed.TotalSeconds, $summary.BuildersRotated, $summary.CapacityAdded, $(if ($final.Verdict -ne 'Healthy') { " reasons=$(@($final.Reasons) -join '; ')" }))
    if ($PassThru) { [pscustomobject]$summary }
    exit $summary.ExitCode
}
catch {
    & $log "FAIL $($_.Exception.Message)"
    exit 1
}
