# Shared helpers of the PowerShell validators (Windows PowerShell 5.1 and PowerShell 7).
# The checks are the ones of the bash scripts, read from scripts/validation_checks.json.
# Where the checks look (as in lib/validate_common.sh):
#   Redis: $env:REDIS_URL (redis-cli -u), else the docker container $env:REDIS_CONTAINER
#          (quantum_redis) when it runs, else redis-cli -h $env:REDIS_HOST -p $env:REDIS_PORT.
#   API:   $env:API_URL, else http://localhost:$env:API_PORT (8001)
#   Shards: $env:STREAM_SHARDS, else its line in $env:ENV_FILE (the repo's .env), else 1. With
#          N > 1 a sharded stream ("sharded" in validation_checks.json) is N keys <stream>:{i}:
#          lengths summed, the newest entry of every shard, the group on every shard, lag summed.
# Needs redis-cli on PATH (or docker). NOT TESTED HERE: no PowerShell on the project's CI; the
# bash scripts run the same list in the test suite.

$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8

$Script:Prefix = if ($env:STREAM_PREFIX) { $env:STREAM_PREFIX } else { 'quantum:stream:' }
$Script:ApiPort = if ($env:API_PORT) { $env:API_PORT } else { '8001' }
$Script:ApiUrl = if ($env:API_URL) { $env:API_URL } else { "http://localhost:$($Script:ApiPort)" }
$Script:RedisContainer = if ($env:REDIS_CONTAINER) { $env:REDIS_CONTAINER } else { 'quantum_redis' }
$Script:EnvFile = if ($env:ENV_FILE) { $env:ENV_FILE } else { Join-Path (Split-Path -Parent (Split-Path -Parent $PSScriptRoot)) '.env' }

function Get-Setting([string]$Name, [string]$Default) {
    # the environment's value, else the last NAME= line of $Script:EnvFile, else $Default
    $value = [Environment]::GetEnvironmentVariable($Name)
    if (-not $value -and (Test-Path -LiteralPath $Script:EnvFile)) {
        $line = Get-Content -LiteralPath $Script:EnvFile | Where-Object { $_ -match "^$Name=" } | Select-Object -Last 1
        if ($line) { $value = ($line -replace "^$Name=", '').Trim().Trim('"', "'") }
    }
    if ($value) { return $value } else { return $Default }
}

$Script:Shards = Get-Setting 'STREAM_SHARDS' '1'
if (-not ($Script:Shards -match '^[1-9][0-9]*$')) { Write-Output "STREAM_SHARDS must be a positive integer, got '$($Script:Shards)'"; exit 2 }
$Script:Shards = [int]$Script:Shards
$Script:Passed = 0
$Script:Failed = 0
$Script:FailedNames = @()

function Test-DockerContainer([string]$Name) {
    if (-not (Get-Command docker -ErrorAction SilentlyContinue)) { return $false }
    $names = & docker ps --format '{{.Names}}' 2>$null
    return [bool]($names | Where-Object { $_ -eq $Name })
}

$Script:Mode = if ($env:REDIS_URL) { 'redis-url' }
    elseif (Test-DockerContainer $Script:RedisContainer) { 'docker' }
    else { 'local' }

function Invoke-Rcli {
    # redis-cli with the script's connection; one output line per value, $null on failure
    $argList = @($args)
    try {
        switch ($Script:Mode) {
            'redis-url' { $out = & redis-cli -c --no-auth-warning -u $env:REDIS_URL @argList 2>$null }
            'docker' { $out = & docker exec $Script:RedisContainer redis-cli -c @argList 2>$null }
            default {
                $hostName = if ($env:REDIS_HOST) { $env:REDIS_HOST } else { '127.0.0.1' }
                $port = if ($env:REDIS_PORT) { $env:REDIS_PORT } else { '6379' }
                $out = & redis-cli -c -h $hostName -p $port @argList 2>$null
            }
        }
    } catch { return $null }
    if ($LASTEXITCODE -ne 0) { return $null }
    return @($out)
}

function Expand-Placeholders($Value) {
    if ($Value -is [string]) {
        $symbol = if ($env:VALIDATE_SYMBOL) { $env:VALIDATE_SYMBOL } else { 'BTCUSDT' }
        $age = if ($env:MAX_STATUS_AGE_S) { $env:MAX_STATUS_AGE_S } else { '60' }
        return $Value.Replace('{prefix}', $Script:Prefix).Replace('{symbol}', $symbol).Replace('{max_status_age_s}', $age)
    }
    return $Value
}

