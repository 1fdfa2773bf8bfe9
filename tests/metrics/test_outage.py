"""metrics.outage on synthetic request streams of known answer."""

from __future__ import annotations

import pytest

from metrics.outage import BURST, OutageDetector, classify


@pytest.mark.parametrize(
    "message,kind",
    [
        ("connection error: ConnectionRefusedError", "refused"),
        ("[Errno 111] Connection refused", "refused"),
        ("connection error: ConnectionResetError", "reset"),
        ("('Connection aborted.', RemoteDisconnected('Remote end closed'))", "reset"),
        ("truncated body", "reset"),
        ("connection error: TimeoutError", "timeout"),
        ("connection error: timeout", "timeout"),
        ("status 500: injected_error", "5xx"),
        ("status 503", "5xx"),
        ("connection error: OSError", "connection"),
        ("status 404: not_found", None),
        ("rate limited (429)", None),
        ("missing key 'metrics'", None),
        (None, None),
    ],
)
def test_failures_are_classified_by_what_they_say(message, kind):
    assert classify(message) == kind


def stream(detector, outcomes, t0=100.0, step=0.1):
    """Feed ``outcomes`` (kinds or None) at ``t0``, ``t0 + step`` ...; the closed outages."""
    closed = []
    for i, kind in enumerate(outcomes):
        if (outage := detector.observe(t0 + i * step, kind)) is not None:
            closed.append(outage)
    return closed


def test_a_burst_opens_an_outage_dated_from_its_first_failure_and_an_answer_closes_it():
    detector = OutageDetector()
    outcomes = [None] * 10 + ["refused"] * 20 + ["reset"] * 3 + [None] * 5
    (outage,) = stream(detector, outcomes)
    assert outage.start == pytest.approx(101.0)  # the 11th outcome
    assert outage.end == pytest.approx(103.3)  # the first answer after the failures
    assert outage.failures == {"refused": 20, "reset": 3}
    event = outage.to_event(worker="w1")
    assert event["duration_s"] == pytest.approx(2.3) and event["count"] == 23
    assert event["worker"] == "w1" and detector.current is None


def test_failures_short_of_a_burst_or_broken_by_answers_are_no_outage():
    detector = OutageDetector()
    blips = (["5xx"] * (BURST - 1) + [None]) * 50 + ["timeout", None] * 50
    assert stream(detector, blips) == [] and detector.current is None


def test_an_outage_still_open_at_the_end_is_closed_at_the_end():
    detector = OutageDetector()
    assert stream(detector, [None, *["timeout"] * 8]) == []
    assert detector.current is not None
    outage = detector.close(200.0)
    assert outage is not None and (outage.start, outage.end) == (pytest.approx(100.1), 200.0)
    assert outage.failures == {"timeout": 8} and detector.close(201.0) is None


def test_two_outages_are_two_windows():
    detector = OutageDetector(burst=3)
    outcomes = ["5xx"] * 4 + [None] + ["refused"] * 3 + [None]
    first, second = stream(detector, outcomes, t0=0.0, step=1.0)
    assert (first.start, first.end, dict(first.failures)) == (0.0, 4.0, {"5xx": 4})
    assert (second.start, second.end, dict(second.failures)) == (5.0, 8.0, {"refused": 3})


def test_quiet_means_an_answer_would_change_nothing():
    detector = OutageDetector()
    assert detector.quiet
    detector.observe(1.0, "refused")
    assert not detector.quiet  # a failure pending: the next answer clears the streak
    detector.observe(1.1, None)
    assert detector.quiet
    stream(detector, ["refused"] * BURST)
    assert detector.current is not None and not detector.quiet  # open: an answer closes it
    assert detector.observe(3.0, None) is not None and detector.quiet
