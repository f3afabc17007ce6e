#!/usr/bin/env bash
# Phase 4M validation: the 8 checks of the cross-exchange pipeline (collector -> raw ->
# aggregator -> normalized -> features -> loader -> /health -> running collector), listed in
# scripts/validation_checks.json (suite phase4m; validate_phase4m.ps1 reads the same list).
# Works against docker (quantum_redis container) or a local stack (REDIS_URL, API_URL).
set -euo pipefail
# shellcheck source=lib/validate_common.sh
source "$(dirname "$0")/lib/validate_common.sh"

run_suite phase4m
summary "$(python3 "$CHECKS_PY" summary phase4m)"
