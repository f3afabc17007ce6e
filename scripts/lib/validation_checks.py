"""Reader of scripts/validation_checks.json for the bash validators (python3 >= 3.7, stdlib).

  plan SUITE                 one line per check, fields joined by \\x1f (unit separator):
                             n, section, name, kind, then the kind's arguments
  title|summary SUITE        the suite's banner / summary text
  get SUITE DOTTED.PATH      one value of the suite (placeholders filled), e.g. report.alerts.key
  json EXPECT_JSON LABEL     judge the JSON body on stdin against the expectations
  contains WANTED_JSON COUNT judge the newest entry's field lines on stdin (field -> substring)
  venues                     judge `HGETALL <collector.health>` output on stdin
  group_lag GROUP MAX_LAG    judge `XINFO GROUPS <stream>` output on stdin; with shards, each
                             shard's answer follows a `--shard--` line: the group must be
                             on every shard, pending and lag are summed
  sharded                    the sharded streams' keys (prefix filled), one per line

Placeholders: {prefix} = STREAM_PREFIX, {symbol} = VALIDATE_SYMBOL, {max_status_age_s} =
MAX_STATUS_AGE_S. Judges print one "(detail)" line and exit 0 (pass) or 1 (fail).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

CHECKS = Path(__file__).resolve().parent.parent / "validation_checks.json"
SEP = "\x1f"
SHARD_MARK = "--shard--"  # validate_common.sh's separator of the shards' answers


def fill(value: Any) -> Any:
    if isinstance(value, str):
        return (
            value.replace("{prefix}", os.environ.get("STREAM_PREFIX") or "quantum:stream:")
            .replace("{symbol}", os.environ.get("VALIDATE_SYMBOL") or "BTCUSDT")
            .replace("{max_status_age_s}", os.environ.get("MAX_STATUS_AGE_S") or "60")
        )
    if isinstance(value, list):
        return [fill(v) for v in value]
    if isinstance(value, dict):
        return {k: fill(v) for k, v in value.items()}
    return value


def suite(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CHECKS.read_text(encoding="utf-8"))["suites"][name]
    return data


def arguments(check: dict[str, Any]) -> list[str]:
    kind = check["kind"]
    if kind in ("venues_connected", "stream_exists"):
        return [check["key"]]
    if kind == "stream_nonempty":
        return [check["key"], str(check.get("min", 0))]
    if kind == "group_lag":
        return [check["key"], check["group"], str(check["max_lag"])]
    if kind == "has_fields":
        return [check["key"], json.dumps(check.get("contains", {}), ensure_ascii=False),
                *check["fields"]]  # fmt: skip
    if kind == "recent_entry":
        return [check["key"], str(check["max_age_s"])]
    if kind == "heartbeat":
        return [check["key"], check.get("container", "")]
    if kind == "http_json":
        return [check["path"], check.get("label", "ok"), json.dumps(check["expect"])]
    raise SystemExit(f"unknown check kind {kind!r} in {CHECKS.name}")


def plan(name: str) -> None:
    for check in fill(suite(name)["checks"]):
        row = [str(check["n"]), check.get("section", ""), check["name"], check["kind"]]
        print(SEP.join(row + arguments(check)))


def lookup(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            raise KeyError(path)
        data = data[part]
    return data


def holds(data: Any, rule: dict[str, Any]) -> bool:
    value, op, expected = lookup(data, rule["path"]), rule["op"], rule["value"]
    if op == "eq":
        return bool(value == expected and type(value) is type(expected))
    if op == "gt":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value > expected
    if op == "min_len":
        return isinstance(value, (dict, list, str)) and len(value) >= expected
    if op == "has_keys":
        return isinstance(value, dict) and set(expected) <= set(value)
    raise SystemExit(f"unknown op {op!r}")


def judge_json(expect: str, label: str) -> int:
    try:
        data = json.load(sys.stdin)
    except ValueError:
        print("(not JSON)")
        return 1
    try:
        ok = all(holds(data, rule) for rule in json.loads(expect))
    except KeyError as exc:
        print(f"(KeyError: {exc})")
        return 1
    print(f"({label})" if ok else f"(got: {str(data)[:160]})")
    return 0 if ok else 1


def pairs_of(lines: list[str]) -> list[tuple[str, str]]:
    """redis-cli's key and value lines as pairs (zip without strict=: python3 < 3.10 runs this)."""
    return [(lines[i], lines[i + 1]) for i in range(0, len(lines) - 1, 2)]


