"""One shard's watch (pure): a context record's large trade is reported by its home shard
only, an entry delivered again changes nothing, and an alert's read-back key is its written
fields (timestamps in whole seconds)."""

from __future__ import annotations

from microservices.ai_engine.large_trades.detector import large_trade_alert
from microservices.ai_engine.large_trades.params import AlertParams
from microservices.ai_engine.large_trades.rebuild import Written, alert_key, fields_key
from microservices.ai_engine.large_trades.shard import WatchShard, alert_group
from microservices.common.market_alerts import encode_market_alert
from microservices.common.records import RawRecord, Trade

T0 = 1_763_116_215_000
SHARDS = 4  # BTCUSDT and USDCUSDT: shard 3; ETHUSDT: shard 0


def trade(group: str, price: float, size: float, n: int, quote: str = "USDT") -> Trade:
    return Trade(exchange="binance", market="spot", symbol=group, venue_symbol=group,
                 group=group, quote=quote, ts_ms=T0 + n, recv_ms=T0 + n, price=price,
                 size=size, side="buy", trade_id=f"t{n}")  # fmt: skip


def test_a_context_trade_is_reported_by_its_home_shard_only() -> None:
    usdc = trade("USDCUSDT", 1.0002, 50_000.0, 1)  # 50010 USD: large (other bases: 20000)
    eth = trade("ETHUSDT", 3_000.0, 20.0, 2)  # 60000 USD: large (ETH: 50000)
    home, other = WatchShard(3, SHARDS, AlertParams()), WatchShard(0, SHARDS, AlertParams())
    trades, alerts = home.fold([("1-0", usdc)])
    assert [(t.row_id, t.value_usd) for t in trades] == [("binance_USDCUSDT_t1", 50_010.0)]
    assert [alert_group(a) for a in alerts] == ["USDCUSDT"]
    assert other.fold([("1-0", usdc)]) == ([], [])  # folded (its price counts), not reported
    trades, _ = other.fold([("2-0", eth)])
    assert [(t.row_id, t.value_usd) for t in trades] == [("binance_ETHUSDT_t2", 60_000.0)]
    assert other.watch.snapshot()["prices"] == {"ETHUSDT": 3_000.0, "USDCUSDT": 1.0002}


def test_an_entry_delivered_again_changes_nothing() -> None:
    unit = WatchShard(0, 1, AlertParams())
    batch: list[tuple[str, RawRecord]] = [
        ("5-0", trade("BTCUSDT", 100_000.0, 1.5, 1)),
        ("5-1", trade("BTCUSDT", 99.0, 1, 2)),
    ]
    trades, alerts = unit.fold(batch)
    assert [t.row_id for t in trades] == ["binance_BTCUSDT_t1"] and len(alerts) == 1
    state = unit.watch.snapshot()
    assert unit.fold(batch) == ([], [])
    assert (unit.skipped, unit.applied, unit.watch.snapshot()) == (2, (5, 1), state)


def test_alerts_are_compared_by_their_written_fields() -> None:
    unit = WatchShard(0, 1, AlertParams())
    trades, _ = unit.fold([("1-0", trade("BTCUSDT", 100_000.0, 2.0, 100)),
                           ("1-1", trade("BTCUSDT", 100_000.0, 3.0, 300))])  # fmt: skip
    first, second = (large_trade_alert(t) for t in trades)  # one second, two trades
    as_read = {k.encode(): v.encode() for k, v in encode_market_alert(first).items()}
    assert fields_key(as_read) == alert_key(first) != alert_key(second)
    written = Written(trades={trades[0].row_id}, alerts={fields_key(as_read)})
    assert written.missing(trades, [first, second]) == ([trades[1]], [second])
