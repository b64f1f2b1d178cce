# The remote cmdlets over SSH against a REAL OpenSSH server (Debian's openssh-server) on 127.0.0.1, with a
# generated host key and user key and the Replicated stand-in (tests/tools/replicated-standin) on its PATH.
# ccie: private-network-namespace (tests/pester/Invoke-Tests.ps1 runs this file inside unshare -n, only lo up)

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-CcieTestModulePath) -Force
    $repo = if ($env:CCIEDR_REPO_ROOT) { $env:CCIEDR_REPO_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    $standin = Join-Path $repo 'tests/tools/replicated-standin'
    $script:dir = Join-Path ([IO.Path]::GetTempPath()) ('ccie-sshd-' + [guid]::NewGuid().ToString('n'))
    $null = New-Item -ItemType Directory $dir
    $script:stateRoot = Join-Path $dir 'standin'
    $script:token = 'tok-' + [guid]::NewGuid().ToString('n')
    $user = (& id -un).Trim()

    function New-TestKey([string] $Path) {
        & ssh-keygen -q -t ed25519 -N '' -C '' -f $Path
        if ($LASTEXITCODE -ne 0) { throw "ssh-keygen failed for $Path" }
    }
    New-TestKey (Join-Path $dir 'host_a')
    New-TestKey (Join-Path $dir 'host_b')
    New-TestKey (Join-Path $dir 'user_key')
    Copy-Item (Join-Path $dir 'user_key.pub') (Join-Path $dir 'authorized_keys')

    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start(); $script:port = $listener.LocalEndpoint.Port; $listener.Stop()

    function Start-TestSshd([string] $HostKey) {
        $config = Join-Path $dir 'sshd_config'
        @(
            "HostKey $HostKey"
            "PidFile $(Join-Path $dir 'sshd.pid')"
            "AuthorizedKeysFile $(Join-Path $dir 'authorized_keys')"
            'StrictModes no'
            'UsePAM no'
            'PasswordAuthentication no'
            'KbdInteractiveAuthentication no'
            'PubkeyAuthentication yes'
            'PermitRootLogin prohibit-password'
            "AllowUsers $user"
            "SetEnv PATH=${standin}:/usr/local/bin:/usr/bin:/bin REPLICATED_STANDIN_ROOT=$stateRoot"
        ) | Set-Content $config
        if ((& id -u) -eq '0' -and -not (Test-Path /run/sshd)) { $null = New-Item -ItemType Directory /run/sshd }
        $psi = [System.Diagnostics.ProcessStartInfo]::new('/usr/bin/setsid')   # its own session and process group
        foreach ($a in '/usr/sbin/sshd', '-D', '-e', '-f', $config, '-p', "$port", '-o', 'ListenAddress=127.0.0.1') { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardError = $true; $psi.RedirectStandardOutput = $true; $psi.UseShellExecute = $false
        $p = [System.Diagnostics.Process]::Start($psi)
        $script:sshdLog = $p.StandardError.ReadToEndAsync()
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ($true) {
            if ($p.HasExited) { throw "sshd exited with $($p.ExitCode): $($sshdLog.Result)" }
            $c = [System.Net.Sockets.TcpClient]::new()
            try { $c.Connect('127.0.0.1', $port); break } catch { } finally { $c.Dispose() }
            if ([DateTime]::UtcNow -gt $deadline) { $p.Kill(); throw 'sshd did not listen within 30 s' }
            Start-Sleep -Milliseconds 50
        }
        return $p
    }
    function Stop-TestSshd($Process) {
        if ($Process -and -not $Process.HasExited) { $Process.Kill(); $Process.WaitForExit(5000) | Out-Null }   # only our sshd, by its handle
    }
    $script:sshd = Start-TestSshd (Join-Path $dir 'host_a')

    # A known_hosts that trusts host_a, written the way OpenSSH writes a non-22 port.
    $script:known = Join-Path $dir 'known_hosts'
    $hostPub = (Get-Content (Join-Path $dir 'host_a.pub') -Raw).Trim().Split(' ')
    "[127.0.0.1]:$port $($hostPub[0]) $($hostPub[1])" | Set-Content $known
    $script:ssh = @{
        Transport = 'Ssh'; SshHost = '127.0.0.1'; SshPort = $port; SshUser = $user
        SshKeyPath = (Join-Path $dir 'user_key'); SshKnownHostsPath = $known; NoSudo = $true
    }
    function Reset-Standin([string] $State = 'stopped') {
        $env:REPLICATED_STANDIN_ROOT = $stateRoot
        & (Join-Path $standin 'replicated-standin') init --major 2 --state $State --start-seconds 0 --token $token
        if ($LASTEXITCODE -ne 0) { throw 'stand-in init failed' }
    }
}

AfterAll {
    Stop-TestSshd $script:sshd
    if ($dir -and (Test-Path $dir)) { Remove-Item $dir -Recurse -Force }
    Remove-Item Env:REPLICATED_STANDIN_ROOT -ErrorAction SilentlyContinue
}

Describe 'The private network namespace these tests run in' -Tag 'Remote', 'Ssh' {
    It 'has only loopback: a connect to 10.0.0.1:22 fails at once with network unreachable' {
        # /proc/net/dev lists the interfaces of this process's network namespace (/sys/class/net may be the host's).
        @(Get-Content /proc/net/dev | Select-Object -Skip 2 | ForEach-Object { ($_ -split ':')[0].Trim() }) | Should -Be @('lo')
        $client = [System.Net.Sockets.TcpClient]::new()
        $err = $null
        try { $client.Connect('10.0.0.1', 22) } catch { $err = $_.Exception } finally { $client.Dispose() }
        $socket = $err
        while ($socket -and $socket -isnot [System.Net.Sockets.SocketException]) { $socket = $socket.InnerException }
        $socket | Should -Not -BeNullOrEmpty -Because "the connect must fail with a SocketException, not '$err'"
        $socket.SocketErrorCode | Should -Be ([System.Net.Sockets.SocketError]::NetworkUnreachable)
    }
}

Describe 'Remote cmdlets over a real sshd' -Tag 'Remote', 'Ssh' {
    BeforeEach { Reset-Standin 'started' }

    It 'Get-CcieApp reports the stand-in''s state' {
        $app = Get-CcieApp @ssh
        $app | Should -BeOfType ([CcieDr.ReplicatedApp])
        $app.State | Should -Be 'started'
        $app.DesiredState | Should -Be 'started'
        $app.IsTransitioning | Should -BeFalse
        $app.AppId | Should -Be 'edd9471be0bc4ea04dfca94718ddf621'
        $app.Sequence | Should -Be 2439
        $app.ReplicatedMajorVersion | Should -Be 2
        $app.Host | Should -Be '127.0.0.1'
        $app.Transport | Should -Be 'Ssh'

        & (Join-Path $standin 'replicatedctl') app stop
        Start-Sleep -Seconds 1.2   # the stand-in's stop takes 1 s: wait for it, the assertion is on state
        (Get-CcieApp @ssh).State | Should -Be 'stopped'
    }

    It 'Invoke-CcieServicesBoxCommand returns exit code and output; a failing command is a result' {
        $ok = Invoke-CcieServicesBoxCommand @ssh -Command 'echo hello; echo oops >&2'
        $ok | Should -BeOfType ([CcieDr.RemoteCommandResult])
        $ok.ExitCode | Should -Be 0
        $ok.StandardOutput | Should -Be "hello`n"
        $ok.StandardError | Should -Be "oops`n"
        $bad = Invoke-CcieServicesBoxCommand @ssh -ScriptBlock { ls /nonexistent-ccie; exit 42 }
        $bad.ExitCode | Should -Be 42
        $bad.Succeeded | Should -BeFalse
        $bad.StandardError | Should -Match 'nonexistent-ccie'
    }

    It '-WhatIf runs nothing' {
        $marker = Join-Path $dir 'whatif-marker'
        Invoke-CcieServicesBoxCommand @ssh -Command "touch '$marker'" -WhatIf | Should -BeNullOrEmpty
        Test-Path $marker | Should -BeFalse
    }

    It 'Get-CcieSecretPassphrase returns the stand-in''s token as a SecureString' {
        $s = Get-CcieSecretPassphrase @ssh
        $s | Should -BeOfType ([securestring])
        $s | ConvertFrom-SecureString -AsPlainText | Should -Be $token
    }

    It 'never lets the passphrase reach a stream, the transcript, verbose text or an object' {
        $t = Join-Path $dir 'transcript.txt'
        $files = 1..6 | ForEach-Object { Join-Path $dir "stream$_.txt" }
        Start-Transcript -Path $t -Force | Out-Null
        try {
            $secret = Get-CcieSecretPassphrase @ssh -Verbose -Debug 2> $files[1] 3> $files[2] 4> $files[3] 5> $files[4] 6> $files[5]
            $all = Get-CcieSecretPassphrase @ssh -Verbose *>&1
            $app = Get-CcieApp @ssh -Verbose *>&1
            $all | Out-String | Write-Host
            $secret | Format-List * | Out-String | Write-Host
        }
        finally { Stop-Transcript | Out-Null }
        $secret | ConvertFrom-SecureString -AsPlainText | Should -Be $token   # the test would catch a real leak
        foreach ($f in @($t) + $files[1..5]) {
            if (Test-Path $f) { Get-Content $f -Raw | Should -Not -Match $token -Because "$f must not hold the secret" }
        }
        ($all | Out-String) + ($app | Out-String) + ($all | ConvertTo-Json -Depth 3 -WarningAction SilentlyContinue) | Should -Not -Match $token
        (Get-Content $files[3] -Raw) | Should -Match 'get-secret-token'   # the verbose log shows the command
        ($Error | Out-String) | Should -Not -Match $token
    }
}

Describe 'Start-CcieApp / Stop-CcieApp over a real sshd' -Tag 'Remote', 'Ssh' {
    It 'Stop-CcieApp -Wait then Start-CcieApp -Wait move the stand-in through stopping/starting' {
        Reset-Standin 'started'
        $stopped = Stop-CcieApp @ssh -Wait -Force
        $stopped.State | Should -Be 'stopped'
        $stopped.IsTransitioning | Should -BeFalse
        # The app's ports, played by listeners this test opens on 127.0.0.1 (the stand-in runs no containers).
        $listeners = foreach ($p in 80, 443, 4434, 8800) { $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0); $l.Start(); [pscustomobject]@{ App = $p; Listener = $l } }
        $map = @{}; foreach ($x in $listeners) { $map[$x.App] = $x.Listener.LocalEndpoint.Port }
        $started = try { Start-CcieApp @ssh -Wait -ProbeAddress 127.0.0.1 -ProbePortMap $map } finally { $listeners.Listener.Stop() }
        $started.State | Should -Be 'started'
        $started.DesiredState | Should -Be 'started'
        (& (Join-Path $standin 'replicated-standin') show) | Should -Contain 'state=started'
    }

    It 'Stop-CcieApp -WhatIf changes nothing' {
        Reset-Standin 'started'
        Stop-CcieApp @ssh -WhatIf | Should -BeNullOrEmpty
        (& (Join-Path $standin 'replicated-standin') show) | Should -Contain 'state=started'
    }

    It 'Start-CcieApp -Wait fails at once, clearly, when the app cannot start' {
        Reset-Standin 'stopped'
        & (Join-Path $standin 'replicated-standin') fail-start on
        { Start-CcieApp @ssh -Wait -WaitTimeoutSec 600 } | Should -Throw -ErrorId 'ReplicatedAppFailedToStart,*'
    }
}

