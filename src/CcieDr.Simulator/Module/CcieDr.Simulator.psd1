@{
    RootModule        = 'CcieDr.Simulator.psm1'
    ModuleVersion     = '0.1.0'
    GUID              = 'b3d5a0e2-7c41-4f58-9a6e-2f1c8d7e4a90'
    Author            = 'CcieDr developers'
    CompanyName       = 'CcieDr'
    Copyright         = '(c) CcieDr developers. MIT License.'
    Description       = 'The CcieDr AWS simulator for testing your own CircleCI Enterprise recovery runbooks with Pester: a local, seeded EC2/S3-free AWS (EC2, SSM, KMS and what the simulator serves) on 127.0.0.1, with a controllable clock and fault injection. Separate from CcieDr so the main module stays small.'
    PowerShellVersion = '7.2'
    CompatiblePSEditions = @('Core')
    FunctionsToExport = @(
        'Start-CcieSimulator'
        'Stop-CcieSimulator'
        'Get-CcieSimulator'
        'Reset-CcieSimulator'
        'Invoke-CcieSimulatorControl'
        'Set-CcieSimulatorClock'
        'Add-CcieSimulatorFault'
        'Clear-CcieSimulatorFault'
        'Invoke-CcieSimulatorOutage'
        'Get-CcieSimulatorRequest'
        'Get-CcieSimulatorState'
    )
    CmdletsToExport   = @()
    AliasesToExport   = @()
    VariablesToExport = @()
    PrivateData       = @{ PSData = @{ Tags = @('CircleCI', 'AWS', 'Simulator', 'Pester', 'DisasterRecovery') } }
}
