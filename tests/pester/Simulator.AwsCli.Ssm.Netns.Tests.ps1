# The real AWS CLI's SSM against the simulator EXE, whose Run Command runs each command for real in the seeded box's
# bubblewrap sandbox: `aws ssm send-command` / `get-command-invocation` give the output the cmdlets get.
# Runs inside a private network namespace (the name *.Netns.Tests.ps1): only loopback.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    . (Join-Path $PSScriptRoot 'AwsCli.TestHelpers.ps1')
    Import-Module (Get-CcieTestModulePath) -Force
    Assert-CcieTestPrivateNetwork
    Set-CcieTestAwsEnvironment
    $script:sim = Start-CcieTestSimulator -TransitionSeconds 0.3
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
    $script:cli = New-CcieTestAwsCli -Simulator $sim -Directory (Join-Path $TestDrive 'aws')
    $script:box = Get-CcieServicesBox

    function aws { Invoke-CcieTestAwsCliJson -Cli $cli -Arguments $args }
    function awsRaw { Invoke-CcieTestAwsCli -Cli $cli -Arguments $args }

    # send-command with AWS-RunShellScript; returns the command id.
    function Send-CliCommand([string] $InstanceId, [string[]] $Commands) {
        $parameters = @{ commands = $Commands } | ConvertTo-Json -Compress
        $sent = aws ssm send-command --instance-ids $InstanceId --document-name AWS-RunShellScript --parameters $parameters --comment 'aws cli test'
        $sent.Command.CommandId
    }

    # get-command-invocation until the command is no longer Pending/InProgress (up to 60 s of wall time).
    function Wait-CliInvocation([string] $CommandId, [string] $InstanceId) {
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ($true) {
            $r = awsRaw ssm get-command-invocation --command-id $CommandId --instance-id $InstanceId
            if ($r.ExitCode -eq 0 -and $r.Json.Status -notin 'Pending', 'InProgress', 'Delayed') { return $r.Json }
            if ([DateTime]::UtcNow -gt $deadline) { throw "command $CommandId did not finish: $($r.Stderr)$($r.Stdout)" }
            Start-Sleep -Milliseconds 300
        }
    }
}

AfterAll {
    $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
    $PSDefaultParameterValues.Remove('*-Ccie*:Region')
    if ($sim) { Stop-CcieTestSimulator $sim }
}

Describe 'SSM through the AWS CLI (simulator sandbox)' -Tag 'AwsCli', 'Ssm', 'Simulator' {
    It 'describe-instance-information shows the box managed and Online at its private IP' {
        $r = aws ssm describe-instance-information
        $all = @($r.InstanceInformationList)
        @($all.InstanceId) | Should -Contain $box.InstanceId
        # Every managed instance is one EC2 knows (the box and the builders).
        $ec2 = @((aws ec2 describe-instances).Reservations.Instances.InstanceId)
        foreach ($i in $all) { $ec2 | Should -Contain $i.InstanceId }
        $mine = $all | Where-Object InstanceId -eq $box.InstanceId
        $mine.PingStatus | Should -Be 'Online'
        $mine.IPAddress | Should -Be $box.PrivateIpAddress
        $mine.PlatformType | Should -Be 'Linux'
        $mine.ResourceType | Should -Be 'EC2Instance'
        $mine.IamRole | Should -Be $box.IamInstanceProfileArn

        $filtered = aws ssm describe-instance-information --filters "Key=InstanceIds,Values=$($box.InstanceId)"
        @($filtered.InstanceInformationList.InstanceId) | Should -Be @($box.InstanceId)
    }

    It 'send-command runs a real command in the box and get-command-invocation returns what Invoke-CcieServicesBoxCommand returns' {
        $command = 'cat /etc/default/replicated; echo "marker-$((6*7))"'
        $id = Send-CliCommand $box.InstanceId @($command)
        $id | Should -Match '^[0-9a-f-]{36}$'
        $inv = Wait-CliInvocation $id $box.InstanceId
        $inv.Status | Should -Be 'Success'
        $inv.ResponseCode | Should -Be 0
        $inv.InstanceId | Should -Be $box.InstanceId
        $inv.DocumentName | Should -Be 'AWS-RunShellScript'
        $inv.PluginName | Should -Be 'aws:runShellScript'
        $inv.StandardOutputContent | Should -Match 'marker-42'
        $inv.StandardOutputContent | Should -Match "PRIVATE_ADDRESS=$([regex]::Escape($box.PrivateIpAddress))"

        $cmdlet = Invoke-CcieServicesBoxCommand -InstanceId $box.InstanceId -Transport Ssm -Command $command
        $cmdlet.ExitCode | Should -Be 0
        $cmdlet.StandardOutput | Should -Be $inv.StandardOutputContent

        # The CLI's waiter agrees the command is done.
        (awsRaw ssm wait command-executed --command-id $id --instance-id $box.InstanceId).ExitCode | Should -Be 0
    }

    It 'a failing command comes back Failed with its exit code and stderr, and the CLI waiter fails on it' {
        $id = Send-CliCommand $box.InstanceId @('echo to-stderr >&2', 'exit 3')
        $inv = Wait-CliInvocation $id $box.InstanceId
        $inv.Status | Should -Be 'Failed'
        $inv.ResponseCode | Should -Be 3
        $inv.StandardErrorContent | Should -Match 'to-stderr'
        $wait = awsRaw ssm wait command-executed --command-id $id --instance-id $box.InstanceId
        $wait.ExitCode | Should -Not -Be 0
        $wait.Stderr | Should -Match 'Failed'
    }

    It 'commands the cmdlets send are listed by list-commands and list-command-invocations' {
        $r = Invoke-CcieServicesBoxCommand -InstanceId $box.InstanceId -Transport Ssm -Command 'echo listed-by-the-cli'
        $r.ExitCode | Should -Be 0
        $commands = @((aws ssm list-commands --instance-id $box.InstanceId).Commands)
        $mine = @($commands | Where-Object { ($_.Parameters.commands -join "`n") -match 'listed-by-the-cli' })
        $mine.Count | Should -Be 1
        $mine[0].Status | Should -Be 'Success'
        @($mine[0].InstanceIds) | Should -Be @($box.InstanceId)
        $inv = aws ssm list-command-invocations --command-id $mine[0].CommandId --details
        @($inv.CommandInvocations).Count | Should -Be 1
        $inv.CommandInvocations[0].InstanceId | Should -Be $box.InstanceId
        $inv.CommandInvocations[0].CommandPlugins[0].Output | Should -Match 'listed-by-the-cli'
    }

    It 'errors come back with the real codes and a non-zero exit' {
        $noInvocation = awsRaw ssm get-command-invocation --command-id ([guid]::NewGuid().ToString()) --instance-id $box.InstanceId
        $noInvocation.ExitCode | Should -Not -Be 0
        $noInvocation.Stderr | Should -Match '\(InvocationDoesNotExist\) when calling the GetCommandInvocation operation'

        $noInstance = awsRaw ssm send-command --instance-ids i-0123456789abcdef0 --document-name AWS-RunShellScript --parameters 'commands=["true"]'
        $noInstance.ExitCode | Should -Not -Be 0
        $noInstance.Stderr | Should -Match '\(InvalidInstanceId\) when calling the SendCommand operation'
    }
}
