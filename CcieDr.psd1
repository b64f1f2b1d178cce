@{
    RootModule           = 'CcieDr.psm1'
    # The output types ([CcieDr.ServicesBox], ...), in the default load context; loaded before CcieDr.psm1 runs.
    RequiredAssemblies   = @('bin/CcieDr.Shared.dll')
    # The single version source: build.ps1 passes it to dotnet publish (-p:Version) and the package.
    ModuleVersion        = '0.1.0'
    GUID                 = '6f0b7d61-3c2e-4a8e-9d7e-0c5a2b4e9f13'
    Author               = 'CcieDr developers'
    CompanyName          = 'CcieDr'
    Copyright            = '(c) CcieDr developers. MIT License.'
    Description          = 'Disaster recovery for CircleCI Enterprise on AWS: detect an outage of the Services box, back it up (EBS snapshots and data tarballs), restore it, fail over, and bring the builder fleet back.'
    PowerShellVersion    = '5.1'
    # Windows PowerShell 5.1 only: the netstandard2.0 assemblies need .NET Framework 4.7.2 or later.
    DotNetFrameworkVersion = '4.7.2'
    CompatiblePSEditions = @('Desktop', 'Core')
    # No FormatsToProcess: CcieDr.psm1 hands CcieDr.format.ps1xml to the loader and the first cmdlet that runs
    # loads it (adding a format file at import makes PowerShell rebuild its whole format table).
    # Listed explicitly (never '*'); build.ps1 fails when this list and the compiled cmdlets differ.
    CmdletsToExport      = @(
        'Get-CcieServicesBox'
        'New-CcieSnapshot'
        'Get-CcieSnapshot'
        'Wait-CcieSnapshot'
        'Remove-CcieSnapshot'
        'Copy-CcieSnapshot'
        'Restore-CcieServicesBox'
        'Restore-CcieData'
        'Test-CcieBackup'
        'Backup-CcieData'
        'Get-CcieBackup'
        'Remove-CcieBackup'
        'Get-CcieApp'
        'Invoke-CcieServicesBoxCommand'
        'Get-CcieSecretPassphrase'
        'Start-CcieApp'
        'Stop-CcieApp'
        'Test-CcieRecovery'
        'Remove-CcieDrill'
        'Get-CcieRecoveryStatus'
        'New-CcieServicesBoxImage'
        'Get-CcieServicesBoxImage'
        'Remove-CcieServicesBoxImage'
        'New-CcieReplica'
        'Get-CcieReplica'
        'Update-CcieReplica'
        'Add-CcieFloatingIp'
        'Test-CcieServicesBox'
        'Get-CcieFleetHealth'
        'Get-CcieBuilder'
        'Set-CcieBuilderCapacity'
        'Set-CcieBuilderConfiguration'
        'Restart-CcieBuilder'
        'Invoke-CcieFailover'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('CircleCI', 'AWS', 'EC2', 'DisasterRecovery', 'Backup', 'EBS', 'Snapshot', 'PSEdition_Core', 'PSEdition_Desktop', 'Linux', 'Windows')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            ReleaseNotes = 'See README.md.'
        }
    }
}
