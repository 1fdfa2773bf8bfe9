"""The console progress line (pure formatting); real runs' lines in test_console.py."""

from plugin.progress import Achieved, clock, progress_line


def test_clock():
    assert [clock(s) for s in (0, 9.6, 75, 3600 + 120, None)] == [
        "0s",
        "10s",
        "1m15s",
        "1h02m",
        "no time limit",
    ]


def test_progress_line_of_a_shaped_open_model_run():
    line = progress_line(
        {
            "shape": "StepShape",
            "stage": "step-3",
            "offered": 40.0,
            "unit": "req/s",
            "elapsed_s": 95,
            "remaining_s": 25,
        },
        Achieved(39.5, 1.25, 23.4),
        20,
    )
    assert line == (
        "progress: StepShape step-3 | offered 40.0 req/s (20 users) | "
        "39.5 req/s, errors 1.2 %, p95 23 ms | 1m35s elapsed, 25s left"
    )


def test_progress_line_of_a_plain_run_reads_plainly():
    line = progress_line(
        {"elapsed_s": 30, "offered": None, "remaining_s": None}, Achieved(12.0, 0.0, None), 5
    )
    assert line == (
        "progress: 5 users | 12.0 req/s, errors 0.0 %, p95 - | 30s elapsed, no time limit"
    )
    assert "stage -" not in line and "open-ended" not in line


def test_users_still_spawning_towards_a_step_are_said_so():
    """A step offering 4 users while Locust still runs 2: the line says both."""
    progress = {"shape": "StepShape", "stage": "step 3/4", "offered": 4.0, "elapsed_s": 40}
    line = progress_line(progress, Achieved(8.0, 0.0, 12.0), 2)
    assert "step 3/4 | 4 users offered, 2 running |" in line
    assert "| 4 users |" in progress_line(progress, Achieved(8.0, 0.0, 12.0), 4)
