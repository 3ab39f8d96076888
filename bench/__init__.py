"""Benchmarks: ``python -m bench`` (see docs/performance.md). Figures, never assertions."""
