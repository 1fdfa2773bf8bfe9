"""Measuring, with no Locust wiring: HDR latency recording and encoding (``latency``),
merging workers' slots (``aggregate``), percentiles and Apdex of a cell (``summary``),
generator health (``generator``), target samplers (``target_sampler``) and the host agent
deployed beside the target (``agent``, ``python -m metrics.agent``).

Imports no other suite package; this package itself imports nothing.
"""
