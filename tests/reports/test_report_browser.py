"""report.html from real runs, opened offline in a real browser (Debian chromium via Playwright).

The report must work from a file with no network, draw its charts without any console
error, and show endpoint names and error messages (including the target's own) as text:
a payload in them is escaped, never run and never dropped.

``QUANTLOAD_SCREENSHOT=docs/report.png pytest tests/reports/test_report_browser.py`` also saves the
report's full-page screenshot there (the README's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from rundir.layout import is_request
from tests.browser import launch
from tests.locust_runs import REPO, run_locust

pytestmark = pytest.mark.slow

XSS_LOCUSTFILE = str(REPO / "tests" / "reports" / "xss_locustfile.py")
AGGREGATE_LABEL = "All requests to the target"
CARDS = ("#card-thresholds", "#card-leak", "#card-generator", "#card-capacity")
VIEWPORT = {"width": 1400, "height": 900}

# The payloads, handed to tests/reports/xss_locustfile.py through its environment.
NAME_PAYLOAD = "<script>window.__xss_name=1</script>"
FAILING_NAME = "<img src=x onerror=window.__xss_fname=1;alert(3)>"
# Echoed by the target in its unknown_strategy message (no quotes: repr and JSON keep it whole).
TARGET_PAYLOAD = "<img src=x onerror=window.__xss_err=1;alert(1)>"
FAILURE_PAYLOAD = "<script>window.__xss_fail=1</script><svg onload=window.__xss_fail=1;alert(2)>"
XSS_ENV = {
    "XSS_NAME": NAME_PAYLOAD,
    "XSS_FAILING_NAME": FAILING_NAME,
    "XSS_TARGET": TARGET_PAYLOAD,
    "XSS_FAILURE": FAILURE_PAYLOAD,
}
XSS_GLOBALS = ("__xss_name", "__xss_fname", "__xss_err", "__xss_fail")


@dataclass
class PageLog:
    """Everything the page tried or complained about."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @property
    def off_file(self) -> list[str]:
        return [url for url in self.requests if not url.startswith("file:")]


def open_offline(page: Page, report: Path) -> PageLog:
    """Open ``report`` with every non-file request aborted; wait until plotly has drawn."""
    log = PageLog()
    page.on("request", lambda r: log.requests.append(r.url))
    page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log.page_errors.append(str(e)))

    def on_dialog(dialog) -> None:
        log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    page.goto(report.as_uri(), wait_until="load")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart')].every(c => c.querySelector('.main-svg'))",
        timeout=15_000,
    )
    # An injected <img onerror>/<svg onload> would fire after a failed load or a task later:
    # give such handlers a moment before anyone concludes they did not run.
    page.wait_for_timeout(500)
    return log


def assert_clean(log: PageLog) -> None:
    assert not log.off_file, f"requests off file://: {log.off_file}"
    assert not log.console_errors, log.console_errors
    assert not log.page_errors, log.page_errors
    assert not log.dialogs, log.dialogs


def table_rows(page: Page, table: str) -> list[tuple[str, bool]]:
    """(first cell's text, is the aggregate row) for each body row of ``table``."""
    return page.eval_on_selector_all(
        f"{table} tbody tr",
        "rows => rows.map(r => [r.cells[0].innerText, r.classList.contains('agg')])",
    )


def test_report_opens_offline_with_charts_cards_and_table(default_run, tmp_path):
    run = default_run
    report = run.run_dir / "report.html"
    assert report.is_file(), run.stderr[-3000:]
    endpoints = {
        f"{method} {name}"
        for method, name in run.stats
        if name != "Aggregated" and is_request(f"{method} {name}")
    }
    assert len(endpoints) >= 3, endpoints

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport=VIEWPORT)
        log = open_offline(page, report)

        for selector in ("#chart-throughput", "#chart-latency"):
            assert page.locator(selector).count() == 1, selector
            assert page.locator(f"{selector} .scatterlayer .trace").count() > 0, selector
        charts = page.locator(".chart")
        assert charts.count() >= 2
        for i in range(charts.count()):
            chart = charts.nth(i)
            box = chart.locator(".main-svg").first.bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0, chart.get_attribute("id")

        for card in CARDS:
            assert page.locator(card).count() == 1, card
            assert page.locator(f"{card} .value").inner_text().strip(), card

        rows = table_rows(page, "#percentile-table")
        assert [label for label, agg in rows if agg] == [AGGREGATE_LABEL]
        labels = [label for label, agg in rows if not agg]
        assert sorted(labels) == sorted(endpoints)

        # Self-contained, also after plotly ran: nothing fetched, nothing to fetch.
        assert page.locator("script[src]").count() == 0
        assert page.locator("link[href^='http'], link[href^='//']").count() == 0

        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        if target := os.environ.get("QUANTLOAD_SCREENSHOT"):
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=target, full_page=True)
        browser.close()
    assert_clean(log)
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_payloads_from_names_and_errors_show_as_text_and_never_run(tmp_path):
    run = run_locust(
        "-u",
        "3",
        "-r",
        "3",
        "-t",
        "6s",
        "--run-dir",
        str(tmp_path / "rundir"),
        tmp_path=tmp_path,
        locustfile=XSS_LOCUSTFILE,
        env=XSS_ENV,
        timeout=90,
    )
    report = tmp_path / "rundir" / "report.html"
    assert report.is_file(), run.stderr[-3000:]
    assert run.returncode == 1, run.stderr[-3000:]  # the failures it asked for, nothing worse
    # The payloads really went through the run: names as given, the target's echo of one.
    assert int(run.row("GET", NAME_PAYLOAD)["Request Count"]) > 0
    assert int(run.row("GET", FAILING_NAME)["Failure Count"]) > 0
    messages = {f["Error"] for f in run.failures}
    assert any(TARGET_PAYLOAD in m and "unknown_strategy" in m for m in messages), messages
    assert any(FAILURE_PAYLOAD in m for m in messages), messages

    html = report.read_text(encoding="utf-8")
    for payload in (NAME_PAYLOAD, FAILING_NAME, TARGET_PAYLOAD, FAILURE_PAYLOAD):
        assert payload not in html, payload
    assert "<img src=x onerror" not in html and "<svg onload" not in html
    assert "<script>window.__xss" not in html

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport=VIEWPORT)
        log = open_offline(page, report)

        for name in XSS_GLOBALS:
            assert page.evaluate(f"typeof window.{name}") == "undefined", name
        assert page.locator("[onerror], [onload], img[src='x']").count() == 0
        assert (
            page.evaluate("[...document.scripts].filter(s => s.text.includes('__xss_')).length")
            == 1
        ), "only the charts' JSON blob mentions the payloads"

        labels = [label for label, _ in table_rows(page, "#percentile-table")]
        assert f"GET {NAME_PAYLOAD}" in labels and f"GET {FAILING_NAME}" in labels, labels
        errors = page.locator("#error-table").inner_text()
        assert TARGET_PAYLOAD in errors and "unknown strategy" in errors, errors
        assert FAILURE_PAYLOAD in errors, errors
        # plotly reads the escaped trace name back as text: the payload is the legend entry.
        legend = page.locator("#chart-distribution .legend").text_content()
        assert f"GET {NAME_PAYLOAD}" in legend, legend
        page.screenshot(path=str(tmp_path / "xss-report.png"), full_page=True)
        browser.close()
    assert_clean(log)
