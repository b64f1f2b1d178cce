# Restore-CcieServicesBox against the simulator, through the built module and the real AWS SDK.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment

    function New-TestRecoveryPoint {
        <# A CcieDr recovery point of the seeded box: every volume snapshotted with the ccie: tag schema. Uses
           New-CcieSnapshot when the module has it, else tags the snapshots itself (same schema). #>
        param([Parameter(Mandatory)] $Simulator)
        if (Get-Command New-CcieSnapshot -Module CcieDr -ErrorAction SilentlyContinue) {
            $rp = New-CcieSnapshot -Confirm:$false -Wait
            return $rp.RecoveryPointId
        }
        $box = Get-CcieServicesBox
        $now = [DateTime]::UtcNow
        $id = 'rp-{0}-{1}' -f $now.ToString("yyyyMMdd'T'HHmmss'Z'"), ([guid]::NewGuid().ToString('n').Substring(0, 8))
        $point = [ordered]@{
            'ccie:recovery-point' = $id; 'ccie:source-instance-id' = $box.InstanceId; 'ccie:box-name' = $box.Name
            'ccie:private-ip' = $box.PrivateIpAddress; 'ccie:subnet-id' = $box.SubnetId; 'ccie:vpc-id' = $box.VpcId
            'ccie:availability-zone' = $box.AvailabilityZone; 'ccie:security-group-ids' = ($box.SecurityGroupIds -join ',')
            'ccie:instance-type' = $box.InstanceType; 'ccie:key-name' = $box.KeyName; 'ccie:iam-instance-profile' = $box.IamInstanceProfileArn
            'ccie:image-id' = $box.ImageId; 'ccie:root-device-name' = $box.RootDeviceName; 'ccie:architecture' = $box.Architecture
            'ccie:ena-support' = "$($box.EnaSupport)".ToLowerInvariant(); 'ccie:virtualization-type' = $box.VirtualizationType
            'ccie:volume-count' = "$($box.Volumes.Count)"; 'ccie:created-by' = 'CcieDr tests'
        }
        $snapshots = foreach ($v in $box.Volumes) {
            $tags = $point + [ordered]@{
                'ccie:device-name' = $v.DeviceName; 'ccie:volume-type' = $v.VolumeType; 'ccie:volume-size' = "$($v.SizeGiB)"
                'ccie:encrypted' = "$($v.Encrypted)".ToLowerInvariant(); 'ccie:kms-key-id' = "$($v.KmsKeyId)"
            }
            $p = @{ VolumeId = $v.VolumeId; Description = "CircleCI Services box Backup taken at $($now.ToString('s'))Z"; 'TagSpecification.1.ResourceType' = 'snapshot' }
            $n = 1
            foreach ($t in $tags.GetEnumerator()) { $p["TagSpecification.1.Tag.$n.Key"] = $t.Key; $p["TagSpecification.1.Tag.$n.Value"] = [string]$t.Value; $n++ }
            (Invoke-CcieSimulatorEc2 $Simulator CreateSnapshot $p).CreateSnapshotResponse.snapshotId
        }
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        do {
            Start-Sleep -Milliseconds 100
            $states = foreach ($s in $snapshots) { (Invoke-CcieSimulatorEc2 $Simulator DescribeSnapshots @{ 'SnapshotId.1' = $s }).DescribeSnapshotsResponse.snapshotSet.item.status }
        } while (@($states | Where-Object { $_ -ne 'completed' }).Count -gt 0 -and [DateTime]::UtcNow -lt $deadline)
        return $id
    }

    function Remove-TestInstance {
        param([Parameter(Mandatory)] $Simulator, [Parameter(Mandatory)] [string] $InstanceId)
        $null = Invoke-CcieSimulatorEc2 $Simulator TerminateInstances @{ 'InstanceId.1' = $InstanceId }
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        do {
            Start-Sleep -Milliseconds 100
            $state = (Invoke-CcieSimulatorEc2 $Simulator DescribeInstances @{ 'InstanceId.1' = $InstanceId }).DescribeInstancesResponse.reservationSet.item.instancesSet.item.instanceState.name
        } while ($state -ne 'terminated' -and [DateTime]::UtcNow -lt $deadline)
    }
}

