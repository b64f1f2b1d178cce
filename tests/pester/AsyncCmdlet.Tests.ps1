# The async cmdlet base: Ctrl+C (StopProcessing) must cancel in-flight AWS calls.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Set-CcieTestAwsEnvironment
    # An endpoint that accepts connections and never answers: every AWS call hangs until cancelled.
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    $port = $listener.LocalEndpoint.Port
    $accepted = [System.Collections.Generic.List[object]]::new()
    $null = $listener.BeginAcceptTcpClient($null, $null)
}

AfterAll { if ($listener) { $listener.Stop() } }

Describe 'Stopping a running cmdlet' -Tag 'AsyncCmdlet' {
    It 'cancels an in-flight AWS call promptly when the pipeline is stopped' {
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$(Get-CcieTestModulePath)'; Get-CcieServicesBox -Region us-east-1 -EndpointUrl 'http://127.0.0.1:$port'")
        $async = $ps.BeginInvoke()
        Start-Sleep -Seconds 2          # let the call reach the hanging endpoint
        $async.IsCompleted | Should -BeFalse -Because 'the endpoint never answers, so the call must still be running'
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $ps.Stop()
        $watch.Stop()
        $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        # The SDK's own timeout is 60 s; cancellation must not wait for it.
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 30
        $ps.Dispose()
    }
}
