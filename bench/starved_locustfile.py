"""A load generator starved on purpose, for ``bench/saturation_accuracy.py``.

``HeavyClientUser`` asks the target for its cheapest /v1 answer (``GET /v1/strategies``)
back to back and then spends ``CLIENT_CPU_MS`` of its own CPU on it (as a client that
parses and checks a large answer would). Run on one core with the target on another, the
generator's core saturates long before the target's: the known truth is "load generator".
The suite's hooks are registered as in ``locustfile.py``, so the run is recorded as any.
"""

import time

from locust import FastHttpUser, constant, task

import plugin
from users.routes import ROUTE_STRATEGIES

CLIENT_CPU_MS = 4.0
"""The generator's CPU per request, beyond its HTTP client's own."""


class HeavyClientUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def strategies(self) -> None:
        self.client.get(ROUTE_STRATEGIES)
        until = time.thread_time() + CLIENT_CPU_MS / 1000.0
        while time.thread_time() < until:
            pass


plugin.register(["HeavyClientUser"])