Describe 'Restore-CcieServicesBox' -Tag 'Restore', 'Simulator' {
    BeforeEach {
        $sim = Start-CcieTestSimulator
        $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
        $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
        $old = Get-CcieServicesBox
        $rpId = New-TestRecoveryPoint $sim
    }

    AfterEach {
        $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
        $PSDefaultParameterValues.Remove('*-Ccie*:Region')
        if ($sim) { Stop-CcieTestSimulator $sim }
    }

    It 'brings the terminated box back with the same private IP, subnet, security groups, type and every volume' {
        Remove-TestInstance $sim $old.InstanceId

        $r = Restore-CcieServicesBox -RecoveryPointId $rpId -Confirm:$false

        $r | Should -BeOfType ([CcieDr.RestoreResult])
        $r.Status | Should -Be 'Succeeded'
        $r.RecoveryPointId | Should -Be $rpId
        $r.PrivateIpAddress | Should -Be $old.PrivateIpAddress
        $r.PrivateIpPreserved | Should -BeTrue
        $r.ImageId | Should -Match '^ami-'
        $r.Timeline.Action | Should -Be @('preflight', 'ec2:RegisterImage', 'wait:image-available', 'ec2:RunInstances', 'wait:instance-running', 'wait:instance-status-ok')
        $r.Timeline | ForEach-Object { $_.Ended | Should -Not -BeNullOrEmpty }

        $new = Get-CcieServicesBox
        @($new).Count | Should -Be 1
        $new.InstanceId | Should -Be $r.InstanceId
        $new.State | Should -Be 'running'
        $new.PrivateIpAddress | Should -Be $old.PrivateIpAddress
        $new.SubnetId | Should -Be $old.SubnetId
        $new.SecurityGroupIds | Should -Be $old.SecurityGroupIds
        $new.InstanceType | Should -Be $old.InstanceType
        $new.KeyName | Should -Be $old.KeyName
        $new.RootDeviceName | Should -Be $old.RootDeviceName
        $new.Volumes.DeviceName | Should -Be $old.Volumes.DeviceName
        $new.Volumes.SizeGiB | Should -Be $old.Volumes.SizeGiB
        $new.Tags['ccie:restored-from'] | Should -Be $rpId
        $new.Tags['ccie:restore-of'] | Should -Be $old.InstanceId
    }

    It 'binds a recovery point from the pipeline by property name' {
        Remove-TestInstance $sim $old.InstanceId
        $r = [pscustomobject]@{ RecoveryPointId = $rpId } | Restore-CcieServicesBox -Confirm:$false
        $r.RecoveryPointId | Should -Be $rpId
        $r.Status | Should -Be 'Succeeded'
    }

    It 'takes Get-CcieSnapshot -Latest from the pipeline' {
        Remove-TestInstance $sim $old.InstanceId
        $r = Get-CcieSnapshot -Latest | Restore-CcieServicesBox -Confirm:$false
        $r.RecoveryPointId | Should -Be $rpId
        $r.PrivateIpAddress | Should -Be $old.PrivateIpAddress
    }

    It '-WhatIf prints every AWS call with its key arguments and changes nothing' {
        $before = Invoke-CcieSimulatorControl $sim GET state
        # What-if text goes to the host, not to a stream: run it in a child session and read its stdout.
        $child = Invoke-CcieChildPwsh -Script @"
Import-Module '$(Get-CcieTestModulePath)'
Restore-CcieServicesBox -RecoveryPointId $rpId -ReplaceExisting -EndpointUrl $($sim.Url) -Region us-east-1 -WhatIf
"@ -Environment @{ AWS_ACCESS_KEY_ID = 'AKIDCCIEDRTEST'; AWS_SECRET_ACCESS_KEY = 'x'; AWS_REGION = 'us-east-1' }
        $child.ExitCode | Should -Be 0 -Because $child.Error
        $out = $child.Output
        $out | Should -Match 'What if: Restore-CcieServicesBox on recovery point rp-'
        $out | Should -Match ('ec2:TerminateInstances\s+InstanceIds=' + $old.InstanceId)
        $out | Should -Match ('ec2:RegisterImage\s+Name=ccie-restore-' + $rpId + ' RootDeviceName=/dev/sda1 Architecture=x86_64 EnaSupport=true VirtualizationType=hvm BlockDeviceMappings=/dev/sda1=snap-')
        $out | Should -Match '/dev/xvdf=snap-[0-9a-f]+\(500 GiB gp3[^)]* encrypted\)'
        $out | Should -Match 'ec2:RunInstances\s+ImageId=<the AMI> InstanceType=m5.2xlarge SubnetId=subnet-[0-9a-f]+ \(us-east-1a\) PrivateIpAddress=10.0.1.10 SecurityGroupIds=sg-'
        $out | Should -Match 'ClientToken=ccie-restore-[0-9a-f]{24}'
        $out | Should -Match 'wait:instance-status-ok'
        $out | Should -Match 'pre-flight ok: KMS key arn:aws:kms:us-east-1:\d+:key/[0-9a-f-]+ is enabled for ENCRYPT_DECRYPT \(/dev/xvdf\)'
        $after = Invoke-CcieSimulatorControl $sim GET state
        @($after.regions.'us-east-1'.instances).Count | Should -Be @($before.regions.'us-east-1'.instances).Count
        @($after.regions.'us-east-1'.images).Count | Should -Be @($before.regions.'us-east-1'.images).Count
        (Get-CcieServicesBox).InstanceId | Should -Be $old.InstanceId
    }

    It 'refuses before any change when the data volume''s KMS key is disabled, and -WhatIf shows why' {
        Remove-TestInstance $sim $old.InstanceId
        $key = ($old.Volumes | Where-Object Encrypted).KmsKeyId
        $key | Should -Match '^arn:aws:kms:us-east-1:'
        $null = Invoke-CcieSimulatorControl $sim POST kms/keys/state -Body @{ region = 'us-east-1'; keyId = $key; state = 'Disabled' }
        $null = Invoke-CcieSimulatorControl $sim DELETE requests

        $r = Restore-CcieServicesBox -RecoveryPointId $rpId -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue

        $r | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'KmsKeyDisabled*'
        $err[0].CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $err[0].TargetObject | Should -Be $key
        $err[0].Exception.Message | Should -Match 'stopped before any change'
        $err[0].Exception.Message | Should -Match ([regex]::Escape("aws kms enable-key --key-id $($key.Split('/')[-1])"))
        # Invoke-RestMethod hands a JSON array over as one object: enumerate it.
        $log = @(Invoke-CcieSimulatorControl $sim GET requests | ForEach-Object { $_ })
        @($log | Where-Object action -eq 'DescribeKey').Count | Should -Be 1
        @($log | Where-Object action -in 'RegisterImage', 'RunInstances').Count | Should -Be 0
        @($log | Where-Object { $_.action -notmatch '^(Describe|Get|List)' }).Count | Should -Be 0

        $child = Invoke-CcieChildPwsh -Script @"
Import-Module '$(Get-CcieTestModulePath)'
Restore-CcieServicesBox -RecoveryPointId $rpId -EndpointUrl $($sim.Url) -Region us-east-1 -WhatIf
"@ -Environment @{ AWS_ACCESS_KEY_ID = 'AKIDCCIEDRTEST'; AWS_SECRET_ACCESS_KEY = 'x'; AWS_REGION = 'us-east-1' }
        $child.ExitCode | Should -Be 0 -Because $child.Error
        $child.Output | Should -Match ('pre-flight BLOCKED: KMS key ' + [regex]::Escape($key) + ' of snapshot\(s\) snap-[0-9a-f]+ \(/dev/xvdf\) is disabled')
        @(Invoke-CcieSimulatorControl $sim GET 'requests?action=RunInstances' | ForEach-Object { $_ }).Count | Should -Be 0
    }

    It 'refuses while the old box holds the IP, naming it, with a stable error id' {
        $r = Restore-CcieServicesBox -RecoveryPointId $rpId -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'PrivateIpInUse*'
        $err[0].CategoryInfo.Category | Should -Be 'ResourceExists'
        $err[0].TargetObject | Should -Be $old.InstanceId
        $err[0].Exception.Message | Should -Match $old.InstanceId
        $err[0].Exception.Message | Should -Match 'ReplaceExisting'
        { Restore-CcieServicesBox -RecoveryPointId $rpId -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'PrivateIpInUse*'
    }

    It '-ReplaceExisting terminates the old box, waits for the IP and restores onto it' {
        $r = Restore-CcieServicesBox -RecoveryPointId $rpId -ReplaceExisting -DeregisterImage -Confirm:$false
        $r.ReplacedInstanceId | Should -Be $old.InstanceId
        $r.PrivateIpAddress | Should -Be $old.PrivateIpAddress
        $r.ImageDeregistered | Should -BeTrue
        $r.Timeline.Action | Should -Contain 'wait:ip-released'
        (Get-CcieServicesBox -InstanceId $old.InstanceId -IncludeTerminated).State | Should -Be 'terminated'
    }

    It 'warns that builders must be re-associated when restored into another subnet' {
        Remove-TestInstance $sim $old.InstanceId
        $subnetB = ((Invoke-CcieSimulatorControl $sim GET state).regions.'us-east-1'.subnets | Where-Object availabilityZone -eq 'us-east-1b').id
        $r = Restore-CcieServicesBox -RecoveryPointId $rpId -SubnetId $subnetB -Confirm:$false -WarningVariable warnings -WarningAction SilentlyContinue
        $r.SubnetId | Should -Be $subnetB
        $r.PrivateIpPreserved | Should -BeFalse
        ($warnings -join "`n") | Should -Match 're-associate'
    }

    It 'a rerun resumes instead of creating a second box' {
        Remove-TestInstance $sim $old.InstanceId
        $first = Restore-CcieServicesBox -RecoveryPointId $rpId -Confirm:$false
        $second = Restore-CcieServicesBox -RecoveryPointId $rpId -Confirm:$false
        $second.InstanceId | Should -Be $first.InstanceId
        $second.Resumed | Should -BeTrue
        ($second.Timeline | Where-Object Action -eq 'ec2:RunInstances').Outcome | Should -Be 'Reused'
        @(Get-CcieServicesBox).Count | Should -Be 1
    }

    It 'reports an unknown recovery point as ObjectNotFound' {
        Restore-CcieServicesBox -RecoveryPointId 'rp-20200101T000000Z-00000000' -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'RecoveryPointNotFound*'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'has full help with examples and is ConfirmImpact High' {
        $help = Get-Help Restore-CcieServicesBox -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 3
        $cmd = Get-Command Restore-CcieServicesBox
        $attr = $cmd.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attr.ConfirmImpact | Should -Be 'High'
        $attr.SupportsShouldProcess | Should -BeTrue
        $cmd.OutputType.Name | Should -Contain 'CcieDr.RestoreResult'
    }
}
