# Shared helpers of the PowerShell validators (Windows PowerShell 5.1 and PowerShell 7).
# The checks are the ones of the bash scripts, read from scripts/validation_checks.json.
# Where the checks look (as in lib/validate_common.sh):
#   Redis: $env:REDIS_URL (redis-cli -u), else the docker container $env:REDIS_CONTAINER
#          (quantum_redis) when it runs, else redis-cli -h $env:REDIS_HOST -p $env:REDIS_PORT.
#   API:   $env:API_URL, else http://localhost:$env:API_PORT (8001)
# Needs redis-cli on PATH (or docker). NOT TESTED HERE: no PowerShell on the project's CI; the
# bash scripts run the same list in the test suite.

$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8

$Script:Prefix = if ($env:STREAM_PREFIX) { $env:STREAM_PREFIX } else { 'quantum:stream:' }
$Script:ApiPort = if ($env:API_PORT) { $env:API_PORT } else { '8001' }
$Script:ApiUrl = if ($env:API_URL) { $env:API_URL } else { "http://localhost:$($Script:ApiPort)" }
$Script:RedisContainer = if ($env:REDIS_CONTAINER) { $env:REDIS_CONTAINER } else { 'quantum_redis' }
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
            'redis-url' { $out = & redis-cli --no-auth-warning -u $env:REDIS_URL @argList 2>$null }
            'docker' { $out = & docker exec $Script:RedisContainer redis-cli @argList 2>$null }
            default {
                $hostName = if ($env:REDIS_HOST) { $env:REDIS_HOST } else { '127.0.0.1' }
                $port = if ($env:REDIS_PORT) { $env:REDIS_PORT } else { '6379' }
                $out = & redis-cli -h $hostName -p $port @argList 2>$null
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

function Get-Suite([string]$Name) {
    $path = Join-Path (Split-Path -Parent $PSScriptRoot) 'validation_checks.json'
    $all = Get-Content -Raw -Encoding UTF8 -Path $path | ConvertFrom-Json
    return $all.suites.$Name
}

function Get-Pairs($Lines) {
    # redis-cli key/value lines -> ordered list of @(key, value)
    $pairs = @()
    if ($null -eq $Lines) { return $pairs }
    for ($i = 0; $i + 1 -lt $Lines.Count; $i += 2) { $pairs += , @($Lines[$i], $Lines[$i + 1]) }
    return $pairs
}

function Get-StreamLength([string]$Key) {
    $out = Invoke-Rcli XLEN $Key
    if ($null -eq $out -or -not ("$out" -match '^\d+$')) { return $null }
    return [int64]"$out"
}

function Get-NewestFields([string]$Key) {
    $out = Invoke-Rcli XREVRANGE $Key + - COUNT 1
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
    $kind = Invoke-Rcli TYPE $c.key
    $text = if ($null -eq $kind) { '?' } else { "$kind".Trim() }
    return @(($text -eq 'stream'), "(type $text)")
}

function Test-StreamNonempty($c) {
    $n = Get-StreamLength $c.key
    if ($null -eq $n) { return @($false, '(redis unreachable)') }
    return @(($n -gt [int64]$c.min), "(length $n)")
}

function Test-GroupLag($c) {
    $out = Invoke-Rcli XINFO GROUPS $c.key
    $groups = @(); $current = $null
    foreach ($pair in (Get-Pairs $out)) {
        if ($pair[0] -eq 'name') { $current = @{}; $groups += $current }
        if ($null -ne $current) { $current[$pair[0]] = $pair[1] }
    }
    $info = $groups | Where-Object { $_['name'] -eq $c.group } | Select-Object -First 1
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
    $out = Invoke-Rcli XREVRANGE $c.key + - COUNT 1
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
    Write-Output "redis: $($Script:Mode)   api: $($Script:ApiUrl)   prefix: $($Script:Prefix)"
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
