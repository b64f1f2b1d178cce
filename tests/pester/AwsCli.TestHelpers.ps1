# Helpers for the Pester files that run the real AWS CLI against the simulator (dot-sourced after TestHelpers.psm1).
# The CLI runs as a child process whose environment alone carries credentials and a region; its config and
# credentials files live in the directory the test gives (TestDrive), never in the machine's ~/.aws.

function Get-CcieTestAwsCliPath {
    <# The AWS CLI to test with: $env:CCIEDR_AWS_CLI, else Debian's (/usr/bin/aws, which .ci/run installs), else `aws` on PATH. #>
    if ($env:CCIEDR_AWS_CLI) {
        if (-not (Test-Path -LiteralPath $env:CCIEDR_AWS_CLI)) { throw "CCIEDR_AWS_CLI='$env:CCIEDR_AWS_CLI' does not exist." }
        return $env:CCIEDR_AWS_CLI
    }
    if (Test-Path -LiteralPath '/usr/bin/aws') { return '/usr/bin/aws' }
    $cmd = Get-Command aws -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $cmd) { throw "The AWS CLI is not installed: run 'apt-get install -y --no-install-recommends awscli' (.ci/run does)." }
    return $cmd.Source
}

function New-CcieTestAwsCli {
    <#
    .SYNOPSIS
        Prepares an isolated AWS CLI against the simulator: empty config/credentials files in -Directory, the CLI path.
        Returns an object for Invoke-CcieTestAwsCli.
    #>
    param([Parameter(Mandatory)] $Simulator, [Parameter(Mandatory)] [string] $Directory, [string] $Region = 'us-east-1')
    $null = New-Item -ItemType Directory -Force -Path $Directory
    $config = Join-Path $Directory 'config'
    $credentials = Join-Path $Directory 'credentials'
    Set-Content -LiteralPath $config -Value "[default]`n"
    Set-Content -LiteralPath $credentials -Value "[default]`n"
    [pscustomobject]@{
        Path        = Get-CcieTestAwsCliPath
        EndpointUrl = $Simulator.Url
        Region      = $Region
        Environment = [ordered]@{
            AWS_ACCESS_KEY_ID           = 'AKIDCCIEDRAWSCLI'
            AWS_SECRET_ACCESS_KEY       = 'ccie-dr-aws-cli-secret'
            AWS_DEFAULT_REGION          = $Region
            AWS_CONFIG_FILE             = $config
            AWS_SHARED_CREDENTIALS_FILE = $credentials
            AWS_EC2_METADATA_DISABLED   = 'true'
            AWS_PAGER                   = ''
        }
    }
}

function Invoke-CcieTestAwsCli {
    <#
    .SYNOPSIS
        Runs `aws --endpoint-url <simulator> --output json <arguments>` and returns ExitCode, Stdout, Stderr and Json
        (the parsed output, or $null). With -Check, a non-zero exit throws with the CLI's stderr.
    #>
    param([Parameter(Mandatory)] $Cli, [Parameter(Mandatory, ValueFromRemainingArguments)] [object[]] $Arguments, [switch] $Check)
    # One argument per element: an array among the arguments (--instance-ids @($ids)) gives one argument per id.
    $Arguments = @(foreach ($a in $Arguments) { foreach ($x in @($a)) { [string]$x } })
    $psi = [System.Diagnostics.ProcessStartInfo]::new($Cli.Path)
    foreach ($a in @('--endpoint-url', $Cli.EndpointUrl, '--output', 'json') + $Arguments) { $psi.ArgumentList.Add($a) }
    # The child's environment only: no profile, session token, region or endpoint override from this process.
    foreach ($k in @($psi.Environment.Keys)) {
        if ($k -like 'AWS_*' -and $k -ne 'AWS_CA_BUNDLE') { $null = $psi.Environment.Remove($k) }
    }
    foreach ($k in $Cli.Environment.Keys) { $psi.Environment[$k] = $Cli.Environment[$k] }
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    $psi.UseShellExecute = $false
    $p = [System.Diagnostics.Process]::Start($psi)
    $p.StandardInput.Close()
    $err = $p.StandardError.ReadToEndAsync()
    $out = $p.StandardOutput.ReadToEnd()
    if (-not $p.WaitForExit(120000)) { $p.Kill(); throw "aws $($Arguments -join ' ') did not finish within 120 s." }
    $p.WaitForExit()
    $json = if ($out.Trim()) { try { $out | ConvertFrom-Json -Depth 50 } catch { $null } } else { $null }
    $r = [pscustomobject]@{ ExitCode = $p.ExitCode; Stdout = $out; Stderr = $err.Result; Json = $json }
    if ($Check -and $r.ExitCode -ne 0) { throw "aws $($Arguments -join ' ') exited $($r.ExitCode): $($r.Stderr)" }
    $r
}

function Invoke-CcieTestAwsCliJson {
    <# Invoke-CcieTestAwsCli -Check, returning the parsed JSON output. #>
    param([Parameter(Mandatory)] $Cli, [Parameter(Mandatory, ValueFromRemainingArguments)] [object[]] $Arguments)
    (Invoke-CcieTestAwsCli -Cli $Cli -Check -Arguments $Arguments).Json
}
