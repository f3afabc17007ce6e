"""Pure building blocks of the cross-exchange aggregator (venue state, statistics, volatility,
USD rates and depeg alerts).

Imported only by `cross_exchange_aggregator` (and the service shell for `usd_rates.Contract`);
imports nothing but pure `microservices.common` modules (records, instruments, usd_prices,
market_alerts) and the standard library: no redis, asyncio, logging configuration or clock
reads.
"""
