"""Benchmarks (not tests): each module has a `main()`; `python -m benchmarks.run` runs them all."""
