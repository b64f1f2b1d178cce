<#
.SYNOPSIS
    Packs the built module into CcieDr.<version>.nupkg in a local file repository, the form
    Install-PSResource and Install-Module install from.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleDirectory,
    [Parameter(Mandatory)] [string] $Repository
)
$ErrorActionPreference = 'Stop'
$name = 'CcieDrBuild-' + [guid]::NewGuid().ToString('n').Substring(0, 8)
$null = New-Item -ItemType Directory -Force $Repository
$repoUri = [uri]::new((Resolve-Path $Repository).ProviderPath).AbsoluteUri
Register-PSResourceRepository -Name $name -Uri $repoUri -Trusted
try {
    Publish-PSResource -Path $ModuleDirectory -Repository $name -SkipDependenciesCheck
}
finally {
    Unregister-PSResourceRepository -Name $name
}
$package = Get-ChildItem $Repository -Filter 'CcieDr.*.nupkg' | Sort-Object LastWriteTime -Descending | Select-Object -First 1
if (-not $package) { throw "Publish-PSResource produced no package in $Repository." }
Write-Host "Package: $($package.FullName)"
