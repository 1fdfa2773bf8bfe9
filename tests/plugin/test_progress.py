"""The console progress line (pure formatting)."""

from plugin.progress import clock, progress_line


def test_clock():
    assert [clock(s) for s in (0, 9.6, 75, 3600 + 120, None)] == [
        "0s",
        "10s",
        "1m15s",
        "1h02m",
        "open-ended",
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
        39.5,
        20,
    )
    assert line == (
        "StepShape stage step-3 | offered 40.0 req/s | achieved 39.5 req/s | "
        "20 users | 1m35s elapsed, 25s left"
    )


def test_progress_line_of_a_plain_run():
    line = progress_line({"elapsed_s": 30, "offered": None, "remaining_s": None}, 12.0, 5)
    assert line == (
        "stage - | offered 5 users | achieved 12.0 req/s | 5 users | 30s elapsed, open-ended left"
    )
