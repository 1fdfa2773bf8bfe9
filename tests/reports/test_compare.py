"""``reports.compare``: the build-over-build gate, on synthetic summaries of known answer,
through the CLI in a subprocess, and once on two real locust runs."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from reports.compare import compare_summaries
from reports.compare_cli import parse_percentage
from tests.locust_runs import REPO, run_locust

BACKTESTS = ("POST", "/v1/backtests")
MARKET = ("GET", "/v1/market-data/{symbol}")
XSS = "<script>alert(1)</script>"


def endpoint(
    method: str,
    name: str,
    *,
    count: int = 1000,
    failures: int = 0,
    rps: float = 100.0,
    p95: float = 100.0,
    p99: float = 200.0,
) -> dict[str, Any]:
    return {
        "method": method,
        "name": name,
        "count": count,
        "failures": failures,
        "rps": rps,
        "p50_ms": p95 / 2,
        "p95_ms": p95,
        "p99_ms": p99,
        "max_ms": p99 * 2,
    }


def summary(*endpoints: dict[str, Any], run_id: str = "run") -> dict[str, Any]:
    """A summary whose ``requests`` aggregate is the sum of counts / rps and the max of
    latencies: enough for the gate, which does not recompute it."""
    agg = {
        "count": sum(e["count"] for e in endpoints),
        "failures": sum(e["failures"] for e in endpoints),
        "rps": sum(e["rps"] for e in endpoints),
        "p95_ms": max(e["p95_ms"] for e in endpoints),
        "p99_ms": max(e["p99_ms"] for e in endpoints),
    }
    return {
        "run_id": run_id,
        "complete": True,
        "duration_s": 10.0,
        "users_max": 4,
        "endpoints": list(endpoints),
        "total": dict(agg),
        "requests": agg,
        "passed": True,
    }


def base_endpoints(**changes: Any) -> list[dict[str, Any]]:
    """Two endpoints; ``changes`` alter POST /v1/backtests."""
    return [
        endpoint(*BACKTESTS, **{"p95": 50.0, "p99": 80.0, **changes}),
        endpoint(*MARKET, p95=100.0, p99=200.0),
    ]


def regressed(comparison) -> set[tuple[str, str]]:
    return {(key, m.metric) for key, m in comparison.regressions}


# --- compare_summaries: known answers ---------------------------------------------------


def test_identical_summaries_do_not_regress():
    s = summary(*base_endpoints())
    c = compare_summaries(s, s, 0.10)
    assert not c.regressed and c.verdict() == "No regression past 10 %"
    assert [e.key for e in c.endpoints] == ["POST /v1/backtests", "GET /v1/market-data/{symbol}"]
    assert all(m.delta in (0, None) for m in c.aggregate.metrics)  # the sum has no p50


def test_p95_up_30_percent_regresses_at_10_not_at_50():
    base = summary(*base_endpoints())
    cur = summary(*base_endpoints(p95=65.0))  # 50 -> 65 ms: +30 %, below MARKET's 100 ms
    at_10 = compare_summaries(base, cur, 0.10)
    # p50 is p95 / 2 in these rows: it moves by the same +30 %
    assert regressed(at_10) == {("POST /v1/backtests", "p95_ms"), ("POST /v1/backtests", "p50_ms")}
    p95 = next(e for e in at_10.endpoints if e.method == "POST").metric("p95_ms")
    assert p95.change == pytest.approx(0.30) and p95.delta == pytest.approx(15.0)
    assert "p95 of POST /v1/backtests +30 %" in at_10.verdict()
    assert not compare_summaries(base, cur, 0.50).regressed


def test_change_exactly_at_the_limit_is_not_past_it():
    base = summary(*base_endpoints(p95=100.0))
    assert not compare_summaries(base, summary(*base_endpoints(p95=110.0)), 0.10).regressed


def test_throughput_down_20_percent_regresses_and_up_does_not():
    base = summary(*base_endpoints(rps=100.0))
    down = compare_summaries(base, summary(*base_endpoints(rps=80.0)), 0.10)
    assert ("POST /v1/backtests", "rps") in regressed(down)
    assert ("all requests", "rps") not in regressed(down)  # 200 -> 180 rps: -10 %, not past
    up = compare_summaries(base, summary(*base_endpoints(rps=130.0)), 0.10)
    assert not up.regressed


def test_aggregate_throughput_past_the_limit_regresses():
    base = summary(*base_endpoints(rps=100.0))
    cur = summary(*base_endpoints(rps=50.0))  # aggregate 200 -> 150: -25 %
    c = compare_summaries(base, cur, 0.10)
    assert ("all requests", "rps") in regressed(c)
    assert c.aggregate.metric("rps").change == pytest.approx(-0.25)


def test_error_ratio_0_to_5_percent_regresses():
    base = summary(*base_endpoints(failures=0))
    cur = summary(*base_endpoints(failures=50))  # 50 / 1000 = 5 %
    c = compare_summaries(base, cur, 0.10)
    assert ("POST /v1/backtests", "error_ratio") in regressed(c)
    m = c.endpoints[0].metric("error_ratio")
    assert m.delta == pytest.approx(0.05) and m.change is None  # relative undefined from 0
    assert "+5.00 pp" in c.verdict()


def test_error_ratio_needs_a_tenth_of_a_point_and_the_relative_limit():
    base = summary(*base_endpoints(count=100_000, failures=0))
    tiny = summary(*base_endpoints(count=100_000, failures=50))  # 0.05 pp: noise
    assert not compare_summaries(base, tiny, 0.10).regressed
    base = summary(*base_endpoints(failures=100))  # 10 %
    small = summary(*base_endpoints(failures=105))  # 10.5 %: +0.5 pp but only +5 %
    assert not compare_summaries(base, small, 0.10).regressed
    maybe = summary(*base_endpoints(failures=130))  # 13 % of 1000: +3 pp, within the noise
    assert not compare_summaries(base, maybe, 0.1).regressed
    big = summary(*base_endpoints(failures=160))  # 16 %: +6 pp, +60 %, beyond it
    assert ("POST /v1/backtests", "error_ratio") in regressed(compare_summaries(base, big, 0.1))


def test_sub_millisecond_latency_noise_is_ignored():
    base = summary(endpoint(*BACKTESTS, p95=0.4, p99=0.6))
    cur = summary(endpoint(*BACKTESTS, p95=0.8, p99=1.05))  # +100 %, but +0.4 / +0.45 ms
    assert not compare_summaries(base, cur, 0.10).regressed
    worse = summary(endpoint(*BACKTESTS, p95=1.0, p99=0.6))  # +0.6 ms: past the floor
    assert ("POST /v1/backtests", "p95_ms") in regressed(compare_summaries(base, worse, 0.10))


def test_endpoints_below_20_requests_are_shown_not_gated():
    base = summary(endpoint(*BACKTESTS, count=19, p95=50.0), endpoint(*MARKET, p95=100.0))
    cur = summary(endpoint(*BACKTESTS, count=19, p95=500.0), endpoint(*MARKET, p95=100.0))
    cur["requests"] = base["requests"]  # the aggregate unchanged: only the endpoint moved
    c = compare_summaries(base, cur, 0.10)
    row = next(e for e in c.endpoints if e.method == "POST")
    assert not row.gated and "20 requests" in (row.not_gated_because or "")
    assert row.metric("p95_ms").past_limit and not row.metric("p95_ms").regressed
    assert not c.regressed


def test_pseudo_requests_are_shown_not_gated():
    job = ("JOB", "monte_carlo")
    base = summary(*base_endpoints(), endpoint(*job, p95=1000.0))
    cur = summary(*base_endpoints(), endpoint(*job, p95=3000.0))
    base["requests"] = cur["requests"] = summary(*base_endpoints())["requests"]
    c = compare_summaries(base, cur, 0.10)
    row = next(e for e in c.endpoints if e.method == "JOB")
    assert not row.gated and row.metric("p95_ms").past_limit and not c.regressed


def test_added_and_removed_endpoints_are_listed_not_regressions():
    base = summary(*base_endpoints(), endpoint("GET", "/v1/old"))
    cur = summary(*base_endpoints(), endpoint("GET", "/v1/new", p95=9999.0))
    c = compare_summaries(base, cur, 0.10)
    assert c.added == ("GET /v1/new",) and c.removed == ("GET /v1/old",)
    assert all(e.name not in ("/v1/new", "/v1/old") for e in c.endpoints)
    assert not any(key.endswith(("/v1/new", "/v1/old")) for key, _ in c.regressions)


def test_older_summary_without_requests_falls_back_to_total():
    base = summary(*base_endpoints())
    del base["requests"]
    c = compare_summaries(base, summary(*base_endpoints()), 0.10)
    assert c.aggregate.baseline_count == 2000 and not c.regressed
    assert any("total" in note for note in c.notes)


def test_malformed_values_compare_as_missing():
    base = summary(*base_endpoints())
    cur = summary(*base_endpoints())
    cur["endpoints"][0]["p95_ms"] = None
    cur["endpoints"][1]["p99_ms"] = "slow"
    c = compare_summaries(base, cur, 0.10)
    assert c.endpoints[1].metric("p99_ms").current is None
    assert c.endpoints[0].metric("p95_ms").delta is None
    assert compare_summaries({}, {"endpoints": "nope"}, 0.1).endpoints == ()


# --- parse_percentage -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10%", 0.10),
        ("10", 0.10),
        ("0.1", 0.10),
        (" 25 % ", 0.25),
        ("0.5%", 0.005),
        ("1", 0.01),
        ("0", 0.0),
        ("150%", 1.5),
    ],
)
def test_parse_percentage(text, value):
    assert parse_percentage(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "%", "ten", "-5%", "nan", "inf", "10%%", "1e400"])
def test_parse_percentage_rejects(text):
    with pytest.raises(ValueError, match="max-regression"):
        parse_percentage(text)


# --- the CLI in a subprocess ------------------------------------------------------------


def write_run(path: Path, s: dict[str, Any], **meta: Any) -> Path:
    path.mkdir(parents=True)
    (path / "meta.json").write_text(
        json.dumps(
            {
                "run_id": s["run_id"],
                "started_at": "2026-01-02T03:04:05+00:00",
                "host": "http://127.0.0.1:8000",
                "user_classes": ["StressUser"],
                **meta,
            }
        )
    )
    (path / "summary.json").write_text(json.dumps(s))
    (path / "timeseries.jsonl").write_text("")
    return path


def compare_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m reports compare`` once reports/__main__.py exists, else ``main`` directly."""
    if (REPO / "reports" / "__main__.py").exists():
        cmd = [sys.executable, "-m", "reports", "compare"]
    else:
        cmd = [
            sys.executable,
            "-c",
            "import sys; from reports.compare_cli import main; sys.exit(main(sys.argv[1:]))",
        ]
    return subprocess.run(
        [*cmd, *map(str, args)], capture_output=True, text=True, cwd=REPO, timeout=60
    )