Describe 'SSH host key verification' -Tag 'Remote', 'Ssh' {
    BeforeEach { Reset-Standin 'started' }

    It 'refuses an unknown host key without -SshAcceptNewHostKey and records it with it' {
        $fresh = Join-Path $dir ('kh-' + [guid]::NewGuid().ToString('n'))
        $p = $ssh.Clone(); $p.SshKnownHostsPath = $fresh
        { Get-CcieApp @p } | Should -Throw -ErrorId 'SshHostKeyUnknown,*'
        Test-Path $fresh | Should -BeFalse
        (Get-CcieApp @p -SshAcceptNewHostKey -WarningVariable w -WarningAction SilentlyContinue).State | Should -Be 'started'
        $w | Should -Match 'Permanently added'
        $lines = @(Get-Content $fresh | Where-Object { $_ })
        $lines | Should -HaveCount 1
        $lines[0] | Should -Match ("^\[127\.0\.0\.1\]:$port ssh-ed25519 ")
        & ssh-keygen -F "[127.0.0.1]:$port" -f $fresh | Out-Null
        $LASTEXITCODE | Should -Be 0   # OpenSSH itself finds the recorded entry
        (Get-CcieApp @p).State | Should -Be 'started'   # now trusted without the switch
    }

    It 'accepts the key given by -SshHostKeyFingerprint and refuses another' {
        $fp = ((& ssh-keygen -lf (Join-Path $dir 'host_a.pub')) -split ' ')[1]
        $p = $ssh.Clone(); $p.SshKnownHostsPath = Join-Path $dir 'none'
        (Get-CcieApp @p -SshHostKeyFingerprint $fp).State | Should -Be 'started'
        $other = ((& ssh-keygen -lf (Join-Path $dir 'host_b.pub')) -split ' ')[1]
        { Get-CcieApp @p -SshHostKeyFingerprint $other } | Should -Throw -ErrorId 'SshHostKeyMismatch,*'
    }

    It 'refuses a CHANGED host key even with -SshAcceptNewHostKey, naming the file and line' {
        Stop-TestSshd $script:sshd
        $script:sshd = Start-TestSshd (Join-Path $dir 'host_b')
        try {
            $before = Get-Content $known -Raw
            $err = $null
            try { Get-CcieApp @ssh -SshAcceptNewHostKey -ErrorAction Stop } catch { $err = $_ }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'SshHostKeyChanged*'
            $err.Exception.Message | Should -Match ([regex]::Escape($known) + ' line 1')
            Get-Content $known -Raw | Should -Be $before
        }
        finally {
            Stop-TestSshd $script:sshd
            $script:sshd = Start-TestSshd (Join-Path $dir 'host_a')
        }
    }
}
