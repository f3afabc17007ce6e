# The two Quick-start commands: `make run` (live data) and `make test` (the whole suite).
# Both install what they need first (scripts/bootstrap.sh).
.PHONY: run demo test lint bench install

install:
	@bash scripts/bootstrap.sh

run: install
	.venv/bin/cross-exchange run

demo: install
	.venv/bin/cross-exchange run --demo

test:
	@bash scripts/bootstrap.sh --test
	.venv/bin/python -m pytest -q

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy microservices backend benchmarks

bench: install
	.venv/bin/python -m benchmarks.run
