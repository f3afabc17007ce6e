-- 0002: indexes of seed 002's query API (microservices/ai_engine/exchange_data). Its symbol
-- forms (BTC-USD, BTC-PERPETUAL, BTC) select a followed symbol's rows (`symbol_group`), and
-- every query returns the newest rows first; without these a rare group (or a group on one
-- venue) was found by walking the timestamp index and reading each row (~0.4 s at p50 over
-- 1,000,000 large trades, benchmarks/bench_query.py).

CREATE INDEX idx_large_trades_group_timestamp ON large_trades (symbol_group, timestamp DESC);
CREATE INDEX idx_large_trades_exchange_group_timestamp
    ON large_trades (exchange, symbol_group, timestamp DESC);
-- only_liquidations=true: the newest liquidations without reading the other trades
CREATE INDEX idx_large_trades_liquidation_timestamp ON large_trades (timestamp DESC)
    WHERE is_liquidation = TRUE;
CREATE INDEX idx_funding_rates_group_timestamp ON funding_rates (symbol_group, timestamp DESC);
CREATE INDEX idx_open_interest_group_timestamp ON open_interest (symbol_group, timestamp DESC);
CREATE INDEX idx_exchange_orderbooks_group_timestamp
    ON exchange_orderbooks (symbol_group, timestamp DESC);
