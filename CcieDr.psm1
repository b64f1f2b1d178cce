# CcieDr loader. The cmdlets, the engine and every third-party assembly (AWSSDK.*, SharpZipLib, SSH.NET)
# live in bin/lib and load into a private AssemblyLoadContext on PowerShell 7, so the module works in a
# session that already loaded another AWSSDK.Core (AWS.Tools). Output types live in bin/CcieDr.Shared.dll
# in the default context so scripts can name them ([CcieDr.ServicesBox]).
$ErrorActionPreference = 'Stop'

$binDir = [System.IO.Path]::Combine($PSScriptRoot, 'bin')
$libDir = [System.IO.Path]::Combine($binDir, 'lib')

if (-not ('CcieDr.Loading.ModuleLoader' -as [type])) {
    $null = [System.Reflection.Assembly]::LoadFrom([System.IO.Path]::Combine($binDir, 'CcieDr.Shared.dll'))
}

# The views load when the first CcieDr cmdlet runs (see ModuleFormats): not at import.
[CcieDr.Loading.ModuleLoader]::DeferFormats([System.IO.Path]::Combine($PSScriptRoot, 'CcieDr.format.ps1xml'))

# CCIEDR_LOADER=resolver forces the Windows PowerShell strategy (diagnostics; the coexistence test uses it to
# prove that without the private load context a second AWSSDK.Core breaks the module).
$commandsAssembly = if ($PSVersionTable.PSEdition -eq 'Core' -and $env:CCIEDR_LOADER -ne 'resolver') {
    [CcieDr.Loading.ModuleLoader]::LoadIsolated($libDir)
}
else {
    [CcieDr.Loading.ModuleLoader]::LoadWithResolver($libDir)
}

# Import the cmdlets as a nested module, then surface them as this module's own exports so that
# Get-Command -Module CcieDr, help and CmdletsToExport behave as for any binary module.
$inner = Import-Module -Assembly $commandsAssembly -PassThru -Force -Verbose:$false
$addExported = [System.Management.Automation.PSModuleInfo].GetMethod(
    'AddExportedCmdlet', [System.Reflection.BindingFlags]'Instance, NonPublic')
foreach ($cmdlet in $inner.ExportedCmdlets.Values) {
    $null = $addExported.Invoke($ExecutionContext.SessionState.Module, @(, $cmdlet))
}
