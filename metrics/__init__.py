"""Measuring, with no Locust wiring: HDR latency recording and encoding (``latency``),
merging workers' slots (``aggregate``), the one implementation of percentiles, Apdex and
rates (``summary``), generator health (``generator``), the target's resources: one reading
(``sample``), ``--target-metrics`` parsed (``source_spec``), the sources (``target_sources``:
local, agent, prometheus), the sampling loop (``target_sampler``), psutil readers of a host
and a process tree (``host_readers``), and the host agent deployed beside the target
(``agent``, ``python -m metrics.agent``, which needs ``sample`` and ``host_readers``).

Imports no other suite package; this package itself imports nothing.
"""
