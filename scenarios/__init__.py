"""quantload scenarios: load shapes and the pieces they are made of.

Shapes (each a Locust ``LoadTestShape``, one per module, loaded as an extra
locustfile: ``-f locustfile.py,scenarios/ramp.py``, or by a ``config/*.conf``
profile): ``ramp.RampShape``, ``step.StepShape``, ``spike.SpikeShape``,
``soak.SoakShape``, ``breakpoint.BreakpointShape``.

Pure parts, importable without Locust: ``plans`` (load plans, tick by tick),
``breakpoint_search`` (the adaptive breakpoint search) and ``options`` (the
scenario options and ``--scenario-users``). ``base`` is what the shapes share on the Locust
side: parameters overridden by their options, ``-t``, the open model's rate, a plan's ticks.

This package itself imports nothing, so importing it never pulls in Locust.
"""