def judge_venues() -> int:
    pairs = dict(pairs_of(sys.stdin.read().splitlines()))
    venues = {k: json.loads(v) for k, v in pairs.items() if not k.startswith("_")}
    down = [k for k, v in venues.items() if v.get("state") != "connected" or not v.get("records")]
    note = f"; not: {down})" if down else ")"
    print(f"({len(venues) - len(down)}/{len(venues)} venues connected with data" + note)
    return 1 if down or not venues else 0


def group_of(lines: list[str], group: str) -> dict[str, str] | None:
    """`XINFO GROUPS` as redis-cli prints it: key and value lines, every group from `name`."""
    groups: list[dict[str, str]] = []
    for key, value in pairs_of(lines):
        if key == "name":
            groups.append({})
        if groups:
            groups[-1][key] = value
    return next((g for g in groups if g.get("name") == group), None)


def judge_group_lag(group: str, max_lag: int) -> int:
    text = sys.stdin.read()
    if text.startswith(SHARD_MARK):
        return judge_sharded_lag(group, max_lag, text)
    info = group_of(text.splitlines(), group)
    if info is None:
        print(f"(no {group} consumer group)")
        return 1
    lag, pending = info.get("lag", ""), info.get("pending")
    print(f"(group {group}: pending {pending}, lag {lag or 0})")
    return 0 if lag in ("", "0") or (lag.isdigit() and int(lag) < max_lag) else 1


def judge_sharded_lag(group: str, max_lag: int, text: str) -> int:
    """Every shard's `XINFO GROUPS` after a SHARD_MARK line: the group on each shard, pending
    and lag summed (a lag Redis cannot compute, empty, counts as 0 as above)."""
    answers = text.split(SHARD_MARK + "\n")[1:]
    infos = [group_of(answer.splitlines(), group) for answer in answers]
    missing = [str(i) for i, info in enumerate(infos) if info is None]
    if missing:
        print(f"(no {group} consumer group on shard(s) {', '.join(missing)} of {len(infos)})")
        return 1
    found = [info for info in infos if info is not None]
    lags = [info.get("lag", "") or "0" for info in found]
    if not all(lag.isdigit() for lag in lags):
        print(f"(group {group}: unreadable lag {lags})")
        return 1
    lag = sum(int(value) for value in lags)
    pending = sum(int(info.get("pending", "0") or 0) for info in found)
    print(f"(group {group}: pending {pending}, lag {lag} over {len(found)} shards)")
    return 0 if lag < max_lag else 1


def sharded_keys() -> None:
    data = json.loads(CHECKS.read_text(encoding="utf-8"))
    for name in data["sharded"]:
        print(fill("{prefix}" + name))


def judge_contains(wanted: str, count: str) -> int:
    """The newest entry's fields (XREVRANGE lines on stdin) hold the wanted substrings."""
    values = dict(pairs_of(sys.stdin.read().splitlines()))
    bad = [
        f"{name} lacks {part!r}: {values.get(name, '')[:80]!r}"
        for name, part in json.loads(wanted).items()
        if part not in values.get(name, "")
    ]
    print(f"(all {count} fields" + (f"; {bad[0]})" if bad else ")"))
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    if command == "plan":
        plan(args[0])
    elif command in ("title", "summary"):
        print(suite(args[0])[command])
    elif command == "get":
        print(fill(lookup(suite(args[0]), args[1])))
    elif command == "json":
        return judge_json(args[0], args[1])
    elif command == "contains":
        return judge_contains(args[0], args[1])
    elif command == "venues":
        return judge_venues()
    elif command == "group_lag":
        return judge_group_lag(args[0], int(args[1]))
    elif command == "sharded":
        sharded_keys()
    else:
        raise SystemExit(f"unknown command {command!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
