"""Questions in words, parsed by rules (no model). Pure.

`parse(question)` gives an `Intent` (its kind, the asset words, the venue words and a USD
notional such as `$100k` when the question names one) or None for a question none of the
`SUPPORTED` forms matches. The words are resolved against the followed symbols and venues
by `assets.py` where the question is answered (`answers.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

IntentKind = Literal[
    "best_price", "compare", "arbitrage", "liquidity", "trending", "only_on", "new_listings"
]

SUPPORTED: Final = (
    "best price for X  (e.g. 'What's the best price for MATIC?')",
    "compare X across exchanges  (e.g. 'Compare ETH prices across all exchanges')",
    "arbitrage for X  (e.g. 'Find arbitrage opportunities for BTC between exchanges')",
    "which exchange has the best liquidity for X [for $100k]",
    "trending on V [but not on W]  (e.g. 'Show me tokens trending on KuCoin but not on Binance')",
    "only listed on V",
    "new listings [on V]",
)
HELP_TEXT: Final = "supported questions (X: one or more assets, e.g. 'BTC and ETH'; V, W: " \
    "venues):\n" + "\n".join(f"  - {form}" for form in SUPPORTED)  # fmt: skip

_ASSETS = r"(?P<assets>[a-z0-9$ ,&+/-]+?)"
_VENUE = r"(?P<venue>[a-z0-9_.]+)"
_TAIL = r"(?:\s+(?:prices?|across|between|on|in)\b.*)?"
_RULES: Final[tuple[tuple[IntentKind, re.Pattern[str]], ...]] = (
    ("best_price", re.compile(rf"\bbest\s+price\s+(?:for|of|on)\s+{_ASSETS}{_TAIL}$")),
    ("liquidity", re.compile(rf"\b(?:best|most|deepest)\s+liquidity\s+(?:for|of|on|in)\s+"
                             rf"{_ASSETS}{_TAIL}$")),
    ("arbitrage", re.compile(rf"\barbitrage\b(?:\s+opportunit(?:y|ies))?(?:\s+(?:for|on|in)"
                             rf"\s+{_ASSETS})?{_TAIL}$")),
    ("compare", re.compile(rf"\bcompare\s+(?:the\s+)?{_ASSETS}{_TAIL}$")),
    ("trending", re.compile(rf"\btrending\s+on\s+{_VENUE}(?:\s+but\s+not\s+on\s+"
                            r"(?P<other>[a-z0-9_.]+))?")),
    ("only_on", re.compile(rf"\bonly\s+(?:listed\s+|traded\s+)?on\s+{_VENUE}")),
    ("new_listings", re.compile(r"\bnew\s+listings?(?:\s+on\s+(?P<venue>[a-z0-9_.]+))?")),
)  # fmt: skip
_NOTIONAL = re.compile(r"(?:for\s+)?\$\s?(\d+(?:[.,]\d+)*)\s*([km])?\b")
_SPLIT = re.compile(r"\s*(?:,|&|\+|\band\b|\bor\b|\bvs\.?\b)\s*")
_FILLER: Final = frozenset({"", "the", "a", "all", "token", "tokens", "price", "prices"})


@dataclass(frozen=True, slots=True)
class Intent:
    kind: IntentKind
    assets: tuple[str, ...] = ()  # asset words as written, upper-cased (BTC, MATIC)
    venue: str | None = None  # V
    other: str | None = None  # W
    notional: float | None = None  # USD, from "$100k"


def _notional(text: str) -> tuple[str, float | None]:
    """(the text without a `$N[k|m]` amount, that amount in USD or None)."""
    match = _NOTIONAL.search(text)
    if match is None:
        return text, None
    number = float(match.group(1).replace(",", ""))
    number *= {"k": 1e3, "m": 1e6}.get(match.group(2) or "", 1.0)
    return (text[: match.start()] + text[match.end() :]).strip(), number


def split_assets(text: str | None) -> tuple[str, ...]:
    """`BTC, eth and MATIC` -> (BTC, ETH, MATIC); filler words dropped."""
    if not text:
        return ()
    words = [w.strip(" $").upper() for w in _SPLIT.split(text.strip())]
    return tuple(dict.fromkeys(w for w in words if w.lower() not in _FILLER))


def parse(question: str) -> Intent | None:
    """The intent of `question`, or None when no supported form matches."""
    text = re.sub(r"[?!]+", " ", question.lower()).strip().rstrip(".")
    text = re.sub(r"\s+", " ", text)
    text, notional = _notional(text)
    for kind, rule in _RULES:
        match = rule.search(text)
        if match is None:
            continue
        groups = match.groupdict()
        return Intent(kind=kind, assets=split_assets(groups.get("assets")),
                      venue=groups.get("venue"), other=groups.get("other"),
                      notional=notional)  # fmt: skip
    return None
