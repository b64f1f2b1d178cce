# The module ships as a .nupkg that PowerShell's own installers take from a local file repository.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $moduleDir = Split-Path (Get-CcieTestModulePath)
    $version = (Import-PowerShellDataFile (Get-CcieTestModulePath)).ModuleVersion
    $repo = Join-Path $TestDrive 'repo'
    $packScript = Join-Path $env:CCIEDR_REPO_ROOT 'tools/New-Package.ps1'
    $null = New-Item -ItemType Directory -Force (Join-Path $TestDrive 'home-pack'), (Join-Path $TestDrive 'home-install')
    $packed = Invoke-CcieChildPwsh -Script "& '$packScript' -ModuleDirectory '$moduleDir' -Repository '$repo'" -Environment @{ HOME = (Join-Path $TestDrive 'home-pack') }
}

Describe 'Package' -Tag 'Package' {
    It 'builds CcieDr.<version>.nupkg with the module files inside' {
        $packed.ExitCode | Should -Be 0 -Because $packed.Error
        $nupkg = Join-Path $repo "CcieDr.$version.nupkg"
        $nupkg | Should -Exist
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [System.IO.Compression.ZipFile]::OpenRead($nupkg)
        try { $entries = $zip.Entries.FullName } finally { $zip.Dispose() }
        $entries | Should -Contain 'CcieDr.psd1'
        $entries | Should -Contain 'bin/lib/CcieDr.dll'
        $entries | Should -Contain 'en-US/CcieDr.dll-Help.xml'
    }

    It 'installs with Install-PSResource from a local repository and imports' {
        $home2 = Join-Path $TestDrive 'home-install'
        $script = @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name CcieLocal -Uri '$([uri]::new($repo).AbsoluteUri)' -Trusted
Install-PSResource -Name CcieDr -Repository CcieLocal -Scope CurrentUser -TrustRepository
`$m = Import-Module CcieDr -PassThru
"installed:`$(`$m.Version):`$(`$m.ModuleBase)"
"count:`$((Get-Command -Module CcieDr).Count)"
"@
        $r = Invoke-CcieChildPwsh -Script $script -Environment @{ HOME = $home2 }
        $r.ExitCode | Should -Be 0 -Because $r.Error
        $r.Output | Should -Match "installed:$([regex]::Escape($version)):$([regex]::Escape($home2))"
        $r.Output -match 'count:(\d+)' | Should -BeTrue
        [int]$Matches[1] | Should -Be @((Import-PowerShellDataFile (Get-CcieTestModulePath)).CmdletsToExport).Count
    }
}
