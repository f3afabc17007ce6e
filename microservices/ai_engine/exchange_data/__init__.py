"""Seed 002's query API over the PostgreSQL store (issue 16): large trades, funding rates, open
interest, order-book snapshots and the history export."""
