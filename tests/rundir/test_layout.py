"""rundir.layout: endpoint keys, and the pseudo-request types the user classes record.

Locust monkey-patches on import, so the user classes are imported in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys

from rundir.layout import (
    PSEUDO_REQUEST_TYPES,
    claim_run_dir,
    is_request,
    make_run_id,
    slugify,
    split_key,
)
from tests.locust_runs import REPO

USERS_REQUEST_TYPES = """
import json
from users.arrival_rate_user import DROPPED_REQUEST_TYPE
from users.job_user import JOB_REQUEST_TYPE, QUEUE_REQUEST_TYPE
from users.websocket_user import MESSAGE_REQUEST_TYPE, RATE_REQUEST_TYPE
from users.answer_check import ANSWER_KIND
print(json.dumps([DROPPED_REQUEST_TYPE, JOB_REQUEST_TYPE, QUEUE_REQUEST_TYPE,
                  MESSAGE_REQUEST_TYPE, RATE_REQUEST_TYPE, ANSWER_KIND]))
"""


def test_pseudo_request_types_are_the_users_measurements():
    """The users name their own request types (they import no run directory); the one list
    the run directory keeps must be exactly theirs."""
    done = subprocess.run(
        [sys.executable, "-c", USERS_REQUEST_TYPES],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert set(json.loads(done.stdout.splitlines()[-1])) == PSEUDO_REQUEST_TYPES


def test_endpoint_keys_split_into_method_and_name():
    assert split_key("POST /v1/backtests") == ("POST", "/v1/backtests")
    assert is_request("WS_CONNECT /v1/jobs/{id}/events")
    assert not is_request("QUEUE depth") and not is_request("WS_MSG /v1/jobs/{id}/events")


def test_run_dirs_are_unique_and_explicit_dirs_are_numbered(tmp_path):
    run_id = make_run_id(1795251681.0, "Config/CI Profile")
    assert run_id.endswith("-config-ci-profile") and len(run_id.split("-")[0]) == 8
    first = claim_run_dir(run_id, results_dir=str(tmp_path))
    second = claim_run_dir(run_id, results_dir=str(tmp_path))
    assert first.name == run_id and second.name == f"{run_id}-2"
    assert claim_run_dir(run_id, str(tmp_path / "mine")) == tmp_path / "mine"
    assert claim_run_dir(run_id, str(tmp_path / "mine"), nth=3) == tmp_path / "mine-3"
    assert slugify("WS_MSG /v1/jobs/{id}/events") == "ws_msg-v1-jobs-id-events"
