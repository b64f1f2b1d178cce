<#
.SYNOPSIS
    Measures the orchestration overhead of Restore-CcieServicesBox: wall time minus the simulator's scripted AWS
    transition time. Target: <= 2 s per restore.
.DESCRIPTION
    Starts the simulator (real-time clock, every transition scripted to -TransitionSeconds), and for each run:
    resets and seeds the CircleCI topology, takes a recovery point (not timed), then times one
    Restore-CcieServicesBox call in this session through the real AWS SDK.

    Scripted AWS time of a restore, fixed by the simulator regardless of how it is polled:
      old box gone       : AMI pending->available + instance pending->running + status checks initializing->ok = 3 T
      -ReplaceExisting   : the above + the old box shutting-down->terminated (its IP is released then)      = 4 T
    Overhead = wall time - scripted time: pre-flight and every AWS call, how late each wait notices a
    transition (each wait polls after a tenth of the time it has waited so far, 100 ms to 5 s; no fixed
    sleeps), and the cmdlet itself.
    Production polling is used (CCIEDR_POLL_SCALE is cleared). The first run of each scenario warms the JIT
    and is reported separately.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $SimulatorPath,
    [double] $TransitionSeconds = 2,
    [int] $Runs = 5,
    [double] $TargetSeconds = 2
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$env:AWS_ACCESS_KEY_ID = 'AKIDCCIEDRBENCH'
$env:AWS_SECRET_ACCESS_KEY = 'ccie-dr-bench'
$env:AWS_REGION = 'us-east-1'
Remove-Item Env:CCIEDR_POLL_SCALE -ErrorAction SilentlyContinue
$inv = [cultureinfo]::InvariantCulture

. (Join-Path $PSScriptRoot 'Bench.Common.ps1')
# The simulator's own PowerShell module starts, stops and controls it (as operators' runbook tests do).
Import-Module (Join-Path $PSScriptRoot '../src/CcieDr.Simulator/Module/CcieDr.Simulator.psd1') -Force
function Invoke-Control([string] $Method, [string] $Path, $Body = @{}) { Invoke-CcieSimulatorControl -Simulator $sim -Method $Method -Path $Path -Body $Body }

function Invoke-Ec2([string] $Action, [hashtable] $Parameters) {
    # Set-up calls only (not timed); the simulator accepts any SigV4 signature and reads the region from its scope.
    $form = @{ Action = $Action; Version = '2016-11-15' } + $Parameters
    $body = ($form.GetEnumerator() | ForEach-Object { [uri]::EscapeDataString($_.Key) + '=' + [uri]::EscapeDataString([string]$_.Value) }) -join '&'
    $headers = @{ Authorization = "AWS4-HMAC-SHA256 Credential=AKIDCCIEDRBENCH/$([DateTime]::UtcNow.ToString('yyyyMMdd'))/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0" }
    [xml](Invoke-WebRequest -Uri "$($sim.Url)/" -Method POST -Body $body -ContentType 'application/x-www-form-urlencoded; charset=utf-8' -Headers $headers).Content
}

function New-RecoveryPoint {
    # The ccie: tag schema New-CcieSnapshot writes; the snapshots complete after T.
    $box = Get-CcieServicesBox -EndpointUrl $sim.Url
    $now = [DateTime]::UtcNow
    $id = 'rp-{0}-{1}' -f $now.ToString("yyyyMMdd'T'HHmmss'Z'", $inv), ([guid]::NewGuid().ToString('n').Substring(0, 8))
    $point = [ordered]@{
        'ccie:recovery-point' = $id; 'ccie:source-instance-id' = $box.InstanceId; 'ccie:box-name' = $box.Name
        'ccie:private-ip' = $box.PrivateIpAddress; 'ccie:subnet-id' = $box.SubnetId; 'ccie:vpc-id' = $box.VpcId
        'ccie:availability-zone' = $box.AvailabilityZone; 'ccie:security-group-ids' = ($box.SecurityGroupIds -join ',')
        'ccie:instance-type' = $box.InstanceType; 'ccie:key-name' = $box.KeyName; 'ccie:iam-instance-profile' = $box.IamInstanceProfileArn
        'ccie:root-device-name' = $box.RootDeviceName; 'ccie:architecture' = $box.Architecture
        'ccie:ena-support' = "$($box.EnaSupport)".ToLowerInvariant(); 'ccie:virtualization-type' = $box.VirtualizationType
        'ccie:volume-count' = "$($box.Volumes.Count)"
    }
    $ids = foreach ($v in $box.Volumes) {
        $tags = $point + [ordered]@{ 'ccie:device-name' = $v.DeviceName; 'ccie:volume-type' = $v.VolumeType; 'ccie:volume-size' = "$($v.SizeGiB)"; 'ccie:encrypted' = "$($v.Encrypted)".ToLowerInvariant() }
        $p = @{ VolumeId = $v.VolumeId; 'TagSpecification.1.ResourceType' = 'snapshot' }
        $n = 1
        foreach ($t in $tags.GetEnumerator()) { $p["TagSpecification.1.Tag.$n.Key"] = $t.Key; $p["TagSpecification.1.Tag.$n.Value"] = [string]$t.Value; $n++ }
        (Invoke-Ec2 CreateSnapshot $p).CreateSnapshotResponse.snapshotId
    }
    do {
        Start-Sleep -Milliseconds 200
        $pending = @($ids | Where-Object { (Invoke-Ec2 DescribeSnapshots @{ 'SnapshotId.1' = $_ }).DescribeSnapshotsResponse.snapshotSet.item.status -ne 'completed' })
    } while ($pending.Count -gt 0)
    [pscustomobject]@{ Id = $id; Box = $box }
}

