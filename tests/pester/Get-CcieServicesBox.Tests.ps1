# Get-CcieServicesBox against the simulator, through the real AWS SDK.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    $sim = Start-CcieTestSimulator -PageSize 1
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
}

AfterAll {
    $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
    $PSDefaultParameterValues.Remove('*-Ccie*:Region')
    if ($sim) { Stop-CcieTestSimulator $sim }
}

Describe 'Get-CcieServicesBox' -Tag 'ServicesBox', 'Simulator' {
    It 'finds the seeded box by its default Name tag with everything a restore needs' {
        $box = @(Get-CcieServicesBox)
        $box.Count | Should -Be 1
        $b = $box[0]
        $b | Should -BeOfType ([CcieDr.ServicesBox])
        $b.InstanceId | Should -Match '^i-[0-9a-f]+$'
        $b.Name | Should -Be 'circleci_services'
        $b.State | Should -Be 'running'
        $b.Region | Should -Be 'us-east-1'
        $b.PrivateIpAddress | Should -Be '10.0.1.10'
        $b.SubnetId | Should -Match '^subnet-'
        $b.VpcId | Should -Match '^vpc-'
        $b.AvailabilityZone | Should -Be 'us-east-1a'
        $b.SecurityGroupIds.Count | Should -BeGreaterThan 0
        $b.SecurityGroupIds | ForEach-Object { $_ | Should -Match '^sg-' }
        $b.InstanceType | Should -Be 'm5.2xlarge'
        $b.KeyName | Should -Be 'circleci'
        $b.IamInstanceProfileArn | Should -Match 'instance-profile/circleci-services$'
        $b.ImageId | Should -Match '^ami-'
        $b.RootDeviceName | Should -Be '/dev/sda1'
        $b.Architecture | Should -Be 'x86_64'
        $b.EnaSupport | Should -BeTrue
        $b.VirtualizationType | Should -Be 'hvm'
        $b.NetworkInterfaceIds.Count | Should -BeGreaterThan 0
        $b.Tags['Name'] | Should -Be 'circleci_services'
        $b.LaunchTime | Should -BeOfType ([datetime])
    }

    It 'describes every attached volume with size, type and encryption' {
        $b = Get-CcieServicesBox
        $b.Volumes.Count | Should -Be 2
        $root = $b.Volumes | Where-Object IsRootDevice
        $root.DeviceName | Should -Be '/dev/sda1'
        $root.SizeGiB | Should -Be 50
        $data = $b.Volumes | Where-Object DeviceName -eq '/dev/xvdf'
        $data.VolumeId | Should -Match '^vol-'
        $data.SizeGiB | Should -Be 500
        $data.VolumeType | Should -Be 'gp3'
        $data.Encrypted | Should -BeTrue
        $data.KmsKeyId | Should -Not -BeNullOrEmpty
    }

    It 'shows every field with Format-List *' {
        $text = Get-CcieServicesBox | Format-List * | Out-String -Width 300
        foreach ($field in 'InstanceId', 'State', 'PrivateIpAddress', 'SecondaryPrivateIpAddresses', 'SubnetId', 'VpcId',
            'AvailabilityZone', 'SecurityGroupIds', 'InstanceType', 'KeyName', 'IamInstanceProfileArn', 'ImageId',
            'RootDeviceName', 'Architecture', 'EnaSupport', 'VirtualizationType', 'Volumes', 'NetworkInterfaceIds', 'Tags', 'LaunchTime') {
            $text | Should -Match "(?m)^$field\s*:"
        }
    }

    It 'shows a compact table by default' {
        $text = Get-CcieServicesBox | Out-String -Width 200
        $text | Should -Match 'InstanceId\s+State\s+PrivateIp\s+AZ\s+Type\s+Vols'
        $text | Should -Match '10\.0\.1\.10'
    }

    It 'finds the box by instance id, also from the pipeline by property name' {
        $b = Get-CcieServicesBox
        (Get-CcieServicesBox -InstanceId $b.InstanceId).InstanceId | Should -Be $b.InstanceId
        ($b | Get-CcieServicesBox).InstanceId | Should -Be $b.InstanceId
    }

    It 'reports a missing box as ObjectNotFound naming the tag it searched' {
        $result = Get-CcieServicesBox -Name 'no_such_box' -ErrorVariable err -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].FullyQualifiedErrorId | Should -Match '^ServicesBoxNotFound,'
        $err[0].TargetObject | Should -Be 'no_such_box'
        $err[0].Exception.Message | Should -Match 'tag Name=no_such_box'
        $err[0].Exception.Message | Should -Match '-IncludeTerminated'
    }

    It 'stops a runbook with -ErrorAction Stop' {
        { Get-CcieServicesBox -Name 'no_such_box' -ErrorAction Stop } | Should -Throw -ErrorId 'ServicesBoxNotFound,CcieDr.Commands.GetCcieServicesBoxCommand'
    }

    It 'hides terminated instances unless -IncludeTerminated' {
        $builder = @(Get-CcieServicesBox -Name 'circleci_builders')
        $builder.Count | Should -BeGreaterThan 0
        $victim = $builder[0].InstanceId
        $null = Invoke-CcieSimulatorEc2 $sim TerminateInstances @{ 'InstanceId.1' = $victim }
        $ec2Terminated = $false
        foreach ($i in 1..100) {
            $all = @(Get-CcieServicesBox -Name 'circleci_builders' -IncludeTerminated)
            if (($all | Where-Object InstanceId -eq $victim).State -eq 'terminated') { $ec2Terminated = $true; break }
            Start-Sleep -Milliseconds 100
        }
        $ec2Terminated | Should -BeTrue
        @(Get-CcieServicesBox -Name 'circleci_builders' -ErrorAction SilentlyContinue).InstanceId | Should -Not -Contain $victim
    }

    It 'pages through results (simulator page size 1)' {
        @(Get-CcieServicesBox -Name 'circleci_builders' -IncludeTerminated).Count | Should -Be 2
    }

    It 'rejects a malformed instance id before calling AWS' {
        { Get-CcieServicesBox -InstanceId 'not-an-id' -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,CcieDr.Commands.GetCcieServicesBoxCommand'
    }
}

Describe 'Get-CcieServicesBox tab completion' -Tag 'ServicesBox', 'Simulator' {
    It 'completes -InstanceId with the Services box ids from the endpoint on the command line' {
        $box = Get-CcieServicesBox
        $line = "Get-CcieServicesBox -Region us-east-1 -EndpointUrl $($sim.Url) -InstanceId i-"
        $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $completion.CompletionMatches.CompletionText | Should -Contain $box.InstanceId
        ($completion.CompletionMatches | Where-Object CompletionText -eq $box.InstanceId).ToolTip | Should -Match '10\.0\.1\.10'
    }

    It 'completes nothing (and does not hang) when the endpoint is dead' {
        $line = "Get-CcieServicesBox -Region us-east-1 -EndpointUrl http://127.0.0.1:9 -InstanceId i-"
        $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        @($completion.CompletionMatches).Count | Should -Be 0
    }
}
