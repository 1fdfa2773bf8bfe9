"""A user that puts script payloads where report.html shows run data
(tests/reports/test_report_browser.py).

Against the real reference target, every few milliseconds it:

- names a good request ``NAME_PAYLOAD`` (an endpoint name in every table and chart);
- names a request ``FAILING_NAME`` and fails it with ``FAILURE_PAYLOAD`` as its own message;
- posts a backtest whose strategy is ``TARGET_PAYLOAD``: the target's ``unknown_strategy``
  message echoes it, and the whole response body becomes the failure message.

The suite's hooks are registered as in ``locustfile.py``, so the run directory,
``summary.json`` and ``report.html`` are written as for any run.
"""

import os

from locust import FastHttpUser, constant, task

from plugin import hooks
from users.routes import ROUTE_BACKTESTS, ROUTE_STRATEGIES

# The test hands its payloads in through the environment; these defaults are the same.
NAME_PAYLOAD = os.environ.get("XSS_NAME", "<script>window.__xss_name=1</script>")
FAILING_NAME = os.environ.get(
    "XSS_FAILING_NAME", "<img src=x onerror=window.__xss_fname=1;alert(3)>"
)
#: No quotes inside, so that Python's repr and JSON in the target's message keep it intact.
TARGET_PAYLOAD = os.environ.get("XSS_TARGET", "<img src=x onerror=window.__xss_err=1;alert(1)>")
FAILURE_PAYLOAD = os.environ.get(
    "XSS_FAILURE", "<script>window.__xss_fail=1</script><svg onload=window.__xss_fail=1;alert(2)>"
)


class XssUser(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def named(self) -> None:
        self.client.get(ROUTE_STRATEGIES, name=NAME_PAYLOAD)

    @task
    def echoed_by_target(self) -> None:
        body = {
            "symbol": "AAPL",
            "strategy": TARGET_PAYLOAD,
            "start": "2022-01-01",
            "end": "2022-12-31",
        }
        with self.client.post(ROUTE_BACKTESTS, json=body, catch_response=True) as response:
            if response.status_code == 422:
                response.failure(response.text)
            else:
                response.failure(f"expected 422 unknown_strategy, got {response.status_code}")

    @task
    def failed_by_user(self) -> None:
        with self.client.get(ROUTE_STRATEGIES, name=FAILING_NAME, catch_response=True) as response:
            response.failure(FAILURE_PAYLOAD)


hooks.register(["XssUser"])
