# Phase 4M+ validation for Windows operators: the 8 checks of validate_phase4m_plus.sh, read
# from scripts/validation_checks.json (suite phase4m_plus), then the latest normalized state
# and the fail-safe alerts, against the same REDIS_URL and API_URL.
# Untested here (no PowerShell on this project's CI): the bash script runs the same list.
. (Join-Path $PSScriptRoot 'lib/ValidateCommon.ps1')

$suite = Invoke-Suite 'phase4m_plus'

Write-Output ''
Write-Output '[CROSS-EXCHANGE STATE] latest normalized entry:'
$report = $suite.report
$fields = Get-NewestFields (Expand-Placeholders $report.normalized.key)
if ($null -eq $fields) { Write-Output '  (none)' }
else { foreach ($name in $report.normalized.fields) { if ($fields.Contains($name)) { Write-Output "$name`t$($fields[$name])" } } }
Write-Output '[FAIL-SAFE MONITORING]'
$alertsKey = Expand-Placeholders $report.alerts.key
$alerts = Get-StreamLength $alertsKey
if ($alerts -gt 0) {
    Write-Output "  $alerts alert(s); newest:"
    $newest = Get-NewestFields $alertsKey
    foreach ($name in $newest.Keys) { Write-Output "  $name`t$($newest[$name])" }
} else {
    Write-Output '  no fallback alerts (system operating normally)'
}
Complete-Suite $suite
