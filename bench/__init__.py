"""Benchmarks: `python -m bench.<name>`; each prints its figures and ends with one JSON line."""
