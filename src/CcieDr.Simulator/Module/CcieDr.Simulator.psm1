# The CcieDr AWS simulator as a PowerShell module, for operators who test their own runbooks with Pester.
# It starts the simulator (a .NET program) as a child process bound to 127.0.0.1 and wraps its /_sim/ control API.
# The child process exits when this session closes its stdin (Stop-CcieSimulator, or the session ending).
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$script:Running = [System.Collections.Generic.List[object]]::new()

function Resolve-CcieSimulatorDll([string] $Path) {
    if ($Path) {
        if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { throw "No simulator at '$Path': pass the path of CcieDr.Simulator.dll (./build.ps1 Build puts it in out/simulator/)." }
        return (Resolve-Path -LiteralPath $Path).ProviderPath
    }
    foreach ($candidate in @((Join-Path $PSScriptRoot 'bin/CcieDr.Simulator.dll'), $env:CCIEDR_SIMULATOR)) {
        if ($candidate -and (Test-Path -LiteralPath $candidate -PathType Leaf)) { return (Resolve-Path -LiteralPath $candidate).ProviderPath }
    }
    throw "The simulator program was not found next to this module ($PSScriptRoot/bin/CcieDr.Simulator.dll). Install the CcieDr.Simulator module as built by ./build.ps1 Build (out/CcieDr.Simulator), or pass -SimulatorPath."
}

function Resolve-CcieDotnet {
    $self = [Environment]::ProcessPath
    if ($self -and [IO.Path]::GetFileNameWithoutExtension($self) -eq 'dotnet') { return $self }
    $cmd = Get-Command dotnet -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($cmd) { return $cmd.Source }
    if ($env:DOTNET_ROOT) {
        $p = Join-Path $env:DOTNET_ROOT ($IsWindows ? 'dotnet.exe' : 'dotnet')
        if (Test-Path -LiteralPath $p) { return $p }
    }
    throw 'The simulator needs the .NET 10 runtime: install it (https://dotnet.microsoft.com/download) so that "dotnet" is on PATH, or set DOTNET_ROOT.'
}

function Resolve-CcieSimulatorTarget($Simulator) {
    if ($Simulator) { return $Simulator }
    $live = @($script:Running | Where-Object { -not $_.Process.HasExited })
    if ($live.Count -eq 1) { return $live[0] }
    if ($live.Count -eq 0) { throw 'No simulator is running in this session: start one with Start-CcieSimulator.' }
    throw "$($live.Count) simulators are running in this session: pass -Simulator (the object Start-CcieSimulator returned)."
}

