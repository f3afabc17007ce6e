"""Pure L2 order books: one venue's book, depth metrics, consolidated ladders, execution cost.

Imports no redis, asyncio or aiohttp and never reads the clock (used by the collector and
the engine alike).
"""
