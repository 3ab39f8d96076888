"""Benchmarks: ``python -m bench`` (see README, "Performance"). Figures, never assertions."""
