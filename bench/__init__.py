"""Benchmarks that print figures: the launch against the cost of its signature.  Run `python -m bench`."""
