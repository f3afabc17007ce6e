#!/usr/bin/env bash
# Refresh requirements/runtime.lock and requirements/dev.lock from pyproject.toml (`make lock`).
# Resolves the newest versions within pyproject's bounds for every platform and Python >= 3.11
# (uv's universal mode), with the hashes pip checks at install time. Commit both files.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools/venv"
"$tools/venv/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
compile() {
  "$tools/venv/bin/uv" pip compile pyproject.toml requirements/build.in "$@" \
    --universal --python-version 3.11 --generate-hashes --no-header --quiet
}
compile --extra ml -o requirements/runtime.lock
compile --extra ml --extra dev -o requirements/dev.lock
echo "lock: wrote requirements/runtime.lock ($(grep -c '==' requirements/runtime.lock) pins)" \
  "and requirements/dev.lock ($(grep -c '==' requirements/dev.lock) pins)"
