#!/usr/bin/env bash
# Phase 4M validation: the 8 checks of the cross-exchange pipeline (collector -> raw ->
# aggregator -> normalized -> features -> loader -> /health -> running collector).
# Works against docker (quantum_redis container) or a local stack (REDIS_URL, API_URL).
set -euo pipefail
# shellcheck source=lib/validate_common.sh
source "$(dirname "$0")/lib/validate_common.sh"

collector_venues_connected() {
  local raw
  raw=$(rcli HGETALL "${PREFIX}collector.health" 2>/dev/null) || true
  [ -n "$raw" ] || { echo "(no collector heartbeat: is the collector running?)"; return 1; }
  python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
pairs = dict(zip(lines[0::2], lines[1::2]))
venues = {k: json.loads(v) for k, v in pairs.items() if not k.startswith("_")}
down = [k for k, v in venues.items() if v.get("state") != "connected" or not v.get("records")]
print(f"({len(venues) - len(down)}/{len(venues)} venues connected with data" + (f"; not: {down})" if down else ")"))
sys.exit(1 if down or not venues else 0)' <<<"$raw"
}

aggregator_keeping_up() {
  local groups
  groups=$(rcli XINFO GROUPS "${PREFIX}exchange.raw" 2>/dev/null) || true
  python3 -c '
import sys
lines = sys.stdin.read().splitlines()
info = {}
for i in range(0, len(lines) - 1, 2):
    info.setdefault(lines[i], lines[i + 1])
if info.get("name") != "aggregator":
    print("(no aggregator consumer group on exchange.raw)"); sys.exit(1)
lag, pending = info.get("lag", "0"), info.get("pending")
print(f"(group aggregator: pending {pending}, lag {lag})")
sys.exit(0 if lag in ("", "0") or int(lag) < 5000 else 1)' <<<"$groups"
}

collector_alive() {
  local ttl
  if [ "$MODE" = "docker" ]; then
    docker ps --format '{{.Names}}' | grep -qx quantum_cross_exchange || { echo "(container quantum_cross_exchange not running)"; return 1; }
  fi
  ttl=$(rcli TTL "${PREFIX}collector.health" 2>/dev/null | tr -dc '0-9-')
  echo "(heartbeat ttl ${ttl:-none}${ttl:+s})"
  [ -n "$ttl" ] && [ "$ttl" -gt 0 ]
}

header "PHASE 4M VALIDATION - Cross-Exchange Intelligence pipeline"
check 1 "Data collector: every venue connected and delivering" collector_venues_connected
check 2 "Raw stream ${PREFIX}exchange.raw has data" stream_nonempty "${PREFIX}exchange.raw"
check 3 "Aggregator consumer group is keeping up" aggregator_keeping_up
check 4 "Normalized stream has the documented schema" has_fields "${PREFIX}exchange.normalized" \
  symbol timestamp avg_price median_price price_divergence exchange_divergence funding_delta \
  avg_funding_rate volatility_factor num_exchanges best_bid best_ask arb_bps excluded
check 5 "Feature adapter publishes the 10 seed features" has_fields "${PREFIX}exchange.features" \
  avg_price price_divergence funding_delta price_momentum volatility_spread binance_bybit_ratio \
  hour day_of_week all_exchanges_active num_exchanges
check 6 "Feature loader serves cross-exchange features" json_check \
  "$API_URL/api/v1/features/${VALIDATE_SYMBOL:-BTCUSDT}?lookback=60" \
  "len(d['latest']) >= 10 and 'avg_price' in d['latest']" "latest vector loaded"
check 7 "AI engine /health: cross_exchange_intelligence true" json_check "$API_URL/health" \
  "d['metrics']['cross_exchange_intelligence'] is True" "true"
check 8 "Collector service running (heartbeat fresh)" collector_alive
summary "Phase 4M cross-exchange intelligence"
