"""The containers' environment in both compose files, generated from the settings model.

Compose interpolates `${VAR:-default}` from the shell and from the `.env` beside the compose
file (docker-compose 1.29 and Compose v2 alike; no `env_file`, which 1.29 cannot make optional),
so every setting written in `.env` reaches the containers and, without a `.env`, they get the
defaults. Some settings say where things are inside the container and are fixed here (PINNED):
a `.env` shared with local runs (`REDIS_URL=redis://127.0.0.1...`, `API_HOST=127.0.0.1`) must
not break the stack. `python -m microservices.common.compose_env --write` rewrites the block
between the markers of both files; a test fails when a setting is missing there (the exchange
packages' endpoint settings included).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Final

from microservices.common.settings import variables

BEGIN: Final = "  # >>> generated: python -m microservices.common.compose_env --write"
END: Final = "  # <<< generated"
REDIS_URLS: Final = {
    "docker-compose.yml": "redis://redis:6379/0",
    "docker-compose.vps.yml": "redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}@redis:6379/0",
}
# the compose files' postgres service (issue 16); the VPS password comes from .env
DATABASE_URLS: Final = {
    "docker-compose.yml": "postgresql://ce:${POSTGRES_PASSWORD:-ce}@postgres:5432/ce",
    "docker-compose.vps.yml": "postgresql://ce:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in "
    ".env}@postgres:5432/ce",
}
PINNED: Final = {
    "api_host": "0.0.0.0",  # the published port reaches the container's interface
    "rest_history_dir": "/data/history",  # writable in the image (a volume on the VPS)
    "listing_cache_dir": "/data/listings",  # writable in the image (a volume on the VPS)
    "ml_model_dir": "/data/models",  # the model registry (a volume; see the compose files)
    "collector_live_file": "/tmp/collector.live",  # read by microservices.healthcheck
    "store_spill_dir": "/data/store-spill",  # writable in the image (a volume on the VPS)
}
CONTAINER_DEFAULTS: Final = {"log_format": "json"}


def env_text(value: Any) -> str:
    """A settings value as its environment variable would spell it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return ",".join(
            f"{key}:{item:g}" if isinstance(item, int | float) else f"{key}:{item}"
            for key, item in value.items()
        )
    return str(value)


def environment(file: str) -> dict[str, str]:
    """Variable -> compose value (an interpolation, or the pinned text) for every setting."""
    out: dict[str, str] = {}
    for name, var in variables().items():
        if name == "redis_url":
            out[name.upper()] = REDIS_URLS[file]
        elif name == "database_url":
            out[name.upper()] = DATABASE_URLS[file]
        elif name in PINNED:
            out[name.upper()] = PINNED[name]
        else:
            default = env_text(CONTAINER_DEFAULTS.get(name, var.default))
            if any(ch in default for ch in '"\\$}'):
                raise ValueError(f"default of {name.upper()} cannot be interpolated: {default!r}")
            out[name.upper()] = f"${{{name.upper()}:-{default}}}"
    return out


def block(file: str) -> str:
    lines = [f'  {key}: "{value}"' for key, value in environment(file).items()]
    return "\n".join([BEGIN, *lines, END])


def render(file: str, text: str) -> str:
    """`text` (a compose file) with its generated block replaced by the current one."""
    before, found, rest = text.partition(BEGIN + "\n")
    _, found_end, after = rest.partition(END + "\n")
    if not (found and found_end):
        raise ValueError(f"{file}: generated-block markers not found")
    return f"{before}{block(file)}\n{after}"


def main(argv: list[str], root: Path = Path(".")) -> int:
    stale = []
    for file in REDIS_URLS:
        path = root / file
        text = path.read_text(encoding="utf-8")
        new = render(file, text)
        if new != text:
            stale.append(file)
            if argv == ["--write"]:
                path.write_text(new, encoding="utf-8")
    if argv != ["--write"] and stale:
        print(f"out of date: {', '.join(stale)}; run with --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
