# The remote cmdlets over SSM Run Command against the simulator EXE, whose SSM runs each command for real in the
# seeded box's bubblewrap sandbox (the Replicated stand-in on its PATH, the seed's passphrase as its token).
# ccie: private-network-namespace (tests/pester/Invoke-Tests.ps1 runs this file inside unshare -n, only lo up)

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    Set-CcieTestAwsEnvironment
    $script:sim = Start-CcieTestSimulator
    $PSDefaultParameterValues['*-Ccie*:EndpointUrl'] = $sim.Url
    $PSDefaultParameterValues['*-Ccie*:Region'] = 'us-east-1'
    $script:box = Get-CcieServicesBox
    $script:boxId = $box.InstanceId

    # The passphrase the seeded builders carry: CIRCLE_SECRET_PASSPHRASE in the launch template's user data.
    $lt = Invoke-CcieSimulatorEc2 $sim DescribeLaunchTemplateVersions @{ 'LaunchTemplateName' = 'circleci-builders'; 'Versions.1' = '$Default' }
    $userData = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($lt.DescribeLaunchTemplateVersionsResponse.launchTemplateVersionSet.item.launchTemplateData.userData))
    $script:launchTemplatePassphrase = ([regex]::Match($userData, '(?m)^CIRCLE_SECRET_PASSPHRASE=(.+)$')).Groups[1].Value
}

AfterAll {
    $PSDefaultParameterValues.Remove('*-Ccie*:EndpointUrl')
    $PSDefaultParameterValues.Remove('*-Ccie*:Region')
    if ($sim) { Stop-CcieTestSimulator $sim }
}

Describe 'Remote cmdlets over SSM (simulator sandbox)' -Tag 'Remote', 'Ssm', 'Simulator' {
    It 'Get-CcieApp over -Transport Ssm reports the stand-in''s state in the box' {
        $app = Get-CcieApp -InstanceId $boxId -Transport Ssm
        $app | Should -BeOfType ([CcieDr.ReplicatedApp])
        $app.State | Should -Be 'started'
        $app.ReplicatedMajorVersion | Should -Be 2
        $app.Transport | Should -Be 'Ssm'
        $app.Host | Should -Be $boxId
    }

    It 'the default transport is SSM (the box is managed and its agent Online), found by its Name tag' {
        $app = Get-CcieApp -Verbose 4>&1 | Where-Object { $_ -is [CcieDr.ReplicatedApp] -or $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose = @($app | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        $result = $app | Where-Object { $_ -is [CcieDr.ReplicatedApp] }
        $result.Transport | Should -Be 'Ssm'
        $verbose -join "`n" | Should -Match 'Transport: SSM'
        $verbose -join "`n" | Should -Match 'replicatedctl'
    }

    It 'Stop-CcieApp -Wait then Start-CcieApp -Wait move the app through stopping/starting in the sandbox' {
        $stopped = Stop-CcieApp -InstanceId $boxId -Transport Ssm -Wait -Confirm:$false
        $stopped.State | Should -Be 'stopped'
        (Get-CcieApp -InstanceId $boxId).State | Should -Be 'stopped'
        # The app's ports, played by listeners this test opens on 127.0.0.1 (the stand-in runs no containers).
        $listeners = foreach ($p in 80, 443, 4434, 8800) { $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0); $l.Start(); [pscustomobject]@{ App = $p; Listener = $l } }
        $map = @{}; foreach ($x in $listeners) { $map[$x.App] = $x.Listener.LocalEndpoint.Port }
        $started = try { Start-CcieApp -InstanceId $boxId -Wait -ProbeAddress 127.0.0.1 -ProbePortMap $map } finally { $listeners.Listener.Stop() }
        $started.State | Should -Be 'started'
        (Get-CcieApp -InstanceId $boxId -Transport Ssm).State | Should -Be 'started'
    }

    It 'Get-CcieSecretPassphrase equals the launch template''s CIRCLE_SECRET_PASSPHRASE, over Ssm and the default' {
        $launchTemplatePassphrase | Should -Not -BeNullOrEmpty
        $s = Get-CcieSecretPassphrase -InstanceId $boxId -Transport Ssm
        $s | Should -BeOfType ([securestring])
        $s | ConvertFrom-SecureString -AsPlainText | Should -Be $launchTemplatePassphrase
        $all = Get-CcieSecretPassphrase -Verbose *>&1
        ($all | Where-Object { $_ -is [securestring] }) | ConvertFrom-SecureString -AsPlainText | Should -Be $launchTemplatePassphrase
        ($all | Where-Object { $_ -isnot [securestring] } | Out-String) | Should -Not -Match ([regex]::Escape($launchTemplatePassphrase))
    }

    It 'Invoke-CcieServicesBoxCommand df returns a result object from the box' {
        $r = Invoke-CcieServicesBoxCommand -InstanceId $boxId -Transport Ssm -Command 'df -P /'
        $r | Should -BeOfType ([CcieDr.RemoteCommandResult])
        $r.ExitCode | Should -Be 0
        $r.Transport | Should -Be 'Ssm'
        $r.StandardOutput | Should -Match 'Filesystem'
        $r.Truncated | Should -BeFalse
        $bad = Invoke-CcieServicesBoxCommand -InstanceId $boxId -Command 'cat /etc/default/replicated; exit 3'
        $bad.ExitCode | Should -Be 3
        $bad.StandardOutput | Should -Match "PRIVATE_ADDRESS=$([regex]::Escape($box.PrivateIpAddress))"
    }

    It 'output beyond 24,000 characters is marked Truncated with a warning' {
        $r = Invoke-CcieServicesBoxCommand -InstanceId $boxId -Transport Ssm -Command "head -c 30000 /dev/zero | tr '\0' x" -WarningVariable w -WarningAction SilentlyContinue
        $r.Truncated | Should -BeTrue
        $r.StandardOutput.Length | Should -Be 24000
        "$w" | Should -Match '24,000'
    }

    It 'an impaired box (agent offline) is a clear error naming the fix, and the default says both options' {
        Invoke-CcieSimulatorControl $sim POST 'faults/instance-impaired' @{ instanceId = $boxId; impaired = $true } | Out-Null
        try {
            { Get-CcieApp -InstanceId $boxId -Transport Ssm -ErrorAction Stop } | Should -Throw -ExpectedMessage '*AmazonSSMManagedInstanceCore*-Transport Ssh*'
            { Get-CcieApp -InstanceId $boxId -ErrorAction Stop } | Should -Throw -ExpectedMessage '*-Transport Ssh -SshHost*'
        }
        finally {
            Invoke-CcieSimulatorControl $sim POST 'faults/instance-impaired' @{ instanceId = $boxId; impaired = $false } | Out-Null
        }
    }
}
