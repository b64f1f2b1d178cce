<#
.SYNOPSIS
    Restores the CircleCI Services box from its newest recovery point when the box is gone or stopped.

.DESCRIPTION
    A small, schedulable runbook: it finds the Services box (tag Name=circleci_services); when no such box is
    running, it restores the newest EBS recovery point onto the same private IP, subnet and security groups
    (Restore-CcieServicesBox), then prints one line. When the box runs, it does nothing.

    A box that is stopped still holds the private IP. A stopped box may be maintenance, so the runbook replaces
    it (terminates it once the new box is certain) only with -ReplaceStoppedBox; without it, it reports and exits 3.

    Schedule (Linux, cron, every 5 minutes, one log line per run):
        */5 * * * * pwsh -NoProfile -File /opt/ccie/Restore-ServicesBoxOnOutage.ps1 -Region us-east-1 -ReplaceStoppedBox >> /var/log/ccie-restore.log 2>&1
    Schedule (Windows, Task Scheduler):
        schtasks /Create /SC MINUTE /MO 5 /TN CcieRestore /TR "pwsh -NoProfile -File C:\ccie\Restore-ServicesBoxOnOutage.ps1 -Region us-east-1"

    Exit codes: 0 the box runs, nothing done; 10 the box was restored; 1 it failed (the error is printed);
    2 no recovery point to restore from; 3 the box is stopped and -ReplaceStoppedBox was not given.

.EXAMPLE
    ./Restore-ServicesBoxOnOutage.ps1 -Region us-east-1 -WhatIf     # says what it would do, changes nothing
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [string] $Region,
    [string] $ProfileName,
    [string] $EndpointUrl,
    [string] $Name = 'circleci_services',
    [switch] $ReplaceStoppedBox
)
$ErrorActionPreference = 'Stop'
$aws = @{}
foreach ($p in 'Region', 'ProfileName', 'EndpointUrl') { if ($PSBoundParameters.ContainsKey($p)) { $aws[$p] = $PSBoundParameters[$p] } }
$stamp = { [DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ') }

try {
    $running = @(Get-CcieServicesBox -Name $Name @aws -ErrorAction SilentlyContinue | Where-Object State -in 'running', 'pending')
    if ($running.Count -gt 0) {
        Write-Output "$(& $stamp) ok box=$($running[0].InstanceId) state=$($running[0].State)"
        exit 0
    }
    $stopped = @(Get-CcieServicesBox -Name $Name @aws -ErrorAction SilentlyContinue | Where-Object State -in 'stopped', 'stopping')
    if ($stopped.Count -gt 0 -and -not $ReplaceStoppedBox) {
        Write-Output "$(& $stamp) STOPPED box=$($stopped[0].InstanceId): start it, or rerun with -ReplaceStoppedBox to restore over it"
        exit 3
    }
    $point = Get-CcieSnapshot -Latest @aws
    if (-not $point) {
        Write-Output "$(& $stamp) FAIL no running Services box and no recovery point to restore from"
        exit 2
    }
    $result = $point | Restore-CcieServicesBox @aws -ReplaceExisting:($stopped.Count -gt 0) -Confirm:$false -WhatIf:$WhatIfPreference
    if ($WhatIfPreference) { exit 0 }
    Write-Output ("$(& $stamp) restored box=$($result.InstanceId) ip=$($result.PrivateIpAddress) from=$($point.RecoveryPointId) took={0:n0}s" -f $result.Duration.TotalSeconds)
    exit 10
}
catch {
    Write-Output "$(& $stamp) FAIL $($_.Exception.Message)"
    exit 1
}
