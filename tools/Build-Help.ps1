<#
.SYNOPSIS
    Compiles the markdown help in docs/en-US into MAML (en-US/CcieDr.dll-Help.xml) for the built module.
.DESCRIPTION
    platyPS is not available here, so this is our own small compiler. Each cmdlet has docs/en-US/<Cmdlet>.md
    with the sections SYNOPSIS, DESCRIPTION, EXAMPLES (### titles, a ```powershell block, remarks),
    PARAMETERS (### -Name, description), INPUTS, OUTPUTS, NOTES. Parameters shared by many cmdlets
    (-Region, -ProfileName, -EndpointUrl, -WhatIf, -Confirm) are described once in _CommonParameters.md.
    Parameter types, sets, positions and pipeline input come from the compiled cmdlets, so the help can
    never disagree with the code. Also fails when CmdletsToExport and the compiled cmdlets differ.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleDirectory,
    [Parameter(Mandatory)] [string] $DocsDirectory
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

function Read-HelpMarkdown([string] $Path) {
    $doc = [ordered]@{ Sections = [ordered]@{}; Examples = @(); Parameters = [ordered]@{}; Inputs = @(); Outputs = @() }
    $section = $null; $sub = $null; $buffer = [System.Collections.Generic.List[string]]::new()
    $flush = {
        $text = ($buffer -join "`n").Trim()
        if ($section -eq 'EXAMPLES' -and $sub) {
            $code = ''; $remarks = $text
            if ($text -match '(?s)```(?:powershell|ps1|pwsh)?\s*\n(.*?)\n```(.*)$') { $code = $Matches[1].Trim(); $remarks = $Matches[2].Trim() }
            $doc.Examples += [pscustomobject]@{ Title = $sub; Code = $code; Remarks = $remarks }
        }
        elseif ($section -eq 'PARAMETERS' -and $sub) { $doc.Parameters[$sub.TrimStart('-')] = ($text -replace '(?s)```yaml.*?```', '').Trim() }
        elseif ($section -in 'INPUTS', 'OUTPUTS' -and $sub) { $doc[(Get-Culture).TextInfo.ToTitleCase($section.ToLower())] += [pscustomobject]@{ Type = $sub; Description = $text } }
        elseif ($section -and -not $sub -and $text) { $doc.Sections[$section] = $text }
        $buffer.Clear()
    }
    foreach ($line in Get-Content $Path) {
        if ($line -match '^## (.+)$') { & $flush; $section = $Matches[1].Trim().ToUpperInvariant(); $sub = $null; continue }
        if ($line -match '^### (.+)$') { & $flush; $sub = $Matches[1].Trim(); continue }
        if ($line -match '^# ') { continue }
        $buffer.Add($line)
    }
    & $flush
    return $doc
}

function Add-Para($Writer, [string] $Text) {
    foreach ($para in ($Text -split "`n\s*`n")) {
        $p = ($para -replace '\s*\n\s*', ' ').Trim()
        if ($p) { $Writer.WriteElementString('maml', 'para', 'http://schemas.microsoft.com/maml/2004/10', $p) }
    }
}

$manifestPath = Join-Path $ModuleDirectory 'CcieDr.psd1'
$declared = @((Import-PowerShellDataFile $manifestPath).CmdletsToExport)
$libDir = Join-Path $ModuleDirectory 'bin/lib'
$null = [System.Reflection.Assembly]::LoadFrom((Join-Path $ModuleDirectory 'bin/CcieDr.Shared.dll'))
$assembly = [CcieDr.Loading.ModuleLoader]::LoadIsolated($libDir)
$compiled = @($assembly.GetExportedTypes() | ForEach-Object {
        $attr = $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) | Select-Object -First 1
        if ($attr -and -not $_.IsAbstract) { "$($attr.VerbName)-$($attr.NounName)" }
    } | Sort-Object)
$duplicates = @($declared | Group-Object | Where-Object Count -gt 1 | ForEach-Object Name)
if ($duplicates) { throw "CcieDr.psd1 CmdletsToExport lists these more than once: $($duplicates -join ', ')." }
$missing = @($compiled | Where-Object { $_ -notin $declared })
$extra = @($declared | Where-Object { $_ -notin $compiled })
if ($missing -or $extra) {
    throw "CcieDr.psd1 CmdletsToExport is out of date. Compiled but not listed: $($missing -join ', '). Listed but not compiled: $($extra -join ', ')."
}

Import-Module $manifestPath -Force
$common = if (Test-Path (Join-Path $DocsDirectory '_CommonParameters.md')) { (Read-HelpMarkdown (Join-Path $DocsDirectory '_CommonParameters.md')).Parameters } else { @{} }
$commonNames = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters |
    Where-Object { $_ -notin 'WhatIf', 'Confirm' }

$helpDir = New-Item -ItemType Directory -Force (Join-Path $ModuleDirectory 'en-US')
$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [System.Text.UTF8Encoding]::new($false) }
$nsMaml = 'http://schemas.microsoft.com/maml/2004/10'
$nsCommand = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$nsDev = 'http://schemas.microsoft.com/maml/dev/2004/10'
$problems = [System.Collections.Generic.List[string]]::new()
$helpFile = Join-Path $helpDir 'CcieDr.dll-Help.xml'
$w = [System.Xml.XmlWriter]::Create($helpFile, $settings)
$w.WriteStartDocument()
$w.WriteStartElement('helpItems'); $w.WriteAttributeString('schema', 'maml')
$w.WriteAttributeString('xmlns', 'maml', $null, $nsMaml)
$w.WriteAttributeString('xmlns', 'command', $null, $nsCommand)
$w.WriteAttributeString('xmlns', 'dev', $null, $nsDev)
foreach ($name in $compiled) {
    $command = Get-Command $name -Module CcieDr
    $mdPath = Join-Path $DocsDirectory "$name.md"
    if (-not (Test-Path $mdPath)) { $problems.Add("$name has no help file docs/en-US/$name.md"); continue }
    $doc = Read-HelpMarkdown $mdPath
    $verb, $noun = $name -split '-', 2
    $parameters = @($command.Parameters.Values | Where-Object { $_.Name -notin $commonNames })

    $w.WriteStartElement('command', 'command', $nsCommand)
    $w.WriteStartElement('command', 'details', $nsCommand)
    $w.WriteElementString('command', 'name', $nsCommand, $name)
    $w.WriteElementString('command', 'verb', $nsCommand, $verb)
    $w.WriteElementString('command', 'noun', $nsCommand, $noun)
    $w.WriteStartElement('maml', 'description', $nsMaml); Add-Para $w ([string]$doc.Sections['SYNOPSIS']); $w.WriteEndElement()
    $w.WriteEndElement()
    $w.WriteStartElement('maml', 'description', $nsMaml); Add-Para $w ([string]$doc.Sections['DESCRIPTION']); $w.WriteEndElement()

    $describe = {
        param($p)
        if ($doc.Parameters.Contains($p.Name)) { return $doc.Parameters[$p.Name] }
        if ($common.Contains($p.Name)) { return $common[$p.Name] }
        return ''
    }
    $writeParameter = {
        param($p, $setInfo)
        $attr = $setInfo
        $w.WriteStartElement('command', 'parameter', $nsCommand)
        $w.WriteAttributeString('required', $(if ($attr -and $attr.IsMandatory) { 'true' } else { 'false' }))
        $w.WriteAttributeString('globbing', 'false')
        $pipe = @(); if ($attr -and $attr.ValueFromPipeline) { $pipe += 'ByValue' }; if ($attr -and $attr.ValueFromPipelineByPropertyName) { $pipe += 'ByPropertyName' }
        $w.WriteAttributeString('pipelineInput', $(if ($pipe) { "True ($($pipe -join ', '))" } else { 'False' }))
        $w.WriteAttributeString('position', $(if ($attr -and $attr.Position -ge 0) { [string]$attr.Position } else { 'named' }))
        $w.WriteAttributeString('aliases', $(if ($p.Aliases.Count) { $p.Aliases -join ', ' } else { 'none' }))
        $w.WriteElementString('maml', 'name', $nsMaml, $p.Name)
        $w.WriteStartElement('maml', 'description', $nsMaml); Add-Para $w (& $describe $p); $w.WriteEndElement()
        if ($p.ParameterType -ne [System.Management.Automation.SwitchParameter]) {
            $w.WriteStartElement('command', 'parameterValue', $nsCommand)
            $w.WriteAttributeString('required', 'true')
            $w.WriteString($p.ParameterType.Name)
            $w.WriteEndElement()
        }
        $w.WriteStartElement('dev', 'type', $nsDev); $w.WriteElementString('maml', 'name', $nsMaml, $p.ParameterType.FullName); $w.WriteEndElement()
        $w.WriteEndElement()
    }

    $w.WriteStartElement('command', 'syntax', $nsCommand)
    foreach ($set in $command.ParameterSets) {
        $w.WriteStartElement('command', 'syntaxItem', $nsCommand)
        $w.WriteElementString('maml', 'name', $nsMaml, $name)
        foreach ($sp in ($set.Parameters | Where-Object { $_.Name -notin $commonNames } | Sort-Object { if ($_.Position -ge 0) { $_.Position } else { 1000 } })) {
            & $writeParameter $command.Parameters[$sp.Name] $sp
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'parameters', $nsCommand)
    foreach ($p in $parameters) {
        if (-not (& $describe $p)) { $problems.Add("$name -$($p.Name) has no description") }
        $firstSet = $p.ParameterSets.Values | Select-Object -First 1
        & $writeParameter $p $firstSet
    }
    $w.WriteEndElement()

    foreach ($kind in @(@{ Tag = 'inputTypes'; Item = 'inputType'; List = $doc.Inputs }, @{ Tag = 'returnValues'; Item = 'returnValue'; List = $doc.Outputs })) {
        $w.WriteStartElement('command', $kind.Tag, $nsCommand)
        foreach ($io in $kind.List) {
            $w.WriteStartElement('command', $kind.Item, $nsCommand)
            $w.WriteStartElement('dev', 'type', $nsDev); $w.WriteElementString('maml', 'name', $nsMaml, $io.Type); $w.WriteEndElement()
            $w.WriteStartElement('maml', 'description', $nsMaml); Add-Para $w $io.Description; $w.WriteEndElement()
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }
    if ($doc.Sections.Contains('NOTES')) {
        $w.WriteStartElement('maml', 'alertSet', $nsMaml); $w.WriteStartElement('maml', 'alert', $nsMaml); Add-Para $w $doc.Sections['NOTES']; $w.WriteEndElement(); $w.WriteEndElement()
    }

    $w.WriteStartElement('command', 'examples', $nsCommand)
    foreach ($ex in $doc.Examples) {
        $w.WriteStartElement('command', 'example', $nsCommand)
        $w.WriteElementString('maml', 'title', $nsMaml, "-------------------------- $($ex.Title) --------------------------")
        $w.WriteElementString('dev', 'code', $nsDev, $ex.Code)
        $w.WriteStartElement('dev', 'remarks', $nsDev); Add-Para $w $ex.Remarks; $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()
    if (-not $doc.Sections['SYNOPSIS']) { $problems.Add("$name has no SYNOPSIS") }
    if (-not $doc.Sections['DESCRIPTION']) { $problems.Add("$name has no DESCRIPTION") }
    if (-not @($doc.Examples | Where-Object Code).Count) { $problems.Add("$name has no example with code") }
    $w.WriteEndElement()
}
$w.WriteEndElement()
$w.WriteEndDocument()
$w.Dispose()
# The cmdlets load from bin/lib; PowerShell looks for their help beside the assembly as well as in the module base.
$libHelp = New-Item -ItemType Directory -Force (Join-Path $libDir 'en-US')
Copy-Item $helpFile $libHelp
foreach ($problem in $problems) { Write-Warning "help: $problem" }
Write-Host "Help: $($compiled.Count) cmdlets compiled to $helpFile ($($problems.Count) problems)"
