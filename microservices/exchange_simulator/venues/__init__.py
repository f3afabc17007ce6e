"""Venue dialects of the simulator, one module per venue (REST in `*_rest.py`).

`registry.py` maps URL venues to their routes, REST specs and dialects; this package
initializer imports nothing so that `base.py` can be imported without the venues.
"""
