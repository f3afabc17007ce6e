"""Large trades and the market alerts of seed 002 (issue 16): detection (pure, `detector`,
`rules`), the engine's consumer of exchange.raw (`service`) and the RabbitMQ bridge."""
