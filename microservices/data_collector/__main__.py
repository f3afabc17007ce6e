"""`python -m microservices.data_collector`: the collector service (used by the containers)."""

from microservices.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["collector"]))
