<#
.SYNOPSIS
    Shared by the benchmarks: one way to print a target line, and the summary build.ps1 Bench prints at the end.
.DESCRIPTION
    Every benchmark figure that has a target prints one line
        TARGET <name>: <value><unit> (target <op> <limit><unit>) PASS|MISS
    through Write-Target (bench/CcieDr.Bench/BenchTarget.cs prints the same line from C#). build.ps1 Bench keeps
    a transcript of its sections and Write-TargetSummary lists every TARGET line found there, plus the item-8
    targets in $BenchKnownTargets that printed nothing, as 'MISSING (not measured)'.
#>

# The performance targets of issue #11 item 8 (name -> what it compares). Bench sections print these names.
$BenchKnownTargets = [ordered]@{
    'import'                    = 'Import-Module CcieDr in a fresh pwsh vs pwsh -c 1 (whole processes)'
    'backup-bzip2-vs-tar-cjf'   = 'Backup-CcieData bzip2 vs GNU tar -cjf'
    'backup-zstd-vs-tar-zstd'   = 'Backup-CcieData zstd vs GNU tar | zstd -T0 -3'
    'restore-vs-tar-xjf'        = 'restore of a GNU tar -cjf single-stream archive vs tar -xjf'
    'restore-vs-lbzip2'         = 'restore of an lbzip2 single-stream archive vs lbzip2 -d | tar -x'
    # Whole-process peak RSS of pwsh + the module (tools/Bench-Memory.ps1).
    'memory-backup-60k-files'   = 'peak RSS backing up 60,000 small files'
    'memory-restore-60k-files'  = 'peak RSS restoring 60,000 small files'
    'memory-backup-250k-files'  = 'peak RSS backing up 250,000 small files'
    'memory-restore-250k-files' = 'peak RSS restoring 250,000 small files'
    'memory-backup-300MB-tree'  = 'peak RSS backing up the 300 MB tree'
    'memory-restore-300MB-tree' = 'peak RSS restoring the 300 MB tree'
    'memory-growth-backup'      = 'peak RSS growth backing up 250k instead of 60k files'
    'memory-growth-restore'     = 'peak RSS growth restoring 250k instead of 60k files'
}

# Other targets the bench prints (issues #12, #14, #16), listed after item 8 in the summary.
$BenchOtherTargets = [ordered]@{
    'restore-orchestration-overhead' = 'Restore-CcieServicesBox overhead beyond the scripted AWS waits, worst run, seconds'
    'failover-mode1-overhead'        = 'Invoke-CcieFailover mode 1 overhead beyond the scripted waits, worst run, seconds'
    'failover-mode3-overhead'        = 'Invoke-CcieFailover mode 3 overhead beyond the scripted waits, worst run, seconds'
    'test-servicesbox-dead-box'      = 'Test-CcieServicesBox against a dead box (EC2, SSH and ports hanging), whole run in seconds'
}

# The median of a set of measurements (the mean of the middle two for an even count).
function Get-Median([double[]] $Values) {
    $sorted = @($Values | Sort-Object)
    if ($sorted.Count % 2) { return $sorted[[int][math]::Floor($sorted.Count / 2)] }
    return ($sorted[$sorted.Count / 2 - 1] + $sorted[$sorted.Count / 2]) / 2
}

# Matches a line printed by Write-Target (or its C# twin).
$BenchTargetPattern = '^TARGET (?<name>[^:]+): (?<value>\S+) \(target (?<op><=|>=) (?<limit>\S+)\) (?<result>PASS|MISS)\s*$'

function Format-TargetLine {
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [double] $Value,
        [Parameter(Mandatory)] [ValidateSet('<=', '>=')] [string] $Op,
        [Parameter(Mandatory)] [double] $Limit,
        [string] $Unit = 'x'
    )
    $pass = if ($Op -eq '<=') { $Value -le $Limit } else { $Value -ge $Limit }
    $inv = [Globalization.CultureInfo]::InvariantCulture
    'TARGET {0}: {1}{2} (target {3} {4}{2}) {5}' -f $Name, $Value.ToString('0.00', $inv), $Unit, $Op,
        $Limit.ToString('0.##', $inv), $(if ($pass) { 'PASS' } else { 'MISS' })
}

function Write-Target {
    <#
    .EXAMPLE
        Write-Target -Name import -Value 1.12 -Op '<=' -Limit 1.15      # TARGET import: 1.12x (target <= 1.15x) PASS
    #>
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [double] $Value,
        [Parameter(Mandatory)] [ValidateSet('<=', '>=')] [string] $Op,
        [Parameter(Mandatory)] [double] $Limit,
        [string] $Unit = 'x'
    )
    Write-Host (Format-TargetLine @PSBoundParameters)
}

function Get-TargetSummary {
    <# One row per known target (its TARGET line among $Line, the last one per name, or MISSING), then any other TARGET lines. #>
    param([AllowEmptyCollection()] [string[]] $Line = @())
    $found = [ordered]@{}
    foreach ($l in $Line) {
        if ("$l".Trim() -match $BenchTargetPattern) {
            $found[$Matches.name] = [pscustomobject]@{
                Target = $Matches.name; Value = $Matches.value; Goal = "$($Matches.op) $($Matches.limit)"; Result = $Matches.result
            }
        }
    }
    foreach ($name in @($BenchKnownTargets.Keys) + @($BenchOtherTargets.Keys)) {
        if ($found.Contains($name)) { $found[$name] }
        else { [pscustomobject]@{ Target = $name; Value = '-'; Goal = '-'; Result = 'MISSING (not measured)' } }
    }
    foreach ($name in $found.Keys) {
        if (-not $BenchKnownTargets.Contains($name) -and -not $BenchOtherTargets.Contains($name)) { $found[$name] }
    }
}

function Write-TargetSummary {
    param([AllowEmptyCollection()] [string[]] $Line = @())
    $rows = @(Get-TargetSummary -Line $Line)
    $w = [math]::Max(6, ($rows | ForEach-Object { $_.Target.Length } | Measure-Object -Maximum).Maximum)
    Write-Host ''
    Write-Host '==> Bench summary (issue #11 item 8 targets)' -ForegroundColor Cyan
    Write-Host ("{0} | {1,-10} | {2,-10} | {3}" -f 'target'.PadRight($w), 'value', 'goal', 'result')
    Write-Host ("{0}-|-{1}-|-{1}-|-{2}" -f ('-' * $w), ('-' * 10), ('-' * 22))
    foreach ($r in $rows) {
        $color = switch -Wildcard ($r.Result) { 'PASS' { 'Green' } 'MISS' { 'Red' } default { 'Yellow' } }
        Write-Host ("{0} | {1,-10} | {2,-10} | {3}" -f $r.Target.PadRight($w), $r.Value, $r.Goal, $r.Result) -ForegroundColor $color
    }
    $pass = @($rows | Where-Object Result -eq 'PASS').Count
    $miss = @($rows | Where-Object Result -eq 'MISS').Count
    $none = @($rows | Where-Object Result -like 'MISSING*').Count
    Write-Host ("targets: {0} PASS, {1} MISS, {2} not measured" -f $pass, $miss, $none)
}
