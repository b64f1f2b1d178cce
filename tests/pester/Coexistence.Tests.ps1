# CcieDr must work in a session that already loaded another AWSSDK.Core (AWS.Tools users).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Set-CcieTestAwsEnvironment
    $sim = Start-CcieTestSimulator
    $oldCore = Join-Path $env:CCIEDR_NUGET_PACKAGES 'awssdk.core/3.7.402/lib/netcoreapp3.1/AWSSDK.Core.dll'
    $script = @"
`$ErrorActionPreference = 'Stop'
Add-Type -Path '$oldCore'
"first:" + [Amazon.Runtime.AmazonServiceClient].Assembly.GetName().Version
Import-Module '$(Get-CcieTestModulePath)'
`$box = Get-CcieServicesBox -Region us-east-1 -EndpointUrl '$($sim.Url)'
"box:" + `$box.InstanceId + ":" + `$box.PrivateIpAddress
foreach (`$a in [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'AWSSDK.Core' }) {
    `$ctx = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$a)
    "core:" + `$a.GetName().Version + ":" + `$(if (`$ctx -eq [System.Runtime.Loader.AssemblyLoadContext]::Default) { 'Default' } else { `$ctx.ToString() })
}
"@
}

AfterAll { if ($sim) { Stop-CcieTestSimulator $sim } }

Describe 'Coexistence with another AWSSDK.Core' -Tag 'Coexistence', 'Simulator' {
    It 'runs an AWS cmdlet after AWSSDK.Core 3.7.402 was loaded into the session' {
        $oldCore | Should -Exist
        $r = Invoke-CcieChildPwsh -Script $script
        $r.ExitCode | Should -Be 0 -Because $r.Error
        $r.Output | Should -Match 'first:3\.3\.0\.0'
        $r.Output | Should -Match 'box:i-[0-9a-f]+:10\.0\.1\.10'
        # both SDKs live side by side: 3.7 in the default context, 4.x in CcieDr's private one
        $cores = @($r.Output -split "`r?`n" | Where-Object { $_ -like 'core:*' })
        $cores.Count | Should -Be 2
        $cores | Should -Contain 'core:3.3.0.0:Default'
        @($cores | Where-Object { $_ -match '^core:4\.0\.0\.0:CcieDr' }).Count | Should -Be 1
    }

    It 'breaks without the private load context (the test is sensitive to isolation)' {
        $r = Invoke-CcieChildPwsh -Script $script -Environment @{ CCIEDR_LOADER = 'resolver' }
        $r.Output | Should -Not -Match 'box:i-'
        $r.ExitCode | Should -Not -Be 0 -Because "$($r.Output) $($r.Error)"
    }
}
