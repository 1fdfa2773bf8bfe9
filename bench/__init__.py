"""Benchmarks and the demo: run with make bench / make demo."""
