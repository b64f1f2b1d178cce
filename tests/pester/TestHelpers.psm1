# Shared helpers for the Pester suite: the built module, the AWS simulator, isolated child sessions.
$ErrorActionPreference = 'Stop'

function Get-CcieTestModulePath {
    if (-not $env:CCIEDR_MODULE_PATH) { throw 'CCIEDR_MODULE_PATH is not set: run the suite through ./build.ps1 Test.' }
    return $env:CCIEDR_MODULE_PATH
}

function Start-CcieTestSimulator {
    <#
    .SYNOPSIS
        Starts the AWS simulator on 127.0.0.1 (free port), seeded with the CircleCI topology.
        Returns an object with Url, Process; stop it with Stop-CcieTestSimulator.
    #>
    param(
        [double] $TransitionSeconds = 0.3,
        [int] $PageSize = 0,
        [switch] $NoSeed
    )
    $dll = $env:CCIEDR_SIMULATOR
    if (-not $dll -or -not (Test-Path $dll)) { throw "Simulator not built at '$dll': run ./build.ps1 Test." }
    $ready = Join-Path ([IO.Path]::GetTempPath()) ("ccie-sim-" + [guid]::NewGuid().ToString('n') + '.url')
    $arguments = @($dll, '--port', '0', '--ready-file', $ready, '--realtime', '--transition-seconds',
        [string]::Format([cultureinfo]::InvariantCulture, '{0}', $TransitionSeconds), '--exit-with-stdin')
    if (-not $NoSeed) { $arguments += @('--seed', 'circleci') }
    if ($PageSize -gt 0) { $arguments += @('--page-size', "$PageSize") }
    $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in $arguments) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardInput = $true      # the simulator exits when our side of stdin closes
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.UseShellExecute = $false
    $process = [System.Diagnostics.Process]::Start($psi)
    $null = $process.StandardOutput.ReadToEndAsync()
    $stderr = $process.StandardError.ReadToEndAsync()
    $deadline = [DateTime]::UtcNow.AddSeconds(60)
    while (-not (Test-Path $ready) -or -not (Get-Content $ready -Raw)) {
        if ($process.HasExited) { throw "Simulator exited with code $($process.ExitCode): $($stderr.Result)" }
        if ([DateTime]::UtcNow -gt $deadline) { $process.Kill(); throw 'Simulator did not start within 60 s.' }
        Start-Sleep -Milliseconds 50
    }
    $url = (Get-Content $ready -Raw).Trim().TrimEnd('/')
    Remove-Item $ready -ErrorAction SilentlyContinue
    [pscustomobject]@{ Url = $url; Process = $process; Pid = $process.Id }
}

function Stop-CcieTestSimulator {
    param([Parameter(Mandatory)] $Simulator)
    $p = $Simulator.Process
    if ($p -and -not $p.HasExited) {
        try { $p.StandardInput.Close() } catch { }
        if (-not $p.WaitForExit(5000)) { $p.Kill() }   # only the process we started, by its handle
    }
}

function Invoke-CcieSimulatorControl {
    <# Calls the simulator's control API: Invoke-CcieSimulatorControl $sim POST reset #>
    param(
        [Parameter(Mandatory)] $Simulator,
        [ValidateSet('GET', 'POST', 'PUT', 'DELETE')] [string] $Method = 'POST',
        [Parameter(Mandatory)] [string] $Path,
        $Body
    )
    $uri = "$($Simulator.Url)/_sim/$($Path.TrimStart('/'))"
    $json = if ($null -ne $Body) { $Body | ConvertTo-Json -Depth 10 -Compress } else { '{}' }
    if ($Method -eq 'GET') { return Invoke-RestMethod -Uri $uri -Method GET }
    return Invoke-RestMethod -Uri $uri -Method $Method -Body $json -ContentType 'application/json'
}

