"""The README's screenshot of the report, made from a real run: ``make screenshot``.

Runs a short stepped scalability test (StressUser at 2, 4, 8 and 16 users, 15 s each)
against the embedded reference target set to 80 backtests/s, then opens its
``report.html`` in Debian's chromium (Playwright, network blocked) and saves the top
of the page and the capacity section as PNGs.

    python -m bench.report_screenshot [--out docs]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS

REPO = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1300, 1500
TIMEOUT_S = 300


def run(run_dir: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "--config",
            "config/scalability.conf",
            "--steps",
            "2,4,8,16",
            "--step-s",
            "15",
            "--only-summary",
            "--target-flags",
            "--slots 4 --service-ms 50",
            "--run-dir",
            str(run_dir),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    if done.returncode != 0 or not (run_dir / "report.html").exists():
        raise SystemExit(f"the run failed (exit {done.returncode}): {done.stderr[-500:]}")


def shoot(report: Path, out: Path) -> list[Path]:
    shots = [out / "report.png", out / "report-capacity.png"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith("file:") else route.abort()
            ),
        )
        page.goto(report.as_uri())
        page.wait_for_selector("#chart-throughput .main-svg")
        page.screenshot(path=str(shots[0]))
        top = page.evaluate(
            "document.getElementById('capacity').getBoundingClientRect().top + window.scrollY"
        )
        page.screenshot(
            path=str(shots[1]),
            full_page=True,
            clip={"x": 0, "y": top - 10, "width": WIDTH, "height": 1100},
        )
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        run(run_dir)
        for shot in shoot(run_dir / "report.html", args.out):
            print(f"wrote {shot}")


if __name__ == "__main__":
    main()
