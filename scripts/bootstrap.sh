#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine: Python >= 3.11 with venv, and the project in .venv
# installed from the lock files of exact, hash-checked versions (requirements/*.lock):
#   bootstrap.sh          runtime.lock (what `make run` needs)
#   bootstrap.sh --test   dev.lock (runtime + test and lint tools) and the system packages the
#                         suite uses: redis-server, redis-tools, curl, docker-compose,
#                         rabbitmq-server, chromium (browser tests), prometheus (promtool)
# Both install Debian's postgresql (the private store of `run`) and libgomp1 (LightGBM).
# Idempotent: re-running installs only when a lock file or pyproject.toml changed.
# Refresh the locks after changing dependencies in pyproject.toml: `make lock`.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    *) echo "usage: $0 [--test]" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: apt-get not available; please install: $*" >&2
    return 1
  fi
  if [ "$apt_updated" -eq 0 ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

PY=$(find_python || true)
if [ -z "$PY" ]; then
  echo "bootstrap: installing python3 (>= 3.11 required)"
  apt_install python3 python3-venv python3-pip
  PY=$(find_python) || { echo "bootstrap: Python >= 3.11 not found" >&2; exit 1; }
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv >/dev/null 2>&1; then
    version=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    echo "bootstrap: installing python${version}-venv"
    rm -rf .venv
    apt_install "python${version}-venv" || apt_install python3-venv
    "$PY" -m venv .venv
  fi
fi

# The stamp names the lock installed and the digest of it and pyproject.toml; a dev install
# satisfies `make run` too (dev.lock is a superset of runtime.lock).
# (the install's layout is part of the digest: a venv installed another way is installed again)
LAYOUT="editable_mode=compat"
digest_of() { { cat pyproject.toml "requirements/$1.lock"; echo "$LAYOUT"; } | sha256sum | cut -d' ' -f1; }
stamp=.venv/.installed
current=$(cat "$stamp" 2>/dev/null || true)
if [ "$want_test" -eq 1 ]; then kind=dev; else kind=runtime; fi
if [ "$current" != "dev $(digest_of dev)" ] && [ "$current" != "$kind $(digest_of "$kind")" ]; then
  echo "bootstrap: installing the locked dependencies (requirements/$kind.lock) into .venv"
  rm -f "$stamp"
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes \
    -r "requirements/$kind.lock"
  # The project itself, editable, with the locked setuptools (no unpinned build environment).
  # `compat` puts the checkout on sys.path with a plain .pth line; the default mode installs an
  # import hook that costs every interpreter start ~13 ms of CPU (`python -c pass`: 23 -> 10
  # ms). setuptools' notes on editable installs are noise here: output only on failure.
  if ! .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
      --no-build-isolation --config-settings editable_mode=compat -e . \
      >.venv/install-project.log 2>&1; then
    cat .venv/install-project.log >&2
    exit 1
  fi
  echo "$kind $(digest_of "$kind")" > "$stamp"
fi

# PostgreSQL server binaries (Debian puts initdb and pg_ctl under /usr/lib/postgresql/N/bin):
# without DATABASE_URL, `cross-exchange run` starts a private cluster of its own with them.
# Nothing relies on the cluster the package may create.
pg_bin() { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
if ! pg_bin; then
  echo "bootstrap: installing postgresql (the private store of \`cross-exchange run\`)"
  apt_install postgresql || echo "bootstrap: could not install postgresql; run starts without storage unless DATABASE_URL is set" >&2
fi
# libgomp1: LightGBM's OpenMP runtime (the ml extra)
if command -v ldconfig >/dev/null 2>&1 && ! ldconfig -p 2>/dev/null | grep -q libgomp.so.1; then
  apt_install libgomp1 || echo "bootstrap: could not install libgomp1 (LightGBM needs it)" >&2
fi

if [ "$want_test" -eq 1 ]; then
  missing=()
  command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || missing+=(rabbitmq-server)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    apt_install "${missing[@]}" || echo "bootstrap: could not install ${missing[*]}; tests needing them skip (and fail under CI=true)" >&2
  fi
fi
