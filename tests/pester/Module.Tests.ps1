#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The module as a PowerShell user meets it: manifest, exports, help, output types and views.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $modulePath = Get-CcieTestModulePath
    Import-Module $modulePath -Force
    $script:cmdlets = @(Get-Command -Module CcieDr -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $modulePath = Get-CcieTestModulePath
    Import-Module $modulePath -Force
    $manifest = Import-PowerShellDataFile $modulePath
    $formatXml = [xml](Get-Content (Join-Path (Split-Path $modulePath) 'CcieDr.format.ps1xml') -Raw)
    $viewTypes = @($formatXml.Configuration.ViewDefinitions.View.ViewSelectedBy.TypeName)
}

Describe 'CcieDr module manifest' -Tag 'Module' {
    It 'passes Test-ModuleManifest with the version from the psd1' {
        $info = Test-ModuleManifest -Path $modulePath
        $info.Version | Should -Be ([version]$manifest.ModuleVersion)
        $info.CompatiblePSEditions | Should -Contain 'Desktop'
        $info.CompatiblePSEditions | Should -Contain 'Core'
        $info.PowerShellVersion | Should -Be ([version]'5.1')
    }

    It 'lists its cmdlets explicitly and exports exactly those' {
        $manifest.CmdletsToExport | Should -Not -Contain '*'
        $exported = @(Get-Command -Module CcieDr | ForEach-Object Name | Sort-Object)
        $exported | Should -Be @($manifest.CmdletsToExport | Sort-Object)
        $exported.Count | Should -BeGreaterThan 0
    }

    It 'exports no functions, aliases or variables' {
        $manifest.FunctionsToExport.Count | Should -Be 0
        $manifest.AliasesToExport.Count | Should -Be 0
        $manifest.VariablesToExport.Count | Should -Be 0
    }

    It 'lays out the published module for Import-Module' {
        $base = Split-Path $modulePath
        Join-Path $base 'bin/CcieDr.Shared.dll' | Should -Exist
        Join-Path $base 'bin/lib/CcieDr.dll' | Should -Exist
        Join-Path $base 'bin/lib/AWSSDK.Core.dll' | Should -Exist
        Join-Path $base 'en-US/CcieDr.dll-Help.xml' | Should -Exist
        # reference-only assembly must never ship
        Join-Path $base 'bin/lib/System.Management.Automation.dll' | Should -Not -Exist
    }

    It 'loads the cmdlets and AWS SDK into a private load context, output types into the default one' {
        $commandsAssembly = (Get-Command Get-CcieServicesBox).ImplementingType.Assembly
        [CcieDr.Loading.ModuleLoader]::DescribeLoadContext($commandsAssembly) | Should -Match '^CcieDr \('
        # Resolve the engine and the AWS SDK through the cmdlets' references (they load lazily).
        $factoryType = $commandsAssembly.GetType('CcieDr.Commands.CcieAwsCmdlet').GetProperty('Aws', [Reflection.BindingFlags]'NonPublic, Instance').PropertyType
        $factoryType.Assembly.GetName().Name | Should -Be 'CcieDr.Engine'
        [CcieDr.Loading.ModuleLoader]::DescribeLoadContext($factoryType.Assembly) | Should -Match '^CcieDr \('
        $ec2Assembly = $factoryType.GetMethod('CreateEc2').ReturnType.Assembly
        $ec2Assembly.GetName().Name | Should -Be 'AWSSDK.EC2'
        [CcieDr.Loading.ModuleLoader]::DescribeLoadContext($ec2Assembly) | Should -Match '^CcieDr \('
        [CcieDr.Loading.ModuleLoader]::DescribeLoadContext([CcieDr.ServicesBox].Assembly) | Should -Match 'Default'
    }
}

Describe '<Name>' -Tag 'Module', 'Help' -ForEach $cmdlets {
    BeforeAll {
        $command = Get-Command $Name
        $help = Get-Help $Name -Full
        $ownParameters = @($command.Parameters.Values | Where-Object {
                $_.Name -notin ([System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters)
            })
    }

    It 'uses an approved verb' {
        (Get-Verb).Verb | Should -Contain $command.Verb
    }

    It 'declares its output type, with a view for it' {
        $command.OutputType.Count | Should -BeGreaterThan 0
        foreach ($t in $command.OutputType) {
            if ($t.Name -like 'CcieDr.*') { $viewTypes | Should -Contain $t.Name }
        }
    }

    It 'has a synopsis' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match "^\s*$Name\s"    # auto-generated help shows the syntax instead
    }

    It 'has a description' {
        ($help.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty
    }

    It 'has at least one example with code' {
        @($help.Examples.Example).Count | Should -BeGreaterThan 0
        $help.Examples.Example[0].Code | Should -Match $Name
    }

    It 'describes every parameter' {
        foreach ($p in $ownParameters) {
            $ph = $help.Parameters.Parameter | Where-Object Name -eq $p.Name
            $because = "-$($p.Name) of $Name needs a description in docs/en-US"
            $ph | Should -Not -BeNullOrEmpty -Because $because
            ($ph.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because $because
        }
    }

    It 'honours -WhatIf and -Confirm when it changes state' {
        $changes = $command.Verb -notin 'Get', 'Test', 'Wait', 'Find', 'Measure'
        if ($changes) {
            $command.Parameters.Keys | Should -Contain 'WhatIf'
            $command.Parameters.Keys | Should -Contain 'Confirm'
        }
        else {
            $command.Verb | Should -BeIn @('Get', 'Test', 'Wait', 'Find', 'Measure')
        }
    }
}
