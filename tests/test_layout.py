"""rundir.layout: endpoint keys, and the pseudo-request types the user classes record.

Locust monkey-patches on import, so the user classes are imported in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys

from rundir.layout import PSEUDO_REQUEST_TYPES, is_request, split_key
from tests.locust_runs import REPO

USERS_REQUEST_TYPES = """
import json
from users.arrival_rate_user import DROPPED_REQUEST_TYPE
from users.job_user import JOB_REQUEST_TYPE, QUEUE_REQUEST_TYPE
from users.websocket_user import MESSAGE_REQUEST_TYPE, RATE_REQUEST_TYPE
print(json.dumps([DROPPED_REQUEST_TYPE, JOB_REQUEST_TYPE, QUEUE_REQUEST_TYPE,
                  MESSAGE_REQUEST_TYPE, RATE_REQUEST_TYPE]))
"""


def test_pseudo_request_types_are_the_users_measurements():
    """The users name their own request types (they import no run directory); the one list
    the run directory keeps must be exactly theirs."""
    done = subprocess.run([sys.executable, "-c", USERS_REQUEST_TYPES], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert set(json.loads(done.stdout.splitlines()[-1])) == PSEUDO_REQUEST_TYPES


def test_endpoint_keys_split_into_method_and_name():
    assert split_key("POST /v1/backtests") == ("POST", "/v1/backtests")
    assert is_request("WS_CONNECT /v1/jobs/{id}/events")
    assert not is_request("QUEUE depth") and not is_request("WS_MSG /v1/jobs/{id}/events")