def test_cli_planted_regression_exits_1_and_highlights_it(tmp_path):
    base = write_run(tmp_path / "base", summary(*base_endpoints(), run_id="build-41"))
    cur = write_run(tmp_path / "cur", summary(*base_endpoints(p95=70.0), run_id="build-42"))
    done = compare_cli(base, cur, "--max-regression", "10%")
    assert done.returncode == 1, done.stderr
    assert "p95 of POST /v1/backtests +40 %" in done.stdout
    html_path = cur / "compare.html"
    assert str(html_path) in done.stdout
    html = html_path.read_text()
    assert 'class="bad">+40 %</td>' in html
    assert "2 regressions past 10 %: p50 of POST /v1/backtests +40 %, p95 of" in html
    assert "build-41" in html and "build-42" in html and "2026-01-02T03:04:05" in html
    assert "<script" not in html.lower() and "http" not in html.replace(
        "http://127.0.0.1:8000", ""
    )  # nothing external: no script, no link
    assert compare_cli(base, cur, "--max-regression", "50").returncode == 0


def test_cli_identical_runs_exit_0_and_out_is_honoured(tmp_path):
    s = summary(*base_endpoints())
    base, cur = write_run(tmp_path / "a", s), write_run(tmp_path / "b", s)
    out = tmp_path / "page.html"
    done = compare_cli(base, cur, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "No regression past 10 %" in done.stdout and out.exists()
    assert not (cur / "compare.html").exists()


@pytest.mark.parametrize("case", ["not_a_run", "missing", "no_summary", "bad_limit"])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, case):
    good = write_run(tmp_path / "good", summary(*base_endpoints()))
    other, extra = tmp_path / "other", []
    if case == "not_a_run":
        other.mkdir()
    elif case == "no_summary":
        other.mkdir()
        (other / "timeseries.jsonl").write_text("")
    elif case == "bad_limit":
        other, extra = good, ["--max-regression", "lots"]
    done = compare_cli(good, other, *extra)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("compare: error:"), done.stderr
    assert "Traceback" not in done.stderr and not done.stdout


