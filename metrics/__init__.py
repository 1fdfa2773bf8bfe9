"""Event hooks and what they feed: the embedded target, samplers, histograms, the run store.

This package imports nothing on import; ``metrics.hooks`` wires every listener.
"""
