#!/usr/bin/env bash
# Shared helpers of the validation scripts. Where the checks look:
#   Redis: $REDIS_URL (redis-cli -u), else the docker container $REDIS_CONTAINER (quantum_redis)
#          when it is running, else redis-cli -h $REDIS_HOST -p $REDIS_PORT (127.0.0.1:6379).
#   API:   $API_URL, else http://localhost:$API_PORT (8001)
#   Shards: $STREAM_SHARDS, else its line in $ENV_FILE (the repo's .env), else 1. With N > 1 a
#          sharded stream is N keys <stream>:{0} .. <stream>:{N-1} (the list is "sharded" in
#          validation_checks.json): lengths are summed, "newest entry" is the newest of every
#          shard, a consumer group must exist on every shard and its lag is summed.
# Each check prints one PASS/FAIL line; `summary` prints the totals and sets the exit status.
# The checks themselves are listed in scripts/validation_checks.json (shared with the .ps1
# validators); `run_suite NAME` runs one suite of it through the functions below.
# Data goes to python3 on stdin, never as an argument: an argument is limited to 128 KB
# (MAX_ARG_STRLEN) and /features answers grow past that within a minute of running.

PREFIX="${STREAM_PREFIX:-quantum:stream:}"
CHECKS_PY="$(dirname "${BASH_SOURCE[0]}")/validation_checks.py"
ENV_FILE="${ENV_FILE:-$(dirname "${BASH_SOURCE[0]}")/../../.env}"
API_URL="${API_URL:-http://localhost:${API_PORT:-8001}}"
REDIS_CONTAINER="${REDIS_CONTAINER:-quantum_redis}"
PASSED=0
FAILED=0
FAILED_NAMES=()

if [ -n "${REDIS_URL:-}" ]; then
  MODE="redis-url"
elif command -v docker >/dev/null 2>&1 && docker ps --format '{{.Names}}' 2>/dev/null | grep -qx "$REDIS_CONTAINER"; then
  MODE="docker"
else
  MODE="local"
fi

setting() {  # setting NAME DEFAULT: the environment's value, else $ENV_FILE's, else DEFAULT
  local value="${!1:-}"
  if [ -z "$value" ] && [ -f "$ENV_FILE" ]; then
    value=$(sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1 | tr -d "\"'\r ")
  fi
  echo "${value:-$2}"
}

SHARDS=$(setting STREAM_SHARDS 1)
[[ "$SHARDS" =~ ^[1-9][0-9]*$ ]] || { echo "STREAM_SHARDS must be a positive integer, got '$SHARDS'"; exit 2; }
SHARD_MARK="--shard--"  # separates the shards' XINFO GROUPS answers for the group_lag judge
SHARDS_NOTE=""
[ "$SHARDS" -gt 1 ] && SHARDS_NOTE="   shards: $SHARDS"
SHARDED=" $(python3 "$CHECKS_PY" sharded | tr '\n' ' ') "

shard_keys() {  # shard_keys KEY: the Redis keys of KEY's stream, one per line
  if [ "$SHARDS" -gt 1 ] && [[ "$SHARDED" == *" $1 "* ]]; then
    local i
    for ((i = 0; i < SHARDS; i++)); do echo "$1:{$i}"; done
  else
    echo "$1"
  fi
}

rcli() {
  case "$MODE" in
    redis-url) redis-cli -c --no-auth-warning -u "$REDIS_URL" "$@" ;;
    docker) docker exec "$REDIS_CONTAINER" redis-cli -c "$@" ;;
    local) redis-cli -c -h "${REDIS_HOST:-127.0.0.1}" -p "${REDIS_PORT:-6379}" "$@" ;;
  esac
}

check() {  # check NUMBER "description" command...
  local number="$1" description="$2"
  shift 2
  local detail
  if detail=$("$@" 2>&1); then
    printf '[%s] %-58s PASS %s\n' "$number" "$description" "$detail"
    PASSED=$((PASSED + 1))
  else
    printf '[%s] %-58s FAIL %s\n' "$number" "$description" "$detail"
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("[$number] $description")
  fi
}

xlen() {  # xlen KEY: its length, summed over its shards; empty when Redis does not answer
  local key n total=0
  while read -r key; do
    n=$(rcli XLEN "$key" 2>/dev/null | tr -dc '0-9')
    [ -n "$n" ] || return 0
    total=$((total + n))
  done < <(shard_keys "$1")
  echo "$total"
}

stream_nonempty() {  # stream_nonempty KEY [MIN]
  local n
  n=$(xlen "$1")
  [ -n "$n" ] || { echo "(redis unreachable)"; return 1; }
  echo "(length $n)"
  [ "$n" -gt "${2:-0}" ]
}

stream_exists() {  # with shards: at least one shard is a stream (a shard may hold no symbol)
  local kind key found=0 count=0
  if [ "$(shard_keys "$1" | wc -l)" -eq 1 ]; then
    kind=$(rcli TYPE "$1" 2>/dev/null | tr -d '\r')
    echo "(type ${kind:-?})"
    [ "$kind" = "stream" ]
    return
  fi
  while read -r key; do
    count=$((count + 1))
    [ "$(rcli TYPE "$key" 2>/dev/null | tr -d '\r')" = "stream" ] && found=$((found + 1))
  done < <(shard_keys "$1")
  echo "(type stream on $found/$count shards)"
  [ "$found" -gt 0 ]
}

