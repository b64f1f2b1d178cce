# The real AWS CLI against the simulator (every service it serves on its one port, routed by the SigV4 service name):
# what `aws ec2|autoscaling|kms|sts …` sees is what the cmdlets see, and what one changes the other sees.
# SSM (whose commands run in the box's sandbox) is in Simulator.AwsCli.Ssm.Netns.Tests.ps1; CloudWatch in its own file.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    . (Join-Path $PSScriptRoot 'AwsCli.TestHelpers.ps1')
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    $script:sim = Start-CcieTestSimulator -TransitionSeconds 0.3
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
    $script:cli = New-CcieTestAwsCli -Simulator $sim -Directory (Join-Path $TestDrive 'aws')

    function aws { Invoke-CcieTestAwsCliJson -Cli $cli -Arguments $args }
    function awsRaw { Invoke-CcieTestAwsCli -Cli $cli -Arguments $args }

    function Reset-Simulator {
        $null = Invoke-CcieSimulatorControl $sim POST reset
        $null = Invoke-CcieSimulatorControl $sim POST seed @{ region = 'us-east-1' }
        $null = Invoke-CcieSimulatorControl $sim POST config @{ pageSize = $null; durations = @{ snapshot = 0.3; image = 0.3 } }
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
    }

    # Waits (up to 60 s of wall time) until the script block returns true; fails with -Because otherwise.
    function Wait-Until([scriptblock] $Condition, [string] $Because) {
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (-not (& $Condition)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "timed out waiting: $Because" }
            Start-Sleep -Milliseconds 200
        }
    }

    function Get-Requests([string] $Action) { @(Invoke-CcieSimulatorControl $sim GET "requests?action=$Action" | ForEach-Object { $_ }) }
}

AfterAll {
    $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
    $PSDefaultParameterValues.Remove('*-Ccie*:Region')
    if ($sim) { Stop-CcieTestSimulator $sim }
}

Describe 'The AWS CLI itself' -Tag 'AwsCli', 'Simulator' {
    It 'is a real aws-cli, configured only through its child environment and files in TestDrive' {
        $v = awsRaw --version
        $v.ExitCode | Should -Be 0
        "$($v.Stdout)$($v.Stderr)" | Should -Match '^aws-cli/\d+\.\d+\.\d+ '
        $cli.Environment.AWS_CONFIG_FILE | Should -BeLike "$TestDrive*"
        $cli.Environment.AWS_SHARED_CREDENTIALS_FILE | Should -BeLike "$TestDrive*"
        # This process keeps its own credentials (the cmdlets'); the CLI's are set for the child only.
        $env:AWS_ACCESS_KEY_ID | Should -Not -Be $cli.Environment.AWS_ACCESS_KEY_ID
        $env:AWS_CONFIG_FILE | Should -BeNullOrEmpty
    }
}