function Get-Checks {
    $path = Join-Path (Split-Path -Parent $PSScriptRoot) 'validation_checks.json'
    return Get-Content -Raw -Encoding UTF8 -Path $path | ConvertFrom-Json
}

function Get-Suite([string]$Name) {
    return (Get-Checks).suites.$Name
}

$Script:Sharded = @((Get-Checks).sharded | ForEach-Object { "$($Script:Prefix)$_" })

function Get-ShardKeys([string]$Key) {
    # the Redis keys of $Key's stream: <stream>:{0..N-1} when it is sharded and N > 1
    if ($Script:Shards -gt 1 -and $Script:Sharded -contains $Key) {
        return @(0..($Script:Shards - 1) | ForEach-Object { "${Key}:{$_}" })
    }
    return @($Key)
}

function Get-Pairs($Lines) {
    # redis-cli key/value lines -> ordered list of @(key, value)
    $pairs = @()
    if ($null -eq $Lines) { return $pairs }
    for ($i = 0; $i + 1 -lt $Lines.Count; $i += 2) { $pairs += , @($Lines[$i], $Lines[$i + 1]) }
    return $pairs
}

function Get-StreamLength([string]$Key) {
    # summed over the shards; $null when Redis does not answer
    $total = [int64]0
    foreach ($shard in (Get-ShardKeys $Key)) {
        $out = Invoke-Rcli XLEN $shard
        if ($null -eq $out -or -not ("$out" -match '^\d+$')) { return $null }
        $total += [int64]"$out"
    }
    return $total
}

function Get-NewestKey([string]$Key) {
    # the shard holding the newest entry ($Key itself when unsharded or all are empty)
    $best = $Key; $bestMs = [int64]-1; $bestSeq = [int64]-1
    foreach ($shard in (Get-ShardKeys $Key)) {
        $out = Invoke-Rcli XREVRANGE $shard + - COUNT 1
        if ($null -eq $out -or $out.Count -eq 0) { continue }
        $parts = ("$($out[0])".Trim()) -split '-'
        $ms = [int64]$parts[0]; $seq = [int64]$parts[1]
        if ($ms -gt $bestMs -or ($ms -eq $bestMs -and $seq -gt $bestSeq)) { $best = $shard; $bestMs = $ms; $bestSeq = $seq }
    }
    return $best
}

function Get-NewestFields([string]$Key) {
    $out = Invoke-Rcli XREVRANGE (Get-NewestKey $Key) + - COUNT 1
    if ($null -eq $out -or $out.Count -lt 3) { return $null }
    $fields = [ordered]@{}
    foreach ($pair in (Get-Pairs ($out[1..($out.Count - 1)]))) { $fields[$pair[0]] = $pair[1] }
    return $fields
}

# --- one function per check kind: each returns @($passed, "(detail)")

function Test-VenuesConnected($c) {
    $out = Invoke-Rcli HGETALL $c.key
    if ($null -eq $out -or $out.Count -eq 0) { return @($false, '(no collector heartbeat: is the collector running?)') }
    $venues = 0; $down = @()
    foreach ($pair in (Get-Pairs $out)) {
        if ($pair[0].StartsWith('_')) { continue }
        $venues++
        $state = $pair[1] | ConvertFrom-Json
        if ($state.state -ne 'connected' -or -not $state.records) { $down += $pair[0] }
    }
    $note = if ($down.Count) { "; not: $($down -join ', '))" } else { ')' }
    return @(($venues -gt 0 -and $down.Count -eq 0), "($($venues - $down.Count)/$venues venues connected with data$note")
}

function Test-StreamExists($c) {
    $keys = Get-ShardKeys $c.key
    if ($keys.Count -gt 1) {  # with shards: at least one shard is a stream
        $found = @($keys | Where-Object { "$(Invoke-Rcli TYPE $_)".Trim() -eq 'stream' }).Count
        return @(($found -gt 0), "(type stream on $found/$($keys.Count) shards)")
    }
    $kind = Invoke-Rcli TYPE $c.key
    $text = if ($null -eq $kind) { '?' } else { "$kind".Trim() }
    return @(($text -eq 'stream'), "(type $text)")
}

