#!/usr/bin/env bash
# Shared helpers of the validation scripts. Where the checks look:
#   Redis: $REDIS_URL (redis-cli -u), else the docker container $REDIS_CONTAINER (quantum_redis)
#          when it is running, else redis-cli -h $REDIS_HOST -p $REDIS_PORT (127.0.0.1:6379).
#   API:   $API_URL, else http://localhost:$API_PORT (8001)
# Each check prints one PASS/FAIL line; `summary` prints the totals and sets the exit status.
# Data goes to python3 on stdin, never as an argument: an argument is limited to 128 KB
# (MAX_ARG_STRLEN) and /features answers grow past that within a minute of running.

PREFIX="${STREAM_PREFIX:-quantum:stream:}"
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

rcli() {
  case "$MODE" in
    redis-url) redis-cli --no-auth-warning -u "$REDIS_URL" "$@" ;;
    docker) docker exec "$REDIS_CONTAINER" redis-cli "$@" ;;
    local) redis-cli -h "${REDIS_HOST:-127.0.0.1}" -p "${REDIS_PORT:-6379}" "$@" ;;
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

xlen() { rcli XLEN "$1" 2>/dev/null | tr -dc '0-9'; }

stream_nonempty() {  # stream_nonempty KEY [MIN]
  local n
  n=$(xlen "$1")
  [ -n "$n" ] || { echo "(redis unreachable)"; return 1; }
  echo "(length $n)"
  [ "$n" -gt "${2:-0}" ]
}

stream_exists() {
  local kind
  kind=$(rcli TYPE "$1" 2>/dev/null | tr -d '\r')
  echo "(type ${kind:-?})"
  [ "$kind" = "stream" ]
}

newest_fields() {  # newest_fields KEY -> "field value" pairs, one per line
  rcli XREVRANGE "$1" + - COUNT 1 2>/dev/null | tail -n +2
}

has_fields() {  # has_fields KEY field...
  local key="$1" fields missing=()
  shift
  fields=$(newest_fields "$key")
  [ -n "$fields" ] || { echo "(no entries)"; return 1; }
  for f in "$@"; do
    grep -qx "$f" <<<"$fields" || missing+=("$f")
  done
  if [ "${#missing[@]}" -gt 0 ]; then echo "(missing: ${missing[*]})"; return 1; fi
  echo "(all $# fields)"
}

entry_age_s() {  # seconds since the newest entry of KEY was added (Redis clock)
  local id now
  id=$(rcli XREVRANGE "$1" + - COUNT 1 2>/dev/null | head -n 1 | tr -d '\r')
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

json_check() {  # json_check URL PYTHON_EXPR (on variable d) [LABEL] -> passes when truthy
  local body
  body=$(curl -s --max-time 5 "$1") || { echo "(no answer from $1)"; return 1; }
  python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("(not JSON)"); sys.exit(1)
try:
    ok = eval(sys.argv[1])
except Exception as exc:
    print(f"({type(exc).__name__}: {exc})"); sys.exit(1)
print(f"({sys.argv[2]})" if ok else f"(got: {str(d)[:160]})")
sys.exit(0 if ok else 1)' "$2" "${3:-ok}" <<<"$body"
}

header() {
  printf '%s\n%s\n%s\n' "======================================================================" "$1" "======================================================================"
  echo "redis: $MODE   api: $API_URL   prefix: $PREFIX"
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