def test_cli_escapes_endpoint_names(tmp_path):
    base = write_run(tmp_path / "base", summary(endpoint("GET", XSS), run_id=XSS), host=XSS)
    cur = write_run(tmp_path / "cur", summary(endpoint("GET", XSS, p95=500.0)), host=XSS)
    done = compare_cli(base, cur)
    assert done.returncode == 1, done.stderr
    html = (cur / "compare.html").read_text()
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- two real locust runs ---------------------------------------------------------------


@pytest.mark.slow
def test_real_runs_slower_target_regresses_p95(tmp_path):
    def one(label: str, latency: int) -> Path:
        run = run_locust(
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "8s",
            "StressUser",
            "--target-flags",
            f"--latency-ms {latency}",
            tmp_path=tmp_path / label,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        return run.run_dir

    with ThreadPoolExecutor(2) as pool:  # side by side: 18 ms apart is far above the noise
        fast, slow = pool.submit(one, "fast", 2), pool.submit(one, "slow", 20)
        runs = {"fast": fast.result(), "slow": slow.result()}
    # the target's flags stand for a new build here: --force past "different target flags"
    refused = compare_cli(runs["fast"], runs["slow"])
    assert refused.returncode == 2 and "different target flags" in refused.stderr
    done = compare_cli(runs["fast"], runs["slow"], "--max-regression", "10%", "--force")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert "p95 of all requests" in lines[-2]  # the aggregate leads the verdict

    def p95_mark(key: str) -> str:
        """The mark after a row's p95 cell: name, counts, then " " + 10-wide change + mark."""
        row = next(line for line in lines if line.startswith(f"{key} "))
        return row[36 + 1 + 13 + (1 + 10 + 1) + 1 + 10]

    assert p95_mark("all requests") == "!", "\n".join(lines)
    # an endpoint's p95 rests on a few hundred requests: past the limit, real ("!") or
    # within the two runs' noise ("~"); the verdict line names at most VERDICT_ITEMS
    assert p95_mark("POST /v1/backtests") in "!~", "\n".join(lines)
    assert 'class="bad"' in (runs["slow"] / "compare.html").read_text()
    same = compare_cli(runs["fast"], runs["fast"], "--out", tmp_path / "same.html")
    assert same.returncode == 0, same.stdout + same.stderr


@pytest.mark.slow
def test_real_identical_demo_runs_compare_clean(tmp_path):
    """The demo's default population twice, same seed, side by side: no regression (the
    fixed-limit gate called this "5 regressions past 10 %")."""

    def one(label: str) -> Path:
        run = run_locust("-u", "10", "-r", "10", "-t", "10s", tmp_path=tmp_path / label)
        assert run.returncode == 0, run.stderr[-2000:]
        return run.run_dir

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(one, "a"), pool.submit(one, "b")
        done = compare_cli(a.result(), b.result())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No regression past 10 %" in done.stdout
