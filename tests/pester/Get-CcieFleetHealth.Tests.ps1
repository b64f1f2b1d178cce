# Get-CcieFleetHealth against the simulator: its CloudWatch publishes what the world implies (num-masters = 1 + connected
# builders while the app runs), and the real AWS CLI can write metrics to it.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    $sim = Start-CcieTestSimulator
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'

    function Reset-Fleet {
        $null = Invoke-CcieSimulatorControl $sim POST reset
        $script:seed = Invoke-CcieSimulatorControl $sim POST seed -Body @{ region = 'us-east-1' }
        $null = Invoke-CcieSimulatorControl $sim POST clock/advance -Body @{ seconds = 60 }
    }

    function Step-Clock([double] $Seconds) {
        $null = Invoke-CcieSimulatorControl $sim POST clock/advance -Body @{ seconds = $Seconds }
    }

    function Invoke-TestAwsCli {
        # The real AWS CLI against the simulator, with throw-away credentials and no user configuration.
        $saved = @{}
        foreach ($k in 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_DISABLED', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN') {
            $saved[$k] = [Environment]::GetEnvironmentVariable($k)
            Remove-Item -LiteralPath "Env:$k" -ErrorAction SilentlyContinue
        }
        $env:AWS_CONFIG_FILE = '/dev/null'
        $env:AWS_SHARED_CREDENTIALS_FILE = '/dev/null'
        $env:AWS_EC2_METADATA_DISABLED = 'true'
        try {
            $out = & aws @args --endpoint-url $sim.Url --region us-east-1 --output json 2>&1
            if ($LASTEXITCODE -ne 0) { throw "aws $($args -join ' ') exited $($LASTEXITCODE): $out" }
            $out
        }
        finally {
            foreach ($k in $saved.Keys) {
                if ($null -eq $saved[$k]) { Remove-Item -LiteralPath "Env:$k" -ErrorAction SilentlyContinue } else { Set-Item -LiteralPath "Env:$k" -Value $saved[$k] }
            }
        }
    }
}

AfterAll {
    $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
    $PSDefaultParameterValues.Remove('*-Ccie*:Region')
    if ($sim) { Stop-CcieTestSimulator $sim }
}

