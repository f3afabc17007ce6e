"""Pure building blocks of the cross-exchange aggregator (venue state, statistics, volatility).

Imported only by `cross_exchange_aggregator`; imports nothing but `microservices.common`
records and the standard library: no redis, asyncio, logging configuration or clock reads.
"""