function Set-CcieTestAwsEnvironment {
    <# Dummy credentials and a region for the simulator; the real SDK credential chain picks them up. #>
    $env:AWS_ACCESS_KEY_ID = 'AKIDCCIEDRTEST'
    $env:AWS_SECRET_ACCESS_KEY = 'ccie-dr-test-secret'
    $env:AWS_REGION = 'us-east-1'
    $env:CCIEDR_POLL_SCALE = '0.05'
}

function Invoke-CcieChildPwsh {
    <#
    .SYNOPSIS
        Runs a script in a fresh pwsh process (clean AppDomain / load contexts) and returns its output
        lines and exit code.
    #>
    param([Parameter(Mandatory)] [string] $Script, [hashtable] $Environment = @{})
    $file = Join-Path ([IO.Path]::GetTempPath()) ("ccie-child-" + [guid]::NewGuid().ToString('n') + '.ps1')
    Set-Content -LiteralPath $file -Value $Script
    try {
        $pwsh = (Get-Process -Id $PID).Path
        $psi = [System.Diagnostics.ProcessStartInfo]::new($pwsh)
        if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') {
            # running as the dotnet tool: dotnet <pwsh.dll>
            $psi.ArgumentList.Add([Environment]::GetCommandLineArgs()[0])
        }
        foreach ($a in '-NoProfile', '-NonInteractive', '-File', $file) { $psi.ArgumentList.Add($a) }
        foreach ($k in $Environment.Keys) { $psi.Environment[$k] = [string]$Environment[$k] }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.UseShellExecute = $false
        $p = [System.Diagnostics.Process]::Start($psi)
        $err = $p.StandardError.ReadToEndAsync()
        $out = $p.StandardOutput.ReadToEnd()
        $p.WaitForExit()
        [pscustomobject]@{ ExitCode = $p.ExitCode; Output = $out; Error = $err.Result }
    }
    finally { Remove-Item -LiteralPath $file -ErrorAction SilentlyContinue }
}

Export-ModuleMember -Function *-Ccie*

function Invoke-CcieSimulatorEc2 {
    <#
    .SYNOPSIS
        Sends one raw EC2 Query request to the simulator (for test set-up that no cmdlet does, such as
        terminating an instance). The simulator accepts any SigV4 signature; the region comes from its scope.
    #>
    param(
        [Parameter(Mandatory)] $Simulator,
        [Parameter(Mandatory)] [string] $Action,
        [hashtable] $Parameters = @{},
        [string] $Region = 'us-east-1'
    )
    $form = @{ Action = $Action; Version = '2016-11-15' } + $Parameters
    $body = ($form.GetEnumerator() | ForEach-Object { [uri]::EscapeDataString($_.Key) + '=' + [uri]::EscapeDataString([string]$_.Value) }) -join '&'
    $date = [DateTime]::UtcNow.ToString('yyyyMMdd')
    $headers = @{ Authorization = "AWS4-HMAC-SHA256 Credential=AKIDCCIEDRTEST/$date/$Region/ec2/aws4_request, SignedHeaders=host, Signature=0" }
    [xml](Invoke-WebRequest -Uri "$($Simulator.Url)/" -Method POST -Body $body -ContentType 'application/x-www-form-urlencoded; charset=utf-8' -Headers $headers).Content
}

Export-ModuleMember -Function *-Ccie*

function Assert-CcieTestPrivateNetwork {
    <# Fails unless this process runs in a network namespace with only loopback (unshare -n): for test files that probe ports. #>
    $links = @(& ip -o link show 2>$null | ForEach-Object { ($_ -split ':\s*')[1] } | Where-Object { $_ -and $_ -ne 'lo' })
    if ($LASTEXITCODE -ne 0 -or $links.Count -gt 0) {
        throw "This test file probes ports and must run in a private network namespace with only loopback (found: $($links -join ', ')). Run it through tests/pester/Invoke-Tests.ps1 (it runs *.Netns.Tests.ps1 under 'unshare -n'), or: unshare -n sh -c 'ip link set lo up && exec <runner>'."
    }
}
Export-ModuleMember -Function Assert-CcieTestPrivateNetwork
