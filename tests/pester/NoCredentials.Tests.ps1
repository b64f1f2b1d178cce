# No AWS credentials anywhere: a newcomer's first run says what to set up, quickly, instead of
# "the AWS endpoint could not be reached". Everything stays on 127.0.0.1: the endpoint and the
# instance-metadata service both point at a closed loopback port, and IMDS is disabled.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    $closedPort = ([System.Net.IPEndPoint]$listener.LocalEndpoint).Port
    $listener.Stop()
    $emptyHome = Join-Path ([IO.Path]::GetTempPath()) ('ccie-nocreds-' + [guid]::NewGuid().ToString('n'))
    New-Item -ItemType Directory -Path $emptyHome | Out-Null
}

AfterAll {
    if ($emptyHome) { Remove-Item -LiteralPath $emptyHome -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'No AWS credentials' -Tag 'Credentials' {
    It 'fails with Aws.NoCredentials (AuthenticationError), says what to set, and does not wait long' {
        $script = @"
`$ErrorActionPreference = 'Stop'
foreach (`$v in 'AWS_ACCESS_KEY_ID','AWS_SECRET_ACCESS_KEY','AWS_SESSION_TOKEN','AWS_PROFILE','AWS_DEFAULT_PROFILE',
        'AWS_SHARED_CREDENTIALS_FILE','AWS_CONFIG_FILE','AWS_WEB_IDENTITY_TOKEN_FILE','AWS_ROLE_ARN',
        'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI','AWS_CONTAINER_CREDENTIALS_FULL_URI') {
    Remove-Item -LiteralPath "Env:`$v" -ErrorAction SilentlyContinue
}
Import-Module '$($env:CCIEDR_MODULE_PATH)'
`$sw = [Diagnostics.Stopwatch]::StartNew()
try {
    Get-CcieServicesBox -Region us-east-1 -EndpointUrl 'http://127.0.0.1:$closedPort' | Out-Null
    'RESULT|none|none|0|no error'
}
catch {
    `$r = `$_
    'RESULT|' + `$r.FullyQualifiedErrorId + '|' + `$r.CategoryInfo.Category + '|' + [int]`$sw.Elapsed.TotalMilliseconds + '|' + (`$r.Exception.Message -replace '[\r\n]+', ' ')
}
"@
        $environment = @{
            HOME                              = $emptyHome
            USERPROFILE                       = $emptyHome
            AWS_EC2_METADATA_DISABLED         = 'true'
            AWS_EC2_METADATA_SERVICE_ENDPOINT = "http://127.0.0.1:$closedPort"
        }
        $run = Invoke-CcieChildPwsh -Script $script -Environment $environment
        $line = @($run.Output -split "`r?`n" | Where-Object { $_ -like 'RESULT|*' })
        $line.Count | Should -Be 1 -Because "the child printed: $($run.Output) $($run.Error)"
        $parts = $line[0] -split '\|', 5
        $parts[1] | Should -BeLike 'Aws.NoCredentials*'
        $parts[2] | Should -Be 'AuthenticationError'
        foreach ($word in '-ProfileName', 'AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'aws configure') {
            $parts[4] | Should -BeLike "*$word*"
        }
        $parts[4] | Should -Not -BeLike '*check network access*'
    }

    It 'off EC2 (instance metadata silent) says so after one short probe instead of waiting on the SDK''s retries' {
        # A loopback "instance-metadata service" that accepts connections and never answers: what 169.254.169.254
        # looks like off EC2. The SDK alone connects to it again and again for ~16 s; CcieDr probes it once.
        $blackHole = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $blackHole.Start(128)
        try {
            $imdsPort = ([System.Net.IPEndPoint]$blackHole.LocalEndpoint).Port
            $script = @"
foreach (`$v in 'AWS_ACCESS_KEY_ID','AWS_SECRET_ACCESS_KEY','AWS_SESSION_TOKEN','AWS_PROFILE','AWS_DEFAULT_PROFILE',
        'AWS_SHARED_CREDENTIALS_FILE','AWS_CONFIG_FILE','AWS_WEB_IDENTITY_TOKEN_FILE','AWS_ROLE_ARN','AWS_EC2_METADATA_DISABLED',
        'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI','AWS_CONTAINER_CREDENTIALS_FULL_URI') {
    Remove-Item -LiteralPath "Env:`$v" -ErrorAction SilentlyContinue
}
Import-Module '$($env:CCIEDR_MODULE_PATH)'
try {
    Get-CcieServicesBox -Region us-east-1 -EndpointUrl 'http://127.0.0.1:$closedPort' -ErrorAction Stop | Out-Null
    'RESULT|none|none|no error'
}
catch {
    'RESULT|' + `$_.FullyQualifiedErrorId + '|' + `$_.CategoryInfo.Category + '|' + (`$_.Exception.Message -replace '[\r\n]+', ' ')
}
"@
            $environment = @{
                HOME                              = $emptyHome
                USERPROFILE                       = $emptyHome
                AWS_EC2_METADATA_SERVICE_ENDPOINT = "http://127.0.0.1:$imdsPort"
            }
            $run = Invoke-CcieChildPwsh -Script $script -Environment $environment
            $line = @($run.Output -split "`r?`n" | Where-Object { $_ -like 'RESULT|*' })
            $line.Count | Should -Be 1 -Because "the child printed: $($run.Output) $($run.Error)"
            $parts = $line[0] -split '\|', 4
            $parts[1] | Should -BeLike 'Aws.NoCredentials*'
            $parts[2] | Should -Be 'AuthenticationError'
            $parts[3] | Should -BeLike "*instance-metadata service at http://127.0.0.1:$imdsPort*did not answer*"
            $parts[3] | Should -BeLike '*aws configure*'

            $connections = 0
            while ($blackHole.Pending()) { $blackHole.AcceptTcpClient().Dispose(); $connections++ }
            $connections | Should -Be 1 -Because 'one probe, and the SDK never went on to wait on the metadata service itself'
        }
        finally { $blackHole.Stop() }
    }
}
