#!/usr/bin/env bash
# Phase 4M+ validation: Cross-Exchange Intelligence -> ExitBrain v3 integration (8 checks,
# suite phase4m_plus of scripts/validation_checks.json, shared with validate_phase4m_plus.ps1),
# then an informational look at the latest normalized state and the fail-safe alerts.
# Works against docker (quantum_redis container) or a local stack (REDIS_URL, API_URL).
set -euo pipefail
# shellcheck source=lib/validate_common.sh
source "$(dirname "$0")/lib/validate_common.sh"

run_suite phase4m_plus

normalized_key=$(python3 "$CHECKS_PY" get phase4m_plus report.normalized.key)
read -r -a shown <<<"$(python3 "$CHECKS_PY" get phase4m_plus report.normalized.fields | tr -d "[]',")"
alerts_key=$(python3 "$CHECKS_PY" get phase4m_plus report.alerts.key)
echo
echo "[CROSS-EXCHANGE STATE] latest normalized entry:"
pattern="^($(IFS='|'; echo "${shown[*]}"))\s"
{ newest_fields "$normalized_key" || true; } | paste - - | grep -E "$pattern" || echo "  (none)"
echo "[FAIL-SAFE MONITORING]"
alerts=$(xlen "$alerts_key" || true)
if [ "${alerts:-0}" -gt 0 ]; then
  echo "  ${alerts} alert(s); newest:"
  { newest_fields "$alerts_key" || true; } | paste - - | sed 's/^/  /'
else
  echo "  no fallback alerts (system operating normally)"
fi
summary "$(python3 "$CHECKS_PY" summary phase4m_plus)"
