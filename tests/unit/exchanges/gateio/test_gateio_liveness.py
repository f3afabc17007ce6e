"""Which Gate.io frames prove the feed alive (`parse_with_liveness`), on the repo's frames
written from the documented formats: trades, quotes, candles and tickers do, even a duplicate
trade or an unfollowed pair; acks, pongs, error events, unparsed channels and garbage never do.
"""

from __future__ import annotations

from microservices.data_collector.exchanges import EXCHANGES
from tests.fixture_paths import capture_frames, local_fixture

RECV_MS = 1_700_000_060_000


def liveness(venue: str, sequence: list[str]) -> list[bool]:
    parser = EXCHANGES[venue](["BTCUSDT"], "wss://x.invalid", "https://x.invalid").new_parser()
    flags = []
    for frame in sequence:
        records, alive = parser.parse_with_liveness(frame, RECV_MS)
        assert alive or records == []
        flags.append(alive)
    return flags


def test_spot() -> None:
    ack, btc, eth, quote, candle, pong, error = capture_frames(
        local_fixture("exchanges/gateio/ws_spot.jsonl")
    )
    book = '{"time":1,"channel":"spot.order_book_update","event":"update","result":{"s":"X"}}'
    assert liveness("gateio", [ack, pong, error, book, '{"channel":"spot.trades",']) == [False] * 5
    # eth: a listed-by-rule pair that is not followed; the second btc: a duplicate trade
    assert liveness("gateio", [btc, eth, quote, candle, btc]) == [True] * 5


def test_futures() -> None:
    ack, trades, quote, candles, tickers, pong = capture_frames(
        local_fixture("exchanges/gateio_futures/ws_futures.jsonl")
    )
    assert liveness("gateio_futures", [ack, pong]) == [False, False]
    assert liveness("gateio_futures", [trades, quote, candles, tickers, trades]) == [True] * 5