function Start-CcieSimulator {
    <#
    .SYNOPSIS
        Starts the CcieDr AWS simulator on 127.0.0.1 and returns an object with its Url.
    .DESCRIPTION
        The simulator speaks the real AWS protocols (EC2 Query, SSM and KMS JSON, and the others it serves) for the
        regions us-east-1, us-east-2, us-west-1, us-west-2, eu-west-1 and eu-central-1, and models state and time.
        By default it is seeded with a CircleCI Enterprise topology (the Services box tagged Name=circleci_services,
        its volumes, VPC, subnets, security groups, a builder launch template and Auto Scaling group).
        It listens on 127.0.0.1 only and never contacts AWS.

        -SetEnvironment points this session at it: every CcieDr cmdlet gets -EndpointUrl and -Region through
        $PSDefaultParameterValues, and dummy AWS credentials are put into the environment (any credentials are
        accepted). Stop-CcieSimulator puts the previous values back.
    .PARAMETER Port
        TCP port on 127.0.0.1; 0 (default) picks a free one.
    .PARAMETER TransitionSeconds
        How long every simulated state transition takes (instance pending -> running, snapshot completion, ...).
        Small values keep tests fast.
    .PARAMETER Clock
        Realtime (default): simulated time follows the wall clock. Manual: time moves only with Set-CcieSimulatorClock -Advance.
    .PARAMETER NoSeed
        Start empty (each region has only a public Ubuntu AMI).
    .EXAMPLE
        $sim = Start-CcieSimulator -TransitionSeconds 0.5 -SetEnvironment
        Get-CcieServicesBox          # the seeded box, served by the simulator
        Stop-CcieSimulator $sim
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [ValidateRange(0, 65535)] [int] $Port = 0,
        [ValidateRange(0, 3600)] [double] $TransitionSeconds = 1,
        [ValidateSet('Realtime', 'Manual')] [string] $Clock = 'Realtime',
        [string[]] $SeedRegion = @('us-east-1'),
        [switch] $NoSeed,
        [ValidateRange(0, 1000)] [int] $PageSize = 0,
        [switch] $LogRequests,
        [switch] $SetEnvironment,
        [string] $SimulatorPath,
        [ValidateRange(1, 600)] [int] $StartTimeoutSeconds = 60
    )
    $dll = Resolve-CcieSimulatorDll $SimulatorPath
    $dotnet = Resolve-CcieDotnet
    $ready = Join-Path ([IO.Path]::GetTempPath()) ('ccie-sim-' + [guid]::NewGuid().ToString('n') + '.url')
    $inv = [cultureinfo]::InvariantCulture
    $arguments = @($dll, '--port', $Port.ToString($inv), '--ready-file', $ready, '--transition-seconds', $TransitionSeconds.ToString($inv),
        '--clock', $Clock.ToLowerInvariant(), '--exit-with-stdin')
    if (-not $NoSeed) { $arguments += @('--seed', 'circleci', '--seed-region', ($SeedRegion -join ',')) }
    if ($PageSize -gt 0) { $arguments += @('--page-size', $PageSize.ToString($inv)) }
    if ($LogRequests) { $arguments += '--log-requests' }

    $psi = [System.Diagnostics.ProcessStartInfo]::new($dotnet)
    foreach ($a in $arguments) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardInput = $true      # the simulator exits when our end of its stdin closes
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.UseShellExecute = $false
    $process = [System.Diagnostics.Process]::Start($psi)
    $null = $process.StandardOutput.ReadToEndAsync()   # drained so the child never blocks on a full pipe
    $stderr = $process.StandardError.ReadToEndAsync()
    $deadline = [DateTime]::UtcNow.AddSeconds($StartTimeoutSeconds)
    $url = $null
    try {
        while (-not $url) {
            if (Test-Path -LiteralPath $ready) { $url = (Get-Content -LiteralPath $ready -Raw) }
            if ($url) { break }
            if ($process.HasExited) { throw "The simulator exited at start with code $($process.ExitCode): $($stderr.Result.Trim())" }
            if ([DateTime]::UtcNow -gt $deadline) { throw "The simulator did not start within $StartTimeoutSeconds s." }
            Start-Sleep -Milliseconds 50
        }
    }
    catch {
        if (-not $process.HasExited) { $process.Kill($true) }   # only the process this call started
        throw
    }
    finally { Remove-Item -LiteralPath $ready -ErrorAction SilentlyContinue }
    $sim = [pscustomobject]@{
        PSTypeName = 'CcieDr.Simulator'
        Url        = $url.Trim().TrimEnd('/')
        Pid        = $process.Id
        Clock      = $Clock
        Seeded     = -not $NoSeed
        Regions    = $SeedRegion
        Process    = $process
        Saved      = $null
    }
    $script:Running.Add($sim)
    if ($SetEnvironment) { Set-CcieSimulatorEnvironment $sim }
    $sim
}

function Set-CcieSimulatorEnvironment($Simulator) {
    $names = 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_PROFILE'
    $saved = @{ Env = @{}; Defaults = @{} }
    foreach ($n in $names) { $saved.Env[$n] = [Environment]::GetEnvironmentVariable($n) }
    $defaults = $global:PSDefaultParameterValues
    foreach ($k in '*-Ccie*:EndpointUrl', '*-Ccie*:Region') { $saved.Defaults[$k] = if ($defaults.Contains($k)) { $defaults[$k] } else { $null } }
    $Simulator.Saved = $saved
    [Environment]::SetEnvironmentVariable('AWS_ACCESS_KEY_ID', 'AKIDCCIESIMULATOR')
    [Environment]::SetEnvironmentVariable('AWS_SECRET_ACCESS_KEY', 'ccie-simulator-accepts-any-secret')
    [Environment]::SetEnvironmentVariable('AWS_SESSION_TOKEN', $null)
    [Environment]::SetEnvironmentVariable('AWS_PROFILE', $null)
    [Environment]::SetEnvironmentVariable('AWS_REGION', $Simulator.Regions[0])
    $defaults['*-Ccie*:EndpointUrl'] = $Simulator.Url
    $defaults['*-Ccie*:Region'] = $Simulator.Regions[0]
}

function Restore-CcieSimulatorEnvironment($Simulator) {
    $saved = $Simulator.Saved
    if (-not $saved) { return }
    foreach ($n in $saved.Env.Keys) { [Environment]::SetEnvironmentVariable($n, $saved.Env[$n]) }
    foreach ($k in $saved.Defaults.Keys) {
        if ($null -eq $saved.Defaults[$k]) { $global:PSDefaultParameterValues.Remove($k) } else { $global:PSDefaultParameterValues[$k] = $saved.Defaults[$k] }
    }
    $Simulator.Saved = $null
}

