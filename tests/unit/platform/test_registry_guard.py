"""Every venue list in the program equals what the exchange registry says (cryptofeed's guard
test): settings, the collector, the simulator (config, dialects, routes, replay), `normalize`,
the test helpers, the benchmarks, and the endpoint variables listed in .env.example, the
README table and both compose files. A package's `has` map agrees with what its Exchange
classes build, its listing hooks included (there is no symbol table: instruments come from
each venue's listing, or its naming rule)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from benchmarks import bench_publish, procs
from microservices.common import compose_env
from microservices.common.errors import FatalError
from microservices.common.settings import load_settings, variables
from microservices.data_collector import exchanges, normalize
from microservices.data_collector.registry import build_exchanges
from microservices.exchange_simulator import config as sim_config
from microservices.exchange_simulator.replay import venue_of_path, venue_of_url
from microservices.exchange_simulator.venues.registry import sim_venues
from microservices.runner import simulator_settings
from tests.reliability import helpers

REPO = Path(__file__).resolve().parents[3]
VENUES = exchanges.venue_ids()
SPECS = exchanges.venue_specs()
URL_VENUES = tuple(exchanges.url_venues())
ENDPOINT_ENVS = [setting.env for setting in exchanges.endpoint_settings()]


def test_the_registry_is_consistent() -> None:
    assert tuple(v.venue for p in exchanges.packages() for v in p.venues) == VENUES
    assert tuple(exchanges.EXCHANGES) == VENUES
    assert {spec.url_venue for spec in SPECS.values()} == set(URL_VENUES)
    assert [
        f"{u.upper()}_{kind}_URL" for u in URL_VENUES for kind in ("WS", "REST")
    ] == ENDPOINT_ENVS
    assert all(spec.exchange.market == spec.market for spec in SPECS.values())


def test_settings_allow_exactly_the_registered_venues() -> None:
    everything = ",".join(VENUES)
    assert load_settings(env_file=None, venues=everything).venues == list(VENUES)
    assert load_settings(env_file=None).venues == exchanges.default_venues()
    assert exchanges.default_venues() == [v for v, spec in SPECS.items() if spec.default]
    known = re.escape(f"known: {sorted(VENUES)}")
    with pytest.raises(FatalError, match=f"VENUES: .*{known}"):
        load_settings(env_file=None, venues="nope")
    with pytest.raises(FatalError, match=f"WS_SILENCE_TIMEOUT_OVERRIDES: .*{known}"):
        load_settings(env_file=None, ws_silence_timeout_overrides="nope:5")
    overrides = ",".join(f"{v}:9" for v in VENUES)
    settings = load_settings(env_file=None, ws_silence_timeout_overrides=overrides)
    assert set(settings.ws_silence_timeout_overrides) == set(VENUES)


def test_settings_read_every_endpoint_setting_and_the_collector_builds_every_venue() -> None:
    settings = load_settings(env_file=None, venues=",".join(VENUES))
    assert [name.upper() for name in settings.endpoints] == ENDPOINT_ENVS
    built = build_exchanges(settings)
    assert tuple(built) == VENUES
    for venue, exchange in built.items():
        assert type(exchange) is SPECS[venue].exchange
        assert exchange.ws_url == settings.endpoint(venue, "ws").rstrip("/")
        assert exchange.rest_url == settings.endpoint(venue, "rest").rstrip("/")


def test_env_example_readme_and_compose_list_every_endpoint_setting() -> None:
    example = (REPO / ".env.example").read_text()
    listed = re.findall(r"^([A-Z0-9_]+_(?:WS|REST)_URL)=", example, flags=re.M)
    assert listed == ENDPOINT_ENVS
    assert f"# Known venues: {', '.join(VENUES)}\n" in example
    assert [n.upper() for n, v in variables().items() if v.field == "endpoints"] == ENDPOINT_ENVS
    readme = (REPO / "README.md").read_text()
    assert re.findall(r"^\| `([A-Z0-9_]+_(?:WS|REST)_URL)` \|", readme, flags=re.M) == ENDPOINT_ENVS
    for file in compose_env.REDIS_URLS:
        text = (REPO / file).read_text()
        found = re.findall(r"^  ([A-Z0-9_]+_(?:WS|REST)_URL): ", text, flags=re.M)
        assert found == ENDPOINT_ENVS, file


def test_the_simulator_serves_every_url_venue_and_prices_every_venue() -> None:
    served = sim_venues()
    assert tuple(served) == URL_VENUES == tuple(exchanges.simulators())
    assert sim_config.url_venues() == URL_VENUES == sim_config.SimulatorConfig().venues
    assert sim_config.market_venues() == VENUES
    for url_venue, sim in served.items():
        markets = [cls.market_venue for cls in sim.dialects]
        assert markets == [v for v, spec in SPECS.items() if spec.url_venue == url_venue]
        assert {cls.url_venue for cls in sim.dialects} == {url_venue}
        paths = [route.path for route in sim.routes()]
        assert paths and all(f"{p}/".startswith(f"/{url_venue}/") for p in paths), paths
    market = sim_config.MarketConfig()
    assert tuple(market.basis_bps) == tuple(market.volume_shares) == VENUES
    assert market.perp_venues == {v for v, spec in SPECS.items() if spec.market == "perp"}
    assert tuple(market.funding_rates) == exchanges.venues_with("funding")


def test_replay_recognises_every_url_venue() -> None:
    for url_venue, endpoints in exchanges.url_venues().items():
        mine = {v for v, spec in SPECS.items() if spec.url_venue == url_venue}
        for url in (endpoints.ws.default, endpoints.rest.default, f"ws://127.0.0.1:1/{url_venue}"):
            assert venue_of_url(url) in mine, url
        assert venue_of_path(Path(f"fixtures/{url_venue}/ws/x.jsonl")) == url_venue


def test_normalize_knows_every_venue(tmp_path: Path) -> None:
    capture = tmp_path / "capture.jsonl"
    capture.write_text('{"ts": 1700000000.0, "frame": "{}"}\n')
    for venue in VENUES:
        assert normalize.normalize_file(venue, str(capture), io.StringIO()) == 0
    with pytest.raises(FatalError, match=re.escape(", ".join(sorted(VENUES)))):
        normalize.normalize_file("nope", str(capture), io.StringIO())


def test_helpers_benchmarks_and_symbols_use_the_registry() -> None:
    assert helpers.SIM_VENUES == URL_VENUES
    assert procs.VENUES == bench_publish.VENUES == tuple(exchanges.default_venues())
    demo = simulator_settings(load_settings(env_file=None), "http://sim:1", "ws://sim:1")
    for venue, spec in SPECS.items():
        assert demo.endpoint(venue, "ws") == f"ws://sim:1/{spec.url_venue}"
        assert demo.endpoint(venue, "rest") == f"http://sim:1/{spec.url_venue}"


@pytest.mark.parametrize("venue", VENUES)
def test_has_map_agrees_with_the_exchange(venue: str) -> None:
    spec = SPECS[venue]
    exchange = spec.exchange(["BTCUSDT"], ws_url="wss://x", rest_url="https://x")
    funding = exchange.current_funding_request("BTCUSDT") is not None
    oi = exchange.current_open_interest_request("BTCUSDT") is not None
    assert (spec.has["funding"], spec.has["open_interest"]) == (funding, oi)
    assert exchange.klines_request("BTCUSDT", 0, 60_000).path
    assert spec.has["klines"] and spec.has["trades"]
    # instruments: a listing endpoint when the map says so, and a naming rule that names the
    # default symbols without one (the start of a collector that has neither listing nor cache)
    assert (exchange.listing_request(None) is not None) == spec.has["listing"]
    assert exchange.symbols == ("BTCUSDT",)
    inst = exchange.instrument("BTCUSDT")
    assert inst is not None and inst.venue == venue and inst.base == "BTC"
