-- 0001: seed 002's four tables (its columns, keys and indexes) plus the product's own history
-- tables. Times are TIMESTAMPTZ (UTC); `symbol` is the venue's spelling (BTC-USD,
-- BTC-PERPETUAL), `canonical_symbol` the instrument's canonical name (BTCUSD) and
-- `symbol_group` the followed symbol it is aggregated under (BTCUSDT).

-- ------------------------------------------------------------------ seed 002

CREATE TABLE exchange_orderbooks (
    id VARCHAR(255) PRIMARY KEY,               -- {exchange}_{symbol}_{timestamp ms}
    exchange VARCHAR(50) NOT NULL,
    symbol VARCHAR(50) NOT NULL,
    canonical_symbol VARCHAR(50) NOT NULL,
    symbol_group VARCHAR(50) NOT NULL,
    bids JSONB NOT NULL,                       -- [[price, size], ...] best first, top N levels
    asks JSONB NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    sequence BIGINT,
    metadata JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_exchange_orderbooks_exchange_symbol ON exchange_orderbooks (exchange, symbol);
CREATE INDEX idx_exchange_orderbooks_timestamp ON exchange_orderbooks (timestamp DESC);
CREATE INDEX idx_exchange_orderbooks_symbol ON exchange_orderbooks (symbol);
CREATE INDEX idx_exchange_orderbooks_canonical_timestamp
    ON exchange_orderbooks (canonical_symbol, timestamp DESC);

CREATE TABLE large_trades (
    id VARCHAR(255) PRIMARY KEY,               -- {exchange}_{symbol}_{trade_id}
    exchange VARCHAR(50) NOT NULL,
    symbol VARCHAR(50) NOT NULL,
    canonical_symbol VARCHAR(50) NOT NULL,
    symbol_group VARCHAR(50) NOT NULL,
    side VARCHAR(10) NOT NULL,                 -- 'buy' or 'sell'
    price DECIMAL(20, 8) NOT NULL,
    size DECIMAL(20, 8) NOT NULL,
    value_usd DECIMAL(20, 2) NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    trade_id VARCHAR(255),
    is_liquidation BOOLEAN NOT NULL DEFAULT FALSE,
    metadata JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_large_trades_exchange_symbol ON large_trades (exchange, symbol);
CREATE INDEX idx_large_trades_timestamp ON large_trades (timestamp DESC);
CREATE INDEX idx_large_trades_value ON large_trades (value_usd DESC);
CREATE INDEX idx_large_trades_liquidation ON large_trades (is_liquidation)
    WHERE is_liquidation = TRUE;
CREATE INDEX idx_large_trades_symbol_timestamp ON large_trades (symbol, timestamp DESC);
CREATE INDEX idx_large_trades_canonical_timestamp
    ON large_trades (canonical_symbol, timestamp DESC);

CREATE TABLE funding_rates (
    id VARCHAR(255) PRIMARY KEY,               -- {exchange}_{symbol}_{timestamp ms}
    exchange VARCHAR(50) NOT NULL,
    symbol VARCHAR(50) NOT NULL,
    canonical_symbol VARCHAR(50) NOT NULL,
    symbol_group VARCHAR(50) NOT NULL,
    rate DECIMAL(10, 8) NOT NULL,              -- fraction per funding interval (0.0001 = 0.01 %)
    predicted_rate DECIMAL(10, 8),
    timestamp TIMESTAMPTZ NOT NULL,
    next_funding_time TIMESTAMPTZ,
    metadata JSONB,                            -- funding_interval_h, mark_price, index_price
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_funding_rates_exchange_symbol ON funding_rates (exchange, symbol);
CREATE INDEX idx_funding_rates_timestamp ON funding_rates (timestamp DESC);
CREATE INDEX idx_funding_rates_symbol_timestamp ON funding_rates (symbol, timestamp DESC);
CREATE INDEX idx_funding_rates_rate ON funding_rates (rate);
CREATE INDEX idx_funding_rates_canonical_timestamp
    ON funding_rates (canonical_symbol, timestamp DESC);

CREATE TABLE open_interest (
    id VARCHAR(255) PRIMARY KEY,               -- {exchange}_{symbol}_{timestamp ms}
    exchange VARCHAR(50) NOT NULL,
    symbol VARCHAR(50) NOT NULL,
    canonical_symbol VARCHAR(50) NOT NULL,
    symbol_group VARCHAR(50) NOT NULL,
    open_interest DECIMAL(20, 8) NOT NULL,     -- contracts, in base-asset units
    -- USD value; NULL when the venue sent none (the seed has NOT NULL: we store what we know)
    open_interest_usd DECIMAL(20, 2),
    timestamp TIMESTAMPTZ NOT NULL,
    metadata JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_open_interest_exchange_symbol ON open_interest (exchange, symbol);
CREATE INDEX idx_open_interest_timestamp ON open_interest (timestamp DESC);
CREATE INDEX idx_open_interest_symbol_timestamp ON open_interest (symbol, timestamp DESC);
CREATE INDEX idx_open_interest_value ON open_interest (open_interest_usd DESC);
CREATE INDEX idx_open_interest_canonical_timestamp
    ON open_interest (canonical_symbol, timestamp DESC);

-- ------------------------------------------------------------------ history of the streams

-- closed klines, from exchange.raw and the REST backfill (replaces the CSV history)
CREATE TABLE ohlc (
    exchange VARCHAR(50) NOT NULL,
    symbol VARCHAR(50) NOT NULL,               -- venue symbol
    canonical_symbol VARCHAR(50) NOT NULL,
    symbol_group VARCHAR(50) NOT NULL,
    interval VARCHAR(10) NOT NULL,             -- "1m"
    open_time TIMESTAMPTZ NOT NULL,
    open DOUBLE PRECISION NOT NULL,
    high DOUBLE PRECISION NOT NULL,
    low DOUBLE PRECISION NOT NULL,
    close DOUBLE PRECISION NOT NULL,
    volume DOUBLE PRECISION NOT NULL,          -- base-asset units
    timestamp TIMESTAMPTZ NOT NULL,            -- the record's event time
    PRIMARY KEY (exchange, symbol, interval, open_time)
);
CREATE INDEX idx_ohlc_canonical_open_time ON ohlc (canonical_symbol, open_time DESC);
CREATE INDEX idx_ohlc_group_open_time ON ohlc (symbol_group, open_time DESC);

-- exchange.normalized: one cross-venue snapshot per followed symbol and time
CREATE TABLE normalized (
    symbol VARCHAR(50) NOT NULL,               -- followed symbol (BTCUSDT)
    timestamp TIMESTAMPTZ NOT NULL,
    avg_price DOUBLE PRECISION NOT NULL,
    median_price DOUBLE PRECISION NOT NULL,
    price_divergence DOUBLE PRECISION NOT NULL,
    exchange_divergence DOUBLE PRECISION NOT NULL,
    funding_delta DOUBLE PRECISION NOT NULL,   -- percent per 8 h
    avg_funding_rate DOUBLE PRECISION NOT NULL,
    volatility_factor DOUBLE PRECISION NOT NULL,
    arb_bps DOUBLE PRECISION NOT NULL,
    num_exchanges INTEGER NOT NULL,
    best_bid DOUBLE PRECISION,
    best_bid_exchange VARCHAR(50),
    best_ask DOUBLE PRECISION,
    best_ask_exchange VARCHAR(50),
    best_bid_size DOUBLE PRECISION,
    best_ask_size DOUBLE PRECISION,
    venues JSONB NOT NULL,                     -- {venue: {price, bid, ask, ..., age_ms}}
    excluded JSONB NOT NULL,                   -- {venue: "stale" | "outlier"}
    PRIMARY KEY (symbol, timestamp)
);
CREATE INDEX idx_normalized_timestamp ON normalized (timestamp DESC);

-- exchange.features: one column per feature, so training reads
-- `SELECT * FROM features WHERE symbol = $1 AND timestamp < $2 ORDER BY timestamp`;
-- a feature added later gets a migration adding its column (NULL in older rows)
CREATE TABLE features (
    symbol VARCHAR(50) NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    avg_price DOUBLE PRECISION,
    price_divergence DOUBLE PRECISION,
    funding_delta DOUBLE PRECISION,
    price_momentum DOUBLE PRECISION,
    volatility_spread DOUBLE PRECISION,
    binance_bybit_ratio DOUBLE PRECISION,
    hour DOUBLE PRECISION,
    day_of_week DOUBLE PRECISION,
    all_exchanges_active DOUBLE PRECISION,
    num_exchanges DOUBLE PRECISION,
    price_dispersion DOUBLE PRECISION,
    max_price_spread_bps DOUBLE PRECISION,
    price_entropy DOUBLE PRECISION,
    best_arb_opportunity_bps DOUBLE PRECISION,
    arb_opportunity_count DOUBLE PRECISION,
    avg_arb_profit_bps DOUBLE PRECISION,
    vw_price_dispersion DOUBLE PRECISION,
    volume_concentration DOUBLE PRECISION,
    price_sync_correlation DOUBLE PRECISION,
    lead_lag_coefficient DOUBLE PRECISION,
    depth_imbalance_ratio DOUBLE PRECISION,
    consolidated_spread_bps DOUBLE PRECISION,
    cross_exchange_vol_ratio DOUBLE PRECISION,
    vol_dispersion DOUBLE PRECISION,
    exchange_divergence DOUBLE PRECISION,
    volatility_factor DOUBLE PRECISION,
    avg_funding_rate DOUBLE PRECISION,
    book_imbalance_10bps DOUBLE PRECISION,
    consolidated_depth_usd_10bps DOUBLE PRECISION,
    microprice_offset_bps DOUBLE PRECISION,
    nbbo_crossed_ms DOUBLE PRECISION,
    PRIMARY KEY (symbol, timestamp)
);
CREATE INDEX idx_features_timestamp ON features (timestamp DESC);

-- exitbrain.status: the multipliers ExitBrain published, per symbol and time
CREATE TABLE exitbrain_status (
    symbol VARCHAR(50) NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    cross_exchange_active BOOLEAN NOT NULL,
    data_age_seconds DOUBLE PRECISION NOT NULL,
    volatility_factor DOUBLE PRECISION NOT NULL,
    exchange_divergence DOUBLE PRECISION NOT NULL,
    funding_delta DOUBLE PRECISION NOT NULL,
    atr_multiplier DOUBLE PRECISION NOT NULL,
    tp_multiplier DOUBLE PRECISION NOT NULL,
    sl_multiplier DOUBLE PRECISION NOT NULL,
    use_trailing BOOLEAN NOT NULL,
    reasoning TEXT NOT NULL,
    total_reads BIGINT NOT NULL,
    fail_count BIGINT NOT NULL,
    PRIMARY KEY (symbol, timestamp)
);
CREATE INDEX idx_exitbrain_status_timestamp ON exitbrain_status (timestamp DESC);

-- exitbrain.alerts
CREATE TABLE exitbrain_alerts (
    symbol VARCHAR(50) NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    type VARCHAR(50) NOT NULL,
    reason TEXT NOT NULL,
    fail_count BIGINT NOT NULL,
    PRIMARY KEY (symbol, timestamp, type)
);
CREATE INDEX idx_exitbrain_alerts_timestamp ON exitbrain_alerts (timestamp DESC);