function Stop-CcieSimulator {
    <#
    .SYNOPSIS
        Stops a simulator started by Start-CcieSimulator (all of this session's when none is given) and puts back
        what -SetEnvironment changed.
    .EXAMPLE
        Stop-CcieSimulator $sim
    #>
    [CmdletBinding()]
    param([Parameter(Position = 0, ValueFromPipeline)] [psobject] $Simulator)
    process {
        $targets = if ($Simulator) { @($Simulator) } else { @($script:Running) }
        foreach ($sim in $targets) {
            Restore-CcieSimulatorEnvironment $sim
            $p = $sim.Process
            if ($p -and -not $p.HasExited) {
                try { $p.StandardInput.Close() } catch { Write-Verbose "stdin already closed: $_" }
                if (-not $p.WaitForExit(5000)) { $p.Kill($true) }   # only the process Start-CcieSimulator started
            }
            $null = $script:Running.Remove($sim)
        }
    }
}

function Get-CcieSimulator {
    <# .SYNOPSIS The simulators this session started and that still run. #>
    [CmdletBinding()]
    param()
    $script:Running | Where-Object { -not $_.Process.HasExited }
}

function Invoke-CcieSimulatorControl {
    <#
    .SYNOPSIS
        Calls the simulator's JSON control API (GET /_sim/help lists every route).
    .EXAMPLE
        Invoke-CcieSimulatorControl -Method POST -Path faults/instance-death -Body @{ instanceId = $box.InstanceId; stopAfterSeconds = 2 }
    #>
    [CmdletBinding()]
    param(
        [ValidateSet('GET', 'POST', 'DELETE')] [string] $Method = 'GET',
        [Parameter(Mandatory, Position = 0)] [string] $Path,
        [System.Collections.IDictionary] $Body,
        [psobject] $Simulator
    )
    $sim = Resolve-CcieSimulatorTarget $Simulator
    $uri = "$($sim.Url)/_sim/$($Path.TrimStart('/'))"
    if ($Method -eq 'GET') { return Invoke-RestMethod -Uri $uri -Method GET }
    $json = if ($Body) { $Body | ConvertTo-Json -Depth 10 -Compress } else { '{}' }
    Invoke-RestMethod -Uri $uri -Method $Method -Body $json -ContentType 'application/json'
}

function Reset-CcieSimulator {
    <# .SYNOPSIS Empties every region, clears faults and the request log; reseeds the CircleCI topology unless -NoSeed. #>
    [CmdletBinding()]
    param([switch] $NoSeed, [psobject] $Simulator)
    $sim = Resolve-CcieSimulatorTarget $Simulator
    $null = Invoke-CcieSimulatorControl -Simulator $sim -Method POST -Path reset
    if (-not $NoSeed) { foreach ($r in $sim.Regions) { $null = Invoke-CcieSimulatorControl -Simulator $sim -Method POST -Path seed -Body @{ region = $r } } }
}

function Set-CcieSimulatorClock {
    <#
    .SYNOPSIS
        Moves the simulated clock forward (-Advance) or switches it between Realtime and Manual; returns the clock.
    .EXAMPLE
        Set-CcieSimulatorClock -Advance (New-TimeSpan -Hours 1)   # scheduled actions and retention come due
    #>
    [CmdletBinding()]
    param(
        [TimeSpan] $Advance,
        [ValidateSet('Realtime', 'Manual')] [string] $Mode,
        [psobject] $Simulator
    )
    $sim = Resolve-CcieSimulatorTarget $Simulator
    if ($Mode) { $null = Invoke-CcieSimulatorControl -Simulator $sim -Method POST -Path clock -Body @{ mode = $Mode.ToLowerInvariant() } }
    if ($PSBoundParameters.ContainsKey('Advance')) {
        if ($Advance -lt [TimeSpan]::Zero) { throw 'The simulated clock only moves forward: pass a positive -Advance.' }
        $null = Invoke-CcieSimulatorControl -Simulator $sim -Method POST -Path clock/advance -Body @{ seconds = $Advance.TotalSeconds }
    }
    Invoke-CcieSimulatorControl -Simulator $sim -Path clock
}

function Add-CcieSimulatorFault {
    <#
    .SYNOPSIS
        Makes the next -Count AWS calls of -Action fail: throttle, internal-error, unavailable, drop, drop-after
        (the change happens, the answer is lost), timeout or delay (held -DelayMilliseconds).
    .EXAMPLE
        Add-CcieSimulatorFault -Kind throttle -Action RunInstances -Count 3
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [ValidateSet('throttle', 'internal-error', 'unavailable', 'drop', 'drop-after', 'timeout', 'delay')] [string] $Kind,
        [string] $Action = '*',
        [ValidateRange(1, 10000)] [int] $Count = 1,
        [ValidateRange(0, 600000)] [int] $DelayMilliseconds = 2000,
        [string] $Region,
        [psobject] $Simulator
    )
    $body = @{ kind = $Kind; action = $Action; count = $Count; delayMilliseconds = $DelayMilliseconds }
    if ($Region) { $body.region = $Region }
    Invoke-CcieSimulatorControl -Simulator $Simulator -Method POST -Path faults -Body $body
}

