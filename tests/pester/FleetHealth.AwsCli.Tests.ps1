# The real AWS CLI against the simulator's CloudWatch: CircleCI's custom metrics written with
# `aws cloudwatch put-metric-data` are what Get-CcieFleetHealth interprets, and `aws cloudwatch list-metrics`,
# `get-metric-data` and `get-metric-statistics` read what the simulator publishes (AWS/EC2, the CloudWatch agent's
# CWAgent metrics, CircleCI's).
# Runs once per AWS CLI on this machine: Debian's awscli (/usr/bin/aws, 2.x: CloudWatch over the Query protocol; .ci/run
# installs it) and any other `aws` on PATH (e.g. a pip-installed 1.x: AWS JSON 1.0). Each CLI runs as its own process
# with its credentials, region and configuration files (in TestDrive) in that process's environment only: nothing of
# this session's environment or of the machine's ~/.aws is read or changed.

BeforeDiscovery {
    $script:clis = @('/usr/bin/aws')
    foreach ($c in @(Get-Command aws -All -CommandType Application -ErrorAction SilentlyContinue)) {
        $real = (Get-Item -LiteralPath $c.Source).ResolvedTarget
        if (-not $real) { $real = $c.Source }
        if ($c.Source -ne '/usr/bin/aws' -and $real -ne '/usr/bin/aws') { $script:clis += $c.Source; break }
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    $sim = Start-CcieTestSimulator
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
    $script:sessionKey = $env:AWS_ACCESS_KEY_ID

    function Reset-Fleet {
        $null = Invoke-CcieSimulatorControl $sim POST reset
        $script:seed = Invoke-CcieSimulatorControl $sim POST seed -Body @{ region = 'us-east-1' }
        $null = Invoke-CcieSimulatorControl $sim POST clock/advance -Body @{ seconds = 60 }
    }

    # The simulated clock as ISO 8601 (what put-metric-data's timestamps and get-metric-data's window are measured on).
    function Get-SimTime([double] $OffsetMinutes = 0) {
        $now = [DateTime]::Parse((Invoke-CcieSimulatorControl $sim GET clock).now, [cultureinfo]::InvariantCulture, [Globalization.DateTimeStyles]::AdjustToUniversal)
        $now.AddMinutes($OffsetMinutes).ToString('yyyy-MM-ddTHH:mm:ssZ', [cultureinfo]::InvariantCulture)
    }

    function Invoke-Aws {
        param([Parameter(Mandatory)] [string] $Cli, [Parameter(ValueFromRemainingArguments)] [string[]] $Arguments)
        $psi = [System.Diagnostics.ProcessStartInfo]::new($Cli)
        foreach ($a in @($Arguments) + @('--endpoint-url', $sim.Url, '--output', 'json')) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.UseShellExecute = $false
        foreach ($k in 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CA_BUNDLE') { $null = $psi.Environment.Remove($k) }
        $psi.Environment['AWS_ACCESS_KEY_ID'] = 'AKIDAWSCLITEST'
        $psi.Environment['AWS_SECRET_ACCESS_KEY'] = 'aws-cli-test-secret'
        $psi.Environment['AWS_REGION'] = 'us-east-1'
        $psi.Environment['AWS_DEFAULT_REGION'] = 'us-east-1'
        $psi.Environment['AWS_CONFIG_FILE'] = $configFile
        $psi.Environment['AWS_SHARED_CREDENTIALS_FILE'] = $credentialsFile
        $psi.Environment['AWS_EC2_METADATA_DISABLED'] = 'true'
        $psi.Environment['AWS_PAGER'] = ''
        $psi.Environment['AWS_MAX_ATTEMPTS'] = '1'
        $p = [System.Diagnostics.Process]::Start($psi)
        $stderr = $p.StandardError.ReadToEndAsync()
        $stdout = $p.StandardOutput.ReadToEnd()
        $p.WaitForExit()
        if ($p.ExitCode -ne 0) { throw "$Cli $($Arguments -join ' ') exited $($p.ExitCode): $($stderr.Result)" }
        if ($stdout.Trim()) { $stdout | ConvertFrom-Json } else { $null }
    }

    # One GetMetricData query of the newest value of a metric over the last 15 simulated minutes.
    function Get-CliLatest([string] $Cli, [string] $Namespace, [string] $MetricName, [hashtable] $Dimensions = @{}, [string] $Stat = 'Maximum') {
        $dims = @($Dimensions.GetEnumerator() | Sort-Object Name | ForEach-Object { @{ Name = $_.Name; Value = $_.Value } })
        $query = ConvertTo-Json -Compress -Depth 6 @(@{ Id = 'q'; MetricStat = @{ Metric = @{ Namespace = $Namespace; MetricName = $MetricName; Dimensions = $dims }; Period = 60; Stat = $Stat } })
        $r = Invoke-Aws $Cli cloudwatch get-metric-data --metric-data-queries $query --start-time (Get-SimTime -15) --end-time (Get-SimTime 1) --scan-by TimestampDescending
        $result = @($r.MetricDataResults)
        $result.Count | Should -Be 1
        $result[0].Id | Should -Be 'q'
        $result[0].StatusCode | Should -Be 'Complete'
        @($result[0].Values)[0]
    }
}

AfterAll {
    $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
    $PSDefaultParameterValues.Remove('*-Ccie*:Region')
    if ($sim) { Stop-CcieTestSimulator $sim }
}

Describe 'Get-CcieFleetHealth with metrics from the real AWS CLI (<_>)' -Tag 'FleetHealth', 'Simulator', 'AwsCli' -ForEach $clis {
    BeforeAll {
        $script:cli = $_
        $script:configFile = Join-Path $TestDrive 'aws-config'
        $script:credentialsFile = Join-Path $TestDrive 'aws-credentials'
        Set-Content -LiteralPath $configFile -Value "[default]`nregion = us-east-1`noutput = json"
        Set-Content -LiteralPath $credentialsFile -Value '# credentials come from the process environment'
        $script:configBefore = Get-Content -LiteralPath $configFile -Raw
    }

    BeforeEach { Reset-Fleet }

    It 'is the CLI it says it is' {
        Test-Path -LiteralPath $cli | Should -BeTrue -Because 'the CLI under test must exist (.ci/run installs Debian''s awscli)'
        $p = [System.Diagnostics.Process]::Start([System.Diagnostics.ProcessStartInfo]@{ FileName = $cli; Arguments = '--version'; RedirectStandardOutput = $true; RedirectStandardError = $true; UseShellExecute = $false })
        $version = $p.StandardOutput.ReadToEnd() + $p.StandardError.ReadToEnd()
        $p.WaitForExit()
        $version | Should -Match '^aws-cli/\d+\.\d+'
    }

    It 'num-masters 0 written with put-metric-data is an Outage' {
        $t = Get-SimTime
        $null = Invoke-Aws $cli cloudwatch put-metric-data --namespace CliCircle --metric-data `
            "MetricName=circle.state.num-masters,Value=0,Unit=Count,Timestamp=$t" `
            "MetricName=circle.run-queue.builds,Value=12,Unit=Count,Timestamp=$t" `
            "MetricName=ContainersLeaked,Value=0,Unit=Count,Timestamp=$t"
        $h = Get-CcieFleetHealth -Namespace CliCircle
        $h.Namespace | Should -Be 'CliCircle'
        $h.NumMasters | Should -Be 0
        $h.Verdict | Should -Be 'Outage'
        $h.BuildersRunning | Should -Be 2
        ($h.Metrics | Where-Object MetricName -eq 'circle.run-queue.builds').Value | Should -Be 12
    }

    It 'num-masters 3 while AWS runs the 2 builders is Healthy; 1 is NotConnected' {
        $t = Get-SimTime
        $data = ConvertTo-Json -Compress -Depth 4 @(
            @{ MetricName = 'circle.state.num-masters'; Value = 3; Unit = 'Count'; Timestamp = $t }
            @{ MetricName = 'circle.run-queue.builds'; Value = 0; Unit = 'Count'; Timestamp = $t }
            @{ MetricName = 'circle.run-queue.containers'; Value = 0; Unit = 'Count'; Timestamp = $t }
            @{ MetricName = 'circle.state.running-builds'; Value = 2; Unit = 'Count'; Timestamp = $t }
            @{ MetricName = 'ContainersReserved'; Value = 2; Unit = 'Count'; Timestamp = $t }
            @{ MetricName = 'ContainersAvailable'; Value = 6; Unit = 'Count'; Timestamp = $t }
            @{ MetricName = 'ContainersLeaked'; Value = 0; Unit = 'Count'; Timestamp = $t }
        )
        $null = Invoke-Aws $cli cloudwatch put-metric-data --namespace CliCircle --metric-data $data
        $h = Get-CcieFleetHealth -Namespace CliCircle
        $h.Verdict | Should -Be 'Healthy'
        $h.NumMasters | Should -Be 3
        $h.BuildersSeenByApp | Should -Be 2
        $h.BuildersRunning | Should -Be 2
        ($h.Metrics | Where-Object MetricName -eq 'ContainersAvailable').Value | Should -Be 6

        $null = Invoke-Aws $cli cloudwatch put-metric-data --namespace CliOne --metric-name circle.state.num-masters --value 1 --unit Count --timestamp (Get-SimTime)
        $one = Get-CcieFleetHealth -Namespace CliOne
        $one.NumMasters | Should -Be 1
        $one.Verdict | Should -Be 'NotConnected'

        $listed = Invoke-Aws $cli cloudwatch list-metrics --namespace CliCircle
        @($listed.Metrics.MetricName | Sort-Object) | Should -Be @($data | ConvertFrom-Json | ForEach-Object MetricName | Sort-Object)
    }

    It 'list-metrics and get-metric-data read what the simulator publishes for the box and the fleet' {
        $box = $seed.servicesInstanceId
        $agent = Invoke-Aws $cli cloudwatch list-metrics --namespace CWAgent --dimensions "Name=InstanceId,Value=$box"
        $series = @($agent.Metrics | ForEach-Object { $_.MetricName + ' ' + (@($_.Dimensions | Where-Object Name -eq 'path' | ForEach-Object Value) -join '') } | Sort-Object)
        $series | Should -Be @('disk_used_percent /', 'disk_used_percent /data', 'mem_used_percent ')

        Get-CliLatest $cli 'AWS/EC2' 'CPUUtilization' @{ InstanceId = $box } 'Average' | Should -Be 22.5
        Get-CliLatest $cli 'CWAgent' 'mem_used_percent' @{ InstanceId = $box } 'Average' | Should -Be 45
        Get-CliLatest $cli 'CWAgent' 'disk_used_percent' @{ InstanceId = $box; path = '/data' } | Should -Be 42
        Get-CliLatest $cli 'CircleCI' 'circle.state.num-masters' | Should -Be 3
        (Get-CcieFleetHealth).NumMasters | Should -Be 3

        $stats = Invoke-Aws $cli cloudwatch get-metric-statistics --namespace AWS/EC2 --metric-name CPUUtilization --dimensions "Name=InstanceId,Value=$box" `
            --start-time (Get-SimTime -5) --end-time (Get-SimTime 1) --period 60 --statistics Average Maximum SampleCount
        $stats.Label | Should -Be 'CPUUtilization'
        @($stats.Datapoints).Count | Should -BeGreaterOrEqual 5
        foreach ($d in $stats.Datapoints) { ($d.Average, $d.Maximum, $d.SampleCount, $d.Unit) | Should -Be @(22.5, 22.5, 1, 'Percent') }

        $null = Invoke-CcieSimulatorControl $sim POST cloudwatch/box -Body @{ diskPercent = 95; path = '/data'; appRunning = $false }
        $null = Invoke-CcieSimulatorControl $sim POST clock/advance -Body @{ seconds = 60 }
        Get-CliLatest $cli 'CWAgent' 'disk_used_percent' @{ InstanceId = $box; path = '/data' } | Should -Be 95
        Get-CliLatest $cli 'CircleCI' 'circle.state.num-masters' | Should -Be 0
        (Get-CcieFleetHealth).Verdict | Should -Be 'Outage'
    }

    It 'a value the simulator refuses is the CLI error AWS would give' {
        { Invoke-Aws $cli cloudwatch put-metric-data --namespace AWS/EC2 --metric-name x --value 1 } | Should -Throw '*InvalidParameterValue*'
        { Invoke-Aws $cli cloudwatch list-metrics --recently-active PT1H } | Should -Throw '*InvalidParameterValue*'
    }

    It 'left this session''s environment and its configuration files as they were' {
        $env:AWS_ACCESS_KEY_ID | Should -Be $sessionKey
        Get-Content -LiteralPath $configFile -Raw | Should -Be $configBefore
        $env:AWS_CONFIG_FILE | Should -Not -Be $configFile
    }
}
