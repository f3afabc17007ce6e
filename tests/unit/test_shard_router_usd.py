"""The raw router's context records follow USD_EQUIVALENTS (issue 19): the stablecoin pairs
of the configured set go to every shard, other pairs to their group's shard."""

from __future__ import annotations

from microservices.common.records import Ticker
from microservices.common.settings import load_settings
from microservices.common.sharding import is_context, raw_key, raw_key_for, usd_pairs
from microservices.common.streams import build_streams
from tests.factories import header


def _ticker(group: str) -> Ticker:
    return Ticker(**header(symbol=group, venue_symbol=group, group=group),
                  bid=0.9998, bid_size=1.0, ask=0.9999, ask_size=1.0)  # fmt: skip


def test_a_configured_usd_coin_pair_goes_to_every_shard() -> None:
    settings = load_settings(env_file=None, stream_shards=4, usd_equivalents="USD,USDT,USDC,FDUSD")
    raw = settings.streams().raw
    fdusd, usdc = _ticker("FDUSDUSDT"), _ticker("USDCUSDT")
    assert raw.route(fdusd) == [f"quantum:stream:exchange.raw:{{{i}}}" for i in range(4)]
    assert raw.route(usdc) == raw.names()
    assert raw.route(_ticker("USDTFDUSD")) == raw.names()  # either way round
    # the default set does not know FDUSD: one shard, its group's
    default = build_streams(shards=4).raw
    assert default.route(fdusd) == [default.shard_for("FDUSDUSDT").name]
    assert default.route(usdc) == default.names()


def test_a_coin_left_out_of_the_set_is_routed_by_its_group() -> None:
    raw = load_settings(env_file=None, stream_shards=4, usd_equivalents="USD,USDT").streams().raw
    assert raw.route(_ticker("USDCUSDT")) == [raw.shard_for("USDCUSDT").name]
    assert raw.route(_ticker("USDTUSD")) == raw.names()
    assert raw.route(_ticker("BTCUSDT")) == [raw.shard_for("BTCUSDT").name]


def test_one_router_per_set_and_the_default_matches_the_old_rule() -> None:
    assert raw_key_for(["USDT", "USD", "USDC"]) is raw_key  # streams built twice compare equal
    assert load_settings(env_file=None).streams() == build_streams()
    assert usd_pairs({"USD", "USDT"}) == {"USDUSD", "USDUSDT", "USDTUSD", "USDTUSDT"}
    # the rule before USD_EQUIVALENTS reached the router: base and rest both USD equivalents
    for group in ("USDCUSDT", "USDTUSDC", "USDTUSD", "USDCUSD", "BTCUSDT", "USDUSDX", "TUSDUSDT"):
        old = any(group.startswith(b) and group[len(b):] in {"USD", "USDT", "USDC"}
                  for b in ("USD", "USDT", "USDC"))  # fmt: skip
        assert is_context(_ticker(group)) == old, group
