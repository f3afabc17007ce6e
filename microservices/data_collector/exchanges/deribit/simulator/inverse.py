"""The simulator's inverse perpetuals: `BTC-PERPETUAL` (10 USD contracts) and `ETH-PERPETUAL`
(1 USD) beside the linear `BTC_USDC-PERPETUAL`, over the same simulated book.

The dialect renders every payload as the linear instrument's and `as_inverse` rewrites it the
way Deribit writes inverse contracts: the instrument name, and amounts in USD (base amount x
price, rounded to whole contracts, at least one): a ticker's best bid/ask amounts and open
interest, a trade's `amount` (and `contracts`), a book level's amount (0 stays 0: a delete).
Prices, candles (base-coin volume) and funding are the same. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

from microservices.data_collector.exchanges.deribit.listing import INVERSE_CONTRACT_USD
from microservices.exchange_simulator.naming import sim_base


def inverse_name(symbol: str) -> str | None:
    """`BTCUSDT` -> `BTC-PERPETUAL` where Deribit has an inverse perpetual of the base."""
    base = sim_base(symbol)
    return f"{base}-PERPETUAL" if base in INVERSE_CONTRACT_USD else None


def contract_usd(name: str) -> float | None:
    """The USD size of an inverse perpetual's contract, None for any other name."""
    base, _, rest = name.partition("-")
    return INVERSE_CONTRACT_USD.get(base) if rest == "PERPETUAL" and "_" not in base else None


def usd_amount(base_amount: float, price: float, contract: float) -> float:
    """A base-coin amount in USD, whole contracts (at least one unless it is 0)."""
    if base_amount <= 0:
        return 0.0
    return max(round(base_amount * price / contract), 1) * contract


def _ticker(data: dict[str, Any], contract: float) -> None:
    for side in ("bid", "ask"):
        price, key = data.get(f"best_{side}_price"), f"best_{side}_amount"
        if price and data.get(key):
            data[key] = usd_amount(data[key], price, contract)
    if data.get("open_interest"):
        data["open_interest"] = usd_amount(data["open_interest"], data["mark_price"], contract)


def _trade(row: dict[str, Any], name: str, contract: float) -> dict[str, Any]:
    amount = usd_amount(row["amount"], row["price"], contract)
    return {**row, "instrument_name": name, "amount": amount, "contracts": amount / contract}


def _book(data: dict[str, Any], contract: float) -> None:
    for side in ("bids", "asks"):
        data[side] = [[a, p, usd_amount(q, p, contract)] for a, p, q in data[side]]


def as_inverse(payload: dict[str, Any], name: str) -> dict[str, Any]:
    """A linear `ticker`/`trades`/`book`/`chart` notification (or a `public/ticker` result)
    rewritten for the inverse perpetual `name`; other names are returned as they are."""
    contract = contract_usd(name)
    if contract is None:
        return payload
    params = payload.get("params")
    channel = params["channel"] if isinstance(params, dict) else "ticker."
    data = params["data"] if isinstance(params, dict) else payload
    if isinstance(data, list):  # trades
        params["data"] = [_trade(row, name, contract) for row in data]  # type: ignore[index]
        return payload
    if "instrument_name" in data:
        data["instrument_name"] = name
    if channel.startswith("ticker."):
        _ticker(data, contract)
    elif channel.startswith("book."):
        _book(data, contract)
    return payload


def instrument_row(linear: dict[str, Any], name: str) -> dict[str, Any]:
    """The get_instruments row of the inverse perpetual, from the linear one's."""
    base, contract = linear["base_currency"], contract_usd(name)
    return {**linear, "instrument_name": name, "instrument_type": "reversed",
            "future_type": "reversed", "quote_currency": "USD", "counter_currency": "USD",
            "settlement_currency": base, "price_index": f"{base.lower()}_usd",
            "contract_size": contract, "min_trade_amount": contract}  # fmt: skip
