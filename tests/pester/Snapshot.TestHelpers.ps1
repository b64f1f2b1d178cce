# Helpers shared by the *-CcieSnapshot Pester tests (dot-sourced after TestHelpers.psm1 is imported).

function Start-SnapshotTestBed {
    <# Imports the built module, starts a seeded simulator and points every *-Ccie* cmdlet at it in us-east-1. Returns the simulator. #>
    param([int] $PageSize = 0)
    Import-Module (Get-CcieTestModulePath) -Force -Global
    Set-CcieTestAwsEnvironment
    $sim = Start-CcieTestSimulator -TransitionSeconds 0.3 -PageSize $PageSize
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
    $sim
}

function Stop-SnapshotTestBed {
    <# Undoes Start-SnapshotTestBed. #>
    param($Simulator)
    $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
    $PSDefaultParameterValues.Remove('*-Ccie*:Region')
    if ($Simulator) { Stop-CcieTestSimulator $Simulator }
}

function Reset-SnapshotSimulator {
    <# Back to the freshly seeded CircleCI topology: no snapshots but the AMI base ones, no faults, empty request log. #>
    param([Parameter(Mandatory)] $Simulator, [double] $SnapshotSeconds = 0.3)
    $null = Invoke-CcieSimulatorControl $Simulator POST reset
    $null = Invoke-CcieSimulatorControl $Simulator POST seed -Body @{ region = 'us-east-1' }
    $null = Invoke-CcieSimulatorControl $Simulator POST config -Body @{ durations = @{ snapshot = $SnapshotSeconds; snapshotCopy = $SnapshotSeconds } }
    $null = Invoke-CcieSimulatorControl $Simulator DELETE requests
}

function Get-SimulatorRequest {
    <# The simulator's request log for one EC2 action. #>
    param([Parameter(Mandatory)] $Simulator, [Parameter(Mandatory)] [string] $Action)
    # Invoke-RestMethod hands a JSON array over as one object: enumerate it.
    $log = Invoke-CcieSimulatorControl $Simulator GET "requests?action=$Action"
    $log | ForEach-Object { $_ }
}

function Get-RawSnapshot {
    <# DescribeSnapshots straight from EC2 (no CcieDr code): id, description, state, tags as a hashtable. #>
    param([Parameter(Mandatory)] $Simulator, [hashtable] $Filter = @{}, [string] $Region = 'us-east-1')
    $parameters = @{ 'Owner.1' = 'self' }
    $i = 1
    foreach ($name in $Filter.Keys) {
        $parameters["Filter.$i.Name"] = $name
        $parameters["Filter.$i.Value.1"] = $Filter[$name]
        $i++
    }
    $xml = Invoke-CcieSimulatorEc2 $Simulator DescribeSnapshots -Parameters $parameters -Region $Region
    foreach ($item in $xml.SelectNodes("//*[local-name()='snapshotSet']/*[local-name()='item']")) {
        $tags = @{}
        foreach ($t in $item.SelectNodes("*[local-name()='tagSet']/*[local-name()='item']")) {
            $tags[$t.SelectSingleNode("*[local-name()='key']").InnerText] = $t.SelectSingleNode("*[local-name()='value']").InnerText
        }
        [pscustomobject]@{
            SnapshotId  = $item.SelectSingleNode("*[local-name()='snapshotId']").InnerText
            Description = $item.SelectSingleNode("*[local-name()='description']").InnerText
            State       = $item.SelectSingleNode("*[local-name()='status']").InnerText
            Encrypted   = $item.SelectSingleNode("*[local-name()='encrypted']").InnerText -eq 'true'
            Tags        = $tags
        }
    }
}

function New-SeedScriptSnapshot {
    <# What the seed's backup script does: one CreateSnapshot of the first volume, with its description, no tags. #>
    param([Parameter(Mandatory)] $Simulator, [Parameter(Mandatory)] [string] $VolumeId)
    $xml = Invoke-CcieSimulatorEc2 $Simulator CreateSnapshot -Parameters @{
        VolumeId    = $VolumeId
        Description = 'CircleCI Services box Backup taken at Sat Nov 28 14:00:00 UTC 2026'
    }
    $xml.SelectSingleNode("//*[local-name()='snapshotId']").InnerText
}

function Invoke-SnapshotChildScript {
    <# Runs a script in a fresh pwsh with the module and the simulator defaults; returns its console text (What if: lines). #>
    param([Parameter(Mandatory)] $Simulator, [Parameter(Mandatory)] [string] $Script)
    $prelude = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$(Get-CcieTestModulePath)'
`$PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = '$($Simulator.Url)'
`$PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
"@
    $environment = @{
        AWS_ACCESS_KEY_ID = 'AKIDCCIEDRTEST'; AWS_SECRET_ACCESS_KEY = 'ccie-dr-test-secret'; AWS_REGION = 'us-east-1'; CCIEDR_POLL_SCALE = '0.05'
    }
    $r = Invoke-CcieChildPwsh -Script ($prelude + "`n" + $Script) -Environment $environment
    if ($r.ExitCode -ne 0) { throw "child pwsh failed ($($r.ExitCode)): $($r.Error)" }
    $r.Output
}