Describe 'Get-CcieFleetHealth' -Tag 'FleetHealth', 'Simulator' {
    BeforeEach { Reset-Fleet }

    It 'calls the seeded fleet healthy: the app sees the 2 builders AWS runs' {
        $h = Get-CcieFleetHealth
        $h | Should -BeOfType ([CcieDr.FleetHealth])
        $h.Verdict | Should -Be 'Healthy'
        $h.NumMasters | Should -Be 3
        $h.BuildersSeenByApp | Should -Be 2
        $h.BuildersRunning | Should -Be 2
        $h.Namespace | Should -Be 'CircleCI'
        $h.BuilderInstanceIds | Should -Be @($seed.builderInstanceIds | Sort-Object)
        $h.SuggestedAction | Should -Be 'None.'
        $row = $h.Metrics | Where-Object MetricName -eq 'circle.state.num-masters'
        $row.Status | Should -Be 'Ok'
        $row.Value | Should -Be 3
        $row.Age | Should -BeLessOrEqual ([timespan]::FromMinutes(1))
        $text = $h | Out-String -Width 200
        $text | Should -Match 'Verdict\s*:\s*Healthy'
        $text | Should -Match 'app sees 2, AWS runs 2'
        ($h.Metrics | Out-String -Width 200) | Should -Match 'MetricName\s+Value\s+Age\s+Status'
    }

    It 'says Outage when num-masters is 0 (the app killed while EC2 says running)' {
        $null = Invoke-CcieSimulatorControl $sim POST cloudwatch/box -Body @{ appRunning = $false }
        Step-Clock 60
        $h = Get-CcieFleetHealth
        $h.Verdict | Should -Be 'Outage'
        $h.NumMasters | Should -Be 0
        $h.Reasons[0] | Should -Match 'circle\.state\.num-masters is 0'
        $h.SuggestedAction | Should -Match 'Test-CcieServicesBox'
    }

    It 'says Outage when num-masters is stale, and not when -StaleAfter allows its age' {
        $null = Invoke-CcieSimulatorControl $sim POST cloudwatch/publishers -Body @{ publisher = 'circleci'; running = $false }
        Step-Clock 660
        $h = Get-CcieFleetHealth
        $h.Verdict | Should -Be 'Outage'
        ($h.Metrics | Where-Object MetricName -eq 'circle.state.num-masters').Status | Should -Be 'Stale'
        $h.Reasons[0] | Should -Match 'no data for 1[01] min \(more than -StaleAfter 10 min\)'
        (Get-CcieFleetHealth -StaleAfter (New-TimeSpan -Minutes 20)).Verdict | Should -Be 'Healthy'
        (Get-CcieFleetHealth -Since (New-TimeSpan -Minutes 5) -StaleAfter (New-TimeSpan -Minutes 20)).Reasons[0] | Should -Match 'no data in the last 5 min'
    }

    It 'says NoBuilders when num-masters is 1 and AWS runs no builder' {
        $i = 1
        $params = @{}
        foreach ($b in $seed.builderInstanceIds) { $params["InstanceId.$i"] = $b; $i++ }
        $null = Invoke-CcieSimulatorEc2 $sim TerminateInstances $params
        Step-Clock 60
        $h = Get-CcieFleetHealth
        $h.Verdict | Should -Be 'NoBuilders'
        $h.NumMasters | Should -Be 1
        $h.BuildersRunning | Should -Be 0
        $h.SuggestedAction | Should -Match 'Set-CcieBuilderCapacity'
    }

    It 'says NotConnected when the builders run with another SERVICES_PRIVATE_IP, naming it' {
        $userData = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes("#!/bin/bash`nexport SERVICES_PRIVATE_IP=10.0.1.77`n"))
        $null = Invoke-CcieSimulatorEc2 $sim CreateLaunchTemplateVersion @{ LaunchTemplateId = $seed.launchTemplateId; SourceVersion = '1'; 'LaunchTemplateData.UserData' = $userData }
        $null = Invoke-CcieSimulatorEc2 $sim ModifyLaunchTemplate @{ LaunchTemplateId = $seed.launchTemplateId; SetDefaultVersion = '2' }
        $null = Invoke-CcieSimulatorControl $sim POST autoscaling -Body @{ name = 'circleci-builders'; suspended = $false }
        $i = 1
        $params = @{}
        foreach ($b in $seed.builderInstanceIds) { $params["InstanceId.$i"] = $b; $i++ }
        $null = Invoke-CcieSimulatorEc2 $sim TerminateInstances $params
        foreach ($n in 1..4) { Step-Clock 30 }
        $h = Get-CcieFleetHealth
        $h.Verdict | Should -Be 'NotConnected'
        $h.BuildersRunning | Should -Be 2
        $h.BuildersSeenByApp | Should -Be 0
        $h.BuildersWithOtherServicesIp.Count | Should -Be 2
        ($h.Reasons -join ' ') | Should -Match 'discovery or network problem'
        ($h.Reasons -join ' ') | Should -Match 'SERVICES_PRIVATE_IP=10\.0\.1\.77 but the Services box is 10\.0\.1\.10'
        $h.SuggestedAction | Should -Match 'Set-CcieBuilderConfiguration'
    }

    It 'reads metrics written with the real AWS CLI (put-metric-data)' {
        Invoke-TestAwsCli cloudwatch put-metric-data --namespace MyCircle --metric-name circle.state.num-masters --value 1 | Out-Null
        Invoke-TestAwsCli cloudwatch put-metric-data --namespace MyCircle --metric-name ContainersLeaked --value 5 | Out-Null
        $h = Get-CcieFleetHealth -Namespace MyCircle
        $h.Namespace | Should -Be 'MyCircle'
        $h.NumMasters | Should -Be 1
        $h.ContainersLeaked | Should -Be 5
        $h.Verdict | Should -Be 'NotConnected'
        ($h.Reasons -join ' ') | Should -Match 'ContainersLeaked is 5'
        $listed = Invoke-TestAwsCli cloudwatch list-metrics --namespace MyCircle | ConvertFrom-Json
        @($listed.Metrics.MetricName | Sort-Object) | Should -Be @(@('ContainersLeaked', 'circle.state.num-masters') | Sort-Object)
    }

    It 'says MetricsMissing, naming the Replicated setting and the IAM permission, where nothing is published' {
        $h = Get-CcieFleetHealth -Region us-west-2
        $h.Verdict | Should -Be 'MetricsMissing'
        $h.Namespace | Should -BeNullOrEmpty
        ($h.Reasons -join ' ') | Should -Match ':8800 > Settings > Monitoring > Enable Cloudwatch'
        ($h.Reasons -join ' ') | Should -Match 'cloudwatch:PutMetricData'
        $wrong = Get-CcieFleetHealth -Namespace NoSuchNamespace
        $wrong.Verdict | Should -Be 'MetricsMissing'
        ($wrong.Reasons -join ' ') | Should -Match 'omit -Namespace'
    }

    It 'rejects a non-positive window with a clear error' {
        { Get-CcieFleetHealth -StaleAfter 0 -ErrorAction Stop } | Should -Throw '*-StaleAfter and -Since must be positive*'
    }
}
