# The layering of DESIGN.md section 3, checked on the sources: a cmdlet class never uses another cmdlet's class
# (shared code lives in Infrastructure or the engine), and the engine never references PowerShell.
#
# The engine's rooms (DESIGN.md section 3): every folder of src/CcieDr.Engine that holds sources has a README.md
# saying what it owns and, on its "May use:" line, which other rooms its code may name. A room's code names
# another room when it mentions a top-level type declared there (namespace imports alone are not enough in C#:
# a parent namespace is visible without one, and Recovery/SnapshotEngine shares Recovery's namespace).

BeforeDiscovery {
    $repo = $env:CCIEDR_REPO_ROOT
    $commandFiles = @(Get-ChildItem -LiteralPath (Join-Path $repo 'src/CcieDr/Commands') -Filter '*Command.cs' | ForEach-Object {
        @{ Name = $_.BaseName; Path = $_.FullName }
    })

    $engineDir = Join-Path $repo 'src/CcieDr.Engine'
    $roomCases = @(Get-ChildItem -LiteralPath $engineDir -Recurse -Filter 'README.md' | Where-Object FullName -notmatch '[\\/](obj|bin)[\\/]' | ForEach-Object {
        $rel = [IO.Path]::GetRelativePath($engineDir, $_.DirectoryName).Replace('\', '/')
        @{ Room = $(if ($rel -eq '.') { '(root)' } else { $rel }) }
    })
}

BeforeAll {
    $repo = $env:CCIEDR_REPO_ROOT
    $allCommands = @(Get-ChildItem -LiteralPath (Join-Path $repo 'src/CcieDr/Commands') -Filter '*Command.cs' | ForEach-Object BaseName)

    $engine = Join-Path $repo 'src/CcieDr.Engine'

    # Rooms of an engine tree: relative folder ('(root)' for the top) -> the rooms its README's "May use:" line names.
    function Get-EngineRoom([string] $EngineDir) {
        $rooms = @{}
        foreach ($readme in @(Get-ChildItem -LiteralPath $EngineDir -Recurse -Filter 'README.md' | Where-Object FullName -notmatch '[\\/](obj|bin)[\\/]')) {
            $rel = [IO.Path]::GetRelativePath($EngineDir, $readme.DirectoryName).Replace('\', '/')
            $name = if ($rel -eq '.') { '(root)' } else { $rel }
            $lines = @(Get-Content -LiteralPath $readme.FullName | Where-Object { $_ -match '^May use:' })
            if ($lines.Count -ne 1) {
                throw "$($readme.FullName) must have exactly one line starting 'May use:' (found $($lines.Count))."
            }

            $rooms[$name] = @([regex]::Matches($lines[0], '`([^`]+)`') | ForEach-Object { $_.Groups[1].Value })
        }

        $rooms
    }

    # The room a source file belongs to: its nearest folder with a README.
    function Get-RoomOf([string] $EngineDir, [string] $File, [hashtable] $Rooms) {
        $dir = [IO.Path]::GetRelativePath($EngineDir, [IO.Path]::GetDirectoryName($File)).Replace('\', '/')
        while ($dir -and $dir -ne '.') {
            if ($Rooms.ContainsKey($dir)) { return $dir }
            $dir = if ($dir.Contains('/')) { $dir.Substring(0, $dir.LastIndexOf('/')) } else { '.' }
        }

        '(root)'
    }

    function Get-EngineSource([string] $EngineDir) {
        @(Get-ChildItem -LiteralPath $EngineDir -Recurse -Filter '*.cs' | Where-Object FullName -notmatch '[\\/](obj|bin)[\\/]')
    }

    # Code without whole-line comments and string literals, so prose and messages do not count as references.
    function Get-CodeText([string] $Path) {
        $text = Get-Content -LiteralPath $Path -Raw
        $text = [regex]::Replace($text, '(?m)^\s*//.*$', '')
        [regex]::Replace($text, '"(?:\\.|[^"\\\r\n])*"', '""')
    }

    # Every reference of a room to a type of a room its README does not list; the root (CcieException) is open to all.
    function Get-LayeringViolation([string] $EngineDir) {
        $rooms = Get-EngineRoom $EngineDir
        $files = Get-EngineSource $EngineDir
        $owner = @{}
        $declaration = '(?m)^(?:    )?(?:(?:public|internal|static|sealed|abstract|partial|readonly|ref|unsafe|file)\s+)*(?:record\s+struct|record\s+class|class|struct|enum|record|interface)\s+([A-Z]\w*)'
        foreach ($file in $files) {
            $room = Get-RoomOf $EngineDir $file.FullName $rooms
            foreach ($m in [regex]::Matches((Get-Content -LiteralPath $file.FullName -Raw), $declaration)) {
                $type = $m.Groups[1].Value
                if (-not $owner.ContainsKey($type)) { $owner[$type] = [Collections.Generic.HashSet[string]]::new() }
                [void]$owner[$type].Add($room)
            }
        }

        foreach ($file in $files) {
            $room = Get-RoomOf $EngineDir $file.FullName $rooms
            $used = @{}
            foreach ($word in @([regex]::Matches((Get-CodeText $file.FullName), '\b[A-Z]\w*\b') | ForEach-Object Value | Sort-Object -Unique)) {
                if (-not $owner.ContainsKey($word) -or $owner[$word].Count -ne 1) { continue } # unknown, or declared in two rooms
                $other = @($owner[$word])[0]
                if ($other -ne $room -and $other -ne '(root)' -and $rooms[$room] -notcontains $other) {
                    $used[$other] = @($used[$other]) + $word | Where-Object { $_ }
                }
            }

            foreach ($other in $used.Keys) {
                $rel = [IO.Path]::GetRelativePath($EngineDir, $file.FullName).Replace('\', '/')
                "$rel uses $other ($(@($used[$other]) -join ', ')); $room may use: $(if ($rooms[$room]) { $rooms[$room] -join ', ' } else { 'nothing' })"
            }
        }
    }
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

Describe 'the engine rooms' -Tag 'Layering' {
    It 'the checker reports a room that reaches where its README does not allow (so the checks below can fail)' {
        $fake = Join-Path $TestDrive 'engine'
        foreach ($d in 'Low', 'High') { New-Item -ItemType Directory -Path (Join-Path $fake $d) -Force | Out-Null }
        Set-Content -LiteralPath (Join-Path $fake 'README.md') -Value "# root`n`nMay use: nothing."
        Set-Content -LiteralPath (Join-Path $fake 'Low/README.md') -Value "# Low`n`nMay use: nothing."
        Set-Content -LiteralPath (Join-Path $fake 'High/README.md') -Value "# High`n`nMay use: ``Low``."
        Set-Content -LiteralPath (Join-Path $fake 'Low/Base.cs') -Value "namespace X.Low`n{`n    // HighThing in a comment does not count`n    public sealed class LowThing { public object Up() => new HighThing(); }`n}"
        Set-Content -LiteralPath (Join-Path $fake 'High/Top.cs') -Value "namespace X.High`n{`n    public sealed class HighThing { public LowThing Down() => new LowThing(); }`n}"
        $found = @(Get-LayeringViolation $fake)
        $found.Count | Should -Be 1
        $found[0] | Should -BeLike 'Low/Base.cs uses High (HighThing); Low may use: nothing'
    }

    It 'every engine folder with sources is a room with a README and a May use line' {
        $rooms = Get-EngineRoom $engine
        $rooms.Count | Should -BeGreaterThan 10
        $folders = @(Get-EngineSource $engine | ForEach-Object { [IO.Path]::GetRelativePath($engine, $_.DirectoryName).Replace('\', '/') } | Sort-Object -Unique |
            ForEach-Object { if ($_ -eq '.') { '(root)' } else { $_ } })
        @($folders | Where-Object { -not $rooms.ContainsKey($_) }) | Should -BeNullOrEmpty -Because 'each folder of sources says in its README.md what it owns and what it may use'
        @($rooms.Values | ForEach-Object { $_ } | Where-Object { -not $rooms.ContainsKey($_) }) | Should -BeNullOrEmpty -Because 'a May use line names existing rooms'
    }

    It 'the May use lines form no cycle' {
        $rooms = Get-EngineRoom $engine
        $state = @{}
        function Visit([string] $room, [string[]] $path) {
            if ($state[$room] -eq 'done') { return }
            if ($state[$room] -eq 'open') { throw "cycle: $(($path + $room) -join ' -> ')" }
            $state[$room] = 'open'
            foreach ($next in $rooms[$room]) { Visit $next ($path + $room) }
            $state[$room] = 'done'
        }

        { foreach ($room in @($rooms.Keys)) { Visit $room @() } } | Should -Not -Throw
    }

    It 'keeps the archive layers: codecs use only Common, Common nothing, Backup and Restore not each other' {
        $rooms = Get-EngineRoom $engine
        foreach ($codec in 'Archive/Tar', 'Archive/Bzip2', 'Archive/Zstd') {
            $rooms[$codec] | Should -Be @('Archive/Common') -Because "$codec is a format: streams in, streams out"
        }

        $rooms['Archive/Common'] | Should -BeNullOrEmpty
        $rooms['Archive/Backup'] | Should -Not -Contain 'Archive/Restore'
        $rooms['Archive/Restore'] | Should -Not -Contain 'Archive/Backup'
    }

    It '<Room> names only the rooms its README allows' -ForEach $roomCases {
        $script:engineViolations ??= @(Get-LayeringViolation $engine)
        $mine = @($script:engineViolations | Where-Object { $_.Contains("; $Room may use: ") })
        $mine | Should -BeNullOrEmpty
    }

    It 'Archive/ holds no source of its own and each archive room''s namespace matches its folder' {
        $archive = Join-Path $engine 'Archive'
        @(Get-ChildItem -LiteralPath $archive -Filter '*.cs' -File) | Should -BeNullOrEmpty -Because 'a type in CcieDr.Engine.Archive is visible to every room; put it in a room (Common if several use it)'
        $wrong = @(Get-ChildItem -LiteralPath $archive -Recurse -Filter '*.cs' | Where-Object FullName -notmatch '[\\/](obj|bin)[\\/]' | ForEach-Object {
            $room = [IO.Path]::GetRelativePath($archive, $_.DirectoryName).Replace('\', '/').Replace('/', '.')
            $expected = "CcieDr.Engine.Archive.$room"
            $declared = @(Select-String -LiteralPath $_.FullName -Pattern '^namespace\s+([\w.]+)' | ForEach-Object { $_.Matches[0].Groups[1].Value })
            if ($declared.Count -eq 0 -or @($declared | Where-Object { $_ -ne $expected }).Count -gt 0) { "$($_.Name): $($declared -join ', ') (expected $expected)" }
        })
        $wrong | Should -BeNullOrEmpty
    }

    It 'only Archive/Storage calls S3; the other archive rooms only pass an IAmazonS3 along' {
        $s3Call = 'Amazon\.S3\.(Model|Transfer|Util)|Amazon\.Runtime|\.(GetObject|PutObject|ListObjects|ListObjectsV2|DeleteObject|DeleteObjects|HeadObject|GetObjectMetadata|CopyObject|InitiateMultipartUpload|UploadPart|CompleteMultipartUpload|AbortMultipartUpload|ListParts)Async\('
        $files = @(Get-ChildItem -LiteralPath (Join-Path $engine 'Archive') -Recurse -Filter '*.cs' | Where-Object FullName -notmatch '[\\/](obj|bin|Storage)[\\/]')
        $files.Count | Should -BeGreaterThan 20
        $hits = @($files | Where-Object { (Get-CodeText $_.FullName) -match $s3Call } | ForEach-Object Name)
        $hits | Should -BeNullOrEmpty
        @(Get-ChildItem -LiteralPath (Join-Path $engine 'Archive/Storage') -Filter '*.cs' | Where-Object { (Get-CodeText $_.FullName) -match $s3Call }).Count | Should -BeGreaterThan 0 -Because 'the pattern finds the S3 calls Storage makes'
    }
}