function Test-StreamNonempty($c) {
    $n = Get-StreamLength $c.key
    if ($null -eq $n) { return @($false, '(redis unreachable)') }
    return @(($n -gt [int64]$c.min), "(length $n)")
}

function Get-GroupInfo([string]$Key, [string]$Group) {
    $out = Invoke-Rcli XINFO GROUPS $Key
    $groups = @(); $current = $null
    foreach ($pair in (Get-Pairs $out)) {
        if ($pair[0] -eq 'name') { $current = @{}; $groups += $current }
        if ($null -ne $current) { $current[$pair[0]] = $pair[1] }
    }
    return $groups | Where-Object { $_['name'] -eq $Group } | Select-Object -First 1
}

function Test-ShardedGroupLag($c, $Keys) {
    # the group on every shard, pending and lag summed (an empty lag counts as 0)
    $lag = [int64]0; $pending = [int64]0; $missing = @()
    for ($i = 0; $i -lt $Keys.Count; $i++) {
        $info = Get-GroupInfo $Keys[$i] $c.group
        if ($null -eq $info) { $missing += "$i"; continue }
        $one = if ("$($info['lag'])") { "$($info['lag'])" } else { '0' }
        if (-not ($one -match '^\d+$')) { return @($false, "(group $($c.group): unreadable lag $one)") }
        $lag += [int64]$one; $pending += [int64]"$($info['pending'])"
    }
    if ($missing.Count) { return @($false, "(no $($c.group) consumer group on shard(s) $($missing -join ', ') of $($Keys.Count))") }
    return @(($lag -lt [int64]$c.max_lag), "(group $($c.group): pending $pending, lag $lag over $($Keys.Count) shards)")
}

function Test-GroupLag($c) {
    $keys = Get-ShardKeys $c.key
    if ($keys.Count -gt 1) { return Test-ShardedGroupLag $c $keys }
    $info = Get-GroupInfo $c.key $c.group
    if ($null -eq $info) { return @($false, "(no $($c.group) consumer group)") }
    $lag = "$($info['lag'])"
    $ok = ($lag -eq '' -or $lag -eq '0' -or ($lag -match '^\d+$' -and [int64]$lag -lt [int64]$c.max_lag))
    $shown = if ($lag) { $lag } else { '0' }
    return @($ok, "(group $($c.group): pending $($info['pending']), lag $shown)")
}

function Test-HasFields($c) {
    $fields = Get-NewestFields $c.key
    if ($null -eq $fields) { return @($false, '(no entries)') }
    $missing = @($c.fields | Where-Object { -not $fields.Contains($_) })
    if ($missing.Count) { return @($false, "(missing: $($missing -join ' '))") }
    if ($c.contains) {
        foreach ($prop in $c.contains.PSObject.Properties) {
            $got = "$($fields[$prop.Name])"
            if (-not $got.Contains([string]$prop.Value)) {
                return @($false, "(all $($c.fields.Count) fields; $($prop.Name) lacks '$($prop.Value)')")
            }
        }
    }
    return @($true, "(all $($c.fields.Count) fields)")
}

function Test-RecentEntry($c) {
    $out = Invoke-Rcli XREVRANGE (Get-NewestKey $c.key) + - COUNT 1
    if ($null -eq $out -or $out.Count -eq 0) { return @($false, '(no entries)') }
    $idMs = [int64](("$($out[0])".Trim()) -split '-')[0]
    $now = [int64]"$((Invoke-Rcli TIME)[0])".Trim()
    $age = $now - [math]::Floor($idMs / 1000)
    return @(($age -le [int64](Expand-Placeholders $c.max_age_s)), "(newest ${age}s old)")
}

function Test-Heartbeat($c) {
    if ($Script:Mode -eq 'docker' -and $c.container) {
        if (-not (Test-DockerContainer $c.container)) { return @($false, "(container $($c.container) not running)") }
    }
    $ttl = "$(Invoke-Rcli TTL $c.key)".Trim()
    if (-not ($ttl -match '^-?\d+$')) { return @($false, '(heartbeat ttl none)') }
    return @(([int]$ttl -gt 0), "(heartbeat ttl ${ttl}s)")
}

