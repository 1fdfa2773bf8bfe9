"""Right answers under load, against the reference target's known truth (``make calibrate``).

A stepped StressUser run (``--shape step``, one user first, then more) against a target
that corrupts a seeded fraction E of backtest answers built above N in flight
(``--corrupt-above N --corrupt-rate E``, counted in its ``/metrics``). Printed: the
suite's count of wrong answers against the target's count, the answers checked of
those given, and the onset (the first load level with a wrong answer) against the
truth (the first step above N users). Two populations:

- ``shared``: every user cycles the same 8 backtests, so the first user, alone, learns
  every golden answer and every later answer is checked: the counts must be equal;
- ``stress``: StressUser as it is (each user its own 64 backtests): later users' keys
  are learned by agreement under load, so their first answers go unchecked and the
  suite's count is the checked sample's (at most the target's).

Then the same stepped run with no corruption: no wrong answer.

    python -m bench.correctness_accuracy [--step-s 8] [--above 3] [--rate 0.1]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from bench.machine import machine
from plugin.embedded_target import EmbeddedTarget

REPO = Path(__file__).resolve().parent.parent
STEPS = (1, 2, 3, 4, 5, 6)
LOCUSTFILE = """
import plugin
from users.api import BacktestApi
from users.stress_user import StressUser

SHARED = [
    BacktestApi.prepare_backtest(s, k, start="2021-01-04", end="2023-12-29")
    for s in ("AAPL", "MSFT", "NVDA", "SPY") for k in ("sma_cross", "rsi")
]


class SharedStressUser(StressUser):
    _drawn = 0

    def _draw_backtest(self):
        self._drawn += 1
        return SHARED[self._drawn % len(SHARED)]


plugin.register(["StressUser"])
"""
CORRUPTED_RE = re.compile(
    r'^quantload_corrupted_answers_total\{route="/v1/backtests"\} (\S+)$', re.M
)


def run(user: str, target_flags: tuple[str, ...], step_s: float, workdir: Path) -> dict:
    """One stepped run: the summary's correctness and the target's corrupted count."""
    locustfile = workdir / "correctness_locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    run_dir = workdir / f"{user}-{len(list(workdir.iterdir()))}"
    with EmbeddedTarget(*target_flags) as target:
        subprocess.run(
            [
                sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
                "--host", target.url, "--shape", "step",
                # a last step of 0 users: each stops after its request (a shape's end kills
                # them mid-request, whose answers the target counted and the suite never saw)
                "--steps", ",".join(str(s) for s in (*STEPS, 0)), "--step-s", f"{step_s:g}",
                "--stop-timeout", "10", "--run-dir", str(run_dir), "--history-db", "none",
                "--only-summary", "--loglevel", "ERROR", user,
            ],
            cwd=REPO, capture_output=True, timeout=(len(STEPS) + 1) * step_s + 120, check=False,
        )  # fmt: skip
        found = CORRUPTED_RE.search(requests.get(f"{target.url}/metrics", timeout=10).text)
    correctness = json.loads((run_dir / "summary.json").read_text())["correctness"]
    return {**correctness, "truth": int(float(found.group(1))) if found else 0}


def report(name: str, c: dict, above: int | None) -> bool:
    truth_onset = next((s for s in STEPS if above is not None and s > above), None)
    onset = c["onset_level"]
    if truth_onset is None:
        ok = c["wrong"] == 0
    else:
        steps_off = abs(STEPS.index(int(onset)) - STEPS.index(truth_onset)) if onset else None
        ok = steps_off is not None and steps_off <= 1
        if name == "shared":
            ok = ok and c["wrong"] == c["truth"]
    print(
        f"{name:8s} suite wrong {c['wrong']:5d}  target corrupted {c['truth']:5d}  "
        f"checked {c['checked']:6d} of {c['answers']:6d}  onset {onset} users "
        f"(truth {truth_onset})  {'ok' if ok else 'FAILED'}"
    )
    print(f"         {c['headline']}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--step-s", type=float, default=8.0)
    parser.add_argument("--above", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.1)
    args = parser.parse_args()
    knob = ("--corrupt-above", str(args.above), "--corrupt-rate", str(args.rate))
    slow = ("--service-ms", "40")  # each backtest in flight >= 40 ms: users ~ in flight
    print(f"machine: {machine()}")
    print(f"steps {STEPS} users, {args.step_s:g} s each; target --corrupt-above {args.above} "
          f"--corrupt-rate {args.rate} --service-ms 40")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results = [
            report(
                "shared", run("SharedStressUser", knob + slow, args.step_s, workdir), args.above
            ),
            report("stress", run("StressUser", knob + slow, args.step_s, workdir), args.above),
            report("no knob", run("StressUser", slow, args.step_s, workdir), None),
        ]
    print("PASS" if all(results) else "FAIL")
    if not all(results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
