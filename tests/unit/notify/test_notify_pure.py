"""Alert delivery's pure parts: target parsing (no secret in errors or reprs), filters,
exact webhook bodies per format, HTTP answer classification and the token bucket."""

from __future__ import annotations

from dataclasses import replace

import pytest

from microservices import cli
from microservices.common.errors import FatalError
from microservices.common.market_alerts import MarketAlert
from microservices.common.records import ExitAlert
from microservices.common.settings import load_settings
from microservices.notify.delivery import Outcome, TokenBucket, classify, wanted
from microservices.notify.formats import (
    body_for,
    discord_body,
    from_exitbrain,
    from_market,
    headline,
    json_body,
    slack_body,
    telegram_body,
)
from microservices.notify.targets import AlertTarget, parse_targets

SECRET = "https://hooks.example/T0/SECRET"
DEPEG = MarketAlert(
    ts_ms=1_764_950_400_000, source="aggregator", type="DEPEG", severity="critical",
    reason="USDC at 0.97 USD <3%", symbol="USDCUSDT", venue="binance",
    data={"price": 0.97, "deviation_bps": -300},
)  # fmt: skip
ALERT = from_market("q:alerts", "1764950400000-0", DEPEG)
KEY = "q:alerts:1764950400000-0"


def target(**fields: object) -> AlertTarget:
    base: dict[str, object] = {"name": "t", "format": "json", "url": SECRET}
    return parse_targets([base | fields])[0]


def test_targets_parse_from_json_text_and_hide_secrets() -> None:
    (slack, tg) = parse_targets(
        '[{"name": "ops", "format": "slack", "url": "' + SECRET + '", "symbols": ["btcusdt"]},'
        ' {"name": "tg", "format": "telegram", "bot_token": "9:SECRET", "chat_id": "-1"}]'
    )
    assert slack.symbols == frozenset({"BTCUSDT"}) and slack.streams == (
        "alerts",
        "exitbrain.alerts",
    )
    assert "SECRET" not in repr(slack) + repr(tg) + str(slack.public()) + str(tg.public())
    assert tg.endpoint() == "https://api.telegram.org/bot9:SECRET/sendMessage"
    assert parse_targets("") == [] and parse_targets("  ") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[{", "not valid JSON"),
        ('{"name": "x"}', "must be a JSON list"),
        ('[{"name": "x", "format": "json", "url": "ftp://SECRET"}]', "target 0 (x): Value error, url must start"),
        ('[{"name": "x", "format": "telegram", "url": "https://SECRET"}]', "telegram takes bot_token and chat_id"),
        ('[{"name": "x", "format": "json", "url": "https://a", "extra": "SECRET"}]', "extra: Extra inputs"),
        ('[{"name": "X Y", "format": "json", "url": "https://SECRET"}]', "name: String should match"),
        ('[{"name": "x", "format": "json", "url": "https://a", "types": ["NOPE"]}]', "unknown alert types ['NOPE']"),
        ('[{"name": "x", "format": "json", "url": "https://a", "rate_per_min": 0}]', "rate_per_min: Input should be greater than 0"),
        ('[{"name": "x", "format": "json", "url": "https://a"}, {"name": "x", "format": "json", "url": "https://b"}]', "target names repeat: ['x']"),
    ],
)  # fmt: skip
def test_bad_targets_fail_naming_the_field_never_the_value(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_targets(text)
    assert message in str(caught.value)
    assert "SECRET" not in str(caught.value)


def test_filters_by_type_symbol_and_severity() -> None:
    assert wanted(target(), ALERT)
    assert wanted(target(types=["DEPEG"], symbols=["usdcusdt"], min_severity="critical"), ALERT)
    assert not wanted(target(types=["LARGE_TRADE"]), ALERT)
    assert not wanted(target(symbols=["BTCUSDT"]), ALERT)
    info = from_market("q:alerts", "1-0", replace(DEPEG, severity="info"))
    assert not wanted(target(min_severity="warning"), info)
    recovered = from_exitbrain(
        "q:exitbrain.alerts", "2-0",
        ExitAlert(symbol="BTCUSDT", ts_ms=1, type="RECOVERED", reason="", fail_count=0),
    )  # fmt: skip
    assert recovered.severity == "info" and not wanted(target(min_severity="warning"), recovered)


def test_json_body_is_exact() -> None:
    assert json_body(ALERT) == {
        "idempotency_key": KEY, "stream": "q:alerts", "id": "1764950400000-0",
        "timestamp": "2025-12-05T16:00:00Z", "type": "DEPEG", "severity": "critical",
        "symbol": "USDCUSDT", "venue": "binance", "source": "aggregator",
        "reason": "USDC at 0.97 USD <3%", "data": {"price": 0.97, "deviation_bps": -300},
    }  # fmt: skip
    assert body_for("json", ALERT) == json_body(ALERT)


def test_slack_body_is_exact_and_escaped() -> None:
    assert headline(ALERT) == "[CRITICAL] DEPEG USDCUSDT @ binance"
    assert slack_body(ALERT) == {
        "text": "[CRITICAL] DEPEG USDCUSDT @ binance: USDC at 0.97 USD &lt;3%",
        "attachments": [{"color": "#cf222e", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn",
             "text": "*[CRITICAL] DEPEG USDCUSDT @ binance*\nUSDC at 0.97 USD &lt;3%"}},
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": "deviation_bps=-300, price=0.97"}},
            {"type": "context", "elements": [{"type": "mrkdwn",
             "text": f"2025-12-05T16:00:00Z | aggregator | key {KEY}"}]},
        ]}],
        "idempotency_key": KEY,
    }  # fmt: skip