function Clear-CcieSimulatorFault {
    <# .SYNOPSIS Drops every pending request fault. #>
    [CmdletBinding()]
    param([psobject] $Simulator)
    $null = Invoke-CcieSimulatorControl -Simulator $Simulator -Method DELETE -Path faults
}

function Invoke-CcieSimulatorOutage {
    <#
    .SYNOPSIS
        Breaks something in the simulated world: an instance dies (status checks fail, then it stops), is impaired,
        or a whole availability zone fails.
    .EXAMPLE
        Invoke-CcieSimulatorOutage -InstanceDeath -InstanceId (Get-CcieServicesBox).InstanceId -AfterSeconds 2
    .EXAMPLE
        Invoke-CcieSimulatorOutage -AvailabilityZone us-east-1a
    #>
    [CmdletBinding(DefaultParameterSetName = 'Death')]
    param(
        [Parameter(Mandatory, ParameterSetName = 'Death')] [switch] $InstanceDeath,
        [Parameter(Mandatory, ParameterSetName = 'Impaired')] [switch] $Impaired,
        [Parameter(Mandatory, ParameterSetName = 'Death')]
        [Parameter(Mandatory, ParameterSetName = 'Impaired')] [string] $InstanceId,
        [Parameter(ParameterSetName = 'Death')] [double] $AfterSeconds = 10,
        [Parameter(Mandatory, ParameterSetName = 'Zone')] [string] $AvailabilityZone,
        [Parameter(ParameterSetName = 'Zone')] [switch] $End,
        [string] $Region,
        [psobject] $Simulator
    )
    $sim = Resolve-CcieSimulatorTarget $Simulator
    if (-not $Region) { $Region = $sim.Regions[0] }
    switch ($PSCmdlet.ParameterSetName) {
        'Death' { $null = Invoke-CcieSimulatorControl -Simulator $sim -Method POST -Path faults/instance-death -Body @{ region = $Region; instanceId = $InstanceId; stopAfterSeconds = $AfterSeconds } }
        'Impaired' { $null = Invoke-CcieSimulatorControl -Simulator $sim -Method POST -Path faults/instance-impaired -Body @{ region = $Region; instanceId = $InstanceId; impaired = $true } }
        'Zone' {
            if ($End) { $null = Invoke-CcieSimulatorControl -Simulator $sim -Method DELETE -Path "faults/az-outage?region=$([uri]::EscapeDataString($Region))&zone=$([uri]::EscapeDataString($AvailabilityZone))" }
            else { $null = Invoke-CcieSimulatorControl -Simulator $sim -Method POST -Path faults/az-outage -Body @{ region = $Region; zone = $AvailabilityZone } }
        }
    }
}

function Get-CcieSimulatorRequest {
    <#
    .SYNOPSIS
        The simulator's request log: every AWS call with its time, region, action, parameters and status.
    .EXAMPLE
        Get-CcieSimulatorRequest | Where-Object Action -match '^(Run|Terminate|Create|Delete)'   # what a -WhatIf run must not contain
    #>
    [CmdletBinding()]
    param([string] $Action, [switch] $Clear, [psobject] $Simulator)
    $path = if ($Action) { "requests?action=$([uri]::EscapeDataString($Action))" } else { 'requests' }
    $log = Invoke-CcieSimulatorControl -Simulator $Simulator -Path $path
    if ($Clear) { $null = Invoke-CcieSimulatorControl -Simulator $Simulator -Method DELETE -Path requests }
    $log
}

function Get-CcieSimulatorState {
    <# .SYNOPSIS The whole simulated state (instances, volumes, snapshots, images, network, ...) as one object. #>
    [CmdletBinding()]
    param([psobject] $Simulator)
    Invoke-CcieSimulatorControl -Simulator $Simulator -Path state
}
