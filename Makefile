# The two Quick-start commands: `make run` (live data) and `make test` (lint, types, the suite).
# Both install what they need first (scripts/bootstrap.sh), from the lock files in requirements/.
.PHONY: run demo test lint bench install install-dev lock screenshot

install:
	@bash scripts/bootstrap.sh

install-dev:
	@bash scripts/bootstrap.sh --test

run: install
	.venv/bin/cross-exchange run

demo: install
	.venv/bin/cross-exchange run --demo

# What CI runs (.ci/run): lint and type errors block a change like a failing test.
test: install-dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy microservices backend benchmarks
	.venv/bin/python -m pytest -q

lint: install-dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy microservices backend benchmarks

bench: install
	.venv/bin/python -m benchmarks.run

# Refresh docs/dashboard.png from the demo (headless Debian chromium, no browser download).
screenshot: install-dev
	.venv/bin/python -m tests.integration.dashboard_stack docs/dashboard.png

# Re-resolve requirements/*.lock after changing dependencies in pyproject.toml.
lock:
	bash scripts/lock.sh
