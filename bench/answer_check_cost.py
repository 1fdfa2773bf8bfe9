"""What checking answers costs the generator: StressUser's CPU per request with
``--check-answers 1`` (every backtest answer checked against its golden one) over
``--check-answers 0`` (none), in one run.

The suite as a user runs it (``plugin.register``: collectors, rows, the ANSWER
measurements) sends StressUser's mix to bench.generator_overhead's canned-response server
(bytes recorded once from the real target; on CPU 1), Locust pinned to CPU 0, so the
Locust process is the bottleneck. The two settings alternate, ``--rounds`` pairs. Two
measures of CPU per request: the whole process's (user + system, start-up and the end of
the run's report included, so a run with fewer requests pays more of that fixed cost)
and the steady state's (the run directory's rows: the process's own CPU %, over the
requests of the same seconds, the first ``SKIP_ROWS`` and the last left out); medians and
each pair's ratio. Budget: checking adds at most 10 % to the steady state (issue 15).

    python -m bench.answer_check_cost [--seconds 20] [--rounds 3] [--users 50]
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from bench.generator_overhead import CannedServer, alternate, describe, parse_args
from bench.machine import machine

BUDGET = 1.10
SKIP_ROWS = 3
"""Rows at a run's start left out of the steady state (users starting, keys learned)."""
LOCUSTFILE = "import plugin\nfrom users.stress_user import StressUser  # noqa: F401\n\n" + (
    'plugin.register(["StressUser"])\n'
)


def main() -> None:
    args = parse_args(__doc__ or "")
    with CannedServer() as host, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        locustfile = workdir / "checked_locustfile.py"
        locustfile.write_text(LOCUSTFILE)
        common = ("--history-db", "none", "--target-metrics", "none")

        def variant(share: str) -> tuple[Path, str, tuple[str, ...]]:
            run_dir = str(workdir / f"runs-{share}")
            return (
                locustfile,
                "StressUser",
                ("--check-answers", share, "--run-dir", run_dir, *common),
            )

        cpu_us: dict[str, list[float]] = {}
        rates = alternate(
            {"on": variant("1"), "off": variant("0")},
            host,
            args.users,
            args.seconds,
            args.rounds,
            workdir,
            cpu_us,
        )
        steady = {share: steady_us(workdir, share) for share in ("1", "0")}
    on, off = statistics.median(cpu_us["on"]), statistics.median(cpu_us["off"])
    pairs = [a / b for a, b in zip(cpu_us["on"], cpu_us["off"], strict=True)]
    s_on, s_off = statistics.median(steady["1"]), statistics.median(steady["0"])
    s_pairs = [a / b for a, b in zip(steady["1"], steady["0"], strict=True)]
    print(f"machine: {machine()}")
    print(
        f"StressUser against a canned server, {args.users} users, "
        f"{args.rounds} x {args.seconds:.0f} s each setting, alternating"
    )
    print(f"--check-answers 1:   {describe(rates['on'])}")
    print(f"--check-answers 0:   {describe(rates['off'])}")
    print(f"whole process:  {on:.0f} vs {off:.0f} us/request, pairs {_ratios(pairs)}")
    print(f"steady state:   {s_on:.1f} vs {s_off:.1f} us/request, pairs {_ratios(s_pairs)}")
    verdict = "PASS" if s_on / s_off <= BUDGET else "FAIL"
    print(
        f"{verdict}: checking costs {s_on / s_off:.3f}x the steady CPU per request "
        f"(whole process {on / off:.3f}x; budget {BUDGET:.2f}x)"
    )


def _ratios(values: list[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def steady_us(workdir: Path, share: str) -> list[float]:
    """Each run's steady CPU us per request, in run order: from its rows, the process's
    CPU % times the row's span over its requests (``SKIP_ROWS`` first rows and the last
    one, the shutdown, left out)."""
    out = []
    runs = sorted(workdir.glob(f"runs-{share}*"), key=lambda p: p.stat().st_mtime)
    for run in runs:
        lines = (run / "timeseries.jsonl").read_text().splitlines()[SKIP_ROWS:-1]
        rows = [json.loads(line) for line in lines]
        cpu_s = sum(
            r["generators"]["local"]["cpu_percent"] / 100 * r.get("span_s", 1.0) for r in rows
        )
        requests = sum(r["total"]["count"] for r in rows)
        out.append(cpu_s / max(1, requests) * 1e6)
    return out


if __name__ == "__main__":
    main()
