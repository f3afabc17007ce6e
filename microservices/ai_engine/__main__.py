"""`python -m microservices.ai_engine`: the engine service (used by the ai-engine container)."""

import sys

from microservices.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["engine", *sys.argv[1:]]))
