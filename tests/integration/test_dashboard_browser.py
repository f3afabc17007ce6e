"""The dashboard in a real browser: Debian's headless chromium, driven by Playwright for Python,
against the demo stack (`run --demo` with four venues and two symbols).

- the page loads with no console errors;
- the chart series hold points whose values are the exchange.normalized and exitbrain.status
  entries Redis holds (read here with XREVRANGE);
- a venue silenced in the simulator shows as stale: its silence timeout is set to 3 s
  (WS_SILENCE_TIMEOUT_OVERRIDES) and the page must show it within 3 + 5 s (the DOM is polled);
- at 390x844 the page does not scroll sideways and the headline panels are on screen.
The screenshots go to pytest's temporary directory.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.integration.dashboard_stack import (
    DemoStack,
    all_connected,
    chromium,
    demo_stack,
    have_chromium,
    open_dashboard,
)
from tests.integration.test_validation_scripts import wait_until
from tests.tools import require_installed, require_tools

pytestmark = [pytest.mark.integration, pytest.mark.slow]
VENUES = "binance,binance_futures,bybit,coinbase"
SILENCED = "coinbase"
SILENCE_TIMEOUT_S = 3.0
PREFIX = "quantum:stream:"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    require_tools("redis-server")
    require_installed("chromium", have_chromium(), "chromium")
    env = {
        "VENUES": VENUES, "SYMBOLS": "BTCUSDT,ETHUSDT",
        "WS_SILENCE_TIMEOUT_OVERRIDES": f"{SILENCED}:{SILENCE_TIMEOUT_S:g}",
    }  # fmt: skip
    with demo_stack(tmp_path_factory.mktemp("demo"), **env) as running:
        wait_until(lambda: all_connected(running.api), 60, "every venue connected")
        yield running


def entries(redis_port: int, stream: str, symbol: str) -> dict[float, dict[str, str]]:
    """The stream's entries of `symbol` by their `timestamp` (epoch seconds, as the page)."""
    client = redis.Redis(port=redis_port, decode_responses=True)
    rows: Any = client.xrevrange(PREFIX + stream, count=5_000)
    client.close()
    out: dict[float, dict[str, str]] = {}
    for _, fields in rows:
        if fields.get("symbol") == symbol:
            key = float(fields["timestamp"]) if "timestamp" in fields else 0.0
            out[key] = fields
    return out


def check_series_match_streams(page: Any, redis_port: int) -> int:
    """Every one of the page's newest BTCUSDT points equals the entry of the same time."""
    series = page.evaluate(
        """() => { const s = window.__dashboard.series.BTCUSDT;
        const n = s.t.length, k = Math.max(0, n - 30);
        const venues = Object.fromEntries(Object.entries(s.venues).map(([v, c]) => [v, c.slice(k)]));
        return {t: s.t.slice(k), ref: s.ref.slice(k), vol: s.vol.slice(k), arb: s.arb_bps.slice(k),
                venues, n}; }"""
    )
    stored = entries(redis_port, "exchange.normalized", "BTCUSDT")
    assert len(series["t"]) >= 10
    for i, t in enumerate(series["t"]):
        entry = stored[t]  # KeyError: the page drew a point the stream never held
        assert series["ref"][i] == float(entry["median_price"])
        assert series["vol"][i] == float(entry["volatility_factor"])
        assert series["arb"][i] == float(entry["arb_bps"])
        for venue, column in series["venues"].items():
            if column[i] is not None:
                assert column[i] == float(entry[f"{venue}_price"]), (venue, t)
    assert set(series["venues"]) <= set(VENUES.split(","))
    return int(series["n"])


def check_status_matches_stream(page: Any, redis_port: int) -> None:
    exit_series = page.evaluate("() => window.__dashboard.series.BTCUSDT.exit")
    client = redis.Redis(port=redis_port, decode_responses=True)
    rows: Any = client.xrevrange(PREFIX + "exitbrain.status", count=2_000)
    client.close()
    by_time = {
        round(float(_iso_ms(f["timestamp"])) / 1000, 3): f
        for _, f in rows
        if f.get("symbol") == "BTCUSDT"
    }
    assert exit_series["t"], "no ExitBrain status on the page"
    t = exit_series["t"][-1]
    entry = by_time[round(t, 3)]
    assert exit_series["atr"][-1] == float(entry["atr_multiplier"])
    assert exit_series["tp"][-1] == float(entry["tp_multiplier"])


def _iso_ms(text: str) -> int:
    from microservices.common.clock import parse_iso_ms

    return parse_iso_ms(text)


def venue_state(page: Any, venue: str) -> str | None:
    result: str | None = page.evaluate(
        "(v) => document.querySelector(`#venues tr[data-venue='${v}']`)?.dataset.state ?? null",
        venue,
    )
    return result


def test_dashboard_in_chromium(stack: DemoStack, tmp_path: Path) -> None:
    errors: list[str] = []
    with chromium(1280, 900) as context:
        page = open_dashboard(context, stack.api, errors)
        wait_until(lambda: page.evaluate("() => window.__dashboard.store.events") > 20, 20,
                   "live events on the page")  # fmt: skip
        wait_until(lambda: venue_state(page, SILENCED) == "connected", 20, "venue connected")
        first = check_series_match_streams(page, stack.redis_port)
        time.sleep(2)  # a few more live points
        assert check_series_match_streams(page, stack.redis_port) > first  # it updates live
        check_status_matches_stream(page, stack.redis_port)
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

        faults = httpx.post(
            f"{stack.simulator}/_sim/faults", json={"venue": SILENCED, "silence_after": 0},
            timeout=5,
        )  # fmt: skip
        assert faults.status_code == 200
        silenced_at = time.monotonic()
        wait_until(lambda: venue_state(page, SILENCED) == "stale", SILENCE_TIMEOUT_S + 5,
                   f"{SILENCED} shown stale")  # fmt: skip
        shown_after = time.monotonic() - silenced_at
        for _ in range(8):  # and it stays stale while the collector reconnects and waits
            page.wait_for_timeout(250)
            assert venue_state(page, SILENCED) == "stale"
        cause = page.evaluate(
            "(v) => document.querySelector(`#venues tr[data-venue='${v}'] td.cause`).textContent",
            SILENCED,
        )
        assert "no data" in cause or "after silence" in cause, cause
        assert venue_state(page, "binance") == "connected"
        page.screenshot(path=str(tmp_path / "dashboard-stale.png"), full_page=True)

        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(500)  # layout and the charts' resize
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        for panel in ("#headline", "#venues-panel"):
            box = page.locator(panel).bounding_box()
            assert page.locator(panel).is_visible() and box is not None
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] < 844, (panel, box)
        page.screenshot(path=str(tmp_path / "dashboard-phone.png"))
    assert errors == []
    print(f"stale shown {shown_after:.1f}s after the silence began; screenshots in {tmp_path}")
