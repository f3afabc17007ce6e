"""The market layer of seed 004 (issue 15): StandardizedMarketData with a venue fallback
order (`view`), venues ranked for a trade (`best_price`), cross-venue arbitrage with its
persistence (`arbitrage`), trending screens (`discovery`), listings and questions in words
(`query`, `answers`); the HTTP routes are in `api`. Only `api`, `service` and `answers`
do I/O; the others are pure (no Redis, no clock: `now_ms` is a parameter).
"""
