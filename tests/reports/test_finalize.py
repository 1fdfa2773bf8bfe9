"""reports.finalize: a finished run directory (written by the real RunWriter from fake
slots) in; summary.json's verdicts, junit.xml, report.html and the exit code out."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import reports.finalize as finalize_module
from metrics.latency import SlotRecorder
from reports.finalize import finalize
from reports.threshold_parsing import parse_threshold
from reports.thresholds import ThresholdSet
from rundir.files import RunFiles
from rundir.writer import RunWriter

START = 1_700_000_000.0
SECONDS = 12


def finished_run(path: Path, ms: float = 5.0) -> dict:
    """A run of ``SECONDS`` one-second slots, 10 requests each at ``ms``; its summary."""
    writer = RunWriter(
        RunFiles(path, "fin"),
        start_epoch=START,
        interval_s=1.0,
        apdex_t_ms=500,
        meta={"profile": "test"},
    )
    recorder = SlotRecorder(START, 1.0)
    for k in range(SECONDS):
        for i in range(10):
            recorder.record("GET /a", ms, None, START + k + i / 10)
        writer.add("local", recorder.take(k + 1), k)
        writer.note(k, users=2)
        writer.advance(START + k + 1.05, ["local"])
    return writer.finish(START + SECONDS, complete=True)


def test_a_finished_run_gets_its_verdicts_junit_and_report(tmp_path):
    measured = finished_run(tmp_path)
    outcome = finalize(tmp_path)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == outcome.summary
    assert on_disk["total"] == measured["total"]  # the measured figures are kept
    assert {"breaking_point", "leak", "thresholds", "passed"} <= set(on_disk)
    assert on_disk["thresholds"] == [] and on_disk["passed"] is True
    assert "stage_errors" not in on_disk
    assert outcome.exit_code is None  # no thresholds: Locust's code stands
    assert outcome.report == tmp_path / "report.html" and outcome.report.stat().st_size > 0
    assert ET.parse(tmp_path / "junit.xml").getroot().get("tests") == "0"


def test_thresholds_are_judged_on_the_final_summary(tmp_path):
    finished_run(tmp_path, ms=50.0)
    thresholds = ThresholdSet((parse_threshold("p95_ms<20"), parse_threshold("fail_ratio<0.01")))
    outcome = finalize(tmp_path, thresholds=thresholds)
    assert [r.passed for r in outcome.results] == [False, True]
    assert outcome.exit_code == 3 and outcome.summary["passed"] is False
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    assert json.loads((tmp_path / "summary.json").read_text())["thresholds"][0]["observed"] >= 49


def test_a_failing_stage_does_not_cost_the_summary_thresholds_or_report(tmp_path, monkeypatch):
    measured = finished_run(tmp_path)

    def broken(*_args, **_kwargs):
        raise RuntimeError("bug in the analysis")

    monkeypatch.setattr(finalize_module, "analyse_run", broken)
    outcome = finalize(tmp_path, thresholds=ThresholdSet((parse_threshold("p95_ms<300"),)))
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["stage_errors"] == ["analysis"] == outcome.stage_errors
    assert on_disk["thresholds"][0]["passed"] and outcome.exit_code == 0
    assert on_disk["breaking_point"] == measured["breaking_point"]  # the placeholder stays
    assert outcome.report is not None and outcome.report.exists()
    assert (tmp_path / "junit.xml").exists()


def test_not_a_run_directory_is_an_error(tmp_path):
    from rundir.reader import RunDirError

    with pytest.raises(RunDirError):
        finalize(tmp_path)