Describe 'EC2 through the AWS CLI' -Tag 'AwsCli', 'Simulator' {
    BeforeAll { Reset-Simulator }

    It 'describe-instances shows the Services box that Get-CcieServicesBox finds, with its Name tag and private IP' {
        $box = Get-CcieServicesBox
        $box.Name | Should -Not -BeNullOrEmpty
        $r = aws ec2 describe-instances --filters "Name=tag:Name,Values=$($box.Name)" 'Name=instance-state-name,Values=running'
        $instances = @($r.Reservations.Instances)
        $instances.Count | Should -Be 1
        $i = $instances[0]
        $i.InstanceId | Should -Be $box.InstanceId
        $i.PrivateIpAddress | Should -Be $box.PrivateIpAddress
        ($i.Tags | Where-Object Key -eq 'Name').Value | Should -Be $box.Name
        $i.State.Name | Should -Be $box.State
        $i.SubnetId | Should -Be $box.SubnetId
        $i.VpcId | Should -Be $box.VpcId
        $i.Placement.AvailabilityZone | Should -Be $box.AvailabilityZone
        $i.InstanceType | Should -Be $box.InstanceType
        $i.KeyName | Should -Be $box.KeyName
        $i.ImageId | Should -Be $box.ImageId
        $i.IamInstanceProfile.Arn | Should -Be $box.IamInstanceProfileArn
        $i.RootDeviceName | Should -Be $box.RootDeviceName
        @($i.SecurityGroups.GroupId | Sort-Object) | Should -Be @($box.SecurityGroupIds | Sort-Object)
        @($i.BlockDeviceMappings | Sort-Object DeviceName | ForEach-Object { "$($_.DeviceName)=$($_.Ebs.VolumeId)" }) |
            Should -Be @($box.Volumes | Sort-Object DeviceName | ForEach-Object { "$($_.DeviceName)=$($_.VolumeId)" })
        $r.Reservations[0].OwnerId | Should -Be '123456789012'
        $r.Reservations[0].ReservationId | Should -Match '^r-[0-9a-f]+$'

        # The whole account: the box and the two builders, the same three the simulator seeded.
        @((aws ec2 describe-instances).Reservations.Instances).Count | Should -Be 3
    }

    It 'an unknown or malformed instance id gives the real error code and a non-zero exit' {
        $missing = awsRaw ec2 describe-instances --instance-ids i-0123456789abcdef0
        $missing.ExitCode | Should -Not -Be 0
        $missing.Stderr | Should -Match '\(InvalidInstanceID\.NotFound\) when calling the DescribeInstances operation'
        $missing.Stdout | Should -BeNullOrEmpty

        $malformed = awsRaw ec2 stop-instances --instance-ids i-bogus
        $malformed.ExitCode | Should -Not -Be 0
        $malformed.Stderr | Should -Match '\(InvalidInstanceID\.Malformed\) when calling the StopInstances operation'
        (Get-CcieServicesBox).State | Should -Be 'running'

        $dry = awsRaw ec2 stop-instances --instance-ids (Get-CcieServicesBox).InstanceId --dry-run
        $dry.ExitCode | Should -Not -Be 0
        $dry.Stderr | Should -Match '\(DryRunOperation\)'
        (Get-CcieServicesBox).State | Should -Be 'running'
    }

    It 'stop-instances and start-instances from the CLI are what Get-CcieServicesBox sees' {
        $box = Get-CcieServicesBox
        $stop = aws ec2 stop-instances --instance-ids $box.InstanceId
        $stop.StoppingInstances[0].InstanceId | Should -Be $box.InstanceId
        $stop.StoppingInstances[0].PreviousState.Name | Should -Be 'running'
        $stop.StoppingInstances[0].CurrentState.Name | Should -Be 'stopping'
        Wait-Until { (Get-CcieServicesBox -InstanceId $box.InstanceId).State -eq 'stopped' } 'the box stopped (Get-CcieServicesBox)'
        (aws ec2 describe-instances --instance-ids $box.InstanceId).Reservations[0].Instances[0].State.Name | Should -Be 'stopped'

        $start = aws ec2 start-instances --instance-ids $box.InstanceId
        $start.StartingInstances[0].PreviousState.Name | Should -Be 'stopped'
        $start.StartingInstances[0].CurrentState.Name | Should -Be 'pending'
        (awsRaw ec2 wait instance-running --instance-ids $box.InstanceId).ExitCode | Should -Be 0
        $after = Get-CcieServicesBox
        $after.State | Should -Be 'running'
        $after.InstanceId | Should -Be $box.InstanceId
        $after.PrivateIpAddress | Should -Be $box.PrivateIpAddress
    }

    It 'New-CcieSnapshot''s snapshots are what describe-snapshots lists, with their tags' {
        $rp = New-CcieSnapshot -Wait -Label 'cli check'
        $rp.State | Should -Be 'completed'
        $r = aws ec2 describe-snapshots --snapshot-ids @($rp.SnapshotIds)
        @($r.Snapshots.SnapshotId | Sort-Object) | Should -Be @($rp.SnapshotIds | Sort-Object)
        foreach ($s in $r.Snapshots) {
            $mine = $rp.Snapshots | Where-Object SnapshotId -eq $s.SnapshotId
            $s.State | Should -Be 'completed'
            $s.Progress | Should -Be '100%'
            $s.VolumeId | Should -Be $mine.VolumeId
            $s.VolumeSize | Should -Be $mine.SizeGiB
            $s.Encrypted | Should -Be $mine.Encrypted
            $s.OwnerId | Should -Be '123456789012'
            ($s.Tags | Where-Object Key -eq 'ccie:recovery-point').Value | Should -Be $rp.RecoveryPointId
            ($s.Tags | Where-Object Key -eq 'ccie:label').Value | Should -Be 'cli check'
        }
        # Filtered by the recovery point's tag, self-owned: the same set.
        $byTag = aws ec2 describe-snapshots --owner-ids self --filters "Name=tag:ccie:recovery-point,Values=$($rp.RecoveryPointId)"
        @($byTag.Snapshots.SnapshotId | Sort-Object) | Should -Be @($rp.SnapshotIds | Sort-Object)
    }

    It 'New-CcieServicesBoxImage''s AMI is what describe-images lists' {
        $image = New-CcieServicesBoxImage -NoReboot -Confirm:$false -WarningAction SilentlyContinue
        $image.ImageId | Should -Match '^ami-'
        Wait-Until { (Get-CcieServicesBoxImage -ImageId $image.ImageId).State -eq 'available' } 'the image is available (Get-CcieServicesBoxImage)'
        (awsRaw ec2 wait image-available --image-ids $image.ImageId).ExitCode | Should -Be 0
        $i = @((aws ec2 describe-images --image-ids $image.ImageId).Images)
        $i.Count | Should -Be 1
        $i[0].ImageId | Should -Be $image.ImageId
        $i[0].Name | Should -Be $image.Name
        $i[0].State | Should -Be 'available'
        $i[0].OwnerId | Should -Be '123456789012'
        $i[0].RootDeviceName | Should -Be (Get-CcieServicesBox).RootDeviceName
        @($i[0].BlockDeviceMappings.Ebs.SnapshotId | Where-Object { $_ }).Count | Should -Be (Get-CcieServicesBox).Volumes.Count
        @((aws ec2 describe-images --owners self).Images.ImageId) | Should -Contain $image.ImageId
    }

    It 'create-tags and describe-tags round trip, and the cmdlets read a tag the CLI wrote' {
        $rp = New-CcieSnapshot -Wait
        $box = Get-CcieServicesBox
        # Values with spaces, '&', '=' and non-ASCII survive the Query protocol's form encoding both ways.
        $value = 'drill & verify = ok (été)'
        $null = awsRaw ec2 create-tags --resources $box.InstanceId --tags "Key=cli:note,Value=$value"
        $tags = aws ec2 describe-tags --filters "Name=resource-id,Values=$($box.InstanceId)" 'Name=key,Values=cli:note'
        @($tags.Tags).Count | Should -Be 1
        $tags.Tags[0].Value | Should -Be $value
        $tags.Tags[0].ResourceType | Should -Be 'instance'
        (Get-CcieServicesBox).Tags['cli:note'] | Should -Be $value

        # The recovery point's label, written by the CLI on every snapshot of the point, is what Get-CcieSnapshot reports.
        $create = awsRaw ec2 create-tags --resources @($rp.SnapshotIds) --tags 'Key=ccie:label,Value=labelled by the cli'
        $create.ExitCode | Should -Be 0
        (Get-CcieSnapshot -RecoveryPointId $rp.RecoveryPointId).Label | Should -Be 'labelled by the cli'

        $null = awsRaw ec2 delete-tags --resources $box.InstanceId --tags Key=cli:note
        @((aws ec2 describe-tags --filters "Name=resource-id,Values=$($box.InstanceId)" 'Name=key,Values=cli:note').Tags).Count | Should -Be 0
        (Get-CcieServicesBox).Tags.ContainsKey('cli:note') | Should -BeFalse
    }

    It 'the CLI follows the simulator''s pages (page size 1) to the same instances and snapshots' {
        $null = Invoke-CcieSimulatorControl $sim POST config @{ pageSize = 1 }
        try {
            $null = Invoke-CcieSimulatorControl $sim DELETE requests
            $all = @((aws ec2 describe-instances).Reservations.Instances.InstanceId | Sort-Object)
            $all.Count | Should -Be 3
            (Get-Requests DescribeInstances).Count | Should -Be 3
            $all | Should -Contain (Get-CcieServicesBox).InstanceId

            # --max-items / --starting-token: one item a call, and together the whole set.
            $first = aws ec2 describe-snapshots --owner-ids self --max-items 1
            @($first.Snapshots).Count | Should -Be 1
            $first.NextToken | Should -Not -BeNullOrEmpty
            $rest = aws ec2 describe-snapshots --owner-ids self --starting-token $first.NextToken
            $paged = @(@($first.Snapshots.SnapshotId) + @($rest.Snapshots.SnapshotId) | Sort-Object)
            $paged | Should -Be @((aws ec2 describe-snapshots --owner-ids self).Snapshots.SnapshotId | Sort-Object)
            ($paged | Select-Object -Unique).Count | Should -Be $paged.Count
        }
        finally { $null = Invoke-CcieSimulatorControl $sim POST config @{ pageSize = $null } }
    }
}

