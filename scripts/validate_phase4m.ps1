# Phase 4M validation for Windows operators: the 8 checks of validate_phase4m.sh, read from
# scripts/validation_checks.json (suite phase4m), against the same REDIS_URL and API_URL.
#   $env:REDIS_URL = 'redis://127.0.0.1:6379/0'; .\scripts\validate_phase4m.ps1
# Untested here (no PowerShell on this project's CI): the bash script runs the same list.
. (Join-Path $PSScriptRoot 'lib/ValidateCommon.ps1')

$suite = Invoke-Suite 'phase4m'
Complete-Suite $suite
