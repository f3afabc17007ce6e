"""The simulator's generic venue plumbing; the dialects live in the exchange packages.

`base.py` is what every dialect builds on (connection lifecycle, REST errors, formatting),
`spec.py` what an exchange package's `simulator` module declares, and `registry.py` loads
those from the exchange registry. This initializer imports nothing.
"""
