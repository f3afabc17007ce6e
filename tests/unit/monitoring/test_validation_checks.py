"""The shared list of validation checks (scripts/validation_checks.json) and its reader.

The bash validators run it in tests/integration/test_validation_scripts.py; here: its shape,
that both the bash and the PowerShell side know every kind it uses, and the reader's judges
on hand-written redis-cli and /health output.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = REPO / "scripts"
READER = SCRIPTS / "lib" / "validation_checks.py"
CHECKS = json.loads((SCRIPTS / "validation_checks.json").read_text(encoding="utf-8"))


def reader(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, str(READER), *args], input=stdin, capture_output=True, text=True,
        env=env or {}, timeout=30,
    )  # fmt: skip
    return done.returncode, done.stdout.strip()


def kinds() -> set[str]:
    return {c["kind"] for s in CHECKS["suites"].values() for c in s["checks"]}


def test_each_suite_numbers_eight_checks() -> None:
    assert set(CHECKS["suites"]) == {"phase4m", "phase4m_plus"}
    for suite in CHECKS["suites"].values():
        assert [c["n"] for c in suite["checks"]] == list(range(1, 9))
        assert suite["title"] and suite["summary"]


def test_bash_and_powershell_know_every_kind() -> None:
    bash = (SCRIPTS / "lib" / "validate_common.sh").read_text()
    ps1 = (SCRIPTS / "lib" / "ValidateCommon.ps1").read_text()
    for kind in kinds():
        assert re.search(rf"^{kind}\(\) {{", bash, re.M), kind
        assert re.search(rf"\b{kind} = 'Test-", ps1), kind
    for name in ("validate_phase4m.ps1", "validate_phase4m_plus.ps1"):
        text = (SCRIPTS / name).read_text()
        suite = name.removeprefix("validate_").removesuffix(".ps1")
        assert f"Invoke-Suite '{suite}'" in text and "Complete-Suite" in text


def test_plan_fills_placeholders_and_keeps_empty_fields() -> None:
    env = {"STREAM_PREFIX": "p:", "VALIDATE_SYMBOL": "ETHUSDT", "MAX_STATUS_AGE_S": "90"}
    code, out = reader("plan", "phase4m_plus", env=env)
    rows = [line.split("\x1f") for line in out.splitlines()]
    assert code == 0 and len(rows) == 8
    assert rows[0] == ["1", "CROSS-EXCHANGE DATA", "Stream p:exchange.raw exists", "stream_exists",
                       "p:exchange.raw"]  # fmt: skip
    assert rows[1] == ["2", "", "exchange.raw has data (> 100 entries)", "stream_nonempty",
                       "p:exchange.raw", "100"]  # fmt: skip
    assert rows[4][2:] == ["exitbrain.status has recent data (< 90s)", "recent_entry",
                           "p:exitbrain.status", "90"]  # fmt: skip
    assert rows[7][4:6] == ["p:exitbrain.status", '{"reasoning": "ATR×"}']
    code, out = reader("plan", "phase4m", env=env)
    assert out.splitlines()[5].split("\x1f")[4] == "/api/v1/features/ETHUSDT?lookback=60"


HEALTH = {
    "metrics": {"cross_exchange_intelligence": True},
    "cross_exchange_exitbrain_integration": {
        "enabled": True,
        "adapter_stats": {"enabled": True, "use_local_mode": False, "total_reads": 0,
                          "fail_count": 0, "last_update": None},
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "passes"),
    [
        ([{"path": "metrics.cross_exchange_intelligence", "op": "eq", "value": True}], True),
        ([{"path": "cross_exchange_exitbrain_integration.adapter_stats.total_reads", "op": "gt", "value": 0}], False),
        ([{"path": "cross_exchange_exitbrain_integration.adapter_stats", "op": "has_keys", "value": ["enabled", "fail_count"]}], True),
        ([{"path": "cross_exchange_exitbrain_integration.adapter_stats", "op": "min_len", "value": 6}], False),
        ([{"path": "metrics.missing", "op": "eq", "value": True}], False),
        ([{"path": "cross_exchange_exitbrain_integration.adapter_stats.fail_count", "op": "eq", "value": False}], False),
    ],
)  # fmt: skip
def test_json_expectations(rules: list[dict[str, object]], passes: bool) -> None:
    code, out = reader("json", json.dumps(rules), "fine", stdin=json.dumps(HEALTH))
    assert (code == 0) is passes, out
    assert out == "(fine)" if passes else out.startswith(("(got:", "(KeyError"))


def test_group_lag_finds_its_group_among_several() -> None:
    xinfo = "\n".join([
        "name", "storage", "consumers", "1", "pending", "0", "last-delivered-id", "1-0",
        "entries-read", "5", "lag", "9000",
        "name", "aggregator", "consumers", "1", "pending", "141", "last-delivered-id", "2-0",
        "entries-read", "9", "lag", "0",
    ])  # fmt: skip
    assert reader("group_lag", "aggregator", "5000", stdin=xinfo) == (
        0,
        "(group aggregator: pending 141, lag 0)",
    )
    assert reader("group_lag", "storage", "5000", stdin=xinfo)[0] == 1
    assert reader("group_lag", "absent", "5000", stdin=xinfo) == (1, "(no absent consumer group)")


def test_venues_and_contains_judges() -> None:
    health = "binance\n" + json.dumps({"state": "connected", "records": 5}) + "\n"
    health += "okx\n" + json.dumps({"state": "stale", "records": 5}) + "\n_producer\n{}\n"
    assert reader("venues", stdin=health) == (1, "(1/2 venues connected with data; not: ['okx'])")
    status = "reasoning\nATR×1.20 (vol 0.4)\nfail_count\n0"
    assert reader("contains", '{"reasoning": "ATR×"}', "2", stdin=status) == (0, "(all 2 fields)")
    code, out = reader("contains", '{"reasoning": "ATR×"}', "2", stdin="reasoning\nlocal mode")
    assert code == 1 and out == "(all 2 fields; reasoning lacks 'ATR×': 'local mode')"


def test_sharded_list_is_the_streams_with_a_shard_key() -> None:
    """validation_checks.json's `sharded` names exactly the streams that streams.py shards."""
    from microservices.common.streams import build_streams

    sharded = {s.name for s in build_streams("p:", shards=2).all() if s.shards > 1}
    code, out = reader("sharded", env={"STREAM_PREFIX": "p:"})
    assert code == 0 and set(out.splitlines()) == sharded
    assert "p:alerts" not in sharded and "p:exchange.listings" not in sharded


def test_sharded_group_lag_needs_the_group_on_every_shard_and_sums() -> None:
    def shard(pending: int, lag: str, group: str = "aggregator") -> str:
        return "\n".join(["--shard--", "name", group, "consumers", "1", "pending", str(pending),
                          "last-delivered-id", "1-0", "lag", lag])  # fmt: skip

    both = shard(3, "40") + "\n" + shard(4, "") + "\n"
    assert reader("group_lag", "aggregator", "5000", stdin=both) == (
        0,
        "(group aggregator: pending 7, lag 40 over 2 shards)",
    )
    assert (
        reader("group_lag", "aggregator", "41", stdin=shard(1, "30") + "\n" + shard(1, "11"))[0]
        == 1
    )
    one_missing = shard(3, "0") + "\n" + shard(0, "0", group="storage") + "\n" + "--shard--\n"
    assert reader("group_lag", "aggregator", "5000", stdin=one_missing) == (
        1,
        "(no aggregator consumer group on shard(s) 1, 2 of 3)",
    )
