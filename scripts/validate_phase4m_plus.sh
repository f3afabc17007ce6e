#!/usr/bin/env bash
# Phase 4M+ validation: Cross-Exchange Intelligence -> ExitBrain v3 integration (8 checks),
# then an informational look at the latest normalized state and the fail-safe alerts.
# Works against docker (quantum_redis container) or a local stack (REDIS_URL, API_URL).
set -euo pipefail
# shellcheck source=lib/validate_common.sh
source "$(dirname "$0")/lib/validate_common.sh"

status_fields() {
  has_fields "${PREFIX}exitbrain.status" timestamp cross_exchange_active data_age_seconds \
    volatility_factor exchange_divergence funding_delta atr_multiplier tp_multiplier \
    sl_multiplier use_trailing reasoning total_reads fail_count
}

adjustments_applied() {
  local reasoning
  reasoning=$(newest_fields "${PREFIX}exitbrain.status" | grep -A1 -x reasoning | tail -n 1)
  echo "(${reasoning:-no status})"
  grep -q "ATR×" <<<"$reasoning"
}

status_complete() {
  local fields reasoning
  fields=$(status_fields) || { echo "$fields"; return 1; }
  reasoning=$(adjustments_applied) || { echo "$reasoning"; return 1; }
  echo "$fields $reasoning"
}

header "PHASE 4M+ VALIDATION - Cross-Exchange -> ExitBrain v3 integration"
echo "[CROSS-EXCHANGE DATA]"
check 1 "Stream ${PREFIX}exchange.raw exists" stream_exists "${PREFIX}exchange.raw"
check 2 "exchange.raw has data (> 100 entries)" stream_nonempty "${PREFIX}exchange.raw" 100
check 3 "Stream ${PREFIX}exchange.normalized has entries" stream_nonempty "${PREFIX}exchange.normalized"
echo "[EXITBRAIN STATUS STREAM]"
check 4 "Stream ${PREFIX}exitbrain.status exists" stream_exists "${PREFIX}exitbrain.status"
check 5 "exitbrain.status has recent data (< ${MAX_STATUS_AGE_S:-60}s)" recent_entry \
  "${PREFIX}exitbrain.status" "${MAX_STATUS_AGE_S:-60}"
echo "[CROSS-EXCHANGE ADAPTER HEALTH]"
check 6 "/health reports the ExitBrain integration enabled" json_check "$API_URL/health" \
  "d['cross_exchange_exitbrain_integration']['enabled'] is True and set(d['cross_exchange_exitbrain_integration']['adapter_stats']) >= {'enabled','use_local_mode','total_reads','fail_count','last_update'}" \
  "enabled, adapter_stats complete"
check 7 "Adapter initialized and reading (total_reads > 0)" json_check "$API_URL/health" \
  "d['cross_exchange_exitbrain_integration']['adapter_stats']['total_reads'] > 0" "reading"
check 8 "Latest status entry complete, adjustments applied" status_complete

echo
echo "[CROSS-EXCHANGE STATE] latest normalized entry:"
{ newest_fields "${PREFIX}exchange.normalized" || true; } | paste - - | grep -E '^(symbol|volatility_factor|exchange_divergence|funding_delta|num_exchanges)\s' || echo "  (none)"
echo "[FAIL-SAFE MONITORING]"
alerts=$(xlen "${PREFIX}exitbrain.alerts" || true)
if [ "${alerts:-0}" -gt 0 ]; then
  echo "  ${alerts} alert(s); newest:"
  { newest_fields "${PREFIX}exitbrain.alerts" || true; } | paste - - | sed 's/^/  /'
else
  echo "  no fallback alerts (system operating normally)"
fi
summary "Phase 4M+ Cross-Exchange Intelligence -> ExitBrain v3"
