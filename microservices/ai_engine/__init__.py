"""AI engine: cross-exchange aggregator, feature adapter, ExitBrain loop and the HTTP API."""