newest_id() {  # newest_id KEY: the newest entry id of one key, empty when it has none
  rcli XREVRANGE "$1" + - COUNT 1 2>/dev/null | head -n 1 | tr -d '\r'
}

newest_key() {  # newest_key KEY: the shard of KEY holding the newest entry (KEY unsharded)
  local key id best="" best_ms=-1 best_seq=-1 ms seq
  while read -r key; do
    id=$(newest_id "$key")
    [ -n "$id" ] || continue
    ms=${id%%-*} seq=${id##*-}
    if [ "$ms" -gt "$best_ms" ] || { [ "$ms" -eq "$best_ms" ] && [ "$seq" -gt "$best_seq" ]; }; then
      best="$key" best_ms="$ms" best_seq="$seq"
    fi
  done < <(shard_keys "$1")
  echo "${best:-$1}"
}

newest_fields() {  # newest_fields KEY -> "field value" pairs, one per line (newest of any shard)
  rcli XREVRANGE "$(newest_key "$1")" + - COUNT 1 2>/dev/null | tail -n +2
}

has_fields() {  # has_fields KEY CONTAINS_JSON field... (CONTAINS_JSON: {"field": "substring"})
  local key="$1" contains="$2" fields missing=()
  shift 2
  fields=$(newest_fields "$key")
  [ -n "$fields" ] || { echo "(no entries)"; return 1; }
  for f in "$@"; do
    grep -qx "$f" <<<"$fields" || missing+=("$f")
  done
  if [ "${#missing[@]}" -gt 0 ]; then echo "(missing: ${missing[*]})"; return 1; fi
  python3 "$CHECKS_PY" contains "$contains" "$#" <<<"$fields"
}

entry_age_s() {  # seconds since the newest entry of KEY was added (Redis clock)
  local id now
  id=$(newest_id "$(newest_key "$1")")
  [ -n "$id" ] || return 1
  now=$(rcli TIME 2>/dev/null | head -n 1 | tr -dc '0-9')
  echo $(( now - ${id%%-*} / 1000 ))
}

recent_entry() {  # recent_entry KEY MAX_AGE_S
  local age
  age=$(entry_age_s "$1") || { echo "(no entries)"; return 1; }
  echo "(newest ${age}s old)"
  [ "$age" -le "$2" ]
}

http_json() {  # http_json PATH LABEL EXPECT_JSON: GET $API_URL$PATH, every expectation holds
  local body
  body=$(curl -s --max-time 5 "$API_URL$1") || { echo "(no answer from $API_URL$1)"; return 1; }
  python3 "$CHECKS_PY" json "$3" "$2" <<<"$body"
}

venues_connected() {  # venues_connected KEY: every venue of the heartbeat hash connected, with data
  local raw
  raw=$(rcli HGETALL "$1" 2>/dev/null) || true
  [ -n "$raw" ] || { echo "(no collector heartbeat: is the collector running?)"; return 1; }
  python3 "$CHECKS_PY" venues <<<"$raw"
}

group_lag() {  # group_lag KEY GROUP MAX_LAG (with shards: on every shard, lag summed)
  local groups key
  if [ "$(shard_keys "$1" | wc -l)" -eq 1 ]; then
    groups=$(rcli XINFO GROUPS "$1" 2>/dev/null) || true
    python3 "$CHECKS_PY" group_lag "$2" "$3" <<<"$groups"
    return
  fi
  while read -r key; do
    echo "$SHARD_MARK"
    rcli XINFO GROUPS "$key" 2>/dev/null || true
  done < <(shard_keys "$1") | python3 "$CHECKS_PY" group_lag "$2" "$3"
}

heartbeat() {  # heartbeat KEY CONTAINER: the key has a TTL (docker mode: the container runs)
  local ttl
  if [ "$MODE" = "docker" ] && [ -n "$2" ]; then
    docker ps --format '{{.Names}}' | grep -qx "$2" || { echo "(container $2 not running)"; return 1; }
  fi
  ttl=$(rcli TTL "$1" 2>/dev/null | tr -dc '0-9-')
  echo "(heartbeat ttl ${ttl:-none}${ttl:+s})"
  [ -n "$ttl" ] && [ "$ttl" -gt 0 ]
}

run_suite() {  # run_suite NAME: header, then every check of the suite in validation_checks.json
  local plan row
  plan=$(python3 "$CHECKS_PY" plan "$1") || { echo "cannot read the checks of suite $1"; exit 2; }
  header "$(python3 "$CHECKS_PY" title "$1")"
  while IFS=$'\x1f' read -r -a row; do
    [ -n "${row[1]}" ] && echo "[${row[1]}]"
    check "${row[0]}" "${row[2]}" "${row[3]}" "${row[@]:4}"
  done <<<"$plan"
}

header() {
  printf '%s\n%s\n%s\n' "======================================================================" "$1" "======================================================================"
  echo "redis: $MODE   api: $API_URL   prefix: $PREFIX${SHARDS_NOTE}"
  echo
}

summary() {
  echo
  echo "Checks run: $((PASSED + FAILED))   passed: $PASSED   failed: $FAILED"
  if [ "$FAILED" -gt 0 ]; then
    echo "FAILED checks:"
    printf '  %s\n' "${FAILED_NAMES[@]}"
    echo "VALIDATION FAILED: $1"
    exit 1
  fi
  echo "VALIDATION PASSED: $1"
  exit 0
}
