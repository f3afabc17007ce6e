"""The demo stack and a headless Debian chromium for the dashboard's browser test and for
`make screenshot` (`python -m tests.integration.dashboard_stack docs/dashboard.png`).

`demo_stack` runs `cross-exchange run --demo` as a separate process (embedded Redis, the
exchange simulator, collector and engine) and reads the addresses it prints. `chromium` drives
/usr/bin/chromium through Playwright for Python with a fresh profile: no browser is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from microservices.common.redis_server import free_port
from tests.integration.test_validation_scripts import wait_until

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_FLAGS: Final = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


def have_chromium() -> bool:
    return Path(CHROMIUM).exists()


@dataclass(frozen=True)
class DemoStack:
    proc: subprocess.Popen[str]
    api: str
    redis_port: int
    simulator: str


def _address(proc: subprocess.Popen[str], pattern: str) -> str:
    assert proc.stdout is not None
    for _ in range(10):
        line = proc.stdout.readline()
        match = re.search(pattern, line)
        if match:
            return match.group(1)
    raise AssertionError(f"the demo never printed {pattern!r}")


@contextlib.contextmanager
def demo_stack(workdir: Path, **env_extra: str) -> Iterator[DemoStack]:
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "API_TOKEN")}
    env |= {"API_PORT": str(api_port), "EXITBRAIN_INTERVAL_S": "1", "LOG_FORMAT": "json"}
    env |= env_extra
    stderr = (workdir / "stderr.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "run", "--demo",
         "--no-view"],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
    )  # fmt: skip
    try:
        redis_port = int(_address(proc, r"embedded redis listening on 127\.0\.0\.1:(\d+)"))
        simulator = _address(proc, r"exchange simulator listening on (\S+)")
        yield DemoStack(proc, f"http://127.0.0.1:{api_port}", redis_port, simulator)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
        stderr.close()


def health(api: str) -> dict[str, Any] | None:
    try:
        body: dict[str, Any] = httpx.get(f"{api}/health", timeout=3).json()
    except (httpx.TransportError, ValueError):
        return None
    return body


def all_connected(api: str) -> bool:
    body = health(api)
    return bool(
        body
        and body["metrics"]["cross_exchange_intelligence"]
        and all(v["state"] == "connected" for v in body["venues"].values())
    )


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A Playwright persistent context on Debian's chromium with a throw-away profile."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ce-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS), headless=True,
            viewport={"width": width, "height": height},
        )  # fmt: skip
        try:
            yield context
        finally:
            context.close()


def open_dashboard(context: Any, api: str, errors: list[str]) -> Any:
    """The dashboard page once its first state is loaded; console errors go to `errors`."""
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.goto(f"{api}/")
    page.wait_for_function("window.__dashboard && window.__dashboard.view.ready", timeout=20_000)
    return page


def screenshot(path: Path, settle_s: float = 20.0) -> None:
    """Start the demo (every venue), let the charts fill for `settle_s`, write a PNG."""
    with (
        tempfile.TemporaryDirectory(prefix="ce-demo-") as workdir,
        demo_stack(Path(workdir)) as stack,
        chromium(1280, 900) as context,
    ):
        wait_until(lambda: all_connected(stack.api), 60, "every venue connected")
        errors: list[str] = []
        page = open_dashboard(context, stack.api, errors)
        time.sleep(settle_s)
        page.screenshot(path=str(path), full_page=True)
        if errors:
            raise SystemExit(f"console errors: {errors}")
    print(f"wrote {path}")


if __name__ == "__main__":
    screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard.png"))
