"""`python -m microservices.data_collector`: the collector service (used by the containers)."""

import sys

from microservices.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["collector", *sys.argv[1:]]))
