"""schemathesis against the target's own OpenAPI document: no generated input gives a 5xx.

Driven through hypothesis directly (one strategy per operation) rather than
schemathesis' pytest plugin, which does not load under pytest 9.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

MAX_EXAMPLES = 25


def test_no_generated_input_causes_a_server_error(start_target):
    # Its own target: the generated jobs (Monte Carlo up to 10000 runs) queue and burn CPU
    # there, and end with it, never on the session's shared target other modules read.
    target = start_target("--workers", "1", "--job-step-ms", "20")
    schema = schemathesis.openapi.from_url(f"{target.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    calls = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            response = case.call(base_url=target.url)
            calls.append(response.status_code)
            assert response.status_code < 500, (case.operation.label, case.body, response.text)
            case.validate_response(response, checks=[not_a_server_error])

        check()
    assert len(calls) >= 5 * len(operations)  # generation really ran