Describe 'Auto Scaling through the AWS CLI' -Tag 'AwsCli', 'Builders', 'Simulator' {
    BeforeAll { Reset-Simulator }

    It 'describe-auto-scaling-groups shows the group and the builders Get-CcieBuilder shows' {
        $summary = Get-CcieBuilder -Summary
        $builders = @(Get-CcieBuilder)
        $r = aws autoscaling describe-auto-scaling-groups
        @($r.AutoScalingGroups.AutoScalingGroupName) | Should -Be @($summary.AutoScalingGroupName)
        $g = $r.AutoScalingGroups[0]
        $g.DesiredCapacity | Should -Be $summary.DesiredCapacity
        $g.MinSize | Should -Be $summary.MinSize
        $g.MaxSize | Should -Be $summary.MaxSize
        $g.LaunchTemplate.LaunchTemplateId | Should -Be $summary.LaunchTemplateId
        @($g.SuspendedProcesses.ProcessName | Sort-Object) | Should -Be @($summary.SuspendedProcesses | Sort-Object)
        @($g.Instances.InstanceId | Sort-Object) | Should -Be @($builders.InstanceId | Sort-Object)
        foreach ($i in $g.Instances) {
            $b = $builders | Where-Object InstanceId -eq $i.InstanceId
            $i.LifecycleState | Should -Be $b.LifecycleState
            $i.HealthStatus | Should -Be $b.HealthStatus
            $i.AvailabilityZone | Should -Be $b.AvailabilityZone
            $i.InstanceType | Should -Be $b.InstanceType
            $i.LaunchTemplate.LaunchTemplateId | Should -Be $b.LaunchTemplateId
            $i.LaunchTemplate.Version | Should -Be $b.LaunchTemplateVersion
        }
    }

    It 'describe-auto-scaling-instances lists the same builders, each in its group' {
        $builders = @(Get-CcieBuilder)
        $r = aws autoscaling describe-auto-scaling-instances
        @($r.AutoScalingInstances.InstanceId | Sort-Object) | Should -Be @($builders.InstanceId | Sort-Object)
        foreach ($i in $r.AutoScalingInstances) {
            $b = $builders | Where-Object InstanceId -eq $i.InstanceId
            $i.AutoScalingGroupName | Should -Be $b.AutoScalingGroupName
            $i.LifecycleState | Should -Be $b.LifecycleState
            $i.AvailabilityZone | Should -Be $b.AvailabilityZone
        }
        # And EC2's view of the same builders (the CLI's describe-instances) has the IPs Get-CcieBuilder reports.
        $ec2 = aws ec2 describe-instances --instance-ids @($builders.InstanceId)
        foreach ($i in $ec2.Reservations.Instances) {
            $i.PrivateIpAddress | Should -Be ($builders | Where-Object InstanceId -eq $i.InstanceId).PrivateIpAddress
        }
    }

    It 'the CLI''s paging (--max-items, --page-size, --starting-token) walks the same builders' {
        $all = @(Get-CcieBuilder | ForEach-Object InstanceId | Sort-Object)
        $all.Count | Should -BeGreaterOrEqual 2
        $null = Invoke-CcieSimulatorControl $sim DELETE requests
        $seen = [System.Collections.Generic.List[string]]::new()
        $page = aws autoscaling describe-auto-scaling-instances --max-items 1 --page-size 1
        while ($true) {
            @($page.AutoScalingInstances).Count | Should -Be 1
            $seen.Add($page.AutoScalingInstances[0].InstanceId)
            if (-not $page.NextToken) { break }
            $seen.Count | Should -BeLessThan 10
            $page = aws autoscaling describe-auto-scaling-instances --max-items 1 --page-size 1 --starting-token $page.NextToken
        }
        @($seen | Sort-Object) | Should -Be $all
        # --page-size 1 alone: the CLI follows every page itself.
        @((aws autoscaling describe-auto-scaling-instances --page-size 1).AutoScalingInstances.InstanceId | Sort-Object) | Should -Be $all
        $calls = Get-Requests DescribeAutoScalingInstances
        @($calls | Where-Object { $_.parameters.MaxRecords -eq '1' }).Count | Should -BeGreaterOrEqual ($all.Count * 2)
        @($calls | Where-Object { $_.parameters.NextToken }).Count | Should -BeGreaterOrEqual (($all.Count - 1) * 2)
    }

    It 'set-desired-capacity from the CLI is what Get-CcieBuilder -Summary sees, and Set-CcieBuilderCapacity is what the CLI sees' {
        $group = (Get-CcieBuilder -Summary).AutoScalingGroupName
        # Let the group act on capacity (the seed suspends its processes).
        $null = awsRaw autoscaling resume-processes --auto-scaling-group-name $group
        (Get-CcieBuilder -Summary).SuspendedProcesses | Should -BeNullOrEmpty

        $set = awsRaw autoscaling set-desired-capacity --auto-scaling-group-name $group --desired-capacity 3
        $set.ExitCode | Should -Be 0
        (Get-CcieBuilder -Summary).DesiredCapacity | Should -Be 3
        Wait-Until { @(Get-CcieBuilder | Where-Object LifecycleState -eq 'InService').Count -eq 3 } 'three builders in service'
        $cliIds = @((aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names $group).AutoScalingGroups[0].Instances |
                Where-Object LifecycleState -eq 'InService' | ForEach-Object InstanceId | Sort-Object)
        $cliIds | Should -Be @(Get-CcieBuilder | ForEach-Object InstanceId | Sort-Object)
        $activities = aws autoscaling describe-scaling-activities --auto-scaling-group-name $group
        @($activities.Activities | Where-Object Description -match 'Launching a new EC2 instance').Count | Should -BeGreaterOrEqual 1

        $result = Set-CcieBuilderCapacity -DesiredCapacity 2 -Confirm:$false
        $result.PreviousDesiredCapacity | Should -Be 3
        (aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names $group).AutoScalingGroups[0].DesiredCapacity | Should -Be 2
    }

    It 'errors come back with the real codes and a non-zero exit' {
        $missing = awsRaw autoscaling set-desired-capacity --auto-scaling-group-name no-such-group --desired-capacity 1
        $missing.ExitCode | Should -Not -Be 0
        $missing.Stderr | Should -Match '\(ValidationError\) when calling the SetDesiredCapacity operation: AutoScalingGroup name not found'
        $group = (Get-CcieBuilder -Summary)
        $tooBig = awsRaw autoscaling set-desired-capacity --auto-scaling-group-name $group.AutoScalingGroupName --desired-capacity ($group.MaxSize + 1)
        $tooBig.ExitCode | Should -Not -Be 0
        $tooBig.Stderr | Should -Match '\(ValidationError\).*above max value'
        (Get-CcieBuilder -Summary).DesiredCapacity | Should -Be $group.DesiredCapacity
        $bad = awsRaw autoscaling describe-auto-scaling-instances --starting-token 'not-a-token-at-all'
        $bad.ExitCode | Should -Not -Be 0
    }
}