function Wait-Terminated([string] $InstanceId) {
    $null = Invoke-Ec2 TerminateInstances @{ 'InstanceId.1' = $InstanceId }
    do {
        Start-Sleep -Milliseconds 200
        $state = (Invoke-Ec2 DescribeInstances @{ 'InstanceId.1' = $InstanceId }).DescribeInstancesResponse.reservationSet.item.instancesSet.item.instanceState.name
    } while ($state -ne 'terminated')
}

Import-Module $ModulePath -Force
$sim = Start-CcieSimulator -SimulatorPath $SimulatorPath -TransitionSeconds $TransitionSeconds -NoSeed
$rows = [System.Collections.Generic.List[object]]::new()
try {
    foreach ($scenario in @(
            @{ Name = 'old box terminated'; Replace = $false; Transitions = 3 },
            @{ Name = '-ReplaceExisting'; Replace = $true; Transitions = 4 })) {
        for ($run = 0; $run -le $Runs; $run++) {
            $null = Invoke-Control POST reset
            $null = Invoke-Control POST seed @{ region = 'us-east-1' }
            $rp = New-RecoveryPoint
            if (-not $scenario.Replace) { Wait-Terminated $rp.Box.InstanceId }

            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            $result = Restore-CcieServicesBox -RecoveryPointId $rp.Id -ReplaceExisting:$scenario.Replace -EndpointUrl $sim.Url -Region us-east-1 -Confirm:$false
            $watch.Stop()
            if (-not $result -or $result.Status -ne 'Succeeded') { throw "restore failed in run $run of '$($scenario.Name)'" }

            $scripted = $scenario.Transitions * $TransitionSeconds
            $steps = @{}
            foreach ($e in $result.Timeline) { $steps[$e.Action] = $e.Duration.TotalSeconds }
            $rows.Add([pscustomobject]@{
                    Scenario   = $scenario.Name
                    Run        = if ($run -eq 0) { 'warm-up' } else { "$run" }
                    WallS      = [math]::Round($watch.Elapsed.TotalSeconds, 3)
                    ScriptedS  = $scripted
                    OverheadS  = [math]::Round($watch.Elapsed.TotalSeconds - $scripted, 3)
                    PreflightS = [math]::Round($steps['preflight'], 3)
                    WaitsLateS = [math]::Round(($steps['wait:image-available'] + $steps['wait:instance-running'] + $steps['wait:instance-status-ok'] + $(if ($scenario.Replace) { $steps['wait:ip-released'] } else { 0 })) - $scripted, 3)
                })
        }
    }
}
finally {
    if ($sim) { Stop-CcieSimulator $sim }
}

Write-Host ''
Write-Host "Restore-CcieServicesBox orchestration overhead (transitions scripted to $TransitionSeconds s each; target <= $TargetSeconds s)" -ForegroundColor Cyan
$rows | Format-Table -AutoSize | Out-String | Write-Host
$measured = $rows | Where-Object Run -ne 'warm-up'
$worst = ($measured | Measure-Object OverheadS -Maximum).Maximum
$mean = ($measured | Measure-Object OverheadS -Average).Average
$summary = 'orchestration overhead: mean {0:N3} s, worst {1:N3} s over {2} restores (warm-up excluded) - {3}' -f $mean, $worst, @($measured).Count, $(if ($worst -le $TargetSeconds) { 'PASS' } else { 'ABOVE TARGET' })
Write-Host $summary -ForegroundColor $(if ($worst -le $TargetSeconds) { 'Green' } else { 'Yellow' })
Write-Target -Name 'restore-orchestration-overhead' -Value $worst -Op '<=' -Limit $TargetSeconds -Unit 's'
