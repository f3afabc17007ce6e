"""ExitBrain v3: cross-exchange exit adjustments and exit planning."""