function Get-JsonPath($Data, [string]$Path) {
    foreach ($part in $Path.Split('.')) {
        if ($null -eq $Data -or -not ($Data.PSObject.Properties.Name -contains $part)) { throw "KeyError: '$Path'" }
        $Data = $Data.$part
    }
    return , $Data
}

function Test-Expectation($Data, $Rule) {
    $value = Get-JsonPath $Data $Rule.path
    switch ($Rule.op) {
        'eq' { return ($value -is [bool] -and $Rule.value -is [bool] -and $value -eq $Rule.value) -or (-not ($Rule.value -is [bool]) -and $value -eq $Rule.value) }
        'gt' { return (($value -is [int] -or $value -is [long] -or $value -is [double] -or $value -is [decimal]) -and $value -gt $Rule.value) }
        'min_len' {
            if ($value -is [string]) { return $value.Length -ge $Rule.value }
            if ($value -is [array]) { return $value.Count -ge $Rule.value }
            return @($value.PSObject.Properties).Count -ge $Rule.value
        }
        'has_keys' {
            $names = @($value.PSObject.Properties.Name)
            return -not ($Rule.value | Where-Object { $names -notcontains $_ })
        }
        default { throw "unknown op $($Rule.op)" }
    }
}

function Test-Json($c) {
    $url = "$($Script:ApiUrl)$($c.path)"
    try { $data = Invoke-RestMethod -Uri $url -TimeoutSec 5 -UseBasicParsing }
    catch { return @($false, "(no answer from $url)") }
    try {
        foreach ($rule in $c.expect) {
            if (-not (Test-Expectation $data $rule)) {
                $text = ($data | ConvertTo-Json -Depth 4 -Compress)
                return @($false, "(got: $($text.Substring(0, [math]::Min(160, $text.Length))))")
            }
        }
    } catch { return @($false, "($($_.Exception.Message))") }
    return @($true, "($($c.label))")
}

$Script:Kinds = @{
    venues_connected = 'Test-VenuesConnected'; stream_exists = 'Test-StreamExists'
    stream_nonempty = 'Test-StreamNonempty'; group_lag = 'Test-GroupLag'; has_fields = 'Test-HasFields'
    recent_entry = 'Test-RecentEntry'; heartbeat = 'Test-Heartbeat'; http_json = 'Test-Json'
}

function Invoke-Check($c) {
    $name = Expand-Placeholders $c.name
    foreach ($prop in @('key', 'path')) {
        if ($c.PSObject.Properties.Name -contains $prop) { $c.$prop = Expand-Placeholders $c.$prop }
    }
    $fn = $Script:Kinds[$c.kind]
    if (-not $fn) { throw "unknown check kind $($c.kind)" }
    try { $result = & $fn $c } catch { $result = @($false, "($($_.Exception.Message))") }
    $verdict = if ($result[0]) { 'PASS' } else { 'FAIL' }
    '[{0}] {1,-58} {2} {3}' -f $c.n, $name, $verdict, $result[1] | Write-Output
    if ($result[0]) { $Script:Passed++ } else { $Script:Failed++; $Script:FailedNames += "[$($c.n)] $name" }
}

function Invoke-Suite([string]$Name) {
    $suite = Get-Suite $Name
    $line = '=' * 70
    Write-Output $line; Write-Output $suite.title; Write-Output $line
    $note = if ($Script:Shards -gt 1) { "   shards: $($Script:Shards)" } else { '' }
    Write-Output "redis: $($Script:Mode)   api: $($Script:ApiUrl)   prefix: $($Script:Prefix)$note"
    Write-Output ''
    foreach ($c in $suite.checks) {
        if ($c.section) { Write-Output "[$($c.section)]" }
        Invoke-Check $c
    }
    return $suite
}

function Complete-Suite($Suite) {
    Write-Output ''
    Write-Output "Checks run: $($Script:Passed + $Script:Failed)   passed: $($Script:Passed)   failed: $($Script:Failed)"
    if ($Script:Failed -gt 0) {
        Write-Output 'FAILED checks:'
        $Script:FailedNames | ForEach-Object { Write-Output "  $_" }
        Write-Output "VALIDATION FAILED: $($Suite.summary)"
        exit 1
    }
    Write-Output "VALIDATION PASSED: $($Suite.summary)"
    exit 0
}