Describe 'KMS and STS through the AWS CLI; a service the simulator does not serve' -Tag 'AwsCli', 'Simulator' {
    BeforeAll { Reset-Simulator }

    It 'kms describe-key names the key of the box''s encrypted volume' {
        $box = Get-CcieServicesBox
        $encrypted = @($box.Volumes | Where-Object Encrypted)
        $encrypted.Count | Should -BeGreaterOrEqual 1
        $aliases = aws kms list-aliases
        @($aliases.Aliases.AliasName) | Should -Contain 'alias/circleci-data'
        $key = (aws kms describe-key --key-id alias/circleci-data).KeyMetadata
        $key.KeyState | Should -Be 'Enabled'
        $key.Arn | Should -Match "^arn:aws:kms:us-east-1:123456789012:key/$([regex]::Escape($key.KeyId))$"
        $encrypted[0].KmsKeyId | Should -BeIn @($key.KeyId, $key.Arn)
        @((aws kms list-keys).Keys.KeyId) | Should -Contain $key.KeyId

        # A volume the CLI creates with the alias reports the key's ARN (as EBS does), the same ARN the box's volume has.
        $volume = aws ec2 create-volume --availability-zone $box.AvailabilityZone --size 1 --encrypted --kms-key-id alias/circleci-data
        $volume.KmsKeyId | Should -Be $key.Arn
        (aws ec2 describe-volumes --volume-ids $volume.VolumeId).Volumes[0].KmsKeyId | Should -Be $key.Arn
        $null = awsRaw ec2 wait volume-available --volume-ids $volume.VolumeId
        (awsRaw ec2 delete-volume --volume-id $volume.VolumeId).ExitCode | Should -Be 0

        $missing = awsRaw kms describe-key --key-id alias/no-such-key
        $missing.ExitCode | Should -Not -Be 0
        $missing.Stderr | Should -Match '\(NotFoundException\) when calling the DescribeKey operation'
    }

    It 'sts get-caller-identity answers the simulated account (the account of the box''s instance profile)' {
        $id = aws sts get-caller-identity
        $id.Account | Should -Be '123456789012'
        $id.Arn | Should -Be 'arn:aws:iam::123456789012:user/ccie-dr-simulator'
        $id.UserId | Should -Match '^AIDA[0-9A-F]{17}$'
        (Get-CcieServicesBox).IamInstanceProfileArn | Should -Match "^arn:aws:iam::$($id.Account):"
        @(Get-Requests GetCallerIdentity | Where-Object service -eq 'sts').Count | Should -Be 1
    }

    It 'a service the simulator does not serve fails clearly instead of getting another service''s answer' {
        foreach ($call in @(@('s3api', 'list-buckets'), @('iam', 'list-users'))) {
            $r = awsRaw @call
            $r.ExitCode | Should -Not -Be 0
            $r.Stderr | Should -Match "\(NotImplemented\).*does not serve the service '(s3|iam)'"
        }
    }
}
