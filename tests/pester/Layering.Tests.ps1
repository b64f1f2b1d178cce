# The layering of DESIGN.md section 3, checked on the sources: a cmdlet class never uses another cmdlet's class
# (shared code lives in Infrastructure or the engine), and the engine never references PowerShell.

BeforeDiscovery {
    $repo = $env:CCIEDR_REPO_ROOT
    $commandFiles = @(Get-ChildItem -LiteralPath (Join-Path $repo 'src/CcieDr/Commands') -Filter '*Command.cs' | ForEach-Object {
        @{ Name = $_.BaseName; Path = $_.FullName }
    })
}

BeforeAll {
    $repo = $env:CCIEDR_REPO_ROOT
    $allCommands = @(Get-ChildItem -LiteralPath (Join-Path $repo 'src/CcieDr/Commands') -Filter '*Command.cs' | ForEach-Object BaseName)
}

Describe 'cmdlet classes' -Tag 'Layering' {
    It 'finds the cmdlet sources (so the checks below can fail)' {
        $allCommands.Count | Should -BeGreaterThan 10
    }

    It '<Name> uses no other cmdlet class' -ForEach $commandFiles {
        $text = Get-Content -LiteralPath $Path -Raw
        $others = @($allCommands | Where-Object { $_ -ne $Name -and $text -match "\b$_\b" })
        $others | Should -BeNullOrEmpty -Because "$Name must not depend on another cmdlet's class; move shared code to Infrastructure or the engine"
    }
}

Describe 'the engine' -Tag 'Layering' {
    It 'references no PowerShell assembly or namespace' {
        $engine = Join-Path $repo 'src/CcieDr.Engine'
        (Get-Content -LiteralPath (Join-Path $engine 'CcieDr.Engine.csproj') -Raw) | Should -Not -Match 'PowerShell'
        $files = @(Get-ChildItem -LiteralPath $engine -Recurse -Filter '*.cs' | Where-Object FullName -notmatch '[\\/](obj|bin)[\\/]')
        $files.Count | Should -BeGreaterThan 10
        $hits = @($files | Select-String -Pattern '^\s*using\s+(static\s+)?System\.Management\.Automation' | ForEach-Object { "$($_.Path):$($_.LineNumber)" })
        $hits | Should -BeNullOrEmpty
    }
}
