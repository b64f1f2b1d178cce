# CcieDr loader. The cmdlets, the engine and every third-party assembly (AWSSDK.*, SharpZipLib, SSH.NET) live in
# bin/lib and load into a private AssemblyLoadContext on PowerShell 7, so the module works in a session that already
# loaded another AWSSDK.Core (AWS.Tools). Output types live in bin/CcieDr.Shared.dll (RequiredAssemblies in the
# manifest), in the default context, so scripts can name them ([CcieDr.ServicesBox]).
# Kept to three statements: every script statement here is start-up time (build.ps1 Bench, 'import'); the decisions
# (load context or resolver, where the format file is) are in CcieDr.Loading.ModuleLoader.Load.

# Import the cmdlets as a nested module, then surface them as this module's own exports so that Get-Command -Module
# CcieDr, help, CmdletsToExport and Import-Module -Force behave as for any binary module.
$inner = Import-Module -Assembly ([CcieDr.Loading.ModuleLoader]::Load($PSScriptRoot)) -PassThru -Force -Verbose:$false -ErrorAction Stop
[CcieDr.Loading.ModuleLoader]::Export($ExecutionContext.SessionState.Module, $inner)