def test_discord_body_is_exact() -> None:
    assert discord_body(ALERT) == {
        "embeds": [{
            "title": "[CRITICAL] DEPEG USDCUSDT @ binance",
            "description": "USDC at 0.97 USD <3%",
            "color": 0xCF222E,
            "timestamp": "2025-12-05T16:00:00Z",
            "footer": {"text": f"aggregator | key {KEY}"},
            "fields": [{"name": "deviation_bps", "value": "-300", "inline": True},
                       {"name": "price", "value": "0.97", "inline": True}],
        }],
        "allowed_mentions": {"parse": []},
    }  # fmt: skip


def test_telegram_body_is_exact() -> None:
    exit_alert = from_exitbrain(
        "q:exitbrain.alerts", "5-1",
        ExitAlert(symbol="BTCUSDT", ts_ms=1_764_950_400_000, type="FALLBACK_TO_LOCAL",
                  reason="no fresh data", fail_count=3),
    )  # fmt: skip
    assert telegram_body(exit_alert, "-100") == {
        "chat_id": "-100",
        "text": "[WARNING] FALLBACK_TO_LOCAL BTCUSDT\nno fresh data\nfail_count: 3\n"
        "2025-12-05T16:00:00Z | exitbrain | key q:exitbrain.alerts:5-1",
        "disable_web_page_preview": True,
    }
    long = from_market("q:alerts", "1-0", replace(DEPEG, reason="x" * 5000))
    text = telegram_body(long, "-1")["text"]
    assert len(text) <= 4096 and text.endswith("key q:alerts:1-0")


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (200, {}, b"ok", Outcome("ok")),
        (204, {}, b"", Outcome("ok")),
        (500, {}, b"", Outcome("retry", "http_500")),
        (503, {"Retry-After": "7"}, b"", Outcome("retry", "http_503")),
        (408, {}, b"", Outcome("retry", "http_408")),
        (429, {"Retry-After": "2.5"}, b"", Outcome("retry", "http_429", 2.5)),
        (429, {}, b'{"ok":false,"parameters":{"retry_after":14}}', Outcome("retry", "http_429", 14.0)),
        (429, {}, b'{"message":"rate limited","retry_after":0.75,"global":false}', Outcome("retry", "http_429", 0.75)),
        (429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"", Outcome("retry", "http_429")),
        (429, {}, b"not json", Outcome("retry", "http_429")),
        (404, {}, b"", Outcome("refused", "http_404")),
        (400, {}, b'{"ok":false}', Outcome("refused", "http_400")),
        (302, {}, b"", Outcome("refused", "http_302")),
    ],
)  # fmt: skip
def test_classify(status: int, headers: dict[str, str], body: bytes, expected: Outcome) -> None:
    assert classify(status, headers, body) == expected


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate_per_s=2.0, burst=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == 0.5  # one token short at 2/s
    assert bucket.take(100.0) == 1.0  # the next waits behind it
    assert bucket.take(101.0) == 0.5  # 2 tokens refilled, 2.5 booked before
    assert bucket.take(110.0) == 0.0  # refilled to the burst, not beyond
    assert bucket.tokens == 2.0


def test_settings_errors_name_the_variable_without_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "ALERT_TARGETS", '[{"name": "ops", "format": "slack", "url": "ftp://SECRET"}]'
    )
    with pytest.raises(FatalError) as caught:
        load_settings(env_file=None)
    assert "invalid setting ALERT_TARGETS: Value error, target 0 (ops)" in str(caught.value)
    assert "SECRET" not in str(caught.value)
    monkeypatch.setenv("ALERT_TARGETS", f'[{{"name": "ops", "format": "json", "url": "{SECRET}"}}]')
    assert [t.name for t in load_settings(env_file=None).alert_targets] == ["ops"]
    with pytest.raises(FatalError, match="NOTIFY_RETRY_CAP_S must be at least"):
        load_settings(env_file=None, notify_retry_base_s=5, notify_retry_cap_s=1)


def test_notify_command_refuses_to_start_without_targets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ALERT_TARGETS", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert cli.main(["--env-file", "/dev/null", "notify"]) == 2
    assert "ALERT_TARGETS is empty" in capsys.readouterr().err
